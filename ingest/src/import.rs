//! Statement imports: a stored file read into transactions, asynchronously.
//!
//! The API (or `arus import`) stores the file in the media store, writes the
//! `pending` revision of its `import_jobs` row and publishes an
//! [`ImportRequest`]. The `imports` worker ([`run_worker`]) reads each
//! request: the file is streamed on the blocking pool through
//! [`crate::statement::read_statement`], every row becomes a `TxnRaw` on
//! `arus.txn.raw.v1`, every rejected row a dead letter with file, line and
//! reason, and the job's row follows it to `completed` or `failed` with the
//! counts.
//!
//! **Nothing doubled.** A row's idempotency key is built from the account,
//! booking date, amount, normalised description and the row's position
//! among identical rows of that day in the file ([`row_key`]); the
//! transaction id is derived from it, so re-importing a file or an
//! overlapping statement yields the same ids. Rows whose id is already in
//! `transactions` (from another file) are counted as duplicates and not
//! sent; `enrich` drops any repeat that slips past (two imports racing).
//!
//! **Exactly once.** An import whose row is `completed` or `failed` is never
//! run again; one that was interrupted is run again from the start (same
//! keys, so nothing doubles, and rows this import already wrote count as
//! imported, not duplicate). The worker resumes each partition after the
//! last import it finished there.

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arus_lakehouse::kafka::Message;
use arus_lakehouse::dead_letters::{dead_letter as dead_letter_for, decode};
use arus_lakehouse::query::select_where;
use arus_lakehouse::{AppendLog, Kafka, KafkaClientError, Lake, LakeError, Producer};
use arus_schemas::events::{check_schema_version, jakarta, transaction_uuid, DeadLetterKind, PayloadEncoding};
use arus_schemas::imports::{ImportJob, ImportRequest, ImportStatus, StatementMappingRecord};
use arus_schemas::{tables, topics, Config, DeadLetter, TxnRaw, TxnSource, SCHEMA_VERSION};
use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use datafusion::prelude::{col, lit};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::media::{hex, MediaError, MediaReader, MediaStore};
use crate::statement::{read_statement, sniff_format, BankChoice, ColumnMapping, Format, Item, ReadOptions, StatementError, StatementRow};

/// Name of the worker: consumer group suffix, `job` of its dead letters.
pub const JOB_NAME: &str = "imports";
/// Rejected rows kept in the job's row (all of them go to the DLQ).
pub const REJECTED_ROWS_KEPT: usize = 1000;
/// Sends awaiting acknowledgement before the reader is held back.
const MAX_IN_FLIGHT: usize = 20_000;
/// A running import's row is rewritten with its counts this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Items handed from the reader thread at a time.
const BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Kafka(#[from] KafkaClientError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("import: {0}")]
    Internal(String),
}

/// Counts of an import so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows_read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub pending: u64,
}

/// Where a running import is: `done` of `total` (bytes or rows) and the counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub counts: Counts,
}

/// A rejected row as the job's row keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectedLine {
    pub line: u64,
    pub reason: String,
    pub raw: String,
}

/// The stable idempotency key of a statement row (see the module notes).
pub fn row_key(account_id: Option<&str>, row: &StatementRow, occurrence: u32) -> String {
    key_of(&row_identity(account_id, row), occurrence)
}

fn key_of(identity: &[u8; 16], occurrence: u32) -> String {
    format!("stmt:{}:{occurrence}", hex(identity))
}

/// What makes rows "identical" within a day: account, date, amount and
/// normalised description.
fn row_identity(account_id: Option<&str>, row: &StatementRow) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(account_id.unwrap_or("").as_bytes());
    hasher.update([0x1f]);
    hasher.update(row.date.num_days_from_ce().to_le_bytes());
    hasher.update(row.amount.to_le_bytes());
    hasher.update(normalise_description(&row.description).as_bytes());
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// Upper case, letters and digits only, single spaces: `Trsf  e-banking` and
/// `TRSF E BANKING` are the same description.
pub fn normalise_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().map(|c| c.to_ascii_uppercase()));
    }
    out
}

