//! WhatsApp: WAHA's webhook (`POST /webhooks/waha`, signed, not a bearer
//! route) and the links between WhatsApp numbers and people
//! (`/api/v1/whatsapp/links`): an admin links any number, an officer the
//! numbers of their partners and their own; a person sees their links.
//! A person who registered with a mobile number is reachable on it without
//! a link; a link is for a different number, or for a partner without a
//! login, and can carry their customer number in the lender's book.

use arus_ingest::whatsapp::{Verdict, WebhookError};
use arus_lakehouse::{AppendLog, Lake, LakeError};
use arus_schemas::people::normalise_phone;
use arus_schemas::whatsapp::WaLink;
use arus_schemas::{tables, AuditOutcome, Lang, Role, ValidationError};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::audit::Audit;
use crate::auth::{authenticated, Principal};
use crate::error::{json_body, ApiError, ErrorBody};
use crate::observe::{request_info, RequestInfo};
use crate::rows::Scope;
use crate::State;

/// Webhook bodies are small; WEBJS's raw `_data` can make them a few hundred KiB.
const WEBHOOK_MAX_BYTES: u64 = 1 << 20;

/// The `whatsapp_links` log, written by the serving layer.
pub struct Links {
    log: Mutex<AppendLog<WaLink>>,
}

impl Links {
    pub async fn open(lake: &Lake) -> Result<Self, LakeError> {
        Ok(Links { log: Mutex::new(AppendLog::open(lake, &tables::WHATSAPP_LINKS).await?) })
    }

    /// The people linked to a lender's `customer` number (active links).
    pub async fn users_of_customer(&self, customer: &str) -> Result<Vec<String>, LakeError> {
        let mut log = self.log.lock().await;
        Ok(Self::current(&mut log).await?.into_iter().filter(|l| l.active && l.customer_id.as_deref() == Some(customer)).map(|l| l.user_id).collect())
    }

    /// The customer number each of `users` is linked to (active links).
    pub async fn customers_of(&self, users: &[String]) -> Result<std::collections::HashMap<String, String>, LakeError> {
        let mut log = self.log.lock().await;
        Ok(Self::current(&mut log)
            .await?
            .into_iter()
            .filter(|l| l.active && users.contains(&l.user_id))
            .filter_map(|l| Some((l.user_id, l.customer_id?)))
            .collect())
    }

    /// The latest revision of every number.
    async fn current(log: &mut AppendLog<WaLink>) -> Result<Vec<WaLink>, LakeError> {
        log.refresh().await?;
        let mut latest: std::collections::BTreeMap<String, WaLink> = std::collections::BTreeMap::new();
        for l in log.rows().await? {
            if latest.get(&l.phone).is_none_or(|seen| seen.revision < l.revision) {
                latest.insert(l.phone.clone(), l);
            }
        }
        Ok(latest.into_values().collect())
    }
}

/// 409 when another instance changed the links meanwhile, else 503.
fn write_error(e: LakeError) -> ApiError {
    match e {
        LakeError::Conflict { .. } => ApiError::conflict("the links were changed at the same moment; try again"),
        e => ApiError::unavailable("the whatsapp_links table", &e),
    }
}

pub fn webhook_routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("webhooks" / "waha")
        .and(warp::post())
        .and(warp::body::content_length_limit(WEBHOOK_MAX_BYTES))
        .and(warp::body::bytes())
        .and(warp::header::optional::<String>("x-webhook-hmac"))
        .and(warp::header::optional::<String>("x-webhook-hmac-algorithm"))
        .and(with_state(state))
        .and_then(webhook)
}

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let create = warp::path!("whatsapp" / "links")
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(json_body::<NewLink>(state.config.http_max_body_bytes))
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(create);
    let list = warp::path!("whatsapp" / "links").and(warp::get()).and(authenticated(state.clone())).and(with_state(state.clone())).and_then(list);
    let delete = warp::path!("whatsapp" / "links" / String)
        .and(warp::delete())
        .and(authenticated(state.clone()))
        .and(request_info())
        .and(with_state(state))
        .and_then(delete);
    create.or(list).or(delete)
}

/// What the webhook answers WAHA.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookAnswer {
    /// `accepted` (queued for the router), `duplicate` (a retried delivery)
    /// or `ignored` (not a person's message; `reason` says why).
    pub status: String,
    pub message_id: Option<String>,
    pub reason: Option<String>,
}

