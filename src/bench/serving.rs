//! `arus bench serving`: the dashboards and the analysts' SQL over a lake of
//! `--rows` transactions (10,000,000) of `--users` people (100,000).
//!
//! The lake is generated straight into Delta (through the broker this many
//! rows take hours on a 2-core machine; `arus bench pipeline` measures that
//! path): `transactions` in one commit per week of data, as streaming
//! leaves it, and `daily_totals` summed from the same rows exactly as the
//! daily-totals job sums them; then `arus lake optimize` clusters both, as
//! `arus up` does every `optimize_interval_s`. People are assigned to
//! `--officers` field officers at random, so a partner list is scattered
//! over the table. Before measuring, sampled people's dashboard months are
//! checked against what their transactions add up to through SQL.
//!
//! Measured, in one run:
//! - each dashboard endpoint under wrk at `--rate` requests/s (a fixed
//!   schedule, as wrk2 gives), each request as the next person: p50, p90,
//!   p99 against the target p99 ≤ 50 ms;
//! - a monthly per-category aggregate of all rows through `POST
//!   /api/v1/sql` (as an analyst, timed by the client: HTTP and JSON
//!   included) against DuckDB (PyPI) running the same SQL over the Parquet
//!   files of the same Delta version, both warm, `--sql-runs` times each;
//!   the medians' ratio against the target ≤ 1.5×. The two answers must be
//!   equal.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arus_lakehouse::{AppendLog, Lake};
use arus_schemas::advice::{DailyTotalRow, MonthlyTotalRow};
use arus_schemas::events::jakarta;
use arus_schemas::{tables, CategorySource, Config, Role, Transaction, TransactionStatus, TxnSource};
use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, TimeZone, Timelike, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::api::{ms, store_people, write_tokens, Load, Person, WrkFigures, SCRIPT};
use crate::broker::EmbeddedBroker;

/// DuckDB's side, kept in `bench/serving/` and built into the binary.
const DUCKDB_SCRIPT: &str = include_str!("../../bench/serving/duckdb_aggregate.py");

/// The analysts' query both engines run, word for word.
pub const AGGREGATE: &str = "SELECT month, category_id, \
SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS income, \
SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS expense, \
COUNT(*) AS transactions \
FROM transactions GROUP BY month, category_id ORDER BY month, category_id";

#[derive(Debug, Clone, clap::Args)]
pub struct ServingArgs {
    /// Rows in `transactions`.
    #[arg(long, default_value_t = 10_000_000)]
    pub rows: u64,
    /// People the rows belong to.
    #[arg(long, default_value_t = 100_000)]
    pub users: u64,
    /// Months of data, ending with this one (WIB).
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// Field officers the people are assigned to (at random).
    #[arg(long, default_value_t = 1_000)]
    pub officers: u64,
    #[command(flatten)]
    pub load: Load,
    /// Timed runs of the SQL aggregate on each engine (after a warm-up).
    #[arg(long, default_value_t = 5)]
    pub sql_runs: usize,
    /// Keep the generated lake here and reuse it on the next run (default:
    /// a temporary directory, removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A Python with `duckdb` (deploy/pytools.sh installs it).
    #[arg(long, default_value = ".tools/venv/bin/python")]
    pub python: PathBuf,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Port of the benchmark's own broker.
    #[arg(long, default_value_t = 19194)]
    pub port: u16,
    /// Only these endpoints (names as printed: summary, cashflow, …);
    /// default every one.
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// Leave out the SQL comparison with DuckDB.
    #[arg(long)]
    pub no_sql: bool,
    /// Before measuring, print `EXPLAIN ANALYZE` of this SQL run as the
    /// first person (`user-00000`), for looking into a slow figure; may
    /// be given several times.
    #[arg(long)]
    pub explain: Vec<String>,
}

