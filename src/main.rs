//! The `arus` command line. Configuration: defaults, then `--config FILE`
//! (TOML), then `ARUS_*` environment variables.

use std::path::PathBuf;

use anyhow::{Context, Result};
use arus::{bench, logging, ml, ocr, signals, up, users};
use arus_lakehouse::Lake;
use arus_schemas::Config;
use clap::{Parser, Subcommand};

/// mimalloc: see the note at the dependency in Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "arus", version, about = "Stream-processing data platform for the money of Indonesian micro-businesses and households")]
struct Cli {
    /// TOML configuration file (settings as in `arus config show`).
    #[arg(long, global = true, env = "ARUS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything in one process: broker (embedded unless ARUS_KAFKA_BROKERS is set), jobs, API.
    Up {
        /// Also load demo transactions for a few users.
        #[arg(long)]
        demo: bool,
    },
    /// Run one streaming job (enrich, dlq, accounts, audit, imports, ocr, wa-router, notifier, lending-customers, lending-loans, lending-bills, lending-tasks, lending-participants, tiering, plan-budgets, plan-goals, overspending, anomalies, advisor, daily-totals, monthly-totals) against ARUS_KAFKA_BROKERS.
    Job {
        name: String,
        /// `advisor` only: one run now (forecasts, alerts, last week's and last month's insights), then exit.
        #[arg(long)]
        once: bool,
    },
    /// Run the HTTP API against ARUS_KAFKA_BROKERS.
    Serve,
    /// Import a bank statement (CSV, XLSX, XLS) for a person, with a progress bar and a summary.
    Import(arus::import::ImportArgs),
    /// Kafka topics.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Delta tables.
    #[command(subcommand)]
    Lake(LakeCommand),
    /// Dead letters: list them, show one, publish them again after a fix.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// People who sign in.
    #[command(subcommand)]
    User(UserCommand),
    /// The transaction classifier: corpus, evaluation, training.
    #[command(subcommand)]
    Ml(MlCommand),
    /// Receipt photos: read one, or score the reader on labelled receipts.
    #[command(subcommand)]
    Ocr(OcrCommand),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Benchmarks (build with --release).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Generate development data.
    #[command(subcommand)]
    Gen(GenCommand),
    /// Forecasting: evaluate the forecaster against seasonal-naive.
    #[command(subcommand)]
    Forecast(ForecastCommand),
    /// A micro-lender's book: load its CSV files, train the tier segments.
    #[command(subcommand)]
    Lending(LendingCommand),
    /// Print the OpenAPI document of the HTTP API (as served at /openapi.json).
    Openapi,
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Create every arus topic that is missing (ARUS_KAFKA_PARTITIONS partitions each).
    Create,
}

