//! Writes the audit trail: one [`AuditRecord`] per login (success and
//! failure), role or configuration change, account change and import,
//! published on `arus.audit.v1` and awaited until the broker acknowledges
//! it; the `audit` job materialises the topic into `audit_log`.

use arus_lakehouse::{Kafka, KafkaClientError, Producer};
use arus_schemas::{topics, AuditOutcome, AuditRecord, Config, SCHEMA_VERSION};

use crate::auth::Principal;
use crate::observe::RequestInfo;

/// Publishes audit records.
#[derive(Clone)]
pub struct Auditor {
    producer: Producer,
    topic: String,
}

/// One audited action, before it is stamped.
#[derive(Debug, Clone)]
pub struct Audit<'a> {
    pub action: &'a str,
    pub outcome: AuditOutcome,
    pub actor: Option<&'a Principal>,
    pub target: Option<&'a str>,
    pub detail: Option<String>,
}

impl Auditor {
    pub fn new(kafka: &Kafka, config: &Config) -> Result<Self, KafkaClientError> {
        Ok(Auditor { producer: kafka.producer()?, topic: config.topic(topics::AUDIT) })
    }

    /// Publishes `audit` for the request `info` and waits for the broker.
    /// A failure is logged and counted, not returned: the action itself
    /// has already happened.
    pub async fn record(&self, info: &RequestInfo, audit: Audit<'_>) {
        let record = AuditRecord {
            schema_version: SCHEMA_VERSION,
            id: uuid::Uuid::new_v4().to_string(),
            at: chrono::Utc::now(),
            actor_id: audit.actor.map(|p| p.user_id.clone()),
            actor_role: audit.actor.map(|p| p.role.as_str().to_owned()),
            action: audit.action.to_owned(),
            target: audit.target.map(str::to_owned),
            outcome: audit.outcome,
            remote_addr: info.remote.map(|a| a.ip().to_string()),
            request_id: Some(info.id.clone()),
            detail: audit.detail,
        };
        let key = record.actor_id.clone().or_else(|| record.target.clone()).unwrap_or_default();
        if let Err(e) = self.producer.send_json(&self.topic, &key, &record).await {
            metrics::counter!("arus_audit_failures_total").increment(1);
            tracing::error!(error = %e, action = audit.action, request_id = %info.id, "audit record could not be published");
        }
    }
}
