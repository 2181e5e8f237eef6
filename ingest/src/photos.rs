//! Receipt and cash-book photos in the stream: the `ocr` job and what the
//! API needs around it.
//!
//! The API (or a chat connector) stores the photo in the media store,
//! writes the `pending_ocr` revision of its `media` row and publishes a
//! [`MediaUpload`] on `arus.media.v1`. The `ocr` job ([`run_worker`]) reads
//! each upload: Tesseract on a pool of engine threads (bounded concurrency,
//! off the async reactor), the receipt or cash-book parser, optionally a
//! vision model when Tesseract is unsure ([`Reader`]). Then, in upload
//! order:
//! - **parsed**: every field a booking needs is sure; its transactions go
//!   to `arus.txn.raw.v1` (source `ocr`, `media_ref` the photo) and on
//!   through `enrich`;
//! - **needs_review**: something is unsure (the reasons are kept); the
//!   proposed transactions wait until the person confirms or corrects them
//!   ([`Photos::confirm`]), which books them (`confirmed`);
//! - **failed**: not a picture, a damaged or oversized one, nothing
//!   written on it; the reason is on the row and a dead letter goes to the
//!   DLQ.
//!
//! **Exactly once.** Transaction keys are `ocr:{media_id}:{index}`, so a
//! photo read twice books the same rows (and `enrich` drops repeats). A
//! photo whose row is read is never read again; the job finishes uploads in
//! the order of the topic, so it resumes each partition after the last
//! upload it finished there.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arus_lakehouse::dead_letters::{dead_letter as dead_letter_for, decode};
use arus_lakehouse::kafka::Message;
use arus_lakehouse::{AppendLog, Kafka, KafkaClientError, Lake, LakeError, Producer};
use arus_schemas::events::{check_schema_version, transaction_uuid, DeadLetterKind, PayloadEncoding};
use arus_schemas::media::{MediaKind, MediaRecord, MediaStatus, MediaUpload};
use arus_schemas::whatsapp::{Audience, WaOutbound};
use arus_schemas::{tables, topics, Config, DeadLetter, Lang, TxnRaw, TxnSource, SCHEMA_VERSION};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use datafusion::prelude::{col, lit};
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::media::{MediaError, MediaStore};
use crate::ocr::booking::{self, at_local, idempotency_key, local_zone, Booking, Proposed};
use crate::ocr::engine::{EngineKind, EngineOptions, OcrError};
use crate::ocr::pool::OcrPool;
use crate::ocr::prepare::{image_mime, PrepareOptions};
use crate::ocr::receipt::Receipt;
use crate::ocr::vision::{self, Gemini, Ollama, VisionModel};
use crate::ocr::{cashbook, Reading};
use crate::whatsapp::reply;

/// Name of the job: consumer group suffix, `job` of its dead letters.
pub const JOB_NAME: &str = "ocr";

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error(transparent)]
    Kafka(#[from] KafkaClientError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Ocr(#[from] OcrError),
    #[error("ocr: {0}")]
    Internal(String),
}

/// The media path of a new photo.
pub fn media_path(media_id: &str, now: DateTime<Utc>) -> String {
    format!("photos/{}/{media_id}", now.format("%Y-%m"))
}

/// One transaction a photo books (or proposes), as its row keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhotoTransaction {
    /// The transaction's id once booked (derived from the photo and `index`).
    pub id: String,
    pub index: u32,
    pub occurred_at: DateTime<Utc>,
    /// Signed whole rupiah: negative is money out.
    pub amount: i64,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty: Option<String>,
}

impl PhotoTransaction {
    fn of(user_id: &str, media_id: &str, p: &Proposed) -> Self {
        PhotoTransaction {
            id: transaction_uuid(user_id, &idempotency_key(media_id, p.index)).to_string(),
            index: p.index,
            occurred_at: p.occurred_at,
            amount: p.amount,
            description: p.description.clone(),
            counterparty: p.counterparty.clone(),
        }
    }
}

/// The event a photo's transaction is published as.
fn txn_raw(record: &MediaRecord, t: &PhotoTransaction) -> TxnRaw {
    TxnRaw {
        schema_version: SCHEMA_VERSION,
        user_id: record.user_id.clone(),
        idempotency_key: idempotency_key(&record.media_id, t.index),
        source: TxnSource::Ocr,
        account_id: record.account_id.clone(),
        occurred_at: t.occurred_at,
        amount: t.amount,
        currency: "IDR".to_owned(),
        description: t.description.clone(),
        counterparty: t.counterparty.clone(),
        media_ref: Some(record.media_path.clone()),
        category_id: None,
        reverses: None,
        captured_at: record.uploaded_at,
    }
}

/// What a person changes when confirming a photo. Every field is optional:
/// an empty confirmation books what was proposed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// A receipt's total in whole rupiah (what was paid; booked as money out).
    pub total: Option<i64>,
    /// A receipt's date.
    pub date: Option<NaiveDate>,
    /// A receipt's time.
    #[schema(value_type = Option<String>, example = "14:35:00")]
    pub time: Option<NaiveTime>,
    /// A receipt's merchant (also the description).
    pub merchant: Option<String>,
    /// Replaces every transaction proposed (a cash-book page, or a receipt
    /// booked differently): date, signed amount and description each.
    pub transactions: Option<Vec<EditedTransaction>>,
}

