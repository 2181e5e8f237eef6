//! `/api/v1/receipts`: photos of receipts and cash-book pages. The upload
//! is streamed into the media store (refused past `ocr_max_bytes`), checked
//! for what its header tells at once (a picture at all, of a size arus
//! reads), recorded as `pending_ocr` and queued: 202 with the photo's id.
//! The `ocr` job reads it (see `arus_ingest::photos`); what was read, the
//! transactions proposed and why they wait for the person are read back
//! here, and confirming (or correcting) books them.

use arus_ingest::ocr::prepare::{image_mime, inspect, ImageError, PrepareOptions};
use arus_ingest::photos::{media_path, ConfirmError, Confirmation, PhotoTransaction};
use arus_schemas::media::{MediaKind, MediaRecord, MediaStatus, MediaUpload};
use arus_schemas::{AuditOutcome, Lang, ValidationError, SCHEMA_VERSION};
use chrono::{DateTime, Utc};
use datafusion::prelude::lit;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::multipart::FormData;
use warp::{Filter, Rejection, Reply};

use super::imports::{save_file_part, text_field, upload_error, Upload, FORM_OVERHEAD};
use super::{collect_rows, with_state};
use crate::audit::Audit;
use crate::auth::{authenticated, Principal};
use crate::error::{json_body, lang, ApiError, ErrorBody};
use crate::observe::{request_info, RequestInfo};
use crate::rows::Scope;
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let create = warp::path("receipts")
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(warp::multipart::form().max_length(state.config.ocr_max_bytes + FORM_OVERHEAD))
        .and(lang())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(create);
    let list = warp::path("receipts")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<ReceiptQuery>())
        .and(with_state(state.clone()))
        .and_then(list);
    let get = warp::path!("receipts" / String).and(warp::get()).and(authenticated(state.clone())).and(with_state(state.clone())).and_then(get);
    let image = warp::path!("receipts" / String / "image").and(warp::get()).and(authenticated(state.clone())).and(with_state(state.clone())).and_then(image);
    let confirm = warp::path!("receipts" / String / "confirm")
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(json_body::<Confirmation>(state.config.http_max_body_bytes))
        .and(request_info())
        .and(with_state(state))
        .and_then(confirm);
    create.or(list).or(get).or(image).or(confirm)
}

/// The form of `POST /api/v1/receipts` (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ReceiptUpload {
    /// The photo or scan: JPEG, PNG or WebP, at most `ocr_max_bytes` (15 MiB by default).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// `auto` (default: told from what is written), `receipt` or `cashbook`.
    pub kind: Option<String>,
    /// The account the transactions go to (one of the person's accounts).
    pub account_id: Option<String>,
    /// The person the photo belongs to: an officer or admin may name
    /// someone in their scope; the caller by default.
    pub user_id: Option<String>,
}

/// What the upload is told.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptAccepted {
    pub id: String,
    /// Always `pending_ocr`: the `ocr` job reads the photo.
    pub status: MediaStatus,
    /// Where to follow it.
    pub location: String,
}

/// Why a photo could not be read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptFailure {
    /// `not_an_image`, `corrupt_image`, `too_large`, `empty_image`, `blank_image`, `ocr_failed`, …
    pub code: String,
    pub message: String,
}

