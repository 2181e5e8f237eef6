//! `arus bench api`: the HTTP API under load. Fills `transactions` through
//! the real pipeline (synthetic `TxnRaw` → broker → `enrich` → Delta, so the
//! table has the file layout streaming gives it), stores the people, starts
//! the API in this process and points wrk (a separate process, Debian
//! package `wrk`) at the first page of `GET /api/v1/transactions`, each
//! request carrying the token of the next of `--users` people.
//!
//! Two runs: an open one (as many requests as `--connections` keep going)
//! and a paced one at `--rate` requests/s; both print requests/s and the
//! latency percentiles wrk measured. Both are made twice: on the table as
//! streaming wrote it (every file holds everyone's rows), then after
//! `arus lake optimize` (one file per month, rows clustered by person),
//! which `arus up` runs every `optimize_interval_s`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arus_lakehouse::{AppendLog, Kafka, Lake};
use arus_schemas::{tables, topics, Config, Role, UserRecord};
use arus_serving::auth::tokens::TokenKeys;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::pipeline::{produce_synthetic, wait_for_rows};
use crate::broker::EmbeddedBroker;

/// The wrk script, kept in `bench/wrk/` and built into the binary.
pub(super) const SCRIPT: &str = include_str!("../../bench/wrk/people.lua");

#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// Rows in `transactions`.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// People the rows and the requests are spread over.
    #[arg(long, default_value_t = 1_000)]
    pub users: u64,
    #[command(flatten)]
    pub load: Load,
    /// Page size asked for.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// Keep the data here and reuse it on the next run (default: a
    /// temporary directory, removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Port of the benchmark's own broker.
    #[arg(long, default_value_t = 19193)]
    pub port: u16,
}

/// What one wrk run printed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WrkFigures {
    pub requests: u64,
    pub requests_per_s: f64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub non_2xx: u64,
    pub socket_errors: u64,
}

pub async fn run(config: Config, args: ApiArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are only meaningful with `cargo run --release`");
    }
    args.load.check()?;
    let (dir, temporary) = match &args.dir {
        Some(dir) => (std::path::absolute(dir)?, false),
        None => (std::env::temp_dir().join(format!("arus-bench-api-{}", std::process::id())), true),
    };
    let broker = EmbeddedBroker::start(&config.tansu_bin, &dir.join("kafka"), args.port, "memory").await?;
    let config = super::api_config(&config, &broker, &dir);
    let result = measure(&config, &args, &dir).await;
    broker.stop().await?;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let runs = result?;
    println!(
        "\narus bench api: GET /api/v1/transactions?limit={} · {} rows · {} people · {} s per run · {} connections · {} cores",
        args.limit, args.rows, args.users, args.load.seconds, args.load.connections,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{:<12} {:<12} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7}", "layout", "run", "files", "requests", "req/s", "p50", "p90", "p99", "max", "non-2xx", "errors");
    for run in &runs {
        for (name, f) in [("open".to_owned(), &run.open), (format!("paced {}/s", args.load.rate), &run.paced)] {
            println!(
                "{:<12} {name:<12} {:>6} {:>9} {:>9.1} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>8} {:>7}",
                run.layout, run.files, f.requests, f.requests_per_s, ms(f.p50), ms(f.p90), ms(f.p99), ms(f.max), f.non_2xx, f.socket_errors
            );
        }
    }
    for run in &runs {
        let met = run.paced.p99 <= Duration::from_millis(50) && run.paced.requests_per_s >= args.load.rate as f64 * 0.95;
        println!(
            "target p99 ≤ 50 ms at {} req/s, {} layout: {} (p99 {:.1} ms at {:.1} req/s)",
            args.load.rate,
            run.layout,
            if met { "met" } else { "NOT met" },
            ms(run.paced.p99),
            run.paced.requests_per_s
        );
    }
    if runs.iter().any(|r| r.open.non_2xx + r.paced.non_2xx + r.open.socket_errors + r.paced.socket_errors > 0) {
        bail!("some requests failed (see non-2xx and errors above)");
    }
    Ok(())
}

