//! `/api/v1/transactions`: manual entry (published to Kafka, 202 with the
//! id the row will have) and listing a user's rows from the Delta table.

use arus_ingest::{ManualEntry, SubmitError};
use arus_schemas::Transaction;
use datafusion::prelude::{col, lit};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::error::ApiError;
use crate::State;

/// Largest accepted request body.
const MAX_BODY: u64 = 64 * 1024;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let create = warp::path("transactions")
        .and(warp::path::end())
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::bytes())
        .and(with_state(state.clone()))
        .and_then(create);
    let list = warp::path("transactions")
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::query::<ListQuery>())
        .and(with_state(state))
        .and_then(list);
    create.or(list)
}

#[derive(Debug, Serialize)]
struct Created {
    id: String,
    idempotency_key: String,
    status: &'static str,
}

async fn create(body: bytes::Bytes, state: State) -> Result<warp::reply::Response, Rejection> {
    let entry: ManualEntry = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a valid transaction: {e}")))?;
    match state.manual.submit(entry).await {
        Ok(accepted) => {
            let created = Created { id: accepted.id, idempotency_key: accepted.idempotency_key, status: "accepted" };
            Ok(warp::reply::with_status(warp::reply::json(&created), StatusCode::ACCEPTED).into_response())
        }
        Err(SubmitError::Invalid(fields)) => Err(ApiError::invalid(fields).into()),
        Err(SubmitError::Publish(e)) => {
            Err(ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the transaction could not be queued; retry with the same idempotency_key", &e).into())
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    user_id: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Page {
    items: Vec<Transaction>,
}

/// A user's transactions, newest first.
async fn list(query: ListQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let user_id = query.user_id.filter(|u| !u.is_empty()).ok_or_else(|| ApiError::bad_request("user_id is required"))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let failed = |e: &dyn std::fmt::Display| ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the transactions table cannot be read", e);
    let frame = state
        .session
        .context()
        .table("transactions")
        .await
        .and_then(|df| df.filter(col("user_id").eq(lit(user_id))))
        .and_then(|df| df.sort(vec![col("occurred_at").sort(false, true), col("id").sort(true, true)]))
        .and_then(|df| df.limit(0, Some(limit)))
        .map_err(|e| failed(&e))?;
    let batches = frame.collect().await.map_err(|e| failed(&e))?;
    let mut items = Vec::new();
    for batch in &batches {
        let rows: Vec<Transaction> = serde_arrow::from_record_batch(batch).map_err(|e| failed(&e))?;
        items.extend(rows);
    }
    Ok(warp::reply::json(&Page { items }).into_response())
}
