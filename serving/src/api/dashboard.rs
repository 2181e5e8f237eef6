//! Dashboards and reports, read from the aggregates the `daily-totals`
//! and `monthly-totals` jobs keep in the stream (`daily_totals`;
//! `monthly_totals` for month-by-month cash flow; never by scanning
//! `transactions`): `GET /api/v1/dashboard/summary` (income, spending, net
//! and savings rate of a period against the period before),
//! `/dashboard/cashflow` (month by month), `/dashboard/categories`,
//! `/dashboard/income-expense` (a series by day, week or month),
//! `/dashboard/partners` (a field officer's partners with tier, trend and
//! last activity) and `GET /api/v1/reports/{period}` (a month or quarter
//! as CSV or XLSX). Every read goes through the caller's row filter.

use std::collections::{BTreeMap, HashMap};

use arus_schemas::events::{jakarta, ValidationError};
use arus_schemas::lending::{Tier, TierRecord};
use arus_schemas::{categories, Lang, Role};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use datafusion::arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::expr_fn::{max, sum};
use datafusion::logical_expr::{cast, Expr};
use datafusion::prelude::{col, lit};
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::{Filter, Rejection, Reply};

use super::{collect_rows, with_state};
use crate::auth::{authenticated, Principal};
use crate::error::{lang, ApiError, ErrorBody};
use crate::rows::Scope;
use crate::State;

const TABLE: &str = "the daily_totals table";
const MONTHLY: &str = "the monthly_totals table";
/// The longest period one request may cover.
const MAX_DAYS: i64 = 3 * 366;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let base = warp::path("dashboard");
    let summary = base
        .and(warp::path("summary"))
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<RangeQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(summary);
    let cashflow = base
        .and(warp::path("cashflow"))
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<CashflowQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(cashflow);
    let categories = base
        .and(warp::path("categories"))
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<RangeQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(categories);
    let series = base
        .and(warp::path("income-expense"))
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<SeriesQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(income_expense);
    let partners = base
        .and(warp::path("partners"))
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(with_state(state.clone()))
        .and_then(partners);
    let cashflow_chart = warp::path!("dashboard" / "charts" / "cashflow.svg")
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<CashflowQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(cashflow_chart);
    let categories_chart = warp::path!("dashboard" / "charts" / "categories.svg")
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<RangeQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(categories_chart);
    let report = warp::path!("reports" / String)
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<ReportQuery>())
        .and(warp::header::optional::<String>("accept"))
        .and(lang())
        .and(with_state(state))
        .and_then(report);
    summary.or(cashflow).or(categories).or(series).or(partners).or(cashflow_chart).or(categories_chart).or(report)
}

/// A period of days (WIB), both ends included.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Only this person's (within the caller's scope).
    pub user_id: Option<String>,
    /// `YYYY-MM-DD`; the first of `to`'s month when absent.
    pub from: Option<String>,
    /// `YYYY-MM-DD`; today (WIB) when absent.
    pub to: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CashflowQuery {
    pub user_id: Option<String>,
    /// How many months, ending with `until` (1–60, default 12).
    pub months: Option<u32>,
    /// `YYYY-MM`; this month when absent.
    pub until: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    pub user_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `day`, `week` (ISO) or `month`; by day up to 62 days, else by month.
    pub by: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    pub user_id: Option<String>,
    /// `csv` or `xlsx`; else by `Accept`, CSV by default.
    pub format: Option<String>,
}

/// Money of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PeriodTotals {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Money in, whole rupiah.
    pub income: i64,
    /// Money out, as a positive amount.
    pub expense: i64,
    pub net: i64,
    /// Net as a percentage of income, one decimal; absent without income.
    pub savings_rate_pct: Option<f64>,
    pub transactions: i64,
}

/// A period and the one of the same length before it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub current: PeriodTotals,
    pub previous: PeriodTotals,
}

/// One month of cash flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonthFlow {
    /// `YYYY-MM`.
    pub month: String,
    pub income: i64,
    pub expense: i64,
    pub net: i64,
    pub transactions: i64,
}

/// What a category holds in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CategoryTotal {
    pub category_id: String,
    /// In the request's language.
    pub name: String,
    /// `income`, `household` or `business`.
    pub group: String,
    pub income: i64,
    pub expense: i64,
    pub transactions: i64,
    /// Share of the period's spending (of its income for an income category), one decimal.
    pub share_pct: f64,
}

/// One point of the income and expense series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeriesPoint {
    /// `2026-11-03`, `2026-W45` or `2026-11`.
    pub period: String,
    /// Its first day.
    pub start: NaiveDate,
    pub income: i64,
    pub expense: i64,
    pub net: i64,
}