/// One transaction as the person wrote it when confirming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditedTransaction {
    pub date: NaiveDate,
    /// Signed whole rupiah: negative is money out.
    pub amount: i64,
    pub description: String,
}

/// Why a photo cannot be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// The photo is not waiting for the person (`pending_ocr`, or booked already).
    #[error("{0}")]
    Conflict(String),
    /// The fields given (or left) do not make a transaction.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Photo(#[from] PhotoError),
}

/// Records photos and books them: shared by the API and the `ocr` job.
#[derive(Clone)]
pub struct Photos {
    inner: Arc<Inner>,
}

struct Inner {
    producer: Producer,
    txn_topic: String,
    dlq_topic: String,
    media_topic: String,
    outbound_topic: String,
    media: MediaStore,
    log: Mutex<AppendLog<MediaRecord>>,
    max_bytes: u64,
}

impl Photos {
    pub async fn open(config: &Config) -> Result<Self, PhotoError> {
        let kafka = Kafka::new(config)?;
        let lake = Lake::new(config)?;
        let log = AppendLog::open(&lake, &tables::MEDIA).await?;
        Ok(Photos {
            inner: Arc::new(Inner {
                producer: kafka.producer()?,
                txn_topic: config.topic(topics::TXN_RAW),
                dlq_topic: config.topic(topics::DLQ),
                media_topic: config.topic(topics::MEDIA),
                outbound_topic: config.topic(topics::WA_OUTBOUND),
                media: MediaStore::new(config)?,
                log: Mutex::new(log),
                max_bytes: config.ocr_max_bytes,
            }),
        })
    }

    pub fn media(&self) -> &MediaStore {
        &self.inner.media
    }

    /// Largest photo accepted.
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// Records a stored photo as `pending_ocr` and publishes it for the
    /// `ocr` job. When it cannot be published, the photo is recorded as
    /// failed and the error returned.
    pub async fn submit(&self, upload: &MediaUpload) -> Result<MediaRecord, PhotoError> {
        let record = MediaRecord::pending(upload, Utc::now());
        self.record(&record).await?;
        if let Err(e) = self.inner.producer.send_json(&self.inner.media_topic, &upload.user_id, upload).await {
            let mut failed = record.clone();
            failed.status = MediaStatus::Failed;
            (failed.error_code, failed.error) = (Some("unavailable".to_owned()), Some(format!("the photo could not be queued: {e}")));
            next_revision(&mut failed);
            self.record(&failed).await?;
            return Err(e.into());
        }
        Ok(record)
    }

    async fn record(&self, record: &MediaRecord) -> Result<(), PhotoError> {
        self.inner.log.lock().await.append_retrying(std::slice::from_ref(record)).await?;
        Ok(())
    }

    /// The latest revision of `media_id`, as committed now.
    pub async fn latest(&self, media_id: &str) -> Result<Option<MediaRecord>, PhotoError> {
        let mut log = self.inner.log.lock().await;
        log.refresh().await?;
        let revisions = log.rows_where(col("media_id").eq(lit(media_id.to_owned()))).await?;
        Ok(revisions.into_iter().max_by_key(|r| r.revision))
    }

    /// For a job resuming: the offset after the last upload it finished on
    /// each partition of the media topic.
    pub async fn resume_offsets(&self) -> Result<HashMap<i32, i64>, PhotoError> {
        let mut log = self.inner.log.lock().await;
        log.refresh().await?;
        let mut next = HashMap::new();
        for record in log.rows_where(col("source_partition").is_not_null()).await? {
            if let (Some(p), Some(o)) = (record.source_partition, record.source_offset) {
                let at = next.entry(p).or_insert(o + 1);
                *at = (*at).max(o + 1);
            }
        }
        Ok(next)
    }

    /// Publishes `transactions` of `record` and waits for the broker.
    async fn book(&self, record: &MediaRecord, transactions: &[PhotoTransaction]) -> Result<(), PhotoError> {
        for t in transactions {
            self.inner.producer.send_json(&self.inner.txn_topic, &record.user_id, &txn_raw(record, t)).await?;
        }
        Ok(())
    }

