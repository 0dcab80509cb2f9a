//! `POST /slack/interactions`: button clicks on otpbot's messages.
//!
//! Order, as for slash commands: body size limit → signature and timestamp on the raw bytes →
//! replay refusal (in the request's decision) → only then the `payload` form field is parsed.
//! Nothing in the payload is trusted but what the verified signature vouches for: the team,
//! the user, the action id and its value. The action must be one otpbot issues; its value (an
//! access request id or a tool name) is checked for shape here and looked up in the store by
//! the command it becomes, so a request id otpbot never issued is refused and audited there.
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
//! `respond()`). Only Slack's own response URLs are posted to (see [`WebApi::respond`]).
//!
//! After a decision click, the approval message is updated in place with `chat.update`
//! (`channel`, `ts`, `text`, `blocks`: <https://docs.slack.dev/reference/methods/chat.update>)
//! to say who decided and when, without buttons; the decision is also sent to the requester in a
//! direct message opened with `conversations.open` (`users`; the answer's `channel.id`:
//! <https://docs.slack.dev/reference/methods/conversations.open>) carrying a "Get code" button.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use serde_json::Value;

use super::web::WebApi;
use super::SlackState;
use super::{render, reply_response};
use crate::command::show_user;
use crate::domain::{
    AccessRequestId, GrantDuration, Platform, Principal, RequestId, RequestState, ToolName,
};
use crate::engine::{ChatRequest, Replayed};
use crate::front::ApiError;
use crate::reply::{Audience, Button, Notice};

/// Approve an access request; the value is its id.
pub const APPROVE: &str = "otp_approve";
/// Deny an access request; the value is its id.
pub const DENY: &str = "otp_deny";
/// Ask for access to a tool (on the "no access" reply); the value is the tool name.
pub const REQUEST: &str = "otp_request";
/// Get the code of a tool (on the "approved" notice); the value is the tool name.
pub const CODE: &str = "otp_code";

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
pub(crate) struct Payload {
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

/// The command text a known action stands for, or why it is refused.
fn command_text(action: &Action) -> Result<String, ApiError> {
    let value = action.value.as_deref().unwrap_or_default();
    let bad = |what: &str| ApiError::BadRequest(format!("the action value is not {what}"));
    match action.action_id.as_str() {
        APPROVE => {
            // `{id}`, or `{id} {duration}` for an approval of a shorter grant than asked.
            let (id, shorter) = match value.split_once(' ') {
                Some((id, duration)) => (id, Some(duration)),
                None => (value, None),
            };
            let id = AccessRequestId::parse(id).ok_or_else(|| bad("a request id"))?;
            let shorter = shorter
                .map(|d| GrantDuration::parse(d).ok_or_else(|| bad("a request id and duration")))
                .transpose()?;
            Ok(Button::Approve(id, shorter).command())
        }
        DENY => {
            let id = AccessRequestId::parse(value).ok_or_else(|| bad("a request id"))?;
            Ok(Button::Deny(id).command())
        }
        REQUEST | CODE => {
            let tool = ToolName::parse(value).map_err(|_| bad("a tool name"))?;
            Ok(if action.action_id == REQUEST {
                Button::RequestAccess(tool).command()
            } else {
                Button::GetCode(tool).command()
            })
        }
        _ => Err(ApiError::BadRequest("unknown action".into())),
    }
}

/// Updates the approval message to the request's stored state, and tells the requester
/// privately when this click (`decided`) approved it. Failures are logged: the decision stands.
async fn after_decision(
    app: &SlackState,
    api: &WebApi,
    container: Option<&Container>,
    id: &AccessRequestId,
    decided: bool,
) {
    let access = &app.engine.stores().access;
    let request = match access.access_request(id).await {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "request not read after a decision");
            return;
        }
    };
    let now = app.engine.clock().now();
    let display = match access.tool(&request.tool).await {
        Ok(Some(tool)) => tool.display_name,
        _ => request.tool.to_string(),
    };
    let requester = show_user(&request.requester, &request.requester);
    let outcome = match &request.state {
        RequestState::Approved { by, at } => {
            format!("Approved by {} at {at}.", show_user(by, &request.requester))
        }
        RequestState::Denied { by, at } => {
            format!("Denied by {} at {at}.", show_user(by, &request.requester))
        }
        RequestState::Open if !request.is_open(now) => {
            format!("Expired undecided at {}.", request.expires_at)
        }
        RequestState::Open => return,
    };
    let lines = vec![
        format!(
            "{requester} asked for {display} access for {} (request `{id}`).",
            request.duration
        ),
        outcome,
    ];
    if let Some(Container {
        channel_id: Some(channel),
        message_ts: Some(ts),
        is_ephemeral: false,
    }) = container
    {
        let mut body = render::notice(
            channel,
            &Notice {
                to: Audience::Channel(channel.clone()),
                lines,
                buttons: Vec::new(),
            },
        );
        body["ts"] = Value::String(ts.clone());
        if let Err(e) = api.call("chat.update", &body).await {
            tracing::warn!(error = %e, "approval message not updated");
        }
    }
    // The requester hears of a decision this click made, privately: an approval with a
    // "Get code" button, a denial without.
    let told = match &request.state {
        RequestState::Approved { by, .. } => Some((
            format!(
                "{} approved your {display} access request (request `{id}`).",
                show_user(by, &request.requester)
            ),
            vec![Button::GetCode(request.tool.clone())],
        )),
        RequestState::Denied { by, .. } => Some((
            format!(
                "{} denied your {display} access request (request `{id}`).",
                show_user(by, &request.requester)
            ),
            Vec::new(),
        )),
        RequestState::Open => None,
    };
    let (Some((line, buttons)), true, true) = (
        told,
        decided,
        request.requester.platform() == Platform::Slack,
    ) else {
        return;
    };
    let notice = Notice {
        to: Audience::Person(request.requester.clone()),
        lines: vec![line],
        buttons,
    };
    if let Err(e) = super::post_notice(api, &notice).await {
        tracing::warn!(error = %e, "requester not told of the decision");
    }
}

