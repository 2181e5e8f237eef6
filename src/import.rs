//! `arus import FILE --user … [--account …] [--bank …]`: imports a bank
//! statement from the command line the way an upload is imported (same
//! reader, keys, duplicate check, dead letters and `import_jobs` record),
//! here in this process with a progress bar, ending with a summary table.
//! Needs the broker (`ARUS_KAFKA_BROKERS`, or the embedded one of a running
//! `arus up`) and the lake; the `enrich` job of `arus up` / `arus job enrich`
//! turns the published rows into transactions.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arus_ingest::import::{media_path, Importer, RejectedLine};
use arus_ingest::statement::{BankChoice, ColumnMapping};
use arus_lakehouse::{AppendLog, Kafka, Lake};
use arus_schemas::imports::{ImportJob, ImportRequest, ImportStatus};
use arus_schemas::{tables, topics, Account, AuditOutcome, AuditRecord, Config, SCHEMA_VERSION};
use arus_serving::auth::store::AuthStore;
use datafusion::prelude::{col, lit};
use indicatif::{ProgressBar, ProgressStyle};

/// What `arus import` was asked for.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The statement export: CSV, XLSX or XLS.
    pub file: PathBuf,
    /// Whose statement it is: user id, e-mail or phone number.
    #[arg(long)]
    pub user: String,
    /// The account it belongs to (an account id of that person).
    #[arg(long)]
    pub account: Option<String>,
    /// auto (recognise by header), bca, mandiri, bni, bri, or mapped.
    #[arg(long, default_value = "auto")]
    pub bank: String,
    /// A column mapping for an export arus does not know: a JSON file or
    /// inline JSON, e.g. '{"date":"Tgl","description":["Uraian"],"debit":"Keluar","credit":"Masuk"}'.
    #[arg(long)]
    pub mapping: Option<String>,
}

/// Runs the import; `Ok(false)` when the file could not be imported (the
/// reason is printed).
pub async fn run(mut config: Config, args: ImportArgs) -> Result<bool> {
    if config.kafka_brokers.trim().is_empty() {
        // A running `arus up` with its embedded broker.
        config.kafka_brokers = format!("127.0.0.1:{}", config.embedded_broker_port);
    }
    let bank = BankChoice::parse(&args.bank).with_context(|| format!("--bank must be one of {}", BankChoice::NAMES))?;
    let mapping = match &args.mapping {
        None => None,
        Some(text) => {
            let json = if text.trim_start().starts_with('{') { text.clone() } else { std::fs::read_to_string(text).with_context(|| format!("reading the mapping {text}"))? };
            let mapping: ColumnMapping = serde_json::from_str(&json).context("--mapping is not a column mapping")?;
            mapping.check().map_err(|e| anyhow::anyhow!("--mapping: {e}"))?;
            Some(mapping)
        }
    };
    let metadata = std::fs::metadata(&args.file).with_context(|| format!("{}", args.file.display()))?;
    if metadata.len() > config.import_max_bytes {
        bail!("{} is {} bytes; the limit is {} (ARUS_IMPORT_MAX_BYTES)", args.file.display(), metadata.len(), config.import_max_bytes);
    }

    let lake = Lake::new(&config)?;
    lake.ensure_all().await.context("opening the lake")?;
    let people = AuthStore::open(&lake).await?;
    let user = people
        .user(&args.user)
        .or_else(|| people.find_login(Some(&args.user), None))
        .or_else(|| people.find_login(None, Some(&args.user)))
        .with_context(|| format!("nobody is called {:?} (give a user id, e-mail or phone)", args.user))?;
    if let Some(account) = &args.account {
        check_account(&lake, &user.user_id, account).await?;
    }
    let kafka = Kafka::new(&config)?;
    {
        let kafka = kafka.clone();
        tokio::task::spawn_blocking(move || kafka.ping(Duration::from_secs(5)))
            .await?
            .with_context(|| format!("no Kafka broker at {} (start `arus up`, or set ARUS_KAFKA_BROKERS)", config.kafka_brokers))?;
    }
    let importer = Importer::open(&config).await?;

    let now = chrono::Utc::now();
    let import_id = uuid::Uuid::new_v4().to_string();
    let path = media_path(&import_id, now);
    let stored = importer.media().save_file(&path, &args.file, config.import_max_bytes).await.context("storing the file")?;
    let request = ImportRequest {
        schema_version: SCHEMA_VERSION,
        import_id: import_id.clone(),
        user_id: user.user_id.clone(),
        account_id: args.account.clone(),
        bank: bank.as_str().to_owned(),
        mapping: mapping.map(serde_json::to_value).transpose()?,
        file_name: args.file.file_name().map_or("statement".into(), |n| n.to_string_lossy().into_owned()),
        media_path: path,
        size_bytes: stored.size,
        sha256: stored.sha256,
        requested_by: Some("cli".into()),
        requested_at: now,
    };
    importer.record_pending(&request).await?;

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}%  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let job = importer
        .run(&request, None, |p| {
            bar.set_length(p.total.max(1));
            bar.set_position(p.done.min(p.total));
            bar.set_message(format!("{} rows, {} imported, {} duplicate, {} rejected", p.counts.rows_read, p.counts.imported, p.counts.duplicates, p.counts.rejected));
        })
        .await?;
    bar.finish_and_clear();
    audit(&kafka, &config, &job).await;
    print_summary(&job, started.elapsed());
    Ok(job.status == ImportStatus::Completed)
}

