//! `arus bench tiering`: the tiering job on a generated loan book, on an
//! embedded tansu broker (memory storage).
//!
//! 1. Throughput: `arus lending load` publishes a book of `--customers`
//!    partners to `arus.lending.v1`; then the `tiering` job starts and the
//!    clock runs from its start to the Delta commit that records its
//!    position past the last event. Reported: bills/s (bill events over
//!    that time) and events/s (every event of the load).
//! 2. Latency: while the job runs, `--samples` partners below Gold pay all
//!    their due, unpaid bills (payment events, `--rate` partners a
//!    second), which lifts each to Gold; a reader polls the `tiers` table
//!    through DataFusion and records, per partner, the time from sending
//!    the last payment to the first query that returns the new tier.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arus_lakehouse::{Kafka, Lake, LakeSession};
use arus_schemas::lending::{BillPayment, LendingEvent, LendingRecord};
use arus_schemas::{tables, topics, Config, SCHEMA_VERSION};
use chrono::NaiveDate;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::broker::EmbeddedBroker;

#[derive(Debug, Clone, clap::Args)]
pub struct TieringArgs {
    /// Partners in the generated book.
    #[arg(long, default_value_t = 50_000)]
    pub customers: usize,
    /// Partners paid up to Gold in the latency phase.
    #[arg(long, default_value_t = 2_000)]
    pub samples: usize,
    /// Partners paying per second in the latency phase.
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    /// Seed of the book.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Port of the benchmark's own broker.
    #[arg(long, default_value_t = 19292)]
    pub port: u16,
    /// Print the figures as JSON as well.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Figures {
    customers: usize,
    events: usize,
    bills: usize,
    publish_seconds: f64,
    job_seconds: f64,
    bills_per_second: f64,
    events_per_second: f64,
    samples_sent: usize,
    samples_seen: usize,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).expect("a date")
}