pub async fn run(config: Config, args: ServingArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; figures are only meaningful with `cargo run --release`");
    }
    if args.rows == 0 || args.users == 0 || args.months == 0 || args.officers == 0 || args.sql_runs == 0 {
        bail!("--rows, --users, --months, --officers and --sql-runs must be positive");
    }
    args.load.check()?;
    let python = std::path::absolute(&args.python)?;
    if !python.exists() {
        bail!("{}: no such Python; run `bash deploy/pytools.sh` (it installs DuckDB in .tools/venv) or pass --python", python.display());
    }
    let (dir, temporary) = match &args.dir {
        Some(dir) => (std::path::absolute(dir)?, false),
        None => (std::env::temp_dir().join(format!("arus-bench-serving-{}", std::process::id())), true),
    };
    std::fs::create_dir_all(&dir)?;
    let broker = EmbeddedBroker::start(&config.tansu_bin, &dir.join("kafka"), args.port, "memory").await?;
    let config = super::api_config(&config, &broker, &dir);
    let result = measure(&config, &args, &dir, &python).await;
    broker.stop().await?;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    report.print(&args);
    if report.failed_requests() > 0 {
        bail!("some requests failed (see non-2xx and errors above)");
    }
    Ok(())
}

/// What one run measured.
struct Report {
    generated: Option<Duration>,
    optimized: Duration,
    files: (u64, u64, u64),
    totals_rows: u64,
    endpoints: Vec<(&'static str, String, WrkFigures)>,
    ours: Vec<Duration>,
    ours_server: Vec<Duration>,
    duckdb: Option<DuckDbAnswer>,
    answer_rows: usize,
}

impl Report {
    fn failed_requests(&self) -> u64 {
        self.endpoints.iter().map(|(_, _, f)| f.non_2xx + f.socket_errors).sum()
    }

