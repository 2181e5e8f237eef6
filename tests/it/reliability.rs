//! The reliability suite's scenarios not covered elsewhere (the SIGKILLed
//! `enrich` is in crash.rs, two enrich members in scale.rs, the full disk in
//! faults.rs): a poison message in every topic, and the notifier killed
//! while it sends. Each records a row of the summary table
//! (`bash bench/reliability/run.sh` prints it).

use std::collections::BTreeMap;
use std::time::Duration;

use arus_lakehouse::Kafka;
use arus_schemas::topics;
use rand::Rng;

use crate::common::{record, scalar, strings, wait_for, TestEnv};
use crate::whatsapp::{fake_waha, kill, outbound, start_notifier, tweak};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_in_every_topic_goes_to_the_dlq_and_the_stream_goes_on_with_broker() {
    let waha = fake_waha().await;
    let api = crate::serving::Api::start_with("poison", arus_stream_jobs::JOB_NAMES, tweak(&waha)).await;
    let config = api.env.config.clone();
    let producer = Kafka::new(&config).unwrap().producer().unwrap();
    let session = api.env.session().await;

    // Bytes no consumer can read, once in every topic.
    for topic in topics::ALL {
        producer.send_bytes(&config.topic(topic), Some(b"poison"), b"\xff\xfe not an event {").await.unwrap();
    }
    // Then good events behind the poison: they land.
    let now = chrono::Utc::now();
    arus::demo::publish(&producer, &config, (0..50).map(|i| arus::demo::synthetic("after-poison", i, 5, now)).collect()).await.unwrap();
    wait_for(&session, "SELECT count(*) FROM transactions", 50, Duration::from_secs(120)).await;

    // One dead letter per poisoned topic (the id is topic/partition/offset,
    // so the jobs sharing a topic record one letter between them).
    let expected = topics::ALL.len() as i64;
    wait_for(&session, "SELECT count(DISTINCT source_topic) FROM dlq WHERE source_key = 'poison'", expected, Duration::from_secs(120)).await;
    let batches = session.sql("SELECT source_topic, job FROM dlq ORDER BY source_topic").await.unwrap();
    let letters: BTreeMap<String, String> = strings(&batches, 0).into_iter().zip(strings(&batches, 1)).collect();
    eprintln!("dead letters by topic: {letters:?}");
    let found = letters.len() as i64;
    let rows = scalar(&session, "SELECT count(*) FROM dlq").await;
    record("poison message in each of the 13 topics", expected, expected, found, rows - found, expected - found);
    for topic in topics::ALL {
        assert!(letters.contains_key(&config.topic(topic)), "no dead letter for {topic}: {letters:?}");
    }
    assert_eq!(rows, expected, "one dead letter per poisoned message");
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, 50);
    // Every job still runs: stop() fails on a job that ended in error.
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifier_killed_while_sending_never_sends_twice_with_broker() {
    // The notifier records each message before and after it sends (a Delta
    // commit each), about two a second: 60 over the 9 s the kills fall in.
    const MESSAGES: usize = 60;
    let waha = fake_waha().await;
    let env = TestEnv::new("notify-kill").await;
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let topic = env.config.topic(topics::WA_OUTBOUND);
    let dlq = crate::common::start_job(&env.config, "dlq");
    // Each send takes a while at WAHA, so kills land mid-send too.
    waha.stall_every_send(20);

    let streamer = {
        let (producer, topic) = (producer.clone(), topic.clone());
        tokio::spawn(async move {
            for i in 0..MESSAGES {
                let chat = format!("62812000{:05}@c.us", i % 7);
                let m = outbound(&format!("n{i}"), &chat, &format!("pesan {i}"));
                producer.send_json(&topic, &m.chat_id, &m).await.unwrap();
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };
    let kills = crate::common::kills();
    let mut kill_at: Vec<u64> = (0..kills).map(|_| rand::rng().random_range(500..9_000)).collect();
    kill_at.sort();
    eprintln!("killing the notifier at {kill_at:?} ms");
    let started = tokio::time::Instant::now();
    let mut child = start_notifier(&env, &waha, 0);
    for (run, at) in kill_at.iter().enumerate() {
        tokio::time::sleep_until(started + Duration::from_millis(*at)).await;
        kill(child).await;
        child = start_notifier(&env, &waha, run + 1);
    }
    streamer.await.unwrap();

    // Every message ends sent: a send cut off by a kill is looked up in the
    // chat once it would have timed out, and sent again only if missing.
    let session = env.session().await;
    wait_for(&session, "SELECT count(DISTINCT id) FROM notifications WHERE status = 'sent'", MESSAGES as i64, Duration::from_secs(180)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    kill(child).await;

    let mut sends: BTreeMap<String, usize> = BTreeMap::new();
    for text in waha.all_texts() {
        *sends.entry(text).or_default() += 1;
    }
    let duplicates: usize = sends.values().map(|n| n - 1).sum();
    let delivered = sends.len();
    let lost = MESSAGES as i64 - delivered as i64;
    record(&format!("SIGKILL notifier ×{kills} (sends)"), MESSAGES as i64, MESSAGES as i64, delivered as i64, duplicates as i64, lost);
    // Tries a kill cut off before WAHA took them (nothing after their
    // `sending` row), each sent again after the restart.
    let resent = scalar(&session, "SELECT count(*) FROM (SELECT id, attempts FROM notifications GROUP BY id, attempts HAVING count(*) = 1 AND max(status) = 'sending')").await;
    eprintln!("delivered {delivered}, duplicates {duplicates}, tries cut off and sent again {resent}");
    assert_eq!(duplicates, 0, "a message was sent twice: {:?}", sends.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>());
    assert_eq!(lost, 0, "messages never delivered");
    assert_eq!(scalar(&session, "SELECT count(*) FROM notifications WHERE status = 'unknown'").await, 0, "WAHA lists its chats: no send is left unknown");
    dlq.stop().await;
}
