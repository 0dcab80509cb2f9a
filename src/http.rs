//! The HTTP surface: one [`router`] served by `otpbot serve` and (later) by Lambda, so the path
//! tested locally is the one deployed. Errors become [`ApiError`] responses that never echo the
//! request body or internal detail.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::domain::RequestId;
use crate::engine::Engine;
use crate::slack::{self, SlackConfig};
use crate::teams::TeamsConfig;

/// Largest request body accepted (SPEC §7).
pub const MAX_BODY: usize = 16 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The core.
    pub engine: Arc<Engine>,
    /// Slack settings; `None` turns the Slack endpoint off.
    pub slack: Option<Arc<SlackConfig>>,
    /// Teams settings; `None` turns the Teams endpoint off.
    pub teams: Option<Arc<TeamsConfig>>,
}

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

async fn healthz() -> &'static str {
    "ok"
}

/// The application: `GET /healthz`, `POST /slack/commands`, `POST /teams/messages`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/slack/commands", post(slack::commands))
        .route(
            "/slack/interactions",
            post(slack::interactions::interactions),
        )
        .route("/teams/messages", post(crate::teams::messages))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}