    fn print(&self, args: &ServingArgs) {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "\narus bench serving: {} transactions · {} people · {} months · {} officers · {} cores",
            args.rows, args.users, args.months, args.officers, cores
        );
        match self.generated {
            Some(took) => println!("lake generated in {:.1?}, optimized in {:.1?}", took, self.optimized),
            None => println!("lake reused from --dir, optimize pass {:.1?}", self.optimized),
        }
        println!("files: transactions {}, daily_totals {} ({} rows), monthly_totals {}", self.files.0, self.files.1, self.totals_rows, self.files.2);
        println!(
            "\ndashboards at {} requests/s for {} s each ({} connections, {} wrk thread(s), each request as the next person):",
            args.load.rate, args.load.seconds, args.load.connections, args.load.threads
        );
        println!("{:<16} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7}  path", "endpoint", "requests", "req/s", "p50", "p90", "p99", "max", "non-2xx", "errors");
        for (name, path, f) in &self.endpoints {
            println!(
                "{name:<16} {:>9} {:>8.1} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>8} {:>7}  {path}",
                f.requests, f.requests_per_s, ms(f.p50), ms(f.p90), ms(f.p99), ms(f.max), f.non_2xx, f.socket_errors
            );
        }
        let worst = self.endpoints.iter().max_by_key(|(_, _, f)| f.p99);
        let short = self.endpoints.iter().filter(|(_, _, f)| f.requests_per_s < args.load.rate as f64 * 0.95).count();
        if let Some((name, _, f)) = worst {
            let met = f.p99 <= Duration::from_millis(50) && short == 0;
            println!(
                "target dashboard p99 ≤ 50 ms at {} req/s: {} (worst p99 {:.1} ms, {name}; {short} endpoint(s) below 95 % of the rate)",
                args.load.rate,
                if met { "met" } else { "NOT met" },
                ms(f.p99)
            );
        }
        let Some(duckdb) = &self.duckdb else { return };
        let ours = median(&self.ours);
        let duck = median(&duckdb.times());
        println!("\nmonthly per-category aggregate over all {} rows ({} answer rows, equal on both engines), {} runs each after a warm-up:", args.rows, self.answer_rows, args.sql_runs);
        println!("  {AGGREGATE}");
        println!(
            "  arus POST /api/v1/sql  median {:>8.1} ms (runs {}; inside the server {:.1} ms)",
            ms(ours),
            list(&self.ours),
            ms(median(&self.ours_server))
        );
        println!(
            "  DuckDB {} ({} threads) median {:>8.1} ms (runs {}; same Parquet files, in-process, no HTTP)",
            duckdb.version,
            duckdb.threads,
            ms(duck),
            list(&duckdb.times())
        );
        let ratio = ms(ours) / ms(duck).max(1e-9);
        println!("target SQL ≤ 1.5× DuckDB: {} ({ratio:.2}×)", if ratio <= 1.5 { "met" } else { "NOT met" });
    }
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn list(times: &[Duration]) -> String {
    times.iter().map(|t| format!("{:.0}", ms(*t))).collect::<Vec<_>>().join(", ")
}

async fn measure(config: &Config, args: &ServingArgs, dir: &Path, python: &Path) -> Result<Report> {
    crate::up::create_topics(config).await?;
    let lake = Lake::new(config)?;
    lake.ensure_all().await?;
    let generated = generate(&lake, args).await?;
    eprintln!("arus lake optimize (transactions, daily_totals, monthly_totals)…");
    let started = Instant::now();
    for def in [&tables::TRANSACTIONS, &tables::DAILY_TOTALS, &tables::MONTHLY_TOTALS] {
        // Freshly generated, a partition may be one file (the current
        // month's first week), which a streaming round's optimize skips.
        if generated.is_some() {
            arus_lakehouse::maintenance::optimize_every_partition(&lake, def).await?;
        } else {
            arus_lakehouse::maintenance::optimize(&lake, def).await?;
        }
    }
    let optimized = started.elapsed();
    let summaries = lake.stats().await?;
    let summary = |name: &str| summaries.iter().find(|t| t.table == name).map_or((0, 0), |t| (t.files, t.rows.unwrap_or(0)));
    let files = (summary("transactions").0, summary("daily_totals").0, summary("monthly_totals").0);
    let totals_rows = summary("daily_totals").1;

    let people = people(args);
    store_people(&lake, &people).await?;
    let users: Vec<&Person> = people.iter().filter(|p| p.role == Role::User).collect();
    let officers: Vec<&Person> = people.iter().filter(|p| p.role == Role::Officer).collect();
    let analyst = people.iter().find(|p| p.role == Role::Analyst).context("no analyst")?;
    let user_tokens = dir.join("wrk-user-tokens.txt");
    let officer_tokens = dir.join("wrk-officer-tokens.txt");
    let analyst_tokens = dir.join("analyst-token.txt");
    write_tokens(config, users.iter().copied(), &user_tokens)?;
    write_tokens(config, officers.iter().copied(), &officer_tokens)?;
    write_tokens(config, [analyst], &analyst_tokens)?;
    let script = dir.join("wrk-people.lua");
    std::fs::write(&script, SCRIPT)?;

    let shutdown = CancellationToken::new();
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let server = {
        let (config, shutdown) = (config.clone(), shutdown.clone());
        tokio::spawn(async move { arus_serving::serve(&config, shutdown, Some(bound_tx)).await })
    };
    let addr = tokio::time::timeout(Duration::from_secs(300), bound_rx).await.context("the API did not start")??;
    let base = format!("http://{addr}");
    let result = async {
        let client = reqwest::Client::new();
        let first_line = |path: &Path| -> Result<String> { Ok(std::fs::read_to_string(path)?.lines().next().context("no token")?.to_owned()) };
        check_dashboards(&client, &base, &user_tokens, args).await?;
        check_partners(&client, &base, &first_line(&officer_tokens)?, &people).await?;
        for query in &args.explain {
            println!("EXPLAIN ANALYZE {query}\n{}", explain(&client, &base, &first_line(&user_tokens)?, query).await?);
        }

        let wrk = &args.load;
        let last_month = (Utc::now().with_timezone(&jakarta()).date_naive().with_day(1).expect("a first") - Days::days(1)).format("%Y-%m");
        let runs: Vec<(&'static str, String, &Path)> = vec![
            ("summary", "/api/v1/dashboard/summary".into(), &user_tokens),
            ("cashflow", format!("/api/v1/dashboard/cashflow?months={}", args.months), &user_tokens),
            ("categories", "/api/v1/dashboard/categories".into(), &user_tokens),
            ("income-expense", "/api/v1/dashboard/income-expense".into(), &user_tokens),
            ("cashflow.svg", format!("/api/v1/dashboard/charts/cashflow.svg?months={}", args.months), &user_tokens),
            ("report (csv)", format!("/api/v1/reports/{last_month}?format=csv"), &user_tokens),
            ("partners", "/api/v1/dashboard/partners".into(), &officer_tokens),
        ];
        let mut endpoints = Vec::new();
        for (name, path, tokens) in runs.into_iter().filter(|(name, _, _)| args.endpoints.is_empty() || args.endpoints.iter().any(|e| e == name)) {
            let url = format!("{base}{path}");
            eprintln!("[{name}] warming up (5 s), then {} requests/s for {} s…", args.load.rate, args.load.seconds);
            wrk.run(&url, &script, tokens, 5, Some(args.load.rate)).await?;
            endpoints.push((name, path, wrk.run(&url, &script, tokens, args.load.seconds, Some(args.load.rate)).await?));
        }

        if args.no_sql {
            return Ok((endpoints, Vec::new(), Vec::new(), Vec::new()));
        }
        eprintln!("SQL aggregate through arus ({} runs)…", args.sql_runs);
        let analyst_token = first_line(&analyst_tokens)?;
        let (ours_answer, _, _) = sql(&client, &base, &analyst_token, AGGREGATE).await?;
        let (mut ours, mut ours_server) = (Vec::new(), Vec::new());
        for _ in 0..args.sql_runs {
            let (answer, took, server) = sql(&client, &base, &analyst_token, AGGREGATE).await?;
            if answer != ours_answer {
                bail!("the SQL endpoint's answer changed between runs");
            }
            ours.push(took);
            ours_server.push(server);
        }
        Ok((endpoints, ours_answer, ours, ours_server))
    }
    .await;
    shutdown.cancel();
    server.await??;
    let (endpoints, ours_answer, ours, ours_server) = result?;
    if args.no_sql {
        return Ok(Report { generated, optimized, files, totals_rows, endpoints, ours, ours_server, duckdb: None, answer_rows: 0 });
    }
    eprintln!("SQL aggregate through DuckDB ({} runs)…", args.sql_runs);
    let files_list = dir.join("duckdb-files.txt");
    std::fs::write(&files_list, data_files(&lake).await?.join("\n"))?;
    let duckdb = duckdb(python, dir, &files_list, args.sql_runs).await?;
    let theirs = duckdb.answer()?;
    if theirs != ours_answer {
        let differ = ours_answer.iter().zip(&theirs).find(|(a, b)| a != b);
        bail!("arus and DuckDB answer differently: {} rows against {}; first difference {differ:?}", ours_answer.len(), theirs.len());
    }
    Ok(Report { generated, optimized, files, totals_rows, endpoints, ours, ours_server, duckdb: Some(duckdb), answer_rows: ours_answer.len() })
}

/// One row of the aggregate: month, category, income, expense, transactions.
type AggregateRow = (String, String, i64, i64, i64);

#[derive(Deserialize)]
struct SqlAnswer {
    rows: Vec<AggregateJson>,
    elapsed_ms: u64,
    truncated: bool,
}

#[derive(Deserialize)]
struct AggregateJson {
    month: String,
    category_id: Option<String>,
    income: i64,
    expense: i64,
    transactions: i64,
}

/// Runs `query` through `POST /api/v1/sql`: the rows, the time the client
/// waited and the time the server reported.
async fn sql(client: &reqwest::Client, base: &str, token: &str, query: &str) -> Result<(Vec<AggregateRow>, Duration, Duration)> {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/sql"))
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(&serde_json::json!({ "sql": query }))
        .send()
        .await?;
    let status = response.status();
    let body = response.bytes().await?;
    let took = started.elapsed();
    if !status.is_success() {
        bail!("POST /api/v1/sql: {status}: {}", String::from_utf8_lossy(&body));
    }
    let answer: SqlAnswer = serde_json::from_slice(&body).context("reading the SQL answer")?;
    if answer.truncated {
        bail!("the SQL answer was cut at the server's row limit");
    }
    let rows = answer.rows.into_iter().map(|r| (r.month, r.category_id.unwrap_or_default(), r.income, r.expense, r.transactions)).collect();
    Ok((rows, took, Duration::from_millis(answer.elapsed_ms)))
}

/// The plan of `query` with what each step measured, as `token` runs it.
async fn explain(client: &reqwest::Client, base: &str, token: &str, query: &str) -> Result<String> {
    let response = client
        .post(format!("{base}/api/v1/sql"))
        .bearer_auth(token)
        .header("accept", "text/csv")
        .json(&serde_json::json!({ "sql": format!("EXPLAIN ANALYZE {query}") }))
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("EXPLAIN ANALYZE: {status}: {text}");
    }
    Ok(text)
}