/// The two wrk runs on one table layout.
struct LayoutRuns {
    layout: &'static str,
    files: usize,
    open: WrkFigures,
    paced: WrkFigures,
}

async fn measure(config: &Config, args: &ApiArgs, dir: &Path) -> Result<Vec<LayoutRuns>> {
    crate::up::create_topics(config).await?;
    let lake = Lake::new(config)?;
    lake.ensure_all().await?;
    let loaded = load_transactions(config, &lake, args).await?;
    let people: Vec<Person> = (0..args.users).map(Person::user).collect();
    store_people(&lake, &people).await?;

    let shutdown = CancellationToken::new();
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let server = {
        let (config, shutdown) = (config.clone(), shutdown.clone());
        tokio::spawn(async move { arus_serving::serve(&config, shutdown, Some(bound_tx)).await })
    };
    let addr = tokio::time::timeout(Duration::from_secs(120), bound_rx).await.context("the API did not start")??;
    let tokens = dir.join("wrk-tokens.txt");
    write_tokens(config, &people, &tokens)?;
    let script = dir.join("wrk-people.lua");
    std::fs::write(&script, SCRIPT)?;
    let url = format!("http://{addr}/api/v1/transactions?limit={}", args.limit);
    check_answers(&url, &tokens, args.limit).await?;

    let mut runs = Vec::new();
    // Rows kept from an earlier run (`--dir`) may already be optimized.
    let first = if loaded { "streamed" } else { "as found" };
    runs.push(load(args, &url, &script, &tokens, first, transaction_files(&lake).await?).await?);
    // What `arus up` does every optimize_interval_s, here while the API runs.
    eprintln!("arus lake optimize…");
    let started = Instant::now();
    let reports = arus_lakehouse::maintenance::optimize(&lake, &tables::TRANSACTIONS).await?;
    eprintln!("{} partitions rewritten in {:.1?}", reports.len(), started.elapsed());
    // Let the API's next table refresh see the new version.
    tokio::time::sleep(Duration::from_millis(config.table_refresh_ms + 500)).await;
    runs.push(load(args, &url, &script, &tokens, "optimized", transaction_files(&lake).await?).await?);
    shutdown.cancel();
    server.await??;
    Ok(runs)
}

/// Warm-up, then the open and the paced run.
async fn load(args: &ApiArgs, url: &str, script: &Path, tokens: &Path, layout: &'static str, files: usize) -> Result<LayoutRuns> {
    let wrk = &args.load;
    eprintln!("[{layout}: {files} files] warming up (5 s)…");
    wrk.run(url, script, tokens, 5, None).await?;
    eprintln!("[{layout}] open run: {} connections for {} s…", args.load.connections, args.load.seconds);
    let open = wrk.run(url, script, tokens, args.load.seconds, None).await?;
    eprintln!("[{layout}] paced run: {} requests/s for {} s…", args.load.rate, args.load.seconds);
    let paced = wrk.run(url, script, tokens, args.load.seconds, Some(args.load.rate)).await?;
    Ok(LayoutRuns { layout, files, open, paced })
}

async fn transaction_files(lake: &Lake) -> Result<usize> {
    Ok(lake.stats().await?.into_iter().find(|t| t.table == "transactions").map_or(0, |t| t.files as usize))
}

/// Fills `transactions` to `args.rows` rows through the broker and
/// `enrich`; false when it held them already.
async fn load_transactions(config: &Config, lake: &Lake, args: &ApiArgs) -> Result<bool> {
    let present = transaction_rows(lake).await?;
    if present >= args.rows {
        eprintln!("transactions already holds {present} rows");
        return Ok(false);
    }
    let missing = args.rows - present;
    eprintln!("loading {missing} transactions of {} people through the broker and enrich…", args.users);
    let stop = CancellationToken::new();
    let job = {
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move { arus_stream_jobs::run_named("enrich", &config, stop).await })
    };
    let started = Instant::now();
    let producer = Kafka::new(config)?.producer()?;
    let run = format!("api-{present}");
    produce_synthetic(&producer, &config.topic(topics::TXN_RAW), &run, missing, args.users, Utc::now()).await?;
    let rows = wait_for_rows(lake, args.rows, Duration::from_secs(1800), &job).await?;
    stop.cancel();
    job.await??;
    eprintln!("{rows} rows in {:.1?}", started.elapsed());
    Ok(true)
}

