//! `arus bench pipeline`: end-to-end figures of the ingest → enrich → Delta
//! pipeline on an embedded tansu broker, for each storage engine asked for.
//!
//! 1. Throughput: produce `--events` synthetic `TxnRaw` as fast as the
//!    producer goes while `enrich` runs; report events/s from the first
//!    produce to the Delta commit that holds the last row.
//! 2. Freshness: produce at `--rate` events/s for `--freshness-seconds`;
//!    a reader polls the table through DataFusion and records, for every
//!    row, the time from its produce to its first visibility in a query.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arrow::array::{Array, TimestampMicrosecondArray};
use arus_lakehouse::{Kafka, Lake, LakeSession};
use arus_schemas::{topics, Config, TxnRaw};
use chrono::Utc;
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio_util::sync::CancellationToken;

use crate::broker::EmbeddedBroker;
use crate::demo::synthetic;

#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    /// Events of the throughput phase.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Storage engines of the embedded broker to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "memory,sqlite")]
    pub storage: Vec<String>,
    /// Events per second of the freshness phase.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Length of the freshness phase.
    #[arg(long, default_value_t = 20)]
    pub freshness_seconds: u64,
    /// Tenants the synthetic events are spread over.
    #[arg(long, default_value_t = 1_000)]
    pub users: u64,
    /// Port of the benchmark's own broker.
    #[arg(long, default_value_t = 19192)]
    pub port: u16,
}

#[derive(Debug)]
struct Figures {
    storage: String,
    produce_eps: f64,
    pipeline_eps: f64,
    fresh_p50: Duration,
    fresh_p99: Duration,
    fresh_max: Duration,
    fresh_samples: usize,
    achieved_rate: f64,
}

