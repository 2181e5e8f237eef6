//! Statement imports over real sockets with the broker: upload → 202 →
//! the imports worker → transactions with the right signs, amounts and
//! dates; re-imports and overlapping statements add nothing; bad files each
//! get their own error while the server and the worker stay up; `arus
//! import` from the command line.

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{arus_bin, scalar, wait_for};
use crate::serving::Api;

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/ingest/fixtures/statements/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Uploads `bytes` as `name` with the text fields `fields`.
async fn upload(api: &Api, token: &str, name: &str, bytes: Vec<u8>, fields: &[(&str, String)]) -> (StatusCode, Value) {
    let mut form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    for (key, value) in fields {
        form = form.text(key.to_string(), value.clone());
    }
    let r = api.client.post(api.url("/api/v1/imports")).bearer_auth(token).multipart(form).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Uploads and waits for the import to end; returns its final state.
pub(crate) async fn import(api: &Api, token: &str, name: &str, bytes: Vec<u8>, fields: &[(&str, String)]) -> Value {
    let (status, accepted) = upload(api, token, name, bytes, fields).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{name}: {accepted}");
    assert_eq!(accepted["status"], "pending");
    let location = accepted["location"].as_str().unwrap().to_owned();
    api.eventually(&location, token, |job| job["status"] == "completed" || job["status"] == "failed").await
}

pub(crate) fn counts(job: &Value) -> [i64; 5] {
    let c = &job["counts"];
    ["rows_read", "imported", "duplicates", "rejected", "pending"].map(|k| c[k].as_i64().unwrap())
}

/// `(date in WIB, amount, description)` of a person's transactions of one account, sorted.
pub(crate) async fn booked(api: &Api, token: &str, account: &str, expected: usize) -> Vec<(String, i64, String)> {
    let path = format!("/api/v1/transactions?account_id={account}&limit=200");
    let page = api.eventually(&path, token, |p| p["items"].as_array().is_some_and(|i| i.len() >= expected)).await;
    let mut rows: Vec<(String, i64, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let at: chrono::DateTime<chrono::Utc> = t["occurred_at"].as_str().unwrap().parse().unwrap();
            let wib = at.with_timezone(&arus_schemas::events::jakarta());
            (wib.format("%Y-%m-%d").to_string(), t["amount"].as_i64().unwrap(), t["description"].as_str().unwrap().to_owned())
        })
        .collect();
    rows.sort();
    assert_eq!(rows.len(), expected, "{rows:?}");
    rows
}

