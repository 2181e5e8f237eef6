//! `advisor`: the scheduled part of the advisor. Every day at
//! `ARUS_ADVISOR_HOUR` (WIB), and once at start when today's run is
//! missing, it reads `transactions`, `budgets`, `goals` and `anomalies`
//! with DataFusion and, per person with enough history:
//!
//! - forecasts (augurs, [`arus_ml::forecast::forecast`]: MSTL with a
//!   weekly season or ETS, chosen per series on a holdout) their daily net
//!   cash flow for `ARUS_ADVISOR_HORIZON_DAYS` with 80% intervals, the
//!   balance it leads to, and each category's spending to the month's end
//!   → `forecasts`;
//! - raises a `forecast_shortfall` alert when the forecast balance goes
//!   below zero, or a goal will not be reached by its deadline at the
//!   forecast pace (once per person, subject and month);
//! - on Mondays for the week before, and on the 1st for the month before,
//!   runs the insight rules ([`arus_ml::insights`]) → `insights`, worded by
//!   the LLM narrator when one is configured ([`super::narrator`]).
//!
//! `arus job advisor --once` makes one run now with both insight periods.
//! A run again the same day writes no second insight (ids are per person,
//! period and rule) but a new set of forecasts (`run_id`).

use std::collections::{BTreeMap, HashMap, HashSet};

use arus_lakehouse::{AppendLog, Kafka, Lake, LakeSession, Producer};
use arus_ml::budget;
use arus_ml::forecast::{forecast, MIN_OBSERVATIONS};
use arus_ml::insights::{self, BudgetUse, CategorySpend, ForecastUse, GoalUse, Metrics};
use arus_schemas::advice::{forecast_kind, ForecastRow, InsightRow};
use arus_schemas::events::jakarta;
use arus_schemas::plans::{BudgetRow, GoalRow};
use arus_schemas::{categories, tables, topics, Alert, AlertKind, Config, Lang, Severity, SCHEMA_VERSION};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::narrator::Narrator;
use crate::runner::JobError;

pub const NAME: &str = "advisor";

/// Days of history a person needs before their cash flow is forecast.
pub const MIN_HISTORY_DAYS: usize = 14;
/// Days of a category's spending its month-end forecast is made from.
const CATEGORY_DAYS: i64 = 90;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AdvisorReport {
    pub people: u64,
    pub forecast_people: u64,
    pub forecast_rows: u64,
    pub insights: u64,
    pub narrated: u64,
    pub alerts: u64,
}

/// Which insight periods a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub weekly: bool,
    pub monthly: bool,
}

#[derive(Debug, Deserialize)]
struct Txn {
    user_id: String,
    amount: i64,
    category_id: Option<String>,
    account_id: Option<String>,
    occurred_at: DateTime<Utc>,
    reverses: Option<String>,
}

impl Txn {
    fn day(&self) -> NaiveDate {
        self.occurred_at.with_timezone(&jakarta()).date_naive()
    }

    /// Spending this adds to its category (a reversal of spending takes it back).
    fn spending(&self) -> i64 {
        match (self.reverses.is_some(), self.amount < 0) {
            (false, true) | (true, false) => -self.amount,
            _ => 0,
        }
    }
}

fn wib(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&jakarta()).date_naive()
}

fn at_hour(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    jakarta().from_local_datetime(&day.and_hms_opt(hour, 0, 0).expect("an hour of the day")).single().expect("WIB has no gaps").with_timezone(&Utc)
}

async fn rows<T: for<'de> Deserialize<'de>>(session: &LakeSession, table: &'static str, sql: &str) -> Result<Vec<T>, JobError> {
    let batches = session.sql(sql).await?;
    let mut out = Vec::new();
    for batch in &batches {
        let part: Vec<T> = serde_arrow::from_record_batch(batch).map_err(|e| JobError::State { job: NAME, reason: format!("reading {table}: {e}") })?;
        out.extend(part);
    }
    Ok(out)
}

