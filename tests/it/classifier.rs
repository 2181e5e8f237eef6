//! The classifier in the stream, end to end over HTTP: a transaction comes
//! back categorised with a confidence; a person's correction through the
//! API marks it `user_confirmed`; after two consistent corrections their
//! next transaction with that merchant follows them (and nobody else's
//! does); `arus ml train` stores a new version that the running job picks
//! up without a restart.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::serving::Api;

async fn token(api: &Api, email: &str) -> String {
    api.register(email).await;
    api.login(email).await["access_token"].as_str().unwrap().to_owned()
}

/// Posts a transaction and waits until enrich has written it.
async fn categorised(api: &Api, token: &str, description: &str, amount: i64) -> Value {
    let (status, body) = api.send(Method::POST, "/api/v1/transactions", token, json!({"amount": amount, "description": description})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    api.eventually(&format!("/api/v1/transactions/{id}"), token, |t| t["id"].is_string()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_teach_one_person_and_a_new_model_is_picked_up_with_broker() {
    let api = Api::start("classifier", |c| c.model_poll_ms = 300).await;
    let rini = token(&api, "rini@example.id").await;
    let budi = token(&api, "budi@example.id").await;

    // The starting model knows the merchant; confidence decides the status.
    let first = categorised(&api, &rini, "QRIS MIE GACOAN 0812", -45_000).await;
    assert_eq!(first["category_id"], "food_drink", "{first}");
    assert_eq!(first["category_source"], "model");
    assert_eq!(first["model_version"], 0);
    let confidence = first["category_confidence"].as_f64().unwrap();
    assert!(confidence > 0.0 && confidence <= 1.0);
    let expected_status = if confidence >= api.env.config.category_review_threshold { "ai_predicted" } else { "needs_review" };
    assert_eq!(first["status"], expected_status);

    // Rini buys noodles wholesale from this merchant for her warung: she
    // says so, by name in her language.
    let id = first["id"].as_str().unwrap();
    let (status, body) = api.send(Method::PATCH, &format!("/api/v1/transactions/{id}"), &rini, json!({"category": "Bahan Baku"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!((body["status"].as_str(), body["category_id"].as_str()), (Some("user_confirmed"), Some("raw_materials")));
    let row = api.eventually(&format!("/api/v1/transactions/{id}"), &rini, |t| t["status"] == "user_confirmed").await;
    assert_eq!((row["category_id"].as_str(), row["category_source"].as_str(), row["category_confidence"].as_f64()), (Some("raw_materials"), Some("user"), Some(1.0)));
    assert!(row["confirmed_at"].is_string());
    assert_eq!(row["amount"], -45_000, "the rest of the row is kept");

    // One correction is not a rule yet.
    let second = categorised(&api, &rini, "KARTU DEBIT MIE GACOAN", -60_000).await;
    assert_eq!((second["category_id"].as_str(), second["category_source"].as_str()), (Some("food_drink"), Some("model")));
    let id2 = second["id"].as_str().unwrap();
    let (status, _) = api.send(Method::PATCH, &format!("/api/v1/transactions/{id2}"), &rini, json!({"category": "raw_materials"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    api.eventually(&format!("/api/v1/transactions/{id2}"), &rini, |t| t["status"] == "user_confirmed").await;

    // Two consistent corrections: Rini's next one follows them, Budi's does not.
    let third = categorised(&api, &rini, "QRIS MIE GACOAN 7731", -52_000).await;
    assert_eq!((third["category_id"].as_str(), third["category_source"].as_str()), (Some("raw_materials"), Some("personal_rule")), "{third}");
    assert_eq!(third["status"], "ai_predicted");
    let budis = categorised(&api, &budi, "QRIS MIE GACOAN 7731", -52_000).await;
    assert_eq!((budis["category_id"].as_str(), budis["category_source"].as_str()), (Some("food_drink"), Some("model")));

    // The API filters by who chose the category and by status.
    let (_, page) = api.get("/api/v1/transactions?category_source=personal_rule", &rini).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = api.get("/api/v1/transactions?status=user_confirmed&category=raw_materials", &rini).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, page) = api.get("/api/v1/transactions?min_confidence=1", &rini).await;
    let sure = page["items"].as_array().unwrap();
    // The two she confirmed and the one her rule chose, at least.
    assert!(sure.len() >= 3 && sure.iter().all(|t| t["category_confidence"] == 1.0), "{page}");
    let (status, body) = api.get("/api/v1/transactions?category_source=guess&max_confidence=2", &rini).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"].as_array().unwrap().len(), 2);

    // Refusals: an unknown category, someone else's transaction.
    let (status, body) = api.send(Method::PATCH, &format!("/api/v1/transactions/{id}"), &rini, json!({"category": "Jajan Kucing"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["code"], "unknown_category");
    let (status, _) = api.send(Method::PATCH, &format!("/api/v1/transactions/{id}"), &budi, json!({"category": "groceries"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, categories) = api.get("/api/v1/categories", &budi).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(categories.as_array().unwrap().len(), arus_schemas::categories::DEFAULT.len());

    // Retraining learns from the confirmed rows; the running job switches
    // to the new version within model_poll_ms, no restart.
    let report = arus::ml::train(&api.env.config, false, true).await.unwrap();
    assert_eq!((report.record.version, report.record.confirmed_rows), (1, 2));
    let started = std::time::Instant::now();
    loop {
        let t = categorised(&api, &budi, "KARTU DEBIT INDOMARET", -75_000).await;
        if t["model_version"] == 1 {
            assert_eq!(t["category_id"], "groceries");
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "the job never switched to version 1: {t}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    api.stop().await;
}
