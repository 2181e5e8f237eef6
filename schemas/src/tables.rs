//! The Arrow schema of every Delta table, defined once. The lakehouse creates
//! tables from these definitions, jobs convert rows with them, and the
//! serving layer reads through them.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// A Delta table: its name under the lake root, Arrow schema and partition columns.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub schema: &'static LazyLock<SchemaRef>,
    pub partition_columns: &'static [&'static str],
    /// Columns `arus lake optimize` sorts each partition's rows by (Z-order),
    /// so a query for one value reads few files, row groups and pages.
    pub cluster_by: &'static [&'static str],
    pub description: &'static str,
}

impl TableDef {
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(self.schema)
    }
}

fn ts() -> DataType {
    // Delta Lake's `timestamp` type: microseconds, UTC.
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn f(name: &str, data_type: DataType, nullable: bool) -> Field {
    Field::new(name, data_type, nullable)
}

static TRANSACTIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("schema_version", DataType::Int32, false),
        f("id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("account_id", DataType::Utf8, true),
        f("occurred_at", ts(), false),
        f("month", DataType::Utf8, false),
        f("amount", DataType::Int64, false),
        f("currency", DataType::Utf8, false),
        f("description", DataType::Utf8, false),
        f("counterparty", DataType::Utf8, true),
        f("source", DataType::Utf8, false),
        f("category_id", DataType::Utf8, true),
        f("category_confidence", DataType::Float64, true),
        f("status", DataType::Utf8, false),
        f("idempotency_key", DataType::Utf8, false),
        f("media_ref", DataType::Utf8, true),
        f("captured_at", ts(), false),
        f("ingested_at", ts(), false),
        f("source_partition", DataType::Int32, true),
        f("source_offset", DataType::Int64, true),
        // Added with the classifier; last, so tables made before it gain
        // them as appended columns (see Lake::open_or_create).
        f("category_source", DataType::Utf8, true),
        f("model_version", DataType::Int64, true),
        f("confirmed_at", ts(), true),
        // Added with the WhatsApp router (`hapus terakhir`).
        f("reverses", DataType::Utf8, true),
    ]))
});

/// Validated transactions ([`crate::Transaction`]), partitioned by month (WIB).
pub static TRANSACTIONS: TableDef = TableDef {
    name: "transactions",
    schema: &TRANSACTIONS_SCHEMA,
    partition_columns: &["month"],
    cluster_by: &["user_id"],
    description: "validated transactions of every source, one row per idempotency key",
};

static DLQ_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("schema_version", DataType::Int32, false),
        f("id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, true),
        f("job", DataType::Utf8, false),
        f("source_topic", DataType::Utf8, false),
        f("source_partition", DataType::Int32, false),
        f("source_offset", DataType::Int64, false),
        f("source_key", DataType::Utf8, true),
        f("error_kind", DataType::Utf8, false),
        f("error", DataType::Utf8, false),
        f("payload", DataType::Utf8, false),
        f("payload_encoding", DataType::Utf8, false),
        f("failed_at", ts(), false),
    ]))
});

/// Dead letters ([`crate::DeadLetter`]) of every job and connector.
pub static DLQ: TableDef = TableDef {
    name: "dlq",
    schema: &DLQ_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "messages that could not be processed, with the reason and the raw payload",
};

static DLQ_REPLAYS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("dead_letter_id", DataType::Utf8, false),
        f("replayed_at", ts(), false),
        f("topic", DataType::Utf8, false),
        f("partition", DataType::Int32, false),
        f("offset", DataType::Int64, false),
        f("payload_changed", DataType::Boolean, false),
        f("note", DataType::Utf8, true),
    ]))
});

/// Dead letters published again by `arus dlq replay` ([`crate::events::DlqReplay`]).
pub static DLQ_REPLAYS: TableDef = TableDef {
    name: "dlq_replays",
    schema: &DLQ_REPLAYS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "dead letters published again to their source topic (arus dlq replay): where the copy went, whether its payload was corrected",
};

