//! Event types carried on arus's topics. Each has `schema_version` and the
//! tenant (`user_id`); amounts are signed integer rupiah (money in is
//! positive, money out negative), never floats.

use chrono::{DateTime, FixedOffset, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SCHEMA_VERSION;

/// Namespace of the deterministic transaction ids (UUIDv5 of user and
/// idempotency key), so that the same captured transaction always gets the
/// same id, whichever connector or retry published it.
const TRANSACTION_ID_NAMESPACE: Uuid = Uuid::from_u128(0x8c1f_4d2e_6a5b_4f3c_9e21_7d0a_b6c4_e1f5);

/// Largest amount accepted, in rupiah (one quadrillion): anything larger is a
/// parsing accident, not a micro-business transaction.
pub const MAX_ABS_AMOUNT: i64 = 1_000_000_000_000_000;

/// Where a transaction was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxnSource {
    Manual,
    Csv,
    Xlsx,
    Ocr,
    Whatsapp,
}

impl TxnSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TxnSource::Manual => "manual",
            TxnSource::Csv => "csv",
            TxnSource::Xlsx => "xlsx",
            TxnSource::Ocr => "ocr",
            TxnSource::Whatsapp => "whatsapp",
        }
    }
}

/// A transaction as a connector captured it, before validation and
/// enrichment. Published on [`crate::topics::TXN_RAW`], keyed by `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TxnRaw {
    pub schema_version: u32,
    /// Tenant: the person or business the transaction belongs to.
    pub user_id: String,
    /// Chosen by the connector so that capturing the same transaction twice
    /// (a retried upload, a re-imported statement) yields one row.
    pub idempotency_key: String,
    pub source: TxnSource,
    #[serde(default)]
    pub account_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// Signed rupiah: positive is money in, negative is money out.
    pub amount: i64,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub counterparty: Option<String>,
    /// Object-store path of the photo or file this came from, if any.
    #[serde(default)]
    pub media_ref: Option<String>,
    /// A category the person already chose (a default category id); the
    /// row is then `user_confirmed` instead of being classified.
    #[serde(default)]
    pub category_id: Option<String>,
    /// The id of the transaction this one cancels (`hapus terakhir`): a
    /// reversal is a new row with the opposite amount, never an edit.
    #[serde(default)]
    pub reverses: Option<String>,
    pub captured_at: DateTime<Utc>,
}

fn default_currency() -> String {
    "IDR".to_owned()
}

/// One reason an event or request was refused, addressed to a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValidationError {
    pub field: String,
    /// Stable machine-readable code, e.g. `required`, `out_of_range`; the
    /// messages of every language are keyed by it ([`crate::i18n`]).
    pub code: String,
    /// The message in English (the language of logs and dead letters).
    pub message: String,
    /// The value a message refers to (a length limit, an allowed set),
    /// so that [`crate::i18n`] can say it in another language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

impl ValidationError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), code: code.to_owned(), message: message.into(), param: None }
    }

    /// Like [`ValidationError::new`], remembering `param` for translations.
    pub fn with_param(field: &str, code: &str, message: impl Into<String>, param: impl ToString) -> Self {
        Self { param: Some(param.to_string()), ..Self::new(field, code, message) }
    }

    /// `field` must be present and non-empty.
    pub fn required(field: &str) -> Self {
        Self::new(field, "required", format!("{field} must not be empty"))
    }
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Checks `schema_version` against what this build understands.
pub fn check_schema_version(version: u32) -> Result<(), ValidationError> {
    if version == 0 || version > SCHEMA_VERSION {
        return Err(ValidationError::new(
            "schema_version",
            "unsupported_version",
            format!("schema_version {version} is not supported (1..={SCHEMA_VERSION})"),
        ));
    }
    Ok(())
}