async fn transaction_rows(lake: &Lake) -> Result<u64> {
    Ok(lake.stats().await?.into_iter().find(|t| t.table == "transactions").and_then(|t| t.rows).unwrap_or(0))
}

/// Someone the benchmark stores and mints a token for.
pub(super) struct Person {
    pub user_id: String,
    pub role: Role,
    pub officer_id: Option<String>,
}

impl Person {
    /// Person `user-{i:05}`, the owner of the synthetic rows numbered `i`.
    pub(super) fn user(i: u64) -> Self {
        Person { user_id: format!("user-{i:05}"), role: Role::User, officer_id: None }
    }
}

/// Stores `people` not stored yet, in one commit (they never log in: the
/// benchmark mints their tokens).
pub(super) async fn store_people(lake: &Lake, people: &[Person]) -> Result<()> {
    let mut log = AppendLog::<UserRecord>::open(lake, &tables::USERS).await?;
    let known: std::collections::HashSet<String> = log.rows().await?.into_iter().map(|u| u.user_id).collect();
    let hash = arus_serving::auth::password::hash(hex(&rand::random::<[u8; 16]>())).await.map_err(anyhow::Error::msg)?;
    let now = Utc::now();
    let missing: Vec<UserRecord> = people
        .iter()
        .filter(|p| !known.contains(&p.user_id))
        .map(|p| UserRecord {
            email: Some(format!("{}@bench.arus.id", p.user_id)),
            phone: None,
            display_name: p.user_id.clone(),
            password_hash: hash.clone(),
            role: p.role,
            officer_id: p.officer_id.clone(),
            disabled: false,
            revision: 1,
            created_at: now,
            updated_at: now,
            updated_by: Some("bench".into()),
            user_id: p.user_id.clone(),
        })
        .collect();
    if !missing.is_empty() {
        log.append(&missing).await?;
    }
    Ok(())
}

/// One access token per person, a line each, signed with the API's key.
pub(super) fn write_tokens<'a>(config: &Config, people: impl IntoIterator<Item = &'a Person>, path: &Path) -> Result<()> {
    let keys = TokenKeys::from_config(config)?;
    let mut lines = String::new();
    for p in people {
        let sid = uuid::Uuid::new_v4().to_string();
        let (token, _) = keys.issue(&p.user_id, p.role.as_str(), &sid, 3600)?;
        lines.push_str(&token);
        lines.push('\n');
    }
    std::fs::write(path, lines)?;
    Ok(())
}

/// Before measuring: a few people each get a full page of their own rows.
async fn check_answers(url: &str, tokens: &Path, limit: u64) -> Result<()> {
    let client = reqwest::Client::new();
    let text = std::fs::read_to_string(tokens)?;
    for token in text.lines().step_by(97).take(10) {
        let r = client.get(url).bearer_auth(token).send().await?;
        let status = r.status();
        let page: serde_json::Value = r.json().await?;
        let items = page["items"].as_array().map_or(0, Vec::len);
        if !status.is_success() || items as u64 != limit {
            bail!("sanity check: {status} with {items} items (expected {limit}): {page}");
        }
    }
    Ok(())
}

/// How wrk loads the server (the API and the serving benchmarks alike).
#[derive(Debug, Clone, clap::Args)]
pub struct Load {
    /// Length of each measured wrk run.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Requests per second of a paced run.
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    /// Open connections.
    #[arg(long, default_value_t = 16)]
    pub connections: u64,
    /// wrk threads (the server shares the machine).
    #[arg(long, default_value_t = 1)]
    pub threads: u64,
    /// The wrk executable.
    #[arg(long, default_value = "wrk")]
    pub wrk: String,
}