/// A field officer's partner at a glance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartnerCard {
    pub user_id: String,
    pub name: String,
    /// The lender's customer number linked on WhatsApp, if any.
    pub customer_number: Option<String>,
    /// `bronze`, `silver` or `gold`; absent before the first repayment is tiered.
    pub tier: Option<String>,
    pub previous_tier: Option<String>,
    pub tier_since: Option<chrono::DateTime<Utc>>,
    /// `up`, `down`, `new` or `steady`: the last tier change.
    pub tier_trend: Option<String>,
    /// Net cash flow of the last 30 days and of the 30 before.
    pub net_30d: i64,
    pub net_previous_30d: i64,
    /// `up`, `down` or `flat`: the last 30 days against the 30 before.
    pub cash_trend: String,
    /// The last day with a transaction (WIB).
    pub last_activity: Option<NaiveDate>,
}

/// Today in WIB.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&jakarta()).date_naive()
}

fn invalid(field: &str, code: &str, message: String, lang: Lang) -> ApiError {
    ApiError::invalid(&[ValidationError::new(field, code, message)], lang)
}

fn date(field: &str, value: Option<&str>, lang: Lang) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|v| NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| invalid(field, "invalid_date", format!("{field} must be a date YYYY-MM-DD, not {v:?}"), lang)))
        .transpose()
}

/// The period `from`..=`to` a request asks for.
pub fn range(from: Option<&str>, to: Option<&str>, lang: Lang) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = date("to", to, lang)?.unwrap_or_else(today);
    let from = date("from", from, lang)?.unwrap_or_else(|| to.with_day(1).expect("every month has a first"));
    if to < from {
        return Err(invalid("to", "before_start", "to must not be before from".into(), lang));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid(&[ValidationError::with_param("to", "out_of_range", format!("a period spans at most {MAX_DAYS} days"), format!("≤ {MAX_DAYS} hari"))], lang));
    }
    Ok((from, to))
}

pub(crate) fn date32(d: NaiveDate) -> Expr {
    let days = (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch")).num_days();
    lit(ScalarValue::Date32(Some(days as i32)))
}

fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// `daily_totals` of `scope` within `from..=to`, pruned to its months' partitions.
pub(crate) async fn frame(state: &State, scope: &Scope, from: NaiveDate, to: NaiveDate) -> Result<DataFrame, ApiError> {
    let frame = state.tables.scoped(scope, "daily_totals").await?;
    let within = col("month")
        .gt_eq(lit(month_of(from)))
        .and(col("month").lt_eq(lit(month_of(to))))
        .and(col("day").gt_eq(date32(from)))
        .and(col("day").lt_eq(date32(to)));
    frame.filter(within).map_err(|e| ApiError::unavailable(TABLE, &e))
}

#[derive(Debug, Deserialize)]
struct MonthCategory {
    month: String,
    category_id: String,
    income: Option<i64>,
    expense: Option<i64>,
    count: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Grouped {
    key: Option<String>,
    income: Option<i64>,
    expense: Option<i64>,
    count: Option<i64>,
}

/// Money in, money out and transactions, summed: what every dashboard query adds up.
fn money_sums() -> Vec<Expr> {
    vec![sum(col("income")).alias("income"), sum(col("expense")).alias("expense"), sum(col("count")).alias("count")]
}

/// Sums of `frame` per value of `by` (as text).
async fn grouped(frame: DataFrame, by: &str, table: &str) -> Result<BTreeMap<String, (i64, i64, i64)>, ApiError> {
    let frame = frame.aggregate(vec![cast(col(by), DataType::Utf8).alias("key")], money_sums()).map_err(|e| ApiError::unavailable(table, &e))?;
    let rows: Vec<Grouped> = collect_rows(frame, table).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.count.unwrap_or(0) != 0 || r.income.unwrap_or(0) != 0 || r.expense.unwrap_or(0) != 0)
        .map(|r| (r.key.unwrap_or_default(), (r.income.unwrap_or(0), r.expense.unwrap_or(0), r.count.unwrap_or(0))))
        .collect())
}

