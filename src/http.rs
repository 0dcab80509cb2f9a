//! The HTTP surface: one [`router`] served by `otpbot serve` and by Lambda, so the path tested
//! locally is the one deployed. It only composes: each chat platform mounts its own routes
//! (`slack::routes`, `teams::routes`), and what they share lives in [`crate::front`].

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::engine::Engine;
use crate::front::{Background, MAX_BODY};
use crate::slack::{self, SlackConfig};
use crate::teams::{self, TeamsConfig};

/// What the application is built from.
#[derive(Clone)]
pub struct AppState {
    /// The core.
    pub engine: Arc<Engine>,
    /// Slack settings; `None` turns the Slack endpoints off.
    pub slack: Option<Arc<SlackConfig>>,
    /// Teams settings; `None` turns the Teams endpoint off.
    pub teams: Option<Arc<TeamsConfig>>,
    /// Follow-ups still running after their answers (see [`Background`]).
    pub background: Background,
}

async fn healthz() -> &'static str {
    "ok"
}

/// The application: `GET /healthz`, Slack's `POST /slack/commands` and
/// `POST /slack/interactions`, Teams' `POST /teams/messages`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(slack::routes(slack::SlackState {
            engine: state.engine.clone(),
            slack: state.slack,
            background: state.background.clone(),
        }))
        .merge(teams::routes(teams::TeamsState {
            engine: state.engine,
            teams: state.teams,
            background: state.background,
        }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}
