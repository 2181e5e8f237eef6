//! `/api/v1/imports`: bank statements uploaded for import. The upload is
//! streamed into the media store (refused past `import_max_bytes`), checked
//! for what can be told at once (a file at all, a spreadsheet or text, the
//! options), recorded as `pending` and queued: 202 with the import's id.
//! The `imports` worker reads it (see `arus_ingest::import`); its progress,
//! counts and rejected rows are read back here.

use arus_ingest::import::{media_path, Importer, RejectedLine};
use arus_ingest::media::{MediaError, MediaStore};
use arus_ingest::statement::{sniff_format, BankChoice, ColumnMapping, StatementError};
use arus_schemas::imports::{ImportJob, ImportRequest, ImportStatus};
use arus_schemas::{AuditOutcome, Lang, ValidationError, SCHEMA_VERSION};
use bytes::Buf;
use chrono::{DateTime, Utc};
use datafusion::prelude::{col, lit};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::multipart::FormData;
use warp::{Filter, Rejection, Reply};

use super::{collect_rows, with_state};
use crate::audit::Audit;
use crate::auth::{authenticated, Principal};
use crate::error::{lang, ApiError, ErrorBody};
use crate::observe::{request_info, RequestInfo};
use crate::rows::Scope;
use crate::State;

/// Room for the form's other fields and boundaries around the file.
pub(crate) const FORM_OVERHEAD: u64 = 256 * 1024;
/// Largest text field of the form (a column mapping).
const FIELD_MAX: usize = 64 * 1024;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let create = warp::path("imports")
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(warp::multipart::form().max_length(state.config.import_max_bytes + FORM_OVERHEAD))
        .and(lang())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(create);
    let list = warp::path("imports")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<ImportQuery>())
        .and(with_state(state.clone()))
        .and_then(list);
    let get = warp::path!("imports" / String).and(warp::get()).and(authenticated(state.clone())).and(with_state(state)).and_then(get);
    create.or(list).or(get)
}

/// The form of `POST /api/v1/imports` (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// The statement export: CSV, XLSX or XLS, at most `import_max_bytes` (50 MiB by default).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The account the statement belongs to (one of the person's accounts).
    pub account_id: Option<String>,
    /// `auto` (default: recognised by its header), `bca`, `mandiri`, `bni`, `bri` or `mapped`.
    pub bank: Option<String>,
    /// A column mapping (JSON) for an export arus does not recognise; saved
    /// for the account once an import with it succeeds.
    pub mapping: Option<ColumnMapping>,
    /// The person the statement belongs to: an officer or admin may name
    /// someone in their scope; the caller by default.
    pub user_id: Option<String>,
}

/// Counts of an import.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct ImportCounts {
    /// Transaction rows read (imported + duplicates + rejected + pending).
    pub rows_read: i64,
    pub imported: i64,
    /// Rows already in arus (the same file, or an overlapping statement, imported before).
    pub duplicates: i64,
    /// Rows that could not be read; each is listed (the first 1000) and sent to the dead-letter topic.
    pub rejected: i64,
    /// BCA `PEND` rows: not booked yet, so not imported.
    pub pending: i64,
}

/// Why an import failed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportFailure {
    /// `unknown_layout`, `encrypted`, `too_large`, `corrupt`, `not_a_statement`, …
    pub code: String,
    pub message: String,
}

/// An import as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportView {
    pub id: String,
    pub user_id: String,
    pub account_id: Option<String>,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub bank: String,
    /// `csv`, `xlsx` or `xls` once read.
    pub format: Option<String>,
    /// The layout recognised: `bca`, `bca_bisnis`, `mandiri_csv`, `mandiri_xlsx`, `bni`, `bri` or `mapped`.
    pub layout: Option<String>,
    pub status: ImportStatus,
    pub counts: ImportCounts,
    /// Rows that could not be read, with line and reason (only on `GET /api/v1/imports/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_rows: Vec<RejectedLine>,
    pub error: Option<ImportFailure>,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl ImportView {
    fn of(job: ImportJob, with_rows: bool) -> Self {
        let rejected_rows = match (&job.rejected_rows, with_rows) {
            (Some(json), true) => serde_json::from_str(json).unwrap_or_default(),
            _ => Vec::new(),
        };
        ImportView {
            id: job.import_id,
            user_id: job.user_id,
            account_id: job.account_id,
            file_name: job.file_name,
            size_bytes: job.size_bytes,
            sha256: job.sha256,
            bank: job.bank,
            format: job.format,
            layout: job.layout,
            status: job.status,
            counts: ImportCounts { rows_read: job.rows_read, imported: job.imported, duplicates: job.duplicates, rejected: job.rejected, pending: job.pending },
            rejected_rows,
            error: job.error_code.map(|code| ImportFailure { code, message: job.error.unwrap_or_default() }),
            requested_at: job.requested_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            updated_at: job.updated_at,
        }
    }
}

