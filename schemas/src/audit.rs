//! The audit trail (brief §6): who did what, when and from where. Serving
//! publishes an [`AuditRecord`] on [`crate::topics::AUDIT`] for every login
//! (success and failure), import, configuration and role change; the
//! `audit` job writes them to the `audit_log` table.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Failure,
    /// Refused before it was tried (throttled, forbidden).
    Refused,
}

/// One audited action: an event on [`crate::topics::AUDIT`] and a row of `audit_log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditRecord {
    pub schema_version: u32,
    /// UUIDv4, unique per record.
    pub id: String,
    pub at: DateTime<Utc>,
    /// The person acting; `None` when unknown (a failed login names the
    /// account in `target` instead).
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    /// Dotted verb, e.g. `auth.login`, `user.role_changed`, `account.created`.
    pub action: String,
    /// What was acted on: a user id, an account id, the login name tried.
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    /// Client address as the server saw it.
    pub remote_addr: Option<String>,
    pub request_id: Option<String>,
    /// A short, non-personal description (never a password or token).
    pub detail: Option<String>,
}