/// A photo as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    pub id: String,
    pub user_id: String,
    pub account_id: Option<String>,
    /// What the uploader said it is.
    pub kind: MediaKind,
    /// What it was read as (`receipt` or `cashbook`).
    pub detected_kind: Option<MediaKind>,
    /// `pending_ocr`, `parsed` (booked), `needs_review` (waits for the
    /// person), `failed`, `confirmed` (booked after review) or `declined`
    /// (the person said not to book it).
    pub status: MediaStatus,
    pub file_name: Option<String>,
    pub size_bytes: i64,
    pub sha256: String,
    /// What was read: a receipt (`merchant`, `date`, `time`, `total`,
    /// `subtotal`, `tax`, `payment_method`, `items`, …, each with the text
    /// it came from and a confidence 0–1) or a cash-book page (`entries`).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
    /// The transactions the photo books (`parsed`, `confirmed`) or proposes (`needs_review`).
    pub transactions: Vec<PhotoTransaction>,
    /// Why it waits for the person: `no_total`, `total_unsure`, `no_date`,
    /// `date_unsure`, `date_in_future`, `currency_myr`, `no_entries`, `entries_unsure`, `invalid_transaction`,
    /// `awaiting_confirmation` (a WhatsApp photo: booked only after the sender answers `YA`).
    pub review_reasons: Vec<String>,
    /// The least confidence among the fields the booking rests on.
    pub confidence: Option<f64>,
    /// The text read, line by line (only on `GET /api/v1/receipts/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `tesseract`, or `tesseract+ollama` / `tesseract+gemini` when the vision model was asked.
    pub engine: Option<String>,
    pub ocr_ms: Option<i64>,
    pub error: Option<ReceiptFailure>,
    pub confirmed_by: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ReceiptView {
    fn of(r: MediaRecord, with_text: bool) -> Self {
        ReceiptView {
            id: r.media_id,
            user_id: r.user_id,
            account_id: r.account_id,
            kind: r.kind,
            detected_kind: r.detected_kind,
            status: r.status,
            file_name: r.file_name,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            fields: r.fields.as_deref().and_then(|f| serde_json::from_str(f).ok()),
            transactions: r.transactions.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default(),
            review_reasons: r.review_reasons.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default(),
            confidence: r.confidence,
            text: if with_text { r.ocr_text } else { None },
            engine: r.engine,
            ocr_ms: r.ocr_ms,
            error: r.error_code.map(|code| ReceiptFailure { code, message: r.error.unwrap_or_default() }),
            confirmed_by: r.confirmed_by,
            uploaded_at: r.uploaded_at,
            updated_at: r.updated_at,
        }
    }
}

/// Fields of the form besides the file.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    account_id: Option<String>,
    user_id: Option<String>,
}

async fn read_form(form: FormData, state: &State, path: &str) -> Result<(Fields, Option<Upload>), ApiError> {
    let mut fields = Fields::default();
    let mut upload = None;
    let mut parts = form;
    while let Some(part) = parts.try_next().await.map_err(upload_error)? {
        match part.name() {
            "file" => {
                if upload.is_some() {
                    return Err(ApiError::bad_request("send one photo per upload"));
                }
                upload = Some(save_file_part(part, &mut parts, state.photos.media(), path, state.photos.max_bytes(), "photo").await?);
            }
            "kind" => fields.kind = Some(text_field(part).await?).filter(|v| !v.is_empty()),
            "account_id" => fields.account_id = Some(text_field(part).await?).filter(|v| !v.is_empty()),
            "user_id" => fields.user_id = Some(text_field(part).await?).filter(|v| !v.is_empty()),
            other => return Err(ApiError::invalid(&[ValidationError::new(other, "unknown_field", format!("unknown field {other}"))], Lang::En)),
        }
    }
    Ok((fields, upload))
}

#[utoipa::path(post, path = "/api/v1/receipts", operation_id = "upload_receipt", tag = "receipts", security(("bearer" = [])),
    request_body(content = ReceiptUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored and queued for OCR; follow it at `location`", body = ReceiptAccepted),
        (status = 400, description = "Not multipart/form-data", body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 413, description = "Larger than `ocr_max_bytes`", body = ErrorBody),
        (status = 415, description = "Not a JPEG, PNG or WebP picture", body = ErrorBody),
        (status = 422, description = "No file, an empty one, a picture too large to read (`too_large`), a damaged header, or an invalid option", body = ErrorBody),
        (status = 503, description = "The photo could not be queued", body = ErrorBody),
    ))]
pub(crate) async fn create(principal: Principal, form: FormData, lang: Lang, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let now = Utc::now();
    let media_id = uuid::Uuid::new_v4().to_string();
    let path = media_path(&media_id, now);
    let outcome = async {
        let (fields, upload) = read_form(form, &state, &path).await?;
        let upload = upload.ok_or_else(|| ApiError::invalid(&[ValidationError::required("file")], lang))?;
        check_photo(&state, &path).await?;
        let request = checked_upload(&state, &principal, lang, fields, upload, &media_id, &path, now).await?;
        state.photos.submit(&request).await.map_err(|e| ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the photo could not be queued; retry", &e))?;
        Ok::<_, ApiError>(request)
    }
    .await;
    let request = match outcome {
        Ok(request) => request,
        Err(e) => {
            let _ = state.photos.media().remove(&path).await;
            let detail = Some(format!("{}: {}", e.code, e.message));
            state.auditor.record(&info, Audit { action: "receipt.uploaded", outcome: AuditOutcome::Failure, actor: Some(&principal), target: Some(&media_id), detail }).await;
            return Err(e.into());
        }
    };
    let detail = Some(format!("{} ({} bytes, sha256 {}) kind {}", request.file_name.as_deref().unwrap_or(""), request.size_bytes, request.sha256, request.kind.as_str()));
    state.auditor.record(&info, Audit { action: "receipt.uploaded", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&media_id), detail }).await;
    let location = format!("/api/v1/receipts/{media_id}");
    let body = ReceiptAccepted { id: media_id, status: MediaStatus::PendingOcr, location: location.clone() };
    Ok(warp::reply::with_header(warp::reply::with_status(warp::reply::json(&body), StatusCode::ACCEPTED), "location", location).into_response())
}

