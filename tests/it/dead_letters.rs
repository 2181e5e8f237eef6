//! Malformed values mixed into the stream each land in `dlq` with their
//! reason and raw bytes; every valid event still lands in `transactions`.

use std::time::Duration;

use arus_lakehouse::Kafka;
use arus_schemas::topics;
use tokio_util::sync::CancellationToken;

use crate::common::{scalar, strings, wait_for, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_land_in_the_dlq_with_reasons_with_broker() {
    let env = TestEnv::new("dlq").await;
    let stop = CancellationToken::new();
    let mut jobs = Vec::new();
    for name in ["enrich", "dlq"] {
        let (config, stop) = (env.config.clone(), stop.clone());
        jobs.push(tokio::spawn(async move { arus_stream_jobs::run_named(name, &config, stop).await }));
    }
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let topic = env.config.topic(topics::TXN_RAW);
    let now = chrono::Utc::now();
    let valid = |i: u64| serde_json::to_value(arus::demo::synthetic("dlq", i, 5, now)).unwrap();
    let with = |i: u64, key: &str, value: serde_json::Value| {
        let mut v = valid(i);
        v[key] = value;
        v.to_string().into_bytes()
    };
    let without = |i: u64, key: &str| {
        let mut v = valid(i);
        v.as_object_mut().unwrap().remove(key);
        v.to_string().into_bytes()
    };
    // (payload, expected error_kind, a word the reason must contain)
    let bad: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"jual bakso 300rb".to_vec(), "not_json", "not JSON"),
        (vec![0xff, 0xfe, 0x00], "not_json", "not JSON"),
        (Vec::new(), "not_json", "empty"),
        (with(1001, "amount", serde_json::json!("25.000")), "wrong_shape", "amount"),
        (with(1002, "user_id", serde_json::json!(42)), "wrong_shape", "invalid type"),
        (without(1003, "user_id"), "wrong_shape", "user_id"),
        (with(1004, "schema_version", serde_json::json!(-1)), "wrong_shape", "schema_version"),
        (with(1005, "schema_version", serde_json::json!(99)), "unsupported_version", "schema_version 99"),
        (with(1006, "amount", serde_json::json!(0)), "invalid", "amount must not be zero"),
        (with(1007, "user_id", serde_json::json!("  ")), "invalid", "user_id must not be empty"),
    ];
    // Valid events 0..500 with the bad ones spread among them.
    let mut valid_count = 0;
    let mut next_bad = bad.iter();
    for i in 0..500u64 {
        let payload = valid(i).to_string();
        producer.send_bytes(&topic, Some(format!("user-{:05}", i % 5).as_bytes()), payload.as_bytes()).await.unwrap();
        valid_count += 1;
        if i % 50 == 25 {
            if let Some((payload, _, _)) = next_bad.next() {
                producer.send_bytes(&topic, Some(b"user-00000"), payload).await.unwrap();
            }
        }
    }

    let session = env.session().await;
    wait_for(&session, "SELECT count(*) FROM transactions", valid_count, Duration::from_secs(120)).await;
    wait_for(&session, "SELECT count(*) FROM dlq", bad.len() as i64, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.cancel();
    for job in jobs {
        job.await.unwrap().unwrap();
    }

    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, valid_count);
    assert_eq!(scalar(&session, "SELECT count(*) FROM dlq").await, bad.len() as i64);
    let batches = session.sql("SELECT error_kind, error, payload, payload_encoding, job, source_topic FROM dlq ORDER BY source_partition, source_offset").await.unwrap();
    let (kind, error, payload, encoding, job, source) =
        (strings(&batches, 0), strings(&batches, 1), strings(&batches, 2), strings(&batches, 3), strings(&batches, 4), strings(&batches, 5));
    assert!(job.iter().all(|j| j == "enrich") && source.iter().all(|s| *s == topic));
    let letters: Vec<_> = (0..kind.len()).map(|r| (kind[r].clone(), error[r].clone(), payload[r].clone(), encoding[r].clone())).collect();
    for (payload, kind, word) in &bad {
        let text = String::from_utf8(payload.clone());
        let found = letters.iter().find(|(_, _, p, e)| match &text {
            Ok(t) => e == "utf8" && p == t,
            Err(_) => e == "base64",
        });
        let (got_kind, reason, _, _) = found.unwrap_or_else(|| panic!("no dead letter for {:?}", String::from_utf8_lossy(payload)));
        assert_eq!(got_kind, kind, "kind of {:?}: {reason}", String::from_utf8_lossy(payload));
        assert!(reason.contains(word), "reason {reason:?} should mention {word:?}");
    }
}