    /// Books what the person confirmed (the proposal, with their edits) and
    /// records the photo as `confirmed` by `by`. Only a photo that waits for
    /// the person (`needs_review`, or `failed` with the fields typed in) can
    /// be confirmed.
    pub async fn confirm(&self, current: &MediaRecord, edits: &Confirmation, by: &str) -> Result<MediaRecord, ConfirmError> {
        waits_for_person(current)?;
        let proposed: Vec<PhotoTransaction> = current.transactions.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        let transactions = edited(current, proposed, edits)?;
        let now = Utc::now();
        let mut errors = Vec::new();
        for t in &transactions {
            if let Err(e) = txn_raw(current, t).validate(now) {
                errors.extend(e.iter().map(|e| format!("transaction {}: {e}", t.index)));
            }
        }
        if !errors.is_empty() {
            return Err(ConfirmError::Invalid(errors));
        }
        self.book(current, &transactions).await?;
        let mut confirmed = current.clone();
        confirmed.status = MediaStatus::Confirmed;
        confirmed.transactions = serde_json::to_string(&transactions).ok();
        confirmed.confirmed_by = Some(by.to_owned());
        (confirmed.source_partition, confirmed.source_offset) = (None, None);
        next_revision(&mut confirmed);
        self.record(&confirmed).await?;
        Ok(confirmed)
    }

    /// Writes the outcome of reading `upload` (read from `source` on the
    /// media topic): books it when sure, tells the DLQ when it failed.
    async fn finish(&self, upload: &MediaUpload, source: (i32, i64), outcome: Outcome) -> Result<MediaRecord, PhotoError> {
        let mut record = match self.latest(&upload.media_id).await? {
            Some(r) if r.status.is_read() => return Ok(r),
            Some(r) => r,
            // Published without its first revision (another producer): start one.
            None => MediaRecord::pending(upload, Utc::now()),
        };
        outcome.fill(&mut record);
        (record.source_partition, record.source_offset) = (Some(source.0), Some(source.1));
        next_revision(&mut record);
        match record.status {
            MediaStatus::Parsed => {
                let transactions: Vec<PhotoTransaction> = record.transactions.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
                self.book(&record, &transactions).await?;
            }
            MediaStatus::Failed => {
                let letter = photo_dead_letter(&self.inner.media_topic, upload, source, &record);
                self.inner.producer.send_json(&self.inner.dlq_topic, &upload.user_id, &letter).await?;
            }
            _ => {}
        }
        // Told before the row is written: a crash in between reads the photo
        // again and sends the same message id, which the notifier sends once.
        if let Some(chat) = &upload.reply_to {
            let message = WaOutbound {
                schema_version: SCHEMA_VERSION,
                id: format!("media:{}:read", upload.media_id),
                session: String::new(),
                chat_id: chat.clone(),
                text: reply::photo_read(&record, Lang::Id),
                reply_to: None,
                user_id: Some(upload.user_id.clone()),
                audience: Audience::Partner,
                origin: "ocr".to_owned(),
                created_at: Utc::now(),
            };
            self.inner.producer.send_json(&self.inner.outbound_topic, chat, &message).await?;
        }
        self.record(&record).await?;
        Ok(record)
    }

    /// Records that the person does not want `current` booked (WhatsApp `TIDAK`).
    pub async fn decline(&self, current: &MediaRecord, by: &str) -> Result<MediaRecord, ConfirmError> {
        waits_for_person(current)?;
        let mut declined = current.clone();
        declined.status = MediaStatus::Declined;
        declined.confirmed_by = Some(by.to_owned());
        (declined.source_partition, declined.source_offset) = (None, None);
        next_revision(&mut declined);
        self.record(&declined).await?;
        Ok(declined)
    }

    /// The newest photo of `user_id` sent through `source` that is not
    /// settled yet: being read (`pending_ocr`) or waiting for the person's
    /// answer (`needs_review`).
    pub async fn awaiting(&self, user_id: &str, source: &str) -> Result<Option<MediaRecord>, PhotoError> {
        let mut log = self.inner.log.lock().await;
        log.refresh().await?;
        let rows = log.rows_where(col("user_id").eq(lit(user_id.to_owned())).and(col("source").eq(lit(source.to_owned())))).await?;
        let mut latest: HashMap<String, MediaRecord> = HashMap::new();
        for r in rows {
            match latest.get(&r.media_id) {
                Some(seen) if seen.revision >= r.revision => {}
                _ => {
                    latest.insert(r.media_id.clone(), r);
                }
            }
        }
        Ok(latest
            .into_values()
            .filter(|r| matches!(r.status, MediaStatus::NeedsReview | MediaStatus::PendingOcr))
            .max_by_key(|r| (r.uploaded_at, r.media_id.clone())))
    }

    /// Publishes a recorded `pending_ocr` photo again (its first publication
    /// may have been lost in a crash); the job reads a photo once however
    /// often it is published.
    pub async fn requeue(&self, record: &MediaRecord, confirm_first: bool) -> Result<(), PhotoError> {
        let upload = MediaUpload {
            schema_version: SCHEMA_VERSION,
            media_id: record.media_id.clone(),
            user_id: record.user_id.clone(),
            account_id: record.account_id.clone(),
            kind: record.kind,
            media_path: record.media_path.clone(),
            file_name: record.file_name.clone(),
            size_bytes: record.size_bytes.max(0) as u64,
            sha256: record.sha256.clone(),
            source: record.source.clone(),
            reply_to: record.reply_to.clone(),
            confirm_first,
            uploaded_at: record.uploaded_at,
        };
        self.inner.producer.send_json(&self.inner.media_topic, &upload.user_id, &upload).await?;
        Ok(())
    }
}

