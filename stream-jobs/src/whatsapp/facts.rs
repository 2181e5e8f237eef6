//! The figures replies quote, read from `transactions` with DataFusion at
//! the latest committed version: a day's or period's money in and out,
//! the balance of everything recorded, where most money went, and the last
//! transaction (for `ubah kategori terakhir`, `hapus terakhir`).
//!
//! A transaction the router published a moment ago may not be in the table
//! yet (`enrich` commits every `batch_max_latency_ms`); the router passes
//! those in (`pending`) and they are counted unless the table has them.

use std::collections::{HashMap, HashSet};

use arus_lakehouse::{Lake, LakeError, LakeSession};
use arus_schemas::events::jakarta;
use arus_schemas::plans::{BudgetRow, GoalRow};
use arus_schemas::{categories, Lang};
use arus_ingest::whatsapp::intent::Period;
use arus_ingest::whatsapp::reply::Flow;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use datafusion::logical_expr::Expr;
use datafusion::prelude::{col, lit};
use datafusion::scalar::ScalarValue;
use serde::Deserialize;

/// A transaction published but perhaps not written yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub amount: i64,
    pub occurred_at: DateTime<Utc>,
    /// A reversal (`hapus terakhir`): it cancels, it does not add.
    pub reversal: bool,
}

/// The last transaction, as the corrections need it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Last {
    pub id: String,
    pub month: String,
    pub amount: i64,
    pub description: String,
    pub counterparty: Option<String>,
    pub category_id: Option<String>,
    pub category_source: Option<String>,
    pub account_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub captured_at: DateTime<Utc>,
    pub reverses: Option<String>,
}

#[derive(Deserialize)]
struct Amount {
    id: String,
    amount: i64,
    category_id: Option<String>,
    reverses: Option<String>,
}

const AMOUNT_COLUMNS: &[&str] = &["id", "amount", "category_id", "reverses"];

pub struct Facts {
    session: LakeSession,
}

fn ts(t: DateTime<Utc>) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into())))
}

fn month_of(t: DateTime<Utc>) -> String {
    t.with_timezone(&jakarta()).format("%Y-%m").to_string()
}

/// Midnight WIB of `day`, in UTC.
pub fn start_of(day: NaiveDate) -> DateTime<Utc> {
    jakarta().from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight")).single().expect("WIB has no gaps").with_timezone(&Utc)
}

/// The first and last day (WIB) of `period` as of `now`.
pub fn days_of(period: Period, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = now.with_timezone(&jakarta()).date_naive();
    match period {
        Period::Today => (today, today),
        Period::Yesterday => (today - Duration::days(1), today - Duration::days(1)),
        Period::Week => (today - Duration::days(i64::from(today.weekday().num_days_from_monday())), today),
        Period::Month => (today.with_day(1).expect("day 1 exists"), today),
    }
}

impl Facts {
    pub async fn open(lake: &Lake) -> Result<Self, LakeError> {
        Ok(Facts { session: LakeSession::open(lake, std::time::Duration::ZERO).await? })
    }

    async fn rows<T: for<'de> Deserialize<'de>>(&self, filter: Expr, columns: &[&str]) -> Result<Vec<T>, LakeError> {
        self.rows_of("transactions", filter, Some(columns)).await
    }

