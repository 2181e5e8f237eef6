//! `/api/v1/transactions`: manual entry (published to Kafka, 202 with the id
//! the row will have; visible after the enrich job's next commit), listing
//! with filters and keyset pagination, one transaction by id, and a
//! person's correction of its category (published to
//! `arus.txn.feedback.v1`; the enrich job changes the row and learns the
//! person's rule). Every read goes through
//! [`Tables::scoped`](crate::rows::Tables::scoped).

use arus_ingest::{Accepted, ManualEntry, SubmitError};
use arus_schemas::categories::{self, Category};
use arus_schemas::events::jakarta;
use arus_schemas::{topics, CategoryFeedback, CategorySource, Lang, Transaction, TransactionStatus, TxnSource, ValidationError};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::prelude::{col, lit, Expr};
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::{collect_rows, with_state};
use crate::auth::{authenticated, Principal};
use crate::error::{json_body, lang, ApiError, ErrorBody};
use crate::rows::Scope;
use crate::State;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let create = warp::path("transactions")
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(json_body::<ManualEntry>(state.config.http_max_body_bytes))
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(create);
    let list = warp::path("transactions")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<ListQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(list);
    let get = warp::path!("transactions" / String)
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(with_state(state.clone()))
        .and_then(get);
    let patch = warp::path!("transactions" / String)
        .and(warp::patch())
        .and(authenticated(state.clone()))
        .and(json_body::<TransactionPatch>(state.config.http_max_body_bytes))
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(patch);
    let categories = warp::path("categories").and(warp::path::end()).and(warp::get()).and(authenticated(state)).and_then(list_categories);
    create.or(list).or(get).or(patch).or(categories)
}

#[utoipa::path(post, path = "/api/v1/transactions", operation_id = "create_transaction", tag = "transactions", security(("bearer" = [])), request_body = ManualEntry,
    responses(
        (status = 202, description = "Queued; the row appears after the next commit (about `batch_max_latency_ms`)", body = Accepted),
        (status = 403, description = "Analysts only read", body = ErrorBody),
        (status = 422, description = "Invalid fields (messages follow Accept-Language)", body = ErrorBody),
        (status = 503, description = "The broker did not acknowledge; retry with the same idempotency_key", body = ErrorBody),
    ))]
pub(crate) async fn create(principal: Principal, mut entry: ManualEntry, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let scope = Scope::of(&principal, &state.auth);
    if entry.user_id.is_empty() {
        entry.user_id = principal.user_id.clone();
    } else if !scope.allows(&entry.user_id) {
        return Err(ApiError::invalid(&[ValidationError::new("user_id", "not_found", "user_id names nobody you act for")], lang).into());
    }
    if let Some(account) = &entry.account_id {
        let owner = super::accounts::current(&state, &Scope::Own(entry.user_id.clone()), account).await?;
        if owner.is_none_or(|a| a.deleted) {
            return Err(ApiError::invalid(&[ValidationError::new("account_id", "not_found", "account_id names no account of this user")], lang).into());
        }
    }
    match state.manual.submit(entry).await {
        Ok(accepted) => Ok(warp::reply::with_status(warp::reply::json(&accepted), StatusCode::ACCEPTED).into_response()),
        Err(SubmitError::Invalid(fields)) => Err(ApiError::invalid(&fields, lang).into()),
        Err(SubmitError::Publish(e)) => Err(ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the transaction could not be queued; retry with the same idempotency_key",
            &e,
        )
        .into()),
    }
}

/// Filters of the transaction list; all optional and combined with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this person's rows (within the caller's scope).
    pub user_id: Option<String>,
    /// First day, `YYYY-MM-DD` (WIB), inclusive.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (WIB), inclusive.
    pub to: Option<String>,
    pub account_id: Option<String>,
    /// Category id.
    pub category: Option<String>,
    /// `pending_category`, `ai_predicted`, `needs_review` or `user_confirmed`.
    pub status: Option<String>,
    /// Who chose the category: `model`, `personal_rule` or `user`.
    pub category_source: Option<String>,
    /// Only rows whose category confidence is at least this (0 to 1).
    pub min_confidence: Option<f64>,
    /// Only rows whose category confidence is below this (0 to 1).
    pub max_confidence: Option<f64>,
    /// `manual`, `csv`, `xlsx`, `ocr` or `whatsapp`.
    pub source: Option<String>,
    /// Case-insensitive text in the description or counterparty.
    pub q: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of transactions, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page {
    pub items: Vec<Transaction>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Where a page ends: the sort key of its last row.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Cursor {
    /// `occurred_at` in microseconds since the epoch.
    t: i64,
    id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Option<Cursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

fn day(field: &str, text: &str, errors: &mut Vec<ValidationError>) -> Option<NaiveDate> {
    let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    if parsed.is_none() {
        errors.push(ValidationError::new(field, "invalid_date", format!("{field} must be a date YYYY-MM-DD")));
    }
    parsed
}

fn micros(t: DateTime<Utc>) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into())))
}

