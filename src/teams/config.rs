//! Teams' settings and clients, as start-up builds them: the token verifier, the Bot Connector
//! client and the served tenants.

use std::collections::HashSet;

use super::auth::{BotAuth, DEFAULT_OPENID_URL};
use super::connector::Connector;

/// The Bot Connector's service URL for proactive messages in the public Teams cloud, used when
/// no conversation has handed one over (Microsoft 365 Agents SDK, `TeamsServiceEndpoints`
/// `publicGlobal`: <https://microsoft.github.io/Agents-for-js/variables/_microsoft_agents-hosting.TeamsServiceEndpoints.html>).
/// Government clouds have their own (`OTPBOT_TEAMS_SERVICE_URL`).
pub const DEFAULT_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";

/// Teams settings and clients.
pub struct TeamsConfig {
    /// Verifies incoming tokens.
    pub auth: BotAuth,
    /// Sends replies.
    pub connector: Connector,
    /// Tenants that are served.
    pub allowed_tenants: HashSet<String>,
    /// The service URL for messages outside any request, which no activity hands over.
    pub service_url: String,
}

impl TeamsConfig {
    /// Serving the local Microsoft 365 Agents Playground: no token is verified or fetched, and
    /// only loopback service URLs are accepted (see `Settings::enable_teams_playground`).
    pub fn playground(allowed_tenants: HashSet<String>, http: reqwest::Client) -> Self {
        Self {
            auth: BotAuth::new(String::new(), DEFAULT_OPENID_URL.into(), http.clone()),
            connector: Connector::playground(http),
            allowed_tenants,
            service_url: DEFAULT_SERVICE_URL.into(),
        }
    }

    /// Whether this serves the local playground rather than the Bot Framework.
    pub fn is_playground(&self) -> bool {
        self.connector.is_playground()
    }
}
