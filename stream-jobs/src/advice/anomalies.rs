//! `anomalies`: spending far from a person's own normal, in the stream
//! of categorised transactions (`arus.txn.v1`). Three checks:
//!
//! - **a transaction** against the person's last amounts in its category
//!   (median/MAD robust z-score, [`arus_ml::anomaly::Detector`]);
//! - **a day**: the running total of the day against their earlier days
//!   ([`arus_ml::anomaly::DailyTotals`]), once per day, not when one
//!   transaction already explains it;
//! - **a category series**: when a person's first transaction of a new day
//!   arrives, the last 28 days of each category are compared with each
//!   other by augurs' MAD outlier detector
//!   ([`arus_ml::anomaly::series_outliers`]).
//!
//! Nothing is flagged before `ARUS_ANOMALY_MIN_HISTORY` amounts (or days;
//! 14 days for series). Each finding is an `anomalies` row (score, the
//! baseline, the reason) and, when it is about the last two days (not an
//! old statement imported now), an `anomaly` alert with the row's id. State
//! is rebuilt on restart by reading the topic up to the committed positions
//! ([`crate::replay`]); the same transactions in the same order give the
//! same findings, so nothing is written or sent twice.

use std::collections::{BTreeMap, HashMap, HashSet};

use arus_lakehouse::dead_letters::decode;
use arus_lakehouse::kafka::BorrowedMessage;
use arus_ml::anomaly::{series_outliers, Baseline, DailyTotals, Detector, Flag};
use arus_schemas::advice::{anomaly_kind, AnomalyRow};
use arus_schemas::events::jakarta;
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{categories, topics, Alert, AlertKind, Config, Severity, Transaction, SCHEMA_VERSION};
use chrono::{Duration, NaiveDate, Utc};
use deltalake::DeltaTable;

use super::overspending::{id_key, unsupported};
use crate::runner::{Job, JobError, Outcome};

pub const NAME: &str = "anomalies";

/// Days of each category compared by the series check, and the least needed.
const SERIES_DAYS: i64 = 28;
const SERIES_MIN_DAYS: usize = 14;
/// augurs MAD threshold of the series check.
const SERIES_THRESHOLD: f64 = 3.5;
/// Findings about days older than this are written but not sent.
const ALERT_WITHIN_DAYS: i64 = 2;

/// Per person: the last day seen, and spending per category per day.
type Series = HashMap<String, (NaiveDate, BTreeMap<String, BTreeMap<NaiveDate, i64>>)>;

pub struct Anomalies {
    config: Config,
    amounts: Detector,
    days: DailyTotals,
    series: Series,
    seen: HashSet<u128>,
    replaying: bool,
    emitted: Vec<(&'static str, String, Vec<u8>)>,
}

fn rp(amount: i64) -> String {
    arus_ingest::money::format_rupiah(amount)
}

fn category_name(id: &str) -> &str {
    categories::by_id(id).map_or(id, |c| c.name_id)
}

impl Anomalies {
    pub fn new(config: &Config) -> Self {
        let baseline = Baseline { window: config.anomaly_window, min_history: config.anomaly_min_history, threshold: config.anomaly_threshold };
        Anomalies {
            config: config.clone(),
            amounts: Detector::new(baseline),
            days: DailyTotals::new(baseline),
            series: HashMap::new(),
            seen: HashSet::new(),
            replaying: false,
            emitted: Vec::new(),
        }
    }

