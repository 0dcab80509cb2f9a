//! An app-only access token from the Microsoft identity platform's client-credentials flow, for
//! one app registration and one scope, cached until shortly before it expires: the Bot
//! Connector and Microsoft Graph each hold one
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>).

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

/// A cached token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Why no token came; each client tells it in its own words.
#[derive(Debug)]
pub(super) enum TokenError {
    /// The request did not get an answer.
    Unanswered(reqwest::Error),
    /// The identity platform answered with this non-success status.
    Refused(reqwest::StatusCode),
    /// The answer was not a token.
    Unreadable(reqwest::Error),
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// The token of one app registration for one scope.
pub(super) struct AppToken {
    /// `{login_url}/{tenant}/oauth2/v2.0/token`.
    url: String,
    app_id: String,
    secret: SecretString,
    scope: &'static str,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl AppToken {
    /// The token of app `app_id` (authenticating with `secret`) registered in `tenant`, asked of
    /// the authority at `login_url`, for `scope`.
    pub(super) fn new(
        (login_url, tenant): (&str, &str),
        app_id: String,
        secret: SecretString,
        scope: &'static str,
    ) -> Self {
        Self {
            url: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                login_url.trim_end_matches('/')
            ),
            app_id,
            secret,
            scope,
            cached: Mutex::new(None),
        }
    }

    /// The cached token, or a new one asked for over `http`.
    pub(super) async fn get(&self, http: &reqwest::Client) -> Result<SecretString, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref() {
            if Instant::now() + RENEW_BEFORE < *expires {
                return Ok(token.clone());
            }
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.app_id.as_str()),
            ("client_secret", self.secret.expose_secret()),
            ("scope", self.scope),
        ];
        let response = http
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .map_err(TokenError::Unanswered)?;
        if !response.status().is_success() {
            return Err(TokenError::Refused(response.status()));
        }
        let token: TokenResponse = response.json().await.map_err(TokenError::Unreadable)?;
        let secret = SecretString::from(token.access_token);
        *cached = Some((
            secret.clone(),
            Instant::now() + Duration::from_secs(token.expires_in),
        ));
        Ok(secret)
    }
}