/// Runs on the schedule until `shutdown`.
pub async fn run(config: &Config, shutdown: CancellationToken) -> Result<AdvisorReport, JobError> {
    let lake = Lake::new(config)?;
    let mut total = AdvisorReport::default();
    // A run missed today (the job was down at the hour) is made at once.
    let made_today = {
        let session = LakeSession::open(&lake, std::time::Duration::ZERO).await?;
        #[derive(Deserialize)]
        struct Last {
            last: Option<DateTime<Utc>>,
        }
        let last: Vec<Last> = rows(&session, "forecasts", "SELECT max(made_at) AS last FROM forecasts").await?;
        last.first().and_then(|l| l.last).is_some_and(|t| wib(t) == wib(Utc::now()))
    };
    let mut next = at_hour(wib(Utc::now()), config.advisor_hour);
    if Utc::now() >= next && made_today {
        next = at_hour(wib(Utc::now()) + Duration::days(1), config.advisor_hour);
    }
    loop {
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = shutdown.cancelled() => return Ok(total),
            () = tokio::time::sleep(wait) => {}
        }
        let now = Utc::now();
        let today = wib(now);
        let periods = Periods { weekly: today.weekday() == Weekday::Mon, monthly: today.day() == 1 };
        match run_once(config, now, periods).await {
            Ok(r) => {
                tracing::info!(job = NAME, report = ?r, "advisor run done");
                total.people += r.people;
                total.insights += r.insights;
                total.alerts += r.alerts;
            }
            Err(e) => tracing::error!(job = NAME, error = %e, "advisor run failed; trying again at the next hour"),
        }
        next = at_hour(today + Duration::days(1), config.advisor_hour);
    }
}

/// The previous complete ISO week (Monday..=Sunday) and its name.
fn last_week(today: NaiveDate) -> (NaiveDate, NaiveDate, String) {
    let this_monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let from = this_monday - Duration::days(7);
    let iso = from.iso_week();
    (from, this_monday - Duration::days(1), format!("{}-W{:02}", iso.year(), iso.week()))
}

/// The previous complete month and its name.
fn last_month(today: NaiveDate) -> (NaiveDate, NaiveDate, String) {
    let first_this = today.with_day(1).expect("day 1");
    let to = first_this - Duration::days(1);
    let from = to.with_day(1).expect("day 1");
    (from, to, budget::month_of(from))
}

fn month_words(d: NaiveDate) -> (String, String) {
    let name = |lang| arus_schemas::i18n::month_name(d.month0(), lang);
    (format!("bulan {} {}", name(Lang::Id), d.year()), format!("in {} {}", name(Lang::En), d.year()))
}

