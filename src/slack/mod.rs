//! The Slack front end: `POST /slack/commands` (and, in [`socket`], the same commands and
//! clicks arriving over a Socket Mode WebSocket).
//!
//! Order (SPEC §3): body size limit → signature and timestamp on the raw bytes → replay refusal →
//! parse the form → workspace allow-list → the engine → Block Kit reply. Nothing about the body
//! is logged before it is verified, and nothing of it is echoed on failure.

mod buttons;
mod deliver;
pub(crate) use deliver::post_notice;
pub mod interactions;
pub mod render;
pub mod socket;
pub mod verify;
pub mod web;

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::domain::{Person, Platform, Principal, RequestId};
use crate::engine::Engine;
use crate::engine::{Arrival, ChatRequest, Replayed};
use crate::front::{ApiError, Background};
use crate::keys::SigningSecret;
use crate::store::ReplayMark;

/// Slack settings.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// The app's signing secret.
    pub signing_secret: SigningSecret,
    /// Team ids (`T…`) and enterprise ids (`E…`) that are served.
    pub allowed_workspaces: HashSet<String>,
    /// The Web API client, when a bot token is configured: notices are posted with it.
    pub web_api: Option<std::sync::Arc<web::WebApi>>,
}

/// The fields of a slash command form that otpbot reads; all optional so that a missing field
/// is reported by name rather than as a generic decoding error.
///
/// The same fields arrive as a JSON object in a Socket Mode `slash_commands` envelope.
#[derive(Debug, Deserialize)]
pub(crate) struct SlashForm {
    ssl_check: Option<String>,
    team_id: Option<String>,
    enterprise_id: Option<String>,
    user_id: Option<String>,
    channel_id: Option<String>,
    text: Option<String>,
    response_url: Option<String>,
}

/// What the Slack handlers share.
#[derive(Clone)]
pub struct SlackState {
    /// The core.
    pub engine: std::sync::Arc<Engine>,
    /// Slack settings; `None` turns the endpoints off (404).
    pub slack: Option<std::sync::Arc<SlackConfig>>,
    /// Where follow-ups run after the answer.
    pub background: Background,
}

/// Slack's endpoints: slash commands and button clicks.
pub fn routes(state: SlackState) -> axum::Router {
    axum::Router::new()
        .route("/slack/commands", axum::routing::post(commands))
        .route(
            "/slack/interactions",
            axum::routing::post(interactions::interactions),
        )
        .with_state(state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Handles one slash command request.
pub async fn commands(
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
    let (slack, body, arrival) = verified_request(app, headers, body)?;
    let form: SlashForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::BadRequest("the body is not valid form encoding".into()))?;
    if form.ssl_check.is_some() {
        return Ok(axum::http::StatusCode::OK.into_response());
    }
    match slash_command(app, slack, form, arrival).await? {
        Some(reply) => Ok(reply_response(&reply)),
        None => Err(ApiError::Unauthorized("replayed request".into())),
    }
}

/// Runs a verified slash command (`form`, arrived as `arrival`) through the workspace
/// allow-list and the engine, and starts its follow-ups (notices) after the answer. `None` when
/// it was seen before (a replay), which is logged and not acted on. Shared by
/// `POST /slack/commands` and Socket Mode.
pub(crate) async fn slash_command(
    app: &SlackState,
    slack: &SlackConfig,
    form: SlashForm,
    arrival: Arrival,
) -> Result<Option<crate::reply::Reply>, ApiError> {
    let missing = |name: &str| ApiError::BadRequest(format!("the form has no {name}"));
    let team = form.team_id.as_deref().ok_or_else(|| missing("team_id"))?;
    let user = form.user_id.as_deref().ok_or_else(|| missing("user_id"))?;
    let principal = Principal::new(Platform::Slack, team, user)
        .map_err(|_| ApiError::BadRequest("team_id or user_id is malformed".into()))?;
    let request = ChatRequest {
        request_id: RequestId::new(),
        person: Person::of(&principal, form.enterprise_id.as_deref()),
        principal,
        reaches_others: slack.web_api.is_some(),
        channel: form.channel_id.clone().filter(|c| c.len() <= 64),
        text: form.text.clone().unwrap_or_default(),
        delivery: Some("ephemeral reply".into()),
    };
    let reply = if slack.allows(team, form.enterprise_id.as_deref()) {
        app.engine.handle_at(&request, arrival).await
    } else {
        app.engine.refuse_workspace_at(&request, arrival).await
    };
    match reply {
        Ok(mut reply) => {
            let route = deliver::Route {
                response_url: form.response_url,
                ..deliver::Route::default()
            };
            let follow_ups = std::mem::take(&mut reply.follow_ups);
            deliver::spawn(
                &app.background,
                slack.web_api.clone(),
                reply.request_id.clone(),
                follow_ups,
                route,
            );
            Ok(Some(reply))
        }
        Err(Replayed) => {
            tracing::warn!(reason = "replay", "slack request refused");
            Ok(None)
        }
    }
}

/// The Slack settings, the raw body and its arrival, once the body's signature and timestamp
/// hold: the common start of every Slack HTTP endpoint (404 when Slack is not configured).
pub(crate) fn verified_request<'a>(
    app: &'a SlackState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(&'a SlackConfig, Bytes, Arrival), ApiError> {
    let slack = app.slack.as_deref().ok_or(ApiError::NotFound)?;
    let body = body.map_err(ApiError::from_body_rejection)?;
    let arrival = verified_arrival(slack, headers, &body, app.engine.clock().now())?;
    Ok((slack, body, arrival))
}

/// Checks the signature and timestamp on the raw `body` (SPEC §3.1) and returns the request's
/// arrival with its replay marker, which its decision records (SPEC §3.2, §3.5).
pub(crate) fn verified_arrival(
    slack: &SlackConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: crate::domain::Timestamp,
) -> Result<Arrival, ApiError> {
    let verified = verify::verify(
        &slack.signing_secret,
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
        body,
        now,
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "slack request refused");
        ApiError::Unauthorized(e.to_string())
    })?;
    Ok(Arrival {
        now,
        replay: Some(ReplayMark {
            key: format!("replay:slack:{}", hex::encode(&verified.mac)),
            expires_at: crate::domain::Timestamp::from_unix(
                verified.timestamp + verify::MAX_AGE_SECS + 1,
            ),
        }),
    })
}

impl SlackConfig {
    /// Whether `team` (or its `enterprise`) is served.
    pub fn allows(&self, team: &str, enterprise: Option<&str>) -> bool {
        self.allowed_workspaces.contains(team)
            || enterprise.is_some_and(|e| self.allowed_workspaces.contains(e))
    }
}

/// HTTP 200 with the Block Kit body and the request id in `x-request-id`.
pub(crate) fn reply_response(reply: &crate::reply::Reply) -> Response {
    let mut response = Json(render::render(reply)).into_response();
    if let Ok(value) = reply.request_id.as_str().parse() {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