fn start_of_day(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).and_then(|t| t.and_local_timezone(jakarta()).single()).map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// The WIB months (`YYYY-MM`, the partitions of `transactions`) a listing
/// can find rows in; `None` is unbounded.
#[derive(Debug, Default, PartialEq)]
struct MonthRange {
    first: Option<String>,
    last: Option<String>,
}

impl MonthRange {
    fn contains(&self, month: &str) -> bool {
        self.first.as_deref().is_none_or(|f| month >= f) && self.last.as_deref().is_none_or(|l| month <= l)
    }

    fn end_at(&mut self, month: String) {
        if self.last.as_ref().is_none_or(|l| month < *l) {
            self.last = Some(month);
        }
    }
}

fn month_of(t: DateTime<Utc>) -> String {
    t.with_timezone(&jakarta()).format("%Y-%m").to_string()
}

/// The filters of `query` as expressions and the months they leave, or the
/// fields that are wrong.
fn filters(query: &ListQuery) -> Result<(Vec<Expr>, MonthRange), Vec<ValidationError>> {
    let mut months = MonthRange::default();
    let mut errors = Vec::new();
    let mut exprs = Vec::new();
    if let Some(user) = &query.user_id {
        exprs.push(col("user_id").eq(lit(user.clone())));
    }
    let from = query.from.as_deref().and_then(|t| day("from", t, &mut errors));
    let to = query.to.as_deref().and_then(|t| day("to", t, &mut errors));
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            errors.push(ValidationError::with_param("from", "out_of_range", "from is after to", "from ≤ to"));
        }
    }
    if let Some(from) = from {
        exprs.push(col("occurred_at").gt_eq(micros(start_of_day(from))));
        // The table is partitioned by WIB month: this prunes whole folders.
        let first = from.format("%Y-%m").to_string();
        exprs.push(col("month").gt_eq(lit(first.clone())));
        months.first = Some(first);
    }
    if let Some(to) = to {
        let next = to.succ_opt().unwrap_or(to);
        exprs.push(col("occurred_at").lt(micros(start_of_day(next))));
        let last = to.format("%Y-%m").to_string();
        exprs.push(col("month").lt_eq(lit(last.clone())));
        months.end_at(last);
    }
    if let Some(account) = &query.account_id {
        exprs.push(col("account_id").eq(lit(account.clone())));
    }
    if let Some(category) = &query.category {
        exprs.push(col("category_id").eq(lit(category.clone())));
    }
    let statuses = TransactionStatus::ALL.map(TransactionStatus::as_str);
    let sources = CategorySource::ALL.map(CategorySource::as_str);
    for (field, value, known) in [("status", &query.status, &statuses[..]), ("category_source", &query.category_source, &sources[..])] {
        match value {
            Some(v) if known.contains(&v.as_str()) => exprs.push(col(field).eq(lit(v.clone()))),
            Some(_) => {
                let allowed = known.join(", ");
                errors.push(ValidationError::with_param(field, "not_one_of", format!("{field} must be one of {allowed}"), allowed));
            }
            None => {}
        }
    }
    for (field, bound) in [("min_confidence", query.min_confidence), ("max_confidence", query.max_confidence)] {
        match bound {
            Some(b) if !(0.0..=1.0).contains(&b) => {
                errors.push(ValidationError::with_param(field, "out_of_range", format!("{field} must be between 0 and 1"), "0–1"));
            }
            Some(b) if field == "min_confidence" => exprs.push(col("category_confidence").gt_eq(lit(b))),
            Some(b) => exprs.push(col("category_confidence").lt(lit(b))),
            None => {}
        }
    }
    if let Some(source) = &query.source {
        match serde_json::from_value::<TxnSource>(serde_json::Value::String(source.clone())) {
            Ok(_) => exprs.push(col("source").eq(lit(source.clone()))),
            Err(_) => errors.push(ValidationError::with_param(
                "source",
                "not_one_of",
                "source must be one of manual, csv, xlsx, ocr, whatsapp",
                "manual, csv, xlsx, ocr, whatsapp",
            )),
        }
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 100 {
            errors.push(ValidationError::with_param("q", "too_long", "q is longer than 100 characters", 100));
        } else {
            let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let pattern = lit(format!("%{escaped}%"));
            exprs.push(col("description").ilike(pattern.clone()).or(col("counterparty").ilike(pattern)));
        }
    }
    if query.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        errors.push(ValidationError::with_param("limit", "out_of_range", format!("limit must be 1 to {MAX_LIMIT}"), format!("1–{MAX_LIMIT}")));
    }
    let cursor = match query.cursor.as_deref() {
        None => None,
        Some(text) => match Cursor::decode(text) {
            Some(cursor) => Some(cursor),
            None => {
                errors.push(ValidationError::new("cursor", "invalid_cursor", "cursor is not one this API issued; start from the first page"));
                None
            }
        },
    };
    if let Some(c) = &cursor {
        // Keyset: strictly after the last row of the previous page in
        // (occurred_at DESC, id DESC) order. The scope filter still
        // applies, so a forged cursor can only skip the caller's own rows.
        let t = lit(ScalarValue::TimestampMicrosecond(Some(c.t), Some("UTC".into())));
        exprs.push(col("occurred_at").lt(t.clone()).or(col("occurred_at").eq(t).and(col("id").lt(lit(c.id.clone())))));
        if let Some(at) = DateTime::from_timestamp_micros(c.t) {
            months.end_at(month_of(at));
        }
    }
    if errors.is_empty() { Ok((exprs, months)) } else { Err(errors) }
}