/// One run at `now`: forecasts, shortfall alerts, and the insights of `periods`.
pub async fn run_once(config: &Config, now: DateTime<Utc>, periods: Periods) -> Result<AdvisorReport, JobError> {
    let lake = Lake::new(config)?;
    let session = LakeSession::open(&lake, std::time::Duration::ZERO).await?;
    let txns: Vec<Txn> = rows(&session, "transactions", "SELECT user_id, amount, category_id, account_id, occurred_at, reverses FROM transactions").await?;
    let budgets: Vec<BudgetRow> = rows(&session, "budgets", "SELECT * FROM budgets WHERE active").await?;
    let goals: Vec<GoalRow> = rows(&session, "goals", "SELECT * FROM goals WHERE active").await?;
    #[derive(Deserialize)]
    struct Anomaly {
        user_id: String,
        day: NaiveDate,
    }
    let anomalies: Vec<Anomaly> = rows(&session, "anomalies", "SELECT user_id, day FROM anomalies").await?;
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let known: HashSet<String> = rows::<Id>(&session, "insights", "SELECT id FROM insights").await?.into_iter().map(|i| i.id).collect();
    let narrator = Narrator::from_config(config).map_err(|reason| JobError::State { job: NAME, reason })?;
    let producer = Kafka::new(config)?.producer()?;

    let mut by_user: BTreeMap<&str, Vec<&Txn>> = BTreeMap::new();
    for t in &txns {
        by_user.entry(t.user_id.as_str()).or_default().push(t);
    }
    let today = wib(now);
    let as_of = today - Duration::days(1);
    let run_id = format!("{}:{}", now.format("%Y%m%dT%H%M%S"), uuid::Uuid::new_v4().simple());
    let mut report = AdvisorReport { people: by_user.len() as u64, ..AdvisorReport::default() };
    let mut forecast_rows = Vec::new();
    let mut insight_rows = Vec::new();
    let mut alerts = Vec::new();
    let horizon = config.advisor_horizon_days;

    for (user, list) in &by_user {
        let user_goals: Vec<&GoalRow> = goals.iter().filter(|g| g.user_id == *user).collect();
        let plan = Plan::of(user, list, as_of, horizon, now, &run_id);
        let mut forecast_use = None;
        if let Some(plan) = plan {
            report.forecast_people += 1;
            forecast_use = Some(plan.summary.clone());
            if plan.summary.lowest < 0 {
                alerts.push(shortfall_balance(user, &plan.summary, today, now));
            }
            for g in &user_goals {
                let saved = saved(g, list);
                if let Some(expected) = plan.expected_by(g.deadline, saved) {
                    if saved < g.target && expected < g.target {
                        alerts.push(shortfall_goal(user, g, saved, expected, today, now));
                    }
                }
            }
            forecast_rows.extend(plan.rows);
        }
        forecast_rows.extend(month_end_rows(user, list, as_of, now, &run_id));

        let mut runs = Vec::new();
        if periods.weekly {
            let (from, to, name) = last_week(today);
            runs.push((from, to, name, "weekly", ("minggu lalu".to_owned(), "last week".to_owned())));
        }
        if periods.monthly {
            let (from, to, name) = last_month(today);
            let words = month_words(from);
            runs.push((from, to, name, "monthly", words));
        }
        for (from, to, period, cadence, (words_id, words_en)) in runs {
            let span = (to - from).num_days() + 1;
            let (prev_from, prev_to) = if cadence == "monthly" {
                let (f, t, _) = last_month(from);
                (f, t)
            } else {
                (from - Duration::days(span), from - Duration::days(1))
            };
            let metrics = Metrics {
                forecast: forecast_use.clone(),
                anomalies: anomalies.iter().filter(|a| a.user_id == *user && a.day >= from && a.day <= to).count() as i64,
                goals: user_goals.iter().map(|g| goal_use(g, list, to)).collect(),
                budgets: if cadence == "monthly" { budget_uses(user, list, &budgets, &period) } else { Vec::new() },
                ..period_metrics(list, (from, to), (prev_from, prev_to))
            };
            for mut found in insights::insights(&metrics, (&words_id, &words_en)) {
                // The period's words are facts too (`bulan Oktober 2026`).
                found.facts.insert("period".into(), serde_json::Value::String(words_id.clone()));
                let id = match &found.subject {
                    Some(s) => format!("{user}:{period}:{}:{s}", found.rule),
                    None => format!("{user}:{period}:{}", found.rule),
                };
                if known.contains(&id) {
                    continue;
                }
                let (mut narration, mut narrator_name) = (None, None);
                if let Some(n) = &narrator {
                    match n.narrate(found.rule, found.severity, &found.facts, &found.text_id, Lang::Id).await {
                        Ok(text) => {
                            report.narrated += 1;
                            (narration, narrator_name) = (Some(text), Some(n.name()));
                        }
                        Err(why) => tracing::warn!(job = NAME, insight = %id, reason = %why, "the LLM's wording is not used; the template text stands"),
                    }
                }
                insight_rows.push(InsightRow {
                    id,
                    user_id: (*user).to_owned(),
                    period: period.clone(),
                    cadence: cadence.to_owned(),
                    rule: found.rule.to_owned(),
                    severity: found.severity.to_owned(),
                    facts: serde_json::Value::Object(found.facts).to_string(),
                    text_id: found.text_id,
                    text_en: found.text_en,
                    narration,
                    narrator: narrator_name,
                    created_at: now,
                });
            }
        }
    }
    report.forecast_rows = forecast_rows.len() as u64;
    report.insights = insight_rows.len() as u64;
    // Forecasts last: their `made_at` is what tells a restarted job that
    // today's run is done. Killed before they are committed, the run is
    // made again: the insights written already are known by their ids and
    // skipped, the alerts go out again with the same ids (consumers drop
    // the repeat), and one set of forecasts lands.
    if !insight_rows.is_empty() {
        AppendLog::<InsightRow>::open(&lake, &tables::INSIGHTS).await?.append_retrying(&insight_rows).await?;
    }
    send_alerts(&producer, config, &alerts).await?;
    report.alerts = alerts.len() as u64;
    if !forecast_rows.is_empty() {
        AppendLog::<ForecastRow>::open(&lake, &tables::FORECASTS).await?.append_retrying(&forecast_rows).await?;
    }
    Ok(report)
}

