//! The lender's book with the broker: `arus lending load` on generated files
//! with planted problems, the five table jobs, the `tiering` job (stopped
//! and started again between loads), replaying the same files, and a
//! payment that lifts a partner to Gold reaching their field officer
//! through the notifier and a stand-in WAHA.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use arus_lakehouse::{AppendLog, Kafka, Lake, LakeSession};
use arus_ml::tiering::rule_tier;
use arus_schemas::lending::{Bill, BillPayment, Customer, LendingEvent, LendingRecord, LoanSnapshot};
use arus_schemas::whatsapp::WaLink;
use arus_schemas::{tables, topics, Config, SCHEMA_VERSION};
use chrono::NaiveDate;

use crate::common::{scalar, start_job, strings, wait_for};
use crate::serving::{first_admin, person, Api};
use crate::whatsapp::{fake_waha, kill, rini_and_her_officer, start_notifier, RINI};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TABLE_JOBS: [&str; 5] = ["lending-customers", "lending-loans", "lending-bills", "lending-tasks", "lending-participants"];

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

async fn wait_committed(config: &Config, job: &str, table: &'static tables::TableDef, target: i64) {
    crate::common::wait_committed(config, job, table, &[topics::LENDING], target).await;
}

/// The `tiers` history as comparable text rows.
async fn history(session: &LakeSession) -> Vec<String> {
    let batches = session
        .sql("SELECT concat_ws('|', customer_number, CAST(seq AS VARCHAR), tier, COALESCE(previous_tier, '-'), CAST(total_paid AS VARCHAR), CAST(total_bill AS VARCHAR), CAST(current_dpd AS VARCHAR), reasons, cause_id, CAST(source_offset AS VARCHAR)) FROM tiers ORDER BY customer_number, seq")
        .await
        .unwrap();
    strings(&batches, 0)
}

