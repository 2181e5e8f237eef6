//! `GET /api/v1/events`: what happens to the caller's money as it happens,
//! as server-sent events — `transaction` (a row enrich wrote, from
//! `arus.txn.v1`: new, corrected or confirmed), `alert` (overspending,
//! anomalies, forecasts, from `arus.alert.v1`) and `tier` (a tier change,
//! also from `arus.alert.v1`). Each connection gets only the events of the
//! people in its scope (its own; an officer's partners; everyone for
//! analysts and admins), decided per event so a new partner shows at once.
//!
//! One consumer per serving process reads both topics from their end
//! (started by the first subscriber) and fans out through a broadcast
//! channel; a subscriber that falls behind by more than the channel holds
//! is told (`lagged`, with how many it missed) and carries on. The stream
//! ends when the login session ends (checked with every keep-alive).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use arus_lakehouse::kafka::Message;
use arus_lakehouse::Kafka;
use arus_schemas::config::ConsumerMode;
use arus_schemas::{topics, Alert, AlertKind, Config, Transaction};
use futures::{Stream, StreamExt};
use tokio::sync::{broadcast, watch, OnceCell};
use tokio_util::sync::CancellationToken;
use warp::{Filter, Rejection, Reply};

use crate::api::with_state;
use crate::auth::{authenticated, Principal};
use crate::rows::Scope;
use crate::State;

/// One event for the people in `user_id`'s circle.
#[derive(Debug, Clone)]
pub struct Event {
    pub user_id: String,
    /// `transaction`, `alert` or `tier`.
    pub kind: &'static str,
    /// Unique per event (the transaction's or alert's id and the offset).
    pub id: String,
    /// The JSON payload as published.
    pub data: String,
}

/// The live feed of one serving process.
pub struct Feed {
    config: Config,
    sender: broadcast::Sender<Arc<Event>>,
    /// True once the consumer stands at the topics' ends: from then on nothing produced is missed.
    positioned: watch::Sender<bool>,
    started: OnceCell<()>,
    shutdown: CancellationToken,
}

impl Feed {
    pub fn new(config: &Config, shutdown: CancellationToken) -> Feed {
        Feed { config: config.clone(), sender: broadcast::channel(4096).0, positioned: watch::channel(false).0, started: OnceCell::new(), shutdown }
    }

    /// A receiver of every event from now on; starts the consumer on first use.
    async fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        let receiver = self.sender.subscribe();
        self.started
            .get_or_init(|| async {
                let (config, sender, positioned, shutdown) = (self.config.clone(), self.sender.clone(), self.positioned.clone(), self.shutdown.clone());
                tokio::spawn(async move { consume(config, sender, positioned, shutdown).await });
            })
            .await;
        receiver
    }

    /// Publishes `event` to the subscribers (tests and in-process producers).
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(Arc::new(event));
    }

    /// Ends the consumer and every open stream (the server is stopping).
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

/// The event a message of `topic` makes, if any.
pub fn event_of(topic: &str, payload: &[u8], offset: i64) -> Option<Event> {
    let data = String::from_utf8(payload.to_vec()).ok()?;
    if topic.ends_with(topics::TXN) {
        let t: Transaction = serde_json::from_str(&data).ok()?;
        return Some(Event { user_id: t.user_id, kind: "transaction", id: format!("{}@{offset}", t.id), data });
    }
    let alert: Alert = serde_json::from_str(&data).ok()?;
    let kind = if matches!(alert.kind, AlertKind::TierUp | AlertKind::TierDown) { "tier" } else { "alert" };
    Some(Event { user_id: alert.user_id, kind, id: format!("{}@{offset}", alert.id), data })
}