static USERS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("user_id", DataType::Utf8, false),
        f("revision", DataType::Int64, false),
        f("email", DataType::Utf8, true),
        f("phone", DataType::Utf8, true),
        f("display_name", DataType::Utf8, false),
        f("password_hash", DataType::Utf8, false),
        f("role", DataType::Utf8, false),
        f("officer_id", DataType::Utf8, true),
        f("disabled", DataType::Boolean, false),
        f("created_at", ts(), false),
        f("updated_at", ts(), false),
        f("updated_by", DataType::Utf8, true),
    ]))
});

/// People ([`crate::people::UserRecord`]): one row per revision, written by
/// the serving layer. Holds password hashes: not for analysts' SQL.
pub static USERS: TableDef = TableDef {
    name: "users",
    schema: &USERS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "people who sign in to arus, one row per revision (latest revision wins)",
};

static REFRESH_TOKENS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("token_hash", DataType::Utf8, false),
        f("family_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("event", DataType::Utf8, false),
        f("at", ts(), false),
        f("expires_at", ts(), true),
        f("reason", DataType::Utf8, true),
    ]))
});

/// Refresh tokens issued, used and revoked ([`crate::people::RefreshTokenRecord`]),
/// written by the serving layer.
pub static REFRESH_TOKENS: TableDef = TableDef {
    name: "refresh_tokens",
    schema: &REFRESH_TOKENS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "log of refresh tokens issued, used and revoked (hashes only)",
};

static ACCOUNTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("account_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("revision", DataType::Int64, false),
        f("name", DataType::Utf8, false),
        f("kind", DataType::Utf8, false),
        f("institution", DataType::Utf8, true),
        f("number_last4", DataType::Utf8, true),
        f("currency", DataType::Utf8, false),
        f("opening_balance", DataType::Int64, false),
        f("deleted", DataType::Boolean, false),
        f("created_at", ts(), false),
        f("updated_at", ts(), false),
        f("event_id", DataType::Utf8, false),
    ]))
});

/// Financial accounts ([`crate::accounts::Account`]): one row per revision.
pub static ACCOUNTS: TableDef = TableDef {
    name: "accounts",
    schema: &ACCOUNTS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "bank accounts, e-wallets and cash boxes, one row per revision (latest revision wins)",
};

static AUDIT_LOG_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("schema_version", DataType::Int32, false),
        f("id", DataType::Utf8, false),
        f("at", ts(), false),
        f("actor_id", DataType::Utf8, true),
        f("actor_role", DataType::Utf8, true),
        f("action", DataType::Utf8, false),
        f("target", DataType::Utf8, true),
        f("outcome", DataType::Utf8, false),
        f("remote_addr", DataType::Utf8, true),
        f("request_id", DataType::Utf8, true),
        f("detail", DataType::Utf8, true),
    ]))
});

/// The audit trail ([`crate::audit::AuditRecord`]).
pub static AUDIT_LOG: TableDef = TableDef {
    name: "audit_log",
    schema: &AUDIT_LOG_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "logins, imports, configuration and role changes: who, what, when, from where",
};

static IMPORT_JOBS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("schema_version", DataType::Int32, false),
        f("import_id", DataType::Utf8, false),
        f("revision", DataType::Int64, false),
        f("user_id", DataType::Utf8, false),
        f("account_id", DataType::Utf8, true),
        f("file_name", DataType::Utf8, false),
        f("media_path", DataType::Utf8, false),
        f("size_bytes", DataType::Int64, false),
        f("sha256", DataType::Utf8, false),
        f("bank", DataType::Utf8, false),
        f("format", DataType::Utf8, true),
        f("layout", DataType::Utf8, true),
        f("status", DataType::Utf8, false),
        f("rows_read", DataType::Int64, false),
        f("imported", DataType::Int64, false),
        f("duplicates", DataType::Int64, false),
        f("rejected", DataType::Int64, false),
        f("pending", DataType::Int64, false),
        f("rejected_rows", DataType::Utf8, true),
        f("error_code", DataType::Utf8, true),
        f("error", DataType::Utf8, true),
        f("requested_by", DataType::Utf8, true),
        f("requested_at", ts(), false),
        f("started_at", ts(), true),
        f("finished_at", ts(), true),
        f("updated_at", ts(), false),
        f("source_partition", DataType::Int32, true),
        f("source_offset", DataType::Int64, true),
    ]))
});

