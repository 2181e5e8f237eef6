//! Photos of receipts and cash-book pages: the upload event on
//! [`crate::topics::MEDIA`] and the rows of the `media` table that follow a
//! photo from `pending_ocr` to `parsed`, `needs_review`, `failed` and,
//! once the person has looked, `confirmed` (or `declined`).
//!
//! `media` keeps every revision; a photo is the highest `revision` of its
//! `media_id`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Decide from what is written (a cash book has in/out columns or dated rows).
    Auto,
    Receipt,
    Cashbook,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Auto => "auto",
            MediaKind::Receipt => "receipt",
            MediaKind::Cashbook => "cashbook",
        }
    }

    pub fn parse(text: &str) -> Option<MediaKind> {
        match text {
            "auto" | "" => Some(MediaKind::Auto),
            "receipt" | "struk" => Some(MediaKind::Receipt),
            "cashbook" | "buku_kas" => Some(MediaKind::Cashbook),
            _ => None,
        }
    }
}

/// Where a photo is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaStatus {
    /// Stored; the OCR job has not read it yet.
    PendingOcr,
    /// Read with confidence: its transactions are booked.
    Parsed,
    /// Read, but something is unsure: nothing is booked until the person
    /// confirms or corrects the fields.
    NeedsReview,
    /// Not a readable picture, or nothing on it (see `error_code`).
    Failed,
    /// The person confirmed (or corrected) the fields: booked.
    Confirmed,
    /// The person said not to book it (WhatsApp `TIDAK`): nothing booked.
    Declined,
}

impl MediaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaStatus::PendingOcr => "pending_ocr",
            MediaStatus::Parsed => "parsed",
            MediaStatus::NeedsReview => "needs_review",
            MediaStatus::Failed => "failed",
            MediaStatus::Confirmed => "confirmed",
            MediaStatus::Declined => "declined",
        }
    }

    /// The OCR job has nothing more to do.
    pub fn is_read(self) -> bool {
        !matches!(self, MediaStatus::PendingOcr)
    }
}

/// A photo to read. Published on [`crate::topics::MEDIA`], keyed by `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MediaUpload {
    pub schema_version: u32,
    pub media_id: String,
    pub user_id: String,
    /// The account the transactions go to, if the person named one.
    #[serde(default)]
    pub account_id: Option<String>,
    pub kind: MediaKind,
    /// Path of the file under the media store's root.
    pub media_path: String,
    #[serde(default)]
    pub file_name: Option<String>,
    pub size_bytes: u64,
    pub sha256: String,
    /// `api` or `whatsapp`.
    pub source: String,
    /// Where to tell the sender the outcome (a WhatsApp chat id), if not the API.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Book nothing until the person confirms, however sure the reading
    /// (WhatsApp photos: the sender answers `YA`).
    #[serde(default)]
    pub confirm_first: bool,
    pub uploaded_at: DateTime<Utc>,
}

/// One revision of a photo: a row of the `media` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MediaRecord {
    pub schema_version: i32,
    pub media_id: String,
    pub revision: i64,
    pub user_id: String,
    pub account_id: Option<String>,
    /// What the person said (`auto`, `receipt`, `cashbook`).
    pub kind: MediaKind,
    /// What it turned out to be (`receipt` or `cashbook`), once read.
    pub detected_kind: Option<MediaKind>,
    pub status: MediaStatus,
    pub media_path: String,
    pub file_name: Option<String>,
    pub size_bytes: i64,
    pub sha256: String,
    pub source: String,
    pub reply_to: Option<String>,
    /// The fields read, as JSON (`arus_ingest::ocr::Reading`'s receipt or cash book).
    pub fields: Option<String>,
    /// The transactions the photo books, as JSON (id, amount, date, description).
    pub transactions: Option<String>,
    /// Why it needs review, as a JSON array of codes (`total_unsure`, `no_date`, …).
    pub review_reasons: Option<String>,
    /// The least confidence among the fields a booking needs, 0–1.
    pub confidence: Option<f64>,
    /// The text read, line by line.
    pub ocr_text: Option<String>,
    /// `tesseract`, or `tesseract+vision` when the vision model was asked.
    pub engine: Option<String>,
    pub ocr_ms: Option<i64>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who confirmed (or declined) it.
    pub confirmed_by: Option<String>,
    /// The upload's place on the media topic (none for the first revision).
    pub source_partition: Option<i32>,
    pub source_offset: Option<i64>,
}

impl MediaRecord {
    /// The first revision of an uploaded photo.
    pub fn pending(upload: &MediaUpload, now: DateTime<Utc>) -> Self {
        MediaRecord {
            schema_version: crate::SCHEMA_VERSION as i32,
            media_id: upload.media_id.clone(),
            revision: 0,
            user_id: upload.user_id.clone(),
            account_id: upload.account_id.clone(),
            kind: upload.kind,
            detected_kind: None,
            status: MediaStatus::PendingOcr,
            media_path: upload.media_path.clone(),
            file_name: upload.file_name.clone(),
            size_bytes: upload.size_bytes as i64,
            sha256: upload.sha256.clone(),
            source: upload.source.clone(),
            reply_to: upload.reply_to.clone(),
            fields: None,
            transactions: None,
            review_reasons: None,
            confidence: None,
            ocr_text: None,
            engine: None,
            ocr_ms: None,
            error_code: None,
            error: None,
            uploaded_at: upload.uploaded_at,
            updated_at: now,
            confirmed_by: None,
            source_partition: None,
            source_offset: None,
        }
    }
}