impl Load {
    /// Fails early, with how to install it, when wrk is not there.
    pub(super) fn check(&self) -> Result<()> {
        match std::process::Command::new(&self.wrk).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(_) => Ok(()),
            Err(e) => bail!("{}: {e}; install it with `apt-get install wrk` (deploy/system-packages.sh does)", self.wrk),
        }
    }

    /// GETs `url` for `seconds` with the tokens of `tokens` in turn; with
    /// `rate`, that many requests per second in all on a fixed schedule.
    pub(super) async fn run(&self, url: &str, script: &Path, tokens: &Path, seconds: u64, rate: Option<u64>) -> Result<WrkFigures> {
        let threads = self.threads.max(1);
        let mut command = tokio::process::Command::new(&self.wrk);
        command
            .args(["-t", &threads.to_string(), "-c", &self.connections.to_string(), "-d", &format!("{seconds}s")])
            .args(["--timeout", "30s", "--latency", "-s"])
            .arg(script)
            .arg(url)
            .arg("--")
            .arg(tokens)
            .env_remove("ARUS_WRK_RATE");
        if let Some(rate) = rate {
            command.env("ARUS_WRK_RATE", (rate as f64 / threads as f64).to_string());
        }
        let out = command.output().await.with_context(|| format!("running {}", self.wrk))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        }
        parse_wrk(&text).with_context(|| format!("reading wrk's report:\n{text}"))
    }
}

/// Reads the report `wrk --latency` prints.
pub fn parse_wrk(text: &str) -> Result<WrkFigures> {
    let mut f = WrkFigures::default();
    let mut seen = 0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", _avg, _stdev, max, ..] => f.max = duration(max)?,
            ["50%", v] => (f.p50, seen) = (duration(v)?, seen + 1),
            ["90%", v] => (f.p90, seen) = (duration(v)?, seen + 1),
            ["99%", v] => (f.p99, seen) = (duration(v)?, seen + 1),
            [n, "requests", "in", ..] => f.requests = n.parse()?,
            ["Requests/sec:", v] => (f.requests_per_s, seen) = (v.parse()?, seen + 1),
            ["Non-2xx", "or", "3xx", "responses:", n] => f.non_2xx = n.parse()?,
            ["Socket", "errors:", rest @ ..] => {
                f.socket_errors = rest.iter().filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok()).sum();
            }
            _ => {}
        }
    }
    if seen != 4 {
        bail!("no latency distribution or rate in the report");
    }
    Ok(f)
}

/// `812.00us`, `3.21ms`, `1.05s`, `2.00m`.
fn duration(text: &str) -> Result<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).context("a duration without unit")?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("unknown unit {other:?}"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 30s test @ http://127.0.0.1:1/api/v1/transactions?limit=50
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.12ms    2.01ms  61.30ms   90.12%
    Req/Sec   201.33     10.11   250.00     70.00%
  Latency Distribution
     50%    7.90ms
     75%    9.00ms
     90%   10.20ms
     99%  812.00us
  6040 requests in 30.01s, 12.34MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:    201.27
Transfer/sec:    421.00KB
";

    #[test]
    fn reads_the_wrk_report() {
        let f = parse_wrk(REPORT).unwrap();
        assert_eq!(f.requests, 6040);
        assert!((f.requests_per_s - 201.27).abs() < 1e-9);
        assert_eq!(f.p50, Duration::from_micros(7900));
        assert_eq!(f.p90, Duration::from_micros(10200));
        assert_eq!(f.p99, Duration::from_micros(812));
        assert_eq!(f.max, Duration::from_micros(61300));
        assert_eq!((f.non_2xx, f.socket_errors), (3, 3));
        assert!(parse_wrk("Running 30s test\n").is_err());
    }
}