    async fn rows_of<T: for<'de> Deserialize<'de>>(&self, table: &'static str, filter: Expr, columns: Option<&[&str]>) -> Result<Vec<T>, LakeError> {
        let mut frame = self.session.context().table(table).await?.filter(filter)?;
        if let Some(columns) = columns {
            frame = frame.select_columns(columns)?;
        }
        let mut out = Vec::new();
        for batch in frame.collect().await? {
            let rows: Vec<T> = serde_arrow::from_record_batch(&batch).map_err(|e| LakeError::Rows { table, reason: e.to_string() })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// `user_id`'s active budgets.
    pub async fn budgets(&self, user_id: &str) -> Result<Vec<BudgetRow>, LakeError> {
        self.rows_of("budgets", col("user_id").eq(lit(user_id.to_owned())).and(col("active").eq(lit(true))), None).await
    }

    /// `user_id`'s active goals.
    pub async fn goals(&self, user_id: &str) -> Result<Vec<GoalRow>, LakeError> {
        self.rows_of("goals", col("user_id").eq(lit(user_id.to_owned())).and(col("active").eq(lit(true))), None).await
    }

    /// What `goal` has gathered: its owner's transactions from its start, as it counts them.
    pub async fn saved(&self, goal: &GoalRow) -> Result<i64, LakeError> {
        #[derive(Deserialize)]
        struct Row {
            amount: i64,
            category_id: Option<String>,
            account_id: Option<String>,
        }
        let from = start_of(goal.start);
        let filter = col("user_id").eq(lit(goal.user_id.clone())).and(col("month").gt_eq(lit(month_of(from)))).and(col("occurred_at").gt_eq(ts(from)));
        let rows: Vec<Row> = self.rows(filter, &["amount", "category_id", "account_id"]).await?;
        let counts = goal.counts();
        Ok(rows.iter().map(|r| arus_ml::budget::counted(&counts, r.amount, r.category_id.as_deref(), r.account_id.as_deref())).sum())
    }

    /// Money in and out of `user_id` from `from` (inclusive) to `to`
    /// (exclusive), with the spending by category, counting `pending`.
    pub async fn flow(&self, user_id: &str, from: DateTime<Utc>, to: DateTime<Utc>, pending: &[Pending]) -> Result<(Flow, HashMap<String, i64>), LakeError> {
        let filter = col("user_id")
            .eq(lit(user_id.to_owned()))
            .and(col("month").gt_eq(lit(month_of(from))))
            .and(col("month").lt_eq(lit(month_of(to))))
            .and(col("occurred_at").gt_eq(ts(from)))
            .and(col("occurred_at").lt(ts(to)));
        let rows: Vec<Amount> = self.rows(filter, AMOUNT_COLUMNS).await?;
        let mut flow = Flow::default();
        let mut spending: HashMap<String, i64> = HashMap::new();
        let mut seen = HashSet::new();
        for r in rows {
            let reversal = r.reverses.is_some();
            flow = flow.add(r.amount, reversal);
            // Money out, or the cancelling of money out, by category.
            let spent = match (reversal, r.amount < 0) {
                (false, true) | (true, false) => -r.amount,
                _ => 0,
            };
            if spent != 0 {
                *spending.entry(r.category_id.unwrap_or_else(|| "other".to_owned())).or_default() += spent;
            }
            seen.insert(r.id);
        }
        for p in pending.iter().filter(|p| p.occurred_at >= from && p.occurred_at < to && !seen.contains(&p.id)) {
            flow = flow.add(p.amount, p.reversal);
        }
        spending.retain(|_, spent| *spent > 0);
        Ok((flow, spending))
    }

    /// Today's money in and out (WIB).
    pub async fn today(&self, user_id: &str, now: DateTime<Utc>, pending: &[Pending]) -> Result<Flow, LakeError> {
        let today = now.with_timezone(&jakarta()).date_naive();
        Ok(self.flow(user_id, start_of(today), start_of(today + Duration::days(1)), pending).await?.0)
    }

    /// The sum of everything `user_id` recorded and how many transactions
    /// stand (a reversal takes one away), counting `pending`.
    pub async fn balance(&self, user_id: &str, pending: &[Pending]) -> Result<(i64, i64), LakeError> {
        let rows: Vec<Amount> = self.rows(col("user_id").eq(lit(user_id.to_owned())), AMOUNT_COLUMNS).await?;
        let seen: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let flow = rows.iter().fold(Flow::default(), |f, r| f.add(r.amount, r.reverses.is_some()));
        let flow = pending.iter().filter(|p| !seen.contains(p.id.as_str())).fold(flow, |f, p| f.add(p.amount, p.reversal));
        Ok((flow.net(), flow.count))
    }

    /// The last transaction of `user_id` that is neither a reversal nor
    /// reversed, among the last two months (WIB).
    pub async fn last(&self, user_id: &str, now: DateTime<Utc>) -> Result<Option<Last>, LakeError> {
        let from = month_of(now - Duration::days(62));
        let filter = col("user_id").eq(lit(user_id.to_owned())).and(col("month").gt_eq(lit(from)));
        let columns = ["id", "month", "amount", "description", "counterparty", "category_id", "category_source", "account_id", "occurred_at", "captured_at", "reverses"];
        let rows: Vec<Last> = self.rows(filter, &columns).await?;
        let reversed: HashSet<String> = rows.iter().filter_map(|r| r.reverses.clone()).collect();
        Ok(rows.into_iter().filter(|r| r.reverses.is_none() && !reversed.contains(&r.id)).max_by(|a, b| (a.captured_at, &a.id).cmp(&(b.captured_at, &b.id))))
    }

    /// The current tier of the lender's customer `customer_number`: the
    /// latest row of the `tiers` history, as people read it (`Gold`).
    pub async fn tier(&self, customer_number: &str) -> Result<Option<&'static str>, LakeError> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            tier: arus_schemas::lending::Tier,
        }
        let frame = self.session.context().table("tiers").await?.filter(col("customer_number").eq(lit(customer_number.to_owned())))?.select_columns(&["seq", "tier"])?;
        let mut latest: Option<Row> = None;
        for batch in frame.collect().await? {
            let rows: Vec<Row> = serde_arrow::from_record_batch(&batch).map_err(|e| LakeError::Rows { table: "tiers", reason: e.to_string() })?;
            for row in rows {
                if latest.as_ref().is_none_or(|l| l.seq < row.seq) {
                    latest = Some(row);
                }
            }
        }
        Ok(latest.map(|r| r.tier.name()))
    }

