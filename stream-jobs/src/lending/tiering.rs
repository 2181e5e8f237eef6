//! `tiering`: every customer's Bronze/Silver/Gold tier, kept current from
//! `arus.lending.v1` (DOMAIN.md, "Tier of a customer").
//!
//! Per customer it holds their loans (the snapshot's DPD and outstanding
//! amount) and bills (amount, paid, due and paid dates). Every bill,
//! payment or snapshot event updates that state and the customer's
//! behaviour is recomputed from it: paid and billed over the due bills
//! (scheduled on or before the latest `as_of` seen for the customer), the
//! on-time count (bills paid on or before their date), and DPD — the worst
//! DPD of the loans still owing. A snapshot's `dpd` is taken as given; a
//! payment recomputes its loan's DPD from the loan's bills (days since the
//! oldest due bill not fully paid), as the lender's next snapshot would.
//! The rule ([`arus_ml::tiering::rule_tier`]) then decides, and a row goes
//! to the `tiers` history only when the tier changes (and for the first
//! tier), with the figures, the reasons, and the k-means segment of the
//! newest `tier-segments` model beside it.
//!
//! A load sends a customer's rows together and marks all but the last
//! `more_follow`: they are folded in without a decision, so the history
//! holds the customer's tier once the load is in, not every step of
//! reading their bills.
//!
//! A rise to Gold is an alert (`tier_up`) and a fall to Bronze a risk
//! alert (`tier_down`) on `arus.alert.v1`, with the id
//! `tier:{customer}:{seq}`: sent before the commit that moves past their
//! event, so a crash may send one again, and the notifier drops the repeat.
//! A first tier is history only: nobody "rose".
//!
//! Restart: the state is rebuilt by reading `arus.lending.v1` from the
//! beginning up to the positions the `tiers` table's last commit recorded
//! (the topic keeps its events: it is the lender's book). The same events
//! in the same order give the same decisions, so the rebuilt state carries
//! on the same history and nothing is written twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arus_lakehouse::dead_letters::{dead_letter, decode};
use arus_lakehouse::kafka::{BorrowedMessage, Message};
use arus_lakehouse::models::ModelStore;
use arus_lakehouse::Lake;
use arus_ml::segments::{SegmentModel, KIND as SEGMENTS};
use arus_ml::tiering::{rule_tier, Behaviour};
use arus_schemas::events::{check_schema_version, AlertKind, DeadLetterKind, Severity};
use arus_schemas::lending::{Bill, BillPayment, LendingEvent, LendingRecord, LoanSnapshot, Tier, TierRecord};
use arus_schemas::tables::{self, TableDef};
use arus_schemas::{topics, Alert, Config, SCHEMA_VERSION};
use chrono::{NaiveDate, Utc};
use deltalake::DeltaTable;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::runner::{Job, JobError, Outcome};

pub const NAME: &str = "tiering";

#[derive(Debug, Clone)]
struct BillState {
    bill_id: String,
    due: NaiveDate,
    amount: i64,
    paid: i64,
    paid_date: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
struct LoanState {
    loan_id: String,
    dpd: i64,
    /// Unknown until the loan's snapshot arrives (the loan counts as owing).
    outstanding: Option<i64>,
    bills: Vec<BillState>,
}

impl LoanState {
    fn new(loan_id: &str) -> Self {
        LoanState { loan_id: loan_id.to_owned(), dpd: 0, outstanding: None, bills: Vec::new() }
    }

    fn owing(&self) -> bool {
        self.outstanding.is_none_or(|o| o > 0)
    }

