//! `/api/v1/budgets` and `/api/v1/goals`: a person's monthly budgets per
//! category and savings goals. Changes are events on `arus.plan.v1` (202:
//! the `plan-budgets` / `plan-goals` jobs apply them within their commit
//! latency); reads come from the `budgets` and `goals` tables through the
//! row filter, with this month's spending and each goal's progress
//! computed from `transactions`.

use std::collections::{BTreeMap, HashMap};

use arus_ml::budget::{self, goal_progress};
use arus_schemas::events::jakarta;
use arus_schemas::plans::{slug, Budget, BudgetRow, Goal, GoalCounts, GoalRow, PlanChange, PlanEvent};
use arus_schemas::{categories, topics, AuditOutcome, Lang, ValidationError, SCHEMA_VERSION};
use chrono::{NaiveDate, Utc};
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::prelude::{col, lit};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::{collect_rows, with_state};
use crate::audit::Audit;
use crate::auth::{authenticated, Principal};
use crate::error::{decode_json, lang, ApiError, ErrorBody};
use crate::observe::{request_info, RequestInfo};
use crate::rows::Scope;
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.config.http_max_body_bytes;
    let list_budgets = warp::path("budgets")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<PlanQuery>())
        .and(with_state(state.clone()))
        .and_then(list_budgets);
    let set_budget = warp::path("budgets")
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(lang())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(set_budget);
    let remove_budget = warp::path!("budgets" / String)
        .and(warp::delete())
        .and(authenticated(state.clone()))
        .and(warp::query::<PlanQuery>())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(remove_budget);
    let list_goals = warp::path("goals")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<PlanQuery>())
        .and(with_state(state.clone()))
        .and_then(list_goals);
    let set_goal = warp::path("goals")
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(lang())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(set_goal);
    let remove_goal = warp::path!("goals" / String)
        .and(warp::delete())
        .and(authenticated(state.clone()))
        .and(warp::query::<PlanQuery>())
        .and(request_info())
        .and(with_state(state))
        .and_then(remove_goal);
    list_budgets.or(set_budget).or(remove_budget).or(list_goals).or(set_goal).or(remove_goal)
}

/// Whose plans, and which month's spending.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// Only this person's (within the caller's scope); for a change, the person it is for.
    pub user_id: Option<String>,
    /// `YYYY-MM` (WIB) for the spending shown with budgets; this month when absent.
    pub month: Option<String>,
}

/// The month now, in WIB.
pub fn this_month() -> String {
    Utc::now().with_timezone(&jakarta()).format("%Y-%m").to_string()
}

fn today() -> NaiveDate {
    Utc::now().with_timezone(&jakarta()).date_naive()
}

/// The scope a list is read in: the caller's, or one person in it.
fn list_scope(principal: &Principal, state: &State, user_id: Option<String>) -> Option<Scope> {
    Scope::of_or_one(principal, &state.auth, user_id)
}

/// The person a change is for: the caller, or someone they act for.
fn owner(principal: &Principal, state: &State, user_id: Option<String>, errors: &mut Vec<ValidationError>) -> String {
    let user_id = user_id.unwrap_or_else(|| principal.user_id.clone());
    if !Scope::of(principal, &state.auth).allows(&user_id) {
        errors.push(ValidationError::new("user_id", "not_found", "user_id names nobody you act for"));
    }
    user_id
}

/// What a change request is told.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanAccepted {
    /// The budget's category or the goal's id.
    pub id: String,
    /// The event's id on `arus.plan.v1`.
    pub event_id: String,
    /// Always `accepted`: applied by the plan jobs.
    pub status: String,
}

async fn publish(state: &State, principal: &Principal, user_id: &str, change: PlanChange) -> Result<String, ApiError> {
    let event = PlanEvent {
        schema_version: SCHEMA_VERSION,
        id: format!("api:{}", uuid::Uuid::new_v4()),
        user_id: user_id.to_owned(),
        actor_id: principal.user_id.clone(),
        channel: "api".into(),
        at: Utc::now(),
        change,
    };
    state
        .producer
        .send_json(&state.config.topic(topics::PLAN), user_id, &event)
        .await
        .map_err(|e| ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the change could not be queued; retry", &e))?;
    Ok(event.id)
}

fn accepted(id: &str, event_id: String) -> warp::reply::Response {
    let body = PlanAccepted { id: id.to_owned(), event_id, status: "accepted".into() };
    warp::reply::with_status(warp::reply::json(&body), StatusCode::ACCEPTED).into_response()
}

/// A budget to set (or change).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBudget {
    #[serde(default)]
    pub user_id: Option<String>,
    /// A category id or its Indonesian or English name (`food_drink`, `Makanan`).
    pub category: String,
    /// Whole rupiah a month.
    pub amount: i64,
    #[serde(default)]
    pub rollover: bool,
    /// `YYYY-MM`; this month when absent.
    #[serde(default)]
    pub from_month: Option<String>,
}