/// The media path of a new import's file.
pub fn media_path(import_id: &str, now: DateTime<Utc>) -> String {
    format!("imports/{}/{import_id}", now.format("%Y-%m"))
}

/// Runs imports and records them: shared by the API, the worker and `arus import`.
#[derive(Clone)]
pub struct Importer {
    inner: Arc<Inner>,
}

struct Inner {
    producer: Producer,
    txn_topic: String,
    dlq_topic: String,
    import_topic: String,
    lake: Lake,
    media: MediaStore,
    jobs: Mutex<AppendLog<ImportJob>>,
    mappings: Mutex<AppendLog<StatementMappingRecord>>,
    max_bytes: u64,
    max_unpacked_bytes: u64,
}

impl Importer {
    pub async fn open(config: &Config) -> Result<Self, ImportError> {
        let kafka = Kafka::new(config)?;
        let lake = Lake::new(config)?;
        let jobs = AppendLog::open(&lake, &tables::IMPORT_JOBS).await?;
        let mappings = AppendLog::open(&lake, &tables::STATEMENT_MAPPINGS).await?;
        Ok(Importer {
            inner: Arc::new(Inner {
                producer: kafka.producer()?,
                txn_topic: config.topic(topics::TXN_RAW),
                dlq_topic: config.topic(topics::DLQ),
                import_topic: config.topic(topics::IMPORT),
                lake,
                media: MediaStore::new(config)?,
                jobs: Mutex::new(jobs),
                mappings: Mutex::new(mappings),
                max_bytes: config.import_max_bytes,
                max_unpacked_bytes: config.import_max_unpacked_bytes,
            }),
        })
    }

    pub fn media(&self) -> &MediaStore {
        &self.inner.media
    }

    /// Largest file accepted.
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// Records a stored file's import as `pending` and publishes the request
    /// for the worker. When the request cannot be published, the import is
    /// recorded as failed and the error returned.
    pub async fn submit(&self, request: &ImportRequest) -> Result<ImportJob, ImportError> {
        let job = self.record_pending(request).await?;
        let sent = self.inner.producer.send_json(&self.inner.import_topic, &request.user_id, request).await;
        if let Err(e) = sent {
            let mut failed = job.clone();
            finish(&mut failed, ImportStatus::Failed, Some(("unavailable", format!("the import could not be queued: {e}"))));
            self.record(&failed).await?;
            return Err(e.into());
        }
        Ok(job)
    }

    /// Records a stored file's import as `pending` without queuing it (the
    /// caller runs it itself, as `arus import` does).
    pub async fn record_pending(&self, request: &ImportRequest) -> Result<ImportJob, ImportError> {
        let job = ImportJob::pending(request, Utc::now());
        self.record(&job).await?;
        Ok(job)
    }

    async fn record(&self, job: &ImportJob) -> Result<(), ImportError> {
        self.inner.jobs.lock().await.append_retrying(std::slice::from_ref(job)).await?;
        Ok(())
    }

    /// The latest revision of `import_id`, as committed now.
    pub async fn latest(&self, import_id: &str) -> Result<Option<ImportJob>, ImportError> {
        let mut jobs = self.inner.jobs.lock().await;
        jobs.refresh().await?;
        let revisions = jobs.rows_where(col("import_id").eq(lit(import_id.to_owned()))).await?;
        Ok(revisions.into_iter().max_by_key(|j| j.revision))
    }

