//! What the advisor jobs find: budget alerts raised, anomalies, forecasts
//! and insights — rows of `budget_alerts`, `anomalies`, `forecasts` and
//! `insights`. Amounts are whole rupiah.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A row of `budget_alerts`: a budget threshold crossed in a month; at
/// most one per (budget, month, threshold), which is what keeps a replay
/// or a restart from raising it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetAlertRow {
    /// The alert's id: `budget:{user}:{category}:{month}:{threshold}`.
    pub alert_id: String,
    pub user_id: String,
    pub category_id: String,
    /// `YYYY-MM` (WIB).
    pub month: String,
    /// Percent of the month's limit.
    pub threshold: i32,
    pub spent: i64,
    /// The month's limit: the budget plus what rolled over.
    pub limit: i64,
    /// Spending at the month's end at the pace so far.
    pub projected: i64,
    /// Percent of the month gone when it was crossed.
    pub elapsed_pct: i32,
    /// The transaction that crossed it.
    pub transaction_id: String,
    pub raised_at: DateTime<Utc>,
}

/// What kind of anomaly a row of `anomalies` is.
pub mod anomaly_kind {
    /// One transaction far from the person's usual amount in its category.
    pub const TRANSACTION: &str = "transaction";
    /// A day's spending far above the person's usual daily spending.
    pub const DAILY_SPEND: &str = "daily_spend";
    /// A category whose recent daily series stands apart from the person's
    /// other categories (augurs outlier detection).
    pub const CATEGORY_SERIES: &str = "category_series";
}

/// A row of `anomalies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnomalyRow {
    /// Also the alert's id: `anomaly:txn:{transaction}`, `anomaly:day:{user}:{date}`, …
    pub id: String,
    pub user_id: String,
    /// See [`anomaly_kind`].
    pub kind: String,
    pub transaction_id: Option<String>,
    pub category_id: Option<String>,
    /// The day it happened (WIB).
    pub day: NaiveDate,
    /// What was spent (the transaction, or the day's total), as a positive amount.
    pub amount: i64,
    /// The usual amount: the median of the history.
    pub baseline: i64,
    /// The usual spread around it (scaled MAD).
    pub spread: i64,
    /// How far out: robust z-score (or the detector's score).
    pub score: f64,
    /// How many past amounts the baseline was made of.
    pub history: i64,
    /// Why, in words (English, for analysts).
    pub reason: String,
    pub detected_at: DateTime<Utc>,
}

/// What a row of `forecasts` forecasts.
pub mod forecast_kind {
    /// A day's net cash flow (in minus out).
    pub const DAILY_NET: &str = "daily_net";
    /// Spending in one category to the end of the month.
    pub const MONTH_END_SPEND: &str = "month_end_spend";
    /// The balance (sum of every transaction so far plus the forecast) on a day.
    pub const BALANCE: &str = "balance";
}

/// A row of `forecasts`: one point of one forecast of one advisor run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ForecastRow {
    pub run_id: String,
    pub user_id: String,
    /// See [`forecast_kind`].
    pub kind: String,
    pub category_id: Option<String>,
    /// The last day of data the forecast is made from (WIB).
    pub as_of: NaiveDate,
    pub target_date: NaiveDate,
    pub point: i64,
    /// 80% prediction interval.
    pub lower: i64,
    pub upper: i64,
    /// Which model the holdout chose (`mstl+ets`, `ets`, `mean`).
    pub method: String,
    pub history_days: i64,
    pub made_at: DateTime<Utc>,
}

/// A row of `insights`: one finding of the rule engine for one person and
/// period, with its facts and its words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InsightRow {
    /// `{user}:{period}:{rule}[:{subject}]`: the same run again writes no second row.
    pub id: String,
    pub user_id: String,
    /// `2026-W47`, `2026-11` or a day `2026-11-22`.
    pub period: String,
    /// `daily`, `weekly` or `monthly`.
    pub cadence: String,
    pub rule: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The figures behind it, as a JSON object.
    pub facts: String,
    pub text_id: String,
    pub text_en: String,
    /// The language model's wording in the person's language, when an LLM
    /// is configured and its text mentions no number outside the facts.
    pub narration: Option<String>,
    pub narrator: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A row of `daily_totals`: what one person's transactions of one day
/// (WIB) and category add up to, kept by the `daily-totals` job as the
/// stream goes so dashboards never scan `transactions`. Reversals count
/// against what they cancel; a category correction moves its amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DailyTotalRow {
    pub user_id: String,
    /// `YYYY-MM` of `day`: the table's partition column.
    pub month: String,
    pub day: NaiveDate,
    pub category_id: String,
    /// Money in, whole rupiah (minus reversed money in).
    pub income: i64,
    /// Money out as a positive amount (minus reversed money out).
    pub expense: i64,
    /// Transactions counted (reversals included).
    pub count: i64,
    pub updated_at: DateTime<Utc>,
}

impl DailyTotalRow {
    /// The MERGE key: one row per person, day and category.
    pub const KEY: &'static [&'static str] = &["user_id", "month", "day", "category_id"];
    /// What a MERGE sets on a row that exists.
    pub const SET: &'static [&'static str] = &["income", "expense", "count", "updated_at"];
}

/// A row of `monthly_totals`: what one person's transactions of one month
/// (WIB) add up to, kept by the `monthly-totals` job so a year of cash
/// flow is one partition's row group instead of twelve months' files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonthlyTotalRow {
    pub user_id: String,
    /// `YYYY` of `month`: the table's partition column.
    pub year: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Money in, whole rupiah (minus reversed money in).
    pub income: i64,
    /// Money out as a positive amount (minus reversed money out).
    pub expense: i64,
    /// Transactions counted (reversals included).
    pub count: i64,
    pub updated_at: DateTime<Utc>,
}

impl MonthlyTotalRow {
    /// The MERGE key: one row per person and month.
    pub const KEY: &'static [&'static str] = &["user_id", "year", "month"];
    /// What a MERGE sets on a row that exists.
    pub const SET: &'static [&'static str] = &["income", "expense", "count", "updated_at"];
}
