//! The one mapping from failures to HTTP responses: a status and a JSON body
//! `{"error": {"code", "message", "fields"?}}`, plus the request body
//! decoder every route uses, so that a malformed body is always a 400 and a
//! body with wrong fields always a 422 naming them, in the language the
//! request asked for. Internal details are logged, never sent.

use std::convert::Infallible;

use arus_schemas::i18n::{self, Lang};
use arus_schemas::ValidationError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `unauthorized`, `not_found`, `validation_failed`, …
    pub code: String,
    pub message: String,
    /// One entry per refused field (422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// A refused field, with the message in the request's language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// An error a handler returns; becomes a JSON response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), fields: Vec::new(), headers: Vec::new() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 with `WWW-Authenticate: Bearer`; `why` says what was wrong.
    pub fn unauthorized(why: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", why).with_header("www-authenticate", "Bearer")
    }

    pub fn forbidden(why: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", why)
    }

    /// 404: also what a request for another tenant's row gets.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_many(retry_after: std::time::Duration) -> Self {
        let secs = retry_after.as_secs().max(1);
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", format!("too many failed attempts; try again in {secs} s"))
            .with_header("retry-after", secs.to_string())
    }

    /// 422 with one entry per refused field, messages in `lang`.
    pub fn invalid(errors: &[ValidationError], lang: Lang) -> Self {
        let message = match lang {
            Lang::En => "the request has invalid fields",
            Lang::Id => "permintaan berisi isian yang tidak sah",
        };
        let fields = errors
            .iter()
            .map(|e| FieldError { field: e.field.clone(), code: e.code.clone(), message: i18n::message(e, lang) })
            .collect();
        ApiError { fields, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message) }
    }

    /// 500 or 503; the cause is logged, the client sees only `message`.
    pub fn internal(status: StatusCode, message: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{message}");
        Self::new(status, "internal", message)
    }

    /// 503 for a table that cannot be read.
    pub fn unavailable(what: &str, cause: &dyn std::fmt::Display) -> Self {
        Self::internal(StatusCode::SERVICE_UNAVAILABLE, &format!("{what} cannot be read right now; retry shortly"), cause)
    }

    /// The same error with another status and code (e.g. a 409 naming fields).
    pub fn with_status(mut self, status: StatusCode, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl warp::reject::Reject for ApiError {}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message, fields: self.fields } };
        let mut response = warp::reply::with_status(warp::reply::json(&body), self.status).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// Turns every rejection into a JSON error response.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    if let Some(e) = rejection.find::<ApiError>() {
        return Ok(e.clone().into_response());
    }
    let error = if rejection.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(format!("invalid query string: {e}"))
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::new(StatusCode::LENGTH_REQUIRED, "length_required", "send the body with a Content-Length header")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this resource")
    } else if rejection.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send application/json")
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request(e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        ApiError::bad_request(e.to_string())
    } else {
        ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "unexpected error", &format!("{rejection:?}"))
    };
    Ok(error.into_response())
}

/// The language of the request (`Accept-Language`).
pub fn lang() -> impl Filter<Extract = (Lang,), Error = Infallible> + Clone {
    warp::header::headers_cloned().map(|headers: warp::http::HeaderMap| {
        Lang::from_accept_language(headers.get("accept-language").and_then(|v| v.to_str().ok()))
    })
}

/// A JSON body of at most `limit` bytes, decoded into `T`: 400 when it is
/// not JSON at all, 422 naming the field when a field is missing, of the
/// wrong type or unknown.
pub fn json_body<T: DeserializeOwned + Send>(limit: u64) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(limit)
        .and(warp::body::bytes())
        .and(lang())
        .and_then(|bytes: bytes::Bytes, lang: Lang| async move { decode_json::<T>(&bytes, lang).map_err(Rejection::from) })
}

/// Decodes `bytes` as [`json_body`] does.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8], lang: Lang) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(value) => Ok(value),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if !matches!(inner.classify(), serde_json::error::Category::Data) {
                return Err(ApiError::bad_request(format!("the body is not valid JSON: {inner}")));
            }
            Err(ApiError::invalid(&[field_error(&path, &inner.to_string())], lang))
        }
    }
}

/// A serde data error as a field error: the field named by the path, or by
/// the message for a missing or unknown field (serde reports those at the
/// enclosing object).
fn field_error(path: &str, message: &str) -> ValidationError {
    let quoted = message.split('`').nth(1).unwrap_or("");
    let message = message.split(" at line ").next().unwrap_or(message);
    let join = |name: &str| if path == "." || path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
    if message.starts_with("missing field") {
        ValidationError::required(&join(quoted))
    } else if message.starts_with("unknown field") {
        // The path already ends at the unknown key.
        let field = if path == "." || path.is_empty() { quoted } else { path };
        ValidationError::new(field, "unknown_field", format!("unknown field {quoted}"))
    } else {
        let field = if path == "." || path.is_empty() { "body" } else { path };
        ValidationError::with_param(field, "invalid_type", format!("{field}: {message}"), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        amount: i64,
        note: Option<String>,
    }

    fn fields(result: Result<Body, ApiError>) -> (StatusCode, Vec<(String, String)>) {
        let e = result.unwrap_err();
        (e.status, e.fields.iter().map(|f| (f.field.clone(), f.code.clone())).collect())
    }

    #[test]
    fn body_errors_name_the_field() {
        assert_eq!(fields(decode_json(b"{}", Lang::En)), (StatusCode::UNPROCESSABLE_ENTITY, vec![("amount".into(), "required".into())]));
        assert_eq!(
            fields(decode_json(br#"{"amount":"lots"}"#, Lang::En)),
            (StatusCode::UNPROCESSABLE_ENTITY, vec![("amount".into(), "invalid_type".into())])
        );
        assert_eq!(
            fields(decode_json(br#"{"amount":1,"x":2}"#, Lang::En)),
            (StatusCode::UNPROCESSABLE_ENTITY, vec![("x".into(), "unknown_field".into())])
        );
        assert_eq!(fields(decode_json(b"{\"amount\":", Lang::En)).0, StatusCode::BAD_REQUEST);
        assert_eq!(fields(decode_json(b"\xff\xfe", Lang::En)).0, StatusCode::BAD_REQUEST);
        let e = decode_json::<Body>(b"{}", Lang::Id).unwrap_err();
        assert_eq!(e.fields[0].message, "jumlah wajib diisi");
    }
}
