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
