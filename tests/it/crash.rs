//! Jobs as child processes, killed with SIGKILL at random moments (3, or
//! `ARUS_RELIABILITY_KILLS`) while their input streams in and restarted
//! each time: `enrich` ends with exactly its 50,000 rows; `tiering` with
//! the history and alerts of an uninterrupted run; `advisor` with one
//! run's forecasts and the alerts of an uninterrupted run.

use std::time::Duration;

use arus_lakehouse::Kafka;
use arus_schemas::lending::{BillPayment, LendingEvent, LendingRecord};
use arus_schemas::{tables, topics, SCHEMA_VERSION};
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

    let mut kill_at: Vec<u64> = (0..crate::common::kills()).map(|_| rand::rng().random_range(1_000..11_000)).collect();
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

    let (found, duplicates) = crate::common::found_and_duplicates(&session, "transactions", "id").await;
    crate::common::record(&format!("SIGKILL enrich ×{}", kill_at.len()), EVENTS as i64, EVENTS as i64, found, duplicates, EVENTS as i64 - found);
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, EVENTS as i64, "no duplicate");
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, EVENTS as i64, "none missing");
    // Every (partition, offset) of the source landed once.
    assert_eq!(
        scalar(&session, "SELECT count(*) FROM (SELECT DISTINCT source_partition, source_offset FROM transactions)").await,
        EVENTS as i64
    );
}

/// The `tiers` history and the distinct alerts of a run, comparable
/// across runs (source offsets left out: two brokers need not number alike).
async fn tiering_outcome(env: &TestEnv) -> (Vec<String>, Vec<String>) {
    let session = env.session().await;
    let batches = session
        .sql("SELECT concat_ws('|', customer_number, CAST(seq AS VARCHAR), tier, COALESCE(previous_tier, '-'), CAST(total_paid AS VARCHAR), CAST(total_bill AS VARCHAR), CAST(current_dpd AS VARCHAR), reasons, cause_id) FROM tiers ORDER BY customer_number, seq")
        .await
        .unwrap();
    let mut alerts: Vec<String> = crate::advisor::read_alerts(&env.config).await.iter().map(|a| format!("{}|{}|{}", a["id"], a["kind"], a["message"])).collect();
    alerts.sort();
    alerts.dedup();
    (crate::common::strings(&batches, 0), alerts)
}

