//! How a request ends before it reaches the engine, or when something fails around it: the
//! HTTP status and the words a platform sees, never more than is safe to say.

use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::domain::RequestId;

/// Largest request body accepted (SPEC §7).
pub const MAX_BODY: usize = 16 * 1024;

/// A request that ends before reaching the core, or a failure around it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Verification failed; the reason is safe to state.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The body exceeds [`MAX_BODY`].
    #[error("request body larger than 16 KiB")]
    PayloadTooLarge,
    /// Authenticated, but not allowed (wrong channel endorsement, service URL, tenant).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The verified body is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The endpoint is not configured.
    #[error("not found")]
    NotFound,
    /// An internal failure; details are in the log under this id.
    #[error("internal error, request id {0}")]
    Internal(RequestId),
}

impl ApiError {
    /// Maps a body-reading failure: too large, or unreadable.
    pub fn from_body_rejection(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("the body could not be read".into())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, self.to_string()).into_response()
    }
}