    /// Days since the oldest due bill not fully paid, as of `as_of`.
    fn dpd_from_bills(&self, as_of: NaiveDate) -> i64 {
        self.bills
            .iter()
            .filter(|b| b.due <= as_of && b.paid < b.amount)
            .map(|b| b.due)
            .min()
            .map_or(0, |due| (as_of - due).num_days().max(0))
    }
}

#[derive(Debug, Clone, Default)]
struct CustomerState {
    as_of: Option<NaiveDate>,
    loans: Vec<LoanState>,
    tier: Option<Tier>,
    seq: i64,
}

impl CustomerState {
    fn loan(&mut self, loan_id: &str) -> &mut LoanState {
        match self.loans.iter().position(|l| l.loan_id == loan_id) {
            Some(i) => &mut self.loans[i],
            None => {
                self.loans.push(LoanState::new(loan_id));
                self.loans.last_mut().expect("just pushed")
            }
        }
    }

    /// The behaviour the rule reads, from the state as it is.
    fn behaviour(&self) -> Behaviour {
        let mut b = Behaviour::default();
        let Some(as_of) = self.as_of else { return b };
        for loan in &self.loans {
            if loan.owing() {
                b.current_dpd = b.current_dpd.max(loan.dpd);
            }
            for bill in loan.bills.iter().filter(|bill| bill.due <= as_of) {
                b.total_bill += bill.amount;
                b.total_paid += bill.paid;
                b.total_bills_count += 1;
                b.on_time_count += i64::from(bill.paid_date.is_some_and(|d| d <= bill.due));
            }
        }
        b
    }
}

/// The tiering job's state.
pub struct Tiering {
    config: Config,
    customers: HashMap<String, CustomerState>,
    /// The newest segment model, watched for newer versions.
    model: watch::Receiver<Option<(i64, Arc<SegmentModel>)>>,
    emitted: Vec<(&'static str, String, Vec<u8>)>,
    /// True while the state is rebuilt from the topic: decisions are
    /// remembered, nothing is emitted.
    replaying: bool,
}

impl Tiering {
    /// The job, with the newest segment model of the lake if there is one,
    /// switching to newer ones (`arus lending segments`) as they are stored.
    pub async fn open(config: &Config, shutdown: CancellationToken) -> Result<Self, JobError> {
        let lake = Lake::new(config)?;
        let mut store = ModelStore::open(&lake).await?;
        let (sender, model) = watch::channel(newer_model(&mut store, 0).await?);
        tokio::spawn(watch_models(store, sender, Duration::from_millis(config.model_poll_ms), shutdown));
        Ok(Tiering { config: config.clone(), customers: HashMap::new(), model, emitted: Vec::new(), replaying: false })
    }

    /// Folds `event` into the state; `Err` refuses it with a reason.
    fn apply(&mut self, event: &LendingEvent) -> Result<Option<String>, String> {
        let customer_of = |what: &str| event.customer_number.clone().ok_or_else(|| format!("{what} without customer_number"));
        let customer = match &event.record {
            LendingRecord::Task(_) | LendingRecord::Participant(_) => return Ok(None),
            LendingRecord::Customer(c) => c.customer_number.clone(),
            LendingRecord::Loan(l) => l.customer_number.clone(),
            LendingRecord::Bill(_) => customer_of("bill")?,
            LendingRecord::Payment(_) => customer_of("payment")?,
        };
        if let LendingRecord::Payment(p) = &event.record {
            // Refuse before touching anything.
            let state = self.customers.get(&customer).ok_or_else(|| format!("payment for bill {} of unknown customer {customer}", p.bill_id))?;
            let bill = state
                .loans
                .iter()
                .find(|l| l.loan_id == p.loan_id)
                .and_then(|l| l.bills.iter().find(|b| b.bill_id == p.bill_id))
                .ok_or_else(|| format!("payment for bill {} of loan {}, which customer {customer} does not have", p.bill_id, p.loan_id))?;
            p.check(&p.loan_id, bill.amount)?;
        }
        if !self.customers.contains_key(&customer) {
            self.customers.insert(customer.clone(), CustomerState::default());
        }
        let state = self.customers.get_mut(&customer).expect("just ensured");
        state.as_of = Some(state.as_of.map_or(event.as_of, |d| d.max(event.as_of)));
        match &event.record {
            LendingRecord::Loan(l) => apply_snapshot(state, l),
            LendingRecord::Bill(b) => apply_bill(state, b),
            LendingRecord::Payment(p) => apply_payment(state, p, event.as_of),
            _ => {}
        }
        Ok(Some(customer))
    }

