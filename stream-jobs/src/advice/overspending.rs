//! `overspending`: spending against budgets, in the stream. It follows
//! categorised transactions (`arus.txn.v1`), corrections
//! (`arus.txn.feedback.v1`, which move an amount between categories) and
//! plans (`arus.plan.v1`), and keeps per person, category and month what
//! was spent. When this month's spending in a budgeted category reaches a
//! threshold (`ARUS_BUDGET_ALERT_THRESHOLDS`, 80% and 100%) of the month's
//! limit (with rollover), it writes a `budget_alerts` row and sends an
//! `overspending` alert with the pace: what the month ends at if spending
//! goes on as in the part of the month gone.
//!
//! Once per budget, month and threshold: the row's id is the alert's id
//! (`budget:{user}:{category}:{month}:{threshold}`), the ids already in
//! `budget_alerts` are never raised again, and crossing several thresholds
//! at once raises the highest only. Restart and replay: the spending is
//! rebuilt by reading the three topics up to the positions the table last
//! committed ([`crate::replay`]), without raising anything; the next
//! transaction checks against what is in the table.

use std::collections::{BTreeMap, HashMap, HashSet};

use arus_lakehouse::dead_letters::{dead_letter, decode};
use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::query::for_each_string;
use arus_ml::budget;
use arus_schemas::advice::BudgetAlertRow;
use arus_schemas::events::{check_schema_version, jakarta, DeadLetterKind};
use arus_schemas::plans::{Budget, PlanChange, PlanEvent};
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{categories, topics, Alert, AlertKind, CategoryFeedback, Config, Severity, Transaction, SCHEMA_VERSION};
use chrono::{DateTime, Utc};
use deltalake::DeltaTable;

use crate::runner::{Job, JobError, Outcome};

pub const NAME: &str = "overspending";

type Key = (String, String);

pub struct Overspending {
    config: Config,
    thresholds: Vec<u32>,
    budgets: HashMap<Key, Budget>,
    /// Spending per (person, category) per month.
    spent: HashMap<Key, BTreeMap<String, i64>>,
    /// Transactions counted: their category and the spending they added.
    counted: HashMap<u128, (String, i64)>,
    /// Corrections that arrived before their transaction (the topics are
    /// read side by side): the category it is to be counted in.
    corrected_early: HashMap<u128, String>,
    /// Alert ids already raised (from the table, and since).
    raised: HashSet<String>,
    txn_topic: String,
    feedback_topic: String,
    replaying: bool,
    emitted: Vec<(&'static str, String, Vec<u8>)>,
}

/// What a transaction adds to its category's spending: money out, or
/// minus the money out a reversal cancels; nothing for money in.
pub fn spending_of(t: &Transaction) -> i64 {
    match (t.reverses.is_some(), t.amount < 0) {
        (false, true) => -t.amount,
        (true, false) => -t.amount,
        _ => 0,
    }
}

pub(crate) fn id_key(id: &str) -> u128 {
    uuid::Uuid::parse_str(id).map_or_else(|_| u128::from(arus_schemas::lending::fnv1a(id.as_bytes())), |u| u.as_u128())
}

fn month_now(now: DateTime<Utc>) -> String {
    now.with_timezone(&jakarta()).format("%Y-%m").to_string()
}

impl Overspending {
    pub fn new(config: &Config) -> Result<Self, JobError> {
        let thresholds = config.budget_thresholds().map_err(|reason| JobError::State { job: NAME, reason })?;
        Ok(Overspending {
            config: config.clone(),
            thresholds,
            budgets: HashMap::new(),
            spent: HashMap::new(),
            counted: HashMap::new(),
            corrected_early: HashMap::new(),
            raised: HashSet::new(),
            txn_topic: config.topic(topics::TXN),
            feedback_topic: config.topic(topics::TXN_FEEDBACK),
            replaying: false,
            emitted: Vec::new(),
        })
    }

    fn alert_id(&self, key: &Key, month: &str, threshold: u32) -> String {
        format!("budget:{}:{}:{month}:{threshold}", key.0, key.1)
    }

