//! The one [`router`] served by `otpbot serve`, by the Lambda function and by the tests, so the
//! path tested locally is the one deployed. It only composes: each chat platform mounts its own
//! endpoints, which take what they need from the [`AppState`].

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use super::state::AppState;
use crate::front::MAX_BODY;
use crate::{slack, teams};

async fn healthz() -> &'static str {
    "ok"
}

/// The application: `GET /healthz`, Slack's `POST /slack/commands` and
/// `POST /slack/interactions`, Teams' `POST /teams/messages`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(slack::routes())
        .merge(teams::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}
