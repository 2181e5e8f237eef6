//! `arus up` (embedded tansu with sqlite storage, jobs, API) stopped and
//! started again on the same data directory loses nothing and duplicates
//! nothing, after a clean stop and after a SIGKILL; exercised over HTTP on
//! real sockets, as a person created with `arus user create` who logs in.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::common::{arus_bin, free_port, scalar};

struct Up {
    child: Child,
    base: String,
    token: String,
}

/// Creates the person the test acts as (before the first `arus up`, as an
/// operator would) and returns their login.
async fn create_user(data: &std::path::Path) -> (String, String) {
    let mut child = Command::new(arus_bin())
        .args(["user", "create", "--email", "warung@example.id", "--name", "Warung Satu", "--password-stdin"])
        .env("ARUS_DATA_DIR", data)
        .env("ARUS_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    child.stdin.take().unwrap().write_all(b"kata-sandi-warung\n").await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let user_id = text.split_whitespace().nth(1).unwrap().to_owned();
    (user_id, "warung@example.id".to_owned())
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": "warung@example.id", "password": "kata-sandi-warung"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn start_up(data: &std::path::Path, broker_port: u16, http_port: u16, run: usize) -> Up {
    let log = std::fs::File::create(data.join(format!("up-{run}.log"))).unwrap();
    let child = Command::new(arus_bin())
        .arg("up")
        .env_remove("ARUS_KAFKA_BROKERS")
        .env("ARUS_DATA_DIR", data)
        .env("ARUS_EMBEDDED_BROKER_PORT", broker_port.to_string())
        .env("ARUS_EMBEDDED_BROKER_STORAGE", "sqlite")
        .env("ARUS_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .env("ARUS_BATCH_MAX_LATENCY_MS", "200")
        // Compaction every second, beside the jobs and the API, must not lose or double a row.
        .env("ARUS_OPTIMIZE_INTERVAL_S", "1")
        .env("ARUS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{http_port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                let token = login(&client, &base).await;
                return Up { child, base, token };
            }
        }
        let log = std::fs::read_to_string(data.join(format!("up-{run}.log"))).unwrap_or_default();
        assert!(started.elapsed() < Duration::from_secs(60), "arus up was not ready within 60 s:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stop(mut up: Up) {
    let pid = up.child.id().unwrap() as i32;
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(40), up.child.wait()).await.expect("arus up stops on SIGTERM").unwrap();
    assert!(status.success(), "arus up exited with {status}");
}

/// SIGKILL: no clean shutdown; the embedded broker is left running.
async fn kill_hard(mut up: Up) {
    up.child.start_kill().unwrap();
    up.child.wait().await.unwrap();
}

async fn post(client: &reqwest::Client, up: &Up, i: usize) -> String {
    let body = json!({"idempotency_key": format!("entry-{i}"), "amount": -1000 * (i as i64 + 1), "description": format!("beli stok {i}")});
    let r = client.post(format!("{}/api/v1/transactions", up.base)).bearer_auth(&up.token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn listed(client: &reqwest::Client, up: &Up) -> Vec<String> {
    let r = client.get(format!("{}/api/v1/transactions?limit=500", up.base)).bearer_auth(&up.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    page["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

async fn wait_listed(client: &reqwest::Client, up: &Up, n: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let ids = listed(client, up).await;
        if ids.len() >= n || started.elapsed() > Duration::from_secs(60) {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_arus_up_loses_and_doubles_nothing() {
    let data = tempfile::tempdir().unwrap();
    let (broker_port, http_port) = (free_port(), free_port());
    let client = reqwest::Client::new();
    let (user_id, _) = create_user(data.path()).await;

    let up = start_up(data.path(), broker_port, http_port, 0).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(post(&client, &up, i).await);
    }
    // Invalid input is refused at once, field by field.
    let r = client
        .post(format!("{}/api/v1/transactions", up.base))
        .bearer_auth(&up.token)
        .header("accept-language", "id-ID,id;q=0.9")
        .json(&json!({"amount": 0, "currency": "rupiah"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let error: Value = r.json().await.unwrap();
    let fields: Vec<_> = error["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["amount", "currency"]);
    assert_eq!(error["error"]["fields"][0]["message"], "jumlah tidak boleh nol");
    let first = wait_listed(&client, &up, 40).await;
    assert_eq!(first.len(), 40);
    // Posted just before the stop: must survive it.
    for i in 40..60 {
        ids.push(post(&client, &up, i).await);
    }
    stop(up).await;

    // Run 1: retries of accepted entries (same keys) and new ones, then a
    // crash right after they were accepted.
    let up = start_up(data.path(), broker_port, http_port, 1).await;
    for i in 30..70 {
        let id = post(&client, &up, i).await;
        if i >= 60 {
            ids.push(id);
        }
    }
    kill_hard(up).await;

    // Run 2 stops the broker the crash left behind and carries on.
    let up = start_up(data.path(), broker_port, http_port, 2).await;
    for i in 65..80 {
        let id = post(&client, &up, i).await;
        if i >= 70 {
            ids.push(id);
        }
    }
    let after = wait_listed(&client, &up, 80).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_settle = listed(&client, &up).await;
    // The upkeep round (every second here) reports the tables' shape.
    let metrics = client.get(format!("{}/metrics", up.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("arus_lake_files{table=\"transactions\"}"), "{metrics}");
    stop(up).await;

    let mut expected = ids.clone();
    expected.sort();
    let mut got = after_settle.clone();
    got.sort();
    assert_eq!(after.len(), 80);
    assert_eq!(got, expected, "every accepted entry exactly once");

    // And straight from the Delta table.
    let config = arus_schemas::Config { data_dir: data.path().to_owned(), ..Default::default() };
    let session = arus_lakehouse::LakeSession::open(&arus_lakehouse::Lake::new(&config).unwrap(), Duration::ZERO).await.unwrap();
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 80);
    assert_eq!(scalar(&session, &format!("SELECT count(*) FROM transactions WHERE user_id = '{user_id}'")).await, 80);
    // Every login of the three runs is in the audit trail, and the bootstrap too.
    assert!(scalar(&session, "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND outcome = 'success'").await >= 3);
    assert_eq!(scalar(&session, "SELECT count(*) FROM audit_log WHERE action = 'user.created'").await, 1);
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, 80);
    // The compaction rounds ran and none failed.
    let table = arus_lakehouse::Lake::new(&config).unwrap().open_or_create(&arus_schemas::tables::TRANSACTIONS).await.unwrap();
    let history: Vec<_> = futures::TryStreamExt::try_collect(table.history(None)).await.unwrap();
    let optimized = history.into_iter().filter(|c| c.operation.as_deref() == Some("OPTIMIZE")).count();
    assert!(optimized >= 1, "no OPTIMIZE commit in the transactions log");
    let stats = arus_lakehouse::maintenance::stats(&arus_schemas::tables::TRANSACTIONS, &table).await;
    assert!(stats.last_checkpoint.is_some(), "the upkeep round checkpoints: {stats:?}");
    for run in 0..3 {
        let log = std::fs::read_to_string(data.path().join(format!("up-{run}.log"))).unwrap_or_default();
        for failed in ["optimize failed", "vacuum or checkpoint failed"] {
            assert!(!log.contains(failed), "run {run}: {log}");
        }
    }
}