/// What the picture's header tells at once: empty, not a picture, no
/// pixels, too many to read. A damaged body is found by the `ocr` job.
async fn check_photo(state: &State, path: &str) -> Result<(), ApiError> {
    let bytes = state.photos.media().read(path, state.photos.max_bytes()).await.map_err(|e| ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the photo could not be read back", &e))?;
    let options = PrepareOptions { max_pixels: state.config.ocr_max_pixels, ..PrepareOptions::default() };
    match tokio::task::spawn_blocking(move || inspect(&bytes, &options)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            let status = if matches!(e, ImageError::NotAnImage) { StatusCode::UNSUPPORTED_MEDIA_TYPE } else { StatusCode::UNPROCESSABLE_ENTITY };
            Err(ApiError::new(status, e.code(), e.to_string()))
        }
        Err(e) => Err(ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the photo could not be read back", &e)),
    }
}

/// Checks the options of an upload and builds its event.
#[allow(clippy::too_many_arguments)]
async fn checked_upload(
    state: &State,
    principal: &Principal,
    lang: Lang,
    fields: Fields,
    upload: Upload,
    media_id: &str,
    path: &str,
    now: DateTime<Utc>,
) -> Result<MediaUpload, ApiError> {
    let user_id = fields.user_id.unwrap_or_else(|| principal.user_id.clone());
    let mut errors = Vec::new();
    if !Scope::of(principal, &state.auth).allows(&user_id) {
        errors.push(ValidationError::new("user_id", "not_found", "user_id names nobody you act for"));
    }
    let kind = match MediaKind::parse(fields.kind.as_deref().unwrap_or("auto")) {
        Some(kind) => kind,
        None => {
            errors.push(ValidationError::with_param("kind", "not_allowed", "kind must be one of auto, receipt, cashbook", "auto, receipt, cashbook"));
            MediaKind::Auto
        }
    };
    if let Some(account) = &fields.account_id {
        let owned = super::accounts::current(state, &Scope::Own(user_id.clone()), account).await?.is_some_and(|a| !a.deleted);
        if !owned {
            errors.push(ValidationError::new("account_id", "not_found", "account_id is not an account of this person"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(&errors, lang));
    }
    Ok(MediaUpload {
        schema_version: SCHEMA_VERSION,
        media_id: media_id.to_owned(),
        user_id,
        account_id: fields.account_id,
        kind,
        media_path: path.to_owned(),
        file_name: Some(upload.file_name),
        size_bytes: upload.size,
        sha256: upload.sha256,
        source: "api".to_owned(),
        reply_to: None,
        confirm_first: false,
        uploaded_at: now,
    })
}

/// The latest revision of photo `id` in the caller's scope: from the
/// session's view, or (just uploaded or just read, before the session
/// reloads the table) from the log itself.
async fn current(state: &State, scope: &Scope, id: &str) -> Result<MediaRecord, ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::not_found("receipt"));
    }
    let latest = state.photos.latest(id).await.map_err(|e| ApiError::unavailable("the media table", &e))?;
    latest.filter(|r| scope.allows(&r.user_id)).ok_or_else(|| ApiError::not_found("receipt"))
}

#[utoipa::path(get, path = "/api/v1/receipts/{id}", operation_id = "get_receipt", tag = "receipts", security(("bearer" = [])),
    params(("id" = String, Path, description = "photo id")),
    responses((status = 200, description = "The photo now: status, fields read, transactions, the text read", body = ReceiptView), (status = 404, description = "No such photo in the caller's scope", body = ErrorBody)))]
pub(crate) async fn get(id: String, principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let scope = Scope::of(&principal, &state.auth);
    let record = current(&state, &scope, &id).await?;
    Ok(warp::reply::json(&ReceiptView::of(record, true)).into_response())
}