pub async fn run(config: Config, args: TieringArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are only meaningful with `cargo run --release`");
    }
    let dir = std::env::temp_dir().join(format!("arus-bench-tiering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let broker = EmbeddedBroker::start(&config.tansu_bin, &dir.join("kafka"), args.port, "memory").await?;
    let mut config = config.clone();
    config.kafka_brokers = broker.brokers.clone();
    config.data_dir = dir.clone();
    config.lake_uri = String::new();
    config.topic_prefix = "bench.".into();
    config.table_refresh_ms = 0;
    config.consumer_mode = arus_schemas::config::ConsumerMode::Assign;
    let result = measure(&config, &args, &dir).await;
    broker.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    let f = result?;
    println!(
        "\narus bench tiering: {} customers, {} events ({} bills), {} cores",
        f.customers,
        f.events,
        f.bills,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("load published in {:.1} s; tiering job through the book in {:.1} s", f.publish_seconds, f.job_seconds);
    println!("{:>12} {:>12} {:>10} {:>10} {:>10} {:>10}", "bills/s", "events/s", "p50", "p99", "max", "samples");
    println!(
        "{:>12.0} {:>12.0} {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>5}/{:<5}",
        f.bills_per_second, f.events_per_second, f.latency_p50_ms, f.latency_p99_ms, f.latency_max_ms, f.samples_seen, f.samples_sent
    );
    println!("targets: ≥ 100000 bills/s through the tiering job; p99 ≤ 2000 ms from a payment to its new tier being queryable");
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    }
    Ok(())
}

async fn measure(config: &Config, args: &TieringArgs, dir: &std::path::Path) -> Result<Figures> {
    crate::up::create_topics(config).await?;
    let lake = Lake::new(config)?;
    lake.ensure_all().await?;
    let book = dir.join("book");
    eprintln!("generating {} customers…", args.customers);
    let data = crate::gen::lending(&crate::gen::LendingArgs { customers: args.customers, seed: args.seed, as_of: as_of(), out: book.clone() })?;
    let started = Instant::now();
    let report = arus_ingest::lending::load(config, &book, as_of(), |_| {}).await.context("loading the book")?;
    let publish_seconds = started.elapsed().as_secs_f64();
    let bills = report.files.iter().find(|f| f.file == arus_ingest::lending::BILLS).map_or(0, |f| f.published);
    eprintln!("published {} events in {publish_seconds:.1} s; starting the tiering job…", report.events);

    let stop = CancellationToken::new();
    let started = Instant::now();
    let job = {
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("tiering", &config, stop).await })
    };
    loop {
        if crate::lending::committed(config, "tiering", &tables::TIERS).await? >= report.events as i64 {
            break;
        }
        if job.is_finished() {
            bail!("the tiering job stopped: {:?}", job.await?);
        }
        if started.elapsed() > Duration::from_secs(1_800) {
            bail!("the tiering job did not get through the book in 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let job_seconds = started.elapsed().as_secs_f64();
    eprintln!("tiering job through the book in {job_seconds:.1} s; latency phase…");

    // Partners below Gold whose bills all loaded, and their due, unpaid bills.
    let session = LakeSession::open(&lake, Duration::ZERO).await?;
    let below: HashSet<String> = crate::lending::strings(&session.sql("SELECT customer_number FROM tiers WHERE tier <> 'GOLD'").await?, 0).into_iter().collect();
    let owner: HashMap<&str, &str> = data.loans.iter().map(|l| (l.loan_id.as_str(), l.customer_number.as_str())).collect();
    let planted_bills: HashSet<usize> = data.planted.iter().filter(|p| p.file == arus_ingest::lending::BILLS).map(|p| p.line).collect();
    let mut spoilt: HashSet<&str> = HashSet::new();
    let mut owed: HashMap<&str, Vec<BillPayment>> = HashMap::new();
    for (i, b) in data.bills.iter().enumerate() {
        let Some(&customer) = owner.get(b.loan_id.as_str()) else { continue };
        if planted_bills.contains(&(i + 2)) {
            spoilt.insert(customer);
        }
        if b.bill_scheduled_date <= as_of() && b.paid_amount < b.amount {
            owed.entry(customer).or_default().push(BillPayment { bill_id: b.bill_id.clone(), loan_id: b.loan_id.clone(), paid_date: as_of(), paid_amount: b.amount });
        }
    }
    let mut candidates: Vec<(&str, Vec<BillPayment>)> = owed.into_iter().filter(|(c, _)| below.contains(*c) && !spoilt.contains(c)).collect();
    candidates.sort_by(|a, b| a.0.cmp(b.0));
    candidates.truncate(args.samples);
    if candidates.is_empty() {
        bail!("no partner below Gold with bills to pay");
    }

    let reader_stop = CancellationToken::new();
    let reader = {
        let (session, stop) = (session.clone(), reader_stop.clone());
        tokio::spawn(async move { observe(session, stop).await })
    };
    let producer = Kafka::new(config)?.producer()?;
    let topic = config.topic(topics::LENDING);
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate.max(1) as f64));
    for (customer, payments) in &candidates {
        interval.tick().await;
        let n = payments.len();
        for (i, p) in payments.iter().enumerate() {
            let record = LendingRecord::Payment(p.clone());
            let event = LendingEvent {
                schema_version: SCHEMA_VERSION,
                id: LendingEvent::id_of(&record),
                customer_number: Some((*customer).to_owned()),
                as_of: as_of(),
                source: "bench".into(),
                more_follow: i + 1 < n,
                task_missing: false,
                record,
            };
            let payload = serde_json::to_vec(&event)?;
            if i + 1 == n {
                sent_at.insert(event.id.clone(), Instant::now());
            }
            producer.send_detached(&topic, (*customer).to_owned(), payload).await?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rows = crate::lending::strings(&session.sql("SELECT count(*) FROM tiers WHERE seq > 1").await?, 0);
        let count: usize = rows.first().and_then(|c| c.parse().ok()).unwrap_or(0);
        if count >= candidates.len() || Instant::now() > deadline {
            break count;
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    reader_stop.cancel();
    let first_seen = reader.await??;
    stop.cancel();
    job.await??;
    let mut latencies: Vec<Duration> = sent_at.iter().filter_map(|(id, at)| first_seen.get(id).map(|seen| seen.saturating_duration_since(*at))).collect();
    if latencies.is_empty() {
        bail!("no payment's tier was observed ({seen} rows after the payments)");
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    Ok(Figures {
        customers: args.customers,
        events: report.events,
        bills,
        publish_seconds,
        job_seconds,
        bills_per_second: bills as f64 / job_seconds,
        events_per_second: report.events as f64 / job_seconds,
        samples_sent: candidates.len(),
        samples_seen: latencies.len(),
        latency_p50_ms: pct(0.50),
        latency_p99_ms: pct(0.99),
        latency_max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    })
}

/// Polls `tiers` for rows after the load (`seq > 1`) and records when each
/// cause (the partner's last payment) was first returned.
async fn observe(session: LakeSession, stop: CancellationToken) -> Result<HashMap<String, Instant>> {
    let mut seen: HashMap<String, Instant> = HashMap::new();
    while !stop.is_cancelled() {
        let batches = session.sql("SELECT cause_id FROM tiers WHERE seq > 1").await?;
        let now = Instant::now();
        for id in crate::lending::strings(&batches, 0) {
            seen.entry(id).or_insert(now);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(seen)
}
