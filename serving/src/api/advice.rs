//! `/api/v1/insights`, `/api/v1/forecasts` and `/api/v1/anomalies`: what
//! the advisor found, read from the `insights`, `forecasts` and `anomalies`
//! tables through the row filter. Insights come in the request's language
//! (`Accept-Language`): the LLM's wording when there is one in that
//! language, else the template text.

use arus_schemas::advice::{AnomalyRow, ForecastRow, InsightRow};
use arus_schemas::Lang;
use chrono::{DateTime, Utc};
use datafusion::prelude::{col, lit};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::{Filter, Rejection, Reply};

use super::{collect_rows, with_state};
use crate::auth::{authenticated, Principal};
use crate::error::{lang, ApiError, ErrorBody};
use crate::rows::Scope;
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let insights = warp::path("insights")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<InsightQuery>())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(insights);
    let forecasts = warp::path("forecasts")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<WhoQuery>())
        .and(with_state(state.clone()))
        .and_then(forecasts);
    let anomalies = warp::path("anomalies")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<WhoQuery>())
        .and(with_state(state))
        .and_then(anomalies);
    insights.or(forecasts).or(anomalies)
}

/// Whose findings.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhoQuery {
    /// Only this person's (within the caller's scope).
    pub user_id: Option<String>,
}

/// Which insights.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InsightQuery {
    pub user_id: Option<String>,
    /// `2026-W47`, `2026-10`.
    pub period: Option<String>,
    /// `weekly` or `monthly`.
    pub cadence: Option<String>,
}

fn scope_of(principal: &Principal, state: &State, user_id: Option<String>) -> Option<Scope> {
    Scope::of_or_one(principal, &state.auth, user_id)
}

/// An insight as a person reads it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Insight {
    pub id: String,
    pub user_id: String,
    pub period: String,
    pub cadence: String,
    pub rule: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The figures it rests on.
    #[schema(value_type = Object)]
    pub facts: serde_json::Value,
    /// In the request's language.
    pub text: String,
    /// Whether `text` is a language model's wording (checked against the facts).
    pub narrated: bool,
    pub text_id: String,
    pub text_en: String,
    pub created_at: DateTime<Utc>,
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    }
}

#[utoipa::path(get, path = "/api/v1/insights", operation_id = "list_insights", tag = "advice", security(("bearer" = [])), params(InsightQuery),
    responses((status = 200, description = "Insights in the caller's scope, newest period first, most severe first", body = [Insight]), (status = 401, body = ErrorBody)))]
pub(crate) async fn insights(principal: Principal, query: InsightQuery, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    let Some(scope) = scope_of(&principal, &state, query.user_id) else {
        return Ok(warp::reply::json(&Vec::<Insight>::new()).into_response());
    };
    let mut frame = state.tables.scoped(&scope, "insights").await?;
    for (column, value) in [("period", query.period), ("cadence", query.cadence)] {
        if let Some(v) = value {
            frame = frame.filter(col(column).eq(lit(v))).map_err(|e| ApiError::unavailable("the insights table", &e))?;
        }
    }
    let rows: Vec<InsightRow> = collect_rows(frame, "the insights table").await?;
    let mut out: Vec<Insight> = rows
        .into_iter()
        .map(|r| {
            // The narration is written in Indonesian.
            let (text, narrated) = match (&r.narration, lang) {
                (Some(n), Lang::Id) => (n.clone(), true),
                _ => (if lang == Lang::Id { r.text_id.clone() } else { r.text_en.clone() }, false),
            };
            Insight {
                facts: serde_json::from_str(&r.facts).unwrap_or(serde_json::Value::Null),
                id: r.id,
                user_id: r.user_id,
                period: r.period,
                cadence: r.cadence,
                rule: r.rule,
                severity: r.severity,
                text,
                narrated,
                text_id: r.text_id,
                text_en: r.text_en,
                created_at: r.created_at,
            }
        })
        .collect();
    out.sort_by(|a, b| b.period.cmp(&a.period).then(severity_rank(&a.severity).cmp(&severity_rank(&b.severity))).then(a.id.cmp(&b.id)));
    Ok(warp::reply::json(&out).into_response())
}

#[utoipa::path(get, path = "/api/v1/forecasts", operation_id = "list_forecasts", tag = "advice", security(("bearer" = [])), params(WhoQuery),
    responses((status = 200, description = "The latest advisor run's forecasts per person in the caller's scope", body = [ForecastRow]), (status = 401, body = ErrorBody)))]
pub(crate) async fn forecasts(principal: Principal, query: WhoQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let Some(scope) = scope_of(&principal, &state, query.user_id) else {
        return Ok(warp::reply::json(&Vec::<ForecastRow>::new()).into_response());
    };
    let rows: Vec<ForecastRow> = collect_rows(state.tables.scoped(&scope, "forecasts").await?, "the forecasts table").await?;
    // Per person, the rows of their newest run.
    let mut latest: std::collections::HashMap<String, (DateTime<Utc>, String)> = std::collections::HashMap::new();
    for r in &rows {
        let newer = latest.get(&r.user_id).is_none_or(|(at, run)| (r.made_at, &r.run_id) > (*at, run));
        if newer {
            latest.insert(r.user_id.clone(), (r.made_at, r.run_id.clone()));
        }
    }
    let mut out: Vec<ForecastRow> = rows.into_iter().filter(|r| latest.get(&r.user_id).is_some_and(|(_, run)| *run == r.run_id)).collect();
    out.sort_by(|a, b| (&a.user_id, &a.kind, &a.category_id, a.target_date).cmp(&(&b.user_id, &b.kind, &b.category_id, b.target_date)));
    Ok(warp::reply::json(&out).into_response())
}

#[utoipa::path(get, path = "/api/v1/anomalies", operation_id = "list_anomalies", tag = "advice", security(("bearer" = [])), params(WhoQuery),
    responses((status = 200, description = "Unusual spending in the caller's scope, newest first", body = [AnomalyRow]), (status = 401, body = ErrorBody)))]
pub(crate) async fn anomalies(principal: Principal, query: WhoQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let Some(scope) = scope_of(&principal, &state, query.user_id) else {
        return Ok(warp::reply::json(&Vec::<AnomalyRow>::new()).into_response());
    };
    let mut rows: Vec<AnomalyRow> = collect_rows(state.tables.scoped(&scope, "anomalies").await?, "the anomalies table").await?;
    rows.sort_by(|a, b| (b.day, &b.id).cmp(&(a.day, &a.id)));
    Ok(warp::reply::json(&rows).into_response())
}
