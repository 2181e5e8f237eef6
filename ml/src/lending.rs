//! A synthetic loan book with realistic group-loan behaviour, for
//! development, tests and benchmarks (`arus gen lending`): partners in
//! groups (*majelis*) of 15–20 under field officers, weekly instalments over
//! 25 or 50 weeks, most paid on time, some late, a few partial, a few loans
//! defaulting; weekly group meetings as tasks with each borrower as a
//! participant. Deterministic for a seed and an as-of date.
//!
//! A handful of quality problems are planted on purpose — a missing
//! mandatory field in each of three files, duplicate keys, bills of loans
//! that do not exist, participants of tasks that do not exist — and listed
//! in [`LendingData::planted`] with the file and line each lands on, so a
//! loader's report can be checked against them.

use arus_schemas::lending::{Bill, Customer, LoanSnapshot, Task, TaskParticipant};
use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::rng::Rng;

/// A problem planted in the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planted {
    /// `customers.csv`, `loan_snapshots.csv`, `bills.csv`, `tasks.csv`, `task_participants.csv`.
    pub file: &'static str,
    /// 1-based line in the file (the header is line 1).
    pub line: usize,
    /// `missing_field`, `duplicate_key`, `unknown_loan`, `orphan_task`.
    pub check: &'static str,
    pub column: &'static str,
}

/// The five files' rows, in file order.
#[derive(Debug, Clone, Default)]
pub struct LendingData {
    pub customers: Vec<Customer>,
    pub loans: Vec<LoanSnapshot>,
    pub bills: Vec<Bill>,
    pub tasks: Vec<Task>,
    pub participants: Vec<TaskParticipant>,
    pub planted: Vec<Planted>,
}

/// How a partner pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payer {
    /// Every instalment on the day or before.
    OnTime,
    /// Now and then a few days late.
    SometimesLate,
    /// Often late, sometimes short.
    Struggling,
    /// Stops paying at some week.
    Defaulting,
}

const PURPOSES: &[&str] = &["Dagang Warung", "Warung Makan", "Toko Kelontong", "Dagang Sayur", "Pertanian", "Peternakan", "Jasa Jahit", "Kerajinan", "Dagang Kue"];
const MARITAL: &[&str] = &["MARRIED", "MARRIED", "MARRIED", "MARRIED", "WIDOWED", "SINGLE", "DIVORCED"];
/// Religion codes as the lender's dictionary keeps them; mostly 1.
const RELIGION: &[&str] = &["1", "1", "1", "1", "1", "1", "1", "1", "2", "3", "4", "5"];