async fn send_alerts(producer: &Producer, config: &Config, alerts: &[Alert]) -> Result<(), JobError> {
    let topic = config.topic(topics::ALERT);
    for alert in alerts {
        producer.send_json(&topic, &alert.user_id, alert).await?;
    }
    Ok(())
}

/// A person's cash-flow forecast.
struct Plan {
    rows: Vec<ForecastRow>,
    summary: ForecastUse,
    /// Daily net points.
    daily: Vec<f64>,
    as_of: NaiveDate,
}

impl Plan {
    fn of(user: &str, list: &[&Txn], as_of: NaiveDate, horizon: usize, now: DateTime<Utc>, run_id: &str) -> Option<Plan> {
        let first = list.iter().map(|t| t.day()).min()?;
        if first > as_of {
            return None;
        }
        let days = (as_of - first).num_days() as usize + 1;
        if days < MIN_HISTORY_DAYS.max(MIN_OBSERVATIONS) {
            return None;
        }
        let mut net = vec![0.0; days];
        let mut balance = 0i64;
        for t in list.iter().filter(|t| t.day() <= as_of) {
            net[(t.day() - first).num_days() as usize] += t.amount as f64;
            balance += t.amount;
        }
        let f = match forecast(&net, horizon, 7, Some(0.8)) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(job = NAME, user, error = %e, "no cash-flow forecast");
                return None;
            }
        };
        let lower = f.lower.clone().unwrap_or_else(|| f.point.clone());
        let upper = f.upper.clone().unwrap_or_else(|| f.point.clone());
        let mut rows = Vec::new();
        let (mut b, mut bl, mut bu) = (balance as f64, balance as f64, balance as f64);
        let (mut lowest, mut lowest_on) = (balance, as_of);
        for i in 0..f.point.len() {
            let day = as_of + Duration::days(i as i64 + 1);
            let row = |kind: &str, point: f64, lo: f64, hi: f64| ForecastRow {
                run_id: run_id.to_owned(),
                user_id: user.to_owned(),
                kind: kind.to_owned(),
                category_id: None,
                as_of,
                target_date: day,
                point: point.round() as i64,
                lower: lo.round() as i64,
                upper: hi.round() as i64,
                method: f.method.as_str().to_owned(),
                history_days: days as i64,
                made_at: now,
            };
            rows.push(row(forecast_kind::DAILY_NET, f.point[i], lower[i], upper[i]));
            (b, bl, bu) = (b + f.point[i], bl + lower[i], bu + upper[i]);
            rows.push(row(forecast_kind::BALANCE, b, bl, bu));
            if (b.round() as i64) < lowest {
                (lowest, lowest_on) = (b.round() as i64, day);
            }
        }
        let summary = ForecastUse { balance, lowest, lowest_on: lowest_on.to_string(), horizon_days: f.point.len() as i64 };
        Some(Plan { rows, summary, daily: f.point, as_of })
    }

    /// What a goal with `saved` is expected to hold on `deadline` at the
    /// forecast pace (past the horizon, its mean day); `None` when the
    /// deadline has passed.
    fn expected_by(&self, deadline: NaiveDate, saved: i64) -> Option<i64> {
        let days = (deadline - self.as_of).num_days();
        if days <= 0 {
            return None;
        }
        let within: f64 = self.daily.iter().take(days as usize).sum();
        let mean = self.daily.iter().sum::<f64>() / self.daily.len().max(1) as f64;
        let beyond = (days - self.daily.len() as i64).max(0) as f64 * mean;
        Some(saved + (within + beyond).round() as i64)
    }
}