/// What the upload is told.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportAccepted {
    pub id: String,
    /// Always `pending`: the `imports` worker reads the file.
    pub status: ImportStatus,
    /// Where to follow it.
    pub location: String,
}

/// Fields of the form besides the file.
#[derive(Default)]
struct Fields {
    account_id: Option<String>,
    bank: Option<String>,
    mapping: Option<String>,
    user_id: Option<String>,
}

pub(crate) struct Upload {
    pub(crate) file_name: String,
    pub(crate) size: u64,
    pub(crate) sha256: String,
    /// The file's first bytes.
    pub(crate) head: Vec<u8>,
}

pub(crate) fn upload_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("the upload is not valid multipart/form-data: {e}"))
}

pub(crate) async fn text_field(part: warp::multipart::Part) -> Result<String, ApiError> {
    let name = part.name().to_owned();
    let mut value = Vec::new();
    let mut stream = part.stream();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(upload_error)?;
        value.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
        if value.len() > FIELD_MAX {
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the field {name} is longer than {FIELD_MAX} bytes")));
        }
    }
    String::from_utf8(value).map(|v| v.trim().to_owned()).map_err(|_| ApiError::bad_request(format!("the field {name} is not UTF-8 text")))
}

/// Streams a form's file part into `store` at `path` (at most `limit`
/// bytes; past it the rest of the form is read out, so the client can send
/// it all and hear why).
pub(crate) async fn save_file_part(part: warp::multipart::Part, parts: &mut FormData, store: &MediaStore, path: &str, limit: u64, default_name: &str) -> Result<Upload, ApiError> {
    let file_name = part.filename().map(sanitize_name).filter(|n| !n.is_empty()).unwrap_or_else(|| default_name.to_owned());
    let body = part.stream().map_ok(|mut chunk| chunk.copy_to_bytes(chunk.remaining()));
    let saved = store.save(path, body, limit).await;
    if let Err(MediaError::TooLarge { .. }) = &saved {
        // The body is at most `limit + FORM_OVERHEAD` (checked before reading).
        while let Ok(Some(part)) = parts.try_next().await {
            let mut rest = part.stream();
            while let Some(Ok(_)) = rest.next().await {}
        }
    }
    let stored = saved.map_err(|e| match e {
        MediaError::TooLarge { limit } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the file is larger than {limit} bytes")),
        MediaError::Upload(reason) => upload_error(reason),
        other => ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the file could not be stored; retry", &other),
    })?;
    Ok(Upload { file_name, size: stored.size, sha256: stored.sha256, head: stored.head })
}

/// Reads the form, storing the file part at `path`; on any error the stored file is removed.
async fn read_form(form: FormData, importer: &Importer, path: &str) -> Result<(Fields, Option<Upload>), ApiError> {
    let mut fields = Fields::default();
    let mut upload = None;
    let mut parts = form;
    while let Some(part) = parts.try_next().await.map_err(upload_error)? {
        match part.name() {
            "file" => {
                if upload.is_some() {
                    return Err(ApiError::bad_request("send one file per import"));
                }
                upload = Some(save_file_part(part, &mut parts, importer.media(), path, importer.max_bytes(), "statement").await?);
            }
            "account_id" => fields.account_id = Some(text_field(part).await?).filter(|v| !v.is_empty()),
            "bank" => fields.bank = Some(text_field(part).await?).filter(|v| !v.is_empty()),
            "mapping" => fields.mapping = Some(text_field(part).await?).filter(|v| !v.is_empty()),
            "user_id" => fields.user_id = Some(text_field(part).await?).filter(|v| !v.is_empty()),
            other => return Err(ApiError::invalid(&[ValidationError::new(other, "unknown_field", format!("unknown field {other}"))], Lang::En)),
        }
    }
    Ok((fields, upload))
}