pub(crate) async fn new_account(api: &Api, token: &str, name: &str) -> String {
    let (status, body) = api.send(reqwest::Method::POST, "/api/v1/accounts", token, json!({"name": name, "kind": "bank", "institution": name})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    api.eventually(&format!("/api/v1/accounts/{id}"), token, |a| a["account_id"] == id.as_str()).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_import_once_with_correct_values_with_broker() {
    let api = Api::start("imports", |c| c.import_max_bytes = 1 << 20).await;
    api.register("rini@example.id").await;
    api.register("budi@example.id").await;
    let token = api.login("rini@example.id").await["access_token"].as_str().unwrap().to_owned();
    let budi = api.login("budi@example.id").await["access_token"].as_str().unwrap().to_owned();
    let mandiri = new_account(&api, &token, "Mandiri").await;
    let bca = new_account(&api, &token, "BCA").await;

    // Mandiri XLSX: values, signs, dates; two identical rows on one day are two transactions.
    let job = import(&api, &token, "mutasi-mandiri.xlsx", fixture("mandiri.xlsx"), &[("account_id", mandiri.clone())]).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!((job["format"].as_str(), job["layout"].as_str()), (Some("xlsx"), Some("mandiri_xlsx")));
    assert_eq!(counts(&job), [7, 6, 0, 1, 0]);
    assert_eq!(job["rejected_rows"][0]["line"], 12);
    let mandiri_id = job["id"].as_str().unwrap().to_owned();
    let rows = booked(&api, &token, &mandiri, 6).await;
    let expected = [
        ("2026-11-03", 1_500_000, "TRANSFER DARI SITI AMINAH"),
        ("2026-11-04", -52_500, "PEMBELIAN PULSA TELKOMSEL 0812xxxx"),
        ("2026-11-04", -52_500, "PEMBELIAN PULSA TELKOMSEL 0812xxxx"),
        ("2026-11-05", 1_235, "BUNGA"),
        ("2026-11-06", -12_500, "BIAYA ADM"),
        ("2026-11-07", -68_000, "QRIS MIE GACOAN"),
    ];
    assert_eq!(rows, expected.map(|(d, a, t)| (d.to_owned(), a, t.to_owned())));

    // The same file again: nothing new, every row a duplicate.
    let again = import(&api, &token, "mutasi-mandiri.xlsx", fixture("mandiri.xlsx"), &[("account_id", mandiri.clone())]).await;
    assert_eq!(counts(&again), [7, 0, 6, 1, 0], "{again}");

    // BCA, then a statement overlapping it by two rows: only the new row is imported.
    let first = import(&api, &token, "bca.csv", fixture("bca-personal.csv"), &[("account_id", bca.clone()), ("bank", "bca".into())]).await;
    assert_eq!(counts(&first), [6, 4, 0, 1, 1], "{first}");
    let overlap = "Periode : ,10/11/2026 - 25/11/2026\nTanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n\
        '10/11/2026,QRIS  MIE GACOAN,'0000,68000.00,DB,5382000.00\n\
        '15/11/2026,BIAYA ADM,'0000,10000.00,DB,5372000.00\n\
        '20/11/2026,KARTU DEBIT ALFAMART,'0000,25000.00,DB,5347000.00\n";
    let second = import(&api, &token, "bca-2.csv", overlap.as_bytes().to_vec(), &[("account_id", bca.clone())]).await;
    assert_eq!(counts(&second), [3, 1, 2, 0, 0], "{second}");
    let rows = booked(&api, &token, &bca, 5).await;
    assert_eq!(rows.iter().map(|r| (r.0.as_str(), r.1)).collect::<Vec<_>>(), [
        ("2026-11-02", -50_000), ("2026-11-05", 3_500_000), ("2026-11-10", -68_000), ("2026-11-15", -10_000), ("2026-11-20", -25_000),
    ]);

    // BNI and BRI workbooks, with no account.
    let bni = import(&api, &token, "bni.xlsx", fixture("bni.xlsx"), &[]).await;
    assert_eq!((bni["layout"].as_str(), counts(&bni)), (Some("bni"), [5, 4, 0, 1, 0]), "{bni}");
    let bri = import(&api, &token, "bri.xlsx", fixture("bri.xlsx"), &[("bank", "bri".into())]).await;
    assert_eq!((bri["layout"].as_str(), counts(&bri)), (Some("bri"), [4, 3, 0, 1, 0]), "{bri}");

    // A layout arus does not know: mapped once, then the account's saved mapping is used.
    let cashbook = new_account(&api, &token, "Koperasi").await;
    let custom = "Buku Kas\nTgl;Uraian;Masuk;Keluar\n01/11/2026;jual bakso;300.000;\n02/11/2026;beli daging;;150.000\n";
    let unknown = import(&api, &token, "kas.csv", custom.as_bytes().to_vec(), &[("account_id", cashbook.clone())]).await;
    assert_eq!((unknown["status"].as_str(), unknown["error"]["code"].as_str()), (Some("failed"), Some("unknown_layout")), "{unknown}");
    let mapping = json!({"date": "tgl", "description": ["uraian"], "credit": "masuk", "debit": "keluar"}).to_string();
    let mapped = import(&api, &token, "kas.csv", custom.as_bytes().to_vec(), &[("account_id", cashbook.clone()), ("mapping", mapping)]).await;
    assert_eq!((mapped["layout"].as_str(), counts(&mapped)), (Some("mapped"), [2, 2, 0, 0, 0]), "{mapped}");
    let next_month = "Tgl;Uraian;Masuk;Keluar\n03/11/2026;jual bakso;450.000;\n";
    let saved = import(&api, &token, "kas-2.csv", next_month.as_bytes().to_vec(), &[("account_id", cashbook.clone()), ("bank", "mapped".into())]).await;
    assert_eq!((saved["layout"].as_str(), counts(&saved)), (Some("mapped"), [1, 1, 0, 0, 0]), "{saved}");
    assert_eq!(booked(&api, &token, &cashbook, 3).await.iter().map(|r| r.1).sum::<i64>(), 300_000 - 150_000 + 450_000);

    // Rejected rows are dead letters with file, line and reason.
    let session = api.env.session().await;
    let sql = format!("SELECT count(*) FROM dlq WHERE id = 'import/{mandiri_id}/12' AND error LIKE 'mutasi-mandiri.xlsx line 12:%' AND job = 'imports'");
    wait_for(&session, &sql, 1, Duration::from_secs(20)).await;

    // Bad files: each its own error, at once or as a failed import.
    let (status, body) = upload(&api, &token, "scan.pdf", b"%PDF-1.7\n1 0 obj".to_vec(), &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("not_a_statement")), "{body}");
    let (status, body) = upload(&api, &token, "kosong.csv", Vec::new(), &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("empty")), "{body}");
    let (status, body) = upload(&api, &token, "a.csv", fixture("bca-personal.csv"), &[("bank", "bank-jago".into())]).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bank")), "{body}");
    let (status, body) = upload(&api, &token, "a.csv", fixture("bca-personal.csv"), &[("account_id", "not-mine".into())]).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("account_id")), "{body}");
    // Over the 1 MiB limit but within the form's allowance: refused while streamed to disk.
    let (status, body) = upload(&api, &token, "big.csv", vec![b'a'; (1 << 20) + (64 << 10)], &[]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")), "{body}");
    let r = api.client.post(api.url("/api/v1/imports")).bearer_auth(&token).multipart(Form::new().text("bank", "bca")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(two_gigabytes(&api, &token).await, 413);
    for (name, code) in [("encrypted.xlsx", "encrypted"), ("bomb.xlsx", "too_large")] {
        let job = import(&api, &token, name, fixture(name), &[]).await;
        assert_eq!((job["status"].as_str(), job["error"]["code"].as_str()), (Some("failed"), Some(code)), "{job}");
    }
    let mut cut = fixture("mandiri.xlsx");
    cut.truncate(cut.len() / 2);
    let job = import(&api, &token, "cut.xlsx", cut, &[]).await;
    assert_eq!(job["error"]["code"], "corrupt", "{job}");
    // Still up, and still importing.
    assert_eq!(api.client.get(api.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let last = import(&api, &token, "bca.csv", fixture("bca-personal.csv"), &[("account_id", bca.clone())]).await;
    assert_eq!(counts(&last), [6, 0, 4, 1, 1], "{last}");

    // The list: newest first, only one's own; another person cannot see them.
    let (status, list) = api.get("/api/v1/imports?limit=200", &token).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 13, "{list:?}");
    assert_eq!(list[0]["id"], last["id"]);
    assert!(list.iter().all(|j| j.get("rejected_rows").is_none()));
    let (status, failed) = api.get("/api/v1/imports?status=failed", &token).await;
    assert_eq!((status, failed.as_array().unwrap().len()), (StatusCode::OK, 4));
    assert_eq!(api.get("/api/v1/imports", &budi).await.1, json!([]));
    assert_eq!(api.get(&format!("/api/v1/imports/{mandiri_id}"), &budi).await.0, StatusCode::NOT_FOUND);

    // Every upload the handler saw is in the audit trail, refused ones too
    // (13 accepted, 6 refused; the one refused by its Content-Length before reading is not).
    let audited = "SELECT count(*) FROM audit_log WHERE action = 'import.requested'";
    wait_for(&session, audited, 19, Duration::from_secs(20)).await;
    assert_eq!(scalar(&session, &format!("{audited} AND outcome = 'failure'")).await, 6);

    // From the command line: the same file again is all duplicates; a new one is imported.
    let env = api.env.child_env();
    let user = api.get("/api/v1/me", &token).await.1["user_id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mandiri.xlsx");
    std::fs::write(&file, fixture("mandiri.xlsx")).unwrap();
    let out = std::process::Command::new(arus_bin())
        .args(["import", file.to_str().unwrap(), "--user", &user, "--account", &mandiri])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("duplicates") && said.lines().any(|l| l.trim_start().starts_with("duplicates") && l.trim_end().ends_with(" 6")), "{said}");
    assert!(said.contains("line 12"), "{said}");
    let file = dir.path().join("bni.xlsx");
    std::fs::write(&file, fixture("bni.xlsx")).unwrap();
    let out = std::process::Command::new(arus_bin())
        .args(["import", file.to_str().unwrap(), "--user", &user, "--bank", "bni", "--account", &mandiri])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.lines().any(|l| l.trim_start().starts_with("imported") && l.trim_end().ends_with(" 4")), "{said}");
    booked(&api, &token, &mandiri, 10).await;
    // A bad file from the command line: a failed import, and a non-zero exit.
    let file = dir.path().join("bomb.xlsx");
    std::fs::write(&file, fixture("bomb.xlsx")).unwrap();
    let out = std::process::Command::new(arus_bin())
        .args(["import", file.to_str().unwrap(), "--user", &user])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("zip bomb"), "{said}");
    api.stop().await;
}