/// `tiering` as a child process SIGKILLed at random moments while a loan
/// book and then payments stream in, restarted each time (its state comes
/// back from the topic): the same `tiers` history and the same alerts as
/// an uninterrupted run of the same events, no decision twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_tiering_keeps_the_history_of_an_uninterrupted_run_with_broker() {
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let reference = TestEnv::new("tiering-ref").await;
    let dir = reference.dir.path().join("book");
    let book = arus::gen::lending(&arus::gen::LendingArgs { customers: 400, seed: 11, as_of, out: dir.clone() }).unwrap();
    // Then the first 80 customers pay every bill still open: tiers rise
    // and their officers are told (alerts).
    let customer_of: std::collections::HashMap<&str, &str> = book.loans.iter().map(|l| (l.loan_id.as_str(), l.customer_number.as_str())).collect();
    let payers: std::collections::HashSet<&str> = book.customers.iter().take(80).map(|c| c.customer_number.as_str()).collect();
    let payments: Vec<LendingEvent> = book
        .bills
        .iter()
        .filter(|b| b.paid_amount < b.amount && b.bill_scheduled_date <= as_of)
        .filter_map(|b| {
            let customer = *customer_of.get(b.loan_id.as_str())?;
            payers.contains(customer).then(|| {
                let record = LendingRecord::Payment(BillPayment { bill_id: b.bill_id.clone(), loan_id: b.loan_id.clone(), paid_date: as_of, paid_amount: b.amount - b.paid_amount });
                LendingEvent { schema_version: SCHEMA_VERSION, id: LendingEvent::id_of(&record), customer_number: Some(customer.to_owned()), as_of, source: "lender-core".into(), more_follow: false, task_missing: false, record }
            })
        })
        .collect();
    assert!(payments.len() > 20, "{} payments", payments.len());
    // Twice the same files (the second load changes nothing, which a
    // restarted job must know from what it rebuilt), then the payments.
    let load = |config: arus_schemas::Config, dir: std::path::PathBuf, payments: Vec<LendingEvent>| async move {
        let mut events = 0;
        for _ in 0..2 {
            events += arus_ingest::lending::load(&config, &dir, as_of, |_| {}).await.unwrap().events as i64;
        }
        let producer = Kafka::new(&config).unwrap().producer().unwrap();
        let topic = config.topic(topics::LENDING);
        for p in &payments {
            producer.send_json(&topic, p.partition_key(), p).await.unwrap();
            events += 1;
        }
        events
    };

    let job = crate::common::start_job(&reference.config, "tiering");
    let events = load(reference.config.clone(), dir.clone(), payments.clone()).await;
    crate::common::wait_committed(&reference.config, "tiering", &tables::TIERS, &[topics::LENDING], events).await;
    job.stop().await;
    let (expected, expected_alerts) = tiering_outcome(&reference).await;
    assert!(expected.len() >= 400, "a tier for every customer: {}", expected.len());
    assert!(!expected_alerts.is_empty(), "the payments raise some tiers");

    let env = TestEnv::new("tiering-kill").await;
    let loader = tokio::spawn(load(env.config.clone(), dir.clone(), payments.clone()));
    let mut kill_at: Vec<u64> = (0..crate::common::kills()).map(|_| rand::rng().random_range(300..8_000)).collect();
    kill_at.sort();
    eprintln!("killing tiering at {kill_at:?} ms");
    let started = tokio::time::Instant::now();
    let mut child = env.start_job("tiering", 0, &[]);
    for (run, at) in kill_at.iter().enumerate() {
        tokio::time::sleep_until(started + Duration::from_millis(*at)).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        child = env.start_job("tiering", run + 1, &[]);
    }
    assert_eq!(loader.await.unwrap(), events);
    crate::common::wait_committed(&env.config, "tiering", &tables::TIERS, &[topics::LENDING], events).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let (found, alerts) = tiering_outcome(&env).await;
    let (want, got): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) = (expected.iter().collect(), found.iter().collect());
    let duplicates = found.len() as i64 - got.len() as i64;
    let lost = want.difference(&got).count() as i64;
    crate::common::record(&format!("SIGKILL tiering ×{}", kill_at.len()), events, expected.len() as i64, got.intersection(&want).count() as i64, duplicates, lost);
    assert_eq!(found, expected, "the tiers history of the uninterrupted run");
    assert_eq!(alerts, expected_alerts, "the same alerts, each id once");
}

/// The forecasts of the one run in `env`'s lake (run id and time left out)
/// and the number of runs that wrote forecasts.
async fn advisor_outcome(env: &TestEnv) -> (Vec<String>, i64, Vec<String>) {
    let session = env.session().await;
    let batches = session
        .sql("SELECT concat_ws('|', user_id, kind, COALESCE(category_id, '-'), CAST(as_of AS VARCHAR), CAST(target_date AS VARCHAR), CAST(point AS VARCHAR), CAST(lower AS VARCHAR), CAST(upper AS VARCHAR), method, CAST(history_days AS VARCHAR)) FROM forecasts ORDER BY 1")
        .await
        .unwrap();
    let runs = scalar(&session, "SELECT count(DISTINCT run_id) FROM forecasts").await;
    let mut alerts: Vec<String> = crate::advisor::read_alerts(&env.config).await.iter().map(|a| format!("{}|{}|{}", a["id"], a["kind"], a["message"])).collect();
    alerts.sort();
    alerts.dedup();
    (crate::common::strings(&batches, 0), runs, alerts)
}