    /// Decides `customer`'s tier after `event` at `source`; a row when it changed.
    fn decide(&mut self, customer: &str, event: &LendingEvent, source: (i32, i64)) -> Option<TierRecord> {
        let state = self.customers.get_mut(customer)?;
        let behaviour = state.behaviour();
        let decision = rule_tier(&behaviour);
        if state.tier == Some(decision.tier) {
            return None;
        }
        let previous = state.tier.replace(decision.tier);
        state.seq += 1;
        let model = self.model.borrow().clone();
        let segment = model.as_ref().and_then(|(v, m)| m.assign(&behaviour).map(|(s, t)| (*v, s, t)));
        let record = TierRecord {
            customer_number: customer.to_owned(),
            seq: state.seq,
            tier: decision.tier,
            previous_tier: previous,
            total_paid: behaviour.total_paid,
            total_bill: behaviour.total_bill,
            current_dpd: behaviour.current_dpd,
            on_time_count: behaviour.on_time_count,
            total_bills_count: behaviour.total_bills_count,
            reasons: decision.reasons.join(","),
            segment: segment.map(|(_, s, _)| s as i32),
            segment_tier: segment.map(|(_, _, t)| t),
            model_version: segment.map(|(v, _, _)| v),
            cause_id: event.id.clone(),
            as_of: event.as_of,
            source_partition: source.0,
            source_offset: source.1,
            decided_at: Utc::now(),
        };
        if !self.replaying {
            if let Some(alert) = tier_alert(&record) {
                let payload = serde_json::to_vec(&alert).expect("alerts serialise");
                self.emitted.push((topics::ALERT, alert.user_id.clone(), payload));
            }
        }
        Some(record)
    }

