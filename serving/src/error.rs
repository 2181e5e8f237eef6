//! The one mapping from failures to HTTP responses: a status and a JSON body
//! `{"error": {"code", "message", "fields"?}}`. Internal details are logged,
//! never sent.

use std::convert::Infallible;

use arus_schemas::ValidationError;
use serde::Serialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

#[derive(Debug, Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Debug, Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [ValidationError],
}

/// An error a handler returns; becomes a JSON response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<ValidationError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), fields: Vec::new() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422 with one entry per refused field.
    pub fn invalid(fields: Vec<ValidationError>) -> Self {
        ApiError { fields, ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "the request has invalid fields") }
    }

    /// 500 or 503; the cause is logged, the client sees only `message`.
    pub fn internal(status: StatusCode, message: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{message}");
        Self::new(status, "internal", message)
    }
}

impl warp::reject::Reject for ApiError {}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: Detail { code: self.code, message: &self.message, fields: &self.fields } };
        warp::reply::with_status(warp::reply::json(&body), self.status).into_response()
    }
}

/// Turns every rejection into a JSON error response.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    if let Some(e) = rejection.find::<ApiError>() {
        let copy = ApiError { status: e.status, code: e.code, message: e.message.clone(), fields: e.fields.clone() };
        return Ok(copy.into_response());
    }
    let error = if rejection.is_not_found() {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request(format!("invalid query string: {e}"))
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this resource")
    } else if rejection.find::<warp::reject::UnsupportedMediaType>().is_some() {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send application/json")
    } else {
        ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "unexpected error", &format!("{rejection:?}"))
    };
    Ok(error.into_response())
}
