//! `/api/v1/users`: people as an admin manages them (roles, officer
//! assignment, disabling) and as an officer sees them (their partners).
//! Every role change is audited.

use arus_schemas::{AuditOutcome, Lang, Role, ValidationError};
use serde::Deserialize;
use utoipa::ToSchema;
use warp::{Filter, Rejection, Reply};

use super::auth::{store_error, UserView};
use super::with_state;
use crate::audit::Audit;
use crate::auth::store::UserChange;
use crate::auth::{authenticated, Principal};
use crate::error::{json_body, lang, ApiError, ErrorBody};
use crate::observe::{request_info, RequestInfo};
use crate::rows::Scope;
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let list = warp::path("users")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(with_state(state.clone()))
        .and_then(list);
    let get = warp::path!("users" / String)
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(with_state(state.clone()))
        .and_then(get);
    let update = warp::path!("users" / String)
        .and(warp::patch())
        .and(authenticated(state.clone()))
        .and(json_body::<UserUpdate>(state.config.http_max_body_bytes))
        .and(lang())
        .and(request_info())
        .and(with_state(state))
        .and_then(update);
    list.or(get).or(update)
}

#[utoipa::path(get, path = "/api/v1/users", operation_id = "list_users", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "People the caller may see: all for admins and analysts, their partners for officers, themselves for users", body = [UserView]),
        (status = 401, body = ErrorBody),
    ))]
pub(crate) async fn list(principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let scope = Scope::of(&principal, &state.auth);
    let people: Vec<UserView> = state.auth.users().into_iter().filter(|u| scope.allows(&u.user_id)).map(UserView::from).collect();
    Ok(warp::reply::json(&people).into_response())
}

#[utoipa::path(get, path = "/api/v1/users/{id}", operation_id = "get_user", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 404, description = "No such user in the caller's scope", body = ErrorBody)))]
pub(crate) async fn get(id: String, principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let scope = Scope::of(&principal, &state.auth);
    let user = state.auth.user(&id).filter(|u| scope.allows(&u.user_id)).ok_or_else(|| ApiError::not_found("user"))?;
    Ok(warp::reply::json(&UserView::from(user)).into_response())
}

/// Changes an admin makes to a person; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[serde(default)]
    pub display_name: Option<String>,
    /// `user`, `officer`, `analyst` or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    /// The officer a partner is assigned to; `null` removes the assignment.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub officer_id: Option<Option<String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Distinguishes `"officer_id": null` (remove) from an absent field (keep).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", operation_id = "update_user", tag = "users", security(("bearer" = [])), request_body = UserUpdate,
    params(("id" = String, Path, description = "user id")),
    responses(
        (status = 200, description = "The person after the change", body = UserView),
        (status = 403, description = "Only admins change people", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn update(
    id: String,
    principal: Principal,
    body: UserUpdate,
    lang: Lang,
    info: RequestInfo,
    state: State,
) -> Result<warp::reply::Response, Rejection> {
    principal.require(&[Role::Admin])?;
    let before = state.auth.user(&id).ok_or_else(|| ApiError::not_found("user"))?;
    let mut errors = Vec::new();
    let role = match body.role.as_deref() {
        None => None,
        Some(text) => match Role::parse(text) {
            Some(role) => Some(role),
            None => {
                errors.push(ValidationError::with_param("role", "not_one_of", "role must be one of user, officer, analyst, admin", "user, officer, analyst, admin"));
                None
            }
        },
    };
    if let Some(Some(officer)) = &body.officer_id {
        if !state.auth.user(officer).is_some_and(|o| o.role == Role::Officer) {
            errors.push(ValidationError::new("officer_id", "not_found", "officer_id names no officer"));
        }
    }
    if let Some(name) = &body.display_name {
        if name.trim().is_empty() || name.chars().count() > 100 {
            errors.push(ValidationError::with_param("display_name", "too_long", "display_name must have 1 to 100 characters", 100));
        }
    }
    if id == principal.user_id && (role.is_some_and(|r| r != Role::Admin) || body.disabled == Some(true)) {
        errors.push(ValidationError::new("role", "forbidden", "admins cannot demote or disable themselves"));
    }
    if body.display_name.is_none() && body.role.is_none() && body.officer_id.is_none() && body.disabled.is_none() {
        errors.push(ValidationError::new("body", "empty_update", "nothing to change"));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(&errors, lang).into());
    }
    let change = UserChange {
        display_name: body.display_name.map(|n| n.trim().to_owned()),
        role,
        officer_id: body.officer_id,
        disabled: body.disabled,
        password_hash: None,
    };
    let after = state.auth.update(&id, change, &principal.user_id).await.map_err(|e| store_error(e, lang))?;
    let mut changes = Vec::new();
    if before.role != after.role {
        changes.push(("user.role_changed", format!("{} -> {}", before.role, after.role)));
    }
    if before.officer_id != after.officer_id {
        changes.push(("user.officer_assigned", format!("officer {}", after.officer_id.as_deref().unwrap_or("none"))));
    }
    if before.disabled != after.disabled {
        changes.push(("user.disabled_changed", format!("disabled {}", after.disabled)));
    }
    if before.display_name != after.display_name {
        changes.push(("user.renamed", "display name changed".to_owned()));
    }
    for (action, detail) in changes {
        state
            .auditor
            .record(&info, Audit { action, outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&id), detail: Some(detail) })
            .await;
    }
    Ok(warp::reply::json(&UserView::from(after)).into_response())
}