/// A budget with the chosen month's spending against it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BudgetStatus {
    pub user_id: String,
    pub category_id: String,
    pub category_name: String,
    pub amount: i64,
    pub rollover: bool,
    pub from_month: String,
    pub month: String,
    /// The month's limit: the budget plus what rolled over.
    pub limit: i64,
    pub spent: i64,
    pub remaining: i64,
    pub percent: i64,
    /// Month-end spending at the pace so far.
    pub projected: i64,
    pub elapsed_percent: i64,
    /// `ok`, `warning` (a threshold below 100% reached, or the pace leads over the limit), `over`.
    pub state: String,
}

#[derive(Deserialize)]
struct MonthSpend {
    user_id: String,
    category_id: Option<String>,
    month: String,
    spent: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/budgets", operation_id = "list_budgets", tag = "plans", security(("bearer" = [])), params(PlanQuery),
    responses((status = 200, description = "Active budgets in the caller's scope with the month's spending", body = [BudgetStatus]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn list_budgets(principal: Principal, query: PlanQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let month = query.month.clone().unwrap_or_else(this_month);
    if !arus_schemas::plans::is_month(&month) {
        return Err(ApiError::invalid(&[ValidationError::new("month", "invalid_month", "month must be YYYY-MM")], Lang::En).into());
    }
    let Some(scope) = list_scope(&principal, &state, query.user_id) else {
        return Ok(warp::reply::json(&Vec::<BudgetStatus>::new()).into_response());
    };
    let frame = state.tables.scoped(&scope, "budgets").await?.filter(col("active").eq(lit(true))).map_err(|e| ApiError::unavailable("the budgets table", &e))?;
    let budgets: Vec<BudgetRow> = collect_rows(frame, "the budgets table").await?;
    let Some(first) = budgets.iter().map(|b| b.from_month.as_str()).min() else {
        return Ok(warp::reply::json(&Vec::<BudgetStatus>::new()).into_response());
    };
    let spending = state
        .tables
        .scoped(&scope, "transactions")
        .await?
        // Spending, and the reversals that take spending back (as the overspending job counts).
        .filter(
            (col("amount").lt(lit(0i64)).and(col("reverses").is_null()))
                .or(col("amount").gt(lit(0i64)).and(col("reverses").is_not_null()))
                .and(col("month").gt_eq(lit(first.to_owned())))
                .and(col("month").lt_eq(lit(month.clone()))),
        )
        .and_then(|f| f.aggregate(vec![col("user_id"), col("category_id"), col("month")], vec![sum(lit(0i64) - col("amount")).alias("spent")]))
        .map_err(|e| ApiError::unavailable("the transactions table", &e))?;
    let mut spent: HashMap<(String, String), BTreeMap<String, i64>> = HashMap::new();
    for s in collect_rows::<MonthSpend>(spending, "the transactions table").await? {
        if let Some(category) = s.category_id {
            spent.entry((s.user_id, category)).or_default().insert(s.month, s.spent.unwrap_or(0));
        }
    }
    let elapsed = budget::elapsed(&month, Utc::now());
    let empty = BTreeMap::new();
    let mut out: Vec<BudgetStatus> = budgets
        .into_iter()
        .map(|b| {
            let by_month = spent.get(&(b.user_id.clone(), b.category_id.clone())).unwrap_or(&empty);
            let limit = budget::month_limit(b.amount, b.rollover, &b.from_month, by_month, &month);
            let spent = by_month.get(&month).copied().unwrap_or(0);
            let projected = budget::projected(spent, elapsed);
            let percent = budget::percent(spent, limit);
            let state = if percent >= 100 {
                "over"
            } else if percent >= 80 || (projected > limit && elapsed >= 0.25) {
                "warning"
            } else {
                "ok"
            };
            BudgetStatus {
                category_name: categories::by_id(&b.category_id).map_or_else(|| b.category_id.clone(), |c| c.name_id.to_owned()),
                user_id: b.user_id,
                category_id: b.category_id,
                amount: b.amount,
                rollover: b.rollover,
                from_month: b.from_month,
                month: month.clone(),
                limit,
                spent,
                remaining: limit - spent,
                percent: percent.min(100_000),
                projected,
                elapsed_percent: (elapsed * 100.0).round() as i64,
                state: state.into(),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.user_id, &a.category_id).cmp(&(&b.user_id, &b.category_id)));
    Ok(warp::reply::json(&out).into_response())
}

#[utoipa::path(post, path = "/api/v1/budgets", operation_id = "set_budget", tag = "plans", security(("bearer" = [])), request_body = SetBudget,
    responses(
        (status = 202, description = "Queued; visible after the `plan-budgets` job's next commit", body = PlanAccepted),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn set_budget(principal: Principal, body: bytes::Bytes, lang: Lang, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let body: SetBudget = decode_json(&body, lang)?;
    let mut errors = Vec::new();
    let user_id = owner(&principal, &state, body.user_id, &mut errors);
    let category_id = match categories::find(&body.category) {
        Some(c) => c.id.to_owned(),
        None => {
            errors.push(ValidationError::new("category", "unknown_category", format!("{:?} is not a category", body.category)));
            String::new()
        }
    };
    let plan = Budget { category_id, amount: body.amount, rollover: body.rollover, from_month: body.from_month.unwrap_or_else(this_month) };
    if errors.is_empty() {
        plan.validate(&mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(&errors, lang).into());
    }
    let id = plan.category_id.clone();
    let event_id = publish(&state, &principal, &user_id, PlanChange::BudgetSet(plan)).await?;
    state.auditor.record(&info, Audit { action: "budget.set", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&user_id), detail: Some(id.clone()) }).await;
    Ok(accepted(&id, event_id))
}

#[utoipa::path(delete, path = "/api/v1/budgets/{category}", operation_id = "remove_budget", tag = "plans", security(("bearer" = [])),
    params(("category" = String, Path, description = "category id"), PlanQuery),
    responses((status = 202, body = PlanAccepted), (status = 404, description = "No active budget for that category in the caller's scope", body = ErrorBody)))]
pub(crate) async fn remove_budget(category: String, principal: Principal, query: PlanQuery, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    let change = PlanChange::BudgetRemoved { category_id: category.clone() };
    Ok(remove(&state, &principal, query.user_id, ("budgets", "category_id", "budget"), &category, change, &info).await?)
}

/// Publishes `change` when `table` holds an active row of the person with
/// `column = value`; 404 otherwise.
async fn remove(
    state: &State,
    principal: &Principal,
    user_id: Option<String>,
    (table, column, what): (&'static str, &'static str, &'static str),
    value: &str,
    change: PlanChange,
    info: &RequestInfo,
) -> Result<warp::reply::Response, ApiError> {
    principal.require_write()?;
    let scope = list_scope(principal, state, Some(user_id.unwrap_or_else(|| principal.user_id.clone()))).ok_or_else(|| ApiError::not_found(what))?;
    let Scope::Own(user_id) = scope.clone() else { unreachable!("list_scope of one person") };
    let unavailable = format!("the {table} table");
    let frame = state
        .tables
        .scoped(&scope, table)
        .await?
        .filter(col("active").eq(lit(true)).and(col(column).eq(lit(value.to_owned()))))
        .and_then(|f| f.select_columns(&[column]))
        .map_err(|e| ApiError::unavailable(&unavailable, &e))?;
    if frame.count().await.map_err(|e| ApiError::unavailable(&unavailable, &e))? == 0 {
        return Err(ApiError::not_found(what));
    }
    let event_id = publish(state, principal, &user_id, change).await?;
    let action = if what == "budget" { "budget.removed" } else { "goal.removed" };
    state.auditor.record(info, Audit { action, outcome: AuditOutcome::Success, actor: Some(principal), target: Some(&user_id), detail: Some(value.to_owned()) }).await;
    Ok(accepted(value, event_id))
}

/// A goal to set (or change: the same name, or `goal_id`, replaces it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGoal {
    #[serde(default)]
    pub user_id: Option<String>,
    /// The slug of `name` when absent.
    #[serde(default)]
    pub goal_id: Option<String>,
    pub name: String,
    /// Whole rupiah.
    pub target: i64,
    pub deadline: NaiveDate,
    /// The first day that counts; today when absent.
    #[serde(default)]
    pub start: Option<NaiveDate>,
    /// What counts toward it; net savings (income minus spending) when absent.
    #[serde(default)]
    pub counts: Option<GoalCounts>,
}

/// A goal with its progress today.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GoalStatus {
    pub user_id: String,
    pub goal_id: String,
    pub name: String,
    pub target: i64,
    pub deadline: NaiveDate,
    pub start: NaiveDate,
    pub counts: GoalCounts,
    pub saved: i64,
    pub percent: i64,
    /// Rupiah a month still needed to reach it by the deadline.
    pub needed_per_month: i64,
    /// Saved per month so far.
    pub per_month_so_far: i64,
    pub on_track: bool,
    pub days_left: i64,
}

/// What a goal's progress is made of: the amounts since its start.
#[derive(Debug, Deserialize)]
pub struct Flow {
    pub user_id: String,
    pub amount: i64,
    pub category_id: Option<String>,
    pub account_id: Option<String>,
    pub occurred_at: chrono::DateTime<Utc>,
}

/// The transactions in `scope` from `since` (WIB) on, for goal progress.
pub(crate) async fn flows_since(state: &State, scope: &Scope, since: NaiveDate) -> Result<Vec<Flow>, ApiError> {
    let frame = state
        .tables
        .scoped(scope, "transactions")
        .await?
        .filter(col("month").gt_eq(lit(budget::month_of(since))))
        .and_then(|f| f.select_columns(&["user_id", "amount", "category_id", "account_id", "occurred_at"]))
        .map_err(|e| ApiError::unavailable("the transactions table", &e))?;
    collect_rows(frame, "the transactions table").await
}

/// `goal`'s progress from `flows` (the owner's transactions since at least its start).
pub fn progress(goal: &GoalRow, flows: &[Flow], today: NaiveDate) -> GoalStatus {
    let counts = goal.counts();
    let saved: i64 = flows
        .iter()
        .filter(|f| f.user_id == goal.user_id && f.occurred_at.with_timezone(&jakarta()).date_naive() >= goal.start)
        .map(|f| budget::counted(&counts, f.amount, f.category_id.as_deref(), f.account_id.as_deref()))
        .sum();
    let p = goal_progress(saved, goal.target, goal.start, goal.deadline, today);
    GoalStatus {
        user_id: goal.user_id.clone(),
        goal_id: goal.goal_id.clone(),
        name: goal.name.clone(),
        target: goal.target,
        deadline: goal.deadline,
        start: goal.start,
        counts,
        saved,
        percent: p.percent,
        needed_per_month: p.needed_per_month,
        per_month_so_far: p.per_month_so_far,
        on_track: p.on_track,
        days_left: p.days_left,
    }
}

#[utoipa::path(get, path = "/api/v1/goals", operation_id = "list_goals", tag = "plans", security(("bearer" = [])), params(PlanQuery),
    responses((status = 200, description = "Active goals in the caller's scope with their progress", body = [GoalStatus]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_goals(principal: Principal, query: PlanQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let Some(scope) = list_scope(&principal, &state, query.user_id) else {
        return Ok(warp::reply::json(&Vec::<GoalStatus>::new()).into_response());
    };
    let frame = state.tables.scoped(&scope, "goals").await?.filter(col("active").eq(lit(true))).map_err(|e| ApiError::unavailable("the goals table", &e))?;
    let goals: Vec<GoalRow> = collect_rows(frame, "the goals table").await?;
    let Some(since) = goals.iter().map(|g| g.start).min() else {
        return Ok(warp::reply::json(&Vec::<GoalStatus>::new()).into_response());
    };
    let flows = flows_since(&state, &scope, since).await?;
    let today = today();
    let mut out: Vec<GoalStatus> = goals.iter().map(|g| progress(g, &flows, today)).collect();
    out.sort_by(|a, b| (&a.user_id, a.deadline, &a.goal_id).cmp(&(&b.user_id, b.deadline, &b.goal_id)));
    Ok(warp::reply::json(&out).into_response())
}

#[utoipa::path(post, path = "/api/v1/goals", operation_id = "set_goal", tag = "plans", security(("bearer" = [])), request_body = SetGoal,
    responses(
        (status = 202, description = "Queued; visible after the `plan-goals` job's next commit", body = PlanAccepted),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn set_goal(principal: Principal, body: bytes::Bytes, lang: Lang, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let body: SetGoal = decode_json(&body, lang)?;
    let mut errors = Vec::new();
    let user_id = owner(&principal, &state, body.user_id, &mut errors);
    let goal = Goal {
        goal_id: body.goal_id.unwrap_or_else(|| slug(&body.name)),
        name: body.name.trim().to_owned(),
        target: body.target,
        deadline: body.deadline,
        start: body.start.unwrap_or_else(today),
        counts: body.counts.unwrap_or(GoalCounts::NetSavings),
    };
    goal.validate(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(&errors, lang).into());
    }
    let id = goal.goal_id.clone();
    let event_id = publish(&state, &principal, &user_id, PlanChange::GoalSet(goal)).await?;
    state.auditor.record(&info, Audit { action: "goal.set", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&user_id), detail: Some(id.clone()) }).await;
    Ok(accepted(&id, event_id))
}

#[utoipa::path(delete, path = "/api/v1/goals/{goal_id}", operation_id = "remove_goal", tag = "plans", security(("bearer" = [])),
    params(("goal_id" = String, Path, description = "goal id"), PlanQuery),
    responses((status = 202, body = PlanAccepted), (status = 404, description = "No active goal with that id in the caller's scope", body = ErrorBody)))]
pub(crate) async fn remove_goal(goal_id: String, principal: Principal, query: PlanQuery, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    let change = PlanChange::GoalRemoved { goal_id: goal_id.clone() };
    Ok(remove(&state, &principal, query.user_id, ("goals", "goal_id", "goal"), &goal_id, change, &info).await?)
}
