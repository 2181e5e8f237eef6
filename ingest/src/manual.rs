//! Manual entry: a transaction typed by a person (API, CLI), validated and
//! published as a `TxnRaw` with source `manual`.

use arus_lakehouse::{Kafka, KafkaClientError, Producer};
use arus_schemas::{topics, Config, TxnRaw, TxnSource, ValidationError, SCHEMA_VERSION};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A transaction as a person enters it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualEntry {
    /// The tenant. Through the API it defaults to the caller; an officer or
    /// admin may name a person in their scope.
    #[serde(default)]
    pub user_id: String,
    /// Lets a client retry safely: the same key yields the same transaction.
    /// A fresh key is chosen when absent.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// When it happened; now when absent.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Signed rupiah: positive is money in, negative is money out.
    pub amount: i64,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub counterparty: Option<String>,
    /// The category, when the person chooses it (a category id such as
    /// `food_drink`); it stands as confirmed. The classifier chooses when absent.
    #[serde(default)]
    pub category_id: Option<String>,
}

impl ManualEntry {
    /// The raw event this entry becomes, or every reason it cannot.
    pub fn into_raw(self, now: DateTime<Utc>) -> Result<TxnRaw, Vec<ValidationError>> {
        let raw = TxnRaw {
            schema_version: SCHEMA_VERSION,
            user_id: self.user_id,
            idempotency_key: self.idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            source: TxnSource::Manual,
            account_id: self.account_id,
            occurred_at: self.occurred_at.unwrap_or(now),
            amount: self.amount,
            currency: self.currency.unwrap_or_else(|| "IDR".to_owned()),
            description: self.description,
            counterparty: self.counterparty,
            media_ref: None,
            category_id: self.category_id,
            reverses: None,
            captured_at: now,
        };
        raw.validate(now)?;
        Ok(raw)
    }
}

/// What the sender is told when an entry is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Accepted {
    /// The id the transaction will have in `transactions`.
    pub id: String,
    pub idempotency_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the entry is invalid")]
    Invalid(Vec<ValidationError>),
    #[error("could not publish: {0}")]
    Publish(#[from] KafkaClientError),
}

/// Publishes manual entries to `arus.txn.raw.v1`.
#[derive(Clone)]
pub struct ManualConnector {
    producer: Producer,
    topic: String,
}

impl ManualConnector {
    pub fn new(kafka: &Kafka, config: &Config) -> Result<Self, KafkaClientError> {
        Ok(ManualConnector { producer: kafka.producer()?, topic: config.topic(topics::TXN_RAW) })
    }

    /// Validates `entry` and publishes it, returning once the broker has
    /// acknowledged it (so an accepted entry is never lost).
    pub async fn submit(&self, entry: ManualEntry) -> Result<Accepted, SubmitError> {
        let raw = entry.into_raw(Utc::now()).map_err(SubmitError::Invalid)?;
        self.producer.send_json(&self.topic, &raw.user_id, &raw).await?;
        Ok(Accepted { id: raw.transaction_id(), idempotency_key: raw.idempotency_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_bad_entries_are_refused_with_reasons() {
        let now = Utc::now();
        let entry: ManualEntry = serde_json::from_str(r#"{"user_id":"u1","amount":-22000,"description":"gas 3kg"}"#).unwrap();
        let raw = entry.into_raw(now).unwrap();
        assert_eq!((raw.currency.as_str(), raw.occurred_at, raw.source), ("IDR", now, TxnSource::Manual));
        assert!(!raw.idempotency_key.is_empty());

        let entry: ManualEntry = serde_json::from_str(r#"{"user_id":"","amount":0}"#).unwrap();
        let fields: Vec<_> = entry.into_raw(now).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["user_id", "amount"]);
    }
}
