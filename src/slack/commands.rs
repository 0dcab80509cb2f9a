//! `POST /slack/commands`: slash commands (`/otp …`), and the same commands arriving over Socket
//! Mode ([`super::socket`]).
//!
//! Order (SPEC §3): body size limit → signature and timestamp on the raw bytes → replay refusal
//! (in the request's decision) → parse the form → workspace allow-list → the engine → Block Kit
//! reply. Nothing about the body is logged before it is verified, and nothing of it is echoed
//! on failure.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::arrival::verified_request;
use super::config::SlackConfig;
use super::deliver::{spawn, Route, SlackOut};
use super::render::{self, blocks::Message};
use crate::domain::{Person, Platform, Principal, RequestId};
use crate::engine::{Arrival, ChatRequest, Replayed};
use crate::front::{answer, ApiError, Ask, Asked, Front, Incoming};
use crate::reply::Reply;

/// The fields of a slash command form that otpbot reads; all optional so that a missing field
/// is reported by name rather than as a generic decoding error.
///
/// The same fields arrive as a JSON object in a Socket Mode `slash_commands` envelope.
#[derive(Debug, Deserialize)]
pub(super) struct SlashForm {
    ssl_check: Option<String>,
    team_id: Option<String>,
    enterprise_id: Option<String>,
    user_id: Option<String>,
    channel_id: Option<String>,
    text: Option<String>,
    response_url: Option<String>,
}

impl Incoming for SlashForm {
    type Platform = SlackConfig;

    fn asked(&self, slack: &SlackConfig) -> Result<Asked, ApiError> {
        let missing = |name: &str| ApiError::BadRequest(format!("the form has no {name}"));
        let team = self.team_id.as_deref().ok_or_else(|| missing("team_id"))?;
        let user = self.user_id.as_deref().ok_or_else(|| missing("user_id"))?;
        let principal = Principal::new(Platform::Slack, team, user)
            .map_err(|_| ApiError::BadRequest("team_id or user_id is malformed".into()))?;
        let enterprise = self.enterprise_id.as_deref();
        let request = ChatRequest {
            request_id: RequestId::new(),
            person: Person::of(&principal, enterprise),
            principal,
            reaches_others: slack.web_api.is_some(),
            channel: self.channel_id.clone().filter(|c| c.len() <= 64),
            text: self.text.clone().unwrap_or_default(),
            delivery: Some("ephemeral reply".into()),
            // Slack shows `<@U…>` mentions by name itself.
            name: None,
        };
        Ok(Asked {
            request,
            ask: Ask::Text,
            served: slack.allows(team, enterprise),
        })
    }
}

/// Handles one slash command request.
pub(super) async fn commands(
    front: Front<SlackConfig>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&front, &headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn handle(
    front: &Front<SlackConfig>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (body, arrival) = verified_request(front, headers, body)?;
    let form: SlashForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::BadRequest("the body is not valid form encoding".into()))?;
    if form.ssl_check.is_some() {
        return Ok(axum::http::StatusCode::OK.into_response());
    }
    match slash_command(front, form, arrival).await? {
        Some(answered) => Ok(answered.response()),
        None => Err(ApiError::Unauthorized("replayed request".into())),
    }
}

/// Runs a verified slash command (`form`, arrived as `arrival`) through the engine, and starts
/// its follow-ups (notices) after the answer. `None` when it was seen before (a replay), which
/// is logged and not acted on. Shared by `POST /slack/commands` and Socket Mode.
pub(super) async fn slash_command(
    front: &Front<SlackConfig>,
    form: SlashForm,
    arrival: Arrival,
) -> Result<Option<Answered>, ApiError> {
    let asked = form.asked(&front.config)?;
    match answer(&front.engine, &asked, arrival).await {
        Ok(mut reply) => {
            let route = Route {
                response_url: form.response_url,
                ..Route::default()
            };
            let out = SlackOut::new(front.config.web_api.clone(), route);
            let answered = Answered::of(&reply);
            spawn(&front.background, out, &mut reply);
            Ok(Some(answered))
        }
        Err(Replayed) => {
            tracing::warn!(reason = "replay", "slack request refused");
            Ok(None)
        }
    }
}

/// A reply as the caller gets it: a Block Kit message, serialised straight into the HTTP
/// answer (or a Socket Mode acknowledgement).
pub(super) struct Answered {
    /// The request it answers.
    pub request_id: RequestId,
    /// The Block Kit message.
    pub body: Message,
}

impl Answered {
    /// `reply` in Block Kit.
    pub fn of(reply: &Reply) -> Self {
        Self {
            request_id: reply.request_id.clone(),
            body: render::render(reply),
        }
    }

    /// HTTP 200 with the Block Kit body and the request id in `x-request-id`.
    pub fn response(self) -> Response {
        let mut response = Json(self.body).into_response();
        if let Ok(value) = self.request_id.as_str().parse() {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
}