/// Only a photo that waits for the person (`needs_review`, or `failed` with
/// the fields typed in) can be confirmed or declined.
fn waits_for_person(current: &MediaRecord) -> Result<(), ConfirmError> {
    let why = match current.status {
        MediaStatus::NeedsReview | MediaStatus::Failed => return Ok(()),
        MediaStatus::PendingOcr => "the photo has not been read yet",
        MediaStatus::Parsed | MediaStatus::Confirmed => "the photo's transactions are booked already",
        MediaStatus::Declined => "the photo was declined: nothing of it is booked",
    };
    Err(ConfirmError::Conflict(why.to_owned()))
}

fn next_revision(record: &mut MediaRecord) {
    record.revision += 1;
    record.updated_at = Utc::now().max(record.updated_at);
}

/// The transactions a confirmation books: the edits applied to the proposal.
fn edited(current: &MediaRecord, mut proposed: Vec<PhotoTransaction>, edits: &Confirmation) -> Result<Vec<PhotoTransaction>, ConfirmError> {
    let (user, media) = (current.user_id.as_str(), current.media_id.as_str());
    if let Some(list) = &edits.transactions {
        if edits.total.is_some() || edits.date.is_some() || edits.time.is_some() || edits.merchant.is_some() {
            return Err(ConfirmError::Invalid(vec!["give either transactions or the receipt's fields (total, date, time, merchant), not both".to_owned()]));
        }
        if list.is_empty() || list.len() > 500 {
            return Err(ConfirmError::Invalid(vec!["transactions must list between 1 and 500 transactions".to_owned()]));
        }
        return Ok(list
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = Proposed { index: i as u32, occurred_at: at_local(t.date, None), amount: t.amount, description: t.description.trim().to_owned(), counterparty: None };
                PhotoTransaction::of(user, media, &p)
            })
            .collect());
    }
    let is_receipt = current.detected_kind.unwrap_or(current.kind) != MediaKind::Cashbook;
    let touches_receipt = edits.total.is_some() || edits.date.is_some() || edits.time.is_some() || edits.merchant.is_some();
    if touches_receipt && !is_receipt {
        return Err(ConfirmError::Invalid(vec!["a cash-book page is corrected with transactions, not total/date/merchant".to_owned()]));
    }
    if touches_receipt {
        if proposed.is_empty() {
            // Nothing was read well enough to propose: the edits must say it all.
            let (Some(total), Some(date)) = (edits.total, edits.date) else {
                return Err(ConfirmError::Invalid(vec!["nothing was read from this photo: give at least total and date".to_owned()]));
            };
            let merchant = edits.merchant.clone().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
            let p = Proposed { index: 0, occurred_at: at_local(date, edits.time), amount: -total, description: merchant.clone().unwrap_or_else(|| "Struk belanja".to_owned()), counterparty: merchant };
            proposed = vec![PhotoTransaction::of(user, media, &p)];
        } else {
            let t = &mut proposed[0];
            let local = t.occurred_at.with_timezone(&local_zone());
            let date = edits.date.unwrap_or(local.date_naive());
            let time = edits.time.or(Some(local.time()));
            t.occurred_at = at_local(date, time);
            if let Some(total) = edits.total {
                t.amount = -total;
            }
            if let Some(m) = edits.merchant.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
                (t.description, t.counterparty) = (m.to_owned(), Some(m.to_owned()));
            }
        }
        if edits.total.is_some_and(|t| t <= 0) {
            return Err(ConfirmError::Invalid(vec!["total must be a positive number of rupiah".to_owned()]));
        }
    }
    if proposed.is_empty() {
        return Err(ConfirmError::Invalid(vec!["nothing to book: give the receipt's total and date, or the transactions".to_owned()]));
    }
    Ok(proposed)
}

/// A dead letter about a photo that could not be read.
fn photo_dead_letter(media_topic: &str, upload: &MediaUpload, source: (i32, i64), record: &MediaRecord) -> DeadLetter {
    let name = upload.file_name.as_deref().unwrap_or(&upload.media_id);
    let code = record.error_code.as_deref().unwrap_or("failed");
    DeadLetter {
        schema_version: SCHEMA_VERSION,
        id: format!("media/{}", upload.media_id),
        user_id: Some(upload.user_id.clone()),
        job: JOB_NAME.to_owned(),
        source_topic: media_topic.to_owned(),
        source_partition: source.0,
        source_offset: source.1,
        source_key: Some(upload.user_id.clone()),
        error_kind: DeadLetterKind::Invalid,
        error: format!("{name}: {code}: {}", record.error.as_deref().unwrap_or("")),
        payload: serde_json::to_string(upload).unwrap_or_default(),
        payload_encoding: PayloadEncoding::Utf8,
        failed_at: Utc::now(),
    }
}