    /// The column mapping saved for `account_id`, if any.
    pub async fn saved_mapping(&self, user_id: &str, account_id: &str) -> Result<Option<ColumnMapping>, ImportError> {
        let mut mappings = self.inner.mappings.lock().await;
        mappings.refresh().await?;
        let rows = mappings.rows_where(col("account_id").eq(lit(account_id.to_owned())).and(col("user_id").eq(lit(user_id.to_owned())))).await?;
        Ok(rows.into_iter().max_by_key(|r| r.saved_at).and_then(|r| serde_json::from_str(&r.mapping).ok()))
    }

    /// For a worker resuming: the offset after the last finished import of
    /// each partition of the import topic.
    pub async fn resume_offsets(&self) -> Result<HashMap<i32, i64>, ImportError> {
        let mut jobs = self.inner.jobs.lock().await;
        jobs.refresh().await?;
        let finished = col("status").in_list(vec![lit("completed"), lit("failed")], false).and(col("source_partition").is_not_null());
        let mut next = HashMap::new();
        for job in jobs.rows_where(finished).await? {
            if let (Some(p), Some(o)) = (job.source_partition, job.source_offset) {
                let at = next.entry(p).or_insert(o + 1);
                *at = (*at).max(o + 1);
            }
        }
        Ok(next)
    }

    /// Runs the import `request` to its end (or returns at once when it has
    /// ended before). `source` is the request's place on the import topic.
    /// A failure to read the file is a `failed` import, not an error; an
    /// error means the import could not go on (broker or lake unavailable)
    /// and is left `running` to be run again.
    pub async fn run(&self, request: &ImportRequest, source: Option<(i32, i64)>, mut on_progress: impl FnMut(&Progress) + Send) -> Result<ImportJob, ImportError> {
        let now = Utc::now();
        let current = self.latest(&request.import_id).await?;
        if let Some(job) = current.as_ref().filter(|j| j.status.is_final()) {
            return Ok(job.clone());
        }
        let mut job = current.unwrap_or_else(|| ImportJob::pending(request, now));
        job.status = ImportStatus::Running;
        job.started_at = Some(now);
        (job.source_partition, job.source_offset) = (source.map(|s| s.0), source.map(|s| s.1));
        bump(&mut job);
        self.record(&job).await?;

        let Some(bank) = BankChoice::parse(&request.bank) else {
            return self.fail(job, source, "bad_bank", format!("unknown bank {:?} (choose {})", request.bank, BankChoice::NAMES)).await;
        };
        let given: Option<ColumnMapping> = match request.mapping.clone().map(serde_json::from_value) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => return self.fail(job, source, "bad_mapping", format!("invalid column mapping: {e}")).await,
        };
        let mapping = match (&given, &request.account_id, bank) {
            (Some(m), _, _) => Some(m.clone()),
            (None, Some(account), BankChoice::Auto | BankChoice::Mapped) => self.saved_mapping(&request.user_id, account).await?,
            _ => None,
        };
        let options = ReadOptions { bank, mapping, reference: None, max_unpacked_bytes: self.inner.max_unpacked_bytes };
        // Opened and sniffed on the blocking pool; an unreadable format is
        // left for the reader to report with its own error.
        let opened = match self.inner.media.open(&request.media_path, self.inner.max_bytes).await {
            Ok(file) => tokio::task::spawn_blocking(move || -> Result<(MediaReader, Option<Format>), MediaError> {
                let mut file = file;
                let mut head = Vec::with_capacity(8192);
                (&mut file).take(8192).read_to_end(&mut head)?;
                file.seek(SeekFrom::Start(0))?;
                Ok((file, sniff_format(&head).ok()))
            })
            .await
            .map_err(|e| ImportError::Internal(format!("opening the stored file failed: {e}")))?,
            Err(e) => Err(e),
        };
        let (file, format) = match opened {
            Ok(opened) => opened,
            Err(e) => return self.fail(job, source, "missing_file", format!("the stored file cannot be opened: {e}")).await,
        };
        let txn_source = match format {
            Some(Format::Xlsx | Format::Xls) => TxnSource::Xlsx,
            _ => TxnSource::Csv,
        };

