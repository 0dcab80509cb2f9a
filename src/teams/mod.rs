//! The Microsoft Teams front end: `POST /teams/messages`, a Bot Framework bot.
//!
//! Order: body size limit → bearer JWT verified against the Bot Framework keys → activity parsed
//! → signing key endorses the channel, the token's `serviceurl` claim equals the activity's
//! `serviceUrl` → that service URL is one replies may go to → tenant allow-list → a 1:1 chat
//! opened if needed → per-caller rate limit → mentions resolved through the Connector → the
//! engine → Adaptive Card reply through the Bot Connector. In playground mode (the local
//! Microsoft 365 Agents Playground) no token is verified and only loopback service URLs are used.
//! Codes, and every other answer, go only to a personal chat: asked in a channel or group chat,
//! otpbot answers in a 1:1 chat it opens and says so in the thread; if it cannot, it runs
//! nothing and asks the user to message it directly. The audit record names the route.
//!
//! Button clicks on otpbot's cards (`invoke` activities named `adaptiveCard/action`) pass the
//! same checks, up to the tenant allow-list and the replay marker, and are then handled in
//! [`invoke`], which answers in the HTTP response. Notices a reply calls for (approval cards,
//! messages to approvers) are posted by [`notices`] when addressed to Teams.

pub mod activity;
pub mod auth;
pub mod connector;
pub mod invoke;
mod message;
pub mod notices;
pub mod render;
mod text;

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use self::activity::{Account, Activity};
use self::auth::{AuthError, BotAuth};
use self::connector::Connector;
use crate::domain::{Person, Platform, Principal, RequestId};
use crate::engine::Engine;
use crate::engine::{Arrival, ChatRequest};
use crate::front::{ApiError, Background};
use crate::store::ReplayMark;

/// How long an activity id is remembered: a Bot Framework token's lifetime plus the skew allowed.
const TOKEN_LIFETIME_SECS: i64 = 3_600 + 300;

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
            auth: BotAuth::new(String::new(), auth::DEFAULT_OPENID_URL.into(), http.clone()),
            connector: Connector::playground(http),
            allowed_tenants,
        }
    }

    /// Whether this serves the local playground rather than the Bot Framework.
    pub fn is_playground(&self) -> bool {
        self.connector.is_playground()
    }
}

/// What the Teams handler shares.
#[derive(Clone)]
pub struct TeamsState {
    /// The core.
    pub engine: std::sync::Arc<Engine>,
    /// Teams settings; `None` turns the endpoint off (404).
    pub teams: Option<std::sync::Arc<TeamsConfig>>,
    /// Where follow-ups run after the answer.
    pub background: Background,
}

/// Teams' endpoint: activities from the Bot Connector.
pub fn routes(state: TeamsState) -> axum::Router {
    axum::Router::new()
        .route("/teams/messages", axum::routing::post(messages))
        .with_state(state)
}

