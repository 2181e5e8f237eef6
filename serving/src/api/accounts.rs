//! `/api/v1/accounts`: a person's bank accounts, e-wallets and cash boxes.
//! Changes are events on `arus.account.v1` (202: the `accounts` job applies
//! them within its commit latency); reads come from the `accounts` table,
//! which keeps every revision, through the row filter.

use arus_lakehouse::Producer;
use arus_schemas::{
    topics, Account, AccountEvent, AccountFields, AccountOp, AuditOutcome, Lang, Role, ValidationError, SCHEMA_VERSION,
};
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
    let list = warp::path("accounts")
        .and(warp::path::end())
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(warp::query::<AccountQuery>())
        .and(with_state(state.clone()))
        .and_then(list);
    let create = warp::path("accounts")
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(lang())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(create);
    let get = warp::path!("accounts" / String)
        .and(warp::get())
        .and(authenticated(state.clone()))
        .and(with_state(state.clone()))
        .and_then(get);
    let update = warp::path!("accounts" / String)
        .and(warp::patch())
        .and(authenticated(state.clone()))
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(lang())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(update);
    let delete = warp::path!("accounts" / String)
        .and(warp::delete())
        .and(authenticated(state.clone()))
        .and(request_info())
        .and(with_state(state))
        .and_then(delete);
    list.or(create).or(get).or(update).or(delete)
}

/// The latest revision of every account in `scope` (optionally one), deleted ones included.
async fn latest(state: &State, scope: &Scope, account_id: Option<&str>) -> Result<Vec<Account>, ApiError> {
    let mut frame = state.tables.scoped(scope, "accounts").await?;
    if let Some(id) = account_id {
        frame = frame.filter(col("account_id").eq(lit(id.to_owned()))).map_err(|e| ApiError::unavailable("the accounts table", &e))?;
    }
    let rows: Vec<Account> = collect_rows(frame, "the accounts table").await?;
    let mut latest: std::collections::BTreeMap<String, Account> = std::collections::BTreeMap::new();
    for row in rows {
        match latest.get(&row.account_id) {
            Some(seen) if seen.revision >= row.revision => {}
            _ => {
                latest.insert(row.account_id.clone(), row);
            }
        }
    }
    Ok(latest.into_values().collect())
}

/// The latest revision of `account_id` if it is in `scope`.
pub(crate) async fn current(state: &State, scope: &Scope, account_id: &str) -> Result<Option<Account>, ApiError> {
    Ok(latest(state, scope, Some(account_id)).await?.into_iter().next())
}

/// Filters of the account list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Only this person's accounts (within the caller's scope).
    pub user_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/accounts", operation_id = "list_accounts", tag = "accounts", security(("bearer" = [])), params(AccountQuery),
    responses((status = 200, description = "Accounts in the caller's scope, deleted ones left out", body = [Account]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(principal: Principal, query: AccountQuery, state: State) -> Result<warp::reply::Response, Rejection> {
    let scope = match query.user_id {
        Some(user) if Scope::of(&principal, &state.auth).allows(&user) => Scope::Own(user),
        Some(_) => return Ok(warp::reply::json(&Vec::<Account>::new()).into_response()),
        None => Scope::of(&principal, &state.auth),
    };
    let accounts: Vec<Account> = latest(&state, &scope, None).await?.into_iter().filter(|a| !a.deleted).collect();
    Ok(warp::reply::json(&accounts).into_response())
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", operation_id = "get_account", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = Account), (status = 404, description = "No such account in the caller's scope", body = ErrorBody)))]
pub(crate) async fn get(id: String, principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let scope = Scope::of(&principal, &state.auth);
    let account = current(&state, &scope, &id).await?.filter(|a| !a.deleted).ok_or_else(|| ApiError::not_found("account"))?;
    Ok(warp::reply::json(&account).into_response())
}

/// A new account; `user_id` lets an officer or admin add one for a person in their scope.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    #[serde(default)]
    pub user_id: Option<String>,
    pub name: String,
    #[schema(value_type = String, example = "bank")]
    pub kind: arus_schemas::AccountKind,
    /// Bank or e-wallet, e.g. `BCA`, `GoPay`.
    #[serde(default)]
    pub institution: Option<String>,
    /// Last four digits of the account number; never the whole number.
    #[serde(default)]
    pub number_last4: Option<String>,
    /// ISO 4217; `IDR` when absent.
    #[serde(default)]
    pub currency: Option<String>,
    /// Balance in rupiah when the account is added.
    #[serde(default)]
    pub opening_balance: Option<i64>,
}

impl NewAccount {
    fn fields(self) -> (Option<String>, AccountFields) {
        let fields = AccountFields {
            name: Some(self.name),
            kind: Some(self.kind),
            institution: self.institution,
            number_last4: self.number_last4,
            currency: self.currency,
            opening_balance: self.opening_balance,
        };
        (self.user_id, fields)
    }
}

/// What a change request is told.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountAccepted {
    pub id: String,
    /// Always `accepted`: the change is applied by the `accounts` job.
    pub status: String,
}

async fn publish(state: &State, op: AccountOp, account_id: &str, user_id: &str, actor: &Principal, fields: AccountFields) -> Result<(), ApiError> {
    let event = AccountEvent {
        schema_version: SCHEMA_VERSION,
        event_id: uuid::Uuid::new_v4().to_string(),
        op,
        account_id: account_id.to_owned(),
        user_id: user_id.to_owned(),
        actor_id: actor.user_id.clone(),
        at: chrono::Utc::now(),
        fields,
    };
    let producer: &Producer = &state.producer;
    producer
        .send_json(&state.config.topic(topics::ACCOUNT), user_id, &event)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::internal(StatusCode::SERVICE_UNAVAILABLE, "the change could not be queued; retry", &e))
}