pub(crate) fn check_identifier(field: &str, value: &str, max_len: usize, errors: &mut Vec<ValidationError>) {
    if value.trim().is_empty() {
        errors.push(ValidationError::required(field));
    } else if value.chars().count() > max_len {
        errors.push(ValidationError::with_param(field, "too_long", format!("{field} is longer than {max_len} characters"), max_len));
    } else if value.chars().any(char::is_control) {
        errors.push(ValidationError::new(field, "control_characters", format!("{field} contains control characters")));
    }
}

impl TxnRaw {
    /// The id of the transaction this event becomes: a UUIDv5 of the tenant
    /// and the idempotency key.
    pub fn transaction_id(&self) -> String {
        transaction_uuid(&self.user_id, &self.idempotency_key).to_string()
    }

    /// Every reason this event cannot become a transaction; empty when valid.
    /// `now` bounds `occurred_at` (at most one day in the future, allowing for
    /// clocks and time zones).
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        if let Err(e) = check_schema_version(self.schema_version) {
            errors.push(e);
        }
        check_identifier("user_id", &self.user_id, 128, &mut errors);
        check_identifier("idempotency_key", &self.idempotency_key, 256, &mut errors);
        if let Some(account) = &self.account_id {
            check_identifier("account_id", account, 128, &mut errors);
        }
        if let Some(category) = &self.category_id {
            if crate::categories::by_id(category).is_none() {
                errors.push(ValidationError::new("category_id", "unknown_category", format!("{category:?} is not a category")));
            }
        }
        if let Some(reversed) = &self.reverses {
            check_identifier("reverses", reversed, 64, &mut errors);
        }
        if self.amount == 0 {
            errors.push(ValidationError::new("amount", "zero", "amount must not be zero"));
        } else if self.amount.unsigned_abs() > MAX_ABS_AMOUNT as u64 {
            errors.push(ValidationError::with_param(
                "amount",
                "too_large",
                format!("amount exceeds {MAX_ABS_AMOUNT} rupiah"),
                MAX_ABS_AMOUNT,
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(ValidationError::new("currency", "invalid_currency", "currency must be an ISO 4217 code such as IDR"));
        }
        if self.description.chars().count() > 1000 {
            errors.push(ValidationError::with_param("description", "too_long", "description is longer than 1000 characters", 1000));
        }
        let earliest = DateTime::parse_from_rfc3339("1970-01-01T00:00:00Z").map(|d| d.with_timezone(&Utc));
        if earliest.is_ok_and(|e| self.occurred_at < e) {
            errors.push(ValidationError::new("occurred_at", "before_1970", "occurred_at is before 1970"));
        } else if self.occurred_at > now + chrono::Duration::days(1) {
            errors.push(ValidationError::new("occurred_at", "in_future", "occurred_at is more than a day in the future"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// The deterministic id of the transaction captured by `user_id` under `idempotency_key`.
pub fn transaction_uuid(user_id: &str, idempotency_key: &str) -> Uuid {
    let name = format!("{user_id}\u{1f}{idempotency_key}");
    Uuid::new_v5(&TRANSACTION_ID_NAMESPACE, name.as_bytes())
}

/// [`transaction_uuid`] as the string stored in `transactions.id`.
pub fn transaction_id(user_id: &str, idempotency_key: &str) -> String {
    transaction_uuid(user_id, idempotency_key).to_string()
}

/// Western Indonesia Time (WIB, UTC+7, no daylight saving): the zone months
/// and days are counted in.
pub fn jakarta() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

/// Processing state of a transaction row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// Stored without a category (no classifier was available).
    PendingCategory,
    /// Categorised automatically (model or personal rule) with a confidence
    /// at or above the review threshold.
    AiPredicted,
    /// Categorised automatically below the review threshold: the person is
    /// asked to confirm.
    NeedsReview,
    /// Category confirmed or corrected by the person.
    UserConfirmed,
}

impl TransactionStatus {
    pub const ALL: [TransactionStatus; 4] =
        [TransactionStatus::PendingCategory, TransactionStatus::AiPredicted, TransactionStatus::NeedsReview, TransactionStatus::UserConfirmed];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::PendingCategory => "pending_category",
            TransactionStatus::AiPredicted => "ai_predicted",
            TransactionStatus::NeedsReview => "needs_review",
            TransactionStatus::UserConfirmed => "user_confirmed",
        }
    }
}

/// Who chose a transaction's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CategorySource {
    /// The global classifier.
    Model,
    /// The person's own rule, learnt from their corrections for this merchant.
    PersonalRule,
    /// The person, by confirming or correcting it.
    User,
}

impl CategorySource {
    pub const ALL: [CategorySource; 3] = [CategorySource::Model, CategorySource::PersonalRule, CategorySource::User];

    pub fn as_str(self) -> &'static str {
        match self {
            CategorySource::Model => "model",
            CategorySource::PersonalRule => "personal_rule",
            CategorySource::User => "user",
        }
    }
}

/// A person confirmed or corrected the category of a transaction.
/// Published on [`crate::topics::TXN_FEEDBACK`], keyed by `user_id`; the
/// enrich job marks the row `user_confirmed` and learns the person's rule,
/// and `arus ml train` learns from the confirmed rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CategoryFeedback {
    pub schema_version: u32,
    /// Unique per correction.
    pub id: String,
    /// The owner of the transaction.
    pub user_id: String,
    pub transaction_id: String,
    /// The transaction's partition (`YYYY-MM`, WIB), so the update touches one month.
    pub month: String,
    pub category_id: String,
    /// What the transaction says, for the personal rule (its merchant) and retraining.
    pub description: String,
    #[serde(default)]
    pub counterparty: Option<String>,
    pub amount: i64,
    /// What it was before, for measuring the classifier.
    #[serde(default)]
    pub previous_category_id: Option<String>,
    #[serde(default)]
    pub previous_source: Option<CategorySource>,
    /// Who made the change (the owner, or an officer or admin acting for them).
    pub actor_id: String,
    /// `api` or `whatsapp`.
    pub channel: String,
    pub at: DateTime<Utc>,
}