fn pct(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn period_totals(from: NaiveDate, to: NaiveDate, (income, expense, transactions): (i64, i64, i64)) -> PeriodTotals {
    PeriodTotals { from, to, income, expense, net: income - expense, savings_rate_pct: pct(income - expense, income), transactions }
}

fn scope_of(principal: &Principal, state: &State, user_id: Option<String>) -> Option<Scope> {
    Scope::of_or_one(principal, &state.auth, user_id)
}

/// Nobody's rows: a scope that is asked for someone outside it.
fn nobody() -> Scope {
    Scope::Tenants(vec![])
}

#[utoipa::path(get, path = "/api/v1/dashboard/summary", operation_id = "dashboard_summary", tag = "dashboard", security(("bearer" = [])), params(RangeQuery),
    responses((status = 200, description = "Income, spending, net and savings rate of the period (this month by default) and of the period of the same length before it", body = Summary),
        (status = 401, body = ErrorBody), (status = 422, description = "A bad date or period", body = ErrorBody)))]
pub(crate) async fn summary(principal: Principal, query: RangeQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let (from, to) = range(query.from.as_deref(), query.to.as_deref(), lang)?;
    let scope = scope_of(&principal, &state, query.user_id).unwrap_or_else(nobody);
    let days = (to - from).num_days() + 1;
    let (prev_from, prev_to) = (from - Duration::days(days), from - Duration::days(1));
    // One read of both periods, summed apart: a scan's planning costs more
    // than the few rows of one person's days it reads.
    let both = frame(&state, &scope, prev_from, to).await?.with_column("current", col("day").gt_eq(date32(from))).map_err(|e| ApiError::unavailable(TABLE, &e))?;
    let sums = grouped(both, "current", TABLE).await?;
    let of = |key: &str| sums.get(key).copied().unwrap_or_default();
    let (current, previous) = (period_totals(from, to, of("true")), period_totals(prev_from, prev_to, of("false")));
    Ok(warp::reply::json(&Summary { current, previous }).into_response())
}

fn month_start(month: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).expect("a month's first day")
}

fn month_end(d: NaiveDate) -> NaiveDate {
    add_months(d, 1) - Duration::days(1)
}

/// Months `from..=to` with their sums (zero for months without any), from
/// `monthly_totals`: a year is one partition.
async fn months(state: &State, scope: &Scope, first: NaiveDate, last: NaiveDate) -> Result<Vec<MonthFlow>, ApiError> {
    let within = col("year")
        .gt_eq(lit(first.year().to_string()))
        .and(col("year").lt_eq(lit(last.year().to_string())))
        .and(col("month").gt_eq(lit(month_of(first))))
        .and(col("month").lt_eq(lit(month_of(last))));
    let frame = state.tables.scoped(scope, "monthly_totals").await?.filter(within).map_err(|e| ApiError::unavailable(MONTHLY, &e))?;
    Ok(month_flows(&grouped(frame, "month", MONTHLY).await?, first, last))
}

/// Months `first..=last` of per-month sums, zero for months without any.
fn month_flows(sums: &BTreeMap<String, (i64, i64, i64)>, first: NaiveDate, last: NaiveDate) -> Vec<MonthFlow> {
    let mut out = Vec::new();
    let mut m = first;
    while m <= last {
        let key = month_of(m);
        let (income, expense, transactions) = sums.get(&key).copied().unwrap_or_default();
        out.push(MonthFlow { month: key, income, expense, net: income - expense, transactions });
        m = add_months(m, 1);
    }
    out
}

/// The months of a cash-flow request, and whose.
fn cashflow_months(principal: &Principal, query: CashflowQuery, lang: Lang, state: &State) -> Result<(NaiveDate, NaiveDate, Scope), ApiError> {
    let count = query.months.unwrap_or(12);
    if !(1..=60).contains(&count) {
        return Err(ApiError::invalid(&[ValidationError::with_param("months", "out_of_range", "months must be 1 to 60", "1–60")], lang));
    }
    let last = match query.until.as_deref() {
        Some(m) => month_start(m).ok_or_else(|| invalid("until", "invalid_month", "until must be YYYY-MM".into(), lang))?,
        None => today().with_day(1).expect("a first"),
    };
    let first = add_months(last, 1 - count as i32);
    Ok((first, last, scope_of(principal, state, query.user_id).unwrap_or_else(nobody)))
}

fn svg(body: String) -> warp::reply::Response {
    let mut response = warp::reply::Response::new(body.into());
    response.headers_mut().insert("content-type", warp::http::HeaderValue::from_static("image/svg+xml; charset=utf-8"));
    response
}