        // Three stages, each on a thread of its own so the cores share the
        // work whichever is heaviest (reading CSV is light, reading XLSX
        // heavy): the reader, a thread turning rows into events (keys, ids,
        // JSON), and this task, which checks for duplicates and sends.
        let (tx, mut items) = tokio::sync::mpsc::channel::<Vec<Item>>(16);
        let (work_tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Work>>(16);
        let mut prepare = Prepare::new(request, txn_source);
        let preparer = tokio::task::spawn_blocking(move || {
            while let Some(batch) = items.blocking_recv() {
                let work = batch
                    .into_iter()
                    .map(|item| match item {
                        Item::Row(row) => prepare.row(row),
                        Item::Rejected(r) => Work::Rejected { line: r.line as u64, reason: r.reason, raw: r.raw },
                        Item::Progress { done, total } => Work::Progress { done, total },
                    })
                    .collect();
                if work_tx.blocking_send(work).is_err() {
                    return;
                }
            }
        });
        let reader = tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let result = read_statement(BufReader::new(file), &options, |item| {
                batch.push(item);
                if batch.len() >= BATCH {
                    tx.blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).map_err(|_| "the import stopped".to_owned())?;
                }
                Ok(())
            });
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            result
        });

        let mut run = Run::new(self, request, source, self.inner.lake.open(&tables::TRANSACTIONS).await?);
        let mut progress = Progress::default();
        let mut last_written = Instant::now();
        while let Some(batch) = rx.recv().await {
            for item in batch {
                match item {
                    Work::Progress { done, total } => {
                        (progress.done, progress.total) = (done, total);
                        progress.counts = run.counts;
                        on_progress(&progress);
                    }
                    Work::Ready(ready) => run.ready(*ready).await?,
                    Work::Pending => {
                        run.counts.rows_read += 1;
                        run.counts.pending += 1;
                    }
                    Work::Rejected { line, reason, raw } => {
                        run.counts.rows_read += 1;
                        run.rejected(line, reason, raw);
                    }
                }
            }
            run.settle(MAX_IN_FLIGHT).await?;
            if last_written.elapsed() >= PROGRESS_EVERY {
                last_written = Instant::now();
                run.fill(&mut job);
                bump(&mut job);
                self.record(&job).await?;
            }
        }
        run.settle(0).await?;
        let read = reader.await.map_err(|e| ImportError::Internal(format!("the statement reader failed: {e}")))?;
        preparer.await.map_err(|e| ImportError::Internal(format!("preparing rows failed: {e}")))?;
        progress.counts = run.counts;
        on_progress(&progress);
        run.fill(&mut job);
        match read {
            Ok(summary) => {
                job.format = Some(summary.format.as_str().to_owned());
                job.layout = Some(summary.layout.as_str().to_owned());
                if let (Some(m), Some(account)) = (&given, &request.account_id) {
                    if summary.layout == crate::statement::Layout::Mapped && run.counts.imported + run.counts.duplicates > 0 {
                        self.save_mapping(request, account, m).await?;
                    }
                }
                finish(&mut job, ImportStatus::Completed, None);
                self.record(&job).await?;
                Ok(job)
            }
            Err(StatementError::Stopped(reason)) => Err(ImportError::Internal(reason)),
            Err(e) => self.fail(job, source, e.code(), e.to_string()).await,
        }
    }

    async fn save_mapping(&self, request: &ImportRequest, account: &str, mapping: &ColumnMapping) -> Result<(), ImportError> {
        let record = StatementMappingRecord {
            account_id: account.to_owned(),
            user_id: request.user_id.clone(),
            mapping: serde_json::to_string(mapping).map_err(|e| ImportError::Internal(e.to_string()))?,
            import_id: request.import_id.clone(),
            saved_at: Utc::now(),
        };
        self.inner.mappings.lock().await.append_retrying(&[record]).await?;
        Ok(())
    }

    /// Ends `job` as failed with `code` and `reason`; the file goes to the DLQ by path.
    async fn fail(&self, mut job: ImportJob, source: Option<(i32, i64)>, code: &str, reason: String) -> Result<ImportJob, ImportError> {
        tracing::warn!(import_id = %job.import_id, code, %reason, "import failed");
        let origin = Origin { import_id: &job.import_id, user_id: &job.user_id, file_name: &job.file_name, source };
        let letter = dead_letter(&self.inner.import_topic, &origin, 0, &reason, &job.media_path);
        self.inner.producer.send_json(&self.inner.dlq_topic, &job.user_id, &letter).await?;
        finish(&mut job, ImportStatus::Failed, Some((code, reason)));
        self.record(&job).await?;
        Ok(job)
    }
}

