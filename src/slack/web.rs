//! A small Slack Web API client: JSON `POST {base}{method}` with the bot token as a bearer
//! token, answers read as `{"ok": true|false, "error": …}`, and HTTP 429 answered by waiting
//! the `Retry-After` seconds before trying again.
//!
//! - Calling conventions (JSON bodies with `Content-type: application/json`, the token in
//!   `Authorization: Bearer`; every answer carries `ok`, and `error` when it is false): Slack,
//!   "Using the Slack Web API": <https://docs.slack.dev/apis/web-api/>.
//! - Rate limits: "your app will receive a HTTP 429 Too Many Requests error, and a Retry-After
//!   HTTP header containing the number of seconds until you can retry" (Slack, "Rate limits":
//!   <https://docs.slack.dev/apis/web-api/rate-limits>).
//! - `chat.postMessage` takes `channel`, `text` (the notification fallback when `blocks` are
//!   given) and `blocks` (<https://docs.slack.dev/reference/methods/chat.postMessage>); it needs
//!   the `chat:write` scope.
//!
//! Hand-written rather than slack-morphism: otpbot makes four JSON calls, and reqwest is
//! already in the tree. Measured: a clean debug build of slack-morphism 2.31.1 alone
//! (`default-features = false, features = ["hyper"]`, `cargo build --jobs 2` on this 2-core
//! machine) took 1 min 53 s and compiled 143 crates, 18 of them not otherwise in otpbot's
//! lockfile (darling, serde_with, jiff, rvstruct, signal-hook, mime_guess, …).
//!
//! The base URL is a setting (`OTPBOT_SLACK_API_URL`, default `https://slack.com/api/`), so
//! tests run against a local fake. The token is never logged.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// The host of interaction `response_url`s ("Handling user interaction":
/// <https://docs.slack.dev/interactivity/handling-user-interaction>).
const RESPONSE_HOST: &str = "hooks.slack.com";

/// The default Web API base URL.
pub const DEFAULT_BASE: &str = "https://slack.com/api/";

/// Longest `Retry-After` honoured; a longer one gives up on the call.
const MAX_RETRY_AFTER_SECS: u64 = 30;

/// Tries of one call that keeps being rate limited.
const ATTEMPTS: usize = 3;

/// Why a Web API call failed. Never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum WebApiError {
    /// The HTTP exchange failed.
    #[error("slack web api unreachable: {0}")]
    Http(String),
    /// Slack answered `ok: false`.
    #[error("slack web api refused {method}: {error}")]
    Refused {
        /// The method called.
        method: String,
        /// Slack's `error`.
        error: String,
    },
    /// Still rate limited after the retries, or asked to wait too long.
    #[error("slack web api rate limited {0}")]
    RateLimited(String),
}

/// The bot's Web API client.
pub struct WebApi {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for WebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApi")
            .field("base", &self.base)
            .field("token", &"[redacted]")
            .finish()
    }
}

impl WebApi {
    /// A client for `base` (a trailing `/` is added when missing) with the bot `token`.
    pub fn new(base: &str, token: String) -> reqwest::Result<Self> {
        let mut base = base.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self {
            base,
            token,
            client: crate::front::client(Duration::from_secs(10))?,
        })
    }

    /// Posts `body` to an interaction's `response_url` (no token: the URL is the credential),
    /// once it is one of Slack's: `https://hooks.slack.com/…`, or on the host of this client's
    /// base URL (a local fake of Slack in tests). Slack answers `ok` in plain text or JSON.
    pub async fn respond(
        &self,
        response_url: &str,
        body: &impl Serialize,
    ) -> Result<(), WebApiError> {
        let url = self
            .response_target(response_url)
            .ok_or_else(|| WebApiError::Refused {
                method: "response_url".into(),
                error: "not a Slack response URL".into(),
            })?;
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| WebApiError::Http(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(WebApiError::Refused {
                method: "response_url".into(),
                error: format!("HTTP {}", response.status().as_u16()),
            })
        }
    }

    /// `response_url` when it is Slack's (see [`WebApi::respond`]).
    fn response_target(&self, response_url: &str) -> Option<reqwest::Url> {
        let url = reqwest::Url::parse(response_url).ok()?;
        let base = reqwest::Url::parse(&self.base).ok()?;
        let slack = url.scheme() == "https" && url.host_str() == Some(RESPONSE_HOST);
        let same_as_base = url.origin() == base.origin();
        (slack || same_as_base).then_some(url)
    }

    /// Calls `method` once with `form` as `application/x-www-form-urlencoded` (for methods that
    /// take no JSON, such as `usergroups.users.list`); the answer when it is `ok`. A 429 is
    /// not waited out: the caller is waiting.
    pub async fn call_form_once(
        &self,
        method: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, WebApiError> {
        let response = self
            .client
            .post(format!("{}{method}", self.base))
            .bearer_auth(&self.token)
            .form(form)
            .send()
            .await
            .map_err(|e| WebApiError::Http(e.without_url().to_string()))?;
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(WebApiError::RateLimited("(HTTP 429)".into()));
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|e| WebApiError::Http(e.without_url().to_string()))?;
        if answer["ok"] == Value::Bool(true) {
            return Ok(answer);
        }
        Err(WebApiError::Refused {
            method: method.to_owned(),
            error: answer["error"].as_str().unwrap_or("unknown").to_owned(),
        })
    }

    /// Calls `method` with the JSON `body`; the answer when it is `ok`.
    pub async fn call(
        &self,
        method: &str,
        body: &(impl Serialize + Sync),
    ) -> Result<Value, WebApiError> {
        let url = format!("{}{method}", self.base);
        for _ in 0..ATTEMPTS {
            let response = self
                .client
                .post(&url)
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await
                .map_err(|e| WebApiError::Http(e.without_url().to_string()))?;
            if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let wait = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1);
                if wait > MAX_RETRY_AFTER_SECS {
                    return Err(WebApiError::RateLimited(format!("for {wait} s")));
                }
                tracing::warn!(method, retry_after = wait, "slack web api rate limited");
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            let answer: Value = response
                .json()
                .await
                .map_err(|e| WebApiError::Http(e.without_url().to_string()))?;
            if answer["ok"] == Value::Bool(true) {
                return Ok(answer);
            }
            return Err(WebApiError::Refused {
                method: method.to_owned(),
                error: answer["error"].as_str().unwrap_or("unknown").to_owned(),
            });
        }
        Err(WebApiError::RateLimited(format!("after {ATTEMPTS} tries")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slacks_response_urls_are_answered() {
        let api = WebApi::new(DEFAULT_BASE, "xoxb-t".into()).expect("client");
        assert!(api
            .response_target("https://hooks.slack.com/actions/T1/2/abc")
            .is_some());
        for other in [
            "http://hooks.slack.com/actions/T1/2/abc",
            "https://hooks.slack.com.evil.example/actions",
            "https://evil.example/actions/T1/2/abc",
            "https://127.0.0.1/actions",
            "not a url",
        ] {
            assert!(api.response_target(other).is_none(), "{other}");
        }
        let fake = WebApi::new("http://127.0.0.1:4000/api/", "xoxb-t".into()).expect("client");
        assert!(fake
            .response_target("http://127.0.0.1:4000/hooks/1")
            .is_some());
        assert!(fake
            .response_target("http://127.0.0.1:4001/hooks/1")
            .is_none());
    }
}