    fn handle(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<TierRecord> {
        let event: LendingEvent = match decode(NAME, msg) {
            Ok(event) => event,
            Err(dead) => return Outcome::Dead(dead),
        };
        if let Err(e) = check_schema_version(event.schema_version) {
            return Outcome::Dead(Box::new(dead_letter(NAME, msg, DeadLetterKind::UnsupportedVersion, e.message, event.customer_number.clone())));
        }
        let customer = match self.apply(&event) {
            Ok(Some(_)) if event.more_follow => return Outcome::Ignored,
            Ok(Some(customer)) => customer,
            Ok(None) => return Outcome::Ignored,
            Err(reason) => return Outcome::Dead(Box::new(dead_letter(NAME, msg, DeadLetterKind::Invalid, reason, event.customer_number.clone()))),
        };
        match self.decide(&customer, &event, (msg.partition(), msg.offset())) {
            Some(row) => Outcome::Row(row),
            None => Outcome::Ignored,
        }
    }

    /// Rebuilds the state from the topic, up to the positions `table` holds.
    async fn rebuild(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.customers.clear();
        let started = std::time::Instant::now();
        let config = self.config.clone();
        let mut decisions = 0u64;
        self.replaying = true;
        let replayed = crate::replay::replay_committed(&config, NAME, table, &[topics::LENDING], |msg| {
            if let Outcome::Row(_) = self.handle(msg) {
                decisions += 1;
            }
        })
        .await;
        self.replaying = false;
        self.emitted.clear();
        let events = replayed?;
        if events > 0 {
            tracing::info!(job = NAME, events, decisions, customers = self.customers.len(), took_ms = started.elapsed().as_millis() as u64, "state rebuilt from the topic");
        }
        Ok(())
    }
}

fn apply_snapshot(state: &mut CustomerState, l: &LoanSnapshot) {
    let loan = state.loan(&l.loan_id);
    loan.dpd = l.dpd.max(0);
    loan.outstanding = Some(l.outstanding_amount);
}

fn apply_bill(state: &mut CustomerState, b: &Bill) {
    let loan = state.loan(&b.loan_id);
    let bill = BillState { bill_id: b.bill_id.clone(), due: b.bill_scheduled_date, amount: b.amount, paid: b.paid_amount, paid_date: b.bill_paid_date };
    match loan.bills.iter_mut().find(|x| x.bill_id == b.bill_id) {
        Some(x) => *x = bill,
        None => loan.bills.push(bill),
    }
}

fn apply_payment(state: &mut CustomerState, p: &BillPayment, as_of: NaiveDate) {
    let as_of = state.as_of.unwrap_or(as_of);
    let loan = state.loan(&p.loan_id);
    if let Some(bill) = loan.bills.iter_mut().find(|b| b.bill_id == p.bill_id) {
        let delta = p.paid_amount - bill.paid;
        bill.paid = p.paid_amount;
        bill.paid_date = Some(p.paid_date);
        if let Some(o) = loan.outstanding.as_mut() {
            *o = (*o - delta).max(0);
        }
    }
    loan.dpd = loan.dpd_from_bills(as_of);
}

/// The alert a tier change raises: up to Gold, or down to Bronze.
fn tier_alert(r: &TierRecord) -> Option<Alert> {
    let previous = r.previous_tier?;
    let (kind, severity, title) = match r.tier {
        Tier::Gold if previous < Tier::Gold => (AlertKind::TierUp, Severity::Info, "Mitra naik ke Tier Gold"),
        Tier::Bronze if previous > Tier::Bronze => (AlertKind::TierDown, Severity::Warning, "Mitra turun ke Tier Bronze"),
        _ => return None,
    };
    let mut details = serde_json::Map::new();
    details.insert("tier".into(), r.tier.as_str().into());
    details.insert("previous_tier".into(), previous.as_str().into());
    details.insert("dpd".into(), r.current_dpd.into());
    details.insert("total_paid".into(), r.total_paid.into());
    details.insert("total_bill".into(), r.total_bill.into());
    details.insert("reasons".into(), r.reasons.clone().into());
    details.insert("name".into(), r.customer_number.clone().into());
    Some(Alert {
        schema_version: SCHEMA_VERSION,
        id: format!("tier:{}:{}", r.customer_number, r.seq),
        user_id: r.customer_number.clone(),
        kind,
        severity,
        subject_id: Some(r.customer_number.clone()),
        title: title.to_owned(),
        message: format!("{} → {} ({})", previous.name(), r.tier.name(), r.reasons),
        created_at: Utc::now(),
        details,
    })
}

/// The newest segment model if its version is above `current`.
async fn newer_model(store: &mut ModelStore, current: i64) -> Result<Option<(i64, Arc<SegmentModel>)>, JobError> {
    let Some(record) = store.latest(SEGMENTS).await? else { return Ok(None) };
    if record.version <= current {
        return Ok(None);
    }
    let bytes = store.load(&record).await?;
    let model: SegmentModel = serde_json::from_slice(&bytes).map_err(|e| JobError::State { job: NAME, reason: format!("segment model {}: {e}", record.version) })?;
    tracing::info!(job = NAME, version = record.version, segments = model.centroids.len(), "segment model loaded");
    Ok(Some((record.version, Arc::new(model))))
}

/// Polls the `models` table and hands each newer segment model to the job.
async fn watch_models(mut store: ModelStore, sender: watch::Sender<Option<(i64, Arc<SegmentModel>)>>, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = sender.closed() => return,
            () = tokio::time::sleep(every) => {}
        }
        let current = sender.borrow().as_ref().map_or(0, |(v, _)| *v);
        match newer_model(&mut store, current).await {
            Ok(Some(model)) => {
                sender.send_replace(Some(model));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(job = NAME, error = %e, "checking for a newer segment model failed; keeping version {current}"),
        }
    }
}

impl Job for Tiering {
    type Row = TierRecord;
    type Update = ();
    const NAME: &'static str = NAME;
    const SOURCES: &'static [&'static str] = &[topics::LENDING];