/// Statement imports ([`crate::imports::ImportJob`]): one row per revision.
pub static IMPORT_JOBS: TableDef = TableDef {
    name: "import_jobs",
    schema: &IMPORT_JOBS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "statement imports and their outcome, one row per revision (latest revision wins)",
};

static STATEMENT_MAPPINGS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("account_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("mapping", DataType::Utf8, false),
        f("import_id", DataType::Utf8, false),
        f("saved_at", ts(), false),
    ]))
});

/// Column mappings saved per account ([`crate::imports::StatementMappingRecord`]).
pub static STATEMENT_MAPPINGS: TableDef = TableDef {
    name: "statement_mappings",
    schema: &STATEMENT_MAPPINGS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "the statement column mapping of each account (latest saved_at wins)",
};

static MODELS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("kind", DataType::Utf8, false),
        f("version", DataType::Int64, false),
        f("artifact_path", DataType::Utf8, false),
        f("size_bytes", DataType::Int64, false),
        f("sha256", DataType::Utf8, false),
        f("labels", DataType::Utf8, false),
        f("corpus_rows", DataType::Int64, false),
        f("confirmed_rows", DataType::Int64, false),
        f("heldout_accuracy", DataType::Float64, true),
        f("heldout_macro_f1", DataType::Float64, true),
        f("metrics", DataType::Utf8, false),
        f("created_at", ts(), false),
        f("created_by", DataType::Utf8, true),
    ]))
});

/// Trained models ([`crate::models::ModelRecord`]): one row per version,
/// the artifact stored under the lake root.
pub static MODELS: TableDef = TableDef {
    name: "models",
    schema: &MODELS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "trained models, one row per version with its metrics and the path of its artifact (latest version wins)",
};

static MEDIA_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("schema_version", DataType::Int32, false),
        f("media_id", DataType::Utf8, false),
        f("revision", DataType::Int64, false),
        f("user_id", DataType::Utf8, false),
        f("account_id", DataType::Utf8, true),
        f("kind", DataType::Utf8, false),
        f("detected_kind", DataType::Utf8, true),
        f("status", DataType::Utf8, false),
        f("media_path", DataType::Utf8, false),
        f("file_name", DataType::Utf8, true),
        f("size_bytes", DataType::Int64, false),
        f("sha256", DataType::Utf8, false),
        f("source", DataType::Utf8, false),
        f("reply_to", DataType::Utf8, true),
        f("fields", DataType::Utf8, true),
        f("transactions", DataType::Utf8, true),
        f("review_reasons", DataType::Utf8, true),
        f("confidence", DataType::Float64, true),
        f("ocr_text", DataType::Utf8, true),
        f("engine", DataType::Utf8, true),
        f("ocr_ms", DataType::Int64, true),
        f("error_code", DataType::Utf8, true),
        f("error", DataType::Utf8, true),
        f("uploaded_at", ts(), false),
        f("updated_at", ts(), false),
        f("confirmed_by", DataType::Utf8, true),
        f("source_partition", DataType::Int32, true),
        f("source_offset", DataType::Int64, true),
    ]))
});

/// Receipt and cash-book photos ([`crate::media::MediaRecord`]): one row per revision.
pub static MEDIA: TableDef = TableDef {
    name: "media",
    schema: &MEDIA_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "receipt and cash-book photos: what OCR read, the transactions booked, one row per revision (latest revision wins)",
};