/// Handles one Bot Framework activity.
pub async fn messages(
    State(app): State<TeamsState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&app, &headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

/// HTTP 200 with an empty JSON body: the acknowledgement of an activity with no synchronous answer.
fn acknowledged() -> Response {
    (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
}

async fn handle(
    app: &TeamsState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let teams = app.teams.as_ref().ok_or(ApiError::NotFound)?;
    let activity = verified_activity(teams, headers, body).await?;
    match (activity.kind.as_str(), activity.name.as_deref()) {
        ("message", _) => {
            if let Some(turn) = Turn::of(app, teams, &activity).await? {
                message::message(app, teams, &activity, turn).await?;
            }
            Ok(acknowledged())
        }
        ("invoke", Some(invoke::ADAPTIVE_CARD_ACTION)) => {
            let turn = Turn::of(app, teams, &activity)
                .await?
                .ok_or_else(invoke::replayed)?;
            invoke::card_action(app, teams, &activity, turn).await
        }
        // Other invokes are not implemented, as botbuilder's `ActivityHandler.onInvokeActivity`
        // answers them (501); other activity types are acknowledged and ignored.
        ("invoke", _) => Ok(StatusCode::NOT_IMPLEMENTED.into_response()),
        _ => Ok(acknowledged()),
    }
}

/// The activity, once its token, channel and service URL have been checked.
async fn verified_activity(
    teams: &TeamsConfig,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Activity, ApiError> {
    let body = body.map_err(ApiError::from_body_rejection)?;
    let verified = if teams.is_playground() {
        tracing::warn!(
            "Teams playground mode: activity accepted without a Bot Framework token (local try-out only)"
        );
        None
    } else {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        let verified = teams.auth.verify(authorization).await.map_err(|e| {
            tracing::warn!(reason = %e, "teams request refused");
            match e {
                AuthError::KeysUnavailable => ApiError::Internal(RequestId::new()),
                other => ApiError::Unauthorized(other.to_string()),
            }
        })?;
        Some(verified)
    };
    let activity: Activity = serde_json::from_slice(&body)
        .map_err(|_| bad("the body is not a Bot Framework activity"))?;
    if let Some(verified) = verified {
        verified
            .check_activity(
                activity.channel_id.as_deref(),
                activity.service_url.as_deref(),
            )
            .map_err(|e| {
                tracing::warn!(reason = %e, "teams request refused");
                ApiError::Forbidden(e.to_string())
            })?;
    }
    // An answer that cannot be delivered is not worth running: a service URL the Connector
    // client refuses (not https; in playground mode, not on loopback) is refused up front.
    if let Some(url) = activity.service_url.as_deref() {
        teams.connector.check_service_url(url).map_err(|e| {
            tracing::warn!(reason = %e, "teams request refused");
            ApiError::Forbidden(if teams.is_playground() {
                "in playground mode the service URL must be on loopback".into()
            } else {
                "the service URL must be https".into()
            })
        })?;
    }
    if activity.channel_id.as_deref() != Some("msteams") {
        // Web Chat or Direct Line clients choose their own channelData: only Teams is trusted
        // to name the tenant and the sender's AAD object id.
        return Err(ApiError::Forbidden(
            "only the msteams channel is served".into(),
        ));
    }
    Ok(activity)
}

/// What every acted-on activity (a message or a card action) must carry, checked, with the
/// request it becomes (its text still empty) and its arrival. The tenant is on the allow-list.
/// `None` when the activity is a redelivery already acted on.
struct Turn<'a> {
    tenant: &'a str,
    from: &'a Account,
    conversation: &'a str,
    service_url: &'a str,
    bot: &'a Account,
    activity_id: &'a str,
    arrival: Arrival,
    request: ChatRequest,
}

impl<'a> Turn<'a> {
    async fn of(
        app: &TeamsState,
        teams: &TeamsConfig,
        activity: &'a Activity,
    ) -> Result<Option<Turn<'a>>, ApiError> {
        let tenant = activity
            .tenant()
            .ok_or_else(|| bad("the activity names no tenant"))?;
        let from = activity
            .from
            .as_ref()
            .ok_or_else(|| bad("the activity has no sender"))?;
        let aad = from
            .aad_object_id
            .as_deref()
            .ok_or_else(|| bad("the sender has no AAD object id"))?;
        let principal = Principal::new(Platform::Teams, tenant, aad)
            .map_err(|_| bad("tenant or sender id is malformed"))?;
        let conversation = activity
            .conversation
            .as_ref()
            .ok_or_else(|| bad("the activity has no conversation"))?;
        let service_url = activity
            .service_url
            .as_deref()
            .ok_or_else(|| bad("the activity has no serviceUrl"))?;
        let bot = activity
            .recipient
            .as_ref()
            .ok_or_else(|| bad("the activity has no recipient"))?;
        let activity_id = activity
            .id
            .as_deref()
            .ok_or_else(|| bad("the activity has no id"))?;
        // Bot Framework may redeliver, and a captured request stays valid as long as its token:
        // each activity is acted on once.
        // The marker is recorded in the request's own decision transaction (SPEC §3.2, §3.5).
        let now = app.engine.clock().now();
        let arrival = Arrival {
            now,
            replay: Some(ReplayMark {
                key: format!("replay:teams:{}:{activity_id}", conversation.id),
                expires_at: now.plus_secs(TOKEN_LIFETIME_SECS),
            }),
        };
        let request = ChatRequest {
            request_id: RequestId::new(),
            person: Person::from(&principal),
            principal,
            // The Connector reaches every Teams user and conversation of a served tenant.
            reaches_others: true,
            channel: Some(conversation.id.chars().take(128).collect()),
            text: String::new(),
            delivery: None,
        };
        if !teams.allowed_tenants.contains(tenant) {
            if app
                .engine
                .refuse_workspace_at(&request, arrival)
                .await
                .is_err()
            {
                tracing::warn!(reason = "duplicate activity", "teams request ignored");
                return Ok(None);
            }
            return Err(ApiError::Forbidden("tenant not allowed".into()));
        }
        Ok(Some(Turn {
            tenant,
            from,
            conversation: &conversation.id,
            service_url,
            bot,
            activity_id,
            arrival,
            request,
        }))
    }
}