    fn table(&self) -> &'static TableDef {
        &tables::TIERS
    }

    async fn restore_state(&mut self, table: &DeltaTable) -> Result<(), JobError> {
        self.rebuild(table).await
    }

    fn process(&mut self, msg: &BorrowedMessage<'_>) -> Outcome<TierRecord> {
        self.handle(msg)
    }

    fn take_emitted(&mut self) -> Vec<(&'static str, String, Vec<u8>)> {
        std::mem::take(&mut self.emitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn bill(id: &str, due: u32, amount: i64, paid: i64, paid_on: Option<u32>) -> Bill {
        Bill { bill_id: id.into(), loan_id: "L1".into(), bill_scheduled_date: day(due), bill_paid_date: paid_on.map(day), amount, paid_amount: paid }
    }

    #[test]
    fn behaviour_counts_due_bills_on_time_payments_and_the_worst_owing_loan() {
        let mut s = CustomerState { as_of: Some(day(20)), ..CustomerState::default() };
        apply_snapshot(&mut s, &LoanSnapshot { loan_id: "L1".into(), customer_number: "C1".into(), principal_amount: 1, outstanding_amount: 500, dpd: 3 });
        apply_snapshot(&mut s, &LoanSnapshot { loan_id: "L0".into(), customer_number: "C1".into(), principal_amount: 1, outstanding_amount: 0, dpd: 40 });
        apply_bill(&mut s, &bill("B1", 6, 100, 100, Some(6)));
        apply_bill(&mut s, &bill("B2", 13, 100, 100, Some(15)));
        apply_bill(&mut s, &bill("B3", 17, 100, 0, None));
        apply_bill(&mut s, &bill("B4", 24, 100, 0, None)); // not due yet
        let b = s.behaviour();
        assert_eq!((b.total_bill, b.total_paid, b.total_bills_count, b.on_time_count), (300, 200, 3, 1));
        assert_eq!(b.current_dpd, 3, "the repaid loan's DPD does not count");
        // The payment of B3 clears the loan's arrears: DPD recomputed from its bills.
        apply_payment(&mut s, &BillPayment { bill_id: "B3".into(), loan_id: "L1".into(), paid_date: day(20), paid_amount: 100 }, day(20));
        let b = s.behaviour();
        assert_eq!((b.total_paid, b.current_dpd), (300, 0));
        assert_eq!(s.loans[0].outstanding, Some(400));
        // The same bill again replaces, not adds.
        apply_bill(&mut s, &bill("B1", 6, 100, 100, Some(6)));
        assert_eq!(s.behaviour().total_bills_count, 3);
    }

    #[test]
    fn alerts_only_for_a_rise_to_gold_or_a_fall_to_bronze() {
        let record = |tier, previous| TierRecord {
            customer_number: "C1".into(),
            seq: 2,
            tier,
            previous_tier: previous,
            total_paid: 0,
            total_bill: 0,
            current_dpd: 9,
            on_time_count: 0,
            total_bills_count: 0,
            reasons: String::new(),
            segment: None,
            segment_tier: None,
            model_version: None,
            cause_id: String::new(),
            as_of: day(1),
            source_partition: 0,
            source_offset: 0,
            decided_at: Utc::now(),
        };
        let up = tier_alert(&record(Tier::Gold, Some(Tier::Silver))).unwrap();
        assert_eq!((up.kind, up.id.as_str(), up.details["tier"].as_str()), (AlertKind::TierUp, "tier:C1:2", Some("GOLD")));
        assert_eq!(tier_alert(&record(Tier::Bronze, Some(Tier::Silver))).unwrap().kind, AlertKind::TierDown);
        assert!(tier_alert(&record(Tier::Gold, None)).is_none(), "a first tier is not a rise");
        assert!(tier_alert(&record(Tier::Silver, Some(Tier::Bronze))).is_none());
        assert!(tier_alert(&record(Tier::Silver, Some(Tier::Gold))).is_none());
    }
}