/// A file name fit to show: its last path component, printable, at most 200 characters.
fn sanitize_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    last.chars().filter(|c| !c.is_control()).take(200).collect::<String>().trim().to_owned()
}

#[utoipa::path(post, path = "/api/v1/imports", operation_id = "create_import", tag = "imports", security(("bearer" = [])),
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored and queued; follow it at `location`", body = ImportAccepted),
        (status = 400, description = "Not multipart/form-data, or no file", body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 411, description = "No Content-Length", body = ErrorBody),
        (status = 413, description = "Larger than `import_max_bytes`", body = ErrorBody),
        (status = 415, description = "Not a statement file (a PDF, an image, a binary file)", body = ErrorBody),
        (status = 422, description = "An invalid option (bank, mapping, account, person)", body = ErrorBody),
        (status = 503, description = "The import could not be queued", body = ErrorBody),
    ))]
pub(crate) async fn create(principal: Principal, form: FormData, lang: Lang, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let now = Utc::now();
    let import_id = uuid::Uuid::new_v4().to_string();
    let path = media_path(&import_id, now);
    let importer = &state.importer;
    let outcome = async {
        let (fields, upload) = read_form(form, importer, &path).await?;
        let upload = upload.ok_or_else(|| ApiError::invalid(&[ValidationError::required("file")], lang))?;
        check_file(&upload)?;
        let request = checked_request(&state, &principal, lang, fields, upload, &import_id, &path, now).await?;
        importer.submit(&request).await.map_err(|e| ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the import could not be queued; retry", &e))?;
        Ok::<_, ApiError>(request)
    }
    .await;
    let request = match outcome {
        Ok(request) => request,
        Err(e) => {
            let _ = importer.media().remove(&path).await;
            let detail = Some(format!("{}: {}", e.code, e.message));
            state.auditor.record(&info, Audit { action: "import.requested", outcome: AuditOutcome::Failure, actor: Some(&principal), target: Some(&import_id), detail }).await;
            return Err(e.into());
        }
    };
    let detail = Some(format!("{} ({} bytes, sha256 {}) bank {}", request.file_name, request.size_bytes, request.sha256, request.bank));
    state.auditor.record(&info, Audit { action: "import.requested", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&import_id), detail }).await;
    let location = format!("/api/v1/imports/{import_id}");
    let body = ImportAccepted { id: import_id, status: ImportStatus::Pending, location: location.clone() };
    Ok(warp::reply::with_header(warp::reply::with_status(warp::reply::json(&body), StatusCode::ACCEPTED), "location", location).into_response())
}

/// What can be told from the first bytes: an empty file, or not a statement format.
fn check_file(upload: &Upload) -> Result<(), ApiError> {
    if upload.size == 0 {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "empty", "the file is empty"));
    }
    match sniff_format(&upload.head) {
        Ok(_) => Ok(()),
        Err(e @ StatementError::NotAStatement(_)) => Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_a_statement", e.to_string())),
        Err(e) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())),
    }
}

