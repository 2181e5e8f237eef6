//! The HTTP server around the warp routes: our own accept loop (hyper) so
//! that one place gives every request an id (`X-Request-Id`, taken from the
//! client when sane, else a new UUID) and a `tracing` span carrying it,
//! records the Prometheus request count and latency per route template and
//! status, hands the client address to handlers, and drains connections on
//! shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio_util::sync::CancellationToken;
use tower_service::Service;
use tracing::Instrument;
use warp::Filter;

/// How long open connections get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// What the server knows of a request before routing; handlers read it
/// with [`request_info`].
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: String,
    pub remote: Option<SocketAddr>,
}

/// The [`RequestInfo`] of the current request.
pub fn request_info() -> impl Filter<Extract = (RequestInfo,), Error = Infallible> + Clone {
    warp::ext::optional::<RequestInfo>().map(|info: Option<RequestInfo>| info.unwrap_or_default())
}

/// Route templates (`/api/v1/transactions/{id}`) for metric labels, so
/// that ids in paths do not explode the label space.
#[derive(Debug, Clone)]
pub struct RouteTemplates {
    templates: Vec<Vec<String>>,
}

impl RouteTemplates {
    pub fn new(templates: impl IntoIterator<Item = String>) -> Self {
        let mut templates: Vec<Vec<String>> =
            templates.into_iter().map(|t| t.trim_matches('/').split('/').map(str::to_owned).collect()).collect();
        // Literal segments win over parameters: most literals first.
        templates.sort_by_key(|t| std::cmp::Reverse(t.iter().filter(|s| !s.starts_with('{')).count()));
        RouteTemplates { templates }
    }

    /// The template `path` matches, or `other`.
    pub fn label(&self, path: &str) -> String {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        for template in &self.templates {
            if template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
            {
                return format!("/{}", template.join("/"));
            }
        }
        if path == "/" { "/".into() } else { "other".into() }
    }
}

fn request_id(req: &Request<Incoming>) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Serves `filter` on `listener` until `shutdown` is cancelled, then lets
/// open requests finish (up to 10 s).
pub async fn serve<F>(listener: tokio::net::TcpListener, filter: F, routes: RouteTemplates, shutdown: CancellationToken)
where
    F: Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let routes = Arc::new(routes);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let warp_service = warp::service(filter.clone());
        let routes = Arc::clone(&routes);
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let mut warp_service = warp_service.clone();
            let routes = Arc::clone(&routes);
            async move {
                let started = Instant::now();
                let id = request_id(&req);
                let method = req.method().clone();
                let route = routes.label(req.uri().path());
                req.extensions_mut().insert(RequestInfo { id: id.clone(), remote: Some(remote) });
                let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
                let mut response: Response<_> = match warp_service.call(req).instrument(span.clone()).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if let Ok(value) = HeaderValue::from_str(&id) {
                    response.headers_mut().insert("x-request-id", value);
                }
                let status = response.status().as_u16();
                let elapsed = started.elapsed();
                let labels = [("method", method.to_string()), ("route", route), ("status", status.to_string())];
                metrics::counter!("arus_http_requests_total", &labels).increment(1);
                metrics::histogram!("arus_http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
                span.in_scope(|| tracing::debug!(status, latency_ms = elapsed.as_secs_f64() * 1e3, "request served"));
                Ok::<_, Infallible>(response)
            }
        });
        let connection = auto::Builder::new(TokioExecutor::new()).serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tracing::info!("HTTP API stopping: draining open connections");
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {DRAIN:?}; closing them");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_templates() {
        let routes = RouteTemplates::new(
            ["/api/v1/transactions", "/api/v1/transactions/{id}", "/api/v1/auth/login", "/api/v1/accounts/{id}"].map(String::from),
        );
        assert_eq!(routes.label("/api/v1/transactions/3f2a"), "/api/v1/transactions/{id}");
        assert_eq!(routes.label("/api/v1/transactions"), "/api/v1/transactions");
        assert_eq!(routes.label("/api/v1/auth/login"), "/api/v1/auth/login");
        assert_eq!(routes.label("/api/v1/nope/1/2"), "other");
        assert_eq!(routes.label("/"), "/");
    }
}