fn bump(job: &mut ImportJob) {
    job.revision += 1;
    job.updated_at = Utc::now();
}

fn finish(job: &mut ImportJob, status: ImportStatus, error: Option<(&str, String)>) {
    job.status = status;
    if let Some((code, reason)) = error {
        job.error_code = Some(code.to_owned());
        job.error = Some(reason);
    }
    job.finished_at = Some(Utc::now());
    bump(job);
}

/// Which import a dead letter is about.
struct Origin<'a> {
    import_id: &'a str,
    user_id: &'a str,
    file_name: &'a str,
    /// The request's place on the import topic (none for `arus import`).
    source: Option<(i32, i64)>,
}

/// A dead letter about `line` of an import's file (line 0: the whole file).
fn dead_letter(import_topic: &str, origin: &Origin<'_>, line: u64, reason: &str, payload: &str) -> DeadLetter {
    let file = origin.file_name;
    DeadLetter {
        schema_version: SCHEMA_VERSION,
        id: format!("import/{}/{line}", origin.import_id),
        user_id: Some(origin.user_id.to_owned()),
        job: JOB_NAME.to_owned(),
        source_topic: import_topic.to_owned(),
        source_partition: origin.source.map_or(-1, |s| s.0),
        source_offset: origin.source.map_or(-1, |s| s.1),
        source_key: Some(file.to_owned()),
        error_kind: DeadLetterKind::Invalid,
        error: if line == 0 { format!("{file}: {reason}") } else { format!("{file} line {line}: {reason}") },
        payload: payload.to_owned(),
        payload_encoding: PayloadEncoding::Utf8,
        failed_at: Utc::now(),
    }
}

/// What the preparing thread hands on, in file order.
enum Work {
    /// A row ready to send (unless already in the lake).
    Ready(Box<Ready>),
    /// A BCA `PEND` row: counted, not imported.
    Pending,
    Rejected { line: u64, reason: String, raw: String },
    Progress { done: u64, total: u64 },
}

/// A row as an event: its transaction id, WIB month and JSON.
struct Ready {
    id: u128,
    /// `YYYY * 100 + MM` in WIB: the `transactions` partition it lands in.
    month: u32,
    payload: Vec<u8>,
}

/// Turns statement rows into events, on a thread of its own: keys with the
/// row's position among identical rows of its day, validation, JSON.
struct Prepare {
    user_id: String,
    account_id: Option<String>,
    media_path: String,
    source: TxnSource,
    occurrences: HashMap<[u8; 16], u32>,
    captured_at: DateTime<Utc>,
}

impl Prepare {
    fn new(request: &ImportRequest, source: TxnSource) -> Self {
        Prepare {
            user_id: request.user_id.clone(),
            account_id: request.account_id.clone(),
            media_path: request.media_path.clone(),
            source,
            occurrences: HashMap::new(),
            captured_at: Utc::now(),
        }
    }

