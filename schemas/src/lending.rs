//! A micro-lender's data (DOMAIN.md, "The lender's data"): the rows of its
//! five CSV files as events on [`crate::topics::LENDING`] (keyed by customer
//! number, so one customer's events stay in order), and the tiers arus
//! derives from repayment behaviour.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A partner's tier, from repayment behaviour. Ordered: Bronze < Silver < Gold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Bronze => "BRONZE",
            Tier::Silver => "SILVER",
            Tier::Gold => "GOLD",
        }
    }

    /// As people read it: `Gold`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Bronze => "Bronze",
            Tier::Silver => "Silver",
            Tier::Gold => "Gold",
        }
    }
}

/// A row of `customers.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Customer {
    pub customer_number: String,
    pub date_of_birth: Option<NaiveDate>,
    pub marital_status: Option<String>,
    pub religion: Option<String>,
    pub purpose: Option<String>,
}

/// A row of `loan_snapshots.csv`: a loan as of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LoanSnapshot {
    pub loan_id: String,
    pub customer_number: String,
    /// Whole rupiah.
    pub principal_amount: i64,
    /// Whole rupiah still owed; 0 when the loan is repaid.
    pub outstanding_amount: i64,
    /// Days past due.
    pub dpd: i64,
}

/// A row of `bills.csv`: one instalment, paid or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Bill {
    pub bill_id: String,
    pub loan_id: String,
    pub bill_scheduled_date: NaiveDate,
    /// `None` while unpaid.
    pub bill_paid_date: Option<NaiveDate>,
    /// Whole rupiah due.
    pub amount: i64,
    /// Whole rupiah paid so far.
    pub paid_amount: i64,
}

/// A row of `tasks.csv`: a field officer's visit or group meeting (*majelis*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    pub task_id: String,
    /// The field officer responsible.
    pub officer_id: Option<String>,
    /// The group (*majelis*) met.
    pub group_id: Option<String>,
    pub task_type: Option<String>,
    pub scheduled_date: Option<NaiveDate>,
    pub status: Option<String>,
}

/// A row of `task_participants.csv`. `task_id` may name a task the files do
/// not have (the row is kept and reported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskParticipant {
    pub id: String,
    pub task_id: String,
    /// E.g. `LOAN`.
    pub participant_type: String,
    pub participant_id: String,
    pub is_face_matched: Option<bool>,
    pub is_qr_matched: Option<bool>,
    /// Whole rupiah collected at the task.
    pub payment_amount: Option<i64>,
}

/// A payment on a bill as the lender's system reports it: the bill's paid
/// total after the payment and the day it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BillPayment {
    pub bill_id: String,
    pub loan_id: String,
    pub paid_date: NaiveDate,
    /// Whole rupiah paid on the bill so far, this payment included.
    pub paid_amount: i64,
}

impl BillPayment {
    /// Whether this payment fits the bill it names (`loan_id`, `amount`).
    pub fn check(&self, loan_id: &str, amount: i64) -> Result<(), String> {
        if self.loan_id != loan_id {
            return Err(format!("payment names loan {} but bill {} belongs to loan {loan_id}", self.loan_id, self.bill_id));
        }
        if self.paid_amount < 0 || self.paid_amount > amount {
            return Err(format!("paid_amount {} of bill {} is outside 0..={amount}", self.paid_amount, self.bill_id));
        }
        Ok(())
    }
}

/// What an event on [`crate::topics::LENDING`] carries: a row of one of the
/// five files, or a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum LendingRecord {
    Customer(Customer),
    Loan(LoanSnapshot),
    Bill(Bill),
    Payment(BillPayment),
    Task(Task),
    Participant(TaskParticipant),
}

impl LendingRecord {
    pub fn kind(&self) -> &'static str {
        match self {
            LendingRecord::Customer(_) => "customer",
            LendingRecord::Loan(_) => "loan",
            LendingRecord::Bill(_) => "bill",
            LendingRecord::Payment(_) => "payment",
            LendingRecord::Task(_) => "task",
            LendingRecord::Participant(_) => "participant",
        }
    }

    /// The primary key of the row (a payment's is its bill's).
    pub fn key(&self) -> &str {
        match self {
            LendingRecord::Customer(c) => &c.customer_number,
            LendingRecord::Loan(l) => &l.loan_id,
            LendingRecord::Bill(b) => &b.bill_id,
            LendingRecord::Payment(p) => &p.bill_id,
            LendingRecord::Task(t) => &t.task_id,
            LendingRecord::Participant(p) => &p.id,
        }
    }
}