/// The local paths of the data files of `transactions`' current version.
async fn data_files(lake: &Lake) -> Result<Vec<String>> {
    let log = AppendLog::<Transaction>::open(lake, &tables::TRANSACTIONS).await?;
    let mut files = Vec::new();
    for uri in log.table().get_file_uris()? {
        let path = match uri.strip_prefix("file://") {
            Some(_) => url::Url::parse(&uri)?.to_file_path().map_err(|()| anyhow::anyhow!("{uri}: not a local file"))?,
            None => PathBuf::from(&uri),
        };
        if !path.is_file() {
            bail!("{}: a data file of the table is missing", path.display());
        }
        files.push(path.to_string_lossy().into_owned());
    }
    Ok(files)
}

#[derive(Debug, Deserialize)]
struct DuckDbAnswer {
    version: String,
    threads: usize,
    times_ms: Vec<f64>,
    rows: Vec<(String, Option<String>, i64, i64, i64)>,
}

impl DuckDbAnswer {
    fn times(&self) -> Vec<Duration> {
        self.times_ms.iter().map(|t| Duration::from_secs_f64(t / 1e3)).collect()
    }

    fn answer(&self) -> Result<Vec<AggregateRow>> {
        Ok(self.rows.iter().map(|(m, c, i, e, n)| (m.clone(), c.clone().unwrap_or_default(), *i, *e, *n)).collect())
    }
}