/// Announces a 2 GB upload and sends a few bytes: the answer comes at once,
/// before any of it is read. Returns the status code.
async fn two_gigabytes(api: &Api, token: &str) -> u16 {
    let started = Instant::now();
    let addr = api.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/imports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 2147483648\r\n\r\n--XyZ\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut answer)).await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = String::from_utf8_lossy(&answer[..n]);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_runs_again_without_doubling_with_broker() {
    use arus_ingest::import::{media_path, Importer};
    use arus_schemas::imports::{ImportRequest, ImportStatus};
    use tokio_util::sync::CancellationToken;

    let env = crate::common::TestEnv::new("import-crash").await;
    let rows = 60_000;
    let mut csv = String::from("Tanggal Transaksi,Keterangan,Cabang,Jumlah,,Saldo\n");
    for i in 0..rows {
        csv.push_str(&format!("'{:02}/10/2026,QRIS WARUNG {},'0000,{}.00,DB,1.00\n", 1 + i % 28, i % 50, 1_000 + i % 7 * 500));
    }
    let importer = Importer::open(&env.config).await.unwrap();
    let import_id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now();
    let path = media_path(&import_id, now);
    let chunks = futures::stream::iter([Ok::<_, std::io::Error>(csv.into_bytes())]);
    let stored = importer.media().save(&path, chunks, u64::MAX).await.unwrap();
    let request = ImportRequest {
        schema_version: 1,
        import_id: import_id.clone(),
        user_id: "warung".into(),
        account_id: Some("kas".into()),
        bank: "bca".into(),
        mapping: None,
        file_name: "besar.csv".into(),
        media_path: path,
        size_bytes: stored.size,
        sha256: stored.sha256,
        requested_by: None,
        requested_at: now,
    };
    // The built-in classifier is trained once per process (seconds in a
    // debug build): before the worker starts, so enrich keeps up with it.
    tokio::task::spawn_blocking(arus_stream_jobs::enrich::starting_model).await.unwrap();
    let enrich_stop = CancellationToken::new();
    let enrich = {
        let (config, token) = (env.config.clone(), enrich_stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, token).await.unwrap() })
    };
    let start_worker = || {
        let (config, token) = (env.config.clone(), CancellationToken::new());
        let stop = token.clone();
        (tokio::spawn(async move { arus_stream_jobs::run_named("imports", &config, token).await.unwrap() }), stop)
    };
    let (worker, stop) = start_worker();
    importer.submit(&request).await.unwrap();

    // Stop the worker once some rows are in, well before all of them.
    let session = env.session().await;
    let count = "SELECT count(*) FROM transactions WHERE user_id = 'warung'";
    let seen = wait_for(&session, count, 1, Duration::from_secs(60)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), worker).await.unwrap().unwrap();
    let interrupted = importer.latest(&import_id).await.unwrap().unwrap();
    assert_eq!(interrupted.status, ImportStatus::Running, "the import finished before it could be interrupted ({seen} rows seen)");

    // A new worker runs it again from the start: every row once.
    let (worker, stop) = start_worker();
    let started = Instant::now();
    let job = loop {
        let job = importer.latest(&import_id).await.unwrap().unwrap();
        if job.status.is_final() {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the import did not finish: {job:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((job.status, job.rows_read, job.imported, job.duplicates), (ImportStatus::Completed, rows, rows, 0), "{job:?}");
    // A bound on liveness, not a speed test: CI runs other tests beside it.
    wait_for(&session, count, rows, Duration::from_secs(180)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(scalar(&session, count).await, rows);
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions WHERE user_id = 'warung'").await, rows);
    stop.cancel();
    enrich_stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), worker).await.unwrap().unwrap();
    tokio::time::timeout(Duration::from_secs(30), enrich).await.unwrap().unwrap();
}
