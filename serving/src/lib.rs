//! The HTTP face of arus: a warp API over the Delta tables, queried with one
//! DataFusion session that always reads the latest committed version.
//! Routes live one resource per file under [`api`]; who may see which rows
//! is decided in one place ([`rows`]); errors map to HTTP in one place
//! ([`error`]); every request passes through one server loop ([`observe`])
//! that gives it an id, a span and its metrics.

pub mod activity;
pub mod api;
pub mod audit;
pub mod charts;
pub mod auth;
pub mod error;
pub mod events;
pub mod health;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod pg;
pub mod rows;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arus_ingest::import::{ImportError, Importer};
use arus_ingest::photos::{PhotoError, Photos};
use arus_ingest::whatsapp::Webhook;
use arus_ingest::ManualConnector;
use arus_lakehouse::{Kafka, Lake, LakeError, LakeSession, Producer};
use arus_schemas::Config;
use tokio_util::sync::CancellationToken;
use warp::{Filter, Reply};

use crate::audit::Auditor;
use crate::auth::store::{AuthStore, StoreError};
use crate::auth::throttle::LoginThrottle;
use crate::auth::tokens::{KeyError, TokenKeys};
use crate::api::whatsapp::Links;
use crate::rows::Tables;

/// What every handler can reach.
pub struct AppState {
    pub config: Config,
    pub kafka: Kafka,
    pub producer: Producer,
    pub tables: Tables,
    pub manual: ManualConnector,
    pub importer: Importer,
    pub photos: Photos,
    pub auth: AuthStore,
    pub keys: TokenKeys,
    pub throttle: LoginThrottle,
    pub auditor: Auditor,
    pub webhook: Webhook,
    pub links: Links,
    pub segments: api::tiers::Segments,
    pub feed: events::Feed,
    pub activity: activity::ActivityIndex,
}

pub type State = Arc<AppState>;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Kafka(#[from] arus_lakehouse::KafkaClientError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Photos(#[from] PhotoError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid cors_origins: {0}")]
    Cors(String),
    #[error("WhatsApp webhook: {0}")]
    Webhook(String),
}

impl AppState {
    pub async fn new(config: &Config) -> Result<State, ServeError> {
        let kafka = Kafka::new(config)?;
        let lake = Lake::new(config)?;
        let session = LakeSession::open(&lake, Duration::from_millis(config.table_refresh_ms)).await?;
        let manual = ManualConnector::new(&kafka, config)?;
        let auth = AuthStore::open(&lake).await?;
        let keys = TokenKeys::from_config(config)?;
        let webhook = Webhook::new(&kafka, config).map_err(ServeError::Webhook)?;
        Ok(Arc::new(AppState {
            config: config.clone(),
            producer: kafka.producer()?,
            auditor: Auditor::new(&kafka, config)?,
            kafka,
            tables: Tables::new(session),
            manual,
            importer: Importer::open(config).await?,
            photos: Photos::open(config).await?,
            auth,
            keys,
            throttle: LoginThrottle::new(config),
            webhook,
            links: Links::open(&lake).await?,
            segments: api::tiers::Segments::open(&lake, Duration::from_millis(config.model_poll_ms)).await?,
            feed: events::Feed::new(config, tokio_util::sync::CancellationToken::new()),
            activity: activity::ActivityIndex::new(Duration::from_millis(config.partners_refresh_ms)),
        }))
    }
}

/// Origins allowed by `cors_origins`, or `None` when CORS is off.
fn cors(config: &Config) -> Result<Option<warp::cors::Builder>, ServeError> {
    let origins: Vec<&str> = config.cors_origins.split(',').map(str::trim).filter(|o| !o.is_empty()).collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let mut builder = warp::cors()
        .allow_methods(["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers(["authorization", "content-type", "accept-language", "x-request-id"])
        .expose_headers(["x-request-id", "retry-after"])
        .max_age(600);
    if origins == ["*"] {
        builder = builder.allow_any_origin();
    } else {
        for origin in &origins {
            if url::Url::parse(origin).is_err() {
                return Err(ServeError::Cors(format!("{origin} is not an origin like https://app.example.id")));
            }
        }
        builder = builder.allow_origins(origins);
    }
    Ok(Some(builder))
}

/// Every route of the API, errors rendered as JSON.
pub fn routes(
    state: State,
) -> Result<impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone + Send + Sync + 'static, ServeError> {
    let app = health::routes(state.clone())
        .or(metrics::routes())
        .or(openapi::routes())
        .or(api::whatsapp::webhook_routes(state.clone()))
        .or(events::routes(state.clone()))
        .or(api::routes(state.clone()))
        .or(web::routes())
        .map(Reply::into_response);
    let app = match cors(&state.config)? {
        Some(cors) => app.with(cors).map(Reply::into_response).boxed(),
        None => app.boxed(),
    };
    Ok(app.recover(error::recover).unify().map(Reply::into_response))
}

/// Serves the API on `config.http_addr` until `shutdown` is cancelled.
/// Returns the bound address through `bound` as soon as it listens.
pub async fn serve(
    config: &Config,
    shutdown: CancellationToken,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), ServeError> {
    metrics::handle();
    let state = AppState::new(config).await?;
    let app = routes(state.clone())?;
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|source| ServeError::Bind { addr: config.http_addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: config.http_addr, source })?;
    tracing::info!(%addr, docs = %format!("http://{addr}/docs/"), "HTTP API listening");
    tracing::info!(
        url = %format!("http://{addr}/webhooks/waha"),
        signed = state.webhook.requires_signature(),
        "WhatsApp webhook for WAHA (events: message)"
    );
    if let Some(bound) = bound {
        let _ = bound.send(addr);
    }
    let reload = tokio::spawn(reload_auth(state.clone(), shutdown.clone()));
    {
        // Open event streams end with the server, not after the drain.
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tokio::spawn(async move {
            shutdown.cancelled().await;
            state.feed.stop();
        });
    }
    let pg = match config.pg_addr {
        Some(addr) => {
            let (state, shutdown) = (state.clone(), shutdown.clone());
            Some(tokio::spawn(async move {
                if let Err(e) = pg::serve(state, addr, shutdown, None).await {
                    tracing::error!(%addr, error = %e, "the Postgres wire protocol could not listen (ARUS_PG_ADDR)");
                }
            }))
        }
        None => None,
    };
    observe::serve(listener, app, observe::RouteTemplates::new(openapi::route_templates()), shutdown).await;
    reload.abort();
    if let Some(pg) = pg {
        pg.abort();
    }
    Ok(())
}

/// Picks up people and sessions changed by other serving instances.
async fn reload_auth(state: State, shutdown: CancellationToken) {
    let every = Duration::from_millis(state.config.auth_reload_ms.max(100));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        if let Err(e) = state.auth.reload().await {
            tracing::warn!(error = %e, "reloading users and sessions failed; serving what is loaded");
        }
    }
}
