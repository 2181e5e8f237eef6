//! The financial advisor with the broker: budgets and goals over HTTP and
//! their tables, overspending alerts once per threshold and month across a
//! restart and a replay, anomalies flagged in the stream.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arus_lakehouse::Kafka;
use arus_schemas::{tables, topics, Config};
use chrono::{Duration as Days, Utc};
use warp::Filter;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{scalar, start_job, strings, wait_committed};
use crate::serving::{book, first_admin, person, Api};


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_and_goals_alert_once_per_threshold_across_restart_and_replay_with_broker() {
    let api = Api::start_with("advisor-budgets", &["enrich", "plan-budgets", "plan-goals", "audit", "dlq"], |_| {}).await;
    let config = api.env.config.clone();
    let mut overspending = start_job(&config, "overspending");
    let admin = first_admin(&api).await;
    let (sari_id, sari) = person(&api, &admin, "sari@example.id", "user").await;

    // Bad budgets and goals are refused with the field and the reason.
    for (body, code) in [
        (json!({"category": "Makanan", "amount": 0}), "not_positive"),
        (json!({"category": "Gaji", "amount": 1_000_000}), "income_category"),
        (json!({"category": "bakso", "amount": 1_000_000}), "unknown_category"),
        (json!({"category": "Makanan", "amount": 1_000_000, "from_month": "2026-13"}), "invalid_month"),
    ] {
        let (status, b) = api.send(Method::POST, "/api/v1/budgets", &sari, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["error"]["fields"][0]["code"], code, "{b}");
    }
    let today = Utc::now().with_timezone(&arus_schemas::events::jakarta()).date_naive();
    let (status, b) = api.send(Method::POST, "/api/v1/goals", &sari, json!({"name": "Dana Darurat", "target": 5_000_000, "deadline": (today - Days::days(1)).to_string()})).await;
    assert_eq!((status, b["error"]["fields"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("before_start")), "{b}");

    let (status, b) = api.send(Method::POST, "/api/v1/budgets", &sari, json!({"category": "Makanan", "amount": 1_000_000})).await;
    assert_eq!((status, b["id"].as_str()), (StatusCode::ACCEPTED, Some("food_drink")), "{b}");
    let deadline = today + Days::days(90);
    let (status, b) = api.send(Method::POST, "/api/v1/goals", &sari, json!({"name": "Dana Darurat", "target": 5_000_000, "deadline": deadline.to_string()})).await;
    assert_eq!((status, b["id"].as_str()), (StatusCode::ACCEPTED, Some("dana-darurat")), "{b}");
    let budgets = api.eventually("/api/v1/budgets", &sari, |b| b.as_array().is_some_and(|a| a.len() == 1)).await;
    assert_eq!((budgets[0]["limit"].as_i64(), budgets[0]["spent"].as_i64(), budgets[0]["state"].as_str()), (Some(1_000_000), Some(0), Some("ok")), "{budgets}");

    // Half the budget, then 85%: one 80% alert.
    book(&api, &sari, 2_000_000, "Gaji bulan ini", "salary", 0).await;
    let half = book(&api, &sari, -500_000, "Belanja makan", "food_drink", 0).await;
    api.eventually("/api/v1/budgets", &sari, |b| b[0]["spent"].as_i64() == Some(500_000)).await;
    let goals = api.eventually("/api/v1/goals", &sari, |g| g[0]["saved"].as_i64() == Some(1_500_000)).await;
    assert_eq!((goals[0]["goal_id"].as_str(), goals[0]["percent"].as_i64()), (Some("dana-darurat"), Some(30)), "{goals}");
    let session = api.env.session().await;
    // 2 plans, 2 transactions: nothing crossed yet.
    wait_committed(&config, "overspending", &tables::BUDGET_ALERTS, &[topics::PLAN, topics::TXN], 4).await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM budget_alerts").await, 0);
    book(&api, &sari, -350_000, "Makan keluarga", "food_drink", 0).await;
    wait_committed(&config, "overspending", &tables::BUDGET_ALERTS, &[topics::PLAN, topics::TXN], 5).await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM budget_alerts WHERE threshold = 80").await, 1);

    // A restart: the state comes back from the topics, nothing is raised again.
    overspending.stop().await;
    overspending = start_job(&config, "overspending");
    book(&api, &sari, -10_000, "Kerupuk", "food_drink", 0).await;
    wait_committed(&config, "overspending", &tables::BUDGET_ALERTS, &[topics::PLAN, topics::TXN], 6).await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM budget_alerts").await, 1, "no second 80% alert after the restart");
    let over = book(&api, &sari, -200_000, "Katering arisan", "food_drink", 0).await;
    wait_committed(&config, "overspending", &tables::BUDGET_ALERTS, &[topics::PLAN, topics::TXN], 7).await;
    let rows = strings(&session.sql("SELECT concat_ws('|', alert_id, CAST(threshold AS VARCHAR), CAST(spent AS VARCHAR), CAST(\"limit\" AS VARCHAR)) FROM budget_alerts ORDER BY threshold").await.unwrap(), 0);
    let month = today.format("%Y-%m");
    assert_eq!(
        rows,
        [format!("budget:{sari_id}:food_drink:{month}:80|80|850000|1000000"), format!("budget:{sari_id}:food_drink:{month}:100|100|1060000|1000000")]
    );

    // A replay: every transaction delivered again (as after a crash of
    // enrich), and the over-budget one moved out of the category and back.
    let kafka = Kafka::new(&config).unwrap();
    let producer = kafka.producer().unwrap();
    let batches = session.sql(&format!("SELECT * FROM transactions WHERE user_id = '{sari_id}'")).await.unwrap();
    let mut again = 0;
    for batch in &batches {
        let txns: Vec<arus_schemas::Transaction> = serde_arrow::from_record_batch(batch).unwrap();
        for t in txns {
            producer.send_json(&config.topic(topics::TXN), &t.user_id, &t).await.unwrap();
            again += 1;
        }
    }
    assert_eq!(again, 5);
    for category in ["transport", "food_drink"] {
        let (status, b) = api.send(Method::PATCH, &format!("/api/v1/transactions/{over}"), &sari, json!({"category": category})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    }
    wait_committed(&config, "overspending", &tables::BUDGET_ALERTS, &[topics::PLAN, topics::TXN, topics::TXN_FEEDBACK], 7 + 5 + 2).await;
    overspending.stop().await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM budget_alerts").await, 2, "once per threshold and month");

    // The alerts went out once each, with the pace and the figures.
    let alerts = read_alerts(&config).await;
    let budget_alerts: Vec<&Value> = alerts.iter().filter(|a| a["kind"] == "overspending").collect();
    assert_eq!(budget_alerts.len(), 2, "{budget_alerts:?}");
    assert!(budget_alerts[0]["message"].as_str().unwrap().contains("85% terpakai (Rp 850.000 dari Rp 1.000.000)"), "{}", budget_alerts[0]);
    assert_eq!(budget_alerts[1]["severity"], "critical");
    let budgets = api.eventually("/api/v1/budgets", &sari, |b| b[0]["spent"].as_i64() == Some(1_060_000)).await;
    assert_eq!((budgets[0]["percent"].as_i64(), budgets[0]["state"].as_str()), (Some(106), Some("over")));
    let _ = half;

    // Removing: 404 for what is not there, 202 and gone for what is.
    let (status, _) = api.send(Method::DELETE, "/api/v1/budgets/transport", &sari, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.send(Method::DELETE, "/api/v1/goals/dana-darurat", &sari, Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    api.eventually("/api/v1/goals", &sari, |g| g.as_array().is_some_and(Vec::is_empty)).await;
}

/// Every alert on `arus.alert.v1` so far, in order per partition.
pub(crate) async fn read_alerts(config: &Config) -> Vec<Value> {
    use arus_lakehouse::kafka::Message;
    let kafka = Kafka::new(config).unwrap();
    let topic = config.topic(topics::ALERT);
    let consumer = kafka.consumer(&config.group("test-alerts"), &[&topic], arus_schemas::config::ConsumerMode::Assign).unwrap();
    consumer.seek_to(&(0..config.kafka_partitions).map(|p| ((topic.clone(), p), None)).collect()).await.unwrap();
    let mut out = Vec::new();
    while let Ok(Ok(msg)) = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await {
        out.push(serde_json::from_slice(msg.payload().unwrap()).unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_anomaly_is_flagged_and_ordinary_spending_is_not_with_broker() {
    let api = Api::start_with("advisor-anomalies", &["enrich", "anomalies"], |_| {}).await;
    let config = api.env.config.clone();
    let admin = first_admin(&api).await;
    let (_, budi) = person(&api, &admin, "budi@example.id", "user").await;
    // Twelve ordinary days of groceries, Rp 40.000–62.000, then one of Rp 600.000.
    let mut ordinary = Vec::new();
    for d in 0..12 {
        ordinary.push(book(&api, &budi, -(40_000 + d * 2_000), "Belanja sayur", "groceries", 13 - d).await);
    }
    let planted = book(&api, &budi, -600_000, "Belanja besar", "groceries", 0).await;
    wait_committed(&config, "anomalies", &tables::ANOMALIES, &[topics::TXN], 13).await;
    let session = api.env.session().await;
    let rows = strings(&session.sql("SELECT concat_ws('|', kind, COALESCE(transaction_id, '-'), CAST(amount AS VARCHAR), CAST(baseline AS VARCHAR), CAST(history AS VARCHAR)) FROM anomalies").await.unwrap(), 0);
    assert_eq!(rows, [format!("transaction|{planted}|600000|51000|12")], "only the planted one, against the median of 12");
    assert!(ordinary.iter().all(|id| !rows.iter().any(|r| r.contains(id.as_str()))));
    let reason: Vec<String> = strings(&session.sql("SELECT reason FROM anomalies").await.unwrap(), 0);
    assert!(reason[0].contains("spreads above the usual 51000"), "{reason:?}");
    let alerts = read_alerts(&config).await;
    assert_eq!(alerts.iter().filter(|a| a["kind"] == "anomaly").count(), 1, "{alerts:?}");
    assert!(alerts[0]["message"].as_str().unwrap().starts_with("Belanja besar sebesar Rp 600.000 di kategori Belanja Harian"), "{}", alerts[0]);
}

/// A stand-in for Ollama's chat (`POST /api/chat`, github.com/ollama/ollama
/// docs/api.md, `stream: false`): checks the request's shape, then answers
/// per finding: the income/expense one with a rewording of the template
/// (its numbers only), the savings rate with a number of its own, the
/// first top category not before the client's timeout, the rest with the
/// template as it came.
struct FakeLlm {
    url: String,
    asked: Arc<AtomicUsize>,
    bad_shape: Arc<AtomicUsize>,
}

async fn fake_llm() -> FakeLlm {
    let (asked, bad_shape, stalled) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let (a, b, s) = (Arc::clone(&asked), Arc::clone(&bad_shape), Arc::clone(&stalled));
    let chat = warp::path!("api" / "chat").and(warp::post()).and(warp::body::json()).then(move |body: Value| {
        let (a, b, s) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&s));
        async move {
            a.fetch_add(1, Ordering::SeqCst);
            let user: Value = body["messages"][1]["content"].as_str().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(Value::Null);
            let shaped = body["model"] == "llama3.1" && body["stream"] == false && body["messages"][0]["role"] == "system" && body["messages"][1]["role"] == "user" && user["facts"].is_object();
            if !shaped {
                b.fetch_add(1, Ordering::SeqCst);
                return warp::reply::with_status(warp::reply::json(&json!({"error": "bad request"})), warp::http::StatusCode::BAD_REQUEST);
            }
            let template = user["template"].as_str().unwrap_or_default();
            let content = match user["finding"].as_str() {
                Some("income_expense") => format!("Halo Bu! {template} Semoga usahanya makin lancar."),
                Some("savings_rate") => "Tabungan Anda naik 99% — luar biasa!".to_owned(),
                Some("top_category") if !s.swap(true, Ordering::SeqCst) => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    template.to_owned()
                }
                _ => template.to_owned(),
            };
            warp::reply::with_status(
                warp::reply::json(&json!({
                    "model": "llama3.1", "created_at": "2026-11-22T05:00:00Z",
                    "message": {"role": "assistant", "content": content},
                    "done_reason": "stop", "done": true, "total_duration": 900_000_000u64, "eval_count": 35,
                })),
                warp::http::StatusCode::OK,
            )
        }
    });
    // An OpenAI-compatible endpoint (`POST /v1/chat/completions`, bearer key).
    let completions = warp::path!("v1" / "chat" / "completions")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::json())
        .map(|auth: Option<String>, body: Value| {
            if auth.as_deref() != Some("Bearer sk-test") {
                return warp::reply::with_status(warp::reply::json(&json!({"error": {"message": "Incorrect API key provided"}})), warp::http::StatusCode::UNAUTHORIZED);
            }
            let user: Value = body["messages"][1]["content"].as_str().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(Value::Null);
            let content = match user["finding"].as_str() {
                Some("savings_rate") => "Anda menabung Rp 2.000.000 bulan ini.".to_owned(),
                _ => format!("Kabar baik: {}", user["template"].as_str().unwrap_or_default()),
            };
            warp::reply::with_status(
                warp::reply::json(&json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 1_763_790_000, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                })),
                warp::http::StatusCode::OK,
            )
        });
    let addr = crate::receipts::serve(chat.or(completions)).await;
    FakeLlm { url: format!("http://{addr}"), asked, bad_shape }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_narrator_speaks_the_openai_compatible_api_too() {
    use arus_stream_jobs::advice::narrator::{Narrator, Refused};
    let llm = fake_llm().await;
    let mut config = Config::default();
    (config.llm, config.llm_url, config.llm_model) = ("openai".into(), format!("{}/v1", llm.url), "gpt-4o-mini".into());
    config.llm_api_key = arus_schemas::config::Secret::new("sk-test");
    let narrator = Narrator::from_config(&config).unwrap().unwrap();
    let facts = json!({"income": 4_000_000, "saved": 500_000, "savings_rate_pct": 13}).as_object().unwrap().clone();
    let said = narrator.narrate("income_expense", "info", &facts, "Tingkat tabungan 13% (Rp 500.000).", arus_schemas::Lang::Id).await.unwrap();
    assert_eq!(said, "Kabar baik: Tingkat tabungan 13% (Rp 500.000).");
    assert_eq!(narrator.narrate("savings_rate", "info", &facts, "…", arus_schemas::Lang::Id).await, Err(Refused::Invented(vec![2_000_000.0])));
    config.llm_api_key = arus_schemas::config::Secret::new("wrong");
    let refused = Narrator::from_config(&config).unwrap().unwrap().narrate("income_expense", "info", &facts, "x", arus_schemas::Lang::Id).await;
    assert!(matches!(refused, Err(Refused::Failed(ref why)) if why.contains("401")), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advisor_forecasts_alerts_and_words_insights_through_a_checked_llm_with_broker() {
    let llm = fake_llm().await;
    let url = llm.url.clone();
    let api = Api::start_with("advisor-run", &["enrich", "plan-goals"], move |c| {
        (c.llm, c.llm_url, c.llm_model, c.llm_timeout_ms) = ("ollama".into(), url, "llama3.1".into(), 1_500);
    })
    .await;
    let config = api.env.config.clone();
    let admin = first_admin(&api).await;
    let (rina_id, rina) = person(&api, &admin, "rina@example.id", "user").await;
    // 75 days: Rp 4.000.000 at the start, then sales of Rp 100.000 a day
    // and food of Rp 130.000–160.000: the balance runs down.
    book(&api, &rina, 4_000_000, "Modal awal", "other_income", 75).await;
    let mut count = 1;
    for d in (1..=74).rev() {
        book(&api, &rina, 100_000, "Jual gorengan", "sales", d).await;
        book(&api, &rina, -(130_000 + (d % 4) * 10_000), "Belanja makan", "food_drink", d).await;
        count += 2;
    }
    let today = Utc::now().with_timezone(&arus_schemas::events::jakarta()).date_naive();
    let (status, b) = api.send(Method::POST, "/api/v1/goals", &rina, json!({"name": "Gerobak baru", "target": 3_000_000, "deadline": (today + Days::days(40)).to_string(), "start": (today - Days::days(20)).to_string()})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    let session = api.env.session().await;
    crate::common::wait_for(&session, &format!("SELECT count(*) FROM transactions WHERE user_id = '{rina_id}'"), count, Duration::from_secs(60)).await;
    crate::common::wait_for(&session, "SELECT count(*) FROM goals", 1, Duration::from_secs(30)).await;

    let now = Utc::now();
    let report = arus_stream_jobs::advice::advisor::run_once(&config, now, arus_stream_jobs::advice::advisor::Periods { weekly: true, monthly: true }).await.unwrap();
    assert_eq!((report.people, report.forecast_people), (1, 1), "{report:?}");

    // Forecasts: 30 days of net cash flow and balance, food to the month's end; intervals around the points.
    let kinds = strings(&session.sql("SELECT concat_ws('|', kind, CAST(count(*) AS VARCHAR)) FROM forecasts GROUP BY kind ORDER BY kind").await.unwrap(), 0);
    // Food is the one spending category: one month-end row.
    assert_eq!(kinds, ["balance|30", "daily_net|30", "month_end_spend|1"]);
    let food = scalar(&session, "SELECT point FROM forecasts WHERE kind = 'month_end_spend' AND category_id = 'food_drink'").await;
    let spent = scalar(&session, &format!("SELECT -sum(amount) FROM transactions WHERE category_id = 'food_drink' AND month = '{}' AND occurred_at < now() - INTERVAL '1' DAY", today.format("%Y-%m"))).await;
    assert!(food > spent, "month-end food {food} is more than spent so far {spent}");
    assert_eq!(scalar(&session, "SELECT count(*) FROM forecasts WHERE lower > point OR upper < point").await, 0);
    let net = scalar(&session, "SELECT CAST(avg(point) AS BIGINT) FROM forecasts WHERE kind = 'daily_net'").await;
    assert!((-60_000..=-30_000).contains(&net), "the forecast keeps the daily loss of about Rp 45.000: {net}");

    // Alerts: the balance goes below zero within 30 days, the goal will not be reached.
    let alerts = read_alerts(&config).await;
    let ids: Vec<&str> = alerts.iter().filter(|a| a["kind"] == "forecast_shortfall").map(|a| a["id"].as_str().unwrap()).collect();
    let month = today.format("%Y-%m");
    assert_eq!(ids, [format!("shortfall:balance:{rina_id}:{month}"), format!("shortfall:goal:{rina_id}:gerobak-baru:{month}")]);

    // Insights: the LLM's wording kept only when its numbers are the facts'.
    let (status, found) = api.send(Method::GET, "/api/v1/insights?cadence=monthly", &rina, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let rules: Vec<&str> = found.as_array().unwrap().iter().map(|i| i["rule"].as_str().unwrap()).collect();
    for rule in ["income_expense", "savings_rate", "top_category", "goal_progress", "forecast"] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    let rows = strings(&session.sql("SELECT concat_ws('|', cadence, rule, COALESCE(narration, '-')) FROM insights WHERE rule IN ('income_expense', 'savings_rate') ORDER BY cadence, rule").await.unwrap(), 0);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows[0].starts_with("monthly|income_expense|Halo Bu! Pada bulan"), "{rows:?}");
    assert_eq!(rows[1], "monthly|savings_rate|-", "an invented 99% is not used");
    assert!(rows[2].starts_with("weekly|income_expense|Halo Bu! Pada minggu lalu"), "{rows:?}");
    assert_eq!(scalar(&session, "SELECT count(*) FROM insights WHERE rule = 'top_category' AND narration IS NULL").await, 1, "the stalled answer: template");
    assert_eq!(scalar(&session, "SELECT count(*) FROM insights WHERE narration IS NOT NULL AND narrator <> 'llama3.1@ollama'").await, 0);
    assert_eq!(llm.bad_shape.load(Ordering::SeqCst), 0);
    assert_eq!(llm.asked.load(Ordering::SeqCst) as i64, scalar(&session, "SELECT count(*) FROM insights").await);
    let in_id: Value = reqwest::Client::new().get(api.url("/api/v1/insights?cadence=monthly")).bearer_auth(&rina).header("accept-language", "id").send().await.unwrap().json().await.unwrap();
    let first = in_id.as_array().unwrap().iter().find(|i| i["rule"] == "income_expense").unwrap();
    assert_eq!((first["narrated"].as_bool(), first["text"].as_str().map(|t| t.starts_with("Halo Bu!"))), (Some(true), Some(true)), "{first}");
    let en = found.as_array().unwrap().iter().find(|i| i["rule"] == "income_expense").unwrap();
    assert_eq!((en["narrated"].as_bool(), en["text"] == en["text_en"]), (Some(false), true));

    // The same run again: no second insight; the forecasts API shows the newest run.
    let before = scalar(&session, "SELECT count(*) FROM insights").await;
    arus_stream_jobs::advice::advisor::run_once(&config, Utc::now(), arus_stream_jobs::advice::advisor::Periods { weekly: true, monthly: true }).await.unwrap();
    assert_eq!(scalar(&session, "SELECT count(*) FROM insights").await, before);
    let (status, latest) = api.send(Method::GET, "/api/v1/forecasts", &rina, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let runs: std::collections::HashSet<&str> = latest.as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    assert_eq!((runs.len(), latest.as_array().unwrap().len() as i64), (1, 61));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_and_goals_are_set_on_whatsapp_and_the_alert_comes_back_there_with_broker() {
    use crate::whatsapp::{fake_waha, say, text_event, tweak, RINI};
    let waha = fake_waha().await;
    let jobs = ["enrich", "dlq", "audit", "wa-router", "notifier", "plan-budgets", "plan-goals", "overspending"];
    let api = Api::start_with("advisor-wa", &jobs, tweak(&waha)).await;
    let admin = first_admin(&api).await;
    let (rini_id, rini) = person(&api, &admin, "rini@example.id", "user").await;
    let (status, _) = api.send(Method::POST, "/api/v1/whatsapp/links", &admin, json!({"phone": RINI, "user_id": rini_id})).await;
    assert_eq!(status, StatusCode::CREATED);
    let chat = format!("{RINI}@c.us");

    say(&api, &text_event("P1", RINI, "budget makan 100rb")).await;
    let replies = waha.wait_texts(&chat, 1).await;
    assert!(replies[0].contains("Budget Makanan & Minuman Rp 100.000/bulan tersimpan") && replies[0].contains("80% dan 100%"), "{replies:?}");
    let budgets = api.eventually("/api/v1/budgets", &rini, |b| b.as_array().is_some_and(|a| a.len() == 1)).await;
    assert_eq!((budgets[0]["category_id"].as_str(), budgets[0]["amount"].as_i64()), (Some("food_drink"), Some(100_000)));

    say(&api, &text_event("P2", RINI, "target dana darurat 5jt Desember")).await;
    say(&api, &text_event("P3", RINI, "target umroh 30jt")).await;
    let replies = waha.wait_texts(&chat, 3).await;
    assert!(replies[1].contains("Target Dana darurat Rp 5.000.000 sampai 31 Desember"), "{replies:?}");
    assert!(replies[2].contains("sampai kapan"), "no month: asked, not guessed: {replies:?}");
    let goals = api.eventually("/api/v1/goals", &rini, |g| g.as_array().is_some_and(|a| a.len() == 1)).await;
    assert_eq!((goals[0]["goal_id"].as_str(), goals[0]["target"].as_i64()), (Some("dana-darurat"), Some(5_000_000)));

    say(&api, &text_event("P4", RINI, "budget")).await;
    let replies = waha.wait_texts(&chat, 4).await;
    assert!(replies[3].contains("Makanan & Minuman: Rp 0 / Rp 100.000 (0%)"), "{replies:?}");

    // Spending in the category (moved there by a correction if the
    // classifier put it elsewhere) crosses 80%: the alert reaches the chat.
    say(&api, &text_event("P5", RINI, "beli nasi padang 90rb")).await;
    waha.wait_texts(&chat, 5).await;
    say(&api, &text_event("P6", RINI, "ubah kategori terakhir jadi makanan")).await;
    let session = api.env.session().await;
    crate::common::wait_for(&session, "SELECT count(*) FROM budget_alerts WHERE threshold = 80", 1, Duration::from_secs(30)).await;
    let replies = waha.wait_texts(&chat, 7).await;
    let alert: Vec<&String> = replies.iter().filter(|r| r.contains("Budget Makanan & Minuman hampir habis")).collect();
    assert_eq!(alert.len(), 1, "{replies:?}");
    assert!(alert[0].contains("90% terpakai (Rp 90.000 dari Rp 100.000)"), "{alert:?}");
    say(&api, &text_event("P7", RINI, "target")).await;
    let replies = waha.wait_texts(&chat, 8).await;
    assert!(replies[7].contains("Dana darurat: Rp 0 / Rp 5.000.000 (0%)"), "{replies:?}");
}
