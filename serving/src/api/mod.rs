//! `/api/v1/…`: one resource per file. Handlers read tables only through
//! [`crate::rows::Tables::scoped`] and fail only with [`crate::error::ApiError`].

pub mod accounts;
pub mod advice;
pub mod auth;
pub mod dashboard;
pub mod imports;
pub mod plans;
pub mod receipts;
pub mod sql;
pub mod tiers;
pub mod transactions;
pub mod users;
pub mod whatsapp;

use datafusion::dataframe::DataFrame;
use serde::de::DeserializeOwned;
use warp::Filter;

use crate::error::ApiError;
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    warp::path("api").and(warp::path("v1")).and(
        auth::routes(state.clone())
            .or(users::routes(state.clone()))
            .or(accounts::routes(state.clone()))
            .or(transactions::routes(state.clone()))
            .or(imports::routes(state.clone()))
            .or(receipts::routes(state.clone()))
            .or(whatsapp::routes(state.clone()))
            .or(tiers::routes(state.clone()))
            .or(plans::routes(state.clone()))
            .or(advice::routes(state.clone()))
            .or(dashboard::routes(state.clone()))
            .or(sql::routes(state)),
    )
}

/// Hands the shared state to a handler.
pub(crate) fn with_state(state: State) -> impl Filter<Extract = (State,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// Runs `frame` and converts its rows; `what` names the table in errors.
pub(crate) async fn collect_rows<T: DeserializeOwned>(frame: DataFrame, what: &str) -> Result<Vec<T>, ApiError> {
    let batches = frame.collect().await.map_err(|e| ApiError::unavailable(what, &e))?;
    let mut rows = Vec::new();
    for batch in &batches {
        let part: Vec<T> = serde_arrow::from_record_batch(batch).map_err(|e| ApiError::unavailable(what, &e))?;
        rows.extend(part);
    }
    Ok(rows)
}