/// A WAHA webhook event: `{id, timestamp, event, session, me, payload: {id, timestamp, from, fromMe, body, hasMedia, media}, engine, environment}`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
#[schema(value_type = Object)]
pub struct WahaEvent(serde_json::Value);

#[utoipa::path(post, path = "/webhooks/waha", operation_id = "waha_webhook", tag = "whatsapp",
    request_body(content = WahaEvent, description = "WAHA's event, signed with X-Webhook-Hmac (hex HMAC-SHA512 of the body) when a key is configured"),
    params(
        ("X-Webhook-Hmac" = Option<String>, Header, description = "hex HMAC-SHA512 of the raw body under waha_webhook_hmac_key"),
        ("X-Webhook-Hmac-Algorithm" = Option<String>, Header, description = "`sha512`"),
    ),
    responses(
        (status = 200, description = "Queued for the router (answered at once), a duplicate, or ignored; an unknown event type is also a dead letter", body = WebhookAnswer),
        (status = 400, description = "Not JSON or not a WAHA event: kept as a dead letter", body = ErrorBody),
        (status = 401, description = "Signature missing or wrong", body = ErrorBody),
        (status = 503, description = "The broker did not take it; deliver again", body = ErrorBody),
    ))]
pub(crate) async fn webhook(body: bytes::Bytes, signature: Option<String>, algorithm: Option<String>, state: State) -> Result<warp::reply::Response, Rejection> {
    let verdict = state.webhook.receive(&body, signature.as_deref(), algorithm.as_deref()).await;
    let (label, answer) = match verdict {
        Ok(Verdict::Accepted { message_id }) => ("accepted", WebhookAnswer { status: "accepted".into(), message_id: Some(message_id), reason: None }),
        Ok(Verdict::Duplicate { message_id }) => ("duplicate", WebhookAnswer { status: "duplicate".into(), message_id: Some(message_id), reason: None }),
        Ok(Verdict::Ignored { reason }) => ("ignored", WebhookAnswer { status: "ignored".into(), message_id: None, reason: Some(reason) }),
        Ok(Verdict::Unknown { event }) => {
            ("unknown", WebhookAnswer { status: "ignored".into(), message_id: None, reason: Some(format!("event type {event:?} is not one arus handles; kept as a dead letter")) })
        }
        Err(WebhookError::Unauthorized(why)) => {
            metrics::counter!("arus_whatsapp_webhooks_total", "outcome" => "unauthorized").increment(1);
            tracing::warn!(reason = %why, "WAHA webhook refused");
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why).into());
        }
        Err(WebhookError::BadRequest(why)) => {
            metrics::counter!("arus_whatsapp_webhooks_total", "outcome" => "bad_request").increment(1);
            return Err(ApiError::bad_request(format!("{why} (kept as a dead letter)")).into());
        }
        Err(WebhookError::Unavailable(e)) => return Err(ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the message could not be queued; deliver it again", &e).into()),
    };
    metrics::counter!("arus_whatsapp_webhooks_total", "outcome" => label).increment(1);
    Ok(warp::reply::json(&answer).into_response())
}

/// A number to link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// An Indonesian mobile number in any common writing (`0812-3456-7890`, `+62 812…`, `62812…`).
    pub phone: String,
    /// The person who writes from it (an officer: one of their partners, or themselves).
    pub user_id: String,
    /// Their customer number in the lender's book, if they borrow.
    #[serde(default)]
    pub customer_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/whatsapp/links", operation_id = "create_whatsapp_link", tag = "whatsapp", security(("bearer" = [])),
    request_body = NewLink,
    responses(
        (status = 201, description = "Linked: the router recognises the number on its next message", body = WaLink),
        (status = 200, description = "The number was linked to this person already; customer number updated", body = WaLink),
        (status = 403, description = "Only admins and officers link numbers", body = ErrorBody),
        (status = 404, description = "No such person in the caller's scope", body = ErrorBody),
        (status = 409, description = "The number is linked to someone else: unlink it first", body = ErrorBody),
        (status = 422, description = "Not a mobile number", body = ErrorBody),
    ))]
