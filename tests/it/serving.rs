//! The API over real sockets with the broker: people, tokens, the row
//! filter, accounts, the audit trail, throttling, metrics, OpenAPI and bad
//! input. The server and the jobs run in this process on a namespace of
//! their own.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::common::{scalar, TestEnv};

const SECRET: &str = "test-secret-of-at-least-thirty-two-bytes!";

pub(crate) struct Api {
    pub(crate) env: TestEnv,
    pub(crate) base: String,
    pub(crate) client: Client,
    pub(crate) shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Api {
    pub(crate) async fn start(name: &str, tweak: impl FnOnce(&mut arus_schemas::Config)) -> Api {
        Api::start_with(name, &["enrich", "accounts", "audit", "dlq", "imports"], tweak).await
    }

    /// The server with the jobs named in `jobs`.
    pub(crate) async fn start_with(name: &str, jobs: &[&'static str], tweak: impl FnOnce(&mut arus_schemas::Config)) -> Api {
        Api::start_in(TestEnv::new(name).await, jobs, tweak).await
    }

    /// The server with the jobs named in `jobs`, in `env`.
    pub(crate) async fn start_in(mut env: TestEnv, jobs: &[&'static str], tweak: impl FnOnce(&mut arus_schemas::Config)) -> Api {
        env.config.http_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        env.config.jwt_secret = arus_schemas::config::Secret::new(SECRET);
        env.config.auth_reload_ms = 200;
        tweak(&mut env.config);
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        for &job in jobs {
            let (config, token) = (env.config.clone(), shutdown.clone());
            tasks.push(tokio::spawn(async move {
                arus_stream_jobs::run_named(job, &config, token).await.unwrap();
            }));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (config, token) = (env.config.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            arus_serving::serve(&config, token, Some(tx)).await.unwrap();
        }));
        let addr = tokio::time::timeout(Duration::from_secs(30), rx).await.unwrap().unwrap();
        Api { env, base: format!("http://{addr}"), client: Client::new(), shutdown, tasks }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn register(&self, email: &str) -> Value {
        let r = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"email": email, "password": "kata-sandi-rahasia", "display_name": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub(crate) async fn login(&self, email: &str) -> Value {
        let r = self.client.post(self.url("/api/v1/auth/login")).json(&json!({"login": email, "password": "kata-sandi-rahasia"})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn send(&self, method: reqwest::Method, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let r = self.client.request(method, self.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Polls `path` until `done` holds for its body (the jobs commit every 200 ms).
    pub(crate) async fn eventually(&self, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(path, token).await;
            if status == StatusCode::OK && done(&body) {
                return body;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "{path} never got there: {status} {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap();
        }
    }
}

/// Runs openapi-spec-validator (PyPI, installed into .tools/venv by
/// deploy/test.sh) on `document`. A missing validator fails the test.
fn validate_openapi(document: &str) {
    let validator = std::env::var("ARUS_OPENAPI_VALIDATOR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/openapi-spec-validator").to_owned());
    let file = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(file.path(), document).unwrap();
    let out = std::process::Command::new(&validator)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("{validator}: {e}; install it with deploy/pytools.sh (deploy/test.sh does)"));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains(": OK"), "openapi-spec-validator refused /openapi.json: {said}");
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_log_in_see_only_their_rows_and_sessions_end_with_broker() {
    let api = Api::start("auth", |_| {}).await;
    let rini = api.register("rini@example.id").await;
    let budi = api.register("budi@example.id").await;
    let rini_id = rini["user_id"].as_str().unwrap().to_owned();
    assert_eq!(rini["role"], "user");
    assert!(rini.get("password_hash").is_none());
    // The same e-mail again: 409 naming the field.
    let r = api.client.post(api.url("/api/v1/auth/register")).json(&json!({"email": "RINI@example.id", "password": "another-password", "display_name": "x"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["fields"][0]["field"], "email");

    let session = api.login("rini@example.id").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let budi_token = api.login("budi@example.id").await["access_token"].as_str().unwrap().to_owned();
    let (status, me) = api.get("/api/v1/me", &token).await;
    assert_eq!((status, me["user_id"].as_str()), (StatusCode::OK, Some(rini_id.as_str())));

    // Create → list shows it → by id.
    let mut rini_ids = Vec::new();
    for (i, (amount, text)) in [(300_000, "jual bakso 20 porsi"), (-22_000, "beli gas 3kg"), (-150_000, "bayar listrik PLN")].iter().enumerate() {
        // Three months apart, so a page spans month partitions.
        let occurred = ["2026-08-10T03:00:00Z", "2026-10-11T03:00:00Z", "2026-11-12T03:00:00Z"][i];
        let (status, body) = api
            .send(reqwest::Method::POST, "/api/v1/transactions", &token, json!({"amount": amount, "description": text, "occurred_at": occurred}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        rini_ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (status, body) = api.send(reqwest::Method::POST, "/api/v1/transactions", &budi_token, json!({"amount": -5000, "description": "parkir"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let budi_txn = body["id"].as_str().unwrap().to_owned();
    let page = api.eventually("/api/v1/transactions", &token, |p| p["items"].as_array().is_some_and(|i| i.len() == 3)).await;
    let mut listed = ids(&page);
    listed.sort();
    let mut expected = rini_ids.clone();
    expected.sort();
    assert_eq!(listed, expected, "Rini sees her three rows and nothing of Budi's");
    let (status, one) = api.get(&format!("/api/v1/transactions/{}", rini_ids[0]), &token).await;
    assert_eq!((status, one["amount"].as_i64()), (StatusCode::OK, Some(300_000)));

    // Filters and keyset pagination.
    let (_, page) = api.get("/api/v1/transactions?q=BAKSO", &token).await;
    assert_eq!(ids(&page), [rini_ids[0].clone()]);
    let (_, page) = api.get("/api/v1/transactions?from=2026-10-11&to=2026-11-12", &token).await;
    assert_eq!(ids(&page), [rini_ids[2].clone(), rini_ids[1].clone()]);
    let (_, page) = api.get("/api/v1/transactions?from=2026-10-12&to=2026-11-11", &token).await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let (_, page) = api.get("/api/v1/transactions?source=manual&category_source=model&limit=2", &token).await;
    assert_eq!(ids(&page), [rini_ids[2].clone(), rini_ids[1].clone()], "newest first");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = api.get(&format!("/api/v1/transactions?limit=2&cursor={cursor}"), &token).await;
    assert_eq!(ids(&rest), [rini_ids[0].clone()]);
    assert!(rest["next_cursor"].is_null());
    let (status, body) = api.get("/api/v1/transactions?status=done&from=2026-02-30", &token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"].as_array().unwrap().len(), 2);

    // Budi never sees Rini's rows: by id, by filter, by a forged cursor.
    let (status, body) = api.get(&format!("/api/v1/transactions/{}", rini_ids[0]), &budi_token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.to_string().find("bakso").is_none());
    let (_, page) = api.get(&format!("/api/v1/transactions?user_id={rini_id}"), &budi_token).await;
    assert!(ids(&page).is_empty());
    let forged = b64(json!({"t": 4_102_444_800_000_000i64, "id": "ffffffff"}).to_string().as_bytes());
    let (_, page) = api.get(&format!("/api/v1/transactions?cursor={forged}&limit=500"), &budi_token).await;
    assert_eq!(ids(&page), [budi_txn.clone()], "a cursor cannot widen the scope");
    let (status, _) = api.send(reqwest::Method::POST, "/api/v1/transactions", &budi_token, json!({"user_id": rini_id, "amount": -1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "Budi cannot write into Rini's books");

    // Tokens that must be refused, each with a JSON body.
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, nbf: i64| json!({"sub": rini_id, "role": "admin", "sid": "x", "iss": "arus", "aud": "arus-api", "iat": now, "nbf": nbf, "exp": exp, "jti": "j"});
    let sign = |claims: &Value, key: &[u8]| {
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), claims, &jsonwebtoken::EncodingKey::from_secret(key)).unwrap()
    };
    let parts: Vec<&str> = token.split('.').collect();
    let payload: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut elevated = payload.clone();
    elevated["sub"] = json!(budi["user_id"]);
    let forged_payload = format!("{}.{}.{}", parts[0], b64(elevated.to_string().as_bytes()), parts[2]);
    let alg_none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let bad = [
        ("forged payload", forged_payload),
        ("alg none", alg_none),
        ("wrong key", sign(&payload, b"another-secret-of-at-least-32-bytes!!")),
        ("expired", sign(&json!({"sid": payload["sid"]}).merge(claims(now - 120, now - 600)), SECRET.as_bytes())),
        ("not yet valid", sign(&json!({"sid": payload["sid"]}).merge(claims(now + 3600, now + 600)), SECRET.as_bytes())),
        ("garbage", "abc".to_owned()),
    ];
    for (what, bad_token) in &bad {
        let (status, body) = api.get("/api/v1/transactions", bad_token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} accepted");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    }
    let r = api.client.get(api.url("/api/v1/transactions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    // Refresh rotates; the spent token used again ends the session.
    let first_refresh = session["refresh_token"].as_str().unwrap().to_owned();
    let r = api.client.post(api.url("/api/v1/auth/refresh")).json(&json!({"refresh_token": first_refresh})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rotated: Value = r.json().await.unwrap();
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/api/v1/me", &new_access).await.0, StatusCode::OK);
    let r = api.client.post(api.url("/api/v1/auth/refresh")).json(&json!({"refresh_token": first_refresh})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "reuse is refused");
    let r = api.client.post(api.url("/api/v1/auth/refresh")).json(&json!({"refresh_token": second_refresh})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "and the whole family is revoked");
    assert_eq!(api.get("/api/v1/me", &new_access).await.0, StatusCode::UNAUTHORIZED, "access tokens of the session too");

    // Logout ends a session at once.
    let session = api.login("rini@example.id").await;
    let access = session["access_token"].as_str().unwrap();
    let (status, _) = api.send(reqwest::Method::POST, "/api/v1/auth/logout", access, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/api/v1/me", access).await.0, StatusCode::UNAUTHORIZED);
    let r = api.client.post(api.url("/api/v1/auth/refresh")).json(&json!({"refresh_token": session["refresh_token"]})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The audit trail has the logins, from this address.
    let table = api.env.session().await;
    let started = Instant::now();
    while scalar(&table, "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND outcome = 'success'").await < 3 {
        assert!(started.elapsed() < Duration::from_secs(30), "logins never reached audit_log");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(scalar(&table, "SELECT count(*) FROM audit_log WHERE remote_addr = '127.0.0.1' AND request_id IS NOT NULL").await >= 3);
    api.stop().await;
}

trait Merge {
    fn merge(self, other: Value) -> Value;
}

impl Merge for Value {
    fn merge(mut self, other: Value) -> Value {
        if let (Some(a), Value::Object(b)) = (self.as_object_mut(), other) {
            for (k, v) in b {
                a.entry(k).or_insert(v);
            }
        }
        self
    }
}

/// The first admin, written to the store directly (as `arus user create`
/// does) and logged in once the server has picked them up: their token.
pub(crate) async fn first_admin(api: &Api) -> String {
    {
        let store = arus_serving::auth::store::AuthStore::open(&arus_lakehouse::Lake::new(&api.env.config).unwrap()).await.unwrap();
        let valid = arus_serving::api::auth::validate_registration(Some("admin@example.id"), None, "kata-sandi-rahasia", "Admin").unwrap();
        arus_serving::api::auth::create_user(&store, valid, arus_schemas::Role::Admin, Some("test".into())).await.unwrap();
    }
    // The server picks up people written by another writer within auth_reload_ms.
    let started = Instant::now();
    loop {
        let r = api.client.post(api.url("/api/v1/auth/login")).json(&json!({"login": "admin@example.id", "password": "kata-sandi-rahasia"})).send().await.unwrap();
        if r.status() == StatusCode::OK {
            return r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "admin never visible");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers `email`, makes them `role` (through the admin API) and logs them in.
/// Records a transaction for `token`'s owner `days_ago` days back, with its category; its id.
pub(crate) async fn book(api: &Api, token: &str, amount: i64, what: &str, category: &str, days_ago: i64) -> String {
    let at = (chrono::Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339();
    let (status, body) = api
        .send(reqwest::Method::POST, "/api/v1/transactions", token, json!({"amount": amount, "description": what, "category_id": category, "occurred_at": at}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn person(api: &Api, admin: &str, email: &str, role: &str) -> (String, String) {
    let id = api.register(email).await["user_id"].as_str().unwrap().to_owned();
    if role != "user" {
        let (status, body) = api.send(reqwest::Method::PATCH, &format!("/api/v1/users/{id}"), admin, json!({"role": role})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (id, api.login(email).await["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_accounts_throttling_metrics_and_bad_input_with_broker() {
    let api = Api::start("roles", |c| {
        c.login_slowdown_after = 2;
        c.login_lockout_after = 4;
        c.cors_origins = "https://app.arus.example".into();
        c.http_max_body_bytes = 4096;
    })
    .await;
    let admin = first_admin(&api).await;
    let (officer_id, officer) = person(&api, &admin, "petugas@example.id", "officer").await;
    let (_, analyst) = person(&api, &admin, "analis@example.id", "analyst").await;
    let (rini_id, rini) = person(&api, &admin, "rini@example.id", "user").await;
    let (siti_id, siti) = person(&api, &admin, "siti@example.id", "user").await;
    // Only admins change roles.
    let (status, _) = api.send(reqwest::Method::PATCH, &format!("/api/v1/users/{siti_id}"), &officer, json!({"role": "admin"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Accounts: create, read, change, delete; another tenant sees none of it.
    let (status, created) = api
        .send(reqwest::Method::POST, "/api/v1/accounts", &rini, json!({"name": "BCA usaha", "kind": "bank", "institution": "BCA", "number_last4": "1234", "opening_balance": 2500000}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let account = created["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/accounts/{account}");
    let seen = api.eventually(&path, &rini, |a| a["name"] == "BCA usaha").await;
    assert_eq!((seen["kind"].as_str(), seen["opening_balance"].as_i64()), (Some("bank"), Some(2_500_000)));
    assert_eq!(api.get(&path, &siti).await.0, StatusCode::NOT_FOUND);
    let (status, _) = api.send(reqwest::Method::PATCH, &path, &siti, json!({"name": "mine now"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a change to another tenant's account looks like a missing one");
    let (status, _) = api.send(reqwest::Method::PATCH, &path, &rini, json!({"name": "BCA warung"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    api.eventually(&path, &rini, |a| a["name"] == "BCA warung" && a["revision"] == 2).await;
    let (status, body) = api.send(reqwest::Method::PATCH, &path, &rini, json!({"number_last4": "12"})).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("number_last4")));
    // A transaction may reference Rini's account, not a made-up one.
    let (status, _) = api.send(reqwest::Method::POST, "/api/v1/transactions", &rini, json!({"amount": 50000, "account_id": account})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = api.send(reqwest::Method::POST, "/api/v1/transactions", &siti, json!({"amount": 50000, "account_id": account})).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("account_id")));
    let (status, _) = api.send(reqwest::Method::POST, "/api/v1/transactions", &siti, json!({"amount": -7000, "description": "ongkir"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Officer: sees a partner only once assigned. Analyst: reads all, writes nothing.
    let (status, page) = api.get("/api/v1/transactions", &officer).await;
    assert_eq!((status, ids(&page).len()), (StatusCode::OK, 0));
    let (status, _) = api.send(reqwest::Method::PATCH, &format!("/api/v1/users/{rini_id}"), &admin, json!({"officer_id": officer_id})).await;
    assert_eq!(status, StatusCode::OK);
    let page = api.eventually("/api/v1/transactions", &officer, |p| ids(p).len() == 1).await;
    assert_eq!(page["items"][0]["user_id"], json!(rini_id), "the partner's row, not Siti's");
    assert_eq!(api.get(&path, &officer).await.0, StatusCode::OK);
    let page = api.eventually("/api/v1/transactions", &analyst, |p| ids(p).len() >= 2).await;
    assert_eq!(ids(&page).len(), 2);
    let (status, _) = api.send(reqwest::Method::POST, "/api/v1/transactions", &analyst, json!({"amount": 1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, users) = api.get("/api/v1/users", &officer).await;
    assert_eq!(status, StatusCode::OK);
    let visible: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap()).collect();
    assert!(visible.contains(&rini_id.as_str()) && !visible.contains(&siti_id.as_str()));
    let (status, _) = api.send(reqwest::Method::DELETE, &path, &rini, json!(null)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    api.eventually("/api/v1/accounts", &rini, |a| a.as_array().is_some_and(|a| a.is_empty())).await;

    // Throttling: slowed after 2 failures, refused after 4, for the right account only.
    let wrong = json!({"login": "siti@example.id", "password": "wrong-password"});
    for _ in 0..4 {
        let r = api.client.post(api.url("/api/v1/auth/login")).json(&wrong).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = api.client.post(api.url("/api/v1/auth/login")).json(&json!({"login": "siti@example.id", "password": "kata-sandi-rahasia"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    api.login("rini@example.id").await;

    // Bad input: 4xx with a clear message, and the server stays up.
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("not json", b"jual bakso 300rb".to_vec(), StatusCode::BAD_REQUEST),
        ("truncated", br#"{"amount": 5"#.to_vec(), StatusCode::BAD_REQUEST),
        ("invalid utf-8", vec![0xff, 0xfe, 0x00, 0x7b], StatusCode::BAD_REQUEST),
        ("wrong type", br#"{"amount": "300rb"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        ("float amount", br#"{"amount": 300000.5}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        ("unknown field", br#"{"amount": 1, "admin": true}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        ("deep nesting", format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(), StatusCode::PAYLOAD_TOO_LARGE),
        ("too large", vec![b' '; 10_000], StatusCode::PAYLOAD_TOO_LARGE),
        ("array", b"[1,2,3]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        ("null", b"null".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (what, body, expected) in cases {
        let r = api.client.post(api.url("/api/v1/transactions")).bearer_auth(&rini).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(r.status(), expected, "{what}");
        let error: Value = r.json().await.unwrap_or_else(|e| panic!("{what}: no JSON error body: {e}"));
        assert!(!error["error"]["message"].as_str().unwrap().is_empty(), "{what}");
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        let len = (seed % 300) as usize;
        let body: Vec<u8> = (0..len).map(|_| { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; (seed & 0xff) as u8 }).collect();
        let r = api.client.post(api.url("/api/v1/auth/login")).body(body).send().await.unwrap();
        assert!(r.status().is_client_error(), "random bytes gave {}", r.status());
    }
    assert_eq!(api.client.get(api.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);

    // Request ids: echoed when sane, made when absent.
    let r = api.client.get(api.url("/healthz")).header("x-request-id", "trace-42").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-42");
    let r = api.client.get(api.url("/healthz")).send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    // CORS for the configured origin only.
    let r = api.client.get(api.url("/healthz")).header("origin", "https://app.arus.example").send().await.unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.arus.example");
    let r = api.client.get(api.url("/healthz")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // Metrics: per-route requests and latency, rows written, logins.
    let metrics = api.client.get(api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        r#"arus_http_requests_total{method="GET",route="/api/v1/transactions",status="200"}"#,
        r#"arus_http_requests_total{method="GET",route="/api/v1/accounts/{id}",status="404"}"#,
        r#"arus_http_request_duration_seconds_bucket{method="POST",route="/api/v1/auth/login",status="429",le="0.05"}"#,
        r#"arus_rows_written_total{table="accounts",job="accounts"}"#,
        r#"arus_logins_total{outcome="throttled"}"#,
    ] {
        assert!(metrics.contains(needle), "/metrics lacks {needle}");
    }

    // OpenAPI: the document passes a validator from PyPI, lists the routes,
    // every operation it lists is served, and every route served is in it.
    let text = api.client.get(api.url("/openapi.json")).send().await.unwrap().text().await.unwrap();
    validate_openapi(&text);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for route in ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/me", "/api/v1/users", "/api/v1/users/{id}", "/api/v1/accounts", "/api/v1/accounts/{id}", "/api/v1/transactions", "/api/v1/transactions/{id}", "/api/v1/categories", "/api/v1/imports", "/api/v1/imports/{id}", "/api/v1/receipts", "/api/v1/receipts/{id}", "/api/v1/receipts/{id}/image", "/api/v1/receipts/{id}/confirm", "/webhooks/waha", "/api/v1/whatsapp/links", "/api/v1/whatsapp/links/{phone}"] {
        assert!(paths.contains_key(route), "{route} missing from /openapi.json");
    }
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            // No credentials and an empty body: the route answers 400/401/422, never "no such route".
            let url = api.url(&path.replace("{id}", "00000000-0000-4000-8000-000000000000"));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = api.client.request(method.clone(), url).json(&json!({})).send().await.unwrap();
            assert!(![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&r.status()), "{method} {path} is documented but answers {}", r.status());
            operations += 1;
        }
    }
    assert!(operations >= 30, "{operations} operations");
    // Requests to routes outside the document are labelled `other`; only 404s may be.
    let metrics = api.client.get(api.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in metrics.lines().filter(|l| l.starts_with("arus_http_requests_total{") && l.contains(r#"route="other""#)) {
        assert!(line.contains(r#"status="404""#), "a route missing from /openapi.json answered: {line}");
    }
    let ui = api.client.get(api.url("/docs/")).send().await.unwrap();
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(ui.text().await.unwrap().contains("swagger"));
    api.stop().await;
}
