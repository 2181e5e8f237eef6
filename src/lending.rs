//! `arus lending load DIR`: checks a micro-lender's five CSV files and
//! loads them (see `arus_ingest::lending`), with a progress bar and a report
//! on the terminal, in a JSON file and in the `dq_results` table.
//! `arus lending segments`: trains the k-means segments on the customers'
//! behaviour as the tables have it and stores them for the tiering job.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use arus_ingest::lending::{load, LoadProgress, LoadReport};
use arus_lakehouse::models::{ModelStore, NewModel};
use arus_lakehouse::{Lake, LakeSession};
use arus_ml::segments::{self, SegmentReport};
use arus_schemas::lending::Tier;
use arus_schemas::Config;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Folder with customers.csv, loan_snapshots.csv, bills.csv, tasks.csv and task_participants.csv.
    pub dir: PathBuf,
    /// The business day the files describe: bills scheduled on or before it are due (default: today in WIB).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Where to write the JSON report (default: DIR/dq_report.json).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Violations listed on the terminal (all are in the JSON report and dq_results).
    #[arg(long, default_value_t = 40)]
    pub show: usize,
}

fn today_wib() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive()
}

/// Runs the load; `Ok(false)` when some file could not be read at all.
pub async fn run_load(mut config: Config, args: LoadArgs) -> Result<bool> {
    if config.kafka_brokers.trim().is_empty() {
        config.kafka_brokers = format!("127.0.0.1:{}", config.embedded_broker_port);
    }
    anyhow::ensure!(args.dir.is_dir(), "{} is not a folder", args.dir.display());
    let as_of = args.as_of.unwrap_or_else(today_wib);
    let bar = ProgressBar::new_spinner().with_message("checking the files");
    bar.enable_steady_tick(Duration::from_millis(120));
    let shown = bar.clone();
    let report = load(&config, &args.dir, as_of, move |p| match p {
        LoadProgress::Checked { events } => {
            shown.set_style(ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events ({per_sec}, {eta})").expect("template").progress_chars("=> "));
            shown.set_length(events as u64);
            shown.set_message("publishing");
        }
        LoadProgress::Published { done, .. } => shown.set_position(done as u64),
    })
    .await
    .context("loading the lending files")?;
    bar.finish_and_clear();
    let path = args.report.clone().unwrap_or_else(|| args.dir.join("dq_report.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&report)?).with_context(|| format!("writing {}", path.display()))?;
    print_report(&report, args.show);
    println!("report: {} (and table dq_results, run {})", path.display(), report.run_id);
    Ok(!report.violations.iter().any(|v| v.line == 0 || v.check == "missing_column"))
}

fn print_report(r: &LoadReport, show: usize) {
    println!("as of {} — {} events published to arus.lending.v1, {} rejected rows sent to the dead-letter topic", r.as_of, r.events, r.dead_letters);
    println!("{:<24} {:>9} {:>10} {:>9} {:>8}", "file", "read", "published", "rejected", "flagged");
    for f in &r.files {
        println!("{:<24} {:>9} {:>10} {:>9} {:>8}", f.file, f.read, f.published, f.rejected, f.flagged);
    }
    if r.violations.is_empty() {
        println!("no quality problems found");
        return;
    }
    println!();
    println!("{:<24} {:>7}  {:<15} {:<16} {:<8}  message", "file", "line", "check", "column", "action");
    for v in r.violations.iter().take(show) {
        let action = if v.kept { "kept" } else { "rejected" };
        println!("{:<24} {:>7}  {:<15} {:<16} {:<8}  {}", v.file, v.line, v.check, v.column, action, v.message);
    }
    if r.violations.len() > show {
        println!("… and {} more (all in the JSON report and dq_results)", r.violations.len() - show);
    }
}

#[derive(Debug, clap::Args)]
pub struct SegmentsArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Trains and stores the segment model; returns the version and report.
pub async fn segments(config: &Config) -> Result<(i64, SegmentReport)> {
    let lake = Lake::new(config)?;
    let session = LakeSession::open(&lake, Duration::ZERO).await?;
    let behaviours = arus_stream_jobs::lending::behaviours(&session).await.context("reading customers' behaviour from bills and loans")?;
    let list: Vec<_> = behaviours.iter().map(|(_, b)| *b).collect();
    let (model, report) = tokio::task::spawn_blocking(move || segments::train(&list)).await??;
    let mut store = ModelStore::open(&lake).await?;
    let record = store
        .save(NewModel {
            kind: segments::KIND.into(),
            bytes: serde_json::to_vec(&model)?,
            labels: model.tiers.iter().map(|t| t.as_str().to_owned()).collect(),
            corpus_rows: report.customers as i64,
            confirmed_rows: 0,
            heldout_accuracy: Some(report.agreement),
            heldout_macro_f1: None,
            metrics: serde_json::to_value(&report)?,
            created_by: std::env::var("USER").ok(),
        })
        .await?;
    Ok((record.version, report))
}

pub fn print_segments(version: i64, r: &SegmentReport) {
    println!("stored tier-segments version {version}: k = {} ({}), {} customers ({} without due bills left out)", r.k, r.criterion, r.customers, r.without_due_bills);
    println!("silhouette by k: {}", r.silhouettes.iter().map(|(k, s)| format!("k={k} {s:.3}")).collect::<Vec<_>>().join(", "));
    println!("{:>7} {:<7} {:>9} {:>10} {:>8} {:>8}", "segment", "tier", "customers", "repayment", "DPD", "on time");
    for s in &r.segments {
        println!("{:>7} {:<7} {:>9} {:>9.1}% {:>8.1} {:>7.1}%", s.segment, s.tier.name(), s.customers, s.repayment_rate * 100.0, s.dpd, s.on_time_rate * 100.0);
    }
    println!("agreement with the rule tier: {:.1}%", r.agreement * 100.0);
    println!("{:<14} {:>8} {:>8} {:>8}", "rule \\ segment", "Bronze", "Silver", "Gold");
    for (i, t) in [Tier::Bronze, Tier::Silver, Tier::Gold].iter().enumerate() {
        println!("{:<14} {:>8} {:>8} {:>8}", t.name(), r.confusion[i][0], r.confusion[i][1], r.confusion[i][2]);
    }
    println!("running tiering jobs segment new decisions with it within ARUS_MODEL_POLL_MS");
}

/// Column `index` of every batch as strings, whatever the string or number type.
pub fn strings(batches: &[arrow::record_batch::RecordBatch], index: usize) -> Vec<String> {
    use arrow::array::Array;
    let mut out = Vec::new();
    for batch in batches {
        let Ok(column) = arrow::compute::cast(batch.column(index), &arrow::datatypes::DataType::Utf8) else { continue };
        if let Some(column) = column.as_any().downcast_ref::<arrow::array::StringArray>() {
            out.extend((0..column.len()).map(|i| column.value(i).to_owned()));
        }
    }
    out
}

/// How many `arus.lending.v1` messages job `job` has committed past in
/// `table` (the sum over partitions of its stored offset + 1): what the
/// benchmark and tests wait on to know a job has read everything published.
pub async fn committed(config: &Config, job: &str, table: &'static arus_schemas::tables::TableDef) -> Result<i64> {
    committed_on(config, job, table, &[arus_schemas::topics::LENDING]).await
}

/// [`committed`] over the messages of `topics`.
pub async fn committed_on(config: &Config, job: &str, table: &'static arus_schemas::tables::TableDef, topics: &[&str]) -> Result<i64> {
    let mut t = Lake::new(config)?.open(table).await?;
    t.update_incremental(None).await?;
    let snapshot = t.snapshot()?;
    let mut total = 0;
    for topic in topics {
        let topic = config.topic(topic);
        for p in 0..config.kafka_partitions {
            if let Some(v) = snapshot.transaction_version(t.log_store().as_ref(), arus_lakehouse::app_id(job, &topic, p)).await? {
                total += v + 1;
            }
        }
    }
    Ok(total)
}
