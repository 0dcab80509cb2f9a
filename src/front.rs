//! What every chat front end shares and nothing else: the error a request ends with before or
//! around the core, the body limit, and the outbound HTTP client. A leaf: it depends on the
//! domain only, so front ends (`slack`, `teams`) depend on it and [`crate::http`] mounts them,
//! and no arrow points back.

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

/// An HTTP client for outbound calls (Bot Framework, `otpbot slash`), TLS by rustls with the
/// same aws-lc crypto provider the AWS SDK uses, and a request timeout.
/// Fails when the platform's CA certificates cannot be loaded (e.g. a broken `SSL_CERT_FILE`).
pub fn client(timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    // Installing fails only if a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build()
}
