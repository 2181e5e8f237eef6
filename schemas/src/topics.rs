//! Kafka topic names. Every topic carries UTF-8 JSON values with a
//! `schema_version` field; the key is the tenant (`user_id`), so one tenant's
//! events stay ordered on one partition.
//!
//! Deployments that share a cluster can prefix every name with
//! `ARUS_TOPIC_PREFIX` (see [`crate::Config::topic`]).

/// Transactions as captured by a connector (`TxnRaw`).
pub const TXN_RAW: &str = "arus.txn.raw.v1";
/// Transactions as `enrich` writes them to `transactions`, categorised
/// (`Transaction`): what the advisor jobs watch. A crash may repeat one
/// (same `id`); consumers drop the repeat.
pub const TXN: &str = "arus.txn.v1";
/// Categories confirmed or corrected by a person.
pub const TXN_FEEDBACK: &str = "arus.txn.feedback.v1";
/// Uploaded photos and files, by object-store path.
pub const MEDIA: &str = "arus.media.v1";
/// WhatsApp messages received through WAHA.
pub const WA_INBOUND: &str = "arus.wa.inbound.v1";
/// WhatsApp messages to send through WAHA.
pub const WA_OUTBOUND: &str = "arus.wa.outbound.v1";
/// Lender data: customers, loan snapshots, bills, payments, tasks.
pub const LENDING: &str = "arus.lending.v1";
/// Budgets and goals set, changed or removed.
pub const PLAN: &str = "arus.plan.v1";
/// Alerts raised by jobs (`Alert`).
pub const ALERT: &str = "arus.alert.v1";
/// What could not be processed (`DeadLetter`).
pub const DLQ: &str = "arus.dlq.v1";
/// Financial accounts created, changed or removed (`AccountEvent`).
pub const ACCOUNT: &str = "arus.account.v1";
/// The audit trail (`AuditRecord`).
pub const AUDIT: &str = "arus.audit.v1";
/// Statement files to import (`ImportRequest`), by media-store path.
pub const IMPORT: &str = "arus.import.v1";

/// Every topic arus uses, in the order `arus topics create` creates them.
pub const ALL: &[&str] = &[
    TXN_RAW,
    TXN,
    TXN_FEEDBACK,
    MEDIA,
    WA_INBOUND,
    WA_OUTBOUND,
    LENDING,
    PLAN,
    ALERT,
    DLQ,
    ACCOUNT,
    AUDIT,
    IMPORT,
];

/// Topics kept forever (`retention.ms=-1`): jobs rebuild their state by
/// reading them from the start (the lender's book for tiering; the
/// categorised transactions, corrections and plans for the advisor jobs).
pub const KEPT: &[&str] = &[LENDING, TXN, TXN_FEEDBACK, PLAN];
