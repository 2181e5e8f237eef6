//! Tiers of a lender's customers: `POST /api/v1/tier/predict` (the brief's
//! ML-engine endpoint: the rule's tier and the k-means segment of any
//! figures) and `GET /api/v1/tiers/{customer}` (a customer's current tier
//! and history, from the `tiers` table the tiering job writes), visible to
//! analysts and to the field officer of the partner linked to that
//! customer number — to nobody else, the customer included (404, as for a
//! customer that does not exist).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arus_lakehouse::models::ModelStore;
use arus_lakehouse::{Lake, LakeError};
use arus_ml::segments::{SegmentModel, KIND as SEGMENTS};
use arus_ml::tiering::{rule_tier, Behaviour};
use arus_schemas::events::ValidationError;
use arus_schemas::lending::{Tier, TierRecord};
use arus_schemas::{Lang, Role};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::{collect_rows, with_state};
use crate::auth::{authenticated, Principal};
use crate::error::{decode_json, lang, ApiError, ErrorBody};
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let predict = warp::path!("tier" / "predict")
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::bytes())
        .and(lang())
        .and(with_state(state.clone()))
        .and_then(predict);
    let history = warp::path!("tiers" / String).and(warp::get()).and(authenticated(state.clone())).and(with_state(state)).and_then(history);
    predict.or(history)
}

/// The newest segment model, re-read at most every `model_poll_ms`.
pub struct Segments {
    store: Mutex<(ModelStore, Option<(i64, Arc<SegmentModel>)>, Option<Instant>)>,
    every: Duration,
}

impl Segments {
    pub async fn open(lake: &Lake, every: Duration) -> Result<Self, LakeError> {
        Ok(Segments { store: Mutex::new((ModelStore::open(lake).await?, None, None)), every })
    }

    async fn current(&self) -> Option<(i64, Arc<SegmentModel>)> {
        let mut guard = self.store.lock().await;
        let (store, model, checked) = &mut *guard;
        if checked.is_none_or(|c| c.elapsed() >= self.every) {
            *checked = Some(Instant::now());
            match store.latest(SEGMENTS).await {
                Ok(Some(record)) if model.as_ref().is_none_or(|(v, _)| *v < record.version) => match store.load(&record).await {
                    Ok(bytes) => match serde_json::from_slice::<SegmentModel>(&bytes) {
                        Ok(m) => *model = Some((record.version, Arc::new(m))),
                        Err(e) => tracing::warn!(version = record.version, error = %e, "segment model unreadable; keeping the previous one"),
                    },
                    Err(e) => tracing::warn!(error = %e, "segment model could not be loaded"),
                },
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "models table unreadable; keeping the previous segment model"),
            }
        }
        model.clone()
    }
}

/// The lender's scoring body (the brief's "ML Engine Endpoint").
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Rupiah paid on the due bills.
    pub total_paid: i64,
    /// Rupiah due on the due bills.
    pub total_bill: i64,
    /// Days past due of the worst active loan.
    pub current_dpd: i64,
    /// Due bills paid on or before their date.
    pub on_time_count: i64,
    /// Due bills.
    pub total_bills_count: i64,
}

/// The tiers of a behaviour.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Prediction {
    /// The ML engine's tier: that of the k-means segment (the rule's tier
    /// while no segment model is trained, or without due bills).
    pub tier: Tier,
    /// The lender's rule (DPD 0 and ≥ 98% → Gold; DPD ≤ 7 and ≥ 90% → Silver; else Bronze).
    pub rule_tier: Tier,
    /// The k-means segment; null without a model or without due bills.
    pub segment: Option<i32>,
    /// Version of the segment model used.
    pub model_version: Option<i64>,
    /// Stable reason codes of the rule, e.g. `dpd_0`, `repayment_at_least_98`.
    pub reasons: Vec<String>,
    /// `paid / billed`; null without due bills.
    pub repayment_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
}

/// The prediction for `b` with `model`.
pub fn predict_with(b: &Behaviour, model: Option<&(i64, Arc<SegmentModel>)>) -> Prediction {
    let decision = rule_tier(b);
    let segment = model.and_then(|(v, m)| m.assign(b).map(|(s, t)| (*v, s, t)));
    Prediction {
        tier: segment.map_or(decision.tier, |(_, _, t)| t),
        rule_tier: decision.tier,
        segment: segment.map(|(_, s, _)| s as i32),
        model_version: segment.map(|(v, _, _)| v),
        reasons: decision.reasons,
        repayment_rate: b.repayment_rate(),
        on_time_rate: b.on_time_rate(),
    }
}

