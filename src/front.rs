//! What every chat front end shares and nothing else: the error a request ends with before or
//! around the core, the body limit, the outbound HTTP client, and the count of follow-ups still
//! running ([`Background`]). A leaf: it depends on the domain only, so front ends (`slack`,
//! `teams`) depend on it and [`crate::http`] mounts them, and no arrow points back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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

/// An HTTP client for outbound calls (the Slack Web API and response URLs, the Bot Framework,
/// `otpbot slash`), TLS by rustls with the same aws-lc crypto provider the AWS SDK uses, and a
/// request timeout. It never follows a redirect: every host it reaches is one otpbot checked
/// (a Slack response URL, an activity's verified `serviceUrl`), and a `307` from there must
/// not carry a code, a card or a token anywhere else. A redirect is answered as the error it
/// is for these APIs.
/// Fails when the platform's CA certificates cannot be loaded (e.g. a broken `SSL_CERT_FILE`).
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    client_builder().timeout(timeout).build()
}

/// The builder of [`client`]: rustls with aws-lc, and no redirect ever followed.
pub fn client_builder() -> reqwest::ClientBuilder {
    // Installing fails only if a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}

/// Work a front end does after it has answered: the follow-ups a reply calls for (notices, the
/// updated request message, a click's answer through Slack's response URL). Each runs on its
/// own task and is counted while it runs, so whoever must wait for them can: the Lambda entry
/// before its environment is frozen, `otpbot serve` before it exits, a test before it looks.
#[derive(Clone)]
pub struct Background {
    running: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Default for Background {
    fn default() -> Self {
        Self {
            running: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

/// Counts one task down when it ends, however it ends.
struct Running(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Background {
    /// Runs `work` on its own task, counted until it ends.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.running.send_modify(|n| *n += 1);
        let running = Running(self.running.clone());
        tokio::spawn(async move {
            let _running = running;
            work.await;
        });
    }

    /// How many tasks are running now.
    pub fn running(&self) -> usize {
        *self.running.borrow()
    }

    /// Completes once no task is running (at once if none is).
    pub async fn idle(&self) {
        let mut seen = self.running.subscribe();
        // The sender lives as long as `self`, so this only ends when the count is zero.
        let _ = seen.wait_for(|n| *n == 0).await;
    }

    /// [`Background::idle`], giving up after `limit`; `false` if tasks were still running.
    pub async fn idle_within(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.idle()).await.is_ok()
    }
}