/// Runs `bench/serving/duckdb_aggregate.py` with `python`.
async fn duckdb(python: &Path, dir: &Path, files: &Path, runs: usize) -> Result<DuckDbAnswer> {
    let script = dir.join("duckdb_aggregate.py");
    std::fs::write(&script, DUCKDB_SCRIPT)?;
    let query = dir.join("aggregate.sql");
    std::fs::write(&query, AGGREGATE)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = tokio::process::Command::new(python)
        .arg(&script)
        .arg("--files")
        .arg(files)
        .arg("--query")
        .arg(&query)
        .args(["--runs", &runs.to_string(), "--threads", &threads.to_string()])
        .output()
        .await
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!("DuckDB failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("reading DuckDB's answer: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The people: `--users` people each assigned to one of `--officers`
/// officers at random, the officers, and one analyst.
fn people(args: &ServingArgs) -> Vec<Person> {
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x6f66_6669_6365_7273);
    let mut people: Vec<Person> = (0..args.users)
        .map(|i| Person { officer_id: Some(officer_id(rng.random_range(0..args.officers))), ..Person::user(i) })
        .collect();
    people.extend((0..args.officers).map(|o| Person { user_id: officer_id(o), role: Role::Officer, officer_id: None }));
    people.push(Person { user_id: "analyst-bench".into(), role: Role::Analyst, officer_id: None });
    people
}

fn officer_id(o: u64) -> String {
    format!("officer-{o:04}")
}

/// Generates the lake unless `--dir` holds it already; how long it took.
async fn generate(lake: &Lake, args: &ServingArgs) -> Result<Option<Duration>> {
    let present = lake.stats().await?.into_iter().map(|t| (t.table, t.rows.unwrap_or(0))).collect::<HashMap<_, _>>();
    let rows_of = |table: &str| present.get(table).copied().unwrap_or(0);
    let (txns, totals, monthly) = (rows_of("transactions"), rows_of("daily_totals"), rows_of("monthly_totals"));
    if txns == args.rows && totals > 0 && monthly > 0 {
        eprintln!("transactions already holds {txns} rows, daily_totals {totals}, monthly_totals {monthly}");
        return Ok(None);
    }
    if txns > 0 || totals > 0 || monthly > 0 {
        bail!(
            "the lake in --dir holds {txns} transactions, {totals} daily and {monthly} monthly totals, not the {} rows asked for; remove the directory to generate it again",
            args.rows
        );
    }
    let started = Instant::now();
    let mut txn_log = AppendLog::<Transaction>::open(lake, &tables::TRANSACTIONS).await?;
    let mut totals_log = AppendLog::<DailyTotalRow>::open(lake, &tables::DAILY_TOTALS).await?;
    // A month's weeks all add to its rows: written once the months are summed.
    let mut months: BTreeMap<(String, String), (i64, i64, i64)> = BTreeMap::new();
    let now = Utc::now();
    let weeks = weeks(now.with_timezone(&jakarta()).date_naive(), args.months);
    let all_days: u64 = weeks.iter().map(|w| w.len() as u64).sum();
    let bar = ProgressBar::new(args.rows).with_style(
        ProgressStyle::with_template("generating {bar:40} {human_pos}/{human_len} transactions ({per_sec}, {eta} left)").expect("a valid template"),
    );
    let mut generator = Generator { rng: StdRng::seed_from_u64(args.seed), users: args.users, now };
    let (mut days_done, mut next) = (0u64, 0u64);
    for week in &weeks {
        days_done += week.len() as u64;
        let until = args.rows * days_done / all_days;
        let txns = generator.week(week, next..until);
        next = until;
        txn_log.append(&txns).await?;
        let days = daily_totals(&txns, now);
        for d in &days {
            let m = months.entry((d.user_id.clone(), d.month.clone())).or_default();
            *m = (m.0 + d.income, m.1 + d.expense, m.2 + d.count);
        }
        totals_log.append(&days).await?;
        bar.inc(txns.len() as u64);
    }
    bar.finish();
    // What the monthly-totals job keeps: per person and month, in commits
    // of 100,000 rows (optimize clusters them as for the other tables).
    let mut monthly_log = AppendLog::<MonthlyTotalRow>::open(lake, &tables::MONTHLY_TOTALS).await?;
    let monthly: Vec<MonthlyTotalRow> = months
        .into_iter()
        .map(|((user_id, month), (income, expense, count))| MonthlyTotalRow { user_id, year: month[..4].to_owned(), month, income, expense, count, updated_at: now })
        .collect();
    for chunk in monthly.chunks(100_000) {
        monthly_log.append(chunk).await?;
    }
    Ok(Some(started.elapsed()))
}

/// The days of the last `months` months (WIB) up to `today`, in runs of at
/// most seven days that never cross a month (one commit each).
fn weeks(today: NaiveDate, months: u32) -> Vec<Vec<NaiveDate>> {
    let this_month = today.with_day(1).expect("a first");
    let first = (0..months - 1).fold(this_month, |d, _| (d - Days::days(1)).with_day(1).expect("a first"));
    let mut out: Vec<Vec<NaiveDate>> = Vec::new();
    let mut day = first;
    while day <= today {
        match out.last_mut() {
            Some(w) if w.len() < 7 && w[0].month() == day.month() => w.push(day),
            _ => out.push(vec![day]),
        }
        day += Days::days(1);
    }
    out
}

/// What the daily-totals job keeps for `txns`: per person, day (WIB) and category.
fn daily_totals(txns: &[Transaction], now: DateTime<Utc>) -> Vec<DailyTotalRow> {
    let mut sums: BTreeMap<(&str, NaiveDate, &str), (i64, i64, i64)> = BTreeMap::new();
    for t in txns {
        let day = t.occurred_at.with_timezone(&jakarta()).date_naive();
        let s = sums.entry((t.user_id.as_str(), day, t.category_id.as_deref().unwrap_or("other"))).or_default();
        if t.amount > 0 {
            s.0 += t.amount;
        } else {
            s.1 -= t.amount;
        }
        s.2 += 1;
    }
    sums.into_iter()
        .map(|((user, day, category), (income, expense, count))| DailyTotalRow {
            user_id: user.to_owned(),
            month: day.format("%Y-%m").to_string(),
            day,
            category_id: category.to_owned(),
            income,
            expense,
            count,
            updated_at: now,
        })
        .collect()
}

/// What money moves: the category, words of a description, and the range
/// of the amount in rupiah.
type Kind = (&'static str, &'static str, i64, i64);

/// Money in: sales most often (the people are mostly traders).
const INCOME: &[Kind] = &[
    ("sales", "jual bakso", 20_000, 1_500_000),
    ("sales", "penjualan warung", 50_000, 3_000_000),
    ("sales", "jual kue", 10_000, 500_000),
    ("salary", "gaji bulanan", 2_000_000, 8_000_000),
    ("transfer_in", "transfer masuk dari", 50_000, 2_000_000),
    ("other_income", "pendapatan lain", 10_000, 300_000),
];

/// Money out, household and business.
const EXPENSE: &[Kind] = &[
    ("raw_materials", "beli bahan baku", 20_000, 1_000_000),
    ("raw_materials", "belanja stok pasar", 50_000, 2_000_000),
    ("food_drink", "makan siang", 10_000, 80_000),
    ("groceries", "beli beras minyak", 30_000, 400_000),
    ("transport", "bensin motor", 10_000, 100_000),
    ("bills_utilities", "token listrik", 20_000, 500_000),
    ("education", "spp sekolah", 100_000, 1_000_000),
    ("health", "obat apotek", 15_000, 300_000),
    ("rent", "bayar kontrakan", 500_000, 2_500_000),
    ("installment", "angsuran pinjaman", 100_000, 1_500_000),
    ("employee_wages", "gaji karyawan", 300_000, 3_000_000),
    ("shipping", "ongkir paket", 8_000, 60_000),
    ("transfer_out", "transfer ke", 20_000, 1_000_000),
    ("other", "lain-lain", 5_000, 200_000),
];

struct Generator {
    rng: StdRng,
    users: u64,
    now: DateTime<Utc>,
}

impl Generator {
    /// Transactions numbered `numbers` on the days of `week`, none after now.
    fn week(&mut self, week: &[NaiveDate], numbers: std::ops::Range<u64>) -> Vec<Transaction> {
        let zone = jakarta();
        let now_local = self.now.with_timezone(&zone);
        numbers
            .map(|i| {
                let day = week[self.rng.random_range(0..week.len())];
                let latest = if day == now_local.date_naive() { now_local.num_seconds_from_midnight().max(1) } else { 86_400 };
                let seconds = self.rng.random_range(0..latest);
                let local = day.and_hms_opt(0, 0, 0).expect("midnight") + Days::seconds(i64::from(seconds));
                let occurred_at = zone.from_local_datetime(&local).single().expect("a fixed offset").with_timezone(&Utc);
                let income = self.rng.random_bool(0.3);
                let kinds = if income { INCOME } else { EXPENSE };
                let (category, words, low, high) = kinds[self.rng.random_range(0..kinds.len())];
                let amount = self.rng.random_range(low / 500..=high / 500) * 500;
                let user = self.rng.random_range(0..self.users);
                Transaction {
                    schema_version: 1,
                    id: format!("bench-{i:08}"),
                    user_id: format!("user-{user:05}"),
                    account_id: None,
                    occurred_at,
                    month: day.format("%Y-%m").to_string(),
                    amount: if income { amount } else { -amount },
                    currency: "IDR".into(),
                    description: format!("{words} {}", arus_schemas::money::format_rupiah(amount)),
                    counterparty: None,
                    source: if i % 3 == 0 { TxnSource::Whatsapp } else { TxnSource::Manual },
                    category_id: Some(category.to_owned()),
                    category_confidence: Some(0.9),
                    status: TransactionStatus::AiPredicted,
                    idempotency_key: format!("bench-{i:08}"),
                    media_ref: None,
                    captured_at: occurred_at,
                    ingested_at: occurred_at,
                    source_partition: None,
                    source_offset: None,
                    category_source: Some(CategorySource::Model),
                    model_version: Some(0),
                    confirmed_at: None,
                    reverses: None,
                }
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct MonthFlow {
    month: String,
    income: i64,
    expense: i64,
    transactions: i64,
}

/// For a few people, the dashboard's months equal what their transactions
/// add up to through SQL (which also sees only their rows).
async fn check_dashboards(client: &reqwest::Client, base: &str, tokens: &Path, args: &ServingArgs) -> Result<()> {
    let text = std::fs::read_to_string(tokens)?;
    let step = (args.users as usize / 7).max(1);
    let mut checked = 0;
    for token in text.lines().step_by(step).take(7) {
        let response = client.get(format!("{base}/api/v1/dashboard/cashflow?months={}", args.months)).bearer_auth(token).send().await?;
        let status = response.status();
        if !status.is_success() {
            bail!("sanity check: cashflow {status}: {}", response.text().await?);
        }
        let months: Vec<MonthFlow> = response.json().await?;
        let dashboard: BTreeMap<String, (i64, i64, i64)> = months.into_iter().filter(|m| m.transactions > 0).map(|m| (m.month, (m.income, m.expense, m.transactions))).collect();
        let query = "SELECT month, '' AS category_id, SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS income, \
                     SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS expense, COUNT(*) AS transactions FROM transactions GROUP BY month";
        let (rows, _, _) = sql(client, base, token, query).await?;
        let added: BTreeMap<String, (i64, i64, i64)> = rows.into_iter().map(|(m, _, i, e, n)| (m, (i, e, n))).collect();
        if dashboard != added || dashboard.is_empty() {
            bail!("sanity check: the dashboard's months {dashboard:?} are not what the person's transactions add up to {added:?}");
        }
        checked += 1;
    }
    eprintln!("sanity check: {checked} people's dashboard months equal their transactions");
    Ok(())
}

/// The first officer's partner list holds exactly the people assigned to them.
async fn check_partners(client: &reqwest::Client, base: &str, token: &str, people: &[Person]) -> Result<()> {
    let expected = people.iter().filter(|p| p.officer_id.as_deref() == Some(officer_id(0).as_str())).count();
    let response = client.get(format!("{base}/api/v1/dashboard/partners")).bearer_auth(token).send().await?;
    let status = response.status();
    let cards: Vec<serde_json::Value> = response.json().await?;
    if !status.is_success() || cards.len() != expected || cards.iter().any(|c| c["last_activity"].is_null()) {
        bail!("sanity check: partners {status}: {} cards (expected {expected}, each with a last activity)", cards.len());
    }
    eprintln!("sanity check: an officer sees their {expected} partners");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_cover_the_months_without_crossing_one() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let weeks = weeks(today, 12);
        let days: Vec<NaiveDate> = weeks.iter().flatten().copied().collect();
        assert_eq!(days.first(), NaiveDate::from_ymd_opt(2025, 12, 1).as_ref());
        assert_eq!(days.last(), Some(&today));
        assert!(days.windows(2).all(|w| w[1] - w[0] == Days::days(1)));
        assert!(weeks.iter().all(|w| w.len() <= 7 && w.iter().all(|d| d.month() == w[0].month())));
    }

    #[test]
    fn totals_are_what_the_job_would_keep() {
        let now = Utc::now();
        let mut generator = Generator { rng: StdRng::seed_from_u64(1), users: 3, now };
        let week = weeks(now.with_timezone(&jakarta()).date_naive(), 1).remove(0);
        let txns = generator.week(&week, 0..500);
        assert!(txns.iter().all(|t| t.occurred_at <= now && t.amount != 0 && t.amount % 500 == 0));
        let totals = daily_totals(&txns, now);
        let income: i64 = txns.iter().filter(|t| t.amount > 0).map(|t| t.amount).sum();
        let expense: i64 = txns.iter().filter(|t| t.amount < 0).map(|t| -t.amount).sum();
        assert_eq!(totals.iter().map(|r| r.income).sum::<i64>(), income);
        assert_eq!(totals.iter().map(|r| r.expense).sum::<i64>(), expense);
        assert_eq!(totals.iter().map(|r| r.count).sum::<i64>(), 500);
        assert!(totals.iter().all(|r| r.month == r.day.format("%Y-%m").to_string()));
    }
}