/// `customers` partners' loan book as of `as_of`.
pub fn generate(customers: usize, seed: u64, as_of: NaiveDate) -> LendingData {
    let mut rng = Rng::new(seed);
    let mut data = LendingData::default();
    let mut group_members: Vec<Vec<(String, String)>> = Vec::new(); // (customer, loan) per group
    let mut group_size = 0;
    let mut group_target = rng.range(15, 20) as usize;
    for i in 0..customers {
        let customer_number = format!("C{:07}", i + 1);
        let born = NaiveDate::from_ymd_opt(rng.range(1965, 2003) as i32, rng.range(1, 12) as u32, rng.range(1, 28) as u32);
        data.customers.push(Customer {
            customer_number: customer_number.clone(),
            date_of_birth: born,
            marital_status: Some(MARITAL[rng.below(MARITAL.len())].to_owned()),
            religion: Some(RELIGION[rng.below(RELIGION.len())].to_owned()),
            purpose: Some(PURPOSES[rng.below(PURPOSES.len())].to_owned()),
        });
        let payer = match rng.below(100) {
            0..=69 => Payer::OnTime,
            70..=86 => Payer::SometimesLate,
            87..=96 => Payer::Struggling,
            _ => Payer::Defaulting,
        };
        // Some partners have repaid an earlier loan before the current one.
        let loans = if rng.below(4) == 0 { 2 } else { 1 };
        let mut start = as_of - Duration::weeks(rng.range(2, 45));
        let mut current = String::new();
        for l in 0..loans {
            let loan_id = format!("L{:07}{}", i + 1, l);
            let weeks = if rng.below(3) == 0 { 50 } else { 25 };
            let principal = rng.range(4, 20) * 500_000;
            let earlier = l + 1 < loans;
            let first_due = if earlier { start - Duration::weeks(weeks + 2) } else { start } + Duration::weeks(1);
            let instalment = (principal * 6 / 5 / weeks + 99) / 100 * 100;
            let stop_at = if payer == Payer::Defaulting && !earlier { rng.range(3, weeks.min(30)) } else { i64::MAX };
            let (mut billed, mut paid, mut worst_unpaid): (i64, i64, Option<NaiveDate>) = (0, 0, None);
            for w in 0..weeks {
                let due = first_due + Duration::weeks(w);
                let bill_id = format!("B{:07}{}{:02}", i + 1, l, w);
                billed += instalment;
                let is_due = due <= as_of;
                let (paid_date, paid_amount) = if !is_due || w >= stop_at {
                    (None, 0)
                } else {
                    let (late, short) = match payer {
                        Payer::OnTime => (-rng.range(0, 1), false),
                        // Half of them owe this week's instalment right now: a few days past due.
                        Payer::SometimesLate if (as_of - due).num_days() < 7 && rng.below(2) == 0 => (8, false),
                        Payer::SometimesLate => (if rng.below(5) == 0 { rng.range(1, 6) } else { 0 }, false),
                        Payer::Struggling => (if rng.below(2) == 0 { rng.range(2, 20) } else { 0 }, rng.below(4) == 0),
                        Payer::Defaulting => (if rng.below(3) == 0 { rng.range(1, 10) } else { 0 }, false),
                    };
                    let date = due + Duration::days(late);
                    if date > as_of {
                        (None, 0)
                    } else {
                        (Some(date), if short { instalment / 2 / 100 * 100 } else { instalment })
                    }
                };
                if is_due && paid_amount < instalment && worst_unpaid.is_none() {
                    worst_unpaid = Some(due);
                }
                paid += paid_amount;
                data.bills.push(Bill { bill_id, loan_id: loan_id.clone(), bill_scheduled_date: due, bill_paid_date: paid_date, amount: instalment, paid_amount });
            }
            let dpd = worst_unpaid.map_or(0, |d| (as_of - d).num_days().max(0));
            data.loans.push(LoanSnapshot { loan_id: loan_id.clone(), customer_number: customer_number.clone(), principal_amount: principal, outstanding_amount: (billed - paid).max(0), dpd });
            current = loan_id;
            start = as_of - Duration::weeks(rng.range(2, 45));
        }
        if group_members.is_empty() || group_size >= group_target {
            group_members.push(Vec::new());
            group_size = 0;
            group_target = rng.range(15, 20) as usize;
        }
        group_members.last_mut().expect("a group").push((customer_number, current));
        group_size += 1;
    }
    // Weekly group meetings over the last eight weeks; an officer per ten groups.
    let mut participant = 0usize;
    for (g, members) in group_members.iter().enumerate() {
        let officer = format!("O{:04}", g / 10 + 1);
        let group = format!("G{:05}", g + 1);
        for week in 0..8 {
            let day = as_of - Duration::weeks(7 - week) - Duration::days((g % 5) as i64);
            let task_id = format!("T{:05}{week}", g + 1);
            let done = day <= as_of;
            data.tasks.push(Task {
                task_id: task_id.clone(),
                officer_id: Some(officer.clone()),
                group_id: Some(group.clone()),
                task_type: Some("MAJELIS_MEETING".to_owned()),
                scheduled_date: Some(day),
                status: Some(if done { "DONE" } else { "SCHEDULED" }.to_owned()),
            });
            for (_, loan) in members {
                participant += 1;
                data.participants.push(TaskParticipant {
                    id: participant.to_string(),
                    task_id: task_id.clone(),
                    participant_type: "LOAN".to_owned(),
                    participant_id: loan.clone(),
                    is_face_matched: Some(rng.below(20) != 0),
                    is_qr_matched: Some(rng.below(10) != 0),
                    payment_amount: None,
                });
            }
        }
    }
    plant(&mut data, &mut rng);
    data
}

