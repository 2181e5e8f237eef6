//! Shared set-up: an isolated namespace (topic and group prefix, data
//! directory) per test on the shared broker, and waiting on the lake.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array};
use arus_lakehouse::{Lake, LakeSession};
use arus_schemas::Config;

/// The broker `deploy/test.sh` started.
pub fn brokers() -> String {
    std::env::var("ARUS_KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!("tests named *_with_broker need a Kafka-protocol broker: run them with `bash deploy/test.sh`, which starts tansu and sets ARUS_KAFKA_BROKERS")
    })
}

pub struct TestEnv {
    pub config: Config,
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    /// A namespace of its own on the shared broker, with topics and tables created.
    pub async fn new(name: &str) -> TestEnv {
        TestEnv::on(name, brokers()).await
    }

    /// The same on the broker at `brokers`.
    pub async fn on(name: &str, brokers: String) -> TestEnv {
        // Warnings of the jobs a test runs in-process, shown for failing tests; RUST_LOG=info for
        // more. Only warnings by default: CI keeps the head and tail of its output, and a failing
        // test's info lines pushed its panic message out of both. The kernel's "No files in log
        // segment" is how a table not created yet looks, so it is no error here.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,buoyant_kernel=off,deltalake_core=error,datafusion=error".into()))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let tag = format!("{name}-{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let config = Config {
            kafka_brokers: brokers,
            data_dir: dir.path().to_owned(),
            topic_prefix: tag.clone(),
            group_prefix: tag,
            batch_max_latency_ms: 200,
            ..Config::default()
        };
        arus::up::create_topics(&config).await.unwrap();
        Lake::new(&config).unwrap().ensure_all().await.unwrap();
        TestEnv { config, dir }
    }

    /// `ARUS_*` variables that give a child `arus` process this configuration.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ARUS_KAFKA_BROKERS", self.config.kafka_brokers.clone()),
            ("ARUS_DATA_DIR", self.config.data_dir.display().to_string()),
            ("ARUS_TOPIC_PREFIX", self.config.topic_prefix.clone()),
            ("ARUS_GROUP_PREFIX", self.config.group_prefix.clone()),
            ("ARUS_BATCH_MAX_LATENCY_MS", self.config.batch_max_latency_ms.to_string()),
            ("ARUS_LOG", "warn,arus_stream_jobs=info,arus_lakehouse=info".to_owned()),
        ]
    }

    /// `arus job {job}` as a child process with this configuration and
    /// `extra` settings, logging to `{job}-{run}.log` (shown if the test
    /// fails). It reads every partition itself: tansu 0.6 does not reassign a
    /// SIGKILLed group member's partitions (the new member stays with none).
    pub fn start_job(&self, job: &str, run: usize, extra: &[(&str, String)]) -> tokio::process::Child {
        let log = std::fs::File::create(self.dir.path().join(format!("{job}-{run}.log"))).unwrap();
        tokio::process::Command::new(arus_bin())
            .args(["job", job])
            .envs(self.child_env())
            .env("ARUS_CONSUMER_MODE", "assign")
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    pub async fn session(&self) -> LakeSession {
        LakeSession::open(&Lake::new(&self.config).unwrap(), Duration::ZERO).await.unwrap()
    }
}

impl Drop for TestEnv {
    /// On failure, shows what child processes logged (the directory goes away).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for entry in std::fs::read_dir(self.dir.path()).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<_> = text.lines().rev().take(150).collect();
                eprintln!("--- {} (last 150 lines) ---", path.display());
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// Column `index` of every batch as strings (DataFusion may hand back
/// `Utf8View`; this reads either).
pub fn strings(batches: &[arrow::record_batch::RecordBatch], index: usize) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let column = arrow::compute::cast(batch.column(index), &arrow::datatypes::DataType::Utf8).unwrap();
        let column = column.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        out.extend((0..column.len()).map(|i| column.value(i).to_owned()));
    }
    out
}

/// The single integer of a one-row, one-column query.
pub async fn scalar(session: &LakeSession, sql: &str) -> i64 {
    let batches = session.sql(sql).await.unwrap();
    let column = batches[0].column(0);
    let values = column.as_any().downcast_ref::<Int64Array>().expect("an Int64 result");
    values.value(0)
}

/// Polls `sql` (one integer) until it reaches `target`, or panics after `timeout`.
pub async fn wait_for(session: &LakeSession, sql: &str, target: i64, timeout: Duration) -> i64 {
    let started = Instant::now();
    loop {
        let value = scalar(session, sql).await;
        if value >= target {
            return value;
        }
        assert!(started.elapsed() < timeout, "`{sql}` reached {value} of {target} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `arus` binary built for these tests.
pub fn arus_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_arus"))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A job of this process, stopped by cancelling its token.
pub struct Running(tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>);

/// Runs job `name` in this process until [`Running::stop`].
pub fn start_job(config: &Config, name: &'static str) -> Running {
    let (config, token) = (config.clone(), tokio_util::sync::CancellationToken::new());
    let stop = token.clone();
    Running(stop, tokio::spawn(async move { arus_stream_jobs::run_named(name, &config, token).await.unwrap_or_else(|e| panic!("{name}: {e}")); }))
}

impl Running {
    pub async fn stop(self) {
        self.0.cancel();
        self.1.await.unwrap();
    }
}

/// Waits until `job` has committed past `count` messages of `topics` in `table`.
pub async fn wait_committed(config: &Config, job: &str, table: &'static arus_schemas::tables::TableDef, topics: &[&str], count: i64) {
    let started = Instant::now();
    loop {
        let done = arus::lending::committed_on(config, job, table, topics).await.unwrap();
        if done >= count {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{job} committed {done} of {count} messages of {topics:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many times the reliability scenarios kill a job: `ARUS_RELIABILITY_KILLS`
/// (`bash bench/reliability/run.sh` sets 10), else 3 (the quick part in CI).
pub fn kills() -> usize {
    std::env::var("ARUS_RELIABILITY_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// One row of the reliability summary: printed, and appended to
/// `target/tmp/reliability.tsv`, which `bench/reliability/run.sh` prints as a table.
pub fn record(scenario: &str, events: i64, expected: i64, found: i64, duplicates: i64, lost: i64) {
    use std::io::Write;
    let line = format!("{scenario}\t{events}\t{expected}\t{found}\t{duplicates}\t{lost}");
    eprintln!("reliability: {line}");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reliability.tsv");
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

/// `count(*)` and `count(DISTINCT key)` of `table`: found rows and duplicates.
pub async fn found_and_duplicates(session: &LakeSession, table: &str, key: &str) -> (i64, i64) {
    let all = scalar(session, &format!("SELECT count(*) FROM {table}")).await;
    let distinct = scalar(session, &format!("SELECT count(DISTINCT {key}) FROM {table}")).await;
    (distinct, all - distinct)
}