#[derive(Subcommand)]
enum LakeCommand {
    /// Create every table that is missing and add the columns a newer arus
    /// defines (what `arus up` does at start; run once before the services
    /// of a deployment).
    Init,
    /// Keep the tables in shape until stopped: every ARUS_OPTIMIZE_INTERVAL_S,
    /// optimize, vacuum past ARUS_VACUUM_RETENTION_HOURS and checkpoint
    /// (the round `arus up` runs; one process per lake in a deployment).
    Upkeep,
    /// Merge the files streaming left in each partition into one, Z-ordered
    /// by the table's clustering columns (`transactions`: user_id).
    Optimize,
    /// Delete files no version within the retention reads (replaced by an
    /// optimize or merge, or left uncommitted by a job that died), then
    /// checkpoint every table.
    Vacuum {
        /// Keep files this many hours (default ARUS_VACUUM_RETENTION_HOURS, 168).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        retention_hours: Option<u64>,
        /// List what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Per table: version, files (small ones, most in one partition), rows,
    /// bytes, last checkpoint, partition columns.
    #[command(alias = "ls")]
    Stats,
}

#[derive(Subcommand)]
enum DlqCommand {
    /// The newest dead letters not replayed yet (--all: every one), with their reasons.
    List(arus::dlq::ListArgs),
    /// One dead letter whole: source, reason, payload, replays.
    Show {
        /// Its id (`topic/partition/offset`).
        id: String,
    },
    /// Publish dead letters again to their source topics (after the cause
    /// is fixed), optionally with a corrected payload, and mark them replayed.
    Replay(arus::dlq::ReplayArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a person with any role, e.g. the first admin: `arus user create --role admin --email … --name …`.
    Create(users::CreateArgs),
}

#[derive(Subcommand)]
enum MlCommand {
    /// Write the labelled corpus (train.csv) and the held-out split (heldout.csv, merchants training never shows).
    Corpus(ml::CorpusArgs),
    /// Train from scratch on part of any labelled CSV and score the rest: accuracy, macro-F1, per-class P/R, predictions/s.
    Eval(ml::EvalArgs),
    /// Retrain the global classifier from the corpus and every confirmed row; store it as the next version (running jobs pick it up).
    Train(ml::TrainArgs),
    /// List the stored classifier versions with their held-out scores.
    Models,
}

#[derive(Subcommand)]
enum OcrCommand {
    /// Read one receipt photo: the lines with their confidence, then the fields.
    Read(ocr::ReadArgs),
    /// Score on labelled receipts: per-field exact-match accuracy, seconds per receipt (p50, p95).
    Eval(ocr::EvalArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets masked.
    Show,
}

#[derive(Subcommand)]
enum GenCommand {
    /// A micro-lender's five CSV files (customers, loan snapshots, bills, tasks, task participants) with planted quality problems.
    Lending(arus::gen::LendingArgs),
}

#[derive(Subcommand)]
enum ForecastCommand {
    /// Rolling-origin MASE and sMAPE of arus's forecaster and of seasonal-naive, per series and overall.
    Eval(arus::forecast::EvalArgs),
}

#[derive(Subcommand)]
enum LendingCommand {
    /// Check the five CSV files (mandatory fields, unique keys, bills of known loans, participants of known tasks) and publish the clean rows to arus.lending.v1.
    Load(arus::lending::LoadArgs),
    /// Train k-means segments on customers' behaviour (bills and loans tables), report agreement with the rule tier, store for the tiering job.
    Segments(arus::lending::SegmentsArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Produce synthetic TxnRaw, run enrich, report events/s and freshness.
    Pipeline(bench::pipeline::PipelineArgs),
    /// Import a generated CSV and XLSX statement of --rows rows: parse + publish rows/s and peak memory.
    Import(bench::import::ImportArgs),
    /// Load the API: wrk against GET /api/v1/transactions with many people's tokens; req/s and p50/p90/p99.
    Api(bench::api::ApiArgs),
    /// Post signed WAHA events to POST /webhooks/waha: deliveries/s and p50/p90/p99 of the answer.
    Webhook(bench::webhook::WebhookArgs),
    /// Load a generated loan book, run the tiering job through it: bills/s, and p50/p99 from a payment to its new tier being queryable.
    Tiering(bench::tiering::TieringArgs),
    /// Dashboards under wrk at 200 req/s and an analysts' SQL aggregate against DuckDB, over 10M generated transactions of 100k people.
    Serving(bench::serving::ServingArgs),
}

fn main() -> Result<()> {
    // Before anything else: may run the program again (see the function).
    if let Err(e) = arus_ingest::ocr::engine::limit_threads() {
        eprintln!("warning: could not restart with OMP_THREAD_LIMIT=1 ({e}); OCR will be slow. Set OMP_THREAD_LIMIT=1 in the environment.");
    }
    let cli = Cli::parse();
    let (config, unknown) = Config::load(cli.config.as_deref())?;
    logging::init(&config);
    for name in unknown.iter().filter(|n| n.as_str() != "ARUS_CONFIG") {
        tracing::warn!(variable = %name, "ARUS_ variable matches no setting; ignored (see `arus config show`)");
    }
    match cli.command {
        Command::Version => {
            println!("arus {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!("{}", config.to_toml_masked());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", arus_serving::openapi::document().to_pretty_json()?);
            Ok(())
        }
        Command::Ml(MlCommand::Corpus(args)) => ml::corpus(&args),
        Command::Ml(MlCommand::Eval(args)) => {
            let report = ml::eval(&args)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                ml::print_eval(&report);
            }
            Ok(())
        }
        Command::Forecast(ForecastCommand::Eval(args)) => {
            let results = arus::forecast::eval(&args)?;
            if args.json {
                let out: Vec<_> = results.iter().map(|(id, r)| serde_json::json!({"series": id, "evaluation": r.as_ref().ok(), "skipped": r.as_ref().err()})).collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                arus::forecast::print(&args, &results);
            }
            Ok(())
        }
        Command::Ocr(OcrCommand::Read(args)) => ocr::read(&args),
        Command::Ocr(OcrCommand::Eval(args)) => {
            let report = ocr::eval(&args)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                ocr::print_eval(&report);
            }
            Ok(())
        }
        command => tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(command, config)),
    }
}

async fn run(command: Command, config: Config) -> Result<()> {
    if matches!(command, Command::Up { .. } | Command::Job { .. } | Command::Serve) {
        // Before any part records a metric.
        arus_serving::metrics::handle();
    }
    match command {
        Command::Up { demo } => up::up(config, demo, signals::shutdown_token()?).await,
        Command::Job { name, once: true } if name == arus_stream_jobs::advice::advisor::NAME => {
            let now = chrono::Utc::now();
            let periods = arus_stream_jobs::advice::advisor::Periods { weekly: true, monthly: true };
            let report = arus_stream_jobs::advice::advisor::run_once(&config, now, periods).await?;
            println!(
                "advisor: {} people, {} forecast ({} rows), {} insights ({} worded by the LLM), {} alerts",
                report.people, report.forecast_people, report.forecast_rows, report.insights, report.narrated, report.alerts
            );
            Ok(())
        }
        Command::Job { once: true, name } => anyhow::bail!("--once is for the advisor job, not {name}"),
        Command::Lake(LakeCommand::Upkeep) => {
            anyhow::ensure!(config.optimize_interval_s > 0, "ARUS_OPTIMIZE_INTERVAL_S is 0: upkeep is off");
            let shutdown = signals::shutdown_token()?;
            job_endpoints(&config, &shutdown);
            up::upkeep(&config, shutdown).await
        }
        Command::Job { name, .. } => {
            let shutdown = signals::shutdown_token()?;
            job_endpoints(&config, &shutdown);
            let report = arus_stream_jobs::run_named(&name, &config, shutdown).await?;
            tracing::info!(?report, "done");
            Ok(())
        }
        Command::Serve => Ok(arus_serving::serve(&config, signals::shutdown_token()?, None).await?),
        Command::Topics(TopicsCommand::Create) => {
            let created = up::create_topics(&config).await?;
            for topic in arus_schemas::topics::ALL {
                let name = config.topic(topic);
                let state = if created.contains(&name) { "created" } else { "exists" };
                println!("{name:<28} {state}");
            }
            Ok(())
        }
        Command::Lake(LakeCommand::Vacuum { retention_hours, dry_run }) => {
            let lake = Lake::new(&config)?;
            let hours = retention_hours.unwrap_or(config.vacuum_retention_hours);
            let retention = std::time::Duration::from_secs(hours * 3600);
            let (mut files, mut tables) = (0, 0);
            for def in arus_schemas::tables::ALL {
                let table = lake.open_or_create(def).await?;
                let (table, report) = arus_lakehouse::maintenance::vacuum(def, table, retention, dry_run).await.with_context(|| format!("vacuuming {}", def.name))?;
                for f in &report.files {
                    println!("{}{}/{f}", if dry_run { "would delete " } else { "deleted " }, def.name);
                }
                files += report.files.len();
                tables += usize::from(!report.files.is_empty());
                if !dry_run {
                    arus_lakehouse::maintenance::checkpoint(&table).await.with_context(|| format!("checkpointing {}", def.name))?;
                }
            }
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!("{verb} {files} file(s) in {tables} table(s) older than {hours} h that no current version reads");
            Ok(())
        }
        Command::Dlq(DlqCommand::List(args)) => arus::dlq::list(&config, &args).await,
        Command::Dlq(DlqCommand::Show { id }) => arus::dlq::show(&config, &id).await,
        Command::Dlq(DlqCommand::Replay(args)) => arus::dlq::replay_command(&config, args).await,
        Command::Lake(LakeCommand::Init) => {
            let lake = Lake::new(&config)?;
            lake.ensure_all().await.with_context(|| format!("creating the tables under {}", lake.root()))?;
            println!("{} tables ready under {}", arus_schemas::tables::ALL.len(), lake.root());
            Ok(())
        }
        Command::Lake(LakeCommand::Stats) => {
            let lake = Lake::new(&config)?;
            println!("lake: {}", lake.root());
            println!("{:<20} {:>8} {:>7} {:>6} {:>6} {:>8} {:>10} {:>12} {:>10}  partitioned by", "table", "version", "files", "small", "parts", "max/part", "rows", "bytes", "checkpoint");
            for s in lake.stats().await.context("reading the lake")? {
                let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
                let rows = s.rows.map_or("?".to_owned(), |r| r.to_string());
                println!(
                    "{:<20} {:>8} {:>7} {:>6} {:>6} {:>8} {rows:>10} {:>12} {:>10}  {}",
                    s.table, opt(s.version), s.files, s.small_files, s.partitions, s.max_files_per_partition, s.bytes, opt(s.last_checkpoint), s.partition_columns.join(",")
                );
            }
            Ok(())
        }
        Command::Lake(LakeCommand::Optimize) => {
            let lake = Lake::new(&config)?;
            for def in arus_lakehouse::maintenance::clustered_tables() {
                let reports = arus_lakehouse::maintenance::optimize(&lake, def).await.with_context(|| format!("optimizing {}", def.name))?;
                if reports.is_empty() {
                    println!("{:<14} nothing to do", def.name);
                }
                for r in reports {
                    println!("{:<14} {:<16} {:>4} files → {} in {:.1?}", def.name, r.partition, r.files_before, r.files_after, r.took);
                }
            }
            Ok(())
        }
        Command::User(UserCommand::Create(args)) => {
            let (user, password) = users::create(&config, args).await?;
            println!("created {} ({}) with role {}", user.user_id, user.email.as_deref().or(user.phone.as_deref()).unwrap_or("-"), user.role);
            if let Some(password) = password {
                println!("password (shown once): {password}");
            }
            Ok(())
        }
        Command::Import(args) => {
            if !arus::import::run(config, args).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Ml(MlCommand::Train(args)) => {
            let report = ml::train(&config, !args.no_eval, false).await?;
            let r = &report.record;
            println!(
                "stored classifier version {} ({} labels, {} corpus rows, {} confirmed rows, {} bytes) in {:.1} s: models/{}",
                r.version,
                serde_json::from_str::<Vec<String>>(&r.labels).map_or(0, |l| l.len()),
                r.corpus_rows,
                r.confirmed_rows,
                r.size_bytes,
                report.training_seconds,
                r.artifact_path
            );
            if let Some(e) = &report.heldout {
                println!("held-out split (merchants never trained on): accuracy {:.4}, macro-F1 {:.4}, calibration error {:.4}", e.accuracy, e.macro_f1, e.calibration_error);
            }
            println!("running enrich jobs switch to it within {} ms", config.model_poll_ms);
            Ok(())
        }
        Command::Ml(MlCommand::Models) => {
            println!("{:>7}  {:<20}  {:>8}  {:>9}  {:>8}  {:>9}", "version", "created", "accuracy", "macro-F1", "confirmed", "bytes");
            for r in ml::models(&config).await? {
                let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
                println!(
                    "{:>7}  {:<20}  {:>8}  {:>9}  {:>8}  {:>9}",
                    r.version,
                    r.created_at.format("%Y-%m-%d %H:%M:%S"),
                    f(r.heldout_accuracy),
                    f(r.heldout_macro_f1),
                    r.confirmed_rows,
                    r.size_bytes
                );
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Pipeline(args)) => bench::pipeline::run(config, args).await,
        Command::Bench(BenchCommand::Api(args)) => bench::api::run(config, args).await,
        Command::Bench(BenchCommand::Import(args)) => bench::import::run(config, args).await,
        Command::Bench(BenchCommand::Webhook(args)) => bench::webhook::run(config, args).await,
        Command::Bench(BenchCommand::Tiering(args)) => bench::tiering::run(config, args).await,
        Command::Bench(BenchCommand::Serving(args)) => bench::serving::run(config, args).await,
        Command::Gen(GenCommand::Lending(args)) => arus::gen::lending(&args).map(drop),
        Command::Lending(LendingCommand::Load(args)) => {
            if !arus::lending::run_load(config, args).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Lending(LendingCommand::Segments(args)) => {
            let (version, report) = arus::lending::segments(&config).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "version": version, "report": report }))?);
            } else {
                arus::lending::print_segments(version, &report);
            }
            Ok(())
        }
        Command::Version | Command::Config(_) | Command::Openapi | Command::Ocr(_) | Command::Forecast(_) | Command::Ml(MlCommand::Corpus(_) | MlCommand::Eval(_)) => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// `/metrics`, `/healthz`, `/readyz` of a job process on `ARUS_JOB_HTTP_ADDR`, when set.
fn job_endpoints(config: &Config, shutdown: &tokio_util::sync::CancellationToken) {
    if config.job_http_addr.is_empty() {
        return;
    }
    let (config, shutdown) = (config.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = arus_serving::health::serve_job_endpoints(&config, shutdown).await {
            tracing::error!(error = %e, "job endpoints failed");
        }
    });
}
