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
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions WHERE status = 'pending_category' AND category_id IS NULL").await, 10_000);
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