/// Plants the quality problems and lists them with their lines.
fn plant(data: &mut LendingData, rng: &mut Rng) {
    if data.customers.len() < 3 || data.bills.len() < 3 || data.tasks.is_empty() {
        return;
    }
    let line = |index: usize| index + 2;
    // Missing mandatory fields.
    let c = rng.below(data.customers.len());
    data.customers[c].customer_number.clear();
    data.planted.push(Planted { file: "customers.csv", line: line(c), check: "missing_field", column: "customer_number" });
    // A loan row without its customer (one with no bills: a rejected loan
    // with bills would make them bills of an unknown loan too).
    let l = rng.below(data.loans.len());
    let mut orphan = data.loans[l].clone();
    orphan.loan_id = "LX-NO-CUSTOMER".to_owned();
    orphan.customer_number.clear();
    data.loans.insert(l, orphan);
    data.planted.push(Planted { file: "loan_snapshots.csv", line: line(l), check: "missing_field", column: "customer_number" });
    let b = rng.below(data.bills.len());
    data.bills[b].loan_id.clear();
    data.planted.push(Planted { file: "bills.csv", line: line(b), check: "missing_field", column: "loan_id" });
    // Duplicate keys: a loan and a bill delivered twice, a task id reused.
    let dup = data.loans[(l + 1) % data.loans.len()].clone();
    data.loans.push(dup);
    data.planted.push(Planted { file: "loan_snapshots.csv", line: line(data.loans.len() - 1), check: "duplicate_key", column: "loan_id" });
    let dup = data.bills[(b + 1) % data.bills.len()].clone();
    data.bills.push(dup);
    data.planted.push(Planted { file: "bills.csv", line: line(data.bills.len() - 1), check: "duplicate_key", column: "bill_id" });
    let mut dup = data.tasks[0].clone();
    dup.status = Some("DONE".to_owned());
    data.tasks.push(dup);
    data.planted.push(Planted { file: "tasks.csv", line: line(data.tasks.len() - 1), check: "duplicate_key", column: "task_id" });
    // Bills of loans that are not in the book.
    for k in 0..3 {
        let mut bill = data.bills[rng.below(data.bills.len() - 1)].clone();
        bill.bill_id = format!("BX{k:04}");
        bill.loan_id = format!("LX{k:04}");
        data.bills.push(bill);
        data.planted.push(Planted { file: "bills.csv", line: line(data.bills.len() - 1), check: "unknown_loan", column: "loan_id" });
    }
    // Participants of tasks that do not exist (kept, reported).
    let next = data.participants.len();
    for k in 0..5 {
        data.participants.push(TaskParticipant {
            id: (next + k + 1).to_string(),
            task_id: format!("TX{k:04}"),
            participant_type: "LOAN".to_owned(),
            participant_id: data.loans[rng.below(data.loans.len())].loan_id.clone(),
            is_face_matched: Some(true),
            is_qr_matched: Some(false),
            payment_amount: Some(50_000),
        });
        data.planted.push(Planted { file: "task_participants.csv", line: line(data.participants.len() - 1), check: "orphan_task", column: "task_id" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arus_schemas::lending::Tier;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_book() {
        let (a, b) = (generate(300, 7, as_of()), generate(300, 7, as_of()));
        assert_eq!(a.bills, b.bills);
        assert_eq!(a.planted, b.planted);
        assert_ne!(generate(300, 8, as_of()).bills, a.bills);
    }

    #[test]
    fn the_book_looks_like_group_lending() {
        let d = generate(2_000, 1, as_of());
        assert_eq!(d.customers.len(), 2_000);
        assert!(d.loans.len() > 2_000 && d.loans.len() < 2_800, "{} loans", d.loans.len());
        let due: Vec<&Bill> = d.bills.iter().filter(|b| b.bill_scheduled_date <= as_of()).collect();
        let on_time = due.iter().filter(|b| b.bill_paid_date.is_some_and(|p| p <= b.bill_scheduled_date)).count();
        let share = on_time as f64 / due.len() as f64;
        assert!((0.7..0.95).contains(&share), "on-time share {share}");
        let late = d.loans.iter().filter(|l| l.dpd > 7).count() as f64 / d.loans.len() as f64;
        assert!((0.01..0.2).contains(&late), "share of loans more than a week late {late}");
        assert!(d.bills.iter().all(|b| b.amount > 0 && b.amount % 100 == 0 && b.paid_amount <= b.amount));
        let groups: std::collections::HashSet<_> = d.tasks.iter().filter_map(|t| t.group_id.clone()).collect();
        assert!((100..=134).contains(&groups.len()), "{} groups of 15–20", groups.len());
        assert_eq!(d.planted.len(), 3 + 3 + 3 + 5);
        // Most partners are Gold, some Silver, a few Bronze, as the rule reads them.
        let mut by_customer: std::collections::HashMap<&str, crate::tiering::Behaviour> = std::collections::HashMap::new();
        let owner: std::collections::HashMap<&str, &str> = d.loans.iter().map(|l| (l.loan_id.as_str(), l.customer_number.as_str())).collect();
        for l in &d.loans {
            let b = by_customer.entry(l.customer_number.as_str()).or_default();
            if l.outstanding_amount > 0 {
                b.current_dpd = b.current_dpd.max(l.dpd);
            }
        }
        for bill in due {
            let Some(b) = owner.get(bill.loan_id.as_str()).and_then(|c| by_customer.get_mut(c)) else { continue };
            b.total_bill += bill.amount;
            b.total_paid += bill.paid_amount;
            b.total_bills_count += 1;
            b.on_time_count += i64::from(bill.bill_paid_date.is_some_and(|p| p <= bill.bill_scheduled_date));
        }
        let mut tiers = std::collections::BTreeMap::new();
        for b in by_customer.values() {
            *tiers.entry(crate::tiering::rule_tier(b).tier).or_insert(0usize) += 1;
        }
        eprintln!("on time {share:.3}, loans > 7 days late {late:.3}, tiers {tiers:?}");
        let (bronze, silver, gold) = (tiers[&Tier::Bronze], tiers[&Tier::Silver], tiers[&Tier::Gold]);
        assert!(gold > silver && gold > bronze && silver > 60 && bronze > 60, "{tiers:?}");
    }
}