    /// The highest threshold this month's spending reached and not yet
    /// raised, as a row and an alert; the lower ones count as raised too.
    fn check(&mut self, key: &Key, cause: &str, now: DateTime<Utc>) -> Option<BudgetAlertRow> {
        if self.replaying {
            return None;
        }
        let month = month_now(now);
        let b = self.budgets.get(key)?;
        if month < b.from_month {
            return None;
        }
        let empty = BTreeMap::new();
        let by_month = self.spent.get(key).unwrap_or(&empty);
        let limit = budget::month_limit(b.amount, b.rollover, &b.from_month, by_month, &month);
        let spent = by_month.get(&month).copied().unwrap_or(0);
        let crossed = budget::crossed(spent, limit.max(0), &self.thresholds);
        let top = *crossed.iter().rev().find(|t| !self.raised.contains(&self.alert_id(key, &month, **t)))?;
        for t in crossed.iter().filter(|t| **t <= top) {
            self.raised.insert(self.alert_id(key, &month, *t));
        }
        let elapsed = budget::elapsed(&month, now);
        let row = BudgetAlertRow {
            alert_id: self.alert_id(key, &month, top),
            user_id: key.0.clone(),
            category_id: key.1.clone(),
            month,
            threshold: top as i32,
            spent,
            limit,
            projected: budget::projected(spent, elapsed),
            elapsed_pct: (elapsed * 100.0).round() as i32,
            transaction_id: cause.to_owned(),
            raised_at: now,
        };
        let alert = budget_alert(&row);
        self.emitted.push((topics::ALERT, alert.user_id.clone(), serde_json::to_vec(&alert).expect("alerts serialise")));
        Some(row)
    }

