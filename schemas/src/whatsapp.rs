//! WhatsApp through WAHA: the messages received (`arus.wa.inbound.v1`),
//! the messages to send (`arus.wa.outbound.v1`), which number belongs to
//! whom (`whatsapp_links`), and what the notifier sent (`notifications`).
//! Both topics are keyed by the chat id, so one chat's messages stay in order.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A file WAHA attached to a message (`payload.media`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WaMedia {
    /// Where WAHA serves the file (`{WAHA}/api/files/…`); fetched with `X-Api-Key`.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    /// WAHA's reason when it could not download the file itself.
    #[serde(default)]
    pub error: Option<String>,
}

/// A message a person sent to arus's WhatsApp number, as the webhook
/// received it. Published on [`crate::topics::WA_INBOUND`], keyed by `chat_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaInbound {
    pub schema_version: u32,
    /// WhatsApp's message id (`payload.id`): every effect of the message is
    /// keyed by it, so a retried delivery changes nothing.
    pub message_id: String,
    /// WAHA's event id.
    #[serde(default)]
    pub event_id: Option<String>,
    /// The WAHA session it came through (replies leave through the same one).
    pub session: String,
    /// The chat to answer (`628…@c.us`).
    pub chat_id: String,
    /// The sender's number (`628…`) when the chat is a person's, else `None`.
    #[serde(default)]
    pub phone: Option<String>,
    /// The text, or a photo's caption.
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub has_media: bool,
    #[serde(default)]
    pub media: Option<WaMedia>,
    /// When WhatsApp says it was sent.
    pub sent_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// Who an outbound message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The person the money belongs to (a *mitra*).
    Partner,
    /// Their field officer.
    Officer,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Partner => "partner",
            Audience::Officer => "officer",
        }
    }
}

/// A message to send. Published on [`crate::topics::WA_OUTBOUND`], keyed by
/// `chat_id`; the notifier sends each `id` once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WaOutbound {
    pub schema_version: u32,
    /// Deterministic per cause (`reply:{message_id}`, `media:{media_id}:read`,
    /// `alert:{alert_id}:{audience}`), so a replayed cause is not sent twice.
    pub id: String,
    /// The WAHA session to send through; empty means the configured one.
    #[serde(default)]
    pub session: String,
    pub chat_id: String,
    pub text: String,
    /// The message answered (WAHA's `reply_to`), if any.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The person it is about.
    #[serde(default)]
    pub user_id: Option<String>,
    pub audience: Audience,
    /// What caused it: `reply`, `ocr`, `alert`, `onboarding`.
    pub origin: String,
    pub created_at: DateTime<Utc>,
}

/// One revision of a WhatsApp number's link: a row of the append-only
/// `whatsapp_links` table (the highest `revision` of a `phone` holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaLink {
    /// `628…`, as [`crate::people::normalise_phone`] writes it.
    pub phone: String,
    pub revision: i64,
    /// The arus person who writes and asks through this number.
    pub user_id: String,
    /// Their customer number in the lender's book, if they borrow.
    pub customer_id: Option<String>,
    /// False once unlinked.
    pub active: bool,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// What became of one outbound message: a row of the `notifications` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// About to be handed to WAHA (written before each try).
    Sending,
    /// A try failed and WAHA certainly did not take it; another follows.
    Retrying,
    /// WAHA accepted it.
    Sent,
    /// It could not be sent (the reason is kept; a dead letter went to the DLQ).
    Failed,
    /// Nobody to send it to (an alert for a person without a WhatsApp number).
    Skipped,
    /// The notifier stopped while WAHA had it: it may or may not have gone
    /// out. Not sent again (never twice); a dead letter asks a person to check.
    Unknown,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Sending => "sending",
            NotificationStatus::Retrying => "retrying",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Failed => "failed",
            NotificationStatus::Skipped => "skipped",
            NotificationStatus::Unknown => "unknown",
        }
    }

    /// Nothing more will be tried.
    pub fn is_final(self) -> bool {
        !matches!(self, NotificationStatus::Sending | NotificationStatus::Retrying)
    }
}

/// A row of `notifications`: the notifier's memory of what it delivered,
/// read back on start so a redelivered message is never sent twice. One
/// row per step (`sending`, `retrying`, then a final status); the latest
/// row of an `id` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// The outbound message's id.
    pub id: String,
    pub chat_id: Option<String>,
    pub user_id: Option<String>,
    pub audience: String,
    pub origin: String,
    pub text: String,
    pub status: NotificationStatus,
    pub attempts: i32,
    /// WAHA's id of the message sent.
    pub waha_message_id: Option<String>,
    pub error: Option<String>,
    /// The message on `arus.wa.outbound.v1` or `arus.alert.v1` it came from.
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// A message the router handled: a row of `whatsapp_messages`, the
/// conversation log (what people ask, what arus answered) and where the
/// router resumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaMessageRecord {
    pub message_id: String,
    pub chat_id: String,
    pub phone: Option<String>,
    /// The person, when the number is linked.
    pub user_id: Option<String>,
    /// What it was read as: `record`, `balance`, `report`, `photo`, `confirm`, `onboarding`, `unclear`, …
    pub intent: String,
    /// `en` or `id`.
    pub lang: String,
    pub body: String,
    /// The id of the answer on `arus.wa.outbound.v1`.
    pub reply_id: Option<String>,
    /// `answered`, `dead_letter` (refused; the sender was told) or `failed` (arus could not; the sender was told).
    pub outcome: String,
    pub error: Option<String>,
    /// The transaction, feedback or photo it made, if any.
    pub effect_id: Option<String>,
    pub source_partition: i32,
    pub source_offset: i64,
    pub sent_at: DateTime<Utc>,
    pub handled_at: DateTime<Utc>,
    pub took_ms: i64,
}

/// The chat id of a WhatsApp number (`628…` → `628…@c.us`).
pub fn chat_id_of(phone: &str) -> String {
    format!("{phone}@c.us")
}

/// The number of a person's chat (`628…@c.us` → `628…`); `None` for groups
/// and anything that is not a number.
pub fn phone_of(chat_id: &str) -> Option<String> {
    let digits = chat_id.strip_suffix("@c.us").or_else(|| chat_id.strip_suffix("@s.whatsapp.net"))?;
    (!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chats_and_numbers() {
        assert_eq!(phone_of("6281234567890@c.us").as_deref(), Some("6281234567890"));
        assert_eq!(phone_of("6281234567890@s.whatsapp.net").as_deref(), Some("6281234567890"));
        assert_eq!(phone_of("120363041234567890@g.us"), None, "a group");
        assert_eq!(phone_of("abc@c.us"), None);
        assert_eq!(chat_id_of("6281234567890"), "6281234567890@c.us");
    }
}