#[utoipa::path(get, path = "/api/v1/receipts/{id}/image", operation_id = "get_receipt_image", tag = "receipts", security(("bearer" = [])),
    params(("id" = String, Path, description = "photo id")),
    responses((status = 200, description = "The photo as uploaded, to show beside the fields under review", content_type = "image/*"), (status = 404, body = ErrorBody)))]
pub(crate) async fn image(id: String, principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let scope = Scope::of(&principal, &state.auth);
    let record = current(&state, &scope, &id).await?;
    let bytes = state.photos.media().read(&record.media_path, state.photos.max_bytes()).await.map_err(|_| ApiError::not_found("receipt image"))?;
    let mime = image_mime(&bytes).unwrap_or("application/octet-stream");
    let mut response = warp::reply::Response::new(bytes.into());
    response.headers_mut().insert("content-type", warp::http::HeaderValue::from_static(mime));
    response.headers_mut().insert("x-content-type-options", warp::http::HeaderValue::from_static("nosniff"));
    Ok(response)
}

#[utoipa::path(post, path = "/api/v1/receipts/{id}/confirm", operation_id = "confirm_receipt", tag = "receipts", security(("bearer" = [])),
    params(("id" = String, Path, description = "photo id")),
    request_body(content = Confirmation, description = "The fields as the person corrected them; `{}` books what was proposed"),
    responses(
        (status = 200, description = "Booked: the photo is `confirmed` and its transactions are on their way to the ledger", body = ReceiptView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not waiting for the person (not read yet, or booked already)", body = ErrorBody),
        (status = 422, description = "The fields do not make a transaction (no total, a future date, …)", body = ErrorBody),
        (status = 503, description = "The transactions could not be published; retry", body = ErrorBody),
    ))]
pub(crate) async fn confirm(id: String, principal: Principal, edits: Confirmation, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let scope = Scope::of(&principal, &state.auth);
    let record = current(&state, &scope, &id).await?;
    let confirmed = state.photos.confirm(&record, &edits, &principal.user_id).await.map_err(|e| match e {
        ConfirmError::Conflict(why) => ApiError::conflict(why),
        ConfirmError::Invalid(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields", e.to_string()),
        ConfirmError::Photo(e) => ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the transactions could not be booked; retry", &e),
    });
    let (outcome, detail) = match &confirmed {
        Ok(r) => (AuditOutcome::Success, Some(format!("{} transaction(s) booked", r.transactions.as_deref().map_or(0, |t| serde_json::from_str::<Vec<serde_json::Value>>(t).map_or(0, |v| v.len()))))),
        Err(e) => (AuditOutcome::Failure, Some(format!("{}: {}", e.code, e.message))),
    };
    state.auditor.record(&info, Audit { action: "receipt.confirmed", outcome, actor: Some(&principal), target: Some(&id), detail }).await;
    Ok(warp::reply::json(&ReceiptView::of(confirmed?, false)).into_response())
}

/// Filters of the photo list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// Only photos in this state (`needs_review`: what waits for the person).
    pub status: Option<MediaStatus>,
    /// At most this many, newest first (default 50, at most 200).
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/receipts", operation_id = "list_receipts", tag = "receipts", security(("bearer" = [])), params(ReceiptQuery),
    responses((status = 200, description = "Photos in the caller's scope, newest first (without the text read)", body = [ReceiptView]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(principal: Principal, query: ReceiptQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let scope = Scope::of(&principal, &state.auth);
    let frame = state.tables.scoped(&scope, "media").await?;
    // The text read is the bulk of a row and the list does not show it.
    let frame = frame.with_column("ocr_text", lit(datafusion::scalar::ScalarValue::Utf8(None))).map_err(|e| ApiError::unavailable("the media table", &e))?;
    let rows: Vec<MediaRecord> = collect_rows(frame, "the media table").await?;
    let mut latest: std::collections::HashMap<String, MediaRecord> = std::collections::HashMap::new();
    for row in rows {
        if latest.get(&row.media_id).is_none_or(|seen| seen.revision < row.revision) {
            latest.insert(row.media_id.clone(), row);
        }
    }
    let mut photos: Vec<MediaRecord> = latest.into_values().filter(|r| query.status.is_none_or(|s| r.status == s)).collect();
    photos.sort_by(|a, b| b.uploaded_at.cmp(&a.uploaded_at).then_with(|| b.media_id.cmp(&a.media_id)));
    let views: Vec<ReceiptView> = photos.into_iter().take(limit).map(|r| ReceiptView::of(r, false)).collect();
    Ok(warp::reply::json(&views).into_response())
}