    fn transaction(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<BudgetAlertRow> {
        let t: Transaction = match decode(NAME, msg) {
            Ok(t) => t,
            Err(dead) => return Outcome::Dead(dead),
        };
        if let Some(dead) = unsupported(NAME, msg, i64::from(t.schema_version), &t.user_id) {
            return Outcome::Dead(dead);
        }
        let spend = spending_of(&t);
        if spend == 0 {
            return Outcome::Ignored;
        }
        let id = id_key(&t.id);
        if self.counted.contains_key(&id) {
            return Outcome::Duplicate;
        }
        let category = self.corrected_early.remove(&id).or_else(|| t.category_id.clone()).unwrap_or_else(|| "other".to_owned());
        self.counted.insert(id, (category.clone(), spend));
        let key = (t.user_id.clone(), category);
        *self.spent.entry(key.clone()).or_default().entry(t.month.clone()).or_default() += spend;
        if t.month != month_now(Utc::now()) {
            return Outcome::Ignored;
        }
        self.check(&key, &t.id, Utc::now()).map_or(Outcome::Ignored, Outcome::Row)
    }

    fn feedback(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<BudgetAlertRow> {
        let fb: CategoryFeedback = match decode(NAME, msg) {
            Ok(fb) => fb,
            Err(dead) => return Outcome::Dead(dead),
        };
        // Only spending moves; a correction ahead of its transaction waits for it.
        let Some((category, spend)) = self.counted.get(&id_key(&fb.transaction_id)).cloned() else {
            let spending = fb.amount < 0;
            if spending {
                self.corrected_early.insert(id_key(&fb.transaction_id), fb.category_id.clone());
            }
            return Outcome::Ignored;
        };
        if category == fb.category_id {
            return Outcome::Ignored;
        }
        let from = (fb.user_id.clone(), category);
        let to = (fb.user_id.clone(), fb.category_id.clone());
        *self.spent.entry(from).or_default().entry(fb.month.clone()).or_default() -= spend;
        *self.spent.entry(to.clone()).or_default().entry(fb.month.clone()).or_default() += spend;
        self.counted.insert(id_key(&fb.transaction_id), (fb.category_id.clone(), spend));
        if fb.month != month_now(Utc::now()) {
            return Outcome::Ignored;
        }
        self.check(&to, &fb.transaction_id, Utc::now()).map_or(Outcome::Ignored, Outcome::Row)
    }

    fn plan(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<BudgetAlertRow> {
        let event: PlanEvent = match decode(NAME, msg) {
            Ok(e) => e,
            Err(dead) => return Outcome::Dead(dead),
        };
        // The plan jobs dead-letter invalid plans; here they are only skipped.
        if check_schema_version(event.schema_version).is_err() || event.validate().is_err() {
            return Outcome::Ignored;
        }
        match event.change {
            PlanChange::BudgetSet(b) => {
                let key = (event.user_id.clone(), b.category_id.clone());
                self.budgets.insert(key.clone(), b);
                self.check(&key, &event.id, Utc::now()).map_or(Outcome::Ignored, Outcome::Row)
            }
            PlanChange::BudgetRemoved { category_id } => {
                self.budgets.remove(&(event.user_id, category_id));
                Outcome::Ignored
            }
            _ => Outcome::Ignored,
        }
    }
}

/// The alert of a crossed threshold, in Indonesian (the notifier's language), with the figures.
pub fn budget_alert(row: &BudgetAlertRow) -> Alert {
    let rp = arus_ingest::money::format_rupiah;
    let category = categories::by_id(&row.category_id).map_or(row.category_id.as_str(), |c| c.name_id);
    let pct = budget::percent(row.spent, row.limit).min(100_000);
    let (title, message, severity) = if row.threshold >= 100 {
        (
            format!("Budget {category} terlampaui"),
            format!(
                "Budget {category} bulan ini sudah {pct}% terpakai: {} dari {}. Coba tahan pengeluaran {category} sampai akhir bulan ya.",
                rp(row.spent),
                rp(row.limit)
            ),
            Severity::Critical,
        )
    } else {
        let pace = if row.projected > row.limit {
            format!(" Dengan laju ini, akhir bulan bisa mencapai {}.", rp(row.projected))
        } else {
            String::new()
        };
        (
            format!("Budget {category} hampir habis"),
            format!(
                "Budget {category} bulan ini sudah {pct}% terpakai ({} dari {}), padahal bulan baru berjalan {}%.{pace}",
                rp(row.spent),
                rp(row.limit),
                row.elapsed_pct
            ),
            Severity::Warning,
        )
    };
    let mut details = serde_json::Map::new();
    for (k, v) in [("spent", row.spent), ("limit", row.limit), ("projected", row.projected), ("threshold", i64::from(row.threshold)), ("elapsed_pct", i64::from(row.elapsed_pct))] {
        details.insert(k.into(), v.into());
    }
    details.insert("category_id".into(), row.category_id.clone().into());
    details.insert("month".into(), row.month.clone().into());
    Alert {
        schema_version: SCHEMA_VERSION,
        id: row.alert_id.clone(),
        user_id: row.user_id.clone(),
        kind: AlertKind::Overspending,
        severity,
        subject_id: Some(arus_schemas::plans::budget_id(&row.user_id, &row.category_id)),
        title,
        message,
        created_at: row.raised_at,
        details,
    }
}

impl Job for Overspending {
    type Row = BudgetAlertRow;
    type Update = ();
    const NAME: &'static str = NAME;
    const SOURCES: &'static [&'static str] = &[topics::TXN, topics::TXN_FEEDBACK, topics::PLAN];

    fn table(&self) -> &'static TableDef {
        &tables::BUDGET_ALERTS
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.budgets.clear();
        self.spent.clear();
        self.counted.clear();
        self.corrected_early.clear();
        self.raised.clear();
        // A threshold raised counts for the ones below it too.
        let mut stored = Vec::new();
        for_each_string(table, tables::BUDGET_ALERTS.name, "alert_id", |id| stored.push(id.to_owned())).await?;
        for id in stored {
            if let Some((prefix, threshold)) = id.rsplit_once(':') {
                let threshold: u32 = threshold.parse().unwrap_or(0);
                for t in self.thresholds.iter().filter(|t| **t <= threshold) {
                    self.raised.insert(format!("{prefix}:{t}"));
                }
            }
            self.raised.insert(id);
        }
        let started = std::time::Instant::now();
        let config = self.config.clone();
        self.replaying = true;
        let replayed = crate::replay::replay_committed(&config, NAME, table, Self::SOURCES, |msg| {
            let _ = self.process(msg);
        })
        .await;
        self.replaying = false;
        self.emitted.clear();
        let messages = replayed?;
        tracing::info!(job = NAME, messages, raised = self.raised.len(), budgets = self.budgets.len(), took_ms = started.elapsed().as_millis() as u64, "state rebuilt");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<BudgetAlertRow> {
        let topic = msg.topic();
        if topic == self.txn_topic {
            self.transaction(msg)
        } else if topic == self.feedback_topic {
            self.feedback(msg)
        } else {
            self.plan(msg)
        }
    }

    fn take_emitted(&mut self) -> Vec<(&'static str, String, Vec<u8>)> {
        std::mem::take(&mut self.emitted)
    }
}

/// A dead letter for an event of an unknown version (used by the anomaly job too).
pub(crate) fn unsupported(job: &'static str, msg: &BorrowedMessage<'_>, version: i64, user: &str) -> Option<Box<arus_schemas::DeadLetter>> {
    check_schema_version(u32::try_from(version).unwrap_or(0))
        .err()
        .map(|e| Box::new(dead_letter(job, msg, DeadLetterKind::UnsupportedVersion, e.message, Some(user.to_owned()))))
}