/// `advisor` (scheduled, its hour passed, so it runs at start) as a child
/// process SIGKILLed at random moments of its run and restarted each time:
/// in the end one run's forecasts, equal to those of an uninterrupted run
/// over a copy of the same lake, and the same alerts (a run killed after
/// sending them sends them again with the same ids, which consumers drop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_advisor_leaves_the_forecasts_and_alerts_of_an_uninterrupted_run_with_broker() {
    const USERS: u64 = 24;
    const EVENTS: u64 = USERS * 240;
    let env = TestEnv::new("crash-advisor").await;
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let now = chrono::Utc::now();
    // 240 transactions a person over 80 days, more out than in: forecasts
    // for everyone and balance shortfalls for some.
    let events = (0..EVENTS)
        .map(|i| arus_schemas::TxnRaw { occurred_at: now - chrono::Duration::hours(((i / USERS) * 8 + 20) as i64), ..arus::demo::synthetic("advisor", i, USERS, now) })
        .collect();
    arus::demo::publish(&producer, &env.config, events).await.unwrap();
    let enrich = crate::common::start_job(&env.config, "enrich");
    wait_for(&env.session().await, "SELECT count(*) FROM transactions", EVENTS as i64, Duration::from_secs(180)).await;
    enrich.stop().await;

    // The reference: the same transactions (a copy of the table), one run in this process.
    let reference = TestEnv::new("crash-advisor-ref").await;
    let (from, to) = (env.dir.path().join("lake/transactions"), reference.dir.path().join("lake/transactions"));
    std::fs::remove_dir_all(&to).unwrap();
    let copied = std::process::Command::new("cp").arg("-r").arg(&from).arg(&to).status().unwrap();
    assert!(copied.success());
    let today = now.with_timezone(&arus_schemas::events::jakarta()).date_naive();
    use chrono::Datelike;
    // What the scheduled run does today.
    let periods = arus_stream_jobs::advice::advisor::Periods { weekly: today.weekday() == chrono::Weekday::Mon, monthly: today.day() == 1 };
    let started = tokio::time::Instant::now();
    let report = arus_stream_jobs::advice::advisor::run_once(&reference.config, chrono::Utc::now(), periods).await.unwrap();
    let took = started.elapsed();
    let expected = advisor_outcome(&reference).await;
    assert_eq!(report.forecast_people, USERS, "{report:?}");
    assert!(!expected.2.is_empty(), "the data makes shortfall alerts: {report:?}");

    // Killed at random moments within a run's time (plus the start), restarted each time.
    let span = took.as_millis() as u64 + 1_500;
    let schedule = [("ARUS_ADVISOR_HOUR", "0".to_owned())];
    let kills = crate::common::kills();
    eprintln!("an uninterrupted run took {took:?}; killing advisor {kills} times within {span} ms of each start");
    for run in 0..kills {
        let mut child = env.start_job("advisor", run, &schedule);
        tokio::time::sleep(Duration::from_millis(rand::rng().random_range(300..span))).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
    }
    let mut child = env.start_job("advisor", kills, &schedule);
    let session = env.session().await;
    wait_for(&session, "SELECT count(*) FROM forecasts", expected.0.len() as i64, Duration::from_secs(300)).await;
    // Time for a (wrong) second run to land before looking.
    tokio::time::sleep(Duration::from_secs(3)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let (forecasts, runs, alerts) = advisor_outcome(&env).await;
    let wanted = expected.0.len() as i64;
    let matched = forecasts.iter().filter(|f| expected.0.contains(f)).count() as i64;
    let distinct = forecasts.iter().collect::<std::collections::HashSet<_>>().len() as i64;
    crate::common::record(&format!("SIGKILL advisor ×{kills}"), EVENTS as i64, wanted, distinct, forecasts.len() as i64 - distinct, wanted - matched);
    assert_eq!(runs, 1, "one run's forecasts");
    assert_eq!(forecasts, expected.0, "the forecasts of an uninterrupted run");
    assert_eq!(alerts, expected.2, "the alerts of an uninterrupted run");
}

/// Receipt `i` of the OCR kill test: one shop, a total of its own.
fn receipt(i: usize) -> Vec<u8> {
    let total = 12_000 + i * 1_500;
    let money = |n: usize| format!("{}.{:03}", n / 1_000, n % 1_000);
    let lines = [
        "      TOKO MAJU JAYA".to_owned(),
        format!("Tgl: {:02}/11/2026       Jam: 10:15", 1 + i % 28),
        "--------------------------------".to_owned(),
        format!("Beras Premium 1kg       {:>8}", money(total)),
        "--------------------------------".to_owned(),
        format!("TOTAL                   {:>8}", money(total)),
        format!("TUNAI                   {:>8}", money(100_000)),
        format!("KEMBALI                 {:>8}", money(100_000 - total)),
    ];
    crate::receipts::typed(&lines.iter().map(String::as_str).collect::<Vec<_>>())
}

