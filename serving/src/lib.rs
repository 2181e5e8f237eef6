//! The HTTP face of arus: a warp API over the Delta tables, queried with one
//! DataFusion session that always reads the latest committed version.
//! Routes live one resource per file under [`api`]; errors map to HTTP in
//! one place ([`error`]).

pub mod api;
pub mod error;
pub mod health;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arus_ingest::ManualConnector;
use arus_lakehouse::{Kafka, Lake, LakeError, LakeSession};
use arus_schemas::Config;
use tokio_util::sync::CancellationToken;
use warp::Filter;

/// What every handler can reach.
pub struct AppState {
    pub config: Config,
    pub kafka: Kafka,
    pub session: LakeSession,
    pub manual: ManualConnector,
}

pub type State = Arc<AppState>;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Kafka(#[from] arus_lakehouse::KafkaClientError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

impl AppState {
    pub async fn new(config: &Config) -> Result<State, ServeError> {
        let kafka = Kafka::new(config)?;
        let lake = Lake::new(config)?;
        let session = LakeSession::open(&lake, Duration::from_millis(config.table_refresh_ms)).await?;
        let manual = ManualConnector::new(&kafka, config)?;
        Ok(Arc::new(AppState { config: config.clone(), kafka, session, manual }))
    }
}

/// Every route of the API.
pub fn routes(state: State) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible> + Clone {
    health::routes(state.clone())
        .or(api::routes(state))
        .recover(error::recover)
        .with(warp::trace::request())
}

/// Serves the API on `config.http_addr` until `shutdown` is cancelled.
/// Returns the bound address through `bound` as soon as it listens.
pub async fn serve(
    config: &Config,
    shutdown: CancellationToken,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), ServeError> {
    let state = AppState::new(config).await?;
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|source| ServeError::Bind { addr: config.http_addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.http_addr, source })?;
    tracing::info!(%addr, "HTTP API listening");
    if let Some(bound) = bound {
        let _ = bound.send(addr);
    }
    warp::serve(routes(state)).incoming(listener).graceful(shutdown.cancelled_owned()).run().await;
    Ok(())
}
