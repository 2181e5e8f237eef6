//! Horizontal scale: `arus job enrich` processes in one consumer group share
//! the partitions; when one is killed the group hands its partitions to
//! the others, which resume them from the Delta log: every event lands
//! exactly once.

use std::time::Duration;

use arus_lakehouse::Kafka;
use tokio::process::Child;

use crate::common::{scalar, wait_for, TestEnv};

fn start_member(env: &TestEnv, run: usize) -> Child {
    let settings = [("ARUS_CONSUMER_MODE", "group"), ("ARUS_LOG_FORMAT", "json"), ("ARUS_LOG", "warn,arus_lakehouse=info,arus_stream_jobs=info")];
    env.start_job("enrich", run, &settings.map(|(k, v)| (k, v.to_owned())))
}

/// `(assigned, revoked)` counts and the last assignment's size, from a member's log.
fn rebalances(env: &TestEnv, run: usize) -> (usize, usize, Option<u32>) {
    let log = std::fs::read_to_string(env.dir.path().join(format!("enrich-{run}.log"))).unwrap_or_default();
    let events: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let message = |e: &serde_json::Value| e["fields"]["message"].as_str().unwrap_or("").to_owned();
    let assigned: Vec<u32> = events
        .iter()
        .filter(|e| message(e) == "partitions assigned")
        .filter_map(|e| e["fields"]["partitions"].as_u64().map(|p| p as u32))
        .collect();
    let revoked = events.iter().filter(|e| message(e) == "partitions revoked").count();
    (assigned.len(), revoked, assigned.last().copied())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrich_members_share_partitions_and_take_over_a_killed_one_with_broker() {
    const EVENTS: u64 = 20_000;
    let env = TestEnv::new("scale").await;
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let now = chrono::Utc::now();
    // enrich reads arus.txn.raw.v1 and arus.txn.feedback.v1.
    let partitions = 2 * env.config.kafka_partitions as u32;

    let mut a = start_member(&env, 0);
    let mut b = start_member(&env, 1);
    // Both members hold a share before anything flows.
    let started = tokio::time::Instant::now();
    loop {
        let (ra, rb) = (rebalances(&env, 0), rebalances(&env, 1));
        if let (Some(x), Some(y)) = (ra.2, rb.2) {
            if x > 0 && y > 0 && x + y == partitions {
                eprintln!("shared: {x} + {y} partitions");
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the two members did not share {partitions} partitions: {ra:?} {rb:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let streamer = {
        let (producer, config) = (producer.clone(), env.config.clone());
        tokio::spawn(async move {
            for chunk in 0..40u64 {
                let events = (chunk * 500..(chunk + 1) * 500).map(|i| arus::demo::synthetic("scale", i, 40, now)).collect();
                arus::demo::publish(&producer, &config, events).await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.start_kill().unwrap(); // SIGKILL: no goodbye to the group
    a.wait().await.unwrap();
    eprintln!("killed member 0");
    streamer.await.unwrap();

    let session = env.session().await;
    wait_for(&session, "SELECT count(*) FROM transactions", EVENTS as i64, Duration::from_secs(180)).await;
    let (assigned, revoked, last) = rebalances(&env, 1);
    assert_eq!(last, Some(partitions), "the survivor holds every partition (assigned {assigned}×, revoked {revoked}×)");
    assert!(revoked >= 1, "the survivor's rebalance is logged");
    let log = std::fs::read_to_string(env.dir.path().join("enrich-1.log")).unwrap();
    for line in log.lines().filter(|l| l.contains("partitions assigned") || l.contains("partitions revoked") || l.contains("rejoining")) {
        eprintln!("survivor: {line}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    b.start_kill().unwrap();
    b.wait().await.unwrap();

    let (found, duplicates) = crate::common::found_and_duplicates(&session, "transactions", "id").await;
    crate::common::record("two enrich members, one SIGKILLed", EVENTS as i64, EVENTS as i64, found, duplicates, EVENTS as i64 - found);
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, EVENTS as i64, "no duplicate");
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, EVENTS as i64, "none missing");
}
