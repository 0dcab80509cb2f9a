//! Slack's settings and clients, as start-up builds them: the signing secret, the served
//! workspaces and, with a bot token, the Web API client notices are posted with.

use std::collections::HashSet;
use std::sync::Arc;

use super::web::WebApi;
use crate::keys::SigningSecret;

/// Slack settings.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// The app's signing secret.
    pub signing_secret: SigningSecret,
    /// Team ids (`T…`) and enterprise ids (`E…`) that are served.
    pub allowed_workspaces: HashSet<String>,
    /// The Web API client, when a bot token is configured: notices are posted with it.
    pub web_api: Option<Arc<WebApi>>,
}

impl SlackConfig {
    /// Whether `team` (or its `enterprise`) is served.
    pub fn allows(&self, team: &str, enterprise: Option<&str>) -> bool {
        self.allowed_workspaces.contains(team)
            || enterprise.is_some_and(|e| self.allowed_workspaces.contains(e))
    }
}
