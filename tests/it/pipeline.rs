//! 10,000 events through `enrich` into `transactions`, read back with
//! DataFusion; a restart resumes from the positions in the Delta log.

use std::collections::HashSet;
use std::time::Duration;

use arus_lakehouse::Kafka;
use arus_schemas::events::transaction_id;
use tokio_util::sync::CancellationToken;

use crate::common::{scalar, strings, wait_for, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_become_ten_thousand_rows_with_broker() {
    let env = TestEnv::new("pipeline").await;
    let stop = CancellationToken::new();
    let job = {
        let (config, stop) = (env.config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let now = chrono::Utc::now();
    let events: Vec<_> = (0..10_000).map(|i| arus::demo::synthetic("p", i, 50, now)).collect();
    let expected: HashSet<String> = events.iter().map(|e| transaction_id(&e.user_id, &e.idempotency_key)).collect();
    arus::demo::publish(&producer, &env.config, events).await.unwrap();

    let session = env.session().await;
    wait_for(&session, "SELECT count(*) FROM transactions", 10_000, Duration::from_secs(180)).await;
    stop.cancel();
    let report = job.await.unwrap().unwrap();

    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 10_000);
    let batches = session.sql("SELECT id FROM transactions").await.unwrap();
    let mut ids = HashSet::new();
    for id in strings(&batches, 0) {
        assert!(ids.insert(id.clone()), "id {id} appears twice");
    }
    assert_eq!(ids, expected, "every produced event's id once, and nothing else");
    assert_eq!((report.rows, report.dead_letters, report.duplicates), (10_000, 0, 0));
    // Every row is categorised by the model, with a confidence, and marked
    // for review or not by it.
    let threshold = env.config.category_review_threshold;
    let categorised = format!(
        "SELECT count(*) FROM transactions WHERE category_source = 'model' AND category_id IS NOT NULL AND model_version = 0 \
         AND ((status = 'ai_predicted' AND category_confidence >= {threshold}) OR (status = 'needs_review' AND category_confidence < {threshold}))"
    );
    assert_eq!(scalar(&session, &categorised).await, 10_000);
}

/// A stopped job resumes after the offsets in the Delta log: it neither
/// re-reads what it wrote (so idempotency keys are not what saves it) nor
/// misses what arrived while it was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_job_resumes_from_the_delta_log_with_broker() {
    let env = TestEnv::new("resume").await;
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let session = env.session().await;
    let now = chrono::Utc::now();
    let run = |stop: CancellationToken| {
        let config = env.config.clone();
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };

    let stop = CancellationToken::new();
    let first = run(stop.clone());
    arus::demo::publish(&producer, &env.config, (0..600).map(|i| arus::demo::synthetic("r", i, 7, now)).collect()).await.unwrap();
    wait_for(&session, "SELECT count(*) FROM transactions", 600, Duration::from_secs(120)).await;
    stop.cancel();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.rows, 600);

    // Produced while no job runs.
    arus::demo::publish(&producer, &env.config, (600..1000).map(|i| arus::demo::synthetic("r", i, 7, now)).collect()).await.unwrap();
    let stop = CancellationToken::new();
    let second = run(stop.clone());
    wait_for(&session, "SELECT count(*) FROM transactions", 1000, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let second = second.await.unwrap().unwrap();

    assert_eq!(second.rows, 400, "only what arrived while the job was down");
    assert_eq!(second.duplicates, 0, "nothing already written was read again");
    assert_eq!(second.consumed, 400);
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, 1000);
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 1000);
}

/// Offsets in the Delta log belong to the cluster they came from: pointed at
/// another cluster, the job refuses to start (nothing silently skipped);
/// told to reprocess, it reads that cluster from the beginning without
/// doubling rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_cluster_is_refused_then_reprocessed_on_request_with_broker() {
    let env = TestEnv::new("cluster").await;
    let now = chrono::Utc::now();
    let session = env.session().await;
    let stop = CancellationToken::new();
    let job = {
        let (config, stop) = (env.config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    arus::demo::publish(&producer, &env.config, (0..300).map(|i| arus::demo::synthetic("c", i, 3, now)).collect()).await.unwrap();
    wait_for(&session, "SELECT count(*) FROM transactions", 300, Duration::from_secs(120)).await;
    stop.cancel();
    job.await.unwrap().unwrap();

    // A fresh broker (new cluster id, empty partitions) with the same topic names.
    let other = arus::broker::EmbeddedBroker::start("tansu", &env.dir.path().join("other-kafka"), crate::common::free_port(), "memory").await.unwrap();
    let mut config = arus_schemas::Config { kafka_brokers: other.brokers.clone(), ..env.config.clone() };
    arus::up::create_topics(&config).await.unwrap();
    let refused = arus_stream_jobs::run_named("enrich", &config, CancellationToken::new()).await;
    let message = format!("{}", refused.as_ref().err().expect("the job must refuse foreign offsets"));
    assert!(message.contains("do not match the Kafka cluster") && message.contains("ARUS_KAFKA_OFFSET_MISMATCH"), "{message}");

    // Reprocess: the other cluster's events (some with keys already written) land once.
    config.kafka_offset_mismatch = arus_schemas::config::OffsetMismatchPolicy::Reprocess;
    let other_producer = Kafka::new(&config).unwrap().producer().unwrap();
    arus::demo::publish(&other_producer, &config, (250..400).map(|i| arus::demo::synthetic("c", i, 3, now)).collect()).await.unwrap();
    let stop = CancellationToken::new();
    let job = {
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };
    wait_for(&session, "SELECT count(*) FROM transactions", 400, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let report = job.await.unwrap().unwrap();
    other.stop().await.unwrap();
    assert_eq!((report.rows, report.duplicates), (100, 50));
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, 400);
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 400);
}

/// Resuming from a position inside a producer's record batch delivers the
/// rest of that batch (tansu 0.6's memory engine would skip it without the
/// resume rewind, see `kafka_resume_rewind`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_inside_a_record_batch_loses_nothing_with_broker() {
    let mut env = TestEnv::new("midbatch").await;
    // About fetch positions, not group coordination (tansu 0.6 may not reassign
    // a group whose member just left): each run takes every partition.
    env.config.consumer_mode = arus_schemas::config::ConsumerMode::Assign;
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let now = chrono::Utc::now();
    // One burst: the producer packs each partition's share into few large batches.
    arus::demo::publish(&producer, &env.config, (0..2000).map(|i| arus::demo::synthetic("mb", i, 11, now)).collect()).await.unwrap();
    let session = env.session().await;

    // Commit every 97 rows, and stop after the first commits: positions end mid-batch.
    let small = arus_schemas::Config { batch_max_rows: 97, batch_max_latency_ms: 60_000, ..env.config.clone() };
    let stop = CancellationToken::new();
    let first = {
        let stop = stop.clone();
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &small, stop).await })
    };
    wait_for(&session, "SELECT count(*) FROM transactions", 97, Duration::from_secs(60)).await;
    stop.cancel();
    let first = first.await.unwrap().unwrap();
    assert!(first.rows < 2000, "the first run must stop part-way ({} rows)", first.rows);

    let stop = CancellationToken::new();
    let second = {
        let (config, stop) = (env.config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };
    wait_for(&session, "SELECT count(*) FROM transactions", 2000, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let second = second.await.unwrap().unwrap();
    assert_eq!(first.rows + second.rows, 2000);
    assert_eq!(second.duplicates, 0);
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, 2000);
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 2000);
}