/// What reading a photo came to, before it is recorded.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: MediaStatus,
    pub detected_kind: Option<MediaKind>,
    /// The receipt or cash book read, as JSON.
    pub fields: Option<String>,
    pub transactions: Vec<PhotoTransaction>,
    pub reasons: Vec<String>,
    pub confidence: Option<f32>,
    pub text: Option<String>,
    pub engine: Option<String>,
    pub ms: u64,
    /// Code and message when it failed.
    pub error: Option<(String, String)>,
}

impl Outcome {
    fn failed(code: &str, message: String, ms: u64) -> Self {
        Outcome {
            status: MediaStatus::Failed,
            detected_kind: None,
            fields: None,
            transactions: Vec::new(),
            reasons: Vec::new(),
            confidence: None,
            text: None,
            engine: None,
            ms,
            error: Some((code.to_owned(), message)),
        }
    }

    fn fill(self, record: &mut MediaRecord) {
        record.status = self.status;
        record.detected_kind = self.detected_kind;
        record.fields = self.fields;
        record.transactions = (!self.transactions.is_empty()).then(|| serde_json::to_string(&self.transactions).unwrap_or_default());
        record.review_reasons = (!self.reasons.is_empty()).then(|| serde_json::to_string(&self.reasons).unwrap_or_default());
        record.confidence = self.confidence.map(f64::from);
        record.ocr_text = self.text;
        record.engine = self.engine;
        record.ocr_ms = Some(self.ms as i64);
        (record.error_code, record.error) = match self.error {
            Some((code, message)) => (Some(code), Some(message)),
            None => (None, None),
        };
    }
}

/// Reads photos: the engine pool, the parsers, the optional vision model.
#[derive(Clone)]
pub struct Reader {
    pool: OcrPool,
    vision: Option<Arc<dyn VisionModel>>,
    /// Ask the vision model when the total or date is below this.
    vision_below: f32,
    /// Below this a booking needs the person.
    threshold: f32,
}

impl Reader {
    pub fn new(pool: OcrPool, vision: Option<Arc<dyn VisionModel>>, vision_below: f32, threshold: f32) -> Self {
        Reader { pool, vision, vision_below, threshold }
    }

    /// The engines and vision model `config` asks for.
    pub fn from_config(config: &Config) -> Result<Self, PhotoError> {
        let kind: EngineKind = config.ocr_engine.parse().map_err(|e: String| PhotoError::Internal(e))?;
        let engine = EngineOptions { languages: config.ocr_languages.clone(), ..EngineOptions::default() };
        let prepare = PrepareOptions { max_pixels: config.ocr_max_pixels, ..PrepareOptions::default() };
        let pool = OcrPool::start(config.ocr_workers, kind, &engine, prepare)?;
        Ok(Reader::new(pool, vision_model(config)?, config.ocr_vision_below as f32, config.ocr_review_threshold as f32))
    }

    pub fn engines(&self) -> usize {
        self.pool.size()
    }

    /// Reads one photo of `upload`.
    pub async fn read(&self, upload: &MediaUpload, bytes: Vec<u8>) -> Outcome {
        let started = Instant::now();
        let mime = image_mime(&bytes).unwrap_or("image/jpeg");
        let photo = self.vision.as_ref().map(|_| bytes.clone());
        let reading = match self.pool.read(bytes).await {
            Ok(reading) => reading,
            Err(e) => return Outcome::failed(e.code(), e.to_string(), started.elapsed().as_millis() as u64),
        };
        let today = upload.uploaded_at.with_timezone(&local_zone()).date_naive();
        let is_cashbook = match upload.kind {
            MediaKind::Cashbook => true,
            MediaKind::Receipt => false,
            MediaKind::Auto => cashbook::looks_like_cashbook(&reading.page),
        };
        let mut engine = "tesseract".to_owned();
        let (kind, fields, booking) = if is_cashbook {
            let book = cashbook::parse(&reading.page, today);
            let booking = booking::cashbook(&book, self.threshold, upload.uploaded_at);
            (MediaKind::Cashbook, serde_json::to_string(&book).ok(), booking)
        } else {
            let mut receipt = reading.receipt.clone();
            if let (Some(model), Some(photo)) = (&self.vision, photo) {
                if unsure(&receipt, self.vision_below) {
                    match model.read(&photo, mime).await {
                        Ok(answer) => {
                            merge(&mut receipt, vision::checked(&answer, &reading.page, today));
                            engine = format!("tesseract+{}", model.name());
                        }
                        Err(e) => tracing::warn!(job = JOB_NAME, media_id = %upload.media_id, error = %e, "the vision model did not help; keeping Tesseract's reading"),
                    }
                }
            }
            let booking = booking::receipt(&receipt, self.threshold, upload.uploaded_at);
            (MediaKind::Receipt, serde_json::to_string(&receipt).ok(), booking)
        };
        outcome_of(upload, &reading, kind, fields, booking, engine, started.elapsed().as_millis() as u64)
    }
}

