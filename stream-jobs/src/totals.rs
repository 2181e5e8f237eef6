//! The aggregates dashboards and reports read, kept as transactions
//! (`arus.txn.v1`) and category corrections (`arus.txn.feedback.v1`)
//! arrive, so no request scans `transactions`:
//! - `daily-totals`: money in and out per person, day (WIB) and category
//!   in `daily_totals`;
//! - `monthly-totals`: per person and month in `monthly_totals`
//!   (partitioned by year), so a year of cash flow is one file's row
//!   group rather than a row group in each of twelve month partitions.
//!   It has no category, so corrections do not concern it.
//!
//! Every change is an upsert of the row's whole new value (a MERGE on its
//! key), so writing it twice is harmless and the table always equals what
//! the messages up to its committed positions add up to. Restart: the
//! totals and the transactions counted (needed to move one on a
//! correction) are rebuilt by reading the sources up to those positions
//! ([`crate::replay`]); a transaction seen again is a duplicate.

use std::collections::HashMap;
use std::marker::PhantomData;

use arus_lakehouse::dead_letters::decode;
use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_schemas::advice::{DailyTotalRow, MonthlyTotalRow};
use arus_schemas::events::jakarta;
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, CategoryFeedback, Config, Transaction};
use chrono::{Datelike, NaiveDate, Utc};
use deltalake::DeltaTable;
use serde::Serialize;

use crate::advice::overspending::{id_key, unsupported};
use crate::runner::{Job, JobError, Outcome};
use arus_lakehouse::UpdateSpec;

/// Person, day (the first of the month for monthly totals), category
/// (empty for monthly totals).
pub type Key = (String, NaiveDate, String);

/// What a day's category holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub income: i64,
    pub expense: i64,
    pub count: i64,
}

impl Sums {
    fn add(&mut self, other: Sums, sign: i64) {
        self.income += sign * other.income;
        self.expense += sign * other.expense;
        self.count += sign * other.count;
    }
}

/// What one transaction adds: money in to income, money out to expense;
/// a reversal takes back from the side of what it cancels.
pub fn sums_of(t: &Transaction) -> Sums {
    let (income, expense) = match (t.reverses.is_some(), t.amount >= 0) {
        (false, true) => (t.amount, 0),
        (false, false) => (0, -t.amount),
        // Reversing money out: money comes back, spending falls.
        (true, true) => (0, -t.amount),
        // Reversing money in: income falls.
        (true, false) => (t.amount, 0),
    };
    Sums { income, expense, count: 1 }
}

/// The day (WIB) a transaction counts on.
pub fn day_of(t: &Transaction) -> NaiveDate {
    t.occurred_at.with_timezone(&jakarta()).date_naive()
}

/// What a totals table sums over: its job, table, key and rows.
pub trait Grain: Send + 'static {
    const NAME: &'static str;
    const SOURCES: &'static [&'static str];
    type Row: Serialize + Send;
    fn table() -> &'static TableDef;
    fn spec() -> UpdateSpec;
    /// The key a transaction of `user` on `day` in `category` counts under.
    fn key(user: &str, day: NaiveDate, category: &str) -> Key;
    fn row(key: &Key, sums: Sums) -> Self::Row;
}

/// Per person, day and category.
pub struct Daily;

impl Grain for Daily {
    const NAME: &'static str = "daily-totals";
    const SOURCES: &'static [&'static str] = &[topics::TXN, topics::TXN_FEEDBACK];
    type Row = DailyTotalRow;

    fn table() -> &'static TableDef {
        &tables::DAILY_TOTALS
    }

    fn spec() -> UpdateSpec {
        UpdateSpec { keys: DailyTotalRow::KEY, set: DailyTotalRow::SET, insert: true }
    }

    fn key(user: &str, day: NaiveDate, category: &str) -> Key {
        (user.to_owned(), day, category.to_owned())
    }

    fn row(key: &Key, sums: Sums) -> DailyTotalRow {
        DailyTotalRow {
            user_id: key.0.clone(),
            month: key.1.format("%Y-%m").to_string(),
            day: key.1,
            category_id: key.2.clone(),
            income: sums.income,
            expense: sums.expense,
            count: sums.count,
            updated_at: Utc::now(),
        }
    }
}

/// Per person and month.
pub struct Monthly;

impl Grain for Monthly {
    const NAME: &'static str = "monthly-totals";
    const SOURCES: &'static [&'static str] = &[topics::TXN];
    type Row = MonthlyTotalRow;

    fn table() -> &'static TableDef {
        &tables::MONTHLY_TOTALS
    }

    fn spec() -> UpdateSpec {
        UpdateSpec { keys: MonthlyTotalRow::KEY, set: MonthlyTotalRow::SET, insert: true }
    }

    fn key(user: &str, day: NaiveDate, _category: &str) -> Key {
        (user.to_owned(), day.with_day(1).expect("every month has a first"), String::new())
    }

    fn row(key: &Key, sums: Sums) -> MonthlyTotalRow {
        MonthlyTotalRow {
            user_id: key.0.clone(),
            year: key.1.format("%Y").to_string(),
            month: key.1.format("%Y-%m").to_string(),
            income: sums.income,
            expense: sums.expense,
            count: sums.count,
            updated_at: Utc::now(),
        }
    }
}

/// The job keeping `G`'s table.
pub struct Totals<G: Grain> {
    config: Config,
    totals: HashMap<Key, Sums>,
    /// Transactions counted: where, and what they added.
    counted: HashMap<u128, (Key, Sums)>,
    /// Corrections that arrived before their transaction.
    corrected_early: HashMap<u128, String>,
    txn_topic: String,
    grain: PhantomData<G>,
}