/// Each category's spending to the end of this month: spent so far plus
/// the forecast of its remaining days.
fn month_end_rows(user: &str, list: &[&Txn], as_of: NaiveDate, now: DateTime<Utc>, run_id: &str) -> Vec<ForecastRow> {
    let month = budget::month_of(as_of + Duration::days(1));
    let Some(first) = budget::first_day(&month) else { return Vec::new() };
    let end = first + Duration::days(i64::from(budget::days_in(&month).unwrap_or(30)) - 1);
    let remaining = (end - as_of).num_days();
    let from = as_of - Duration::days(CATEGORY_DAYS - 1);
    let mut by_category: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut spent_month: HashMap<String, i64> = HashMap::new();
    for t in list {
        let (day, spend) = (t.day(), t.spending());
        if spend == 0 || day > as_of || day < from {
            continue;
        }
        let category = t.category_id.clone().unwrap_or_else(|| "other".to_owned());
        by_category.entry(category.clone()).or_insert_with(|| vec![0.0; CATEGORY_DAYS as usize])[(day - from).num_days() as usize] += spend as f64;
        if day >= first {
            *spent_month.entry(category).or_default() += spend;
        }
    }
    let mut rows = Vec::new();
    for (category, series) in by_category {
        // From the category's first spending in the window.
        let start = series.iter().position(|v| *v > 0.0).unwrap_or(0);
        let series = &series[start..];
        let so_far = spent_month.get(&category).copied().unwrap_or(0) as f64;
        let (point, lower, upper, method) = match forecast(series, remaining as usize, 7, Some(0.8)) {
            Ok(f) if remaining > 0 => {
                let sum = |v: &[f64]| v.iter().map(|x| x.max(0.0)).sum::<f64>();
                let lo = f.lower.as_deref().map_or_else(|| sum(&f.point), sum);
                let hi = f.upper.as_deref().map_or_else(|| sum(&f.point), sum);
                (so_far + sum(&f.point), so_far + lo, so_far + hi, f.method.as_str())
            }
            _ => {
                let mean = series.iter().sum::<f64>() / series.len().max(1) as f64;
                let rest = mean * remaining as f64;
                (so_far + rest, so_far, so_far + 2.0 * rest, "mean")
            }
        };
        rows.push(ForecastRow {
            run_id: run_id.to_owned(),
            user_id: user.to_owned(),
            kind: forecast_kind::MONTH_END_SPEND.to_owned(),
            category_id: Some(category),
            as_of,
            target_date: end,
            point: point.round() as i64,
            lower: lower.round() as i64,
            upper: upper.round() as i64,
            method: method.to_owned(),
            history_days: series.len() as i64,
            made_at: now,
        });
    }
    rows
}

/// What `goal` has gathered from `list` since its start.
fn saved(goal: &GoalRow, list: &[&Txn]) -> i64 {
    let counts = goal.counts();
    list.iter().filter(|t| t.day() >= goal.start).map(|t| budget::counted(&counts, t.amount, t.category_id.as_deref(), t.account_id.as_deref())).sum()
}

fn goal_use(goal: &GoalRow, list: &[&Txn], at: NaiveDate) -> GoalUse {
    let counts = goal.counts();
    let saved: i64 = list
        .iter()
        .filter(|t| t.day() >= goal.start && t.day() <= at)
        .map(|t| budget::counted(&counts, t.amount, t.category_id.as_deref(), t.account_id.as_deref()))
        .sum();
    let p = budget::goal_progress(saved, goal.target, goal.start, goal.deadline, at);
    GoalUse {
        goal_id: goal.goal_id.clone(),
        name: goal.name.clone(),
        target: goal.target,
        saved,
        percent: p.percent,
        on_track: p.on_track,
        needed_per_month: p.needed_per_month,
        deadline: goal.deadline.to_string(),
    }
}

fn names(category: &str) -> (String, String) {
    categories::by_id(category).map_or_else(|| (category.to_owned(), category.to_owned()), |c| (c.name_id.to_owned(), c.name_en.to_owned()))
}