#[utoipa::path(get, path = "/api/v1/transactions", operation_id = "list_transactions", tag = "transactions", security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "Newest first; follow `next_cursor` for more", body = Page),
        (status = 401, body = ErrorBody),
        (status = 422, description = "Invalid filter", body = ErrorBody),
    ))]
pub(crate) async fn list(principal: Principal, query: ListQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let (exprs, range) = filters(&query).map_err(|errors| ApiError::invalid(&errors, lang))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let scope = Scope::of(&principal, &state.auth);
    let unavailable = |e: &dyn std::fmt::Display| ApiError::unavailable("the transactions table", e);
    let mut base = state.tables.scoped(&scope, "transactions").await?;
    for expr in exprs {
        base = base.filter(expr).map_err(|e| unavailable(&e))?;
    }
    // A page is the newest rows, and the month partition follows
    // occurred_at, so read months newest first in growing groups (1, 2, 4,
    // …) and stop once the page is full: a first page of a busy person reads
    // one month, not the whole history.
    let months = state.tables.partition_values("transactions", "month").await?;
    let months: Vec<String> = months.iter().rev().filter(|m| range.contains(m)).cloned().collect();
    let mut items: Vec<Transaction> = Vec::new();
    for group in month_groups(&months) {
        let frame = base
            .clone()
            .filter(col("month").in_list(group.iter().map(|m| lit(m.clone())).collect(), false))
            .and_then(|f| f.sort(vec![col("occurred_at").sort(false, false), col("id").sort(false, false)]))
            .and_then(|f| f.limit(0, Some(limit + 1 - items.len())))
            .map_err(|e| unavailable(&e))?;
        items.extend(collect_rows::<Transaction>(frame, "the transactions table").await?);
        if items.len() > limit {
            break;
        }
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| Cursor { t: last.occurred_at.timestamp_micros(), id: last.id.clone() }.encode())
    } else {
        None
    };
    Ok(warp::reply::json(&Page { items, next_cursor }).into_response())
}

#[utoipa::path(get, path = "/api/v1/transactions/{id}", operation_id = "get_transaction", tag = "transactions", security(("bearer" = [])),
    params(("id" = String, Path, description = "transaction id")),
    responses(
        (status = 200, body = Transaction),
        (status = 404, description = "No such transaction in the caller's scope", body = ErrorBody),
    ))]
pub(crate) async fn get(id: String, principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let row = one(&state, &principal, id).await?;
    Ok(warp::reply::json(&row).into_response())
}

/// Transaction `id` if it is in the caller's scope, else 404.
async fn one(state: &State, principal: &Principal, id: String) -> Result<Transaction, ApiError> {
    let scope = Scope::of(principal, &state.auth);
    let frame = state
        .tables
        .scoped(&scope, "transactions")
        .await?
        .filter(col("id").eq(lit(id)))
        .and_then(|f| f.limit(0, Some(1)))
        .map_err(|e| ApiError::unavailable("the transactions table", &e))?;
    let rows: Vec<Transaction> = collect_rows(frame, "the transactions table").await?;
    rows.into_iter().next().ok_or_else(|| ApiError::not_found("transaction"))
}

/// A person's change to a transaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionPatch {
    /// The right category: its id (`raw_materials`) or its name in
    /// Indonesian or English (`Bahan Baku & Stok`, `bahan baku`).
    pub category: String,
}

#[utoipa::path(patch, path = "/api/v1/transactions/{id}", operation_id = "correct_transaction", tag = "transactions", security(("bearer" = [])),
    params(("id" = String, Path, description = "transaction id")), request_body = TransactionPatch,
    responses(
        (status = 202, description = "Queued: the transaction as it will read after the enrich job's next commit (`user_confirmed`); \
            the person's next transactions with this merchant follow after two consistent corrections", body = Transaction),
        (status = 403, description = "Analysts only read", body = ErrorBody),
        (status = 404, description = "No such transaction in the caller's scope", body = ErrorBody),
        (status = 422, description = "Unknown category", body = ErrorBody),
        (status = 503, description = "The broker did not acknowledge; retry", body = ErrorBody),
    ))]