fn accepted(id: &str) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(&AccountAccepted { id: id.to_owned(), status: "accepted".into() }), StatusCode::ACCEPTED).into_response()
}

#[utoipa::path(post, path = "/api/v1/accounts", operation_id = "create_account", tag = "accounts", security(("bearer" = [])), request_body = NewAccount,
    responses(
        (status = 202, description = "Queued; visible after the `accounts` job's next commit", body = AccountAccepted),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn create(
    principal: Principal,
    body: bytes::Bytes,
    lang: Lang,
    info: RequestInfo,
    state: State,
) -> Result<warp::reply::Response, Rejection> {
    principal.require_write()?;
    let body: NewAccount = decode_json(&body, lang)?;
    let (user_id, fields) = body.fields();
    let user_id = user_id.unwrap_or_else(|| principal.user_id.clone());
    let mut errors = fields.validate(true).err().unwrap_or_default();
    if !Scope::of(&principal, &state.auth).allows(&user_id) {
        errors.push(ValidationError::new("user_id", "not_found", "user_id names nobody you act for"));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(&errors, lang).into());
    }
    let id = uuid::Uuid::new_v4().to_string();
    publish(&state, AccountOp::Create, &id, &user_id, &principal, fields).await?;
    state.auditor.record(&info, Audit { action: "account.created", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&id), detail: None }).await;
    Ok(accepted(&id))
}

/// The visible, live account `id` for a change, or 404.
async fn changeable(state: &State, principal: &Principal, id: &str) -> Result<Account, ApiError> {
    principal.require(&[Role::User, Role::Officer, Role::Admin])?;
    let scope = Scope::of(principal, &state.auth);
    current(state, &scope, id).await?.filter(|a| !a.deleted).ok_or_else(|| ApiError::not_found("account"))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", operation_id = "update_account", tag = "accounts", security(("bearer" = [])), request_body = AccountFields,
    params(("id" = String, Path, description = "account id")),
    responses((status = 202, body = AccountAccepted), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    id: String,
    principal: Principal,
    body: bytes::Bytes,
    lang: Lang,
    info: RequestInfo,
    state: State,
) -> Result<warp::reply::Response, Rejection> {
    let account = changeable(&state, &principal, &id).await?;
    let fields: AccountFields = decode_json(&body, lang)?;
    fields.validate(false).map_err(|errors| ApiError::invalid(&errors, lang))?;
    publish(&state, AccountOp::Update, &id, &account.user_id, &principal, fields).await?;
    state.auditor.record(&info, Audit { action: "account.updated", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&id), detail: None }).await;
    Ok(accepted(&id))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}", operation_id = "delete_account", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "account id")),
    responses((status = 202, description = "Queued; the account is kept as a deleted revision, its transactions keep their reference", body = AccountAccepted), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(id: String, principal: Principal, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    let account = changeable(&state, &principal, &id).await?;
    publish(&state, AccountOp::Delete, &id, &account.user_id, &principal, AccountFields::default()).await?;
    state.auditor.record(&info, Audit { action: "account.deleted", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&id), detail: None }).await;
    Ok(accepted(&id))
}
