//! WhatsApp over real sockets with the broker: WAHA's webhook into
//! `arus.wa.inbound.v1`, the `wa-router` job, the `ocr` job for photos and
//! the `notifier` back to WAHA. WAHA itself is a local server speaking its
//! documented contract (DOMAIN.md; the request and event samples in
//! `../shared/data/waha`): `POST /api/sendText`, `GET /api/files/…` and
//! `GET /api/{session}/chats/{chatId}/messages`, all behind `X-Api-Key`,
//! able to fail, refuse or stall on demand.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arus_ingest::whatsapp::webhook::sign;
use arus_lakehouse::Kafka;
use arus_schemas::whatsapp::{Audience, WaOutbound};
use arus_schemas::{topics, Alert, AlertKind, Config, Severity, SCHEMA_VERSION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::process::Child;
use tokio_util::sync::CancellationToken;
use warp::Filter;

use crate::common::{scalar, wait_for, TestEnv};
use crate::receipts::{serve, typed, RECEIPT};
use crate::serving::{first_admin, person, Api};

pub(crate) const API_KEY: &str = "waha-test-key";
const HMAC_KEY: &str = "webhook-hmac-key-for-tests";
pub(crate) const RINI: &str = "6281234567890";

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/waha")
}

fn sample(name: &str) -> Value {
    let path = samples().join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (../shared/data must be beside the repository)", path.display()))).unwrap()
}

/// What the stand-in WAHA was asked and how it should answer.
#[derive(Default)]
struct WahaState {
    /// Accepted sendText bodies, in order, each with the unix second it was
    /// taken at (`"_at"`) and the id it was given (`"_id"`).
    sent: Mutex<Vec<Value>>,
    /// Every sendText request, accepted or not.
    tries: AtomicUsize,
    /// Answer 500 to this many sendText requests.
    fail_next: AtomicUsize,
    /// Answer 400 to this many.
    refuse_next: AtomicUsize,
    /// Take this many messages, then answer only after this long (a gateway that stalls).
    stall_ms: AtomicUsize,
    stall_next: AtomicUsize,
    /// Hold this many requests this long before taking them (a gateway
    /// that has not got the message yet).
    hold_ms: AtomicUsize,
    hold_next: AtomicUsize,
    /// Signals a request being held.
    holding: tokio::sync::Notify,
    /// Answer 400 to listing a chat's messages (NOWEB without its store).
    no_history: std::sync::atomic::AtomicBool,
    files: Mutex<HashMap<String, (Vec<u8>, &'static str)>>,
    took: tokio::sync::Notify,
}

pub(crate) struct FakeWaha {
    addr: SocketAddr,
    state: Arc<WahaState>,
}

impl FakeWaha {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn sent(&self) -> Vec<Value> {
        self.state.sent.lock().unwrap().clone()
    }

    /// Every accepted text, to any chat, in order.
    pub(crate) fn all_texts(&self) -> Vec<String> {
        self.sent().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
    }

    /// Answers every send only after `ms` (it has taken the message by then).
    pub(crate) fn stall_every_send(&self, ms: usize) {
        self.state.stall_ms.store(ms, Ordering::SeqCst);
        self.state.stall_next.store(usize::MAX, Ordering::SeqCst);
    }

    pub(crate) fn texts_to(&self, chat: &str) -> Vec<String> {
        self.sent().iter().filter(|m| m["chatId"] == chat).map(|m| m["text"].as_str().unwrap().to_owned()).collect()
    }