async fn check_account(lake: &Lake, user_id: &str, account_id: &str) -> Result<()> {
    let accounts = AppendLog::<Account>::open(lake, &tables::ACCOUNTS).await?;
    let latest = accounts.rows_where(col("account_id").eq(lit(account_id.to_owned()))).await?.into_iter().max_by_key(|a| a.revision);
    match latest {
        Some(a) if a.user_id == user_id && !a.deleted => Ok(()),
        _ => bail!("{account_id} is not an account of {user_id} (see GET /api/v1/accounts)"),
    }
}

async fn audit(kafka: &Kafka, config: &Config, job: &ImportJob) {
    let record = AuditRecord {
        schema_version: SCHEMA_VERSION,
        id: uuid::Uuid::new_v4().to_string(),
        at: chrono::Utc::now(),
        actor_id: None,
        actor_role: Some("cli".into()),
        action: "import.cli".into(),
        target: Some(job.import_id.clone()),
        outcome: if job.status == ImportStatus::Completed { AuditOutcome::Success } else { AuditOutcome::Failure },
        remote_addr: None,
        request_id: None,
        detail: Some(format!(
            "{} ({} bytes, sha256 {}) for {} by {}",
            job.file_name,
            job.size_bytes,
            job.sha256,
            job.user_id,
            std::env::var("USER").unwrap_or_else(|_| "?".into())
        )),
    };
    let sent = match kafka.producer() {
        Ok(producer) => producer.send_json(&config.topic(topics::AUDIT), &job.user_id, &record).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        eprintln!("warning: the audit record could not be published: {e}");
    }
}

fn print_summary(job: &ImportJob, took: Duration) {
    let row = |name: &str, value: String| println!("  {name:<12} {value}");
    println!("import {}", job.import_id);
    row("file", format!("{} ({} bytes)", job.file_name, job.size_bytes));
    row("layout", format!("{} {}", job.format.as_deref().unwrap_or("-"), job.layout.as_deref().unwrap_or("-")));
    row("status", format!("{:?}", job.status).to_lowercase());
    row("rows read", job.rows_read.to_string());
    row("imported", job.imported.to_string());
    row("duplicates", job.duplicates.to_string());
    row("rejected", job.rejected.to_string());
    row("pending", job.pending.to_string());
    row("took", format!("{:.1?}", took));
    if let Some(error) = &job.error {
        println!("  error        {} ({})", error, job.error_code.as_deref().unwrap_or("-"));
    }
    let rejected: Vec<RejectedLine> = job.rejected_rows.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
    if !rejected.is_empty() {
        println!("rejected rows (also in the dlq table):");
        for r in rejected.iter().take(20) {
            println!("  line {:<6} {}", r.line, r.reason);
        }
        if job.rejected as usize > 20 {
            println!("  … and {} more: GET /api/v1/imports/{}", job.rejected - 20, job.import_id);
        }
    }
}
