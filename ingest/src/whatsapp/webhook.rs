//! The WAHA webhook connector (`POST /webhooks/waha`): checks the
//! signature, reads the event, drops what is not a person's message
//! (`fromMe`, acks, session changes) and WAHA's retried deliveries, and
//! publishes each new message to `arus.wa.inbound.v1`. It answers as soon
//! as the broker has the message: reading it, fetching its photo and
//! answering the person happen downstream (the `wa-router` job), so a slow
//! OCR or lake never makes WAHA wait or retry.
//!
//! **Signature.** With a key configured, `X-Webhook-Hmac` must be the hex
//! HMAC-SHA512 of the raw body (WAHA's `X-Webhook-Hmac-Algorithm` must be
//! `sha512` when sent), compared in constant time; anything else is 401.
//!
//! **Nothing lost.** A body that is not JSON or not a WAHA event, and an
//! event type arus does not know, become dead letters with the reason (and
//! the sender is told in the answer). Retried deliveries are recognised by
//! the message id for the last `wa_dedup_capacity` messages; past that (or
//! after a restart) every effect downstream is keyed by the message id too,
//! so a repeat still records and answers once.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use arus_lakehouse::{Kafka, KafkaClientError, Producer};
use arus_schemas::events::DeadLetterKind;
use arus_schemas::whatsapp::{phone_of, WaInbound, WaMedia};
use arus_schemas::{topics, Config, DeadLetter, SCHEMA_VERSION};
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha512};

/// `job` of the webhook's dead letters; `source_topic` says where they came from.
pub const CONNECTOR: &str = "waha-webhook";
const SOURCE: &str = "http:/webhooks/waha";

/// WAHA events arus does not act on, but knows: answered 200, not dead letters.
const KNOWN_IGNORED: &[&str] = &[
    "message.ack",
    "message.ack.group",
    "message.reaction",
    "message.revoked",
    "message.edited",
    "message.waiting",
    "session.status",
    "state.change",
    "presence.update",
    "poll.vote",
    "poll.vote.failed",
    "chat.archive",
    "group.join",
    "group.leave",
    "group.v2.join",
    "group.v2.leave",
    "group.v2.update",
    "group.v2.participants",
    "label.upsert",
    "label.deleted",
    "label.chat.added",
    "label.chat.deleted",
    "call.received",
    "call.accepted",
    "call.rejected",
    "engine.event",
    "event.response",
    "event.response.failed",
];

/// What became of a delivery (all answered 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Published for the router.
    Accepted { message_id: String },
    /// Delivered before (WAHA retried): nothing published again.
    Duplicate { message_id: String },
    /// Not for arus (its own messages, acks, status changes, groups).
    Ignored { reason: String },
    /// An event type arus does not know: a dead letter says so.
    Unknown { event: String },
}

/// Why a delivery is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// 401: the signature is missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// 400: not a WAHA event; a dead letter keeps the body.
    #[error("{0}")]
    BadRequest(String),
    /// 503: the broker did not take it; WAHA should deliver it again.
    #[error("the message could not be queued: {0}")]
    Unavailable(#[from] KafkaClientError),
}

/// The webhook's event, as far as arus reads it.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    id: Option<String>,
    event: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

/// `payload` of a `message` event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    id: String,
    /// Seconds since 1970.
    #[serde(default)]
    timestamp: Option<i64>,
    from: String,
    #[serde(default)]
    from_me: bool,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    has_media: Option<bool>,
    #[serde(default)]
    media: Option<WaMedia>,
}

/// Message ids seen lately, oldest forgotten first.
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Seen {
    /// False when `id` was seen; otherwise remembers it.
    fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.capacity == 0 {
            return true;
        }
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }

    fn forget(&mut self, id: &str) {
        if self.ids.remove(id) {
            self.order.retain(|o| o != id);
        }
    }
}