pub(crate) async fn create(principal: Principal, new: NewLink, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require(&[Role::Admin, Role::Officer])?;
    let Some(phone) = normalise_phone(&new.phone) else {
        return Err(ApiError::invalid(&[ValidationError::new("phone", "invalid_phone", "phone must be an Indonesian mobile number such as 0812-3456-7890")], Lang::En).into());
    };
    let customer = new.customer_id.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if customer.as_ref().is_some_and(|c| c.chars().count() > 64 || c.chars().any(char::is_control)) {
        return Err(ApiError::invalid(&[ValidationError::new("customer_id", "invalid", "customer_id is at most 64 printable characters")], Lang::En).into());
    }
    let scope = Scope::of(&principal, &state.auth);
    let person = state.auth.user(&new.user_id).filter(|u| scope.allows(&u.user_id) && !u.disabled).ok_or_else(|| ApiError::not_found("person"))?;
    let mut log = state.links.log.lock().await;
    let current = Links::current(&mut log).await.map_err(|e| ApiError::unavailable("the whatsapp_links table", &e))?;
    let existing = current.iter().find(|l| l.phone == phone);
    if existing.is_some_and(|l| l.active && l.user_id != person.user_id) {
        return Err(ApiError::conflict(format!("{phone} is linked to another person; unlink it first (DELETE /api/v1/whatsapp/links/{phone})")).into());
    }
    if let Some(unchanged) = existing.filter(|l| l.active && l.user_id == person.user_id && l.customer_id == customer) {
        return Ok(warp::reply::with_status(warp::reply::json(unchanged), StatusCode::OK).into_response());
    }
    let was_linked = existing.is_some_and(|l| l.active);
    let link = WaLink {
        phone: phone.clone(),
        revision: existing.map_or(1, |l| l.revision + 1),
        user_id: person.user_id.clone(),
        customer_id: customer,
        active: true,
        updated_by: principal.user_id.clone(),
        updated_at: chrono::Utc::now(),
    };
    log.append(std::slice::from_ref(&link)).await.map_err(write_error)?;
    drop(log);
    state
        .auditor
        .record(&info, Audit { action: "whatsapp.link", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&person.user_id), detail: Some(format!("phone {phone}")) })
        .await;
    let status = if was_linked { StatusCode::OK } else { StatusCode::CREATED };
    Ok(warp::reply::with_status(warp::reply::json(&link), status).into_response())
}

#[utoipa::path(get, path = "/api/v1/whatsapp/links", operation_id = "list_whatsapp_links", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, description = "Active links of the people in the caller's scope", body = [WaLink]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let scope = Scope::of(&principal, &state.auth);
    let mut log = state.links.log.lock().await;
    let links = Links::current(&mut log).await.map_err(|e| ApiError::unavailable("the whatsapp_links table", &e))?;
    let visible: Vec<WaLink> = links.into_iter().filter(|l| l.active && scope.allows(&l.user_id)).collect();
    Ok(warp::reply::json(&visible).into_response())
}

#[utoipa::path(delete, path = "/api/v1/whatsapp/links/{phone}", operation_id = "delete_whatsapp_link", tag = "whatsapp", security(("bearer" = [])),
    params(("phone" = String, Path, description = "the number, as linked or in any common writing")),
    responses((status = 204, description = "Unlinked: the number gets the onboarding reply again"), (status = 404, description = "No active link of this number in the caller's scope", body = ErrorBody)))]
pub(crate) async fn delete(phone: String, principal: Principal, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    principal.require(&[Role::Admin, Role::Officer])?;
    let phone = normalise_phone(&phone).ok_or_else(|| ApiError::not_found("link"))?;
    let scope = Scope::of(&principal, &state.auth);
    let mut log = state.links.log.lock().await;
    let links = Links::current(&mut log).await.map_err(|e| ApiError::unavailable("the whatsapp_links table", &e))?;
    let link = links.into_iter().find(|l| l.phone == phone && l.active && scope.allows(&l.user_id)).ok_or_else(|| ApiError::not_found("link"))?;
    let unlinked = WaLink { revision: link.revision + 1, active: false, updated_by: principal.user_id.clone(), updated_at: chrono::Utc::now(), ..link };
    log.append(std::slice::from_ref(&unlinked)).await.map_err(write_error)?;
    drop(log);
    state
        .auditor
        .record(&info, Audit { action: "whatsapp.unlink", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&unlinked.user_id), detail: Some(format!("phone {phone}")) })
        .await;
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}