fn outcome_of(upload: &MediaUpload, reading: &Reading, kind: MediaKind, fields: Option<String>, booking: Booking, engine: String, ms: u64) -> Outcome {
    let transactions: Vec<PhotoTransaction> = booking.transactions.iter().map(|p| PhotoTransaction::of(&upload.user_id, &upload.media_id, p)).collect();
    let mut reasons = booking.reasons;
    // A booking the stream would refuse (a zero amount, a date too far back) waits for the person.
    let record = MediaRecord::pending(upload, Utc::now());
    for t in &transactions {
        if let Err(errors) = txn_raw(&record, t).validate(Utc::now()) {
            reasons.push("invalid_transaction".to_owned());
            tracing::info!(job = JOB_NAME, media_id = %upload.media_id, errors = ?errors.iter().map(ToString::to_string).collect::<Vec<_>>(), "a proposed transaction is not valid");
            break;
        }
    }
    if upload.confirm_first && reasons.is_empty() {
        reasons.push("awaiting_confirmation".to_owned());
    }
    let status = if reasons.is_empty() && !transactions.is_empty() { MediaStatus::Parsed } else { MediaStatus::NeedsReview };
    Outcome {
        status,
        detected_kind: Some(kind),
        fields,
        transactions,
        reasons,
        confidence: Some(booking.confidence),
        text: Some(reading.page.text()),
        engine: Some(engine),
        ms,
        error: None,
    }
}

/// Whether Tesseract's reading of the fields a booking needs is poor.
fn unsure(receipt: &Receipt, below: f32) -> bool {
    let weak = |c: Option<f32>| c.is_none_or(|c| c < below);
    weak(receipt.total.as_ref().map(|t| t.confidence)) || weak(receipt.date.as_ref().map(|d| d.confidence))
}

/// Takes the vision model's field wherever Tesseract's is missing or less sure.
fn merge(receipt: &mut Receipt, seen: Receipt) {
    fn better<T>(mine: &mut Option<crate::ocr::receipt::Field<T>>, theirs: Option<crate::ocr::receipt::Field<T>>) {
        if let Some(t) = theirs {
            if mine.as_ref().is_none_or(|m| m.confidence < t.confidence) {
                *mine = Some(t);
            }
        }
    }
    better(&mut receipt.merchant, seen.merchant);
    better(&mut receipt.date, seen.date);
    better(&mut receipt.time, seen.time);
    better(&mut receipt.total, seen.total);
    better(&mut receipt.currency, seen.currency);
}

/// The vision model `config` names, if any.
pub fn vision_model(config: &Config) -> Result<Option<Arc<dyn VisionModel>>, PhotoError> {
    let timeout = Duration::from_millis(config.ocr_vision_timeout_ms);
    match config.ocr_vision.as_str() {
        "" => Ok(None),
        "ollama" => Ok(Some(Arc::new(Ollama::new(&config.ocr_vision_url, &config.ocr_vision_model, timeout)))),
        "gemini" => {
            let key = config
                .secret("ocr_vision_api_key", &config.ocr_vision_api_key, &config.ocr_vision_api_key_file)
                .map_err(|e| PhotoError::Internal(e.to_string()))?
                .ok_or_else(|| PhotoError::Internal("ocr_vision gemini needs ocr_vision_api_key or ocr_vision_api_key_file".to_owned()))?;
            Ok(Some(Arc::new(Gemini::new(&config.ocr_vision_url, &config.ocr_vision_model, &key, timeout))))
        }
        other => Err(PhotoError::Internal(format!("unknown ocr_vision {other:?}"))),
    }
}

/// What a job did, returned on shutdown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WorkerReport {
    pub uploads: u64,
    pub parsed: u64,
    pub needs_review: u64,
    pub failed: u64,
    pub dead_letters: u64,
}

/// An upload being read, in topic order.
enum Work {
    /// Not an upload: its dead letter.
    Dead { letter: Box<DeadLetter>, at: (i32, i64) },
    /// Read before (a replay after a restart): nothing to do.
    Done { at: (i32, i64) },
    Read { upload: Box<MediaUpload>, at: (i32, i64), outcome: Box<Outcome> },
}

/// Reads `upload`'s photo unless its row says it was read already. Never
/// fails: a table that cannot be read now is asked again when the outcome
/// is recorded (with retries), and a photo that cannot be read is a
/// `failed` outcome.
async fn read_upload(photos: Photos, reader: Reader, upload: MediaUpload, at: (i32, i64)) -> Work {
    if let Ok(Some(record)) = photos.latest(&upload.media_id).await {
        if record.status.is_read() {
            return Work::Done { at };
        }
    }
    let limit = photos.max_bytes();
    let outcome = match photos.media().read(&upload.media_path, limit).await {
        Err(MediaError::TooLarge { .. }) => Outcome::failed("too_large", format!("the photo is larger than {limit} bytes"), 0),
        Ok(bytes) => reader.read(&upload, bytes).await,
        Err(e) => Outcome::failed("missing_file", format!("the stored photo cannot be opened: {e}"), 0),
    };
    Work::Read { upload: Box::new(upload), at, outcome: Box::new(outcome) }
}

