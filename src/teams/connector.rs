//! The Bot Connector REST API: replies, proactive 1:1 conversations and member look-ups, with a
//! token from the single-tenant client-credentials flow, cached until shortly before it expires.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::activity::Account;
use super::app_token::{AppToken, TokenError};

/// The login authority's default base URL.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The scope of Bot Connector tokens.
const SCOPE: &str = "https://api.botframework.com/.default";

/// A failed Connector call. The text is for the log.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The service URL is not an allowed URL.
    #[error("refusing service URL {0}")]
    BadServiceUrl(String),
    /// HTTP failure or unexpected answer.
    #[error("{0}")]
    Http(String),
}

/// A Bot Connector client for one bot registration.
pub struct Connector {
    http: reqwest::Client,
    app_id: String,
    token: AppToken,
    allow_http: bool,
    playground: bool,
}

impl Connector {
    /// A client for the bot `app_id`, registered in `tenant`, authenticating with `secret`.
    pub fn new(
        http: reqwest::Client,
        login_url: String,
        tenant: String,
        app_id: String,
        secret: SecretString,
    ) -> Self {
        Self {
            http,
            token: AppToken::new((&login_url, &tenant), app_id.clone(), secret, SCOPE),
            app_id,
            allow_http: false,
            playground: false,
        }
    }

