//! Receipt and cash-book photos over real sockets with the broker: upload
//! → 202 → the `ocr` job (Tesseract) → `parsed` and booked, or
//! `needs_review` until the person confirms; bad pictures each get their
//! own error while the server and the job stay up. The vision model is a
//! local server speaking Ollama's and Gemini's documented contracts.
//!
//! The receipts and the cash-book page are drawn here (DejaVu Sans Mono,
//! from fonts-dejavu-core); one real scanned receipt comes from the SROIE
//! development data when `../shared/data` is there.

use std::collections::HashMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ab_glyph::{FontRef, PxScale};
use arus_ingest::ocr::vision::{Gemini, Ollama, VisionError, VisionModel};
use base64::Engine as _;
use image::{GrayImage, Luma};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use warp::Filter;

use crate::common::scalar;
use crate::serving::Api;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";

/// A white page with `lines` typed on it, as PNG.
pub(crate) fn typed(lines: &[&str]) -> Vec<u8> {
    let bytes = std::fs::read(FONT).unwrap_or_else(|e| panic!("{FONT}: {e} (fonts-dejavu-core, installed by deploy/system-packages.sh)"));
    let font = FontRef::try_from_slice(&bytes).unwrap();
    let (size, leading) = (30.0, 46);
    let width = 60 + lines.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32 * 19;
    let mut page = GrayImage::from_pixel(width, 60 + leading * lines.len() as u32, Luma([250]));
    for (i, line) in lines.iter().enumerate() {
        imageproc::drawing::draw_text_mut(&mut page, Luma([20]), 30, 30 + (i as u32 * leading) as i32, PxScale::from(size), &font, line);
    }
    encode(&page, image::ImageFormat::Png)
}

fn encode(page: &GrayImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    page.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub(crate) const RECEIPT: &[&str] = &[
    "      TOKO SUMBER REJEKI",
    "   Jl. Merdeka No. 12, Bandung",
    "Tgl: 14/11/2026       Jam: 13:45",
    "--------------------------------",
    "Indomie Goreng  3 x 3.500 10.500",
    "Teh Botol       2 x 5.000 10.000",
    "Gula Pasir 1kg            16.000",
    "--------------------------------",
    "SUBTOTAL                  36.500",
    "PPN 11%                    4.015",
    "TOTAL                     40.515",
    "TUNAI                     50.000",
    "KEMBALI                    9.485",
    "          TERIMA KASIH",
];

/// The same shop on another day, with the date torn off.
const UNDATED: &[&str] = &[
    "      TOKO SUMBER REJEKI",
    "   Jl. Merdeka No. 12, Bandung",
    "--------------------------------",
    "Beras 5kg                 68.000",
    "Minyak Goreng 2L          37.000",
    "--------------------------------",
    "TOTAL                    105.000",
    "TUNAI                    110.000",
    "KEMBALI                    5.000",
];

const CASHBOOK: &[&str] = &[
    "BUKU KAS WARUNG BU SITI",
    "Tanggal  Keterangan      Masuk    Keluar",
    "02/11    jual bakso     300.000",
    "02/11    beli daging             150.000",
    "03/11    jual bakso     450.000",
    "03/11    beli gas                 22.000",
];

/// A stand-in for Ollama (`POST /api/chat`, as documented at
/// github.com/ollama/ollama docs/api.md): checks the request's shape and
/// answers for the photos it knows (by SHA-256), 500 for any other.
struct FakeVision {
    addr: SocketAddr,
    asked: Arc<AtomicUsize>,
}

async fn fake_ollama(known: HashMap<String, Value>) -> FakeVision {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let known = Arc::new(known);
    let chat = warp::path!("api" / "chat").and(warp::post()).and(warp::body::json()).map(move |body: Value| {
        counter.fetch_add(1, Ordering::SeqCst);
        let shaped = body["model"] == "llava" && body["stream"] == false && body["messages"][0]["role"] == "user" && body["messages"][0]["content"].as_str().is_some_and(|c| c.contains("JSON"));
        let photo = body["messages"][0]["images"][0].as_str().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        let Some(photo) = photo.filter(|_| shaped) else {
            return warp::reply::with_status(warp::reply::json(&json!({"error": "bad request shape"})), warp::http::StatusCode::BAD_REQUEST);
        };
        let sha = hex(&Sha256::digest(&photo));
        match known.get(&sha) {
            Some(answer) => warp::reply::with_status(
                warp::reply::json(&json!({
                    "model": "llava", "created_at": "2026-11-21T10:00:00Z",
                    "message": {"role": "assistant", "content": answer.to_string()},
                    "done_reason": "stop", "done": true, "total_duration": 1_200_000_000u64, "eval_count": 40,
                })),
                warp::http::StatusCode::OK,
            ),
            None => warp::reply::with_status(warp::reply::json(&json!({"error": "model runner has unexpectedly stopped"})), warp::http::StatusCode::INTERNAL_SERVER_ERROR),
        }
    });
    FakeVision { addr: serve(chat).await, asked }
}

/// Serves `filter` on a free loopback port until the test ends.
pub(crate) async fn serve<F>(filter: F) -> SocketAddr
where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(filter).incoming(listener).run());
    addr
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sroie(n: u32) -> Option<(Vec<u8>, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/receipts-sroie-dev");
    let photo = std::fs::read(dir.join(format!("img/{n}.jpg"))).ok()?;
    let key = serde_json::from_slice(&std::fs::read(dir.join(format!("key/{n}.json"))).ok()?).ok()?;
    Some((photo, key))
}