    /// Whether transaction `id` of `user_id` is in the table.
    pub async fn has(&self, user_id: &str, id: &str) -> Result<bool, LakeError> {
        let filter = col("user_id").eq(lit(user_id.to_owned())).and(col("id").eq(lit(id.to_owned())));
        let rows: Vec<Amount> = self.rows(filter, AMOUNT_COLUMNS).await?;
        Ok(!rows.is_empty())
    }
}

/// The `n` categories most money went to, by name in `lang`.
pub fn top_spending(spending: &HashMap<String, i64>, n: usize, lang: Lang) -> Vec<(String, i64)> {
    let mut list: Vec<(&String, &i64)> = spending.iter().collect();
    list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    list.into_iter()
        .take(n)
        .map(|(id, amount)| {
            let name = categories::by_id(id).map_or(id.as_str(), |c| if lang == Lang::Id { c.name_id } else { c.name_en });
            (name.to_owned(), *amount)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_counted_in_wib() {
        // Saturday 21 November 2026, 20:00 UTC = Sunday 22 November, 03:00 WIB.
        let now: DateTime<Utc> = "2026-11-21T20:00:00Z".parse().unwrap();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(days_of(Period::Today, now), (d(11, 22), d(11, 22)));
        assert_eq!(days_of(Period::Yesterday, now), (d(11, 21), d(11, 21)));
        assert_eq!(days_of(Period::Week, now), (d(11, 16), d(11, 22)));
        assert_eq!(days_of(Period::Month, now), (d(11, 1), d(11, 22)));
        assert_eq!(start_of(d(11, 22)).to_rfc3339(), "2026-11-21T17:00:00+00:00");
    }

    #[test]
    fn the_biggest_spending_comes_first_by_name() {
        let spending = HashMap::from([("raw_materials".to_owned(), 800_000), ("transport".to_owned(), 200_000), ("other".to_owned(), 5_000)]);
        assert_eq!(top_spending(&spending, 2, Lang::Id), vec![("Bahan Baku & Stok".to_owned(), 800_000), ("Transportasi".to_owned(), 200_000)]);
    }
}