/// The `ocr` job: reads every photo uploaded on the media topic, as many
/// at once as there are engines, and finishes them in topic order, until
/// `shutdown`. Photos being read at shutdown are read again on the next start.
pub async fn run_worker(config: &Config, shutdown: CancellationToken) -> Result<WorkerReport, PhotoError> {
    let photos = Photos::open(config).await?;
    let reader = Reader::from_config(config)?;
    run_with(config, photos, reader, shutdown).await
}

/// [`run_worker`] with the parts given (tests bring their own vision model).
pub async fn run_with(config: &Config, photos: Photos, reader: Reader, shutdown: CancellationToken) -> Result<WorkerReport, PhotoError> {
    let kafka = Kafka::new(config)?;
    let topic = config.topic(topics::MEDIA);
    let consumer = kafka.consumer(&config.group(JOB_NAME), &[&topic], config.consumer_mode)?;
    let mut report = WorkerReport::default();
    // Reading overlaps on the engines; one more waits its turn so an engine never idles.
    let window = reader.engines() + 1;
    // Each read is a task of its own, so it goes on while this loop awaits
    // `finish`: a read holds the media log's lock while it checks whether
    // the photo was read before, and `finish` takes that lock too. A read
    // polled only from this loop would keep the lock while `finish` waits
    // for it, and the job would stop (it did, whenever two were in flight).
    let mut in_flight: FuturesOrdered<futures::future::BoxFuture<'static, Result<Work, PhotoError>>> = FuturesOrdered::new();
    tracing::info!(job = JOB_NAME, %topic, engines = reader.engines(), vision = config.ocr_vision.as_str(), "ocr job started");
    // Set when a message arrives after a rebalance: the flag is taken then,
    // and positions must still be restored (the seek delivers it again).
    let mut reassigned = false;
    loop {
        if std::mem::take(&mut reassigned) | consumer.take_assignment_changed() {
            // Finish what was read under the old assignment, then resume after the last photo finished.
            while let Some(work) = in_flight.next().await {
                finish(&photos, &consumer, &topic, work?, &mut report).await?;
            }
            let next = photos.resume_offsets().await?;
            let positions = consumer.assignment()?.into_iter().map(|(t, p)| ((t, p), next.get(&p).copied())).collect();
            consumer.seek_or_retry(&positions).await?;
            continue;
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(work) = in_flight.next(), if !in_flight.is_empty() => {
                finish(&photos, &consumer, &topic, work?, &mut report).await?;
            }
            _ = consumer.assignment_change() => continue,
            msg = consumer.recv(), if in_flight.len() < window => {
                let msg = msg?;
                if consumer.take_assignment_changed() {
                    reassigned = true;
                    continue;
                }
                let at = (msg.partition(), msg.offset());
                report.uploads += 1;
                match decode_upload(&msg) {
                    Ok(upload) => {
                        let read = AbortOnDropHandle::new(tokio::spawn(read_upload(photos.clone(), reader.clone(), upload, at)));
                        in_flight.push_back(Box::pin(async move { read.await.map_err(|e| PhotoError::Internal(format!("reading a photo stopped: {e}"))) }));
                    }
                    Err(letter) => in_flight.push_back(Box::pin(async move { Ok(Work::Dead { letter, at }) })),
                }
            }
        }
    }
    tracing::info!(job = JOB_NAME, ?report, "ocr job stopped");
    Ok(report)
}

async fn finish(photos: &Photos, consumer: &arus_lakehouse::kafka::Consumer, topic: &str, work: Work, report: &mut WorkerReport) -> Result<(), PhotoError> {
    let at = match work {
        Work::Dead { letter, at } => {
            tracing::warn!(job = JOB_NAME, partition = at.0, offset = at.1, error = %letter.error, "dead letter");
            photos.inner.producer.send_json(&photos.inner.dlq_topic, letter.user_id.as_deref().unwrap_or(""), &letter).await?;
            report.dead_letters += 1;
            at
        }
        Work::Done { at } => at,
        Work::Read { upload, at, outcome } => {
            let mut attempt = 0u32;
            let record = loop {
                match photos.finish(&upload, at, (*outcome).clone()).await {
                    Ok(record) => break record,
                    Err(e) if attempt < 10 => {
                        attempt += 1;
                        tracing::error!(job = JOB_NAME, media_id = %upload.media_id, error = %e, attempt, "recording the photo failed; trying again");
                        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                    }
                    Err(e) => return Err(e),
                }
            };
            match record.status {
                MediaStatus::Parsed => report.parsed += 1,
                MediaStatus::NeedsReview => report.needs_review += 1,
                MediaStatus::Failed => {
                    report.failed += 1;
                    report.dead_letters += 1;
                }
                _ => {}
            }
            tracing::info!(
                job = JOB_NAME, media_id = %record.media_id, status = record.status.as_str(), kind = ?record.detected_kind,
                confidence = ?record.confidence, error = ?record.error_code, took_ms = ?record.ocr_ms, "photo read"
            );
            at
        }
    };
    let _ = consumer.commit_for_lag(&[(topic.to_owned(), at.0, at.1 + 1)]);
    Ok(())
}

