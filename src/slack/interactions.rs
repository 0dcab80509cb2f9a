//! `POST /slack/interactions`: button clicks on otpbot's messages.
//!
//! Order, as for slash commands: body size limit → signature and timestamp on the raw bytes →
//! replay refusal (in the request's decision) → only then the `payload` form field is parsed.
//! Nothing in the payload is trusted but what the verified signature vouches for: the team,
//! the enterprise, the user, the action id and its value. The action id and value must be what
//! otpbot writes for one of its buttons ([`super::buttons`]): they are read back into that
//! typed button, which the engine maps to its command. A request id otpbot never issued is
//! refused and audited by that command.
//!
//! Payload fields read (Slack, "block_actions payload":
//! <https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>; the
//! interaction arrives as a form-encoded `payload` field holding JSON, "Handling user
//! interaction in your Slack apps":
//! <https://docs.slack.dev/interactivity/handling-user-interaction>; field types as in Bolt's
//! `BlockAction`: <https://docs.slack.dev/tools/bolt-js/reference/interfaces/BlockAction>):
//! `type` (`block_actions`), `team.id`, `enterprise.id` (org-wide installs), `user.id`,
//! `channel.id`, `container.channel_id` and `container.message_ts` (the message the button
//! was on), `response_url`, and `actions[]` with `action_id` and `value` (buttons).
//!
//! Slack shows nothing of the HTTP answer to a button click; the reply is posted to the
//! payload's `response_url` with `"response_type": "ephemeral"` and `"replace_original": false`,
//! so only the clicker sees it ("Handling user interaction", section on `response_url`; Bolt's
//! `respond()`). Only Slack's own response URLs are posted to (see `WebApi::respond`). That
//! answer, the request's message updated in place and the notices (the requester told, with a
//! "Get code" button) are what the reply says follows; they go out after the HTTP answer
//! ([`super::deliver`]), the same for every button.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::arrival::verified_request;
use super::buttons;
use super::commands::Answered;
use super::config::SlackConfig;
use super::deliver::{spawn, Route, SlackOut};
use crate::domain::{Person, Platform, Principal, RequestId};
use crate::engine::{Arrival, ChatRequest, Replayed};
use crate::front::{answer, ApiError, Ask, Asked, Front, Incoming};

#[derive(Debug, Deserialize)]
struct Form {
    payload: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Container {
    channel_id: Option<String>,
    message_ts: Option<String>,
    #[serde(default)]
    is_ephemeral: bool,
}

/// A `block_actions` payload: form-encoded JSON over HTTP, a JSON object in a Socket Mode
/// `interactive` envelope.
#[derive(Debug, Deserialize)]
pub(super) struct Payload {
    container: Option<Container>,
    #[serde(rename = "type")]
    kind: String,
    team: Option<Id>,
    enterprise: Option<Id>,
    user: Option<Id>,
    channel: Option<Id>,
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
}

impl Incoming for Payload {
    type Platform = SlackConfig;

    /// One click on a button otpbot writes, by a well-formed team and user: the button it
    /// stands for and the request it makes for the clicker.
    fn asked(&self, slack: &SlackConfig) -> Result<Asked, ApiError> {
        if self.kind != "block_actions" {
            return Err(ApiError::BadRequest(
                "only button clicks are handled".into(),
            ));
        }
        let [action] = self.actions.as_slice() else {
            return Err(ApiError::BadRequest("expected exactly one action".into()));
        };
        let button = buttons::decode(
            &action.action_id,
            action.value.as_deref().unwrap_or_default(),
        )
        .ok_or_else(|| ApiError::BadRequest("not an action otpbot issues".into()))?;
        let missing = |name: &str| ApiError::BadRequest(format!("the payload has no {name}"));
        let team = self.team.as_ref().ok_or_else(|| missing("team"))?;
        let user = self.user.as_ref().ok_or_else(|| missing("user"))?;
        let principal = Principal::new(Platform::Slack, &team.id, &user.id)
            .map_err(|_| ApiError::BadRequest("team or user id is malformed".into()))?;
        let enterprise = self.enterprise.as_ref().map(|e| e.id.as_str());
        let request = ChatRequest {
            request_id: RequestId::new(),
            person: Person::of(&principal, enterprise),
            principal,
            reaches_others: slack.web_api.is_some(),
            channel: self
                .channel
                .as_ref()
                .map(|c| c.id.clone())
                .filter(|c| c.len() <= 64),
            text: String::new(),
            delivery: Some("interaction reply".into()),
            name: None,
        };
        Ok(Asked {
            request,
            ask: Ask::Click(button),
            served: slack.allows(&team.id, enterprise),
        })
    }
}

/// Handles one interaction request.
pub(super) async fn interactions(
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
    let form: Form = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::BadRequest("the body is not valid form encoding".into()))?;
    let payload: Payload = form
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .ok_or_else(|| ApiError::BadRequest("the payload is not an interaction".into()))?;
    match click(front, payload, arrival).await? {
        Some(answered) => Ok(answered.response()),
        None => Err(ApiError::Unauthorized("replayed request".into())),
    }
}

/// Runs a verified interaction `payload` (arrived as `arrival`) through the engine, and starts
/// what follows after the answer (the clicker's answer through the response URL, the request's
/// message updated, the notices). `None` when it was seen before (a replay), which is logged
/// and not acted on. Shared by `POST /slack/interactions` and Socket Mode.
pub(super) async fn click(
    front: &Front<SlackConfig>,
    payload: Payload,
    arrival: Arrival,
) -> Result<Option<Answered>, ApiError> {
    let asked = payload.asked(&front.config)?;
    let mut reply = match answer(&front.engine, &asked, arrival).await {
        Ok(reply) => reply,
        Err(Replayed) => {
            tracing::warn!(reason = "replay", "slack interaction refused");
            return Ok(None);
        }
    };
    let out = SlackOut::new(front.config.web_api.clone(), route(payload));
    let answered = Answered::of(&reply);
    // Slack shows nothing of the HTTP answer to a click: it goes through the response URL too.
    let mut late = answered.body.clone();
    late.replace_original = Some(false);
    spawn(&front.background, out.answering_late(late), &mut reply);
    Ok(Some(answered))
}

/// Where what follows a click goes: its answer through the payload's response URL, and the
/// update of the message the button was on (unless that message was ephemeral).
fn route(payload: Payload) -> Route {
    let clicked = match payload.container {
        Some(Container {
            channel_id: Some(channel),
            message_ts: Some(ts),
            is_ephemeral: false,
        }) => Some((channel, ts)),
        _ => None,
    };
    Route {
        response_url: payload.response_url,
        clicked,
    }
}