impl CategoryFeedback {
    /// Every reason this event cannot be applied; empty when valid.
    pub fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut errors = Vec::new();
        if let Err(e) = check_schema_version(self.schema_version) {
            errors.push(e);
        }
        check_identifier("user_id", &self.user_id, 128, &mut errors);
        check_identifier("transaction_id", &self.transaction_id, 64, &mut errors);
        if crate::categories::by_id(&self.category_id).is_none() {
            errors.push(ValidationError::new("category_id", "unknown_category", format!("{:?} is not a category", self.category_id)));
        }
        if self.month.len() != 7 || !self.month.is_char_boundary(4) || &self.month[4..5] != "-" {
            errors.push(ValidationError::new("month", "invalid_month", "month must be YYYY-MM"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A validated transaction: a row of the `transactions` Delta table
/// (partitioned by `month`, in WIB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Transaction {
    pub schema_version: i32,
    pub id: String,
    pub user_id: String,
    pub account_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// `YYYY-MM` of `occurred_at` in WIB; the table's partition column.
    pub month: String,
    /// Signed rupiah: positive is money in, negative is money out.
    pub amount: i64,
    pub currency: String,
    pub description: String,
    pub counterparty: Option<String>,
    pub source: TxnSource,
    pub category_id: Option<String>,
    /// How sure the category is, 0..=1: the classifier's calibrated top
    /// probability, a personal rule's agreement, or 1 when the person chose it.
    pub category_confidence: Option<f64>,
    pub status: TransactionStatus,
    pub idempotency_key: String,
    pub media_ref: Option<String>,
    pub captured_at: DateTime<Utc>,
    pub ingested_at: DateTime<Utc>,
    /// Kafka partition and offset of the `TxnRaw` this row came from.
    pub source_partition: Option<i32>,
    pub source_offset: Option<i64>,
    /// Who chose `category_id`.
    #[serde(default)]
    pub category_source: Option<CategorySource>,
    /// Version of the classifier that predicted it (0: the built-in starting model).
    #[serde(default)]
    pub model_version: Option<i64>,
    /// When the person confirmed or corrected the category.
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The transaction this row cancels, if it is a reversal.
    #[serde(default)]
    pub reverses: Option<String>,
}

impl Transaction {
    /// A new transaction from a validated raw event: uncategorised, unless
    /// the capturer chose its category.
    pub fn from_raw(raw: TxnRaw, ingested_at: DateTime<Utc>, partition: i32, offset: i64) -> Self {
        let id = raw.transaction_id();
        let month = raw.occurred_at.with_timezone(&jakarta()).format("%Y-%m").to_string();
        // A category the person chose when capturing it counts as confirmed.
        let chosen = raw.category_id.filter(|c| crate::categories::by_id(c).is_some());
        let confirmed = chosen.is_some();
        Transaction {
            schema_version: SCHEMA_VERSION as i32,
            id,
            user_id: raw.user_id,
            account_id: raw.account_id,
            occurred_at: raw.occurred_at,
            month,
            amount: raw.amount,
            currency: raw.currency,
            description: raw.description,
            counterparty: raw.counterparty,
            source: raw.source,
            category_confidence: confirmed.then_some(1.0),
            status: if confirmed { TransactionStatus::UserConfirmed } else { TransactionStatus::PendingCategory },
            category_id: chosen,
            idempotency_key: raw.idempotency_key,
            media_ref: raw.media_ref,
            captured_at: raw.captured_at,
            ingested_at,
            source_partition: Some(partition),
            source_offset: Some(offset),
            category_source: confirmed.then_some(CategorySource::User),
            model_version: None,
            confirmed_at: confirmed.then_some(raw.captured_at),
            reverses: raw.reverses,
        }
    }
}

/// What kind of thing an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Overspending,
    Anomaly,
    TierUp,
    TierDown,
    GoalReached,
    ForecastShortfall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Something a person should hear about. Published on
/// [`crate::topics::ALERT`], keyed by `user_id`; the notifier delivers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    pub schema_version: u32,
    /// Deterministic per (kind, subject, period) so replays do not repeat an alert.
    pub id: String,
    pub user_id: String,
    pub kind: AlertKind,
    pub severity: Severity,
    /// What the alert is about: a transaction, budget, goal or customer id.
    pub subject_id: Option<String>,
    pub title: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
    /// Figures behind the alert (amounts in rupiah, scores), for dashboards and bots.
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// Why a message became a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterKind {
    /// The bytes are not JSON (or not UTF-8).
    NotJson,
    /// JSON, but not the event's shape: a missing field or a wrong type.
    WrongShape,
    /// The event's shape, but its values are refused (see the reason).
    Invalid,
    /// `schema_version` this build does not understand.
    UnsupportedVersion,
}

impl DeadLetterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterKind::NotJson => "not_json",
            DeadLetterKind::WrongShape => "wrong_shape",
            DeadLetterKind::Invalid => "invalid",
            DeadLetterKind::UnsupportedVersion => "unsupported_version",
        }
    }
}