fn decode_upload(msg: &arus_lakehouse::kafka::BorrowedMessage<'_>) -> Result<MediaUpload, Box<DeadLetter>> {
    let upload: MediaUpload = decode(JOB_NAME, msg)?;
    if let Err(e) = check_schema_version(upload.schema_version) {
        return Err(Box::new(dead_letter_for(JOB_NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, Some(upload.user_id))));
    }
    if uuid::Uuid::parse_str(&upload.media_id).is_err() || upload.user_id.trim().is_empty() {
        let reason = "media_id must be a UUID and user_id non-empty".to_owned();
        return Err(Box::new(dead_letter_for(JOB_NAME, msg, DeadLetterKind::Invalid, reason, Some(upload.user_id))));
    }
    Ok(upload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: MediaKind, status: MediaStatus, transactions: &[PhotoTransaction]) -> MediaRecord {
        let upload = MediaUpload {
            schema_version: SCHEMA_VERSION,
            media_id: "7d1e2a4e-8f43-4c2b-9a57-3f0c1d2e4b5a".into(),
            user_id: "u1".into(),
            account_id: None,
            kind,
            media_path: "photos/2026-11/x".into(),
            file_name: Some("struk.jpg".into()),
            size_bytes: 10,
            sha256: "00".into(),
            source: "api".into(),
            reply_to: None,
            confirm_first: false,
            uploaded_at: Utc::now(),
        };
        let mut r = MediaRecord::pending(&upload, Utc::now());
        r.status = status;
        r.transactions = Some(serde_json::to_string(transactions).unwrap());
        r
    }

    fn proposed(amount: i64) -> PhotoTransaction {
        let p = Proposed { index: 0, occurred_at: at_local(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), None), amount, description: "Toko A".into(), counterparty: Some("Toko A".into()) };
        PhotoTransaction::of("u1", "m", &p)
    }

    #[test]
    fn edits_apply_to_the_proposal() {
        let r = record(MediaKind::Receipt, MediaStatus::NeedsReview, &[proposed(-38_850)]);
        let edits = Confirmation { total: Some(38_500), merchant: Some("Toko B".into()), ..Confirmation::default() };
        let t = edited(&r, vec![proposed(-38_850)], &edits).unwrap();
        assert_eq!((t[0].amount, t[0].description.as_str()), (-38_500, "Toko B"));
        assert_eq!(t[0].occurred_at.with_timezone(&local_zone()).date_naive(), NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), "the date read stays");
        // Nothing proposed: the edits must carry total and date.
        assert!(matches!(edited(&r, vec![], &Confirmation { total: Some(5_000), ..Confirmation::default() }), Err(ConfirmError::Invalid(_))));
        let both = Confirmation { total: Some(5_000), date: NaiveDate::from_ymd_opt(2026, 11, 1), ..Confirmation::default() };
        assert_eq!(edited(&r, vec![], &both).unwrap()[0].amount, -5_000);
        assert!(matches!(edited(&r, vec![], &Confirmation::default()), Err(ConfirmError::Invalid(_))));
        assert!(matches!(edited(&r, vec![proposed(-1)], &Confirmation { total: Some(0), ..Confirmation::default() }), Err(ConfirmError::Invalid(_))));
        // A cash-book page is corrected row by row.
        let page = record(MediaKind::Cashbook, MediaStatus::NeedsReview, &[]);
        assert!(matches!(edited(&page, vec![proposed(300_000)], &Confirmation { total: Some(1), ..Confirmation::default() }), Err(ConfirmError::Invalid(_))));
        let rows = vec![
            EditedTransaction { date: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(), amount: 300_000, description: "jual bakso".into() },
            EditedTransaction { date: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(), amount: -45_000, description: "beli gas".into() },
        ];
        let t = edited(&page, vec![proposed(300_000)], &Confirmation { transactions: Some(rows), ..Confirmation::default() }).unwrap();
        assert_eq!(t.iter().map(|t| (t.index, t.amount)).collect::<Vec<_>>(), vec![(0, 300_000), (1, -45_000)]);
        assert_ne!(t[0].id, t[1].id);
    }

    #[test]
    fn a_vision_reading_fills_in_only_where_tesseract_is_weaker() {
        use crate::ocr::amounts::Amount;
        use crate::ocr::receipt::Field;
        let field = |v: Amount, c: f32| Some(Field { value: v, text: v.to_string(), confidence: c, line: None });
        let mut mine = Receipt { total: field(Amount::whole(12_000), 0.4), merchant: Some(Field { value: "TOKO".into(), text: "TOKO".into(), confidence: 0.95, line: Some(0) }), ..Receipt::default() };
        assert!(unsure(&mine, 0.6));
        let theirs = Receipt { total: field(Amount::whole(21_000), 0.9), merchant: Some(Field { value: "Toko X".into(), text: "Toko X".into(), confidence: 0.75, line: None }), ..Receipt::default() };
        merge(&mut mine, theirs);
        assert_eq!(mine.total.map(|t| t.value), Some(Amount::whole(21_000)));
        assert_eq!(mine.merchant.map(|m| m.value).as_deref(), Some("TOKO"));
    }
}