    /// Series outliers of `user`'s categories over the days up to `last`.
    fn series_check(&self, user: &str, last: NaiveDate) -> Vec<AnomalyRow> {
        let Some((_, by_category)) = self.series.get(user) else { return Vec::new() };
        let first = last - Duration::days(SERIES_DAYS - 1);
        // Only days since the person's first spending count.
        let Some(start) = by_category.values().filter_map(|d| d.keys().next()).min().map(|d| (*d).max(first)) else { return Vec::new() };
        let days: Vec<NaiveDate> = start.iter_days().take_while(|d| *d <= last).collect();
        let names: Vec<&String> = by_category.keys().collect();
        let series: Vec<Vec<f64>> = names.iter().map(|c| days.iter().map(|d| by_category[*c].get(d).copied().unwrap_or(0) as f64).collect()).collect();
        series_outliers(&series, SERIES_MIN_DAYS, SERIES_THRESHOLD)
            .into_iter()
            .map(|f| {
                let values = &series[f.index];
                let amount = *values.last().unwrap_or(&0.0) as i64;
                let mean = (values.iter().sum::<f64>() / values.len() as f64).round() as i64;
                let category = names[f.index].clone();
                AnomalyRow {
                    id: format!("anomaly:series:{user}:{category}:{last}"),
                    user_id: user.to_owned(),
                    kind: anomaly_kind::CATEGORY_SERIES.into(),
                    transaction_id: None,
                    reason: format!("{} spending on {last} ({}) stands apart from the person's other categories over {} days (mean {} a day)", category, amount, values.len(), mean),
                    category_id: Some(category),
                    day: last,
                    amount,
                    baseline: mean,
                    spread: 0,
                    score: f.score,
                    history: values.len() as i64,
                    detected_at: Utc::now(),
                }
            })
            .collect()
    }