static WHATSAPP_LINKS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("phone", DataType::Utf8, false),
        f("revision", DataType::Int64, false),
        f("user_id", DataType::Utf8, false),
        f("customer_id", DataType::Utf8, true),
        f("active", DataType::Boolean, false),
        f("updated_by", DataType::Utf8, false),
        f("updated_at", ts(), false),
    ]))
});

/// WhatsApp numbers and whom they belong to ([`crate::whatsapp::WaLink`]): one row per revision.
pub static WHATSAPP_LINKS: TableDef = TableDef {
    name: "whatsapp_links",
    schema: &WHATSAPP_LINKS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "WhatsApp numbers linked to people (and their lender customer numbers), one row per revision (latest revision wins)",
};

static NOTIFICATIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("id", DataType::Utf8, false),
        f("chat_id", DataType::Utf8, true),
        f("user_id", DataType::Utf8, true),
        f("audience", DataType::Utf8, false),
        f("origin", DataType::Utf8, false),
        f("text", DataType::Utf8, false),
        f("status", DataType::Utf8, false),
        f("attempts", DataType::Int32, false),
        f("waha_message_id", DataType::Utf8, true),
        f("error", DataType::Utf8, true),
        f("source_topic", DataType::Utf8, false),
        f("source_partition", DataType::Int32, false),
        f("source_offset", DataType::Int64, false),
        f("created_at", ts(), false),
        f("finished_at", ts(), false),
    ]))
});

/// What the notifier sent through WhatsApp ([`crate::whatsapp::NotificationRecord`]).
pub static NOTIFICATIONS: TableDef = TableDef {
    name: "notifications",
    schema: &NOTIFICATIONS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "WhatsApp messages the notifier sent, failed to send or had nobody to send to; read on start so nothing is sent twice",
};

static WHATSAPP_MESSAGES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("message_id", DataType::Utf8, false),
        f("chat_id", DataType::Utf8, false),
        f("phone", DataType::Utf8, true),
        f("user_id", DataType::Utf8, true),
        f("intent", DataType::Utf8, false),
        f("lang", DataType::Utf8, false),
        f("body", DataType::Utf8, false),
        f("reply_id", DataType::Utf8, true),
        f("outcome", DataType::Utf8, false),
        f("error", DataType::Utf8, true),
        f("effect_id", DataType::Utf8, true),
        f("source_partition", DataType::Int32, false),
        f("source_offset", DataType::Int64, false),
        f("sent_at", ts(), false),
        f("handled_at", ts(), false),
        f("took_ms", DataType::Int64, false),
    ]))
});

/// WhatsApp messages the router handled ([`crate::whatsapp::WaMessageRecord`]).
pub static WHATSAPP_MESSAGES: TableDef = TableDef {
    name: "whatsapp_messages",
    schema: &WHATSAPP_MESSAGES_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "WhatsApp messages received and how the router answered them (the conversation log)",
};

fn lending_columns(mut fields: Vec<Field>) -> SchemaRef {
    fields.extend([
        f("event_id", DataType::Utf8, false),
        f("source", DataType::Utf8, false),
        f("as_of", DataType::Date32, false),
        f("updated_at", ts(), false),
    ]);
    Arc::new(Schema::new(fields))
}

static CUSTOMERS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    lending_columns(vec![
        f("customer_number", DataType::Utf8, false),
        f("date_of_birth", DataType::Date32, true),
        f("marital_status", DataType::Utf8, true),
        f("religion", DataType::Utf8, true),
        f("purpose", DataType::Utf8, true),
    ])
});

/// The lender's customers ([`crate::lending::CustomerRow`]), one row per customer number.
pub static CUSTOMERS: TableDef = TableDef {
    name: "customers",
    schema: &CUSTOMERS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["customer_number"],
    description: "the lender's customers (customers.csv), latest row per customer_number",
};

static LOANS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    lending_columns(vec![
        f("loan_id", DataType::Utf8, false),
        f("customer_number", DataType::Utf8, false),
        f("principal_amount", DataType::Int64, false),
        f("outstanding_amount", DataType::Int64, false),
        f("dpd", DataType::Int64, false),
    ])
});