    /// Waits until `chat` has received `n` messages; returns them.
    pub(crate) async fn wait_texts(&self, chat: &str, n: usize) -> Vec<String> {
        let started = Instant::now();
        loop {
            let texts = self.texts_to(chat);
            if texts.len() >= n {
                return texts;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{chat} got {} of {n} messages: {texts:?}", texts.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A WAHA stand-in. sendText checks the key and the request's shape against
/// the samples (`sendText_request.json`, `sendText_reply_request.json`).
pub(crate) async fn fake_waha() -> FakeWaha {
    let state = Arc::new(WahaState::default());
    let allowed: HashSet<String> = ["sendText_request.json", "sendText_reply_request.json"]
        .iter()
        .flat_map(|f| sample(f).as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .collect();
    let send_state = Arc::clone(&state);
    let send = warp::path!("api" / "sendText")
        .and(warp::post())
        .and(warp::header::optional::<String>("x-api-key"))
        .and(warp::body::json())
        .then(move |key: Option<String>, body: Value| {
            let (state, allowed) = (Arc::clone(&send_state), allowed.clone());
            async move {
                let reply = |status: u16, body: Value| warp::reply::with_status(warp::reply::json(&body), warp::http::StatusCode::from_u16(status).unwrap());
                if key.as_deref() != Some(API_KEY) {
                    return reply(401, json!({"message": "Unauthorized"}));
                }
                state.tries.fetch_add(1, Ordering::SeqCst);
                let keys: Vec<&String> = body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                let shaped = ["session", "chatId", "text"].iter().all(|k| body[*k].is_string()) && keys.iter().all(|k| allowed.contains(*k));
                if !shaped {
                    return reply(400, json!({"message": format!("bad sendText request: {body}")}));
                }
                if take(&state.refuse_next) {
                    return reply(400, json!({"message": "chatId is not a WhatsApp account"}));
                }
                if take(&state.fail_next) {
                    return reply(500, json!({"message": "session is STARTING"}));
                }
                if take(&state.hold_next) {
                    state.holding.notify_waiters();
                    tokio::time::sleep(Duration::from_millis(state.hold_ms.load(Ordering::SeqCst) as u64)).await;
                }
                let n = {
                    let mut sent = state.sent.lock().unwrap();
                    let mut taken = body.clone();
                    taken["_at"] = json!(chrono::Utc::now().timestamp());
                    taken["_id"] = json!(format!("true_{}_{:020}", body["chatId"].as_str().unwrap(), sent.len() + 1));
                    sent.push(taken);
                    sent.len()
                };
                state.took.notify_waiters();
                if take(&state.stall_next) {
                    tokio::time::sleep(Duration::from_millis(state.stall_ms.load(Ordering::SeqCst) as u64)).await;
                }
                reply(201, json!({"id": format!("true_{}_{n:020}", body["chatId"].as_str().unwrap()), "body": body["text"], "fromMe": true}))
            }
        });
    let file_state = Arc::clone(&state);
    let files = warp::path!("api" / "files" / String).and(warp::get()).and(warp::header::optional::<String>("x-api-key")).map(move |name: String, key: Option<String>| {
        if key.as_deref() != Some(API_KEY) {
            return warp::reply::with_status(Vec::new(), warp::http::StatusCode::UNAUTHORIZED).into_response();
        }
        match file_state.files.lock().unwrap().get(&name) {
            Some((bytes, mime)) => warp::reply::with_header(bytes.clone(), "content-type", *mime).into_response(),
            None => warp::reply::with_status(b"file not found".to_vec(), warp::http::StatusCode::NOT_FOUND).into_response(),
        }
    });
    // WAHA's "get messages in a chat": newest first, filtered as asked.
    let list_state = Arc::clone(&state);
    let messages = warp::path!("api" / String / "chats" / String / "messages")
        .and(warp::get())
        .and(warp::header::optional::<String>("x-api-key"))
        .and(warp::query::<HashMap<String, String>>())
        .map(move |_session: String, chat: String, key: Option<String>, query: HashMap<String, String>| {
            let reply = |status: u16, body: Value| warp::reply::with_status(warp::reply::json(&body), warp::http::StatusCode::from_u16(status).unwrap());
            if key.as_deref() != Some(API_KEY) {
                return reply(401, json!({"message": "Unauthorized"}));
            }
            if list_state.no_history.load(Ordering::SeqCst) {
                return reply(400, json!({"message": "Enable NOWEB store 'config.noweb.store.enabled=True' to get messages"}));
            }
            let chat = chat.replace("%40", "@");
            let since: i64 = query.get("filter.timestamp.gte").and_then(|t| t.parse().ok()).unwrap_or(0);
            let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
            let sent = list_state.sent.lock().unwrap();
            let listed: Vec<Value> = sent
                .iter()
                .rev()
                .filter(|m| m["chatId"] == chat.as_str() && m["_at"].as_i64().unwrap() >= since)
                .take(limit)
                .map(|m| json!({"id": m["_id"], "timestamp": m["_at"], "from": "71111111111@c.us", "fromMe": true, "to": m["chatId"], "body": m["text"], "hasMedia": false}))
                .collect();
            reply(200, Value::Array(listed))
        });
    use warp::Reply;
    FakeWaha { addr: serve(send.or(messages).or(files)).await, state }
}

/// Takes one from a counter of failures to come.
fn take(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

pub(crate) fn tweak(waha: &FakeWaha) -> impl FnOnce(&mut Config) {
    let url = waha.url();
    move |c: &mut Config| {
        c.waha_url = url;
        c.waha_api_key = arus_schemas::config::Secret::new(API_KEY);
        c.waha_webhook_hmac_key = arus_schemas::config::Secret::new(HMAC_KEY);
        c.wa_chat_interval_ms = 0;
        c.wa_retry_base_ms = 50;
        c.wa_retry_max_ms = 200;
        // A send cut off by a kill is looked up once it would have timed out.
        c.wa_http_timeout_ms = 5_000;
    }
}

/// A text message event from `phone`, built on the sample.
pub(crate) fn text_event(id: &str, phone: &str, body: &str) -> Value {
    let mut event = sample("webhook_message_text.json");
    event["payload"]["id"] = json!(format!("false_{phone}@c.us_{id}"));
    event["payload"]["from"] = json!(format!("{phone}@c.us"));
    event["payload"]["to"] = json!("71111111111@c.us");
    event["payload"]["fromMe"] = json!(false);
    event["payload"]["body"] = json!(body);
    // The sample's own time is 2022; the message is written now.
    event["payload"]["timestamp"] = json!(chrono::Utc::now().timestamp());
    event
}

/// Posts `event` signed (or with `signature`) and returns the answer.
async fn deliver(api: &Api, body: &[u8], signature: Option<String>) -> (StatusCode, Value) {
    let mut request = api.client.post(api.url("/webhooks/waha")).header("content-type", "application/json").header("x-webhook-hmac-algorithm", "sha512").body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-webhook-hmac", signature);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn say(api: &Api, event: &Value) -> Value {
    let body = serde_json::to_vec(event).unwrap();
    let (status, answer) = deliver(api, &body, Some(sign(HMAC_KEY.as_bytes(), &body))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn dead_letters(api: &Api, job: &str, like: &str, n: i64) {
    let session = api.env.session().await;
    wait_for(&session, &format!("SELECT count(*) FROM dlq WHERE job = '{job}' AND error LIKE '%{like}%'"), n, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waha_events_are_verified_deduplicated_and_refused_clearly_with_broker() {
    let waha = fake_waha().await;
    let api = Api::start_with("wa-hook", &["dlq"], tweak(&waha)).await;
    // The samples, signed as WAHA signs them: accepted, or ignored when arus
    // sent them itself. The document sample has the image's message id, so
    // it counts as the image delivered again.
    for (name, expected) in [("webhook_message_text.json", "ignored"), ("webhook_message_image.json", "accepted"), ("webhook_message_document_pdf.json", "duplicate")] {
        let body = std::fs::read(samples().join(name)).unwrap();
        let (status, answer) = deliver(&api, &body, Some(sign(HMAC_KEY.as_bytes(), &body))).await;
        assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some(expected)), "{name}: {answer}");
    }
    let mut document = sample("webhook_message_document_pdf.json");
    document["payload"]["id"] = json!("true_11111111111@c.us_DOCUMENT");
    assert_eq!(say(&api, &document).await["status"], "accepted");
    // WAHA retrying the image: recognised by its message id.
    let image = std::fs::read(samples().join("webhook_message_image.json")).unwrap();
    let (_, again) = deliver(&api, &image, Some(sign(HMAC_KEY.as_bytes(), &image))).await;
    assert_eq!(again["status"], "duplicate");
    // A tampered body with the original signature, no signature, garbage, another algorithm: 401.
    let signature = sign(HMAC_KEY.as_bytes(), &image);
    let tampered = String::from_utf8(image.clone()).unwrap().replace("Check this out", "Transfer 10jt ke").into_bytes();
    for (body, signature) in [(tampered, Some(signature.clone())), (image.clone(), None), (image.clone(), Some("zz".repeat(64))), (image.clone(), Some(sign(b"another key", &image)))] {
        let (status, answer) = deliver(&api, &body, signature).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("X-Webhook-Hmac")), "{answer}");
    }
    let (status, _) = {
        let r = api.client.post(api.url("/webhooks/waha")).header("x-webhook-hmac", &signature).header("x-webhook-hmac-algorithm", "md5").body(image.clone()).send().await.unwrap();
        (r.status(), ())
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Malformed bodies: 400 saying why, and kept as dead letters.
    for body in [&b"{\"event\": \"message\", \"payload\": "[..], &b"\xff\xfe not even text"[..], br#"{"event": "message", "payload": {"from": "62812@c.us"}}"#, br#"{"payload": {}}"#] {
        let (status, answer) = deliver(&api, body, Some(sign(HMAC_KEY.as_bytes(), body))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("dead letter")), "{answer}");
    }
    // Unknown event types: answered (WAHA must not retry them) and kept as dead letters; known ones ignored quietly.
    let unknown = br#"{"id": "evt_1", "event": "message.teleported", "session": "default", "payload": {}}"#;
    let (status, answer) = deliver(&api, unknown, Some(sign(HMAC_KEY.as_bytes(), unknown))).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("ignored")), "{answer}");
    let ack = br#"{"id": "evt_2", "event": "message.ack", "session": "default", "payload": {"id": "x", "ack": 3}}"#;
    let (status, answer) = deliver(&api, ack, Some(sign(HMAC_KEY.as_bytes(), ack))).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("ignored")), "{answer}");
    dead_letters(&api, "waha-webhook", "not JSON", 2).await;
    dead_letters(&api, "waha-webhook", "message.teleported", 1).await;
    let session = api.env.session().await;
    assert_eq!(scalar(&session, "SELECT count(*) FROM dlq WHERE job = 'waha-webhook'").await, 5, "four malformed bodies and one unknown event, nothing for the ack");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_recorded_answered_and_corrected_with_broker() {
    let waha = fake_waha().await;
    let api = Api::start_with("wa-text", &["enrich", "dlq", "audit", "wa-router", "notifier"], tweak(&waha)).await;
    let admin = first_admin(&api).await;
    let (rini_id, rini) = person(&api, &admin, "rini@example.id", "user").await;
    let rini_chat = format!("{RINI}@c.us");

    // A number nobody linked: told how to get linked, nothing recorded.
    say(&api, &text_event("A0", "6289999999999", "jual bakso 300rb")).await;
    let onboarding = waha.wait_texts("6289999999999@c.us", 1).await;
    assert!(onboarding[0].contains("belum terhubung"), "{onboarding:?}");

    // An admin links Rini's number; a user may not link numbers.
    let (status, _) = api.send(reqwest::Method::POST, "/api/v1/whatsapp/links", &rini, json!({"phone": "0812-3456-7890", "user_id": rini_id})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, bad) = api.send(reqwest::Method::POST, "/api/v1/whatsapp/links", &admin, json!({"phone": "021-555-1234", "user_id": rini_id})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, link) = api.send(reqwest::Method::POST, "/api/v1/whatsapp/links", &admin, json!({"phone": "0812-3456-7890", "user_id": rini_id, "customer_id": "CUST-001"})).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    assert_eq!((link["phone"].as_str(), link["active"].as_bool()), (Some(RINI), Some(true)));
    let (_, mine) = api.get("/api/v1/whatsapp/links", &rini).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");

    // The issue's example end to end: webhook → row in transactions → reply with the amount.
    say(&api, &text_event("A1", RINI, "jual bakso 20 porsi 300rb")).await;
    let page = api.eventually("/api/v1/transactions?source=whatsapp", &rini, |p| p["items"].as_array().is_some_and(|i| !i.is_empty())).await;
    let row = &page["items"][0];
    assert_eq!((row["amount"].as_i64(), row["description"].as_str(), row["user_id"].as_str()), (Some(300_000), Some("Jual bakso 20 porsi"), Some(rini_id.as_str())), "{page}");
    let replies = waha.wait_texts(&rini_chat, 1).await;
    assert!(replies[0].contains("Tercatat: Jual bakso 20 porsi — uang masuk Rp 300.000"), "{replies:?}");
    assert!(replies[0].contains("Arus kas hari ini positif Rp 300.000"), "{replies:?}");
    assert_eq!(waha.sent().iter().find(|m| m["chatId"] == rini_chat.as_str()).unwrap()["reply_to"], json!(format!("false_{RINI}@c.us_A1")));

    // WAHA delivering the same message again records nothing twice.
    let repeat = say(&api, &text_event("A1", RINI, "jual bakso 20 porsi 300rb")).await;
    assert_eq!(repeat["status"], "duplicate");

    say(&api, &text_event("A2", RINI, "beli gas 3kg 22.000")).await;
    let replies = waha.wait_texts(&rini_chat, 2).await;
    assert!(replies[1].contains("uang keluar Rp 22.000") && replies[1].contains("positif Rp 278.000"), "{replies:?}");
    say(&api, &text_event("A3", RINI, "saldo")).await;
    say(&api, &text_event("A4", RINI, "laporan hari ini")).await;
    let replies = waha.wait_texts(&rini_chat, 4).await;
    assert!(replies[2].contains("+Rp 278.000 (2 transaksi)"), "{replies:?}");
    assert!(replies[3].contains("masuk Rp 300.000, keluar Rp 22.000"), "{replies:?}");

    // Corrections are events: feedback on the last row, then a reversal row.
    say(&api, &text_event("A5", RINI, "ubah kategori terakhir jadi Bahan Baku")).await;
    let gas = api
        .eventually("/api/v1/transactions?source=whatsapp&status=user_confirmed", &rini, |p| p["items"].as_array().is_some_and(|i| !i.is_empty()))
        .await["items"][0]
        .clone();
    assert_eq!((gas["amount"].as_i64(), gas["category_id"].as_str(), gas["category_source"].as_str()), (Some(-22_000), Some("raw_materials"), Some("user")), "{gas}");
    say(&api, &text_event("A6", RINI, "hapus terakhir")).await;
    let page = api.eventually("/api/v1/transactions?source=whatsapp", &rini, |p| p["items"].as_array().is_some_and(|i| i.len() == 3)).await;
    let reversal = page["items"].as_array().unwrap().iter().find(|t| !t["reverses"].is_null()).unwrap_or_else(|| panic!("no reversal: {page}")).clone();
    assert_eq!((reversal["amount"].as_i64(), reversal["reverses"].as_str(), reversal["category_id"].as_str()), (Some(22_000), gas["id"].as_str(), Some("raw_materials")), "{reversal}");
    let replies = waha.wait_texts(&rini_chat, 6).await;
    assert!(replies[4].contains("Bahan Baku & Stok"), "{replies:?}");
    assert!(replies[5].starts_with("Dibatalkan: \"Beli gas 3kg\""), "{replies:?}");

    // English, questions without data yet, and what is not understood: always an answer.
    say(&api, &text_event("A7", RINI, "paid electricity 150k")).await;
    say(&api, &text_event("A8", RINI, "tier saya")).await;
    say(&api, &text_event("A9", RINI, "apa kabar bu")).await;
    say(&api, &text_event("B0", RINI, "beli gas 22.000 dan minyak 15rb")).await;
    let replies = waha.wait_texts(&rini_chat, 10).await;
    assert!(replies[6].starts_with("Thank you rini@example.id! Recorded: Paid electricity — money out Rp 150.000"), "{replies:?}");
    assert!(replies[6].contains("positive Rp 150.000 (in Rp 300.000, out Rp 150.000)"), "the cancelled gas is no spending: {replies:?}");
    assert!(replies[7].contains("belum tersedia"), "{replies:?}");
    assert!(replies[8].contains("belum paham") && replies[8].contains("Cara pakai"), "{replies:?}");
    assert!(replies[9].contains("satu transaksi per pesan"), "{replies:?}");
    // One answer per message, each recorded, no more.
    let session = api.env.session().await;
    wait_for(&session, "SELECT count(*) FROM whatsapp_messages", 11, Duration::from_secs(30)).await;
    wait_for(&session, "SELECT count(*) FROM notifications WHERE status = 'sent'", 11, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(waha.texts_to(&rini_chat).len(), 10, "{:?}", waha.texts_to(&rini_chat));
    assert_eq!(scalar(&session, "SELECT count(*) FROM whatsapp_messages").await, 11);

    // Unlinked: the number is unknown again.
    let (status, _) = api.send(reqwest::Method::DELETE, &format!("/api/v1/whatsapp/links/{RINI}"), &admin, Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    say(&api, &text_event("B1", RINI, "saldo")).await;
    let replies = waha.wait_texts(&rini_chat, 11).await;
    assert!(replies[10].contains("belum terhubung"), "{replies:?}");
    api.stop().await;
}

/// An image message event from `phone` for WAHA's file `name`, built on the sample.
fn image_event(id: &str, phone: &str, name: &str, mimetype: &str) -> Value {
    let mut event = sample("webhook_message_image.json");
    event["payload"]["id"] = json!(format!("false_{phone}@c.us_{id}"));
    event["payload"]["from"] = json!(format!("{phone}@c.us"));
    event["payload"]["body"] = json!("");
    // As a WAHA in a container reports it: its own localhost.
    event["payload"]["media"]["url"] = json!(format!("http://localhost:3000/api/files/{name}"));
    event["payload"]["media"]["mimetype"] = json!(mimetype);
    event["payload"]["timestamp"] = json!(chrono::Utc::now().timestamp());
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_read_confirmed_with_ya_and_booked_with_broker() {
    let waha = fake_waha().await;
    waha.state.files.lock().unwrap().insert("struk.jpg".into(), (typed(RECEIPT), "image/png"));
    let api = Api::start_with("wa-photo", &["enrich", "dlq", "wa-router", "notifier", "ocr"], tweak(&waha)).await;
    let admin = first_admin(&api).await;
    let (rini_id, rini) = person(&api, &admin, "rini@example.id", "user").await;
    let (status, _) = api.send(reqwest::Method::POST, "/api/v1/whatsapp/links", &admin, json!({"phone": RINI, "user_id": rini_id})).await;
    assert_eq!(status, StatusCode::CREATED);
    let chat = format!("{RINI}@c.us");

    // The photo: fetched from WAHA, read, and proposed — not booked.
    say(&api, &image_event("P1", RINI, "struk.jpg", "image/jpeg")).await;
    let replies = waha.wait_texts(&chat, 2).await;
    assert!(replies[0].starts_with("Foto diterima"), "{replies:?}");
    assert!(replies[1].contains("TOKO SUMBER REJEKI") && replies[1].contains("Rp 40.515") && replies[1].contains("Balas YA untuk simpan"), "{replies:?}");
    let (_, photos) = api.get("/api/v1/receipts", &rini).await;
    assert_eq!(photos[0]["status"], "needs_review", "{photos}");
    assert_eq!(photos[0]["review_reasons"], json!(["awaiting_confirmation"]), "{photos}");
    let (_, none) = api.get("/api/v1/transactions", &rini).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0), "only a confirmation books it: {none}");

    // YA books it.
    say(&api, &text_event("P2", RINI, "YA")).await;
    let page = api.eventually("/api/v1/transactions?source=ocr", &rini, |p| p["items"].as_array().is_some_and(|i| !i.is_empty())).await;
    assert_eq!(page["items"][0]["amount"].as_i64(), Some(-40_515), "{page}");
    let replies = waha.wait_texts(&chat, 3).await;
    assert!(replies[2].starts_with("Tersimpan, terima kasih") && replies[2].contains("-Rp 40.515"), "{replies:?}");
    // A second YA finds nothing waiting.
    say(&api, &text_event("P3", RINI, "ya")).await;
    let replies = waha.wait_texts(&chat, 4).await;
    assert!(replies[3].contains("Tidak ada foto"), "{replies:?}");

    // Files WAHA cannot give, did not download, or that are not photos: told, and dead letters.
    say(&api, &image_event("P4", RINI, "hilang.jpg", "image/jpeg")).await;
    let mut undownloaded = image_event("P5", RINI, "x.jpg", "image/jpeg");
    undownloaded["payload"]["media"] = Value::Null;
    say(&api, &undownloaded).await;
    let mut pdf = sample("webhook_message_document_pdf.json");
    pdf["payload"]["id"] = json!(format!("false_{RINI}@c.us_P6"));
    pdf["payload"]["from"] = json!(chat);
    say(&api, &pdf).await;
    let replies = waha.wait_texts(&chat, 7).await;
    assert!(replies[4].contains("tidak bisa diambil"), "{replies:?}");
    assert!(replies[5].contains("tidak bisa diambil"), "{replies:?}");
    assert!(replies[6].contains("some-file.pdf (application/pdf)"), "{replies:?}");
    dead_letters(&api, "wa-router", "download_failed", 1).await;
    dead_letters(&api, "wa-router", "no_media", 1).await;
    dead_letters(&api, "wa-router", "unsupported_type", 1).await;
    // Still answering after all that.
    say(&api, &text_event("P7", RINI, "saldo")).await;
    let replies = waha.wait_texts(&chat, 8).await;
    assert!(replies[7].contains("-Rp 40.515 (1 transaksi)"), "{replies:?}");
    api.stop().await;
}

/// Pak Budi, a field officer (0811-1111-2222), and Ibu Rini (RINI), his
/// partner: `(officer, partner)`.
pub(crate) async fn rini_and_her_officer(config: &Config) -> (arus_schemas::UserRecord, arus_schemas::UserRecord) {
    let lake = arus_lakehouse::Lake::new(config).unwrap();
    let store = arus_serving::auth::store::AuthStore::open(&lake).await.unwrap();
    let officer = arus_serving::api::auth::validate_registration(Some("petugas@example.id"), Some("0811-1111-2222"), "kata-sandi-rahasia", "Pak Budi").unwrap();
    let officer = arus_serving::api::auth::create_user(&store, officer, arus_schemas::Role::Officer, None).await.unwrap();
    let partner = arus_serving::api::auth::validate_registration(Some("rini@example.id"), Some(RINI), "kata-sandi-rahasia", "Ibu Rini").unwrap();
    let partner = arus_serving::api::auth::create_user(&store, partner, arus_schemas::Role::User, None).await.unwrap();
    let change = arus_serving::auth::store::UserChange { officer_id: Some(Some(officer.user_id.clone())), ..Default::default() };
    store.update(&partner.user_id, change, "test").await.unwrap();
    (officer, partner)
}

/// `arus job notifier` as a child process talking to `waha`.
pub(crate) fn start_notifier(env: &TestEnv, waha: &FakeWaha, run: usize) -> Child {
    let settings = [("ARUS_WAHA_URL", waha.url()), ("ARUS_WAHA_API_KEY", API_KEY.to_owned())];
    let pace = [("ARUS_WA_CHAT_INTERVAL_MS", "0"), ("ARUS_WA_RETRY_BASE_MS", "50"), ("ARUS_WA_RETRY_MAX_MS", "200")].map(|(k, v)| (k, v.to_owned()));
    env.start_job("notifier", run, &[settings.as_slice(), pace.as_slice()].concat())
}

pub(crate) async fn kill(mut child: Child) {
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
}

pub(crate) fn outbound(id: &str, chat: &str, text: &str) -> WaOutbound {
    WaOutbound {
        schema_version: SCHEMA_VERSION,
        id: id.into(),
        session: String::new(),
        chat_id: chat.into(),
        text: text.into(),
        reply_to: None,
        user_id: None,
        audience: Audience::Partner,
        origin: "reply".into(),
        created_at: chrono::Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifier_retries_never_sends_twice_and_tells_officers_with_broker() {
    let waha = fake_waha().await;
    let env = TestEnv::new("wa-notify").await;
    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let topic = env.config.topic(topics::WA_OUTBOUND);
    let session = env.session().await;
    let chat = format!("{RINI}@c.us");
    let publish = |m: WaOutbound| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move { producer.send_json(&topic, &m.chat_id, &m).await.unwrap() }
    };
    let dlq = {
        let (config, token) = (env.config.clone(), CancellationToken::new());
        let stop = token.clone();
        (stop, tokio::spawn(async move { arus_stream_jobs::run_named("dlq", &config, token).await.unwrap() }))
    };
    let mut notifier = start_notifier(&env, &waha, 0);

    // WAHA failing three times, then taking it: delivered exactly once.
    waha.state.fail_next.store(3, Ordering::SeqCst);
    publish(outbound("m1", &chat, "pesan satu")).await;
    waha.wait_texts(&chat, 1).await;
    wait_for(&session, "SELECT count(*) FROM notifications WHERE id = 'm1' AND status = 'sent'", 1, Duration::from_secs(30)).await;
    assert_eq!(waha.state.tries.load(Ordering::SeqCst), 4);
    assert_eq!(scalar(&session, "SELECT count(*) FROM notifications WHERE id = 'm1' AND status = 'retrying'").await, 3);

    // WAHA refusing one (400): no retry, a dead letter, the next goes out.
    waha.state.refuse_next.store(1, Ordering::SeqCst);
    publish(outbound("m2", &chat, "tidak terkirim")).await;
    publish(outbound("m3", &chat, "pesan tiga")).await;
    waha.wait_texts(&chat, 2).await;
    wait_for(&session, "SELECT count(*) FROM notifications WHERE id = 'm3' AND status = 'sent'", 1, Duration::from_secs(30)).await;
    wait_for(&session, "SELECT count(*) FROM dlq WHERE job = 'notifier' AND error LIKE '%WAHA refused%'", 1, Duration::from_secs(30)).await;

    // Killed after sending, started again, and m1 delivered again by the broker: nothing repeated.
    kill(notifier).await;
    notifier = start_notifier(&env, &waha, 1);
    publish(outbound("m1", &chat, "pesan satu")).await;
    publish(outbound("m4", &chat, "pesan empat")).await;
    let texts = waha.wait_texts(&chat, 3).await;
    assert_eq!(texts, ["pesan satu", "pesan tiga", "pesan empat"]);

    // Killed while WAHA has the message (after it took it, before it
    // answered): started again, the notifier finds it in the chat and does
    // not send it again. The same text sent a moment before under another
    // id does not count for it.
    publish(outbound("m5-before", &chat, "pesan lima")).await;
    waha.wait_texts(&chat, 4).await;
    waha.state.stall_ms.store(3_000, Ordering::SeqCst);
    waha.state.stall_next.store(1, Ordering::SeqCst);
    let took = waha.state.took.notified();
    publish(outbound("m5", &chat, "pesan lima")).await;
    tokio::time::timeout(Duration::from_secs(30), took).await.expect("WAHA never got m5");
    kill(notifier).await;
    notifier = start_notifier(&env, &waha, 2);
    publish(outbound("m6", &chat, "pesan enam")).await;
    let texts = waha.wait_texts(&chat, 6).await;
    assert_eq!(texts, ["pesan satu", "pesan tiga", "pesan empat", "pesan lima", "pesan lima", "pesan enam"]);
    wait_for(&session, "SELECT count(*) FROM notifications WHERE id = 'm5' AND status = 'sent'", 1, Duration::from_secs(30)).await;

    // Killed before WAHA took it: not in the chat, so sent again, once.
    waha.state.hold_ms.store(5_000, Ordering::SeqCst);
    waha.state.hold_next.store(1, Ordering::SeqCst);
    let holding = waha.state.holding.notified();
    publish(outbound("m7", &chat, "pesan tujuh")).await;
    tokio::time::timeout(Duration::from_secs(30), holding).await.expect("WAHA never got a request for m7");
    kill(notifier).await;
    notifier = start_notifier(&env, &waha, 3);
    let texts = waha.wait_texts(&chat, 7).await;
    assert_eq!(texts[6..], ["pesan tujuh"]);
    wait_for(&session, "SELECT count(*) FROM notifications WHERE id = 'm7' AND status = 'sent' AND attempts = 2", 1, Duration::from_secs(30)).await;

    // A WAHA that cannot list the chat: the notifier cannot tell, so it does
    // not send again and asks a person through the DLQ.
    waha.state.no_history.store(true, Ordering::SeqCst);
    waha.state.stall_next.store(1, Ordering::SeqCst);
    let took = waha.state.took.notified();
    publish(outbound("m8", &chat, "pesan delapan")).await;
    tokio::time::timeout(Duration::from_secs(30), took).await.expect("WAHA never got m8");
    kill(notifier).await;
    notifier = start_notifier(&env, &waha, 4);
    wait_for(&session, "SELECT count(*) FROM notifications WHERE id = 'm8' AND status = 'unknown'", 1, Duration::from_secs(30)).await;
    wait_for(&session, "SELECT count(*) FROM dlq WHERE job = 'notifier' AND error LIKE '%delivery unknown%could not list the chat%'", 1, Duration::from_secs(30)).await;
    assert_eq!(waha.texts_to(&chat).iter().filter(|t| *t == "pesan delapan").count(), 1);
    waha.state.no_history.store(false, Ordering::SeqCst);
    // An alert: a partner rising to Gold is news for their field officer.
    let (_, partner) = rini_and_her_officer(&env.config).await;
    // The notifier reads people every few seconds.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut details = serde_json::Map::new();
    details.insert("tier".into(), json!("GOLD"));
    let alert = Alert {
        schema_version: SCHEMA_VERSION,
        id: "tier-up-rini-2026-11".into(),
        user_id: partner.user_id.clone(),
        kind: AlertKind::TierUp,
        severity: Severity::Info,
        subject_id: None,
        title: "Naik ke Gold".into(),
        message: String::new(),
        created_at: chrono::Utc::now(),
        details,
    };
    producer.send_json(&env.config.topic(topics::ALERT), &alert.user_id, &alert).await.unwrap();
    let to_officer = waha.wait_texts("6281111112222@c.us", 1).await;
    assert_eq!(to_officer, ["Halo, kabar baik! Mitra Ibu Rini baru saja naik ke Tier Gold. Beliau potensial untuk top-up plafon. Hubungi segera?"]);
    let to_rini = waha.wait_texts(&chat, 9).await;
    assert!(to_rini[8].starts_with("Selamat Ibu Rini! Status Anda naik ke Gold"), "{to_rini:?}");
    kill(notifier).await;
    dlq.0.cancel();
    dlq.1.await.unwrap();
}