    fn transaction(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<AnomalyRow> {
        let t: Transaction = match decode(NAME, msg) {
            Ok(t) => t,
            Err(dead) => return Outcome::Dead(dead),
        };
        if let Some(dead) = unsupported(NAME, msg, i64::from(t.schema_version), &t.user_id) {
            return Outcome::Dead(dead);
        }
        // Money out only; a reversal is not spending.
        if t.amount >= 0 || t.reverses.is_some() {
            return Outcome::Ignored;
        }
        if !self.seen.insert(id_key(&t.id)) {
            return Outcome::Duplicate;
        }
        let amount = -t.amount;
        let category = t.category_id.clone().unwrap_or_else(|| "other".to_owned());
        let day = t.occurred_at.with_timezone(&jakarta()).date_naive();
        let mut rows = Vec::new();

        // A new day for this person: yesterday's category series first.
        let previous = self.series.get(&t.user_id).map(|(d, _)| *d);
        if previous.is_some_and(|p| day > p) {
            rows.extend(self.series_check(&t.user_id, previous.expect("checked")));
        }
        let (last_day, by_category) = self.series.entry(t.user_id.clone()).or_insert_with(|| (day, BTreeMap::new()));
        *last_day = (*last_day).max(day);
        let keep_from = *last_day - Duration::days(SERIES_DAYS * 2);
        let days = by_category.entry(category.clone()).or_default();
        *days.entry(day).or_default() += amount;
        for d in by_category.values_mut() {
            d.retain(|k, _| *k >= keep_from);
        }

        let single = self.amounts.observe(&format!("{}:{category}", t.user_id), amount);
        let make = |id: String, kind: &str, amount: i64, f: &Flag, reason: String| AnomalyRow {
            id,
            user_id: t.user_id.clone(),
            kind: kind.into(),
            transaction_id: (kind == anomaly_kind::TRANSACTION).then(|| t.id.clone()),
            category_id: (kind == anomaly_kind::TRANSACTION).then(|| category.clone()),
            day,
            amount,
            baseline: f.median,
            spread: f.spread.round() as i64,
            score: (f.score * 100.0).round() / 100.0,
            history: f.history as i64,
            reason,
            detected_at: Utc::now(),
        };
        if let Some(f) = &single {
            let reason = format!("{amount} in {category} is {:.1} spreads above the usual {} (last {} amounts)", f.score, f.median, f.history);
            rows.push(make(format!("anomaly:txn:{}", t.id), anomaly_kind::TRANSACTION, amount, f, reason));
        }
        if let Some((f, total)) = self.days.observe(&t.user_id, day, amount, single.is_some()) {
            let reason = format!("spending of {total} on {day} is {:.1} spreads above the usual {} a day (last {} days with spending)", f.score, f.median, f.history);
            rows.push(make(format!("anomaly:day:{}:{day}", t.user_id), anomaly_kind::DAILY_SPEND, total, &f, reason));
        }
        if self.replaying {
            return Outcome::Ignored;
        }
        let today = Utc::now().with_timezone(&jakarta()).date_naive();
        for row in rows.iter().filter(|r| (today - r.day).num_days() < ALERT_WITHIN_DAYS) {
            let alert = anomaly_alert(row, &t.description);
            self.emitted.push((topics::ALERT, alert.user_id.clone(), serde_json::to_vec(&alert).expect("alerts serialise")));
        }
        Outcome::Rows(rows)
    }
}

/// The alert of an anomaly, in Indonesian, with the figures.
pub fn anomaly_alert(row: &AnomalyRow, description: &str) -> Alert {
    let category = row.category_id.as_deref().map(category_name).unwrap_or("");
    let (title, message) = match row.kind.as_str() {
        anomaly_kind::TRANSACTION => (
            "Transaksi tidak biasa".to_owned(),
            format!("{description} sebesar {} di kategori {category} jauh di atas biasanya (sekitar {}). Benar transaksi Anda?", rp(row.amount), rp(row.baseline)),
        ),
        anomaly_kind::DAILY_SPEND => (
            "Pengeluaran hari ini tinggi".to_owned(),
            format!("Pengeluaran hari ini sudah {}, jauh di atas biasanya (sekitar {} per hari).", rp(row.amount), rp(row.baseline)),
        ),
        _ => (
            format!("Pengeluaran {category} tidak biasa"),
            format!("Pengeluaran {category} pada {} sebesar {}, tidak seperti biasanya (rata-rata {} per hari).", row.day.format("%d-%m-%Y"), rp(row.amount), rp(row.baseline)),
        ),
    };
    let mut details = serde_json::Map::new();
    for (k, v) in [("amount", row.amount), ("baseline", row.baseline), ("spread", row.spread), ("history", row.history)] {
        details.insert(k.into(), v.into());
    }
    details.insert("score".into(), row.score.into());
    details.insert("kind".into(), row.kind.clone().into());
    Alert {
        schema_version: SCHEMA_VERSION,
        id: row.id.clone(),
        user_id: row.user_id.clone(),
        kind: AlertKind::Anomaly,
        severity: Severity::Warning,
        subject_id: row.transaction_id.clone().or_else(|| row.category_id.clone()),
        title,
        message,
        created_at: row.detected_at,
        details,
    }
}

impl Job for Anomalies {
    type Row = AnomalyRow;
    type Update = ();
    const NAME: &'static str = NAME;
    const SOURCES: &'static [&'static str] = &[topics::TXN];

    fn table(&self) -> &'static TableDef {
        &tables::ANOMALIES
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        let fresh = Anomalies::new(&self.config);
        self.amounts = fresh.amounts;
        self.days = fresh.days;
        self.series.clear();
        self.seen.clear();
        let started = std::time::Instant::now();
        let config = self.config.clone();
        self.replaying = true;
        let replayed = crate::replay::replay_committed(&config, NAME, table, Self::SOURCES, |msg| {
            let _ = self.transaction(msg);
        })
        .await;
        self.replaying = false;
        self.emitted.clear();
        let messages = replayed?;
        tracing::info!(job = NAME, messages, people = self.series.len(), took_ms = started.elapsed().as_millis() as u64, "state rebuilt");
        Ok(())
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<AnomalyRow> {
        self.transaction(msg)
    }

    fn take_emitted(&mut self) -> Vec<(&'static str, String, Vec<u8>)> {
        std::mem::take(&mut self.emitted)
    }
}