/// Handles one interaction request.
pub async fn interactions(
    State(app): State<SlackState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&app, &headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn handle(
    app: &SlackState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (slack, body, arrival) = super::verified_request(app, headers, body)?;
    let form: Form = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::BadRequest("the body is not valid form encoding".into()))?;
    let payload: Payload = form
        .payload
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .ok_or_else(|| ApiError::BadRequest("the payload is not an interaction".into()))?;
    match click(app, slack, payload, arrival).await? {
        Some(reply) => Ok(reply_response(&reply)),
        None => Err(ApiError::Unauthorized("replayed request".into())),
    }
}

/// Runs a verified interaction `payload` (arrived as `arrival`): checks it is one click on an
/// action otpbot issues, runs the command it stands for through the workspace allow-list and
/// the engine, posts the notices and, after a decision, updates the approval message. `None`
/// when it was seen before (a replay), which is logged and not acted on. Shared by
/// `POST /slack/interactions` and Socket Mode.
pub(crate) async fn click(
    app: &SlackState,
    slack: &super::SlackConfig,
    payload: Payload,
    arrival: crate::engine::Arrival,
) -> Result<Option<crate::reply::Reply>, ApiError> {
    if payload.kind != "block_actions" {
        return Err(ApiError::BadRequest(
            "only button clicks are handled".into(),
        ));
    }
    let [action] = payload.actions.as_slice() else {
        return Err(ApiError::BadRequest("expected exactly one action".into()));
    };
    let text = command_text(action)?;
    let missing = |name: &str| ApiError::BadRequest(format!("the payload has no {name}"));
    let team = payload.team.as_ref().ok_or_else(|| missing("team"))?;
    let user = payload.user.as_ref().ok_or_else(|| missing("user"))?;
    let principal = Principal::new(Platform::Slack, &team.id, &user.id)
        .map_err(|_| ApiError::BadRequest("team or user id is malformed".into()))?;
    let request = ChatRequest {
        request_id: RequestId::new(),
        principal,
        channel: payload.channel.map(|c| c.id).filter(|c| c.len() <= 64),
        text,
        delivery: Some("interaction reply".into()),
    };
    let enterprise = payload.enterprise.as_ref().map(|e| e.id.as_str());
    let reply = if slack.allows(&team.id, enterprise) {
        app.engine.handle_at(&request, arrival).await
    } else {
        app.engine.refuse_workspace_at(&request, arrival).await
    };
    match reply {
        Ok(reply) => {
            // Slack shows nothing of the answer to a button click: the reply reaches the
            // clicker, privately, through the payload's `response_url`.
            if let (Some(api), Some(url)) = (&slack.web_api, payload.response_url.as_deref()) {
                let mut body = render::render(&reply);
                body["replace_original"] = Value::Bool(false);
                if let Err(e) = api.respond(url, &body).await {
                    tracing::warn!(error = %e, "click reply not delivered");
                }
            }
            slack.post_notices(&reply).await;
            if let (Some(api), APPROVE | DENY) = (&slack.web_api, action.action_id.as_str()) {
                let id = action.value.as_deref().and_then(AccessRequestId::parse);
                if let Some(id) = id {
                    let decided = reply.tone == crate::reply::Tone::Info;
                    after_decision(app, api, payload.container.as_ref(), &id, decided).await;
                }
            }
            Ok(Some(reply))
        }
        Err(Replayed) => {
            tracing::warn!(reason = "replay", "slack interaction refused");
            Ok(None)
        }
    }
}