/// Loan snapshots ([`crate::lending::LoanRow`]), latest per loan.
pub static LOANS: TableDef = TableDef {
    name: "loans",
    schema: &LOANS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["customer_number"],
    description: "loan snapshots (loan_snapshots.csv), latest row per loan_id",
};

static BILLS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    lending_columns(vec![
        f("bill_id", DataType::Utf8, false),
        f("loan_id", DataType::Utf8, false),
        f("customer_number", DataType::Utf8, true),
        f("bill_scheduled_date", DataType::Date32, false),
        f("bill_paid_date", DataType::Date32, true),
        f("amount", DataType::Int64, false),
        f("paid_amount", DataType::Int64, false),
    ])
});

/// Instalments ([`crate::lending::BillRow`]), latest per bill; payments update them.
pub static BILLS: TableDef = TableDef {
    name: "bills",
    schema: &BILLS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["customer_number"],
    description: "instalments (bills.csv and payments), latest row per bill_id",
};

static TASKS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    lending_columns(vec![
        f("task_id", DataType::Utf8, false),
        f("officer_id", DataType::Utf8, true),
        f("group_id", DataType::Utf8, true),
        f("task_type", DataType::Utf8, true),
        f("scheduled_date", DataType::Date32, true),
        f("status", DataType::Utf8, true),
    ])
});

/// Field officers' tasks ([`crate::lending::TaskRow`]).
pub static TASKS: TableDef = TableDef {
    name: "tasks",
    schema: &TASKS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "field officers' tasks and group meetings (tasks.csv), latest row per task_id",
};

static TASK_PARTICIPANTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    lending_columns(vec![
        f("id", DataType::Utf8, false),
        f("task_id", DataType::Utf8, false),
        f("participant_type", DataType::Utf8, false),
        f("participant_id", DataType::Utf8, false),
        f("is_face_matched", DataType::Boolean, true),
        f("is_qr_matched", DataType::Boolean, true),
        f("payment_amount", DataType::Int64, true),
        f("customer_number", DataType::Utf8, true),
        f("task_missing", DataType::Boolean, false),
    ])
});

/// Task participants ([`crate::lending::ParticipantRow`]); `task_missing` flags orphans.
pub static TASK_PARTICIPANTS: TableDef = TableDef {
    name: "task_participants",
    schema: &TASK_PARTICIPANTS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "who took part in each task (task_participants.csv); rows of unknown tasks kept with task_missing = true",
};

static TIERS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("customer_number", DataType::Utf8, false),
        f("seq", DataType::Int64, false),
        f("tier", DataType::Utf8, false),
        f("previous_tier", DataType::Utf8, true),
        f("total_paid", DataType::Int64, false),
        f("total_bill", DataType::Int64, false),
        f("current_dpd", DataType::Int64, false),
        f("on_time_count", DataType::Int64, false),
        f("total_bills_count", DataType::Int64, false),
        f("reasons", DataType::Utf8, false),
        f("segment", DataType::Int32, true),
        f("segment_tier", DataType::Utf8, true),
        f("model_version", DataType::Int64, true),
        f("cause_id", DataType::Utf8, false),
        f("as_of", DataType::Date32, false),
        f("source_partition", DataType::Int32, false),
        f("source_offset", DataType::Int64, false),
        f("decided_at", ts(), false),
    ]))
});

/// Every tier decision that changed a customer's tier ([`crate::lending::TierRecord`]).
pub static TIERS: TableDef = TableDef {
    name: "tiers",
    schema: &TIERS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["customer_number"],
    description: "history of customers' tiers: a row for the first tier and for every change, with the figures and reasons",
};

static DQ_RESULTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("run_id", DataType::Utf8, false),
        f("file", DataType::Utf8, false),
        f("line", DataType::Int64, false),
        f("check", DataType::Utf8, false),
        f("column", DataType::Utf8, false),
        f("message", DataType::Utf8, false),
        f("action", DataType::Utf8, false),
        f("checked_at", ts(), false),
    ]))
});

