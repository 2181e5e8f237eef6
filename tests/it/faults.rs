//! Faults a deployment meets, with `arus job` as a child process and its
//! `/readyz` on `ARUS_JOB_HTTP_ADDR`: a full disk under the lake, and the
//! broker gone for 30 s mid-stream.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use arus_lakehouse::{Kafka, Lake};
use arus_schemas::{tables, topics};

use crate::common::{free_port, scalar, wait_for, TestEnv};

/// `/readyz` of a job process: `(status, body)`, or `None` while it does not answer.
async fn readyz(addr: &str) -> Option<(u16, serde_json::Value)> {
    let r = reqwest::Client::new().get(format!("http://{addr}/readyz")).timeout(Duration::from_secs(5)).send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

async fn wait_ready(addr: &str, ready: bool, timeout: Duration) -> serde_json::Value {
    let started = Instant::now();
    loop {
        if let Some((status, body)) = readyz(addr).await {
            if (status == 200) == ready {
                return body;
            }
        }
        assert!(started.elapsed() < timeout, "/readyz of {addr} did not become {} within {timeout:?}", if ready { "ready" } else { "not ready" });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A tmpfs of `mib` MiB at `dir` (needs CAP_SYS_ADMIN, as root in CI), unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, mib: u32) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"]).arg(dir).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` to the last byte with `dir/filler`.
fn fill(dir: &Path) {
    let mut file = std::fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0u8; 64 << 10];
    loop {
        if file.write_all(&block).is_err() {
            break;
        }
    }
    // What a 64 KiB block could not take.
    while file.write_all(&[0u8; 512]).is_ok() {}
    let _ = file.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_commits_and_readiness_until_space_returns_with_broker() {
    let mut env = TestEnv::new("diskfull").await;
    let lake_dir = env.dir.path().join("small-disk");
    let _tmpfs = match Tmpfs::mount(&lake_dir, 16) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("NOT RUN: a small disk cannot be mounted here ({e}); the test needs root");
            crate::common::record("lake disk full (NOT RUN: no tmpfs)", 0, 0, 0, 0, 0);
            return;
        }
    };
    env.config.lake_uri = lake_dir.join("lake").display().to_string();
    Lake::new(&env.config).unwrap().ensure_all().await.unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut job = env.start_job("enrich", 0, &[("ARUS_LAKE_URI", env.config.lake_uri.clone()), ("ARUS_JOB_HTTP_ADDR", addr.clone())]);
    wait_ready(&addr, true, Duration::from_secs(60)).await;

    let producer = Kafka::new(&env.config).unwrap().producer().unwrap();
    let now = chrono::Utc::now();
    let publish = |from: u64, to: u64| {
        let (producer, config) = (producer.clone(), env.config.clone());
        async move { arus::demo::publish(&producer, &config, (from..to).map(|i| arus::demo::synthetic("full", i, 30, now)).collect()).await.unwrap() }
    };
    let session = env.session().await;
    publish(0, 2_000).await;
    wait_for(&session, "SELECT count(*) FROM transactions", 2_000, Duration::from_secs(60)).await;
    let stored = || arus::lending::committed_on(&env.config, "enrich", &tables::TRANSACTIONS, &[topics::TXN_RAW]);
    let before = stored().await.unwrap();

    // The disk fills up; more events arrive.
    fill(&lake_dir);
    publish(2_000, 5_000).await;
    let body = wait_ready(&addr, false, Duration::from_secs(60)).await;
    eprintln!("not ready while full: {body}");
    let failing = body["checks"].as_array().unwrap().iter().any(|c| c["name"] == "job enrich" && c["ok"] == false);
    assert!(failing, "{body}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(stored().await.unwrap(), before, "no position committed while the disk is full");
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 2_000, "no rows committed while the disk is full");
    assert!(job.try_wait().unwrap().is_none(), "the job keeps running");

    // Space returns: the job commits again by itself, from where it stopped.
    std::fs::remove_file(lake_dir.join("filler")).unwrap();
    wait_ready(&addr, true, Duration::from_secs(60)).await;
    wait_for(&session, "SELECT count(*) FROM transactions", 5_000, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    job.start_kill().unwrap();
    job.wait().await.unwrap();
    let (found, duplicates) = crate::common::found_and_duplicates(&session, "transactions", "id").await;
    crate::common::record("lake disk full, then space back", 5_000, 5_000, found, duplicates, 5_000 - found);
    assert_eq!(scalar(&session, "SELECT count(*) FROM transactions").await, 5_000, "no duplicate");
    assert_eq!(scalar(&session, "SELECT count(DISTINCT id) FROM transactions").await, 5_000, "none missing");
    assert_eq!(stored().await.unwrap(), 5_000, "every position committed once");
}

/// A broker of this test's own behind a TCP proxy the test can cut: tansu
/// (memory storage) listens on one port and advertises the proxy's, so
/// every client connection goes through the proxy. Cut, the proxy drops
/// every connection and refuses new ones, which is what clients see of a
/// stopped broker; restored, the broker is back with everything it had,
/// as a broker with persistent storage comes back. (tansu 0.6's SQLite
/// engine cannot be restarted under a consumer group: it fails to read the
/// group state it wrote.)
struct CuttableBroker {
    proxy: std::net::SocketAddr,
    up: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    tansu: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl CuttableBroker {
    async fn start() -> CuttableBroker {
        let dir = tempfile::tempdir().unwrap();
        let (inner, proxy) = (free_port(), free_port());
        let tansu = std::env::var("ARUS_TANSU_BIN").unwrap_or_else(|_| "tansu".into());
        let tansu = tokio::process::Command::new(tansu)
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .args(["broker", "--listener-url", &format!("tcp://127.0.0.1:{inner}"), "--advertised-listener-url", &format!("tcp://127.0.0.1:{proxy}"), "--storage-engine", "memory://tansu/"])
            .stdout(std::fs::File::create(dir.path().join("tansu.log")).unwrap())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("tansu (deploy/kafka-dev.sh install)");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", inner)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "tansu did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (up, _) = tokio::sync::watch::channel(true);
        let up = std::sync::Arc::new(up);
        let proxy_addr = std::net::SocketAddr::from(([127, 0, 0, 1], proxy));
        let state = std::sync::Arc::clone(&up);
        tokio::spawn(async move {
            loop {
                // Listening only while up: a cut broker refuses connections.
                let mut ups = state.subscribe();
                while !*ups.borrow_and_update() {
                    ups.changed().await.unwrap();
                }
                let listener = tokio::net::TcpListener::bind(proxy_addr).await.unwrap();
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = ups.changed() => break,
                    };
                    let Ok((mut client, _)) = accepted else { continue };
                    let mut cut = state.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", inner)).await else { return };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.wait_for(|up| !*up) => {}
                        }
                    });
                }
            }
        });
        let started = Instant::now();
        while tokio::net::TcpStream::connect(proxy_addr).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "the proxy did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        CuttableBroker { proxy: proxy_addr, up, tansu, _dir: dir }
    }

    fn brokers(&self) -> String {
        self.proxy.to_string()
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_gone_for_30_s_mid_stream_loses_nothing_with_broker() {
    const EVENTS: u64 = 6_000;
    let mut broker = CuttableBroker::start().await;
    let env = TestEnv::on("outage", broker.brokers()).await;
    let api = crate::serving::Api::start_in(env, &["accounts", "audit", "dlq"], |_| {}).await;
    api.register("sari@example.id").await;
    let token = api.login("sari@example.id").await["access_token"].as_str().unwrap().to_owned();
    let job_addr = format!("127.0.0.1:{}", free_port());
    let mut job = api.env.start_job("enrich", 0, &[("ARUS_JOB_HTTP_ADDR", job_addr.clone())]);
    wait_ready(&job_addr, true, Duration::from_secs(60)).await;

    // Events stream in; a chunk the broker could not take is sent again
    // (the same events: their idempotency keys keep them single).
    let producer = Kafka::new(&api.env.config).unwrap().producer().unwrap();
    let now = chrono::Utc::now();
    let streamer = {
        let (producer, config) = (producer.clone(), api.env.config.clone());
        tokio::spawn(async move {
            let mut resent = 0;
            for chunk in 0..60u64 {
                let events = || (chunk * 100..(chunk + 1) * 100).map(|i| arus::demo::synthetic("outage", i, 20, now)).collect::<Vec<_>>();
                while let Err(e) = arus::demo::publish(&producer, &config, events()).await {
                    eprintln!("chunk {chunk} not taken ({e}); sending it again");
                    resent += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            resent
        })
    };
    // Cut mid-stream: once some rows have landed.
    let before = wait_for(&api.env.session().await, "SELECT count(*) FROM transactions", 500, Duration::from_secs(60)).await;

    // The broker goes away for 30 s.
    broker.set_up(false);
    let down = Instant::now();
    while tokio::net::TcpStream::connect(broker.proxy).await.is_ok() {
        assert!(down.elapsed() < Duration::from_secs(5), "connections are still taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let serve_down = wait_ready_at(&api.url("/readyz"), false, Duration::from_secs(20)).await;
    assert!(serve_down["checks"].as_array().unwrap().iter().any(|c| c["name"] == "kafka" && c["ok"] == false), "{serve_down}");
    let job_down = wait_ready(&job_addr, false, Duration::from_secs(20)).await;
    eprintln!("while the broker is down: serve {serve_down}\njob {job_down}");
    // Reads go on from the lake.
    let (status, page) = api.get("/api/v1/transactions?limit=5", &token).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    let (status, _) = api.get("/api/v1/dashboard/summary", &token).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;
    broker.set_up(true);
    eprintln!("broker back after {:?}", down.elapsed());

    // Everything recovers by itself.
    wait_ready(&job_addr, true, Duration::from_secs(120)).await;
    wait_ready_at(&api.url("/readyz"), true, Duration::from_secs(60)).await;
    let resent = streamer.await.unwrap();
    let session = api.env.session().await;
    wait_for(&session, "SELECT count(DISTINCT id) FROM transactions", EVENTS as i64, Duration::from_secs(180)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    job.start_kill().unwrap();
    job.wait().await.unwrap();
    let (found, duplicates) = crate::common::found_and_duplicates(&session, "transactions", "id").await;
    crate::common::record("broker stopped 30 s mid-stream", EVENTS as i64, EVENTS as i64, found, duplicates, EVENTS as i64 - found);
    eprintln!("{before} rows before the outage; {resent} chunk(s) sent again");
    assert_eq!((found, duplicates), (EVENTS as i64, 0));
    api.stop().await;
    let _ = broker.tansu.start_kill();
}

/// `wait_ready` for a full `/readyz` URL.
async fn wait_ready_at(url: &str, ready: bool, timeout: Duration) -> serde_json::Value {
    wait_ready(url.trim_start_matches("http://").trim_end_matches("/readyz"), ready, timeout).await
}
