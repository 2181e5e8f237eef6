//! `/api/v1/…`: one resource per file.

pub mod transactions;

use warp::Filter;

use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    warp::path("api").and(warp::path("v1")).and(transactions::routes(state))
}

/// Hands the shared state to a handler.
pub(crate) fn with_state(state: State) -> impl Filter<Extract = (State,), Error = std::convert::Infallible> + Clone {
    warp::any().map(move || state.clone())
}
