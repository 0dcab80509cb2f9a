//! Microsoft Graph, for the members of Entra ID groups: an app-only token from the bot's own
//! app registration in its tenant (the client-credentials flow at the Microsoft identity
//! platform's token endpoint, scope `https://graph.microsoft.com/.default`:
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>),
//! then `GET /groups/{id}/transitiveMembers?$select=id` page by page, following
//! `@odata.nextLink` (<https://learn.microsoft.com/en-us/graph/api/group-list-transitivemembers>;
//! application permission `GroupMember.Read.All`, admin-consented; members the app may not read
//! in full still come with their `@odata.type` and `id`, which is all otpbot needs).
//!
//! A group of another tenant than the registration's is refused: the token could not read it,
//! and its members are not the served tenant's users. HTTP 429 (Graph throttling), a timeout or
//! an unreachable Graph is a failure the caller hears of; nothing is retried while Slack or
//! Teams waits. The token is never logged.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::app_token::{AppToken, TokenError};
use crate::domain::{Platform, Principal};
use crate::engine::{GroupError, Membership};

/// Microsoft Graph's default base URL (v1.0).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// The scope of app-only Graph tokens.
const SCOPE: &str = "https://graph.microsoft.com/.default";
/// Most pages of members read for one group (999 members a page).
const MAX_PAGES: usize = 20;

/// A Graph client for one app registration.
pub struct Graph {
    http: reqwest::Client,
    graph_url: String,
    tenant: String,
    token: AppToken,
}

impl Graph {
    /// A client for the app `app_id` registered in `tenant`, authenticating with `secret` at
    /// `login_url` and reading from `graph_url`.
    pub fn new(
        http: reqwest::Client,
        (login_url, graph_url): (String, String),
        tenant: String,
        app_id: String,
        secret: SecretString,
    ) -> Self {
        let tenant = tenant.to_ascii_lowercase();
        Self {
            http,
            token: AppToken::new((&login_url, &tenant), app_id, secret, SCOPE),
            graph_url: graph_url.trim_end_matches('/').to_owned(),
            tenant,
        }
    }

    async fn token(&self) -> Result<SecretString, GroupError> {
        self.token.get(&self.http).await.map_err(|e| match e {
            TokenError::Unanswered(e) => unavailable(format!("token request: {}", e.without_url())),
            TokenError::Refused(status) => GroupError::Refused(format!(
                "the Microsoft identity platform refused otpbot a Graph token (HTTP {})",
                status.as_u16()
            )),
            TokenError::Unreadable(e) => unavailable(format!("token response: {e}")),
        })
    }

    /// One page of members: the user ids on it and the next page's URL.
    async fn page(&self, url: &str) -> Result<(Vec<String>, Option<String>), GroupError> {
        let token = self.token().await?;
        let response = self
            .http
            .get(url)
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| unavailable(format!("unreachable: {}", e.without_url())))?;
        match response.status().as_u16() {
            200 => {}
            429 => return Err(unavailable("throttled (HTTP 429)".into())),
            404 => {
                return Err(GroupError::Refused(
                    "Microsoft Graph knows no such group".into(),
                ))
            }
            401 | 403 => {
                return Err(GroupError::Refused(
                    "otpbot's app registration may not read group members: grant it the \
                     GroupMember.Read.All application permission"
                        .into(),
                ))
            }
            other => return Err(unavailable(format!("HTTP {other}"))),
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| unavailable(format!("unreadable answer: {e}")))?;
        let users = body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["@odata.type"] == "#microsoft.graph.user")
            .filter_map(|m| m["id"].as_str())
            .map(str::to_ascii_lowercase)
            .collect();
        let next = body["@odata.nextLink"].as_str().map(str::to_owned);
        Ok((users, next))
    }
}

fn unavailable(why: String) -> GroupError {
    GroupError::Unavailable(format!("Microsoft Graph: {why}"))
}

/// Object ids as Entra writes them: hex digits and dashes.
fn object_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[async_trait]
impl Membership for Graph {
    async fn members(&self, group: &Principal) -> Result<Vec<String>, GroupError> {
        if group.platform() != Platform::EntraGroup || !object_id(group.user()) {
            return Err(GroupError::Refused(format!(
                "`{group}` is not an Entra ID group"
            )));
        }
        if group.workspace() != self.tenant {
            return Err(GroupError::Refused(format!(
                "the group belongs to tenant {}, and otpbot's app registration is in tenant {}",
                group.workspace(),
                self.tenant
            )));
        }
        let mut url = format!(
            "{}/groups/{}/transitiveMembers?$select=id&$top=999",
            self.graph_url,
            group.user()
        );
        let mut members = Vec::new();
        for _ in 0..MAX_PAGES {
            let (users, next) = self.page(&url).await?;
            members.extend(users);
            match next {
                // The token goes only to Graph itself.
                Some(next) if next.starts_with(&format!("{}/", self.graph_url)) => url = next,
                Some(_) => return Err(unavailable("a next page elsewhere than Graph".into())),
                None => return Ok(members),
            }
        }
        Err(GroupError::Refused(format!(
            "the group has more than {} members; grant to smaller groups",
            MAX_PAGES * 999
        )))
    }
}
