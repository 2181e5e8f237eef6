//! `/api/v1/auth/…` and `/api/v1/me`: registration, login (throttled,
//! audited), refresh-token rotation, logout, and who am I.

use arus_schemas::people::{normalise_email, normalise_phone};
use arus_schemas::{AuditOutcome, Lang, Role, UserRecord, ValidationError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::audit::Audit;
use crate::auth::store::{NewUser, RefreshRefused, StoreError};
use crate::auth::{authenticated, password, LoginRefused, Principal};
use crate::error::{json_body, lang, ApiError, ErrorBody};
use crate::observe::{request_info, RequestInfo};
use crate::State;

pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.config.http_max_body_bytes;
    let auth = warp::path("auth");
    let register = auth
        .and(warp::path("register"))
        .and(warp::path::end())
        .and(warp::post())
        .and(json_body::<RegisterRequest>(limit))
        .and(lang())
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(register);
    let login = auth
        .and(warp::path("login"))
        .and(warp::path::end())
        .and(warp::post())
        .and(json_body::<LoginRequest>(limit))
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(login);
    let refresh = auth
        .and(warp::path("refresh"))
        .and(warp::path::end())
        .and(warp::post())
        .and(json_body::<RefreshRequest>(limit))
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(refresh);
    let logout = auth
        .and(warp::path("logout"))
        .and(warp::path::end())
        .and(warp::post())
        .and(authenticated(state.clone()))
        .and(request_info())
        .and(with_state(state.clone()))
        .and_then(logout);
    let me = warp::path("me").and(warp::path::end()).and(warp::get()).and(authenticated(state.clone())).and(with_state(state)).and_then(me);
    register.or(login).or(refresh).or(logout).or(me)
}

/// A new account of a person: e-mail, Indonesian mobile number, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[serde(default)]
    pub email: Option<String>,
    /// Indonesian mobile number in any common form (`0812…`, `+62 812…`).
    #[serde(default)]
    pub phone: Option<String>,
    /// 8 to 256 characters.
    pub password: String,
    pub display_name: String,
}

/// A person as the API shows them (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub display_name: String,
    #[schema(value_type = String, example = "user")]
    pub role: Role,
    pub officer_id: Option<String>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        UserView {
            user_id: u.user_id,
            email: u.email,
            phone: u.phone,
            display_name: u.display_name,
            role: u.role,
            officer_id: u.officer_id,
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A validated registration: normalised e-mail and phone.
pub struct ValidRegistration {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub display_name: String,
    pub password: String,
}

/// Checks a registration; shared with `arus user create`.
pub fn validate_registration(
    email: Option<&str>,
    phone: Option<&str>,
    password: &str,
    display_name: &str,
) -> Result<ValidRegistration, Vec<ValidationError>> {
    let mut errors = Vec::new();
    let email = email.filter(|e| !e.trim().is_empty());
    let phone = phone.filter(|p| !p.trim().is_empty());
    if email.is_none() && phone.is_none() {
        errors.push(ValidationError::new("email", "email_or_phone", "give an e-mail address or a phone number"));
    }
    let email_n = email.and_then(normalise_email);
    if email.is_some() && email_n.is_none() {
        errors.push(ValidationError::new("email", "invalid_email", "email is not a valid e-mail address"));
    }
    let phone_n = phone.and_then(normalise_phone);
    if phone.is_some() && phone_n.is_none() {
        errors.push(ValidationError::new("phone", "invalid_phone", "phone is not a valid Indonesian mobile number (e.g. 0812…)"));
    }
    let length = password.chars().count();
    if length < password::MIN_LENGTH {
        errors.push(ValidationError::with_param(
            "password",
            "too_short",
            format!("password must have at least {} characters", password::MIN_LENGTH),
            password::MIN_LENGTH,
        ));
    } else if length > password::MAX_LENGTH {
        errors.push(ValidationError::with_param(
            "password",
            "too_long",
            format!("password is longer than {} characters", password::MAX_LENGTH),
            password::MAX_LENGTH,
        ));
    }
    let name = display_name.trim();
    if name.is_empty() {
        errors.push(ValidationError::required("display_name"));
    } else if name.chars().count() > 100 {
        errors.push(ValidationError::with_param("display_name", "too_long", "display_name is longer than 100 characters", 100));
    } else if name.chars().any(char::is_control) {
        errors.push(ValidationError::new("display_name", "control_characters", "display_name contains control characters"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidRegistration { email: email_n, phone: phone_n, display_name: name.to_owned(), password: password.to_owned() })
}

/// Hashes and stores a validated registration; shared with `arus user create`.
pub async fn create_user(
    auth: &crate::auth::store::AuthStore,
    valid: ValidRegistration,
    role: Role,
    created_by: Option<String>,
) -> Result<UserRecord, StoreError> {
    let hash = password::hash(valid.password).await.map_err(StoreError::Hash)?;
    auth.register(NewUser {
        user_id: None,
        email: valid.email,
        phone: valid.phone,
        display_name: valid.display_name,
        password_hash: hash,
        role,
        officer_id: None,
        created_by,
    })
    .await
}

/// Maps a store failure to HTTP: a taken name is a 409 naming the field.
pub fn store_error(e: StoreError, lang: Lang) -> ApiError {
    match e {
        StoreError::Taken { field } => {
            let taken = ValidationError::new(field, "taken", format!("{field} is already registered"));
            ApiError::invalid(&[taken], lang).with_status(StatusCode::CONFLICT, "conflict")
        }
        StoreError::NoSuchUser => ApiError::not_found("user"),
        StoreError::Hash(_) => ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "the password could not be hashed", &e),
        other => ApiError::unavailable("the users table", &other),
    }
}

#[utoipa::path(post, path = "/api/v1/auth/register", operation_id = "register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered with role `user`", body = UserView),
        (status = 409, description = "E-mail or phone already registered", body = ErrorBody),
        (status = 422, description = "Invalid fields (messages follow Accept-Language)", body = ErrorBody),
    ))]
