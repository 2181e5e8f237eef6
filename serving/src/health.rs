//! `/healthz` (the process answers) and `/readyz` (the broker answers and
//! every table can be read).

use std::time::Duration;

use arus_schemas::tables;
use serde::Serialize;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::api::with_state;
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let healthz = warp::path("healthz").and(warp::path::end()).and(warp::get()).map(|| "ok");
    let readyz = warp::path("readyz").and(warp::path::end()).and(warp::get()).and(with_state(state)).then(readyz);
    healthz.or(readyz)
}

#[derive(Serialize)]
struct Check {
    name: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    checks: Vec<Check>,
}

async fn readyz(state: State) -> warp::reply::Response {
    let mut checks = Vec::new();
    let kafka = state.kafka.clone();
    let broker = tokio::task::spawn_blocking(move || kafka.ping(Duration::from_secs(2))).await;
    let broker_error = match broker {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    checks.push(Check { name: "kafka".into(), ok: broker_error.is_none(), error: broker_error });
    for def in tables::ALL {
        let error = state.tables.probe(def.name).await.err();
        checks.push(Check { name: format!("table {}", def.name), ok: error.is_none(), error });
    }
    let ready = checks.iter().all(|c| c.ok);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    warp::reply::with_status(warp::reply::json(&Readiness { ready, checks }), status).into_response()
}