/// The connector, shared by every request.
pub struct Webhook {
    producer: Producer,
    inbound_topic: String,
    dlq_topic: String,
    key: Option<Vec<u8>>,
    seen: Mutex<Seen>,
}

impl Webhook {
    pub fn new(kafka: &Kafka, config: &Config) -> Result<Self, String> {
        let key = config.secret("waha_webhook_hmac_key", &config.waha_webhook_hmac_key, &config.waha_webhook_hmac_key_file).map_err(|e| e.to_string())?;
        if key.is_none() {
            tracing::warn!("waha_webhook_hmac_key is not set: WhatsApp webhooks are accepted unsigned (set it in WAHA and arus for production)");
        }
        Ok(Webhook {
            producer: kafka.producer().map_err(|e| e.to_string())?,
            inbound_topic: config.topic(topics::WA_INBOUND),
            dlq_topic: config.topic(topics::DLQ),
            key: key.map(String::into_bytes),
            seen: Mutex::new(Seen { ids: HashSet::new(), order: VecDeque::new(), capacity: config.wa_dedup_capacity }),
        })
    }

    /// Whether deliveries must be signed.
    pub fn requires_signature(&self) -> bool {
        self.key.is_some()
    }

    /// Checks `signature` (hex) against the body, when a key is configured.
    pub fn verify(&self, body: &[u8], signature: Option<&str>, algorithm: Option<&str>) -> Result<(), WebhookError> {
        let Some(key) = &self.key else { return Ok(()) };
        if let Some(algorithm) = algorithm {
            if !algorithm.trim().eq_ignore_ascii_case("sha512") {
                return Err(WebhookError::Unauthorized(format!("X-Webhook-Hmac-Algorithm {algorithm:?} is not sha512")));
            }
        }
        let Some(signature) = signature else {
            return Err(WebhookError::Unauthorized("the X-Webhook-Hmac signature is missing".to_owned()));
        };
        let expected = unhex(signature.trim()).ok_or_else(|| WebhookError::Unauthorized("X-Webhook-Hmac is not hexadecimal".to_owned()))?;
        let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&expected).map_err(|_| WebhookError::Unauthorized("the X-Webhook-Hmac signature does not match the body".to_owned()))
    }

    /// Handles one delivery: verified, read, published or refused.
    pub async fn receive(&self, body: &[u8], signature: Option<&str>, algorithm: Option<&str>) -> Result<Verdict, WebhookError> {
        self.verify(body, signature, algorithm)?;
        let mut event: Event = match serde_json::from_slice::<serde_json::Value>(body) {
            Err(e) => return Err(self.refuse(body, DeadLetterKind::NotJson, format!("the body is not JSON: {e}")).await),
            Ok(value) => match serde_json::from_value(value) {
                Ok(event) => event,
                Err(e) => return Err(self.refuse(body, DeadLetterKind::WrongShape, format!("not a WAHA event: {e}")).await),
            },
        };
        match event.event.as_str() {
            "message" | "message.any" => {}
            known if KNOWN_IGNORED.contains(&known) || known.starts_with("group.") => {
                return Ok(Verdict::Ignored { reason: format!("{known} events are not used") });
            }
            unknown => {
                let letter = self.letter(body, DeadLetterKind::Invalid, format!("event type {unknown:?} is not one arus handles"));
                self.producer.send_json(&self.dlq_topic, "", &letter).await?;
                return Ok(Verdict::Unknown { event: unknown.to_owned() });
            }
        }
        let payload: Payload = match event.payload.take().map(serde_json::from_value) {
            Some(Ok(p)) => p,
            Some(Err(e)) => return Err(self.refuse(body, DeadLetterKind::WrongShape, format!("payload: {e}")).await),
            None => return Err(self.refuse(body, DeadLetterKind::WrongShape, "a message event without payload".to_owned()).await),
        };
        if payload.from_me {
            return Ok(Verdict::Ignored { reason: "messages arus sent itself are not read".to_owned() });
        }
        if payload.from.ends_with("@g.us") || payload.from.ends_with("@broadcast") || payload.from.ends_with("@newsletter") {
            return Ok(Verdict::Ignored { reason: "group, status and channel messages are not read".to_owned() });
        }
        if payload.id.trim().is_empty() || payload.from.trim().is_empty() {
            return Err(self.refuse(body, DeadLetterKind::Invalid, "payload.id and payload.from must not be empty".to_owned()).await);
        }
        if !self.seen.lock().expect("seen lock").insert(&payload.id) {
            return Ok(Verdict::Duplicate { message_id: payload.id });
        }
        let now = Utc::now();
        let sent_at = payload.timestamp.and_then(|t| seconds(t)).unwrap_or(now);
        let inbound = WaInbound {
            schema_version: SCHEMA_VERSION,
            message_id: payload.id.clone(),
            event_id: event.id,
            session: event.session.unwrap_or_default(),
            phone: phone_of(&payload.from),
            chat_id: payload.from,
            body: payload.body.unwrap_or_default(),
            has_media: payload.has_media.unwrap_or(false) || payload.media.is_some(),
            media: payload.media,
            sent_at,
            received_at: now,
        };
        if let Err(e) = self.producer.send_json(&self.inbound_topic, &inbound.chat_id, &inbound).await {
            self.seen.lock().expect("seen lock").forget(&payload.id);
            return Err(e.into());
        }
        Ok(Verdict::Accepted { message_id: payload.id })
    }

    /// A dead letter for `body`, and the 400 that tells the sender.
    async fn refuse(&self, body: &[u8], kind: DeadLetterKind, reason: String) -> WebhookError {
        let letter = self.letter(body, kind, reason.clone());
        if let Err(e) = self.producer.send_json(&self.dlq_topic, "", &letter).await {
            return WebhookError::Unavailable(e);
        }
        WebhookError::BadRequest(reason)
    }

    fn letter(&self, body: &[u8], kind: DeadLetterKind, reason: String) -> DeadLetter {
        let (payload, payload_encoding) = DeadLetter::encode_payload(body);
        let digest = crate::media::hex(&Sha256::digest(body));
        DeadLetter {
            schema_version: SCHEMA_VERSION,
            // The same body delivered again is the same dead letter.
            id: format!("{SOURCE}/{}", &digest[..32]),
            user_id: None,
            job: CONNECTOR.to_owned(),
            source_topic: SOURCE.to_owned(),
            source_partition: -1,
            source_offset: -1,
            source_key: None,
            error_kind: kind,
            error: reason,
            payload,
            payload_encoding,
            failed_at: Utc::now(),
        }
    }
}

/// WAHA's timestamps are seconds; some engines send milliseconds.
fn seconds(t: i64) -> Option<DateTime<Utc>> {
    let t = if t > 100_000_000_000 { t / 1000 } else { t };
    Utc.timestamp_opt(t, 0).single()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.is_empty() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The hex HMAC-SHA512 of `body` under `key`: what WAHA sends (for tests and tools).
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    crate::media::hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retried_ids_are_recognised_and_the_oldest_forgotten() {
        let mut seen = Seen { ids: HashSet::new(), order: VecDeque::new(), capacity: 2 };
        assert!(seen.insert("a") && seen.insert("b"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("c"), "a third id");
        assert!(seen.insert("a"), "a was forgotten to make room");
        seen.forget("a");
        assert!(seen.insert("a"));
    }

    #[test]
    fn signatures_are_hex_sha512_hmacs() {
        // RFC 4231 test case 2.
        let expected = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
        assert_eq!(sign(b"Jefe", b"what do ya want for nothing?"), expected);
        assert_eq!(unhex("0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(seconds(1667561485).unwrap().to_rfc3339(), "2022-11-04T11:31:25+00:00");
        assert_eq!(seconds(1741249702485).unwrap().timestamp(), 1741249702);
    }
}
