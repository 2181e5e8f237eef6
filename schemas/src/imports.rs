//! Statement imports: the request on [`crate::topics::IMPORT`] (a file in
//! the media store to be read), the rows of `import_jobs` that follow an
//! import from `pending` to `completed` or `failed`, and the column mappings
//! people save per account for exports arus does not recognise.
//!
//! `import_jobs` keeps every revision; an import is the highest `revision`
//! of its `import_id`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Stored and requested; no job has started on it.
    Pending,
    /// A job is reading it (counts are those so far).
    Running,
    /// Read to the end: counts are final.
    Completed,
    /// The file could not be read as a statement (see `error`).
    Failed,
}

impl ImportStatus {
    pub fn is_final(self) -> bool {
        matches!(self, ImportStatus::Completed | ImportStatus::Failed)
    }
}

/// A request to import a stored statement file. Published on
/// [`crate::topics::IMPORT`], keyed by `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportRequest {
    pub schema_version: u32,
    pub import_id: String,
    pub user_id: String,
    #[serde(default)]
    pub account_id: Option<String>,
    /// `auto`, `bca`, `mandiri`, `bni`, `bri` or `mapped`.
    pub bank: String,
    /// A column mapping given with this upload (saved for the account when
    /// the import succeeds).
    #[serde(default)]
    pub mapping: Option<serde_json::Value>,
    pub file_name: String,
    /// Path of the file under the media store's root.
    pub media_path: String,
    pub size_bytes: u64,
    pub sha256: String,
    #[serde(default)]
    pub requested_by: Option<String>,
    pub requested_at: DateTime<Utc>,
}

/// One revision of an import: a row of the `import_jobs` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportJob {
    pub schema_version: i32,
    pub import_id: String,
    pub revision: i64,
    pub user_id: String,
    pub account_id: Option<String>,
    pub file_name: String,
    pub media_path: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// What the person said the file is.
    pub bank: String,
    /// `csv`, `xlsx` or `xls`, once read.
    pub format: Option<String>,
    /// The layout recognised (`bca`, `mandiri_xlsx`, …, `mapped`).
    pub layout: Option<String>,
    pub status: ImportStatus,
    /// Transaction rows read (imported + duplicate + rejected + pending).
    pub rows_read: i64,
    pub imported: i64,
    /// Rows already in arus (an earlier or overlapping statement).
    pub duplicates: i64,
    pub rejected: i64,
    /// BCA `PEND` rows: not booked yet, so not imported (the next statement
    /// has them booked).
    pub pending: i64,
    /// JSON array of the first rejected rows (`line`, `reason`, `raw`);
    /// every rejected row also goes to the dead-letter topic.
    pub rejected_rows: Option<String>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub requested_by: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The request's place on the import topic (none for `arus import`).
    pub source_partition: Option<i32>,
    pub source_offset: Option<i64>,
}

impl ImportJob {
    /// The first revision of a requested import.
    pub fn pending(request: &ImportRequest, now: DateTime<Utc>) -> Self {
        ImportJob {
            schema_version: crate::SCHEMA_VERSION as i32,
            import_id: request.import_id.clone(),
            revision: 0,
            user_id: request.user_id.clone(),
            account_id: request.account_id.clone(),
            file_name: request.file_name.clone(),
            media_path: request.media_path.clone(),
            size_bytes: request.size_bytes as i64,
            sha256: request.sha256.clone(),
            bank: request.bank.clone(),
            format: None,
            layout: None,
            status: ImportStatus::Pending,
            rows_read: 0,
            imported: 0,
            duplicates: 0,
            rejected: 0,
            pending: 0,
            rejected_rows: None,
            error_code: None,
            error: None,
            requested_by: request.requested_by.clone(),
            requested_at: request.requested_at,
            started_at: None,
            finished_at: None,
            updated_at: now,
            source_partition: None,
            source_offset: None,
        }
    }
}

/// A column mapping saved for an account: a row of `statement_mappings`
/// (the latest `saved_at` of an account wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatementMappingRecord {
    pub account_id: String,
    pub user_id: String,
    /// The mapping as JSON (see `arus_ingest::statement::ColumnMapping`).
    pub mapping: String,
    /// The import that proved it.
    pub import_id: String,
    pub saved_at: DateTime<Utc>,
}
