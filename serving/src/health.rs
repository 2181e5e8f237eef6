//! `/healthz` (the process answers) and `/readyz` (the broker answers and
//! every table can be read).

use std::time::Duration;

use std::net::SocketAddr;

use arus_lakehouse::health::{self, JobState};
use arus_lakehouse::Kafka;
use arus_schemas::{tables, Config};
use tokio_util::sync::CancellationToken;
use serde::Serialize;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::api::with_state;
use crate::{ServeError, State};

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

/// The jobs running in this process (`arus up`, `arus job`): ready once
/// positioned and while their commits succeed.
fn job_checks() -> Vec<Check> {
    health::snapshot()
        .into_iter()
        .map(|(job, s)| {
            let error = match s {
                JobState::Ready => None,
                JobState::Starting => Some("positioning its partitions".to_owned()),
                JobState::Failing { failures, reason } => Some(format!("{failures} failed commit(s) in a row, the last: {reason}")),
            };
            Check { name: format!("job {job}"), ok: error.is_none(), error }
        })
        .collect()
}

/// `/metrics`, `/healthz` and `/readyz` of an `arus job` process on
/// `ARUS_JOB_HTTP_ADDR`, until `shutdown`. Ready: the broker answers and
/// every job of the process is ready.
pub async fn serve_job_endpoints(config: &Config, shutdown: CancellationToken) -> Result<(), ServeError> {
    let addr: SocketAddr = config.job_http_addr.parse().map_err(|e| ServeError::Config(format!("job_http_addr {:?}: {e}", config.job_http_addr)))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let kafka = Kafka::new(config)?;
    crate::metrics::handle();
    let healthz = warp::path("healthz").and(warp::path::end()).and(warp::get()).map(|| "ok");
    let readyz = warp::path("readyz").and(warp::path::end()).and(warp::get()).then(move || {
        let kafka = kafka.clone();
        async move {
            let broker = tokio::task::spawn_blocking(move || kafka.ping(Duration::from_secs(2))).await;
            let error = match broker {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            let mut checks = vec![Check { name: "kafka".into(), ok: error.is_none(), error }];
            checks.extend(job_checks());
            let ready = checks.iter().all(|c| c.ok);
            let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            warp::reply::with_status(warp::reply::json(&Readiness { ready, checks }), status).into_response()
        }
    });
    let app = crate::metrics::routes()
        .map(Reply::into_response)
        .or(healthz.map(Reply::into_response))
        .unify()
        .or(readyz)
        .unify()
        .recover(|_: Rejection| async { Ok::<_, std::convert::Infallible>(StatusCode::NOT_FOUND.into_response()) })
        .unify();
    tracing::info!(%addr, "job endpoints listening (/metrics, /healthz, /readyz)");
    let templates = crate::observe::RouteTemplates::new(["/metrics", "/healthz", "/readyz"].map(String::from).to_vec());
    crate::observe::serve(listener, app, templates, shutdown).await;
    Ok(())
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
    checks.extend(job_checks());
    let ready = checks.iter().all(|c| c.ok);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    warp::reply::with_status(warp::reply::json(&Readiness { ready, checks }), status).into_response()
}