    fn row(&mut self, row: StatementRow) -> Work {
        if row.pending {
            return Work::Pending;
        }
        let line = row.line as u64;
        let account = self.account_id.as_deref();
        let identity = row_identity(account, &row);
        let occurrence = self.occurrences.entry(identity).or_insert(0);
        let key = key_of(&identity, *occurrence);
        *occurrence += 1;
        let naive = row.date.and_time(row.time.unwrap_or(NaiveTime::MIN));
        let Some(wib) = jakarta().from_local_datetime(&naive).single() else {
            return Work::Rejected { line, reason: format!("{naive} is not a time in WIB"), raw: row.description };
        };
        let raw = TxnRaw {
            schema_version: SCHEMA_VERSION,
            user_id: self.user_id.clone(),
            idempotency_key: key,
            source: self.source,
            account_id: self.account_id.clone(),
            occurred_at: wib.with_timezone(&Utc),
            amount: row.amount,
            currency: "IDR".to_owned(),
            description: row.description,
            counterparty: None,
            media_ref: Some(self.media_path.clone()),
            category_id: None,
            reverses: None,
            captured_at: self.captured_at,
        };
        if let Err(errors) = raw.validate(Utc::now()) {
            let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            return Work::Rejected { line, reason, raw: raw.description };
        }
        let mut payload = Vec::with_capacity(512);
        if let Err(e) = serde_json::to_writer(&mut payload, &raw) {
            return Work::Rejected { line, reason: format!("cannot be encoded: {e}"), raw: raw.description };
        }
        let id = transaction_uuid(&raw.user_id, &raw.idempotency_key).as_u128();
        let month = wib.year() as u32 * 100 + wib.month();
        Work::Ready(Box::new(Ready { id, month, payload }))
    }
}

/// One import in progress: counts, ids already in the lake, sends in flight.
struct Run<'a> {
    importer: &'a Importer,
    request: &'a ImportRequest,
    source: Option<(i32, i64)>,
    transactions: deltalake::DeltaTable,
    counts: Counts,
    /// Per month (WIB): ids in `transactions` and whether this import wrote them.
    existing: HashMap<u32, HashMap<u128, bool>>,
    rejected_rows: Vec<RejectedLine>,
    in_flight: FuturesUnordered<futures::future::BoxFuture<'static, Result<(i32, i64), KafkaClientError>>>,
}

impl<'a> Run<'a> {
    fn new(importer: &'a Importer, request: &'a ImportRequest, source: Option<(i32, i64)>, transactions: deltalake::DeltaTable) -> Self {
        Run {
            importer,
            request,
            source,
            transactions,
            counts: Counts::default(),
            existing: HashMap::new(),
            rejected_rows: Vec::new(),
            in_flight: FuturesUnordered::new(),
        }
    }

    /// The ids of `month` already in `transactions` for this person.
    async fn existing(&mut self, month: u32) -> Result<&HashMap<u128, bool>, ImportError> {
        if !self.existing.contains_key(&month) {
            let partition = format!("{:04}-{:02}", month / 100, month % 100);
            let filter = col("user_id").eq(lit(self.request.user_id.clone())).and(col("month").eq(lit(partition)));
            let batches = select_where(&self.transactions, filter, Some(&["id", "media_ref"])).await?;
            let mut ids = HashMap::new();
            for batch in &batches {
                let id = arrow_strings(batch, 0)?;
                let media = arrow_strings(batch, 1)?;
                for i in 0..batch.num_rows() {
                    if let Some(Ok(uuid)) = id[i].map(uuid::Uuid::parse_str) {
                        ids.insert(uuid.as_u128(), media[i] == Some(self.request.media_path.as_str()));
                    }
                }
            }
            self.existing.insert(month, ids);
        }
        Ok(&self.existing[&month])
    }

    async fn ready(&mut self, ready: Ready) -> Result<(), ImportError> {
        self.counts.rows_read += 1;
        let known = self.existing(ready.month).await?.get(&ready.id).copied();
        match known {
            // Written by another file: already in arus.
            Some(false) => self.counts.duplicates += 1,
            // Written by an earlier, interrupted run of this import.
            Some(true) => self.counts.imported += 1,
            None => {
                let send = self.importer.inner.producer.send_detached(&self.importer.inner.txn_topic, self.request.user_id.clone(), ready.payload);
                self.in_flight.push(Box::pin(send));
                self.counts.imported += 1;
            }
        }
        Ok(())
    }