/// Quality-check violations of each lending load ([`crate::lending::DqResult`]).
pub static DQ_RESULTS: TableDef = TableDef {
    name: "dq_results",
    schema: &DQ_RESULTS_SCHEMA,
    partition_columns: &[],
    cluster_by: &[],
    description: "quality-check violations found by `arus lending load`, with file, line and whether the row was kept or rejected",
};

static BUDGETS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("budget_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("category_id", DataType::Utf8, false),
        f("amount", DataType::Int64, false),
        f("rollover", DataType::Boolean, false),
        f("from_month", DataType::Utf8, false),
        f("active", DataType::Boolean, false),
        f("event_id", DataType::Utf8, false),
        f("channel", DataType::Utf8, false),
        f("updated_at", ts(), false),
    ]))
});

/// People's monthly budgets per category ([`crate::plans::BudgetRow`]).
pub static BUDGETS: TableDef = TableDef {
    name: "budgets",
    schema: &BUDGETS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["user_id"],
    description: "monthly spending limits per person and category, latest setting (active = false once removed)",
};

static GOALS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("goal_key", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("goal_id", DataType::Utf8, false),
        f("name", DataType::Utf8, false),
        f("target", DataType::Int64, false),
        f("deadline", DataType::Date32, false),
        f("start", DataType::Date32, false),
        f("counts", DataType::Utf8, false),
        f("active", DataType::Boolean, false),
        f("event_id", DataType::Utf8, false),
        f("channel", DataType::Utf8, false),
        f("updated_at", ts(), false),
    ]))
});

/// People's savings goals ([`crate::plans::GoalRow`]).
pub static GOALS: TableDef = TableDef {
    name: "goals",
    schema: &GOALS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["user_id"],
    description: "savings goals: target, deadline and what counts toward them, latest setting (active = false once removed)",
};

static BUDGET_ALERTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("alert_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("category_id", DataType::Utf8, false),
        f("month", DataType::Utf8, false),
        f("threshold", DataType::Int32, false),
        f("spent", DataType::Int64, false),
        f("limit", DataType::Int64, false),
        f("projected", DataType::Int64, false),
        f("elapsed_pct", DataType::Int32, false),
        f("transaction_id", DataType::Utf8, false),
        f("raised_at", ts(), false),
    ]))
});

/// Budget thresholds crossed ([`crate::advice::BudgetAlertRow`]).
pub static BUDGET_ALERTS: TableDef = TableDef {
    name: "budget_alerts",
    schema: &BUDGET_ALERTS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["user_id"],
    description: "budget thresholds (80%, 100%, …) crossed, one row per budget, month and threshold",
};

static ANOMALIES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("kind", DataType::Utf8, false),
        f("transaction_id", DataType::Utf8, true),
        f("category_id", DataType::Utf8, true),
        f("day", DataType::Date32, false),
        f("amount", DataType::Int64, false),
        f("baseline", DataType::Int64, false),
        f("spread", DataType::Int64, false),
        f("score", DataType::Float64, false),
        f("history", DataType::Int64, false),
        f("reason", DataType::Utf8, false),
        f("detected_at", ts(), false),
    ]))
});

/// Unusual transactions, days and category series ([`crate::advice::AnomalyRow`]).
pub static ANOMALIES: TableDef = TableDef {
    name: "anomalies",
    schema: &ANOMALIES_SCHEMA,
    partition_columns: &[],
    cluster_by: &["user_id"],
    description: "spending far from a person's usual: single transactions, daily totals, category series; with score and reason",
};

static FORECASTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("run_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("kind", DataType::Utf8, false),
        f("category_id", DataType::Utf8, true),
        f("as_of", DataType::Date32, false),
        f("target_date", DataType::Date32, false),
        f("point", DataType::Int64, false),
        f("lower", DataType::Int64, false),
        f("upper", DataType::Int64, false),
        f("method", DataType::Utf8, false),
        f("history_days", DataType::Int64, false),
        f("made_at", ts(), false),
    ]))
});