pub(crate) async fn upload(api: &Api, token: &str, name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    for (key, value) in fields {
        form = form.text(key.to_string(), value.to_string());
    }
    let r = api.client.post(api.url("/api/v1/receipts")).bearer_auth(token).multipart(form).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Uploads and waits until the `ocr` job has read it.
pub(crate) async fn read(api: &Api, token: &str, name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Value {
    let (status, accepted) = upload(api, token, name, bytes, fields).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{name}: {accepted}");
    assert_eq!(accepted["status"], "pending_ocr");
    let location = accepted["location"].as_str().unwrap().to_owned();
    api.eventually(&location, token, |r| r["status"] != "pending_ocr").await
}

/// The person's transactions from `source`, as `(amount, description)`, once there are `expected`.
async fn booked(api: &Api, token: &str, expected: usize) -> Vec<(i64, String)> {
    let page = api.eventually("/api/v1/transactions?limit=200", token, |p| p["items"].as_array().is_some_and(|i| i.len() >= expected)).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), expected, "{page}");
    assert!(items.iter().all(|t| t["source"] == "ocr" && t["media_ref"].as_str().is_some_and(|m| m.starts_with("photos/"))), "{page}");
    let mut rows: Vec<(i64, String)> = items.iter().map(|t| (t["amount"].as_i64().unwrap(), t["description"].as_str().unwrap().to_owned())).collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_read_booked_and_reviewed_with_broker() {
    let sample = sroie(400);
    let mut known = HashMap::new();
    if let Some((photo, key)) = &sample {
        // The model reads the receipt as its label says.
        known.insert(hex(&Sha256::digest(photo)), json!({"merchant": key["company"], "date": key["date"], "time": null, "total": key["total"], "currency": null}));
    }
    let vision = fake_ollama(known).await;
    let url = format!("http://{}", vision.addr);
    let api = Api::start_with("receipts", &["enrich", "accounts", "audit", "dlq", "ocr"], |c| {
        c.ocr_max_bytes = 4 << 20;
        c.ocr_max_pixels = 40_000_000;
        (c.ocr_vision, c.ocr_vision_url, c.ocr_vision_model) = ("ollama".into(), url, "llava".into());
    })
    .await;
    api.register("sari@example.id").await;
    api.register("budi@example.id").await;
    let token = api.login("sari@example.id").await["access_token"].as_str().unwrap().to_owned();
    let budi = api.login("budi@example.id").await["access_token"].as_str().unwrap().to_owned();

    // A clear Indonesian receipt: read, sure, booked as money out.
    let receipt = read(&api, &token, "struk.png", typed(RECEIPT), &[]).await;
    assert_eq!((receipt["status"].as_str(), receipt["detected_kind"].as_str()), (Some("parsed"), Some("receipt")), "{receipt}");
    let fields = &receipt["fields"];
    assert_eq!(fields["total"]["value"], json!({"minor": 40515, "scale": 0}), "{fields}");
    assert_eq!((fields["date"]["value"].as_str(), fields["time"]["value"].as_str()), (Some("2026-11-14"), Some("13:45:00")));
    assert_eq!(fields["merchant"]["value"], "TOKO SUMBER REJEKI");
    assert_eq!((fields["tax"]["value"]["minor"].as_i64(), fields["change"]["value"]["minor"].as_i64()), (Some(4015), Some(9485)));
    assert_eq!(fields["payment_method"]["value"], "cash");
    assert!(receipt["text"].as_str().is_some_and(|t| t.contains("KEMBALI")));
    assert_eq!(receipt["transactions"][0]["amount"], -40_515);
    assert_eq!(booked(&api, &token, 1).await, vec![(-40_515, "TOKO SUMBER REJEKI".to_owned())]);
    let receipt_id = receipt["id"].as_str().unwrap().to_owned();

    // The photo is kept and shown back; another person cannot see it.
    let r = api.client.get(api.url(&format!("/api/v1/receipts/{receipt_id}/image"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), typed(RECEIPT));
    assert_eq!(api.get(&format!("/api/v1/receipts/{receipt_id}"), &budi).await.0, StatusCode::NOT_FOUND);
    // Booked already: nothing to confirm.
    let (status, body) = api.send(Method::POST, &format!("/api/v1/receipts/{receipt_id}/confirm"), &token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // No date on it: proposed, not booked, until the person says the date.
    let undated = read(&api, &token, "sobek.png", typed(UNDATED), &[("kind", "receipt")]).await;
    assert_eq!(undated["status"], "needs_review", "{undated}");
    assert!(undated["review_reasons"].as_array().unwrap().contains(&json!("no_date")), "{undated}");
    assert_eq!(undated["transactions"][0]["amount"], -105_000);
    let undated_id = undated["id"].as_str().unwrap().to_owned();
    let (_, waiting) = api.get("/api/v1/receipts?status=needs_review", &token).await;
    assert_eq!(waiting.as_array().map(|w| w.iter().map(|r| r["id"].clone()).collect::<Vec<_>>()), Some(vec![json!(undated_id)]));
    let path = format!("/api/v1/receipts/{undated_id}/confirm");
    let (status, body) = api.send(Method::POST, &path, &token, json!({"date": "2026-11-10", "total": 0})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_fields")), "{body}");
    let (status, body) = api.send(Method::POST, &path, &budi, json!({"date": "2026-11-10"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, confirmed) = api.send(Method::POST, &path, &token, json!({"date": "2026-11-10", "merchant": "Toko Sumber Rejeki"})).await;
    assert_eq!((status, confirmed["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{confirmed}");
    let (status, _) = api.send(Method::POST, &path, &token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "confirmed once");
    assert_eq!(booked(&api, &token, 2).await, vec![(-105_000, "Toko Sumber Rejeki".to_owned()), (-40_515, "TOKO SUMBER REJEKI".to_owned())]);

    // A cash-book page: one transaction per row, in and out.
    let page = read(&api, &token, "buku-kas.png", typed(CASHBOOK), &[]).await;
    assert_eq!(page["detected_kind"], "cashbook", "{page}");
    let rows: Vec<(i64, String)> = page["transactions"].as_array().unwrap().iter().map(|t| (t["amount"].as_i64().unwrap(), t["description"].as_str().unwrap().to_owned())).collect();
    assert_eq!(rows, vec![(300_000, "jual bakso".into()), (-150_000, "beli daging".into()), (450_000, "jual bakso".into()), (-22_000, "beli gas".into())], "{page}");
    assert_eq!(page["status"], "parsed", "{page}");
    assert_eq!(booked(&api, &token, 6).await.iter().map(|r| r.0).sum::<i64>(), -40_515 - 105_000 + 300_000 - 150_000 + 450_000 - 22_000);

    // A real scanned receipt Tesseract is unsure of: the vision model is
    // asked, its total and date checked against the page, and it is booked.
    let scanned_present = sample.is_some();
    if let Some((photo, key)) = sample {
        let scanned = read(&api, &token, "400.jpg", photo, &[("kind", "receipt")]).await;
        assert_eq!((scanned["status"].as_str(), scanned["engine"].as_str()), (Some("parsed"), Some("tesseract+ollama")), "{scanned}");
        assert_eq!(scanned["fields"]["total"]["text"], key["total"], "{scanned}");
        assert_eq!(scanned["fields"]["date"]["value"], "2016-02-28", "{scanned}");
        assert!(vision.asked.load(Ordering::SeqCst) >= 1);
    } else {
        eprintln!("receipts: ../shared/data/receipts-sroie-dev is absent; the scanned receipt and the vision model are not tried");
    }

    // Bad pictures: each refused with its reason, at once where the header tells.
    let (status, body) = upload(&api, &token, "nota.pdf", b"%PDF-1.7\n1 0 obj".to_vec(), &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("not_an_image")), "{body}");
    let (status, body) = upload(&api, &token, "kosong.jpg", Vec::new(), &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("empty")), "{body}");
    let jpeg = encode(&GrayImage::from_pixel(16, 16, Luma([200])), image::ImageFormat::Jpeg);
    let mut bomb = jpeg.clone();
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline JPEG");
    bomb[sof + 5..sof + 9].copy_from_slice(&[0x75, 0x30, 0x75, 0x30]);
    let (status, body) = upload(&api, &token, "bom.jpg", bomb, &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("too_large")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("30000 × 30000"), "{body}");
    let whole = encode(&image::load_from_memory(&typed(RECEIPT)).unwrap().to_luma8(), image::ImageFormat::Jpeg);
    let (status, body) = upload(&api, &token, "potong.jpg", whole[..whole.len() / 2].to_vec(), &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("corrupt_image")), "{body}");
    // Over the 4 MiB limit but within the form's allowance: refused while streamed to disk.
    let (status, body) = upload(&api, &token, "besar.jpg", vec![0xFF; (4 << 20) + (64 << 10)], &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")), "{body}");
    let (status, body) = upload(&api, &token, "struk.png", typed(RECEIPT), &[("kind", "faktur")]).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("kind")), "{body}");
    // A blank page passes the header check; the job says it is blank, and the DLQ hears it.
    let blank = read(&api, &token, "putih.png", encode(&GrayImage::from_pixel(800, 600, Luma([245])), image::ImageFormat::Png), &[]).await;
    assert_eq!((blank["status"].as_str(), blank["error"]["code"].as_str()), (Some("failed"), Some("blank_image")), "{blank}");
    let blank_id = blank["id"].as_str().unwrap();
    let session = api.env.session().await;
    let sql = format!("SELECT count(*) FROM dlq WHERE id = 'media/{blank_id}' AND job = 'ocr' AND error LIKE 'putih.png: blank_image:%'");
    assert_eq!(crate::common::wait_for(&session, &sql, 1, Duration::from_secs(30)).await, 1);
    // Nothing was lost to the bad ones: the job still reads, the API still answers.
    let again = read(&api, &token, "struk-lagi.png", typed(UNDATED), &[]).await;
    assert_eq!(again["status"], "needs_review", "{again}");
    let (_, all) = api.get("/api/v1/receipts", &token).await;
    assert_eq!(all.as_array().unwrap().len(), 5 + usize::from(scanned_present), "{all}");
    assert!(all.as_array().unwrap().iter().all(|r| r.get("text").is_none()), "the list leaves out the text read");
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions WHERE source = 'ocr'").await, 6 + i64::from(scanned_present));
    api.stop().await;
}

/// Both vision adapters against local servers that speak the documented
/// contracts: what is sent (path, key header, image, prompt) and what
/// comes back (the JSON in the model's text, errors as errors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vision_adapters_speak_the_documented_contracts() {
    let photo = typed(&["TOKO A", "TOTAL 38.850"]);
    let expected = base64::engine::general_purpose::STANDARD.encode(&photo);

    // Gemini: POST /v1beta/models/{model}:generateContent, key in x-goog-api-key,
    // the image as inline_data; the answer in candidates[0].content.parts[0].text.
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let log = Arc::clone(&seen);
    let gemini = warp::path!("v1beta" / "models" / String)
        .and(warp::post())
        .and(warp::header::<String>("x-goog-api-key"))
        .and(warp::body::json())
        .map(move |model: String, key: String, body: Value| {
            log.lock().unwrap().push(json!({"model": model, "key": key, "body": body}));
            if key != "kunci-rahasia" {
                return warp::reply::with_status(warp::reply::json(&json!({"error": {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}})), warp::http::StatusCode::FORBIDDEN);
            }
            let text = "```json\n{\"merchant\": \"Toko A\", \"date\": \"2026-11-20\", \"time\": \"09:15\", \"total\": \"Rp 38.850\", \"currency\": \"IDR\"}\n```";
            warp::reply::with_status(
                warp::reply::json(&json!({
                    "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 300, "candidatesTokenCount": 40, "totalTokenCount": 340},
                    "modelVersion": "gemini-2.0-flash",
                })),
                warp::http::StatusCode::OK,
            )
        });
    let addr = serve(gemini).await;
    let model = Gemini::new(&format!("http://{addr}/"), "gemini-2.0-flash", "kunci-rahasia", Duration::from_secs(5));
    let answer = model.read(&photo, "image/png").await.unwrap();
    assert_eq!((answer.merchant.as_deref(), answer.total.as_deref(), answer.date.as_deref()), (Some("Toko A"), Some("Rp 38.850"), Some("2026-11-20")));
    {
        let seen = seen.lock().unwrap();
        let request = &seen[0];
        assert_eq!(request["model"], "gemini-2.0-flash:generateContent");
        let parts = &request["body"]["contents"][0]["parts"];
        assert!(parts[0]["text"].as_str().unwrap().contains("JSON"));
        assert_eq!((parts[1]["inline_data"]["mime_type"].as_str(), parts[1]["inline_data"]["data"].as_str()), (Some("image/png"), Some(expected.as_str())));
        assert_eq!(request["body"]["generationConfig"]["response_mime_type"], "application/json");
    }
    let wrong_key = Gemini::new(&format!("http://{addr}"), "gemini-2.0-flash", "salah", Duration::from_secs(5));
    assert!(matches!(wrong_key.read(&photo, "image/png").await, Err(VisionError::Status { status: 403, .. })));

    // Ollama: the answer in message.content; prose without JSON is refused.
    let ollama = warp::path!("api" / "chat").and(warp::post()).and(warp::body::json()).map(|body: Value| {
        let content = if body["messages"][0]["images"][0].as_str().is_some() { "I am sorry, I cannot read receipts." } else { "{}" };
        warp::reply::json(&json!({"model": body["model"], "created_at": "2026-11-21T10:00:00Z", "message": {"role": "assistant", "content": content}, "done": true}))
    });
    let addr = serve(ollama).await;
    let model = Ollama::new(&format!("http://{addr}"), "llava", Duration::from_secs(5));
    assert!(matches!(model.read(&photo, "image/png").await, Err(VisionError::BadAnswer(_))));
    // Nobody listening: unreachable, not a hang.
    let port = crate::common::free_port();
    let gone = Ollama::new(&format!("http://127.0.0.1:{port}"), "llava", Duration::from_secs(2));
    assert!(matches!(gone.read(&photo, "image/png").await, Err(VisionError::Unreachable(_))));
}