/// What could not be processed, with enough to find, understand and replay
/// it. Published on [`crate::topics::DLQ`] and materialised into the `dlq`
/// table. Also a row of that table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeadLetter {
    pub schema_version: u32,
    /// `topic/partition/offset` of the refused message, so a reprocessed
    /// message yields the same dead letter, not a second one.
    pub id: String,
    /// The tenant when it could be read from the message; `None` when the
    /// message is too broken to tell (for example, `user_id` is missing).
    pub user_id: Option<String>,
    /// The job or connector that refused the message.
    pub job: String,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pub source_key: Option<String>,
    pub error_kind: DeadLetterKind,
    pub error: String,
    /// The refused bytes: as text when they are UTF-8, else base64.
    pub payload: String,
    pub payload_encoding: PayloadEncoding,
    pub failed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayloadEncoding {
    Utf8,
    Base64,
}

impl PayloadEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadEncoding::Utf8 => "utf8",
            PayloadEncoding::Base64 => "base64",
        }
    }
}

impl DeadLetter {
    /// Stable id of a dead letter for a Kafka message.
    pub fn id_for(topic: &str, partition: i32, offset: i64) -> String {
        format!("{topic}/{partition}/{offset}")
    }

    /// Encodes refused bytes for [`DeadLetter::payload`].
    pub fn encode_payload(bytes: &[u8]) -> (String, PayloadEncoding) {
        use base64::Engine;
        match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), PayloadEncoding::Utf8),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(bytes), PayloadEncoding::Base64),
        }
    }
}