/// What the photos of `api` came to: each photo's final status and
/// reasons, the rows booked from them, and how many photos were read more
/// than once (a revision after `pending_ocr` twice).
async fn ocr_outcome(api: &crate::serving::Api, photos: usize) -> (Vec<String>, Vec<String>, i64) {
    let session = api.env.session().await;
    let settled = "SELECT count(DISTINCT media_id) FROM media WHERE status <> 'pending_ocr'";
    wait_for(&session, settled, photos as i64, Duration::from_secs(120)).await;
    let read = session
        .sql("SELECT concat_ws('|', file_name, status, COALESCE(review_reasons, '-')) FROM media WHERE status <> 'pending_ocr' ORDER BY 1")
        .await
        .unwrap();
    let parsed = scalar(&session, "SELECT count(*) FROM media WHERE status = 'parsed'").await;
    wait_for(&session, "SELECT count(*) FROM transactions WHERE source = 'ocr'", parsed, Duration::from_secs(120)).await;
    // Time for a (wrong) second copy to land before looking.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let booked = session
        .sql("SELECT concat_ws('|', CAST(amount AS VARCHAR), description, CAST(CAST(occurred_at AS BIGINT) AS VARCHAR)) FROM transactions WHERE source = 'ocr' ORDER BY 1")
        .await
        .unwrap();
    let twice = scalar(&session, "SELECT count(*) FROM (SELECT media_id FROM media WHERE status <> 'pending_ocr' GROUP BY media_id HAVING count(*) > 1)").await;
    (crate::common::strings(&read, 0), crate::common::strings(&booked, 0), twice)
}

/// `ocr` as a child process SIGKILLed at random moments while receipts
/// are uploaded, restarted each time: every photo read once, with the
/// status of an uninterrupted run's, and its transaction booked once.
/// A restarted job finds a backlog and reads two photos at once, which is
/// how this test found the job stopping for good (see `photos::run_with`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_ocr_reads_and_books_every_photo_once_with_broker() {
    use crate::serving::Api;
    const PHOTOS: usize = 16;
    let jobs = ["enrich", "accounts", "dlq"];
    async fn upload_all(api: &Api, token: String) {
        for i in 0..PHOTOS {
            let (status, body) = crate::receipts::upload(api, &token, &format!("struk-{i:02}.png"), receipt(i), &[]).await;
            assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // The reference: the same uploads read by an uninterrupted `ocr` in this process.
    let reference = Api::start_with("crash-ocr-ref", &["enrich", "accounts", "dlq", "ocr"], |_| {}).await;
    reference.register("sari@example.id").await;
    let token = reference.login("sari@example.id").await["access_token"].as_str().unwrap().to_owned();
    let started = tokio::time::Instant::now();
    upload_all(&reference, token).await;
    let expected = ocr_outcome(&reference, PHOTOS).await;
    let took = started.elapsed();
    assert_eq!(expected.2, 0);
    assert!(expected.0.iter().filter(|r| r.contains("|parsed|")).count() >= PHOTOS / 2, "most receipts are sure: {:?}", expected.0);

    let api = Api::start_with("crash-ocr", &jobs, |_| {}).await;
    api.register("sari@example.id").await;
    let token = api.login("sari@example.id").await["access_token"].as_str().unwrap().to_owned();
    let span = took.as_millis() as u64;
    let mut kill_at: Vec<u64> = (0..crate::common::kills()).map(|_| rand::rng().random_range(500..span.max(1_000))).collect();
    kill_at.sort();
    eprintln!("an uninterrupted run took {took:?}; killing ocr at {kill_at:?} ms");
    let killing = async {
        let started = tokio::time::Instant::now();
        let mut child = api.env.start_job("ocr", 0, &[]);
        for (run, at) in kill_at.iter().enumerate() {
            tokio::time::sleep_until(started + Duration::from_millis(*at)).await;
            child.start_kill().unwrap(); // SIGKILL
            child.wait().await.unwrap();
            child = api.env.start_job("ocr", run + 1, &[]);
        }
        child
    };
    // The uploads stream in while the job is killed.
    let ((), mut child) = tokio::join!(upload_all(&api, token), killing);
    let (read, booked, twice) = ocr_outcome(&api, PHOTOS).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let distinct = booked.iter().collect::<std::collections::HashSet<_>>().len() as i64;
    let lost = expected.1.iter().filter(|b| !booked.contains(b)).count() as i64;
    crate::common::record(&format!("SIGKILL ocr ×{}", kill_at.len()), PHOTOS as i64, expected.1.len() as i64, distinct, booked.len() as i64 - distinct, lost);
    assert_eq!(twice, 0, "no photo read twice");
    assert_eq!(read, expected.0, "each photo's status as an uninterrupted run's");
    assert_eq!(booked, expected.1, "each receipt booked once");
}
