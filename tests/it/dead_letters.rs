//! Malformed values mixed into the stream each land in `dlq` with their
//! reason and raw bytes; every valid event still lands in `transactions`.

use std::time::Duration;

use arus_lakehouse::Kafka;
use arus_schemas::topics;
use tokio_util::sync::CancellationToken;

use crate::common::{scalar, strings, wait_for, TestEnv};

/// `enrich` and `dlq` running, and a producer for `arus.txn.raw.v1`.
struct Running {
    stop: CancellationToken,
    jobs: Vec<tokio::task::JoinHandle<Result<arus_stream_jobs::JobReport, arus_stream_jobs::JobError>>>,
    producer: arus_lakehouse::Producer,
    topic: String,
}

impl Running {
    fn start(env: &TestEnv) -> Running {
        let stop = CancellationToken::new();
        let mut jobs = Vec::new();
        for name in ["enrich", "dlq"] {
            let (config, stop) = (env.config.clone(), stop.clone());
            jobs.push(tokio::spawn(async move { arus_stream_jobs::run_named(name, &config, stop).await }));
        }
        let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
        Running { stop, jobs, producer, topic: env.config.topic(topics::TXN_RAW) }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_land_in_the_dlq_with_reasons_with_broker() {
    let env = TestEnv::new("dlq").await;
    let Running { stop, jobs, producer, topic } = Running::start(&env);
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

/// `arus dlq replay`: a dead letter published again with its payload
/// corrected lands once; one replayed as it was fails again as a new dead
/// letter of its own offset; a second replay is refused unless forced, and
/// a forced one doubles nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_replayed_after_a_fix_land_once_with_broker() {
    let env = TestEnv::new("dlqreplay").await;
    let Running { stop, jobs, producer, topic } = Running::start(&env);
    let now = chrono::Utc::now();
    let valid = |i: u64| serde_json::to_value(arus::demo::synthetic("dlqreplay", i, 3, now)).unwrap();
    for i in 0..3 {
        producer.send_bytes(&topic, Some(b"k"), valid(i).to_string().as_bytes()).await.unwrap();
    }
    let mut wrong = valid(3);
    wrong["amount"] = serde_json::json!("25.000");
    let (_, wrong_offset) = producer.send_bytes(&topic, Some(b"k"), wrong.to_string().as_bytes()).await.unwrap();
    let (_, text_offset) = producer.send_bytes(&topic, Some(b"k"), b"jual bakso 300rb").await.unwrap();
    let session = env.session().await;
    wait_for(&session, "SELECT count(*) FROM transactions", 3, Duration::from_secs(120)).await;
    wait_for(&session, "SELECT count(*) FROM dlq", 2, Duration::from_secs(120)).await;

    let letters = arus::dlq::letters(&env.config).await.unwrap();
    let id_of = |offset: i64| letters.iter().find(|l| l.letter.source_offset == offset).map(|l| l.letter.id.clone()).unwrap();
    let (wrong_id, text_id) = (id_of(wrong_offset), id_of(text_offset));
    // Unknown ids and a corrected payload for two ids are refused before anything is published.
    assert!(arus::dlq::replay(&env.config, &["nope/0/1".into()], None, false, None).await.unwrap_err().to_string().contains("no dead letter"));
    assert!(arus::dlq::replay(&env.config, &[wrong_id.clone(), text_id.clone()], Some(b"{}".to_vec()), false, None).await.is_err());

    let fixed = valid(3).to_string().into_bytes();
    let replayed = arus::dlq::replay(&env.config, std::slice::from_ref(&wrong_id), Some(fixed.clone()), false, Some("amount as a number".into())).await.unwrap();
    assert_eq!((replayed.len(), replayed[0].payload_changed, replayed[0].topic.as_str()), (1, true, topic.as_str()));
    let again = arus::dlq::replay(&env.config, std::slice::from_ref(&text_id), None, false, None).await.unwrap();
    wait_for(&session, "SELECT count(*) FROM transactions", 4, Duration::from_secs(120)).await;
    // The text fails again, as a dead letter of the copy's offset.
    wait_for(&session, "SELECT count(*) FROM dlq", 3, Duration::from_secs(120)).await;
    let letters = arus::dlq::letters(&env.config).await.unwrap();
    let copy = letters.iter().find(|l| l.letter.source_offset == again[0].offset).expect("the copy's own dead letter");
    assert_eq!((copy.letter.payload.as_str(), copy.replays.len()), ("jual bakso 300rb", 0));
    let waiting = arus::dlq::select(&letters, &arus::dlq::ListArgs { job: None, kind: None, topic: None, all: false, limit: 50 });
    assert_eq!(waiting.iter().map(|l| l.letter.id.clone()).collect::<Vec<_>>(), [copy.letter.id.clone()], "only the copy waits");

    // Replayed once: refused; forced: published, and enrich's idempotency key doubles nothing.
    let refused = arus::dlq::replay(&env.config, std::slice::from_ref(&wrong_id), Some(fixed.clone()), false, None).await.unwrap_err();
    assert!(refused.to_string().contains("was replayed"), "{refused}");
    arus::dlq::replay(&env.config, std::slice::from_ref(&wrong_id), Some(fixed), true, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    for job in jobs {
        job.await.unwrap().unwrap();
    }
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 4);
    assert_eq!(scalar(&session, "SELECT count(*) FROM dlq_replays").await, 3);
    assert_eq!(scalar(&session, &format!("SELECT count(*) FROM dlq_replays WHERE dead_letter_id = '{wrong_id}' AND payload_changed")).await, 2);
}
