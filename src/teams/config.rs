//! Teams' settings and clients, as start-up builds them: the token verifier, the Bot Connector
//! client and the served tenants.

use std::collections::HashSet;

use super::auth::{BotAuth, DEFAULT_OPENID_URL};
use super::connector::Connector;

/// Teams settings and clients.
pub struct TeamsConfig {
    /// Verifies incoming tokens.
    pub auth: BotAuth,
    /// Sends replies.
    pub connector: Connector,
    /// Tenants that are served.
    pub allowed_tenants: HashSet<String>,
}

impl TeamsConfig {
    /// Serving the local Microsoft 365 Agents Playground: no token is verified or fetched, and
    /// only loopback service URLs are accepted (see `Settings::enable_teams_playground`).
    pub fn playground(allowed_tenants: HashSet<String>, http: reqwest::Client) -> Self {
        Self {
            auth: BotAuth::new(String::new(), DEFAULT_OPENID_URL.into(), http.clone()),
            connector: Connector::playground(http),
            allowed_tenants,
        }
    }

    /// Whether this serves the local playground rather than the Bot Framework.
    pub fn is_playground(&self) -> bool {
        self.connector.is_playground()
    }
}