#[utoipa::path(post, path = "/api/v1/tier/predict", operation_id = "predict_tier", tag = "tiers", security(("bearer" = [])), request_body = PredictRequest,
    responses((status = 200, body = Prediction), (status = 401, body = ErrorBody), (status = 422, description = "Not JSON, a missing, unknown or mistyped field, or figures no customer can have", body = ErrorBody)))]
pub(crate) async fn predict(_principal: Principal, body: bytes::Bytes, lang: Lang, state: State) -> Result<warp::reply::Response, Rejection> {
    // Every bad body is a 422 here, JSON or not: the lender's clients expect one status.
    let request: PredictRequest =
        decode_json(&body, lang).map_err(|e| if e.status == StatusCode::BAD_REQUEST { e.with_status(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body") } else { e })?;
    let b = Behaviour {
        total_paid: request.total_paid,
        total_bill: request.total_bill,
        current_dpd: request.current_dpd,
        on_time_count: request.on_time_count,
        total_bills_count: request.total_bills_count,
    };
    if let Err(errors) = b.check() {
        let errors: Vec<ValidationError> = errors
            .iter()
            .map(|e| match e.code {
                "out_of_range" => ValidationError::with_param(e.field, e.code, e.message.clone(), e.message.clone()),
                _ => ValidationError::new(e.field, e.code, e.message.clone()),
            })
            .collect();
        return Err(ApiError::invalid(&errors, lang).into());
    }
    let model = state.segments.current().await;
    Ok(warp::reply::json(&predict_with(&b, model.as_ref())).into_response())
}

/// A customer's tier now and how it got there.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierHistory {
    pub customer_number: String,
    /// The latest row of the history.
    pub current: TierRecord,
    /// Every change, oldest first.
    pub history: Vec<TierRecord>,
}

/// Whether `principal` may see `customer`'s tiers: analysts, and the
/// officer of a partner linked to that customer number.
async fn may_see(principal: &Principal, customer: &str, state: &State) -> Result<bool, ApiError> {
    match principal.role {
        Role::Analyst => Ok(true),
        Role::Officer => {
            let users = state.links.users_of_customer(customer).await.map_err(|e| ApiError::unavailable("the whatsapp_links table", &e))?;
            Ok(users.iter().filter_map(|u| state.auth.user(u)).any(|u| u.officer_id.as_deref() == Some(principal.user_id.as_str())))
        }
        Role::User | Role::Admin => Ok(false),
    }
}

#[utoipa::path(get, path = "/api/v1/tiers/{customer}", operation_id = "get_tier_history", tag = "tiers", security(("bearer" = [])),
    params(("customer" = String, Path, description = "the lender's customer_number")),
    responses((status = 200, body = TierHistory), (status = 401, body = ErrorBody),
        (status = 404, description = "No tier for this customer, or not the caller's to see (analysts, and the officer of the linked partner, only)", body = ErrorBody)))]
pub(crate) async fn history(customer: String, principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    if !may_see(&principal, &customer, &state).await? {
        return Err(ApiError::not_found("customer tier").into());
    }
    let frame = state.tables.lending("tiers", &customer).await?;
    let mut rows: Vec<TierRecord> = collect_rows(frame, "the tiers table").await?;
    rows.sort_by_key(|r| r.seq);
    let current = rows.last().cloned().ok_or_else(|| ApiError::not_found("customer tier"))?;
    Ok(warp::reply::json(&TierHistory { customer_number: customer, current, history: rows }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_model_the_tier_is_the_rule() {
        let b = Behaviour { total_paid: 5_000_000, total_bill: 5_000_000, current_dpd: 0, on_time_count: 10, total_bills_count: 10 };
        let p = predict_with(&b, None);
        assert_eq!((p.tier, p.rule_tier, p.segment), (Tier::Gold, Tier::Gold, None));
        assert_eq!(p.reasons, ["dpd_0", "repayment_at_least_98"]);
    }
}