fn event(customer: &str, more_follow: bool, record: LendingRecord) -> LendingEvent {
    LendingEvent {
        schema_version: SCHEMA_VERSION,
        id: LendingEvent::id_of(&record),
        customer_number: Some(customer.to_owned()),
        as_of: as_of(),
        source: "lender-core".to_owned(),
        more_follow,
        task_missing: false,
        record,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loan_book_loads_with_its_problems_reported_and_tiers_follow_payments_with_broker() {
    let jobs: Vec<&'static str> = TABLE_JOBS.iter().copied().chain(["dlq"]).collect();
    let api = Api::start_with("lending", &jobs, |c| c.model_poll_ms = 200).await;
    let env = &api.env;
    let config = &env.config;
    let dir = env.dir.path().join("book");
    let data = arus::gen::lending(&arus::gen::LendingArgs { customers: 300, seed: 5, as_of: as_of(), out: dir.clone() }).unwrap();

    // The load: every planted problem reported with file and line, the rest published.
    let report = arus_ingest::lending::load(config, &dir, as_of(), |_| {}).await.unwrap();
    let mut found: Vec<(&str, usize, &str)> = report.violations.iter().map(|v| (v.file, v.line, v.check)).collect();
    let mut planted: Vec<(&str, usize, &str)> = data.planted.iter().map(|p| (p.file, p.line, p.check)).collect();
    found.sort();
    planted.sort();
    assert_eq!(found, planted);
    let rejected_rows = data.planted.iter().filter(|p| p.check != "orphan_task").map(|p| (p.file, p.line)).collect::<std::collections::BTreeSet<_>>().len();
    assert_eq!(report.dead_letters, rejected_rows);
    for f in &report.files {
        assert_eq!(f.published + f.rejected, f.read, "{f:?}");
    }
    let published = |file: &str| report.files.iter().find(|f| f.file == file).unwrap().published as i64;
    assert_eq!(published("bills.csv"), (data.bills.len() - data.planted.iter().filter(|p| p.file == "bills.csv").count()) as i64);

    let tiering = start_job(config, "tiering");
    let session = env.session().await;
    let long = Duration::from_secs(120);
    wait_for(&session, "SELECT count(*) FROM customers", published("customers.csv"), long).await;
    wait_for(&session, "SELECT count(*) FROM loans", published("loan_snapshots.csv"), long).await;
    wait_for(&session, "SELECT count(*) FROM bills", published("bills.csv"), long).await;
    wait_for(&session, "SELECT count(*) FROM tasks", published("tasks.csv"), long).await;
    wait_for(&session, "SELECT count(*) FROM task_participants", published("task_participants.csv"), long).await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM task_participants WHERE task_missing").await, 5, "orphans kept and flagged");
    assert_eq!(scalar(&session, "SELECT count(*) FROM dq_results").await, report.violations.len() as i64);
    assert_eq!(scalar(&session, "SELECT count(*) FROM dq_results WHERE action = 'kept' AND \"check\" = 'orphan_task'").await, 5);
    wait_for(&session, "SELECT count(*) FROM dlq WHERE job = 'lending-load'", rejected_rows as i64, long).await;

    // One tier per customer once their rows are in, equal to the rule over the tables.
    let behaviours = arus_stream_jobs::lending::behaviours(&session).await.unwrap();
    wait_for(&session, "SELECT count(DISTINCT customer_number) FROM tiers", behaviours.len() as i64, long).await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM tiers").await, behaviours.len() as i64, "a load decides once per customer");
    let batches = session.sql("SELECT customer_number, tier FROM tiers").await.unwrap();
    let streamed: HashMap<String, String> = strings(&batches, 0).into_iter().zip(strings(&batches, 1)).collect();
    let mut counts = BTreeMap::new();
    for (customer, b) in &behaviours {
        let tier = rule_tier(b).tier.as_str();
        assert_eq!(streamed[customer], tier, "{customer}: {b:?}");
        *counts.entry(tier).or_insert(0) += 1;
    }
    assert!(counts.len() == 3, "all three tiers present: {counts:?}");
    let first = history(&session).await;

    // Restart the tiering job: its state comes back from the topic.
    tiering.stop().await;
    let tiering = start_job(config, "tiering");

    // The same files again: nothing new in the tables or the history.
    let again = arus_ingest::lending::load(config, &dir, as_of(), |_| {}).await.unwrap();
    assert_eq!(again.violations.len(), report.violations.len());
    let total = (report.events + again.events) as i64;
    wait_committed(config, "tiering", &tables::TIERS, total).await;
    for (job, table) in TABLE_JOBS.iter().zip([&tables::CUSTOMERS, &tables::LOANS, &tables::BILLS, &tables::TASKS, &tables::TASK_PARTICIPANTS]) {
        wait_committed(config, job, table, total).await;
    }
    assert_eq!(history(&session).await, first, "replaying the same files gives the same tiers history");
    assert_eq!(scalar(&session, "SELECT count(*) FROM bills").await, published("bills.csv"));
    assert_eq!(scalar(&session, "SELECT count(*) FROM dq_results").await, 2 * report.violations.len() as i64, "each load reports");

    // Ibu Rini, linked to her officer; her lender sends her book.
    let waha = fake_waha().await;
    let lake = Lake::new(config).unwrap();
    let (_, partner) = rini_and_her_officer(config).await;
    let mut links = AppendLog::<WaLink>::open(&lake, &tables::WHATSAPP_LINKS).await.unwrap();
    let link = WaLink { phone: RINI.into(), revision: 1, user_id: partner.user_id.clone(), customer_id: Some("C-RINI".into()), active: true, updated_by: "test".into(), updated_at: chrono::Utc::now() };
    links.append(&[link]).await.unwrap();
    let notifier = start_notifier(env, &waha, 0);

    let producer = Kafka::new(config).unwrap().producer().unwrap();
    let lending = config.topic(topics::LENDING);
    let send = |e: LendingEvent| {
        let (producer, lending) = (producer.clone(), lending.clone());
        async move { producer.send_json(&lending, e.partition_key(), &e).await.unwrap() }
    };
    let customer = Customer { customer_number: "C-RINI".into(), date_of_birth: None, marital_status: None, religion: None, purpose: Some("Warung Makan".into()) };
    send(event("C-RINI", true, LendingRecord::Customer(customer))).await;
    let loan = LoanSnapshot { loan_id: "L-RINI".into(), customer_number: "C-RINI".into(), principal_amount: 1_000_000, outstanding_amount: 300_000, dpd: 3 };
    send(event("C-RINI", true, LendingRecord::Loan(loan.clone()))).await;
    // Ten weekly bills of Rp 100.000: nine paid on the day, the last due three days ago.
    for w in 0..10u32 {
        let due = as_of() - chrono::Duration::days(3 + 7 * i64::from(9 - w));
        let paid = w < 9;
        let bill = Bill { bill_id: format!("B-RINI-{w}"), loan_id: "L-RINI".into(), bill_scheduled_date: due, bill_paid_date: paid.then_some(due), amount: 100_000, paid_amount: if paid { 100_000 } else { 0 } };
        send(event("C-RINI", w < 9, LendingRecord::Bill(bill))).await;
    }
    wait_for(&session, "SELECT count(*) FROM tiers WHERE customer_number = 'C-RINI' AND tier = 'SILVER' AND seq = 1", 1, long).await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM tiers WHERE customer_number = 'C-RINI' AND reasons = 'dpd_3_within_7,repayment_at_least_90'").await, 1, "exactly 90% with DPD 3 is Silver");

    // She pays the late bill: DPD 0, 100% repaid — Gold, and her officer hears it once.
    let payment = BillPayment { bill_id: "B-RINI-9".into(), loan_id: "L-RINI".into(), paid_date: as_of(), paid_amount: 100_000 };
    send(event("C-RINI", false, LendingRecord::Payment(payment.clone()))).await;
    send(event("C-RINI", false, LendingRecord::Payment(payment))).await; // delivered twice
    wait_for(&session, "SELECT count(*) FROM tiers WHERE customer_number = 'C-RINI' AND tier = 'GOLD' AND seq = 2 AND previous_tier = 'SILVER'", 1, long).await;
    let officer_chat = "6281111112222@c.us";
    let told = waha.wait_texts(officer_chat, 1).await;
    assert_eq!(told, ["Halo, kabar baik! Mitra Ibu Rini baru saja naik ke Tier Gold. Beliau potensial untuk top-up plafon. Hubungi segera?"]);

    // A snapshot ten days late: Bronze, a risk alert for the officer.
    send(event("C-RINI", false, LendingRecord::Loan(LoanSnapshot { dpd: 10, outstanding_amount: 100_000, ..loan.clone() }))).await;
    let told = waha.wait_texts(officer_chat, 2).await;
    assert_eq!(told[1], "Perhatian: Mitra Ibu Rini turun ke Tier Bronze (telat 10 hari). Mohon segera dikunjungi.");
    wait_for(&session, "SELECT count(*) FROM tiers WHERE customer_number = 'C-RINI'", 3, long).await;
    // Nothing more reaches the officer: one message per change.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(waha.texts_to(officer_chat).len(), 2, "{:?}", waha.texts_to(officer_chat));
    assert_eq!(scalar(&session, "SELECT count(*) FROM tiers WHERE customer_number = 'C-RINI'").await, 3);


    // Over HTTP: her history for her officer and analysts only.
    let admin = first_admin(&api).await;
    let (_, analyst) = person(&api, &admin, "analis@example.id", "analyst").await;
    let (_, stranger) = person(&api, &admin, "petugas-lain@example.id", "officer").await;
    let officer_token = api.login("petugas@example.id").await["access_token"].as_str().unwrap().to_owned();
    let rini_token = api.login("rini@example.id").await["access_token"].as_str().unwrap().to_owned();
    let (status, body) = api.get("/api/v1/tiers/C-RINI", &officer_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tiers: Vec<&str> = body["history"].as_array().unwrap().iter().map(|r| r["tier"].as_str().unwrap()).collect();
    assert_eq!(tiers, ["SILVER", "GOLD", "BRONZE"]);
    assert_eq!(body["current"]["tier"], "BRONZE");
    assert_eq!(body["current"]["current_dpd"], 10);
    assert_eq!(api.get("/api/v1/tiers/C-RINI", &analyst).await.0, StatusCode::OK);
    for token in [&stranger, &rini_token, &admin] {
        assert_eq!(api.get("/api/v1/tiers/C-RINI", token).await.0, StatusCode::NOT_FOUND);
    }
    assert_eq!(api.get("/api/v1/tiers/C-NOBODY", &analyst).await.0, StatusCode::NOT_FOUND);
    let someone = behaviours[0].0.clone();
    let (status, body) = api.get(&format!("/api/v1/tiers/{someone}"), &analyst).await;
    assert_eq!((status, body["current"]["tier"].as_str()), (StatusCode::OK, Some(rule_tier(&behaviours[0].1).tier.as_str())));

    // The scoring endpoint: the brief's body, the rule's edges, bad bodies.
    let predict = |body: Value| api.send(reqwest::Method::POST, "/api/v1/tier/predict", &analyst, body);
    let score = |paid: i64, bill: i64, dpd: i64| json!({"total_paid": paid, "total_bill": bill, "current_dpd": dpd, "on_time_count": 10, "total_bills_count": 10});
    let (status, body) = predict(score(5_000_000, 5_000_000, 0)).await;
    assert_eq!((status, body["tier"].as_str(), body["rule_tier"].as_str()), (StatusCode::OK, Some("GOLD"), Some("GOLD")), "{body}");
    assert!(body["segment"].is_null(), "no segment model yet: {body}");
    for (paid, dpd, tier) in [(980_000, 0, "GOLD"), (979_999, 0, "SILVER"), (900_000, 7, "SILVER"), (1_000_000, 8, "BRONZE"), (899_999, 0, "BRONZE")] {
        assert_eq!(predict(score(paid, 1_000_000, dpd)).await.1["rule_tier"], tier, "paid {paid}, DPD {dpd}");
    }
    let none_due = predict(json!({"total_paid": 0, "total_bill": 0, "current_dpd": 0, "on_time_count": 0, "total_bills_count": 0})).await.1;
    assert_eq!((none_due["rule_tier"].as_str(), none_due["reasons"][0].as_str()), (Some("BRONZE"), Some("no_due_bills")));
    for bad in [
        json!({"total_paid": 1, "total_bill": 1, "current_dpd": 0, "on_time_count": 1}),
        json!({"total_paid": "1jt", "total_bill": 1, "current_dpd": 0, "on_time_count": 1, "total_bills_count": 1}),
        json!({"total_paid": 1, "total_bill": 1, "current_dpd": 0, "on_time_count": 1, "total_bills_count": 1, "income": 5}),
        json!({"total_paid": 1, "total_bill": 1, "current_dpd": -1, "on_time_count": 1, "total_bills_count": 1}),
        json!({"total_paid": 1, "total_bill": 1, "current_dpd": 0, "on_time_count": 2, "total_bills_count": 1}),
        json!([1, 2, 3]),
    ] {
        let (status, body) = predict(bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {body}");
    }
    let not_json = api.client.post(api.url("/api/v1/tier/predict")).bearer_auth(&analyst).body("total_paid=1").send().await.unwrap();
    assert_eq!(not_json.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = api.client.post(api.url("/api/v1/tier/predict")).json(&score(1, 1, 0)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Segments: trained on the book, shown by the endpoint and stored with new decisions.
    let (version, segments) = arus::lending::segments(config).await.unwrap();
    assert!(segments.agreement > 0.5, "{segments:?}");
    let started = Instant::now();
    let body = loop {
        let (_, body) = predict(score(5_000_000, 5_000_000, 0)).await;
        if !body["segment"].is_null() || started.elapsed() > Duration::from_secs(10) {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((body["tier"].as_str(), body["model_version"].as_i64()), (Some("GOLD"), Some(version)), "{body}");
    tokio::time::sleep(Duration::from_secs(1)).await; // the tiering job polls the models table every 200 ms
    send(event("C-RINI", false, LendingRecord::Loan(LoanSnapshot { dpd: 0, outstanding_amount: 100_000, ..loan }))).await;
    wait_for(&session, "SELECT count(*) FROM tiers WHERE customer_number = 'C-RINI' AND seq = 4 AND tier = 'GOLD' AND segment IS NOT NULL AND segment_tier IS NOT NULL", 1, long).await;

    // What the WhatsApp router tells her when she asks `status`.
    let facts = arus_stream_jobs::whatsapp::facts::Facts::open(&lake).await.unwrap();
    assert_eq!(facts.tier("C-RINI").await.unwrap(), Some("Gold"));
    assert_eq!(facts.tier("C-NOBODY").await.unwrap(), None);

    kill(notifier).await;
    tiering.stop().await;
    api.stop().await;
}
