//! Budget and goal arithmetic, in whole rupiah: a month's limit with
//! rollover, the elapsed part of a month, the month-end spending the pace
//! so far leads to, which thresholds are crossed, and a goal's progress.

use std::collections::BTreeMap;

use arus_schemas::plans::GoalCounts;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The first day of `month` (`YYYY-MM`).
pub fn first_day(month: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()
}

/// The month after `month`.
pub fn next_month(month: &str) -> Option<String> {
    let d = first_day(month)?;
    let next = if d.month() == 12 { NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)? };
    Some(next.format("%Y-%m").to_string())
}

/// `YYYY-MM` of `day`.
pub fn month_of(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// Days in `month`.
pub fn days_in(month: &str) -> Option<u32> {
    let first = first_day(month)?;
    let next = first_day(&next_month(month)?)?;
    Some((next - first).num_days() as u32)
}

/// The part of `month` gone at `now` (WIB), in 0..=1: 0 before it starts,
/// 1 after it ends.
pub fn elapsed(month: &str, now: DateTime<Utc>) -> f64 {
    let (Some(first), Some(next)) = (first_day(month), next_month(month).as_deref().and_then(first_day)) else { return 1.0 };
    let offset = arus_schemas::events::jakarta();
    let start = first.and_hms_opt(0, 0, 0).expect("midnight").and_local_timezone(offset).single().expect("fixed offset").with_timezone(&Utc);
    let end = next.and_hms_opt(0, 0, 0).expect("midnight").and_local_timezone(offset).single().expect("fixed offset").with_timezone(&Utc);
    ((now - start).num_seconds() as f64 / (end - start).num_seconds() as f64).clamp(0.0, 1.0)
}

/// The month's limit of a budget of `amount` a month from `from_month`:
/// with rollover, what was left of each earlier month (or overspent) is
/// added. `spent` is spending per month (positive rupiah). 0 before the
/// budget starts.
pub fn month_limit(amount: i64, rollover: bool, from_month: &str, spent: &BTreeMap<String, i64>, month: &str) -> i64 {
    if month < from_month {
        return 0;
    }
    if !rollover {
        return amount;
    }
    let mut limit = amount;
    let mut m = from_month.to_owned();
    while m.as_str() < month {
        let left = limit.saturating_sub(spent.get(&m).copied().unwrap_or(0));
        limit = amount.saturating_add(left);
        match next_month(&m) {
            Some(next) => m = next,
            None => break,
        }
    }
    limit
}

/// Month-end spending at the pace so far: `spent / elapsed` (what is spent
/// when less than a day has gone).
pub fn projected(spent: i64, elapsed: f64) -> i64 {
    if elapsed <= 1.0 / 31.0 {
        return spent;
    }
    (spent as f64 / elapsed).round() as i64
}

/// `spent` as a whole percent of `limit` (rounded down; `i64::MAX` for a limit ≤ 0 with spending).
pub fn percent(spent: i64, limit: i64) -> i64 {
    if limit <= 0 {
        return if spent > 0 { i64::MAX } else { 0 };
    }
    ((i128::from(spent) * 100) / i128::from(limit)) as i64
}

/// The thresholds (percent) `spent` has reached against `limit`.
pub fn crossed(spent: i64, limit: i64, thresholds: &[u32]) -> Vec<u32> {
    thresholds.iter().copied().filter(|t| i128::from(spent) * 100 >= i128::from(limit) * i128::from(*t) && spent > 0).collect()
}

/// What a transaction of `amount` counts toward a goal counting `counts`:
/// every amount for net savings; money put into the goal's categories
/// (spending there is saving, a refund takes it back); the flow of its account.
pub fn counted(counts: &GoalCounts, amount: i64, category: Option<&str>, account: Option<&str>) -> i64 {
    match counts {
        GoalCounts::NetSavings => amount,
        GoalCounts::Categories { categories } => {
            if category.is_some_and(|c| categories.iter().any(|k| k == c)) { -amount } else { 0 }
        }
        GoalCounts::Account { account_id } => {
            if account == Some(account_id.as_str()) { amount } else { 0 }
        }
    }
}

/// How a goal stands on `today`.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalProgress {
    pub saved: i64,
    pub target: i64,
    pub percent: i64,
    /// Rupiah a month still needed to reach it by the deadline (0 when reached).
    pub needed_per_month: i64,
    /// Saved so far per month since the start.
    pub per_month_so_far: i64,
    /// At the pace so far, reached by the deadline.
    pub on_track: bool,
    pub days_left: i64,
}