    fn rejected(&mut self, line: u64, reason: String, raw: String) {
        self.counts.rejected += 1;
        let origin = Origin { import_id: &self.request.import_id, user_id: &self.request.user_id, file_name: &self.request.file_name, source: self.source };
        let letter = dead_letter(&self.importer.inner.import_topic, &origin, line, &reason, &raw);
        if let Ok(payload) = serde_json::to_vec(&letter) {
            let send = self.importer.inner.producer.send_detached(&self.importer.inner.dlq_topic, self.request.user_id.clone(), payload);
            self.in_flight.push(Box::pin(send));
        }
        if self.rejected_rows.len() < REJECTED_ROWS_KEPT {
            self.rejected_rows.push(RejectedLine { line, reason, raw });
        }
    }

    /// Waits until at most `limit` sends are unacknowledged.
    async fn settle(&mut self, limit: usize) -> Result<(), ImportError> {
        while self.in_flight.len() > limit {
            if let Some(sent) = self.in_flight.next().await {
                sent?;
            }
        }
        Ok(())
    }

    fn fill(&self, job: &mut ImportJob) {
        let c = self.counts;
        (job.rows_read, job.imported, job.duplicates, job.rejected, job.pending) =
            (c.rows_read as i64, c.imported as i64, c.duplicates as i64, c.rejected as i64, c.pending as i64);
        job.rejected_rows = (!self.rejected_rows.is_empty()).then(|| serde_json::to_string(&self.rejected_rows).unwrap_or_default());
    }
}

fn arrow_strings(batch: &arrow::record_batch::RecordBatch, column: usize) -> Result<Vec<Option<&str>>, ImportError> {
    use arrow::array::{Array, AsArray};
    let array = batch.column(column);
    if let Some(s) = array.as_string_opt::<i32>() {
        return Ok(s.iter().collect());
    }
    if let Some(v) = array.as_string_view_opt() {
        return Ok(v.iter().collect());
    }
    if array.null_count() == array.len() {
        return Ok(vec![None; array.len()]);
    }
    Err(ImportError::Internal(format!("column {column} of transactions is {}, not text", array.data_type())))
}

/// What a worker did, returned on shutdown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerReport {
    pub requests: u64,
    pub completed: u64,
    pub failed: u64,
    pub dead_letters: u64,
}

