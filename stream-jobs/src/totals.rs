//! `daily-totals`: the aggregate dashboards and reports read — money in
//! and out per person, day (WIB) and category in `daily_totals` — kept as
//! transactions (`arus.txn.v1`) and category corrections
//! (`arus.txn.feedback.v1`) arrive, so no request scans `transactions`.
//!
//! Every change is an upsert of the row's whole new value (a MERGE on
//! person, month, day and category), so writing it twice is harmless and
//! the table always equals what the messages up to its committed
//! positions add up to. Restart: the totals and the transactions counted
//! (needed to move one on a correction) are rebuilt by reading both topics
//! up to those positions ([`crate::replay`]); a transaction seen again is
//! a duplicate.

use std::collections::HashMap;

use arus_lakehouse::dead_letters::decode;
use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_schemas::advice::DailyTotalRow;
use arus_schemas::events::jakarta;
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, CategoryFeedback, Config, Transaction};
use chrono::{NaiveDate, Utc};
use deltalake::DeltaTable;

use crate::advice::overspending::{id_key, unsupported};
use crate::runner::{Job, JobError, Outcome};
use arus_lakehouse::UpdateSpec;

pub const NAME: &str = "daily-totals";

/// Person, day, category.
type Key = (String, NaiveDate, String);

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

pub struct DailyTotals {
    config: Config,
    totals: HashMap<Key, Sums>,
    /// Transactions counted: where, and what they added.
    counted: HashMap<u128, (Key, Sums)>,
    /// Corrections that arrived before their transaction.
    corrected_early: HashMap<u128, String>,
    txn_topic: String,
}

impl DailyTotals {
    pub fn new(config: &Config) -> Self {
        DailyTotals {
            config: config.clone(),
            totals: HashMap::new(),
            counted: HashMap::new(),
            corrected_early: HashMap::new(),
            txn_topic: config.topic(topics::TXN),
        }
    }

    fn row(&self, key: &Key) -> DailyTotalRow {
        let sums = self.totals.get(key).copied().unwrap_or_default();
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

    fn transaction(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<(), DailyTotalRow> {
        let t: Transaction = match decode(NAME, msg) {
            Ok(t) => t,
            Err(dead) => return Outcome::Dead(dead),
        };
        if let Some(dead) = unsupported(NAME, msg, i64::from(t.schema_version), &t.user_id) {
            return Outcome::Dead(dead);
        }
        let id = id_key(&t.id);
        if self.counted.contains_key(&id) {
            return Outcome::Duplicate;
        }
        let category = self.corrected_early.remove(&id).or_else(|| t.category_id.clone()).unwrap_or_else(|| "other".to_owned());
        let key = (t.user_id.clone(), day_of(&t), category);
        let sums = sums_of(&t);
        self.totals.entry(key.clone()).or_default().add(sums, 1);
        self.counted.insert(id, (key.clone(), sums));
        Outcome::Update(self.row(&key))
    }

    fn feedback(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<(), DailyTotalRow> {
        let fb: CategoryFeedback = match decode(NAME, msg) {
            Ok(fb) => fb,
            Err(dead) => return Outcome::Dead(dead),
        };
        let id = id_key(&fb.transaction_id);
        let Some((from, sums)) = self.counted.get(&id).cloned() else {
            self.corrected_early.insert(id, fb.category_id);
            return Outcome::Ignored;
        };
        // Only the owner's transaction moves.
        if from.0 != fb.user_id || from.2 == fb.category_id {
            return Outcome::Ignored;
        }
        let to = (from.0.clone(), from.1, fb.category_id);
        self.totals.entry(from.clone()).or_default().add(sums, -1);
        self.totals.entry(to.clone()).or_default().add(sums, 1);
        self.counted.insert(id, (to.clone(), sums));
        Outcome::Updates(vec![self.row(&from), self.row(&to)])
    }
}

impl Job for DailyTotals {
    type Row = ();
    type Update = DailyTotalRow;
    const NAME: &'static str = NAME;
    const SOURCES: &'static [&'static str] = &[topics::TXN, topics::TXN_FEEDBACK];

    fn table(&self) -> &'static TableDef {
        &tables::DAILY_TOTALS
    }

    fn update_spec(&self) -> Option<UpdateSpec> {
        Some(UpdateSpec { keys: DailyTotalRow::KEY, set: DailyTotalRow::SET, insert: true })
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.totals.clear();
        self.counted.clear();
        self.corrected_early.clear();
        let started = std::time::Instant::now();
        let config = self.config.clone();
        let messages = crate::replay::replay_committed(&config, NAME, table, Self::SOURCES, |msg| {
            let _ = self.process(msg);
        })
        .await?;
        tracing::info!(job = NAME, messages, keys = self.totals.len(), took_ms = started.elapsed().as_millis() as u64, "state rebuilt");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<(), DailyTotalRow> {
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
    fn the_day_is_the_day_in_jakarta() {
        // 18:30 UTC on 31 October is 01:30 on 1 November in WIB.
        assert_eq!(day_of(&txn(1, false)), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    }
}