/// Forecasts of the advisor runs ([`crate::advice::ForecastRow`]).
pub static FORECASTS: TableDef = TableDef {
    name: "forecasts",
    schema: &FORECASTS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["user_id"],
    description: "each advisor run's forecasts: daily net cash flow and balance for 30 days, month-end spending per category, with 80% intervals",
};

static INSIGHTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("period", DataType::Utf8, false),
        f("cadence", DataType::Utf8, false),
        f("rule", DataType::Utf8, false),
        f("severity", DataType::Utf8, false),
        f("facts", DataType::Utf8, false),
        f("text_id", DataType::Utf8, false),
        f("text_en", DataType::Utf8, false),
        f("narration", DataType::Utf8, true),
        f("narrator", DataType::Utf8, true),
        f("created_at", ts(), false),
    ]))
});

/// Findings of the insight rules ([`crate::advice::InsightRow`]).
pub static INSIGHTS: TableDef = TableDef {
    name: "insights",
    schema: &INSIGHTS_SCHEMA,
    partition_columns: &[],
    cluster_by: &["user_id"],
    description: "structured insights per person and period (rule, severity, facts) with Indonesian and English text",
};

static DAILY_TOTALS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("user_id", DataType::Utf8, false),
        f("month", DataType::Utf8, false),
        f("day", DataType::Date32, false),
        f("category_id", DataType::Utf8, false),
        f("income", DataType::Int64, false),
        f("expense", DataType::Int64, false),
        f("count", DataType::Int64, false),
        f("updated_at", ts(), false),
    ]))
});

/// Per person, day and category totals kept in the stream ([`crate::advice::DailyTotalRow`]).
pub static DAILY_TOTALS: TableDef = TableDef {
    name: "daily_totals",
    schema: &DAILY_TOTALS_SCHEMA,
    partition_columns: &["month"],
    cluster_by: &["user_id"],
    description: "money in and out per person, day (WIB) and category, kept by the daily-totals job as transactions and corrections arrive; what dashboards and reports read",
};

static MONTHLY_TOTALS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        f("user_id", DataType::Utf8, false),
        f("year", DataType::Utf8, false),
        f("month", DataType::Utf8, false),
        f("income", DataType::Int64, false),
        f("expense", DataType::Int64, false),
        f("count", DataType::Int64, false),
        f("updated_at", ts(), false),
    ]))
});

/// Per person and month totals kept in the stream ([`crate::advice::MonthlyTotalRow`]).
/// By year: a year of one person's months is one file's row group.
pub static MONTHLY_TOTALS: TableDef = TableDef {
    name: "monthly_totals",
    schema: &MONTHLY_TOTALS_SCHEMA,
    partition_columns: &["year"],
    cluster_by: &["user_id"],
    description: "money in and out per person and month (WIB), kept by the monthly-totals job; what month-by-month cash flow reads",
};

/// Every table the catalogue knows, in creation order.
pub static ALL: &[&TableDef] =
    &[&TRANSACTIONS, &DLQ, &USERS, &REFRESH_TOKENS, &ACCOUNTS, &AUDIT_LOG, &IMPORT_JOBS, &STATEMENT_MAPPINGS, &MODELS, &MEDIA, &WHATSAPP_LINKS, &WHATSAPP_MESSAGES, &NOTIFICATIONS,
      &CUSTOMERS, &LOANS, &BILLS, &TASKS, &TASK_PARTICIPANTS, &TIERS, &DQ_RESULTS, &BUDGETS, &GOALS, &BUDGET_ALERTS, &ANOMALIES, &FORECASTS, &INSIGHTS, &DAILY_TOTALS, &DLQ_REPLAYS, &MONTHLY_TOTALS];

/// The table named `name`, if the catalogue has it.
pub fn by_name(name: &str) -> Option<&'static TableDef> {
    ALL.iter().copied().find(|t| t.name == name)
}