pub async fn run(config: Config, args: PipelineArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are only meaningful with `cargo run --release`");
    }
    let mut all = Vec::new();
    for storage in &args.storage {
        let dir = std::env::temp_dir().join(format!("arus-bench-{}-{storage}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let result = run_one(&config, &args, storage, &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        all.push(result.with_context(|| format!("benchmark with {storage} storage"))?);
    }
    println!("\narus bench pipeline: {} events, freshness at {} events/s for {} s, {} cores", args.events, args.rate, args.freshness_seconds, std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("{:<8} {:>14} {:>16} {:>12} {:>10} {:>10} {:>10} {:>9}", "storage", "produce ev/s", "pipeline ev/s", "fresh rate", "p50", "p99", "max", "samples");
    for f in &all {
        println!(
            "{:<8} {:>14.0} {:>16.0} {:>12.0} {:>9.0}ms {:>9.0}ms {:>9.0}ms {:>9}",
            f.storage, f.produce_eps, f.pipeline_eps, f.achieved_rate,
            f.fresh_p50.as_secs_f64() * 1e3, f.fresh_p99.as_secs_f64() * 1e3, f.fresh_max.as_secs_f64() * 1e3, f.fresh_samples
        );
    }
    println!("targets: pipeline ≥ 50000 ev/s with memory storage; p99 freshness ≤ 2000 ms at 10000 ev/s");
    Ok(())
}

async fn run_one(base: &Config, args: &PipelineArgs, storage: &str, dir: &std::path::Path) -> Result<Figures> {
    let broker = EmbeddedBroker::start(&base.tansu_bin, &dir.join("kafka"), args.port, storage).await?;
    let mut config = base.clone();
    config.kafka_brokers = broker.brokers.clone();
    config.data_dir = PathBuf::from(dir);
    config.lake_uri = String::new();
    config.topic_prefix = "bench.".into();
    config.table_refresh_ms = 0;
    // The benchmark's broker is its own and enrich its only consumer.
    config.consumer_mode = arus_schemas::config::ConsumerMode::Assign;
    let result = measure(&config, args, storage).await;
    broker.stop().await?;
    result
}

async fn measure(config: &Config, args: &PipelineArgs, storage: &str) -> Result<Figures> {
    crate::up::create_topics(config).await?;
    let lake = Lake::new(config)?;
    lake.ensure_all().await?;
    let kafka = Kafka::new(config)?;
    let producer = kafka.producer()?;
    let topic = config.topic(topics::TXN_RAW);
    let stop = CancellationToken::new();
    let job = {
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };

    // Phase 1: throughput.
    eprintln!("[{storage}] producing {} events…", args.events);
    let now = Utc::now();
    let started = Instant::now();
    let users = args.users;
    produce_synthetic(&producer, &topic, "bench", args.events, users, now).await?;
    let produced = started.elapsed();
    eprintln!("[{storage}] produced in {produced:.1?}; waiting for Delta…");
    let committed = wait_for_rows(&lake, args.events, Duration::from_secs(600), &job).await?;
    let pipeline = started.elapsed();
    eprintln!("[{storage}] {committed} rows committed after {pipeline:.1?}");

    // Phase 2: freshness at a steady rate.
    let session = LakeSession::open(&lake, Duration::ZERO).await?;
    let reader_stop = CancellationToken::new();
    let reader = {
        let (session, stop) = (session.clone(), reader_stop.clone());
        tokio::spawn(async move { observe_freshness(session, stop).await })
    };
    let total = args.rate * args.freshness_seconds;
    let tick = Duration::from_millis(10);
    let per_tick = (args.rate / 100).max(1);
    let mut sent = 0u64;
    let mut interval = tokio::time::interval(tick);
    let phase = Instant::now();
    let mut pending = Vec::new();
    while sent < total {
        interval.tick().await;
        let at = Utc::now();
        for _ in 0..per_tick.min(total - sent) {
            let mut e: TxnRaw = synthetic("fresh", sent, users, at);
            e.occurred_at = at;
            e.captured_at = at;
            let (producer, topic) = (producer.clone(), topic.clone());
            pending.push(tokio::spawn(async move { producer.send_json(&topic, &e.user_id, &e).await }));
            sent += 1;
        }
        if pending.len() > 50_000 {
            for p in pending.drain(..) {
                p.await??;
            }
        }
    }
    for p in pending {
        p.await??;
    }
    let achieved_rate = total as f64 / phase.elapsed().as_secs_f64();
    wait_for_rows(&lake, args.events + total, Duration::from_secs(120), &job).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    reader_stop.cancel();
    let mut samples = reader.await??;
    stop.cancel();
    job.await??;
    if samples.is_empty() {
        bail!("no freshness samples were observed");
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    Ok(Figures {
        storage: storage.to_owned(),
        produce_eps: args.events as f64 / produced.as_secs_f64(),
        pipeline_eps: args.events as f64 / pipeline.as_secs_f64(),
        fresh_p50: pct(0.50),
        fresh_p99: pct(0.99),
        fresh_max: *samples.last().unwrap_or(&Duration::ZERO),
        fresh_samples: samples.len(),
        achieved_rate,
    })
}

/// Produces `events` synthetic `TxnRaw` of run `run` spread over `users`
/// tenants, as fast as the producer goes.
pub(super) async fn produce_synthetic(
    producer: &arus_lakehouse::kafka::Producer,
    topic: &str,
    run: &str,
    events: u64,
    users: u64,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    stream::iter((0..events).map(|i| synthetic(run, i, users, now)))
        .map(|e| async move { producer.send_json(topic, &e.user_id, &e).await })
        .buffer_unordered(20_000)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(())
}

/// Waits until `transactions` holds `rows` rows (from the Delta log's file
/// statistics), failing if the job stops or `timeout` passes.
pub(super) async fn wait_for_rows<T>(lake: &Lake, rows: u64, timeout: Duration, job: &tokio::task::JoinHandle<T>) -> Result<u64> {
    let started = Instant::now();
    loop {
        let count = lake
            .stats()
            .await?
            .into_iter()
            .find(|t| t.table == "transactions")
            .and_then(|t| t.rows)
            .unwrap_or(0);
        if count >= rows {
            return Ok(count);
        }
        if job.is_finished() {
            bail!("the enrich job stopped with {count} of {rows} rows written");
        }
        if started.elapsed() > timeout {
            bail!("only {count} of {rows} rows after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the table and returns, per row of the freshness phase, the time
/// from its produce (`captured_at`) to the first query that returned it.
/// Rows become visible commit by commit, and one job's commits carry
/// increasing `ingested_at`, so each poll asks only for rows ingested after
/// the newest one seen.
async fn observe_freshness(session: LakeSession, stop: CancellationToken) -> Result<Vec<Duration>> {
    let mut samples = Vec::new();
    let mut newest_ingested: i64 = 0;
    while !stop.is_cancelled() {
        let sql = format!(
            "SELECT captured_at, ingested_at FROM transactions \
             WHERE ingested_at > to_timestamp_micros({newest_ingested}) AND idempotency_key LIKE 'fresh-%'"
        );
        let batches = session.sql(&sql).await?;
        let seen_at = Utc::now().timestamp_micros();
        for batch in &batches {
            let captured = batch.column(0).as_any().downcast_ref::<TimestampMicrosecondArray>().context("captured_at type")?;
            let ingested = batch.column(1).as_any().downcast_ref::<TimestampMicrosecondArray>().context("ingested_at type")?;
            for i in 0..batch.num_rows() {
                samples.push(Duration::from_micros((seen_at - captured.value(i)).max(0) as u64));
                newest_ingested = newest_ingested.max(ingested.value(i));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(samples)
}