pub(crate) async fn patch(id: String, principal: Principal, body: TransactionPatch, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let Some(category) = categories::find(&body.category) else {
        let error = ValidationError::with_param(
            "category",
            "unknown_category",
            format!("{:?} is not a category (GET /api/v1/categories lists them)", body.category),
            &body.category,
        );
        return Err(ApiError::invalid(&[error], lang).into());
    };
    let mut row = one(&state, &principal, id).await?;
    let now = Utc::now();
    let feedback = CategoryFeedback {
        schema_version: arus_schemas::SCHEMA_VERSION,
        id: uuid::Uuid::new_v4().to_string(),
        user_id: row.user_id.clone(),
        transaction_id: row.id.clone(),
        month: row.month.clone(),
        category_id: category.id.to_owned(),
        description: row.description.clone(),
        counterparty: row.counterparty.clone(),
        amount: row.amount,
        previous_category_id: row.category_id.clone(),
        previous_source: row.category_source,
        actor_id: principal.user_id.clone(),
        channel: "api".into(),
        at: now,
    };
    let topic = state.config.topic(topics::TXN_FEEDBACK);
    state.producer.send_json(&topic, &row.user_id, &feedback).await.map_err(|e| {
        ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the correction could not be queued; retry", &e)
    })?;
    row.category_id = Some(category.id.to_owned());
    row.category_confidence = Some(1.0);
    row.category_source = Some(CategorySource::User);
    row.status = TransactionStatus::UserConfirmed;
    row.confirmed_at = Some(now);
    Ok(warp::reply::with_status(warp::reply::json(&row), StatusCode::ACCEPTED).into_response())
}

#[utoipa::path(get, path = "/api/v1/categories", operation_id = "list_categories", tag = "transactions", security(("bearer" = [])),
    responses((status = 200, description = "The default categories: id, group, Indonesian and English names", body = [Category])))]
pub(crate) async fn list_categories(_principal: Principal) -> Result<warp::reply::Response, Rejection> {
    Ok(warp::reply::json(&categories::DEFAULT).into_response())
}

/// `months` (newest first) in groups of 1, 2, 4, … months.
fn month_groups(months: &[String]) -> Vec<&[String]> {
    let mut groups = Vec::new();
    let (mut start, mut size) = (0, 1);
    while start < months.len() {
        let end = (start + size).min(months.len());
        groups.push(&months[start..end]);
        start = end;
        size *= 2;
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_newest_first_in_growing_groups() {
        let months: Vec<String> = (1..=12).rev().map(|m| format!("2026-{m:02}")).collect();
        let groups = month_groups(&months);
        let sizes: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(sizes, [1, 2, 4, 5]);
        assert_eq!(groups[0], ["2026-12"]);
        assert_eq!(groups.concat(), months);
        assert!(month_groups(&[]).is_empty());
    }

    #[test]
    fn dates_and_cursors_bound_the_months() {
        let cursor = Cursor { t: DateTime::parse_from_rfc3339("2026-03-31T18:00:00Z").unwrap().timestamp_micros(), id: "x".into() };
        let query = ListQuery { from: Some("2025-11-15".into()), to: Some("2026-06-01".into()), cursor: Some(cursor.encode()), ..ListQuery::default() };
        let (_, range) = filters(&query).unwrap();
        // 18:00 UTC on 31 March is 1 April in WIB.
        assert_eq!(range, MonthRange { first: Some("2025-11".into()), last: Some("2026-04".into()) });
        assert!(range.contains("2026-04") && range.contains("2025-11"));
        assert!(!range.contains("2026-05") && !range.contains("2025-10"));
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor { t: 1_760_000_000_000_000, id: "abc".into() };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("!!"), None);
        let query = ListQuery { cursor: Some("bm90IGpzb24".into()), ..ListQuery::default() };
        let errors = filters(&query).unwrap_err();
        assert_eq!(errors[0].code, "invalid_cursor");
    }

    #[test]
    fn bad_filters_are_named() {
        let query = ListQuery {
            from: Some("2026-13-01".into()),
            status: Some("done".into()),
            source: Some("fax".into()),
            limit: Some(0),
            ..ListQuery::default()
        };
        let fields: Vec<String> = filters(&query).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["from", "status", "source", "limit"]);
        let ok = ListQuery { from: Some("2026-01-01".into()), to: Some("2026-01-31".into()), q: Some("50%_off".into()), ..ListQuery::default() };
        assert_eq!(filters(&ok).unwrap().0.len(), 5);
    }
}