pub(crate) async fn register(body: RegisterRequest, lang: Lang, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    let valid = validate_registration(body.email.as_deref(), body.phone.as_deref(), &body.password, &body.display_name)
        .map_err(|errors| ApiError::invalid(&errors, lang))?;
    let user = create_user(&state.auth, valid, Role::User, None).await.map_err(|e| store_error(e, lang))?;
    let principal = Principal { user_id: user.user_id.clone(), role: user.role, session_id: String::new() };
    state.auditor.record(&info, Audit { action: "auth.register", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&user.user_id), detail: None }).await;
    Ok(warp::reply::with_status(warp::reply::json(&UserView::from(user)), StatusCode::CREATED).into_response())
}

/// Credentials: the e-mail address or phone number registered, and the password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
}

/// Tokens handed out by login and refresh.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// Bearer token for `Authorization` (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; works once.
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: UserView,
}

fn tokens(state: &State, user: UserRecord, issued: crate::auth::store::IssuedRefresh) -> Result<TokenPair, ApiError> {
    let ttl = state.config.access_token_ttl_s;
    let (access, _) = state
        .keys
        .issue(&user.user_id, user.role.as_str(), &issued.family_id, ttl)
        .map_err(|e| ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "could not sign a token", &e))?;
    Ok(TokenPair {
        access_token: access,
        token_type: "Bearer".into(),
        expires_in: ttl,
        refresh_token: issued.token,
        refresh_expires_at: issued.expires_at,
        user: user.into(),
    })
}

#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 401, description = "Wrong login or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody),
    ))]
pub(crate) async fn login(body: LoginRequest, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    let user = match crate::auth::check_login(&state, &info, "auth.login", &body.login, body.password).await {
        Ok(user) => user,
        Err(LoginRefused::Throttled(retry_after)) => return Err(ApiError::too_many(retry_after).into()),
        Err(LoginRefused::Failed) => return Err(ApiError::unauthorized("wrong login or password").into()),
    };
    let issued = state
        .auth
        .start_session(&user.user_id, state.config.refresh_token_ttl_s)
        .await
        .map_err(|e| ApiError::unavailable("the session store", &e))?;
    let principal = Principal { user_id: user.user_id.clone(), role: user.role, session_id: issued.family_id.clone() };
    state
        .auditor
        .record(&info, Audit { action: "auth.login", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&user.user_id), detail: None })
        .await;
    Ok(warp::reply::json(&tokens(&state, user, issued)?).into_response())
}

/// A refresh token to exchange.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair; the old refresh token is spent", body = TokenPair),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token (reuse ends the session)", body = ErrorBody),
    ))]
pub(crate) async fn refresh(body: RefreshRequest, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    let rotated = state
        .auth
        .rotate(&body.refresh_token, state.config.refresh_token_ttl_s)
        .await
        .map_err(|e| ApiError::unavailable("the session store", &e))?;
    match rotated {
        Ok((user, issued)) => Ok(warp::reply::json(&tokens(&state, user, issued)?).into_response()),
        Err(refused) => {
            if refused == RefreshRefused::Reused {
                let owner = state.auth.session_of(&body.refresh_token).map(|(_, user)| user);
                tracing::warn!(request_id = %info.id, "refresh token reused; session revoked");
                state
                    .auditor
                    .record(&info, Audit { action: "auth.refresh_reused", outcome: AuditOutcome::Refused, actor: None, target: owner.as_deref(), detail: Some("session revoked".into()) })
                    .await;
            }
            Err(ApiError::unauthorized(refused.to_string()).into())
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is over: its refresh and access tokens stop working"),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub(crate) async fn logout(principal: Principal, info: RequestInfo, state: State) -> Result<warp::reply::Response, Rejection> {
    state
        .auth
        .revoke_session(&principal.session_id, &principal.user_id, "logout")
        .await
        .map_err(|e| ApiError::unavailable("the session store", &e))?;
    state
        .auditor
        .record(&info, Audit { action: "auth.logout", outcome: AuditOutcome::Success, actor: Some(&principal), target: Some(&principal.user_id), detail: None })
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(get, path = "/api/v1/me", operation_id = "me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The person logged in", body = UserView),
        (status = 401, description = "Not logged in", body = ErrorBody),
    ))]
pub(crate) async fn me(principal: Principal, state: State) -> Result<warp::reply::Response, Rejection> {
    let user = state.auth.user(&principal.user_id).ok_or_else(|| ApiError::unauthorized("unknown user"))?;
    Ok(warp::reply::json(&UserView::from(user)).into_response())
}
