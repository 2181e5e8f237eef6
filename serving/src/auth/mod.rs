//! Who is asking: bearer access tokens checked on every request, the person
//! and role they stand for now (a role change or a disabled account takes
//! effect at once, not when the token expires), and the login session they
//! belong to (logout ends it at once).

pub mod password;
pub mod store;
pub mod throttle;
pub mod tokens;

use arus_schemas::Role;
use warp::{Filter, Rejection};

use crate::api::with_state;
use crate::error::ApiError;
use crate::State;

/// The person behind an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    /// The login session (refresh-token family) the access token belongs to.
    pub session_id: String,
}

impl Principal {
    /// 403 unless the principal has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this needs the role {}", roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or "))))
        }
    }

    /// 403 for roles that only read (analysts).
    pub fn require_write(&self) -> Result<(), ApiError> {
        self.require(&[Role::User, Role::Officer, Role::Admin])
    }
}

/// Extracts the [`Principal`] of a request with a valid `Authorization:
/// Bearer` access token; 401 with a JSON body otherwise.
pub fn authenticated(state: State) -> impl Filter<Extract = (Principal,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization").and(with_state(state)).and_then(|header: Option<String>, state: State| async move {
        principal(header.as_deref(), &state).map_err(Rejection::from)
    })
}

/// The principal of an `Authorization` header value.
pub fn principal(header: Option<&str>, state: &State) -> Result<Principal, ApiError> {
    let header = header.ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
    let claims = state.keys.verify(token).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        let why = match e.kind() {
            ErrorKind::ExpiredSignature => "the access token has expired; refresh it",
            ErrorKind::ImmatureSignature => "the access token is not valid yet",
            ErrorKind::InvalidSignature => "the access token signature is invalid",
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "the access token algorithm is not accepted",
            ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => "the access token was not issued for this API",
            _ => "the access token is malformed",
        };
        ApiError::unauthorized(why)
    })?;
    if !state.auth.session_active(&claims.sid) {
        return Err(ApiError::unauthorized("the session has ended; log in again"));
    }
    let user = state.auth.user(&claims.sub).ok_or_else(|| ApiError::unauthorized("unknown user"))?;
    if user.disabled {
        return Err(ApiError::unauthorized("the account is disabled"));
    }
    Ok(Principal { user_id: user.user_id, role: user.role, session_id: claims.sid })
}

/// Why [`check_login`] refused.
pub enum LoginRefused {
    /// Too many failures for this account or address: try again after this.
    Throttled(std::time::Duration),
    /// Unknown login, wrong password or disabled account (not told apart).
    Failed,
}

/// Checks a login (email or phone) and password as every way in does —
/// the HTTP login and the Postgres protocol: throttled per account (the
/// normalised name, so `0812…` and `+62812…` count together) and address,
/// an unknown login costs a hash like a known one, failures are counted
/// and audited under `action`. The caller audits the success with the
/// principal it makes.
pub async fn check_login(
    state: &crate::State,
    info: &crate::observe::RequestInfo,
    action: &'static str,
    login: &str,
    secret: String,
) -> Result<arus_schemas::UserRecord, LoginRefused> {
    use arus_schemas::people::{normalise_email, normalise_phone};
    use arus_schemas::AuditOutcome;
    use crate::audit::Audit;
    use throttle::Verdict;
    let login = login.trim();
    let (email, phone) = if login.contains('@') { (normalise_email(login), None) } else { (None, normalise_phone(login)) };
    let account = email.clone().or_else(|| phone.clone()).unwrap_or_else(|| login.to_lowercase());
    let addr = info.remote.map(|a| a.ip());
    let audit = |outcome, detail: &str| Audit { action, outcome, actor: None, target: Some(login), detail: Some(detail.to_owned()) };
    match state.throttle.check(&account, addr) {
        Verdict::Refuse { retry_after } => {
            metrics::counter!("arus_logins_total", "outcome" => "throttled").increment(1);
            tracing::warn!(request_id = %info.id, action, "login refused: too many failures");
            state.auditor.record(info, audit(AuditOutcome::Refused, "too many failed attempts")).await;
            return Err(LoginRefused::Throttled(retry_after));
        }
        Verdict::Delay(delay) => tokio::time::sleep(delay).await,
        Verdict::Go => {}
    }
    let user = state.auth.find_login(email.as_deref(), phone.as_deref());
    let hash = user.as_ref().map_or_else(|| password::decoy().to_owned(), |u| u.password_hash.clone());
    let matches = password::verify(secret, hash).await;
    match user {
        Some(user) if matches && !user.disabled => {
            state.throttle.succeeded(&account);
            metrics::counter!("arus_logins_total", "outcome" => "success").increment(1);
            Ok(user)
        }
        found => {
            let failures = state.throttle.failed(&account, addr);
            let detail = match found {
                Some(u) if matches && u.disabled => "account disabled",
                Some(_) => "wrong password",
                None => "unknown login",
            };
            metrics::counter!("arus_logins_total", "outcome" => "failed").increment(1);
            tracing::warn!(request_id = %info.id, action, failures, "login failed");
            state.auditor.record(info, audit(AuditOutcome::Failure, detail)).await;
            Err(LoginRefused::Failed)
        }
    }
}