/// Reads both topics from their end and broadcasts; retries while the broker is away.
async fn consume(config: Config, sender: broadcast::Sender<Arc<Event>>, positioned: watch::Sender<bool>, shutdown: CancellationToken) {
    let (txn, alert) = (config.topic(topics::TXN), config.topic(topics::ALERT));
    let group = config.group(&format!("serve-events-{}", uuid::Uuid::new_v4().simple()));
    loop {
        // Creating it and reading where each partition ends are blocking calls: off the reactor.
        let consumer = {
            let (config, group, topics) = (config.clone(), group.clone(), [txn.clone(), alert.clone()]);
            tokio::task::spawn_blocking(move || {
                let kafka = Kafka::new(&config)?;
                let consumer = kafka.consumer(&group, &[&topics[0], &topics[1]], ConsumerMode::Assign)?;
                let ends = kafka.high_watermarks(&consumer.assignment()?, Duration::from_secs(10))?;
                Ok::<_, arus_lakehouse::KafkaClientError>((consumer, ends))
            })
            .await
        };
        let consumer = match consumer.map_err(|e| e.to_string()).and_then(|c| c.map_err(|e| e.to_string())) {
            // From each partition's end as it is now: what is produced from here on.
            Ok((consumer, ends)) => consumer.seek_to(&ends.into_iter().map(|(k, end)| (k, Some(end))).collect()).await.map(|()| consumer).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match consumer {
            Ok(consumer) => {
                tracing::info!(topics = ?[&txn, &alert], "live events: reading new transactions and alerts");
                let _ = positioned.send(true);
                loop {
                    let msg = tokio::select! {
                        () = shutdown.cancelled() => return,
                        msg = consumer.recv() => msg,
                    };
                    match msg {
                        Ok(msg) => {
                            if let Some(event) = msg.payload().and_then(|p| event_of(msg.topic(), p, msg.offset())) {
                                metrics::counter!("arus_live_events_total", "kind" => event.kind).increment(1);
                                let _ = sender.send(Arc::new(event));
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "live events: reading failed; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "live events: no consumer yet; retrying in 5 s"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "events").and(warp::get()).and(authenticated(state.clone())).and(with_state(state)).and_then(events)
}

#[utoipa::path(get, path = "/api/v1/events", operation_id = "events", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, description = "Server-sent events: `ready` once, then `transaction`, `alert` and `tier` events of the people in the caller's scope (data: the JSON as published), `lagged` when some were missed", content_type = "text/event-stream"),
        (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn events(principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let receiver = state.feed.subscribe().await;
    tracing::debug!(user = %principal.user_id, "live events: subscribed");
    let stream = stream(principal, state, receiver);
    Ok(warp::sse::reply(warp::sse::keep_alive().interval(Duration::from_secs(15)).stream(stream)).into_response())
}

fn stream(principal: Principal, state: State, receiver: broadcast::Receiver<Arc<Event>>) -> impl Stream<Item = Result<warp::sse::Event, Infallible>> + Send {
    let ready = warp::sse::Event::default().event("ready").data(format!("{{\"user_id\":{:?}}}", principal.user_id));
    // `ready` means live: sent once the consumer stands at the topics' ends (or after 10 s without it).
    let mut positioned = state.feed.positioned.subscribe();
    let first = futures::stream::once(async move {
        if tokio::time::timeout(Duration::from_secs(10), positioned.wait_for(|p| *p)).await.is_err() {
            tracing::warn!("live events: the consumer is not positioned yet; the stream starts anyway");
        }
        Ok(ready)
    });
    let rest = futures::stream::unfold((principal, state, receiver), |(principal, state, mut receiver)| async move {
        loop {
            let next = tokio::select! {
                () = state.feed.shutdown.cancelled() => return None,
                next = tokio::time::timeout(Duration::from_secs(15), receiver.recv()) => next,
            };
            if !state.auth.session_active(&principal.session_id) {
                return None;
            }
            match next {
                Err(_) => continue,
                Ok(Ok(event)) => {
                    if Scope::of(&principal, &state.auth).allows(&event.user_id) {
                        let sse = warp::sse::Event::default().event(event.kind).id(event.id.clone()).data(event.data.clone());
                        return Some((Ok(sse), (principal, state, receiver)));
                    }
                }
                Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    let sse = warp::sse::Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}"));
                    return Some((Ok(sse), (principal, state, receiver)));
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            }
        }
    });
    first.chain(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_changes_are_their_own_kind_and_junk_is_no_event() {
        let alert = serde_json::json!({
            "schema_version": 1, "id": "tier:c1:3", "user_id": "u1", "kind": "tier_up", "severity": "info",
            "subject_id": "c1", "title": "Naik ke Gold", "message": "…", "created_at": "2026-11-22T01:00:00Z"
        });
        let e = event_of("arus.alert.v1", alert.to_string().as_bytes(), 7).unwrap();
        assert_eq!((e.kind, e.user_id.as_str(), e.id.as_str()), ("tier", "u1", "tier:c1:3@7"));
        let mut other = alert.clone();
        other["kind"] = "overspending".into();
        assert_eq!(event_of("p-arus.alert.v1", other.to_string().as_bytes(), 8).unwrap().kind, "alert");
        assert!(event_of("arus.alert.v1", b"not json", 9).is_none());
        assert!(event_of("arus.txn.v1", alert.to_string().as_bytes(), 9).is_none());
    }
}