fn budget_uses(user: &str, list: &[&Txn], budgets: &[BudgetRow], month: &str) -> Vec<BudgetUse> {
    budgets
        .iter()
        .filter(|b| b.user_id == user && b.from_month.as_str() <= month)
        .map(|b| {
            let mut by_month: BTreeMap<String, i64> = BTreeMap::new();
            for t in list.iter().filter(|t| t.category_id.as_deref() == Some(b.category_id.as_str())) {
                *by_month.entry(budget::month_of(t.day())).or_default() += t.spending();
            }
            let (name_id, name_en) = names(&b.category_id);
            BudgetUse {
                category_id: b.category_id.clone(),
                name_id,
                name_en,
                limit: budget::month_limit(b.amount, b.rollover, &b.from_month, &by_month, month),
                spent: by_month.get(month).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// Income, spending and spending per category in a period and the one before.
fn period_metrics(list: &[&Txn], (from, to): (NaiveDate, NaiveDate), (prev_from, prev_to): (NaiveDate, NaiveDate)) -> Metrics {
    let mut m = Metrics::default();
    let mut by_category: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for t in list {
        let day = t.day();
        let (now, before) = (day >= from && day <= to, day >= prev_from && day <= prev_to);
        if !now && !before {
            continue;
        }
        let spend = t.spending();
        let income = if spend == 0 && t.reverses.is_none() { t.amount.max(0) } else { 0 };
        let category = t.category_id.clone().unwrap_or_else(|| "other".to_owned());
        if now {
            m.income += income;
            m.expense += spend;
            if spend != 0 {
                by_category.entry(category).or_default().0 += spend;
            }
        } else {
            m.previous_income += income;
            m.previous_expense += spend;
            if spend != 0 {
                by_category.entry(category).or_default().1 += spend;
            }
        }
    }
    m.categories = by_category
        .into_iter()
        .map(|(category_id, (spent, previous))| {
            let (name_id, name_en) = names(&category_id);
            CategorySpend { category_id, name_id, name_en, spent, previous }
        })
        .collect();
    m
}

fn shortfall_balance(user: &str, f: &ForecastUse, today: NaiveDate, now: DateTime<Utc>) -> Alert {
    let rp = arus_ingest::money::format_rupiah;
    let mut details = serde_json::Map::new();
    details.insert("balance".into(), f.balance.into());
    details.insert("lowest_balance".into(), f.lowest.into());
    details.insert("lowest_on".into(), f.lowest_on.clone().into());
    Alert {
        schema_version: SCHEMA_VERSION,
        id: format!("shortfall:balance:{user}:{}", budget::month_of(today)),
        user_id: user.to_owned(),
        kind: AlertKind::ForecastShortfall,
        severity: Severity::Critical,
        subject_id: None,
        title: "Saldo diperkirakan minus".to_owned(),
        message: format!(
            "Dengan pola arus kas Anda, saldo bisa turun sampai {}{} sekitar tanggal {}. Kurangi pengeluaran atau siapkan dana dari sekarang.",
            if f.lowest < 0 { "minus " } else { "" },
            rp(f.lowest),
            f.lowest_on
        ),
        created_at: now,
        details,
    }
}

fn shortfall_goal(user: &str, g: &GoalRow, saved: i64, expected: i64, today: NaiveDate, now: DateTime<Utc>) -> Alert {
    let rp = arus_ingest::money::format_rupiah;
    let mut details = serde_json::Map::new();
    details.insert("target".into(), g.target.into());
    details.insert("saved".into(), saved.into());
    details.insert("expected".into(), expected.into());
    details.insert("deadline".into(), g.deadline.to_string().into());
    Alert {
        schema_version: SCHEMA_VERSION,
        id: format!("shortfall:goal:{user}:{}:{}", g.goal_id, budget::month_of(today)),
        user_id: user.to_owned(),
        kind: AlertKind::ForecastShortfall,
        severity: Severity::Warning,
        subject_id: Some(g.goal_id.clone()),
        title: format!("Target {} berisiko", g.name),
        message: format!(
            "Target {} ({}) sampai {}: terkumpul {}, dengan laju sekarang diperkirakan hanya {}. Tambah tabungan agar tercapai.",
            g.name,
            rp(g.target),
            g.deadline,
            rp(saved.max(0)),
            rp(expected.max(0))
        ),
        created_at: now,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_the_last_complete_week_and_month() {
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let (from, to, name) = last_week(sunday);
        assert_eq!((from.to_string(), to.to_string(), name.as_str()), ("2026-11-09".into(), "2026-11-15".into(), "2026-W46"));
        let (from, to, name) = last_month(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!((from.to_string(), to.to_string(), name.as_str()), ("2025-12-01".into(), "2025-12-31".into(), "2025-12"));
    }
}