/// The `imports` worker: runs every import requested on the import topic,
/// one at a time, until `shutdown`. An import interrupted by shutdown is run
/// again on the next start.
pub async fn run_worker(config: &Config, shutdown: CancellationToken) -> Result<WorkerReport, ImportError> {
    let importer = Importer::open(config).await?;
    let kafka = Kafka::new(config)?;
    let topic = config.topic(topics::IMPORT);
    let consumer = kafka.consumer(&config.group(JOB_NAME), &[&topic], config.consumer_mode)?;
    let mut report = WorkerReport::default();
    tracing::info!(job = JOB_NAME, %topic, "import worker started");
    // Set when a message arrives after a rebalance: the flag is taken then,
    // and positions must still be restored (the seek delivers it again).
    let mut reassigned = false;
    loop {
        if std::mem::take(&mut reassigned) | consumer.take_assignment_changed() {
            let next = importer.resume_offsets().await?;
            let positions = consumer.assignment()?.into_iter().map(|(t, p)| {
                let at = next.get(&p).copied();
                ((t, p), at)
            }).collect();
            consumer.seek_or_retry(&positions).await?;
            continue;
        }
        let msg = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = consumer.assignment_change() => continue,
            msg = consumer.recv() => msg?,
        };
        if consumer.take_assignment_changed() {
            reassigned = true;
            continue;
        }
        let (partition, offset) = (msg.partition(), msg.offset());
        report.requests += 1;
        let request = match decode_request(&msg) {
            Ok(request) => request,
            Err(letter) => {
                tracing::warn!(job = JOB_NAME, partition, offset, error = %letter.error, "dead letter");
                importer.inner.producer.send_json(&importer.inner.dlq_topic, letter.user_id.as_deref().unwrap_or(""), &letter).await?;
                report.dead_letters += 1;
                let _ = consumer.commit_for_lag(&[(topic.clone(), partition, offset + 1)]);
                continue;
            }
        };
        let mut attempt = 0u32;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => {
                    tracing::info!(job = JOB_NAME, import_id = %request.import_id, "stopping in the middle of an import; it runs again on the next start");
                    return Ok(report);
                }
                outcome = importer.run(&request, Some((partition, offset)), |_| {}) => outcome,
            };
            match outcome {
                Ok(job) => {
                    if job.status == ImportStatus::Completed {
                        report.completed += 1;
                    } else {
                        report.failed += 1;
                    }
                    tracing::info!(
                        job = JOB_NAME, import_id = %job.import_id, status = ?job.status, rows = job.rows_read, imported = job.imported,
                        duplicates = job.duplicates, rejected = job.rejected, took_ms = started.elapsed().as_millis() as u64, "import ended"
                    );
                    break;
                }
                Err(e) if attempt < 10 => {
                    attempt += 1;
                    tracing::error!(job = JOB_NAME, import_id = %request.import_id, error = %e, attempt, "import interrupted; trying again");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e),
            }
        }
        let _ = consumer.commit_for_lag(&[(topic.clone(), partition, offset + 1)]);
    }
    tracing::info!(job = JOB_NAME, ?report, "import worker stopped");
    Ok(report)
}

fn decode_request(msg: &arus_lakehouse::kafka::BorrowedMessage<'_>) -> Result<ImportRequest, Box<DeadLetter>> {
    let request: ImportRequest = decode(JOB_NAME, msg)?;
    if let Err(e) = check_schema_version(request.schema_version) {
        return Err(Box::new(dead_letter_for(JOB_NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, Some(request.user_id))));
    }
    if uuid::Uuid::parse_str(&request.import_id).is_err() || request.user_id.trim().is_empty() {
        let reason = "import_id must be a UUID and user_id non-empty".to_owned();
        return Err(Box::new(dead_letter_for(JOB_NAME, msg, DeadLetterKind::Invalid, reason, Some(request.user_id))));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn row(description: &str, amount: i64) -> StatementRow {
        StatementRow {
            line: 7,
            date: NaiveDate::from_ymd_opt(2026, 11, 4).unwrap(),
            time: None,
            description: description.into(),
            amount,
            balance: Some(1),
            reference: None,
            pending: false,
        }
    }

    #[test]
    fn keys_ignore_layout_noise_but_not_what_makes_a_transaction() {
        let a = row("PEMBELIAN PULSA  Telkomsel-0812", -52_500);
        // Another export of the same row: other line, balance, spacing and case.
        let mut b = row("pembelian pulsa telkomsel 0812", -52_500);
        (b.line, b.balance) = (90, None);
        assert_eq!(row_key(Some("acc"), &a, 0), row_key(Some("acc"), &b, 0));
        assert_ne!(row_key(Some("acc"), &a, 0), row_key(Some("acc"), &a, 1), "the second identical row of a day is its own transaction");
        assert_ne!(row_key(Some("acc"), &a, 0), row_key(Some("other"), &a, 0));
        assert_ne!(row_key(Some("acc"), &a, 0), row_key(Some("acc"), &row("PEMBELIAN PULSA TELKOMSEL 0812", 52_500), 0));
        assert!(row_key(None, &a, 0).len() < 64);
    }
}
