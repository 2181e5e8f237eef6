//! The shapes every arus crate agrees on: event types carried on Kafka topics,
//! topic names, the Arrow schema of every Delta table, and the one configuration
//! struct. Nothing here performs I/O except [`config::Config::load`].

pub mod accounts;
pub mod advice;
pub mod audit;
pub mod categories;
pub mod config;
pub mod events;
pub mod i18n;
pub mod imports;
pub mod json_schema;
pub mod lending;
pub mod media;
pub mod models;
pub mod money;
pub mod people;
pub mod plans;
pub mod tables;
pub mod topics;
pub mod whatsapp;

pub use accounts::{Account, AccountEvent, AccountFields, AccountKind, AccountOp};
pub use audit::{AuditOutcome, AuditRecord};
pub use config::Config;
pub use i18n::Lang;
pub use media::{MediaKind, MediaRecord, MediaStatus, MediaUpload};
pub use imports::{ImportJob, ImportRequest, ImportStatus, StatementMappingRecord};
pub use people::{Role, UserRecord};
pub use whatsapp::{WaInbound, WaLink, WaOutbound};
pub use events::{
    Alert, AlertKind, CategoryFeedback, CategorySource, DeadLetter, Severity, Transaction, TransactionStatus, TxnRaw,
    TxnSource, ValidationError,
};

/// Version of every event type defined in this crate. A consumer accepts
/// `1..=SCHEMA_VERSION` and dead-letters anything else.
pub const SCHEMA_VERSION: u32 = 1;
