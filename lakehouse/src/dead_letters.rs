//! Turning a message a job cannot use into a [`DeadLetter`] with a reason a
//! person can act on: not JSON, the wrong shape, an unsupported
//! `schema_version`, or values the job refuses.

use crate::kafka::{BorrowedMessage, Message};
use arus_schemas::events::{check_schema_version, DeadLetterKind};
use arus_schemas::{DeadLetter, SCHEMA_VERSION};
use serde::de::DeserializeOwned;

/// A dead letter for `msg`, refused by `job` for `reason`.
pub fn dead_letter(job: &str, msg: &BorrowedMessage<'_>, kind: DeadLetterKind, reason: String, user_id: Option<String>) -> DeadLetter {
    let payload = msg.payload().unwrap_or_default();
    let (payload, payload_encoding) = DeadLetter::encode_payload(payload);
    DeadLetter {
        schema_version: SCHEMA_VERSION,
        id: DeadLetter::id_for(msg.topic(), msg.partition(), msg.offset()),
        user_id,
        job: job.to_owned(),
        source_topic: msg.topic().to_owned(),
        source_partition: msg.partition(),
        source_offset: msg.offset(),
        source_key: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        error_kind: kind,
        error: reason,
        payload,
        payload_encoding,
        failed_at: chrono::Utc::now(),
    }
}

/// Decodes the JSON event in `msg`, or explains in a dead letter why it
/// cannot. The common case (a well-formed event) parses once; only a
/// failure parses again, to tell a wrong shape from bytes that are not JSON
/// and to recover the tenant for the dead letter.
pub fn decode<T: DeserializeOwned>(job: &str, msg: &BorrowedMessage<'_>) -> Result<T, Box<DeadLetter>> {
    let payload = msg.payload().unwrap_or_default();
    let error = match serde_json::from_slice::<T>(payload) {
        Ok(event) => return Ok(event),
        Err(e) => e,
    };
    let dead = |kind, reason, user| Box::new(dead_letter(job, msg, kind, reason, user));
    let value: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) if payload.is_empty() => return Err(dead(DeadLetterKind::NotJson, format!("empty message: {e}"), None)),
        Err(e) => return Err(dead(DeadLetterKind::NotJson, format!("not JSON: {e}"), None)),
    };
    let user_id = value.get("user_id").and_then(|u| u.as_str()).map(str::to_owned);
    if let Some(version) = value.get("schema_version").and_then(|v| v.as_u64()) {
        let version = u32::try_from(version).unwrap_or(u32::MAX);
        if let Err(e) = check_schema_version(version) {
            return Err(dead(DeadLetterKind::UnsupportedVersion, e.message, user_id));
        }
    }
    // Decode again, tracking the path, so the reason names the field.
    let reason = match serde_path_to_error::deserialize::<_, T>(&value) {
        Err(e) => match e.path().to_string() {
            path if path.is_empty() || path == "." => error.to_string(),
            path => format!("{path}: {}", e.inner()),
        },
        Ok(_) => error.to_string(),
    };
    Err(dead(DeadLetterKind::WrongShape, format!("not a valid event: {reason}"), user_id))
}