/// Progress of a goal of `target` from `start` to `deadline`, having saved `saved`.
pub fn goal_progress(saved: i64, target: i64, start: NaiveDate, deadline: NaiveDate, today: NaiveDate) -> GoalProgress {
    let days_left = (deadline - today).num_days().max(0);
    let days_gone = (today - start).num_days().max(1);
    let missing = target.saturating_sub(saved).max(0);
    let months_left = (days_left as f64 / 30.44).max(1.0 / 30.44);
    let needed_per_month = if missing == 0 { 0 } else { (missing as f64 / months_left).ceil() as i64 };
    let per_day = saved as f64 / days_gone as f64;
    let per_month_so_far = (per_day * 30.44).round() as i64;
    let on_track = missing == 0 || saved as f64 + per_day * days_left as f64 >= target as f64;
    GoalProgress { saved, target, percent: percent(saved.max(0), target), needed_per_month, per_month_so_far, on_track, days_left }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn limits_roll_over_left_and_overspent_money() {
        let spent: BTreeMap<String, i64> = [("2026-09".into(), 800_000), ("2026-10".into(), 1_300_000)].into();
        assert_eq!(month_limit(1_000_000, false, "2026-09", &spent, "2026-11"), 1_000_000);
        assert_eq!(month_limit(1_000_000, true, "2026-09", &spent, "2026-09"), 1_000_000);
        // September left 200,000; October had 1,200,000 and spent 1,300,000.
        assert_eq!(month_limit(1_000_000, true, "2026-09", &spent, "2026-10"), 1_200_000);
        assert_eq!(month_limit(1_000_000, true, "2026-09", &spent, "2026-11"), 900_000);
        assert_eq!(month_limit(1_000_000, true, "2026-12", &spent, "2026-11"), 0);
        assert_eq!(next_month("2026-12").as_deref(), Some("2027-01"));
        assert_eq!(days_in("2028-02"), Some(29));
    }

    #[test]
    fn pace_and_thresholds() {
        // 16 November 00:00 WIB: half of November gone.
        let now = Utc.with_ymd_and_hms(2026, 11, 15, 17, 0, 0).unwrap();
        assert!((elapsed("2026-11", now) - 0.5).abs() < 1e-9);
        assert_eq!(elapsed("2026-12", now), 0.0);
        assert_eq!(elapsed("2026-10", now), 1.0);
        assert_eq!(projected(600_000, 0.5), 1_200_000);
        assert_eq!(crossed(799_999, 1_000_000, &[80, 100]), Vec::<u32>::new());
        assert_eq!(crossed(800_000, 1_000_000, &[80, 100]), [80]);
        assert_eq!(crossed(1_000_000, 1_000_000, &[80, 100]), [80, 100]);
        assert_eq!(crossed(0, 0, &[80, 100]), Vec::<u32>::new());
        assert_eq!(percent(1_500_000, 1_000_000), 150);
    }

    #[test]
    fn goal_progress_and_pace() {
        let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let p = goal_progress(1_000_000, 5_000_000, d(9, 1), d(12, 31), d(11, 1));
        assert_eq!(p.percent, 20);
        assert!(!p.on_track, "{p:?}");
        assert_eq!(p.days_left, 60);
        assert!(p.needed_per_month > 1_900_000 && p.needed_per_month < 2_100_000, "{p:?}");
        let done = goal_progress(5_000_000, 5_000_000, d(9, 1), d(12, 31), d(11, 1));
        assert!(done.on_track && done.needed_per_month == 0);
    }
}