pub type DailyTotals = Totals<Daily>;
pub type MonthlyTotals = Totals<Monthly>;

impl<G: Grain> Totals<G> {
    pub fn new(config: &Config) -> Self {
        Totals {
            config: config.clone(),
            totals: HashMap::new(),
            counted: HashMap::new(),
            corrected_early: HashMap::new(),
            txn_topic: config.topic(topics::TXN),
            grain: PhantomData,
        }
    }

    fn row(&self, key: &Key) -> G::Row {
        G::row(key, self.totals.get(key).copied().unwrap_or_default())
    }

    fn transaction(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<(), G::Row> {
        let t: Transaction = match decode(G::NAME, msg) {
            Ok(t) => t,
            Err(dead) => return Outcome::Dead(dead),
        };
        if let Some(dead) = unsupported(G::NAME, msg, i64::from(t.schema_version), &t.user_id) {
            return Outcome::Dead(dead);
        }
        let id = id_key(&t.id);
        if self.counted.contains_key(&id) {
            return Outcome::Duplicate;
        }
        let category = self.corrected_early.remove(&id).or_else(|| t.category_id.clone()).unwrap_or_else(|| "other".to_owned());
        let key = G::key(&t.user_id, day_of(&t), &category);
        let sums = sums_of(&t);
        self.totals.entry(key.clone()).or_default().add(sums, 1);
        self.counted.insert(id, (key.clone(), sums));
        Outcome::Update(self.row(&key))
    }

    fn feedback(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<(), G::Row> {
        let fb: CategoryFeedback = match decode(G::NAME, msg) {
            Ok(fb) => fb,
            Err(dead) => return Outcome::Dead(dead),
        };
        let id = id_key(&fb.transaction_id);
        let Some((from, sums)) = self.counted.get(&id).cloned() else {
            self.corrected_early.insert(id, fb.category_id);
            return Outcome::Ignored;
        };
        let to = G::key(&from.0, from.1, &fb.category_id);
        // Only the owner's transaction moves.
        if from.0 != fb.user_id || from == to {
            return Outcome::Ignored;
        }
        self.totals.entry(from.clone()).or_default().add(sums, -1);
        self.totals.entry(to.clone()).or_default().add(sums, 1);
        self.counted.insert(id, (to.clone(), sums));
        Outcome::Updates(vec![self.row(&from), self.row(&to)])
    }
}

impl<G: Grain> Job for Totals<G> {
    type Row = ();
    type Update = G::Row;
    const NAME: &'static str = G::NAME;
    const SOURCES: &'static [&'static str] = G::SOURCES;

    fn table(&self) -> &'static TableDef {
        G::table()
    }

    fn update_spec(&self) -> Option<UpdateSpec> {
        Some(G::spec())
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.totals.clear();
        self.counted.clear();
        self.corrected_early.clear();
        let started = std::time::Instant::now();
        let config = self.config.clone();
        let messages = crate::replay::replay_committed(&config, G::NAME, table, G::SOURCES, |msg| {
            let _ = self.process(msg);
        })
        .await?;
        tracing::info!(job = G::NAME, messages, keys = self.totals.len(), took_ms = started.elapsed().as_millis() as u64, "state rebuilt");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<(), G::Row> {
        if msg.topic() == self.txn_topic {
            self.transaction(msg)
        } else {
            self.feedback(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(amount: i64, reverses: bool) -> Transaction {
        let mut t: Transaction = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "id": "t1", "user_id": "u", "account_id": null,
            "occurred_at": "2026-10-31T18:30:00Z", "month": "2026-11", "amount": amount, "currency": "IDR",
            "description": "x", "counterparty": null, "source": "manual", "category_id": "food_drink",
            "category_confidence": null, "status": "ai_predicted", "idempotency_key": "k", "media_ref": null,
            "captured_at": "2026-10-31T18:30:00Z", "ingested_at": "2026-10-31T18:30:00Z",
            "source_partition": null, "source_offset": null
        }))
        .expect("a transaction");
        t.reverses = reverses.then(|| "t0".to_owned());
        t
    }

    #[test]
    fn money_in_and_out_and_reversals_land_on_their_side() {
        assert_eq!(sums_of(&txn(300_000, false)), Sums { income: 300_000, expense: 0, count: 1 });
        assert_eq!(sums_of(&txn(-45_000, false)), Sums { income: 0, expense: 45_000, count: 1 });
        // A refund of spending lowers spending; a reversed sale lowers income.
        assert_eq!(sums_of(&txn(45_000, true)), Sums { income: 0, expense: -45_000, count: 1 });
        assert_eq!(sums_of(&txn(-300_000, true)), Sums { income: -300_000, expense: 0, count: 1 });
    }

    #[test]
    fn monthly_keys_are_the_month_of_the_day_in_jakarta_without_category() {
        let t = txn(1, false);
        let key = Monthly::key(&t.user_id, day_of(&t), "food_drink");
        assert_eq!(key, ("u".to_owned(), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), String::new()));
        // A correction keeps a transaction in its month: nothing moves.
        assert_eq!(Monthly::key(&key.0, key.1, "transport"), key);
        let row = Monthly::row(&key, Sums { income: 5, expense: 7, count: 2 });
        assert_eq!((row.year.as_str(), row.month.as_str(), row.income, row.expense, row.count), ("2026", "2026-11", 5, 7, 2));
        assert_ne!(Daily::key(&key.0, day_of(&t), "transport"), Daily::key(&key.0, day_of(&t), "food_drink"));
    }

    #[test]
    fn the_day_is_the_day_in_jakarta() {
        // 18:30 UTC on 31 October is 01:30 on 1 November in WIB.
        assert_eq!(day_of(&txn(1, false)), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    }
}