#[utoipa::path(get, path = "/api/v1/dashboard/charts/cashflow.svg", operation_id = "dashboard_cashflow_chart", tag = "dashboard", security(("bearer" = [])), params(CashflowQuery),
    responses((status = 200, description = "The cash flow as an accessible SVG bar chart (title and description in the request's language)", content_type = "image/svg+xml"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn cashflow_chart(principal: Principal, query: CashflowQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let (first, last, scope) = cashflow_months(&principal, query, lang, &state)?;
    Ok(svg(crate::charts::cashflow(&months(&state, &scope, first, last).await?, lang)))
}

#[utoipa::path(get, path = "/api/v1/dashboard/charts/categories.svg", operation_id = "dashboard_categories_chart", tag = "dashboard", security(("bearer" = [])), params(RangeQuery),
    responses((status = 200, description = "Spending per category (the eight largest) as an accessible SVG bar chart", content_type = "image/svg+xml"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn categories_chart(principal: Principal, query: RangeQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let (from, to) = range(query.from.as_deref(), query.to.as_deref(), lang)?;
    let scope = scope_of(&principal, &state, query.user_id).unwrap_or_else(nobody);
    Ok(svg(crate::charts::categories(&category_totals(&state, &scope, from, to, lang).await?, lang)))
}

#[utoipa::path(get, path = "/api/v1/dashboard/cashflow", operation_id = "dashboard_cashflow", tag = "dashboard", security(("bearer" = [])), params(CashflowQuery),
    responses((status = 200, description = "Income, spending and net per month, oldest first, months without transactions included", body = [MonthFlow]),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn cashflow(principal: Principal, query: CashflowQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let (first, last, scope) = cashflow_months(&principal, query, lang, &state)?;
    Ok(warp::reply::json(&months(&state, &scope, first, last).await?).into_response())
}

fn category_name(id: &str, lang: Lang) -> (String, String) {
    match categories::by_id(id) {
        Some(c) => (
            if lang == Lang::Id { c.name_id } else { c.name_en }.to_owned(),
            match c.group {
                categories::CategoryGroup::Income => "income",
                categories::CategoryGroup::Household => "household",
                categories::CategoryGroup::Business => "business",
            }
            .to_owned(),
        ),
        None => (id.to_owned(), "household".to_owned()),
    }
}

async fn category_totals(state: &State, scope: &Scope, from: NaiveDate, to: NaiveDate, lang: Lang) -> Result<Vec<CategoryTotal>, ApiError> {
    Ok(by_category(grouped(frame(state, scope, from, to).await?, "category_id", TABLE).await?, lang))
}

/// Category totals of per-category sums, most spending first.
fn by_category(sums: BTreeMap<String, (i64, i64, i64)>, lang: Lang) -> Vec<CategoryTotal> {
    let (all_income, all_expense) = sums.values().fold((0, 0), |(i, e), s| (i + s.0, e + s.1));
    let mut out: Vec<CategoryTotal> = sums
        .into_iter()
        .map(|(id, (income, expense, transactions))| {
            let (name, group) = category_name(&id, lang);
            let share = if group == "income" { pct(income, all_income) } else { pct(expense, all_expense) };
            CategoryTotal { category_id: id, name, group, income, expense, transactions, share_pct: share.unwrap_or(0.0) }
        })
        .collect();
    out.sort_by(|a, b| b.expense.cmp(&a.expense).then(b.income.cmp(&a.income)).then(a.category_id.cmp(&b.category_id)));
    out
}

#[utoipa::path(get, path = "/api/v1/dashboard/categories", operation_id = "dashboard_categories", tag = "dashboard", security(("bearer" = [])), params(RangeQuery),
    responses((status = 200, description = "Money in and out per category in the period, most spending first", body = [CategoryTotal]),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn categories(principal: Principal, query: RangeQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let (from, to) = range(query.from.as_deref(), query.to.as_deref(), lang)?;
    let scope = scope_of(&principal, &state, query.user_id).unwrap_or_else(nobody);
    Ok(warp::reply::json(&category_totals(&state, &scope, from, to, lang).await?).into_response())
}

/// The bucket of `day`: its name and first day.
fn bucket(day: NaiveDate, by: &str) -> (String, NaiveDate) {
    match by {
        "week" => {
            let week = day.iso_week();
            (format!("{}-W{:02}", week.year(), week.week()), day - Duration::days(i64::from(day.weekday().num_days_from_monday())))
        }
        "month" => (month_of(day), day.with_day(1).expect("a first")),
        _ => (day.to_string(), day),
    }
}

#[utoipa::path(get, path = "/api/v1/dashboard/income-expense", operation_id = "dashboard_income_expense", tag = "dashboard", security(("bearer" = [])), params(SeriesQuery),
    responses((status = 200, description = "Income and spending per day, ISO week or month of the period, empty buckets included", body = [SeriesPoint]),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn income_expense(principal: Principal, query: SeriesQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let (from, to) = range(query.from.as_deref(), query.to.as_deref(), lang)?;
    let by = match query.by.as_deref() {
        None if (to - from).num_days() < 62 => "day",
        None => "month",
        Some(b @ ("day" | "week" | "month")) => b,
        Some(other) => {
            return Err(ApiError::invalid(&[ValidationError::with_param("by", "not_one_of", format!("by must be day, week or month, not {other:?}"), "day, week, month")], lang).into())
        }
    };
    let scope = scope_of(&principal, &state, query.user_id).unwrap_or_else(nobody);
    let by_day = grouped(frame(&state, &scope, from, to).await?, "day", TABLE).await?;
    let mut points: BTreeMap<NaiveDate, SeriesPoint> = BTreeMap::new();
    let mut d = from;
    while d <= to {
        let (period, start) = bucket(d, by);
        points.entry(start).or_insert(SeriesPoint { period, start, income: 0, expense: 0, net: 0 });
        d += Duration::days(1);
    }
    for (day, (income, expense, _)) in by_day {
        let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else { continue };
        if let Some(p) = points.get_mut(&bucket(day, by).1) {
            p.income += income;
            p.expense += expense;
            p.net = p.income - p.expense;
        }
    }
    Ok(warp::reply::json(&points.into_values().collect::<Vec<_>>()).into_response())
}

#[derive(Debug, Deserialize)]
struct LastDay {
    user_id: String,
    last: Option<NaiveDate>,
}

fn tier_rank(t: Tier) -> u8 {
    match t {
        Tier::Bronze => 0,
        Tier::Silver => 1,
        Tier::Gold => 2,
    }
}

#[utoipa::path(get, path = "/api/v1/dashboard/partners", operation_id = "dashboard_partners", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, description = "A field officer's partners (every partner for analysts and admins) with tier, its last change, cash-flow trend and last activity; the activity figures are read again at most every partners_refresh_ms once the lake changed, so they may lag it that long", body = [PartnerCard]),
        (status = 401, body = ErrorBody), (status = 403, description = "Not an officer, analyst or admin", body = ErrorBody)))]
pub(crate) async fn partners(principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require(&[Role::Officer, Role::Analyst, Role::Admin])?;
    let people: Vec<_> = match principal.role {
        Role::Officer => state.auth.partners_of(&principal.user_id).into_iter().filter_map(|id| state.auth.user(&id)).collect(),
        _ => state.auth.users().into_iter().filter(|u| u.role == Role::User).collect(),
    };
    if people.is_empty() {
        return Ok(warp::reply::json(&Vec::<PartnerCard>::new()).into_response());
    }
    let ids: Vec<String> = people.iter().map(|u| u.user_id.clone()).collect();
    let activity = crate::activity::ActivityIndex::current(&state).await?;
    // Last activity: the index has the 60 days up to today; only the
    // partners quiet all that time cost a look further back.
    let mut last: HashMap<String, Option<NaiveDate>> = ids.iter().filter_map(|id| Some((id.clone(), Some(activity.of(id).last?)))).collect();
    let quiet: Vec<String> = ids.iter().filter(|id| !last.contains_key(*id)).cloned().collect();
    if !quiet.is_empty() {
        let window_from = activity.today - Duration::days(59);
        let before = state
            .tables
            .scoped(&Scope::Tenants(quiet), "daily_totals")
            .await?
            .filter(col("month").lt_eq(lit(month_of(window_from))).and(col("day").lt(date32(window_from))).and(col("count").gt(lit(0i64))))
            .and_then(|f| f.aggregate(vec![col("user_id")], vec![max(col("day")).alias("last")]))
            .map_err(|e| ApiError::unavailable(TABLE, &e))?;
        last.extend(collect_rows::<LastDay>(before, TABLE).await?.into_iter().map(|l| (l.user_id, l.last)));
    }
    let customers = state.links.customers_of(&ids).await.map_err(|e| ApiError::unavailable("the whatsapp_links table", &e))?;
    let numbers: Vec<String> = customers.values().cloned().collect();
    let mut tiers: HashMap<String, TierRecord> = HashMap::new();
    if !numbers.is_empty() {
        let frame = state.tables.lending_of("tiers", &numbers).await?;
        for t in collect_rows::<TierRecord>(frame, "the tiers table").await? {
            if tiers.get(&t.customer_number).is_none_or(|seen| seen.seq < t.seq) {
                tiers.insert(t.customer_number.clone(), t);
            }
        }
    }
    let mut cards: Vec<PartnerCard> = people
        .iter()
        .map(|u| {
            let customer = customers.get(&u.user_id).cloned();
            let tier = customer.as_ref().and_then(|c| tiers.get(c));
            let crate::activity::Recent { net_30d, net_previous_30d, .. } = activity.of(&u.user_id);
            PartnerCard {
                user_id: u.user_id.clone(),
                name: u.display_name.clone(),
                customer_number: customer,
                tier: tier.map(|t| t.tier.as_str().to_owned()),
                previous_tier: tier.and_then(|t| t.previous_tier).map(|p| p.as_str().to_owned()),
                tier_since: tier.map(|t| t.decided_at),
                tier_trend: tier.map(|t| {
                    match t.previous_tier {
                        None => "new",
                        Some(p) if tier_rank(p) < tier_rank(t.tier) => "up",
                        Some(p) if tier_rank(p) > tier_rank(t.tier) => "down",
                        Some(_) => "steady",
                    }
                    .to_owned()
                }),
                net_30d,
                net_previous_30d,
                cash_trend: match net_30d.cmp(&net_previous_30d) {
                    std::cmp::Ordering::Greater => "up",
                    std::cmp::Ordering::Less => "down",
                    std::cmp::Ordering::Equal => "flat",
                }
                .to_owned(),
                last_activity: last.get(&u.user_id).copied().flatten(),
            }
        })
        .collect();
    cards.sort_by(|a, b| b.last_activity.cmp(&a.last_activity).then(a.name.cmp(&b.name)));
    Ok(warp::reply::json(&cards).into_response())
}

/// A month (`2026-10`) or quarter (`2026-Q3`): its name, first and last day.
pub fn report_period(period: &str) -> Option<(NaiveDate, NaiveDate)> {
    if let Some((year, q)) = period.split_once("-Q") {
        let (year, q): (i32, u32) = (year.parse().ok()?, q.parse().ok()?);
        if !(1..=4).contains(&q) || year.to_string().len() != 4 {
            return None;
        }
        let first = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1)?;
        return Some((first, month_end(add_months(first, 2))));
    }
    if period.len() != 7 {
        return None;
    }
    let first = month_start(period)?;
    Some((first, month_end(first)))
}

/// What a report holds.
pub struct Report {
    pub period: String,
    pub totals: PeriodTotals,
    pub months: Vec<MonthFlow>,
    pub categories: Vec<CategoryTotal>,
    pub lang: Lang,
}

impl Report {
    /// The report of `from..=to` from one read of the period, summed per
    /// month and category: the total, each month and each category are
    /// sums of those sums.
    async fn of(state: &State, scope: &Scope, period: &str, from: NaiveDate, to: NaiveDate, lang: Lang) -> Result<Report, ApiError> {
        let frame = frame(state, scope, from, to)
            .await?
            .aggregate(
                vec![cast(col("month"), DataType::Utf8).alias("month"), cast(col("category_id"), DataType::Utf8).alias("category_id")],
                money_sums(),
            )
            .map_err(|e| ApiError::unavailable(TABLE, &e))?;
        let (mut months, mut categories) = (BTreeMap::<String, (i64, i64, i64)>::new(), BTreeMap::<String, (i64, i64, i64)>::new());
        for r in collect_rows::<MonthCategory>(frame, TABLE).await? {
            let sums = (r.income.unwrap_or(0), r.expense.unwrap_or(0), r.count.unwrap_or(0));
            if sums == (0, 0, 0) {
                continue;
            }
            for (map, key) in [(&mut months, r.month), (&mut categories, r.category_id)] {
                let e = map.entry(key).or_default();
                *e = (e.0 + sums.0, e.1 + sums.1, e.2 + sums.2);
            }
        }
        let (income, expense, transactions) = months.values().fold((0, 0, 0), |t, s| (t.0 + s.0, t.1 + s.1, t.2 + s.2));
        let totals = period_totals(from, to, (income, expense, transactions));
        Ok(Report {
            period: period.to_owned(),
            totals,
            months: month_flows(&months, from, to.with_day(1).expect("a first")),
            categories: by_category(categories, lang),
            lang,
        })
    }

    fn headers(&self) -> [&'static str; 8] {
        match self.lang {
            Lang::Id => ["bagian", "periode", "kategori_id", "kategori", "pemasukan", "pengeluaran", "selisih", "transaksi"],
            Lang::En => ["section", "period", "category_id", "category", "income", "expense", "net", "transactions"],
        }
    }

    fn lines(&self) -> Vec<(String, String, String, String, i64, i64, i64, i64)> {
        let (total, month, category) = match self.lang {
            Lang::Id => ("total", "bulan", "kategori"),
            Lang::En => ("total", "month", "category"),
        };
        let t = &self.totals;
        let mut out = vec![(total.to_owned(), self.period.clone(), String::new(), String::new(), t.income, t.expense, t.net, t.transactions)];
        for m in &self.months {
            out.push((month.to_owned(), m.month.clone(), String::new(), String::new(), m.income, m.expense, m.net, m.transactions));
        }
        for c in &self.categories {
            out.push((category.to_owned(), self.period.clone(), c.category_id.clone(), c.name.clone(), c.income, c.expense, c.income - c.expense, c.transactions));
        }
        out
    }

    /// One table: the total, then each month, then each category.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.headers())?;
        for (a, b, c, d, income, expense, net, count) in self.lines() {
            w.write_record([a, b, c, d, income.to_string(), expense.to_string(), net.to_string(), count.to_string()])?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// A workbook: a summary sheet (totals and months) and a category sheet,
    /// amounts as whole-rupiah numbers.
    pub fn xlsx(&self) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        use rust_xlsxwriter::{Format, Workbook};
        let id = self.lang == Lang::Id;
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let money = Format::new().set_num_format("#,##0");
        let h = self.headers();
        let summary = book.add_worksheet().set_name(if id { "Ringkasan" } else { "Summary" })?;
        summary.write_string_with_format(0, 0, if id { format!("Laporan keuangan {}", self.period) } else { format!("Financial report {}", self.period) }, &bold)?;
        summary.write_string(1, 0, format!("{} – {}", self.totals.from, self.totals.to))?;
        for (i, label) in [h[1], h[4], h[5], h[6], h[7]].iter().enumerate() {
            summary.write_string_with_format(3, i as u16, *label, &bold)?;
        }
        let t = &self.totals;
        let mut rows: Vec<(String, i64, i64, i64, i64)> = vec![(self.period.clone(), t.income, t.expense, t.net, t.transactions)];
        rows.extend(self.months.iter().map(|m| (m.month.clone(), m.income, m.expense, m.net, m.transactions)));
        for (r, (name, income, expense, net, count)) in rows.into_iter().enumerate() {
            let row = 4 + r as u32;
            summary.write_string(row, 0, name)?;
            for (c, v) in [income, expense, net].into_iter().enumerate() {
                summary.write_number_with_format(row, 1 + c as u16, v as f64, &money)?;
            }
            summary.write_number(row, 4, count as f64)?;
        }
        if let Some(rate) = t.savings_rate_pct {
            let row = 6 + self.months.len() as u32;
            summary.write_string(row, 0, if id { "Tingkat tabungan (%)" } else { "Savings rate (%)" })?;
            summary.write_number(row, 1, rate)?;
        }
        summary.set_column_width(0, 22)?;
        summary.set_column_range_width(1, 3, 16)?;
        let sheet = book.add_worksheet().set_name(if id { "Kategori" } else { "Categories" })?;
        for (i, label) in [h[2], h[3], h[4], h[5], h[6], h[7]].iter().enumerate() {
            sheet.write_string_with_format(0, i as u16, *label, &bold)?;
        }
        for (r, c) in self.categories.iter().enumerate() {
            let row = 1 + r as u32;
            sheet.write_string(row, 0, &c.category_id)?;
            sheet.write_string(row, 1, &c.name)?;
            for (i, v) in [c.income, c.expense, c.income - c.expense].into_iter().enumerate() {
                sheet.write_number_with_format(row, 2 + i as u16, v as f64, &money)?;
            }
            sheet.write_number(row, 5, c.transactions as f64)?;
        }
        sheet.set_column_range_width(0, 1, 24)?;
        sheet.set_column_range_width(2, 4, 16)?;
        book.save_to_buffer()
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[utoipa::path(get, path = "/api/v1/reports/{period}", operation_id = "get_report", tag = "dashboard", security(("bearer" = [])),
    params(("period" = String, Path, description = "a month `2026-10` or a quarter `2026-Q3`"), ReportQuery),
    responses((status = 200, description = "The period's totals, months and categories as CSV (one table) or XLSX (a summary and a category sheet), in the request's language", content_type = "text/csv"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn report(period: String, principal: Principal, query: ReportQuery, accept: Option<String>, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let Some((from, to)) = report_period(&period) else {
        return Err(invalid("period", "invalid_period", format!("period must be a month YYYY-MM or a quarter YYYY-Qn, not {period:?}"), lang).into());
    };
    let xlsx = match query.format.as_deref() {
        Some("xlsx") => true,
        Some("csv") => false,
        Some(other) => {
            return Err(ApiError::invalid(&[ValidationError::with_param("format", "not_one_of", format!("format must be csv or xlsx, not {other:?}"), "csv, xlsx")], lang).into())
        }
        None => accept.is_some_and(|a| a.contains(XLSX)),
    };
    let scope = scope_of(&principal, &state, query.user_id).unwrap_or_else(nobody);
    let report = Report::of(&state, &scope, &period, from, to, lang).await?;
    let internal = |e: &dyn std::fmt::Display| ApiError::internal(warp::http::StatusCode::INTERNAL_SERVER_ERROR, "the report could not be written", e);
    let (bytes, content_type, ext) = if xlsx {
        (report.xlsx().map_err(|e| internal(&e))?, XLSX, "xlsx")
    } else {
        (report.csv().map_err(|e| internal(&e))?, "text/csv; charset=utf-8", "csv")
    };
    let name = if lang == Lang::Id { "laporan" } else { "report" };
    let mut response = warp::reply::Response::new(bytes.into());
    let headers = response.headers_mut();
    headers.insert("content-type", warp::http::HeaderValue::from_static(content_type));
    if let Ok(v) = warp::http::HeaderValue::from_str(&format!("attachment; filename=\"arus-{name}-{period}.{ext}\"")) {
        headers.insert("content-disposition", v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn report_periods_are_months_and_quarters() {
        assert_eq!(report_period("2026-10"), Some((d("2026-10-01"), d("2026-10-31"))));
        assert_eq!(report_period("2024-02"), Some((d("2024-02-01"), d("2024-02-29"))));
        assert_eq!(report_period("2026-Q4"), Some((d("2026-10-01"), d("2026-12-31"))));
        assert_eq!(report_period("2026-Q1"), Some((d("2026-01-01"), d("2026-03-31"))));
        for bad in ["2026-Q5", "2026-Q0", "2026-13", "2026-1", "26-Q1", "oktober", ""] {
            assert_eq!(report_period(bad), None, "{bad}");
        }
    }

    #[test]
    fn buckets_are_days_iso_weeks_and_months() {
        assert_eq!(bucket(d("2026-11-05"), "day"), ("2026-11-05".to_owned(), d("2026-11-05")));
        // Thursday 5 November 2026 is in ISO week 45, which starts on Monday 2 November.
        assert_eq!(bucket(d("2026-11-05"), "week"), ("2026-W45".to_owned(), d("2026-11-02")));
        // 1 January 2027 (a Friday) still belongs to 2026's week 53.
        assert_eq!(bucket(d("2027-01-01"), "week"), ("2026-W53".to_owned(), d("2026-12-28")));
        assert_eq!(bucket(d("2026-11-05"), "month"), ("2026-11".to_owned(), d("2026-11-01")));
    }

    #[test]
    fn ranges_default_to_this_month_and_refuse_bad_ones() {
        let (from, to) = range(None, Some("2026-11-20"), Lang::En).unwrap();
        assert_eq!((from, to), (d("2026-11-01"), d("2026-11-20")));
        assert!(range(Some("2026-11-21"), Some("2026-11-20"), Lang::En).is_err());
        assert!(range(Some("2026-13-01"), None, Lang::En).is_err());
        assert!(range(Some("2020-01-01"), Some("2026-01-01"), Lang::En).is_err());
        assert_eq!(add_months(d("2026-11-01"), -11), d("2025-12-01"));
        assert_eq!(month_end(d("2026-02-01")), d("2026-02-28"));
    }

    #[test]
    fn a_report_reads_as_csv_and_as_a_workbook() {
        let report = Report {
            period: "2026-Q3".into(),
            totals: PeriodTotals { from: d("2026-07-01"), to: d("2026-09-30"), income: 3_000_000, expense: 1_200_000, net: 1_800_000, savings_rate_pct: Some(60.0), transactions: 12 },
            months: vec![MonthFlow { month: "2026-07".into(), income: 3_000_000, expense: 1_200_000, net: 1_800_000, transactions: 12 }],
            categories: vec![CategoryTotal {
                category_id: "food_drink".into(),
                name: "Makanan & Minuman".into(),
                group: "household".into(),
                income: 0,
                expense: 1_200_000,
                transactions: 10,
                share_pct: 100.0,
            }],
            lang: Lang::Id,
        };
        let csv = String::from_utf8(report.csv().unwrap()).unwrap();
        assert_eq!(
            csv,
            "bagian,periode,kategori_id,kategori,pemasukan,pengeluaran,selisih,transaksi\n\
             total,2026-Q3,,,3000000,1200000,1800000,12\n\
             bulan,2026-07,,,3000000,1200000,1800000,12\n\
             kategori,2026-Q3,food_drink,Makanan & Minuman,0,1200000,-1200000,10\n"
        );
        let xlsx = report.xlsx().unwrap();
        assert_eq!(&xlsx[..2], b"PK", "an XLSX is a zip");
    }
}