    /// Accepts `http://` service URLs (local test doubles only).
    pub fn allow_http_service_urls(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// A client for the local Microsoft 365 Agents Playground: it takes activities without a
    /// token, so none is fetched or sent, and its service URL is plain `http` on loopback
    /// (`http://localhost:56150/_connector` by default). Only loopback service URLs are accepted.
    pub fn playground(http: reqwest::Client) -> Self {
        Self {
            playground: true,
            ..Self::new(
                http,
                DEFAULT_LOGIN_URL.into(),
                String::new(),
                String::new(),
                SecretString::from(String::new()),
            )
        }
    }

    /// Refuses a service URL this client would not send to: not `https` (or, for the playground,
    /// not on loopback), or not a plain base URL.
    pub fn check_service_url(&self, service_url: &str) -> Result<(), ConnectorError> {
        self.url(service_url, &[]).map(drop)
    }

    /// The bot's own channel account, as Teams names it in activities (`28:` and the app id),
    /// to open a personal chat outside any request; none for the playground.
    pub fn bot_account(&self) -> Option<Account> {
        (!self.is_playground()).then(|| Account {
            id: format!("28:{}", self.app_id),
            name: None,
            aad_object_id: None,
        })
    }

    /// Whether this client talks to the local playground.
    pub fn is_playground(&self) -> bool {
        self.playground
    }

    async fn token(&self) -> Result<SecretString, ConnectorError> {
        self.token.get(&self.http).await.map_err(|e| match e {
            TokenError::Unanswered(e) => ConnectorError::Http(format!("token request: {e}")),
            TokenError::Refused(status) => {
                ConnectorError::Http(format!("token request answered {status}"))
            }
            TokenError::Unreadable(e) => ConnectorError::Http(format!("token response: {e}")),
        })
    }

    /// `{serviceUrl}/v3/conversations/{segments…}`, each segment percent-encoded.
    fn url(&self, service_url: &str, segments: &[&str]) -> Result<url::Url, ConnectorError> {
        let bad = || ConnectorError::BadServiceUrl(service_url.chars().take(100).collect());
        let mut url = url::Url::parse(service_url).map_err(|_| bad())?;
        let scheme_ok = url.scheme() == "https"
            || ((self.allow_http || self.playground) && url.scheme() == "http");
        let host_ok = match url.host() {
            None => false,
            Some(_) if !self.playground => true,
            Some(host) => is_loopback(&host),
        };
        if !scheme_ok || !host_ok || url.query().is_some() {
            return Err(bad());
        }
        url.path_segments_mut()
            .map_err(|_| bad())?
            .pop_if_empty()
            .push("v3")
            .push("conversations")
            .extend(segments);
        Ok(url)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let mut request = self.http.request(method, url);
        if !self.playground {
            let token = self.token().await?;
            request = request.bearer_auth(token.expose_secret());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ConnectorError::Http(format!("connector: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ConnectorError::Http(format!("connector answered {status}")));
        }
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    /// Replies in the conversation, to the activity `reply_to`.
    pub async fn reply(
        &self,
        service_url: &str,
        conversation: &str,
        reply_to: &str,
        activity: &Value,
    ) -> Result<(), ConnectorError> {
        let url = self.url(service_url, &[conversation, "activities", reply_to])?;
        self.call(reqwest::Method::POST, url, Some(activity))
            .await
            .map(drop)
    }

    /// Posts a new activity to a conversation.
    pub async fn send(
        &self,
        service_url: &str,
        conversation: &str,
        activity: &Value,
    ) -> Result<(), ConnectorError> {
        self.send_for_id(service_url, conversation, activity)
            .await
            .map(drop)
    }

    /// [`Connector::send`], answering the new activity's id when the Connector gives one (its
    /// `ResourceResponse`, `{"id": …}`, in "Send to conversation":
    /// <https://learn.microsoft.com/en-us/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#send-to-conversation>).
    pub async fn send_for_id(
        &self,
        service_url: &str,
        conversation: &str,
        activity: &Value,
    ) -> Result<Option<String>, ConnectorError> {
        let url = self.url(service_url, &[conversation, "activities"])?;
        let answer = self
            .call(reqwest::Method::POST, url, Some(activity))
            .await?;
        Ok(answer["id"]
            .as_str()
            .filter(|id| !id.is_empty() && id.len() <= 512)
            .map(str::to_owned))
    }

    /// Replaces an activity the bot sent (`PUT /v3/conversations/{id}/activities/{activityId}`,
    /// "Update an activity" in the Bot Connector REST API reference:
    /// <https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#update-activity>):
    /// how a card is updated in place for everyone who sees it.
    pub async fn update(
        &self,
        service_url: &str,
        conversation: &str,
        activity_id: &str,
        activity: &Value,
    ) -> Result<(), ConnectorError> {
        let url = self.url(service_url, &[conversation, "activities", activity_id])?;
        self.call(reqwest::Method::PUT, url, Some(activity))
            .await
            .map(drop)
    }

    /// Creates (or finds) the bot's personal conversation with `user`; returns its id.
    pub async fn personal_conversation(
        &self,
        service_url: &str,
        bot: &Account,
        user: &Account,
        tenant: &str,
    ) -> Result<String, ConnectorError> {
        self.personal_conversation_with(service_url, bot, &user.id, tenant)
            .await
    }

    /// Creates (or finds) the bot's personal conversation with the member `member`: a channel
    /// account id (`29:…`) or, for someone known only by their AAD object id, that id. Teams
    /// accepts the AAD object id as the member id of a new 1:1 conversation when the user has
    /// the app installed ("Send proactive messages", "Create the conversation", and
    /// MicrosoftDocs/msteams-docs issue 14079).
    pub async fn personal_conversation_with(
        &self,
        service_url: &str,
        bot: &Account,
        member: &str,
        tenant: &str,
    ) -> Result<String, ConnectorError> {
        let url = self.url(service_url, &[])?;
        let body = json!({
            "bot": bot,
            "members": [{ "id": member }],
            "isGroup": false,
            "tenantId": tenant,
            "channelData": { "tenant": { "id": tenant } },
        });
        let answer = self.call(reqwest::Method::POST, url, Some(&body)).await?;
        answer["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ConnectorError::Http("no conversation id".into()))
    }

    /// The AAD object id of a conversation member, by channel account id.
    pub async fn member_aad_id(
        &self,
        service_url: &str,
        conversation: &str,
        member: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let url = self.url(service_url, &[conversation, "members", member])?;
        let answer = self.call(reqwest::Method::GET, url, None).await?;
        Ok(answer["aadObjectId"].as_str().map(str::to_owned))
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}