/// Checks the options of an upload and builds its request.
#[allow(clippy::too_many_arguments)]
async fn checked_request(
    state: &State,
    principal: &Principal,
    lang: Lang,
    fields: Fields,
    upload: Upload,
    import_id: &str,
    path: &str,
    now: DateTime<Utc>,
) -> Result<ImportRequest, ApiError> {
    let user_id = fields.user_id.unwrap_or_else(|| principal.user_id.clone());
    let mut errors = Vec::new();
    if !Scope::of(principal, &state.auth).allows(&user_id) {
        errors.push(ValidationError::new("user_id", "not_found", "user_id names nobody you act for"));
    }
    let bank = match BankChoice::parse(fields.bank.as_deref().unwrap_or("auto")) {
        Some(bank) => bank,
        None => {
            errors.push(ValidationError::with_param("bank", "not_allowed", format!("bank must be one of {}", BankChoice::NAMES), BankChoice::NAMES));
            BankChoice::Auto
        }
    };
    let mapping = match fields.mapping.as_deref().map(serde_json::from_str::<ColumnMapping>) {
        None => None,
        Some(Ok(m)) => match m.check() {
            Ok(()) => Some(m),
            Err(reason) => {
                errors.push(ValidationError::new("mapping", "invalid", reason));
                None
            }
        },
        Some(Err(e)) => {
            errors.push(ValidationError::new("mapping", "invalid", format!("the mapping is not valid: {e}")));
            None
        }
    };
    if let Some(account) = &fields.account_id {
        let owned = super::accounts::current(state, &Scope::Own(user_id.clone()), account).await?.is_some_and(|a| !a.deleted);
        if !owned {
            errors.push(ValidationError::new("account_id", "not_found", "account_id is not an account of this person"));
        }
    }
    if bank == BankChoice::Mapped && mapping.is_none() && errors.is_empty() {
        let saved = match &fields.account_id {
            Some(account) => state.importer.saved_mapping(&user_id, account).await.map_err(|e| ApiError::unavailable("the statement_mappings table", &e))?,
            None => None,
        };
        if saved.is_none() {
            errors.push(ValidationError::new("mapping", "required", "bank `mapped` needs a mapping, or an account with a saved one"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(&errors, lang));
    }
    Ok(ImportRequest {
        schema_version: SCHEMA_VERSION,
        import_id: import_id.to_owned(),
        user_id,
        account_id: fields.account_id,
        bank: bank.as_str().to_owned(),
        mapping: mapping.and_then(|m| serde_json::to_value(m).ok()),
        file_name: upload.file_name,
        media_path: path.to_owned(),
        size_bytes: upload.size,
        sha256: upload.sha256,
        requested_by: Some(principal.user_id.clone()),
        requested_at: now,
    })
}

#[utoipa::path(get, path = "/api/v1/imports/{id}", operation_id = "get_import", tag = "imports", security(("bearer" = [])),
    params(("id" = String, Path, description = "import id")),
    responses((status = 200, description = "The import now, with its rejected rows", body = ImportView), (status = 404, description = "No such import in the caller's scope", body = ErrorBody)))]
pub(crate) async fn get(id: String, principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found("import").into());
    }
    let scope = Scope::of(&principal, &state.auth);
    let frame = state.tables.scoped(&scope, "import_jobs").await?;
    let frame = frame.filter(col("import_id").eq(lit(id.clone()))).map_err(|e| ApiError::unavailable("the import_jobs table", &e))?;
    let rows: Vec<ImportJob> = collect_rows(frame, "the import_jobs table").await?;
    let job = match rows.into_iter().max_by_key(|j| j.revision) {
        Some(job) => job,
        // Just uploaded, and the session has not reloaded the table yet
        // (at most `table_refresh_ms`): ask the log itself.
        None => state
            .importer
            .latest(&id)
            .await
            .map_err(|e| ApiError::unavailable("the import_jobs table", &e))?
            .filter(|j| scope.allows(&j.user_id))
            .ok_or_else(|| ApiError::not_found("import"))?,
    };
    Ok(warp::reply::json(&ImportView::of(job, true)).into_response())
}

/// Filters of the import list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Only imports in this state.
    pub status: Option<ImportStatus>,
    /// At most this many, newest first (default 50, at most 200).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/imports", operation_id = "list_imports", tag = "imports", security(("bearer" = [])), params(ImportQuery),
    responses((status = 200, description = "Imports in the caller's scope, newest first (without their rejected rows)", body = [ImportView]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(principal: Principal, query: ImportQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let scope = Scope::of(&principal, &state.auth);
    let frame = state.tables.scoped(&scope, "import_jobs").await?;
    let rows: Vec<ImportJob> = collect_rows(frame, "the import_jobs table").await?;
    let mut latest: std::collections::HashMap<String, ImportJob> = std::collections::HashMap::new();
    for row in rows {
        if latest.get(&row.import_id).is_none_or(|seen| seen.revision < row.revision) {
            latest.insert(row.import_id.clone(), row);
        }
    }
    let mut jobs: Vec<ImportJob> = latest.into_values().filter(|j| query.status.is_none_or(|s| j.status == s)).collect();
    jobs.sort_by(|a, b| b.requested_at.cmp(&a.requested_at).then_with(|| b.import_id.cmp(&a.import_id)));
    let views: Vec<ImportView> = jobs.into_iter().take(limit).map(|j| ImportView::of(j, false)).collect();
    Ok(warp::reply::json(&views).into_response())
}
