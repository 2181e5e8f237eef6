//! The lake and the media on S3: moto's server (PyPI, installed by
//! `deploy/pytools.sh`) speaks the S3 API on loopback. Concurrent commits
//! never overwrite each other (each is a conditional put of the next log
//! entry), and statements and photos go from upload to transactions with
//! nothing written under the local data directory.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arus_lakehouse::storage::object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions};
use arus_lakehouse::{AppendLog, Lake};
use arus_schemas::people::{RefreshEvent, RefreshTokenRecord};
use arus_schemas::{tables, Config};
use futures::TryStreamExt;

use crate::common::free_port;

/// A moto S3 server on loopback, one request at a time, stopped when dropped.
pub(crate) struct S3 {
    pub(crate) endpoint: String,
    _child: tokio::process::Child,
}

impl S3 {
    pub(crate) async fn start() -> S3 {
        let python = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/venv/bin/python"));
        assert!(python.exists(), "{} is missing: run `bash deploy/pytools.sh` (the test command does)", python.display());
        // moto behind a lock: its own server decides two concurrent
        // conditional puts of one key non-atomically (see moto_s3.py).
        let serial = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/moto_s3.py");
        let port = free_port();
        let child = tokio::process::Command::new(&python)
            .args([serial, "127.0.0.1", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while reqwest::get(format!("{endpoint}/moto-api/")).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "moto did not start on {endpoint}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        S3 { endpoint, _child: child }
    }

    /// Creates `bucket` (moto checks no signature on this call).
    pub(crate) async fn bucket(&self, bucket: &str) {
        let r = reqwest::Client::new().put(format!("{}/{bucket}", self.endpoint)).send().await.unwrap();
        assert!(r.status().is_success(), "creating {bucket}: {}", r.status());
    }

    /// Points `config`'s lake and media at `bucket`.
    pub(crate) fn configure(&self, config: &mut Config, bucket: &str) {
        config.lake_uri = format!("s3://{bucket}/lake");
        config.media_uri = format!("s3://{bucket}/media");
        config.s3_endpoint = self.endpoint.clone();
        config.s3_access_key_id = "arus-test".into();
        config.s3_secret_access_key = arus_schemas::config::Secret::new("arus-test-secret");
    }
}

fn token(writer: usize, commit: usize, row: usize) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: format!("w{writer}-c{commit}-r{row}"),
        family_id: format!("w{writer}"),
        user_id: "u".into(),
        event: RefreshEvent::Issued,
        at: chrono::Utc::now(),
        expires_at: None,
        reason: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_on_s3_never_overwrite_each_other() {
    let s3 = S3::start().await;
    s3.bucket("arus-commits").await;
    let mut config = Config::default();
    s3.configure(&mut config, "arus-commits");
    let lake = Lake::new(&config).unwrap();

    // The store refuses a second put of the same log entry: what makes a
    // commit by another writer a conflict rather than an overwrite.
    let (store, prefix) = arus_lakehouse::storage::open_store(lake.root(), lake.storage_options()).unwrap();
    let entry = prefix.clone().join("probe").join("00000000000000000000.json");
    let create = || PutOptions { mode: PutMode::Create, ..PutOptions::default() };
    store.put_opts(&entry, "first".into(), create()).await.unwrap();
    let second = store.put_opts(&entry, "second".into(), create()).await;
    assert!(matches!(second, Err(arus_lakehouse::storage::object_store::Error::AlreadyExists { .. })), "{second:?}");
    assert_eq!(store.get(&entry).await.unwrap().bytes().await.unwrap().as_ref(), b"first");
    // delta-rs commits by copying a temporary object to the entry's name
    // only if absent (a multipart upload completed under `If-None-Match`).
    let tmp = prefix.clone().join("probe").join("tmp-commit");
    store.put(&tmp, "second".into()).await.unwrap();
    let copied = store.copy_if_not_exists(&tmp, &entry).await;
    assert!(matches!(copied, Err(arus_lakehouse::storage::object_store::Error::AlreadyExists { .. })), "{copied:?}");
    assert_eq!(store.get(&entry).await.unwrap().bytes().await.unwrap().as_ref(), b"first");

    // Three writers, each with its own table handle, commit 8 times each
    // at once; every commit lands, in its own version.
    AppendLog::<RefreshTokenRecord>::open(&lake, &tables::REFRESH_TOKENS).await.unwrap();
    let (writers, commits, rows) = (3, 8, 5);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let lake = lake.clone();
        tasks.push(tokio::spawn(async move {
            let mut log = AppendLog::<RefreshTokenRecord>::open(&lake, &tables::REFRESH_TOKENS).await.unwrap();
            let mut versions = Vec::new();
            for c in 0..commits {
                let batch: Vec<_> = (0..rows).map(|r| token(w, c, r)).collect();
                versions.push(log.append_retrying(&batch).await.unwrap());
            }
            versions
        }));
    }
    let mut versions = BTreeSet::new();
    for task in tasks {
        for v in task.await.unwrap() {
            assert!(versions.insert(v), "version {v} was reported by two writers");
        }
    }
    assert_eq!(versions, (1..=(writers * commits) as u64).collect(), "one version per commit after the table's creation");
    let log = AppendLog::<RefreshTokenRecord>::open(&lake, &tables::REFRESH_TOKENS).await.unwrap();
    let found: BTreeSet<String> = log.rows().await.unwrap().into_iter().map(|r| r.token_hash).collect();
    assert_eq!(found.len(), writers * commits * rows, "every row of every commit");

    // The table lives in the bucket: log entries and data files.
    let listed: Vec<_> = store.list(Some(&prefix.clone().join("refresh_tokens"))).try_collect().await.unwrap();
    let logs = listed.iter().filter(|m| m.location.as_ref().contains("_delta_log/") && m.location.as_ref().ends_with(".json")).count();
    assert_eq!(logs, writers * commits + 1, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_and_photos_flow_through_s3_with_broker() {
    let s3 = S3::start().await;
    s3.bucket("arus-flow").await;
    let mut tables_config = Config::default();
    s3.configure(&mut tables_config, "arus-flow");
    Lake::new(&tables_config).unwrap().ensure_all().await.unwrap();
    let api = crate::serving::Api::start_with("s3", &["enrich", "accounts", "audit", "dlq", "imports", "ocr"], |c| {
        s3.configure(c, "arus-flow");
        c.ocr_max_pixels = 40_000_000;
    })
    .await;
    api.register("sari@example.id").await;
    let token = api.login("sari@example.id").await["access_token"].as_str().unwrap().to_owned();
    let account = crate::imports::new_account(&api, &token, "Mandiri").await;

    // An XLSX statement: stored in the bucket, read back by the imports job from there.
    let job = crate::imports::import(&api, &token, "mutasi.xlsx", crate::imports::fixture("mandiri.xlsx"), &[("account_id", account.clone())]).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(crate::imports::counts(&job), [7, 6, 0, 1, 0]);
    let rows = crate::imports::booked(&api, &token, &account, 6).await;
    assert!(rows.contains(&("2026-11-03".to_owned(), 1_500_000, "TRANSFER DARI SITI AMINAH".to_owned())), "{rows:?}");

    // A receipt photo: read by the ocr job from the bucket, served back from it.
    let photo = crate::receipts::typed(crate::receipts::RECEIPT);
    let receipt = crate::receipts::read(&api, &token, "struk.png", photo.clone(), &[]).await;
    assert_eq!(receipt["status"], "parsed", "{receipt}");
    let id = receipt["id"].as_str().unwrap();
    let image = api.client.get(api.url(&format!("/api/v1/receipts/{id}/image"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(image.bytes().await.unwrap().as_ref(), photo.as_slice(), "the photo as uploaded");

    // Both files are objects in the bucket, and nothing went to the local disk.
    let (store, prefix) = arus_lakehouse::storage::open_store(&arus_lakehouse::storage::root_url(&api.env.config.media_uri).unwrap(), &arus_lakehouse::storage::storage_options(&api.env.config).unwrap()).unwrap();
    let media: Vec<String> = store.list(Some(&prefix)).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    assert!(media.iter().any(|m| m.contains("/imports/")) && media.iter().any(|m| m.contains("/photos/")), "{media:?}");
    // (The test harness made empty local tables first: they hold no data.)
    let data = api.env.config.data_dir.clone();
    let parquet: Vec<_> = walk(&data.join("lake")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect();
    assert_eq!((parquet, walk(&data.join("media"))), (vec![], vec![]), "data files on the local disk");
    let session = arus_lakehouse::LakeSession::open(&Lake::new(&api.env.config).unwrap(), Duration::ZERO).await.unwrap();
    let booked = crate::common::scalar(&session, "SELECT count(*) FROM transactions").await;
    assert_eq!(booked, 7, "six statement rows and the receipt, read from the bucket");
    api.shutdown.cancel();
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