/// 64-bit FNV-1a of `bytes`: the content hash in lending ids.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// An event on [`crate::topics::LENDING`], keyed by `customer_number` (a
/// task's by its id), so one customer's rows and payments stay in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LendingEvent {
    pub schema_version: u32,
    /// `{kind}:{key}:{hash of the row}`: the same row sent twice has the
    /// same id, a changed row a new one.
    pub id: String,
    /// The customer the row belongs to; `None` for tasks, and for
    /// participants whose loan the files do not have.
    pub customer_number: Option<String>,
    /// The business day the row describes: bills scheduled on or before it
    /// are due.
    pub as_of: NaiveDate,
    /// Where the row came from: `csv:{file}:{line}` or the lender system's name.
    pub source: String,
    /// More rows of this customer follow in the same load: the tiering job
    /// folds this one in and decides once the customer's last row is in
    /// (a real-time payment has `false`).
    #[serde(default)]
    pub more_follow: bool,
    /// A participant whose task the files do not have (kept and flagged).
    #[serde(default)]
    pub task_missing: bool,
    pub record: LendingRecord,
}

impl LendingEvent {
    /// The stable id of `record`: `{kind}:{key}:{FNV-1a of its JSON}`.
    pub fn id_of(record: &LendingRecord) -> String {
        let hash = fnv1a(&serde_json::to_vec(record).expect("lending records serialise"));
        format!("{}:{}:{hash:016x}", record.kind(), record.key())
    }

    /// The Kafka key: the customer, else the row's own key.
    pub fn partition_key(&self) -> &str {
        self.customer_number.as_deref().unwrap_or_else(|| self.record.key())
    }
}

/// A row of the `tiers` history: written when a customer's tier changes
/// (and for their first tier), with the figures and reasons behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct TierRecord {
    pub customer_number: String,
    /// 1 for the customer's first tier, then +1 for every change.
    pub seq: i64,
    /// The tier by the lender's rule (what alerts and history follow).
    pub tier: Tier,
    pub previous_tier: Option<Tier>,
    pub total_paid: i64,
    pub total_bill: i64,
    pub current_dpd: i64,
    pub on_time_count: i64,
    pub total_bills_count: i64,
    /// Stable reason codes of the rule, comma-separated.
    pub reasons: String,
    /// The k-means segment of these figures (see `arus lending segments`),
    /// and the tier the segment maps to; null without a trained model.
    pub segment: Option<i32>,
    pub segment_tier: Option<Tier>,
    /// Version of the segment model used.
    pub model_version: Option<i64>,
    /// The event that changed the tier.
    pub cause_id: String,
    pub as_of: NaiveDate,
    pub source_partition: i32,
    pub source_offset: i64,
    pub decided_at: chrono::DateTime<chrono::Utc>,
}

/// A row of the `customers` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRow {
    pub customer_number: String,
    pub date_of_birth: Option<NaiveDate>,
    pub marital_status: Option<String>,
    pub religion: Option<String>,
    pub purpose: Option<String>,
    pub event_id: String,
    pub source: String,
    pub as_of: NaiveDate,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A row of the `loans` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanRow {
    pub loan_id: String,
    pub customer_number: String,
    pub principal_amount: i64,
    pub outstanding_amount: i64,
    pub dpd: i64,
    pub event_id: String,
    pub source: String,
    pub as_of: NaiveDate,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A row of the `bills` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillRow {
    pub bill_id: String,
    pub loan_id: String,
    pub customer_number: Option<String>,
    pub bill_scheduled_date: NaiveDate,
    pub bill_paid_date: Option<NaiveDate>,
    pub amount: i64,
    pub paid_amount: i64,
    pub event_id: String,
    pub source: String,
    pub as_of: NaiveDate,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A row of the `tasks` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    pub task_id: String,
    pub officer_id: Option<String>,
    pub group_id: Option<String>,
    pub task_type: Option<String>,
    pub scheduled_date: Option<NaiveDate>,
    pub status: Option<String>,
    pub event_id: String,
    pub source: String,
    pub as_of: NaiveDate,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A row of the `task_participants` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantRow {
    pub id: String,
    pub task_id: String,
    pub participant_type: String,
    pub participant_id: String,
    pub is_face_matched: Option<bool>,
    pub is_qr_matched: Option<bool>,
    pub payment_amount: Option<i64>,
    pub customer_number: Option<String>,
    pub task_missing: bool,
    pub event_id: String,
    pub source: String,
    pub as_of: NaiveDate,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A row of the `dq_results` table: one violation found by a load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DqResult {
    pub run_id: String,
    pub file: String,
    /// 1-based line (the header is line 1); 0 for the file as a whole.
    pub line: i64,
    pub check: String,
    pub column: String,
    pub message: String,
    /// `rejected` (sent to the dead-letter topic) or `kept`.
    pub action: String,
    pub checked_at: chrono::DateTime<chrono::Utc>,
}
