//! The one application state: the engine, each chat platform's settings and clients (`None`
//! turns its endpoints off), and the follow-ups still running. Front ends take what they need
//! from it as sub-states ([`FromRef`]) through the `front::Front` extractor, so no front end
//! has a state struct of its own.

use std::sync::Arc;

use axum::extract::FromRef;

use super::app::App;
use crate::config::Settings;
use crate::engine::Engine;
use crate::front::{Background, Outbox};
use crate::slack::{SlackConfig, SlackOut};
use crate::teams::{TeamsConfig, TeamsOut};

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

impl FromRef<AppState> for Arc<Engine> {
    fn from_ref(state: &AppState) -> Self {
        state.engine.clone()
    }
}

impl FromRef<AppState> for Background {
    fn from_ref(state: &AppState) -> Self {
        state.background.clone()
    }
}

impl FromRef<AppState> for Option<Arc<SlackConfig>> {
    fn from_ref(state: &AppState) -> Self {
        state.slack.clone()
    }
}

impl FromRef<AppState> for Option<Arc<TeamsConfig>> {
    fn from_ref(state: &AppState) -> Self {
        state.teams.clone()
    }
}

/// The way out to each chat platform set up to post on its own (Slack with a bot token,
/// Teams): where the audit checkpoints go.
pub fn outbox(slack: Option<&SlackConfig>, teams: Option<&Arc<TeamsConfig>>) -> Outbox {
    let mut outbox = Outbox::default();
    if let Some(api) = slack.and_then(|s| s.web_api.clone()) {
        outbox = outbox.with(Arc::new(SlackOut::outbox(api)));
    }
    if let Some(teams) = teams {
        outbox = outbox.with(Arc::new(TeamsOut::outbox(teams.clone())));
    }
    outbox
}

impl AppState {
    /// Where this state's platforms post on their own.
    pub fn outbox(&self) -> Outbox {
        outbox(self.slack.as_deref(), self.teams.as_ref())
    }
}

impl App {
    /// The state for serving: Slack and Teams, each when configured; at least one must be.
    pub async fn into_state(self, settings: &Settings) -> anyhow::Result<AppState> {
        if !settings.slack_enabled() && settings.teams.is_none() {
            anyhow::bail!(
                "neither Slack nor Teams is configured: set OTPBOT_SLACK_SIGNING_SECRET and \
                 OTPBOT_SLACK_TEAM_IDS for Slack, OTPBOT_TEAMS_APP_ID and OTPBOT_TEAMS_TENANT_IDS \
                 for Teams (or try `otpbot demo`)"
            );
        }
        let slack = if settings.slack_enabled() {
            Some(Arc::new(self.slack_config(settings).await?))
        } else {
            None
        };
        let teams = self.teams_config(settings).await?;
        let engine = Arc::new(self.engine);
        Ok(AppState {
            background: Background::recording_copies(engine.clone()),
            engine,
            slack,
            teams: teams.map(Arc::new),
        })
    }
}