/// A dead letter published again to its source topic (`arus dlq replay`):
/// where the copy went and whether its payload was corrected first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DlqReplay {
    pub dead_letter_id: String,
    pub replayed_at: DateTime<Utc>,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub payload_changed: bool,
    pub note: Option<String>,
}

/// The bytes of a stored payload ([`DeadLetter::encode_payload`] reversed).
pub fn decode_payload(payload: &str, encoding: PayloadEncoding) -> Result<Vec<u8>, String> {
    use base64::Engine;
    match encoding {
        PayloadEncoding::Utf8 => Ok(payload.as_bytes().to_vec()),
        PayloadEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(payload.trim()).map_err(|e| format!("not base64: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> TxnRaw {
        TxnRaw {
            schema_version: 1,
            user_id: "u1".into(),
            idempotency_key: "k1".into(),
            source: TxnSource::Manual,
            account_id: None,
            occurred_at: "2026-11-20T18:30:00Z".parse().unwrap(),
            amount: -25_000,
            currency: "IDR".into(),
            description: "beli gas 3kg".into(),
            counterparty: None,
            media_ref: None,
            category_id: None,
            reverses: None,
            captured_at: "2026-11-20T18:31:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn valid_raw_passes_and_id_is_deterministic_per_user_and_key() {
        let r = raw();
        assert_eq!(r.validate(r.captured_at), Ok(()));
        assert_eq!(r.transaction_id(), transaction_id("u1", "k1"));
        assert_ne!(r.transaction_id(), transaction_id("u2", "k1"));
    }

    #[test]
    fn month_is_counted_in_jakarta_time() {
        // 18:30 UTC on the 30th of November is already December in WIB.
        let mut r = raw();
        r.occurred_at = "2026-11-30T18:30:00Z".parse().unwrap();
        let t = Transaction::from_raw(r, Utc::now(), 0, 0);
        assert_eq!(t.month, "2026-12");
    }

    #[test]
    fn every_problem_is_reported_by_field() {
        let mut r = raw();
        r.schema_version = 7;
        r.user_id = " ".into();
        r.amount = 0;
        r.currency = "rp".into();
        r.occurred_at = r.captured_at + chrono::Duration::days(3);
        let fields: Vec<_> = r.validate(r.captured_at).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["schema_version", "user_id", "amount", "currency", "occurred_at"]);
    }

    #[test]
    fn payload_is_text_when_utf8_and_base64_otherwise() {
        assert_eq!(DeadLetter::encode_payload(b"{\"a\":1}"), ("{\"a\":1}".into(), PayloadEncoding::Utf8));
        assert_eq!(DeadLetter::encode_payload(&[0xff, 0xfe, 0x00, 0x41]), ("//4AQQ==".into(), PayloadEncoding::Base64));
        for bytes in [&b""[..], b"M", b"Ma", b"Man", &[0xff, 0xfe, 0x00, 0x41]] {
            let (text, encoding) = DeadLetter::encode_payload(bytes);
            assert_eq!(decode_payload(&text, encoding).unwrap(), bytes, "{text}");
        }
        assert_eq!(decode_payload("TWE=", PayloadEncoding::Base64).unwrap(), b"Ma");
        assert!(decode_payload("T!E=", PayloadEncoding::Base64).is_err());
    }
}
