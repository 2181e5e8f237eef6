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
