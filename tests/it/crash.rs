//! `enrich` as a child process, killed with SIGKILL at three random moments
//! while 50,000 events stream in and restarted each time: finally exactly
//! 50,000 distinct rows.

use std::time::Duration;

use arus_lakehouse::Kafka;
use rand::Rng;
use tokio::process::Child;

use crate::common::{scalar, wait_for, TestEnv};

fn start_enrich(env: &TestEnv, run: usize) -> Child {
    env.start_job("enrich", run, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_enrich_loses_and_doubles_nothing_with_broker() {
    const EVENTS: u64 = 50_000;
    let env = TestEnv::new("crash").await;
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let now = chrono::Utc::now();

    // Stream the events in over about 12 seconds.
    let streamer = {
        let (producer, config) = (producer.clone(), env.config.clone());
        tokio::spawn(async move {
            for chunk in 0..100u64 {
                let events = (chunk * 500..(chunk + 1) * 500).map(|i| arus::demo::synthetic("crash", i, 40, now)).collect();
                arus::demo::publish(&producer, &config, events).await.unwrap();
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        })
    };

    let mut kill_at: Vec<u64> = (0..3).map(|_| rand::rng().random_range(1_000..11_000)).collect();
    kill_at.sort();
    eprintln!("killing enrich at {kill_at:?} ms");
    let started = tokio::time::Instant::now();
    let mut child = start_enrich(&env, 0);
    for (run, at) in kill_at.iter().enumerate() {
        tokio::time::sleep_until(started + Duration::from_millis(*at)).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        child = start_enrich(&env, run + 1);
    }
    streamer.await.unwrap();

    let session = env.session().await;
    wait_for(&session, "SELECT count(*) FROM transactions", EVENTS as i64, Duration::from_secs(300)).await;
    // Give a (wrong) second copy time to appear before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, EVENTS as i64, "no duplicate");
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, EVENTS as i64, "none missing");
    // Every (partition, offset) of the source landed once.
    assert_eq!(
        scalar(&session, "SELECT count(*) FROM (SELECT DISTINCT source_partition, source_offset FROM transactions)").await,
        EVENTS as i64
    );
}
