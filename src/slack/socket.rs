//! Slack Socket Mode: slash commands and button clicks arriving over a WebSocket that otpbot
//! opens to Slack, so no public endpoint is needed (a company can run otpbot inside a private
//! network). Lambda cannot hold a WebSocket, so this runs under `otpbot serve` only.
//!
//! There is no signature to check: the connection URL is issued to the app-level token
//! (`xapp-…`, scope `connections:write`) and only Slack writes to it. Everything after that is
//! the HTTP endpoints' own code (`commands`, `interactions`):
//! the same workspace allow-list, engine, rate limits and audit. The envelope id is the replay
//! marker, recorded in the request's decision, so an envelope Slack delivers again is
//! acknowledged and never acted on twice. Never logs the token, the connection URL (it carries a
//! ticket) or a payload.
//!
//! The protocol, as Slack documents it and its official SDKs implement it:
//! - `POST apps.connections.open` with the app-level token as `Authorization: Bearer` answers
//!   `{"ok": true, "url": "wss://…"}` (<https://docs.slack.dev/reference/methods/apps.connections.open>;
//!   scope <https://docs.slack.dev/reference/scopes/connections.write>). The URL is for one
//!   connection: every reconnection asks for a fresh one.
//! - Slack sends `{"type": "hello", …}` once connected, and `{"type": "disconnect", "reason":
//!   "warning" | "refresh_requested" | …}` before it closes a connection; the client then
//!   connects to a fresh URL (Slack, "Using Socket Mode":
//!   <https://docs.slack.dev/apis/events-api/using-socket-mode>; node-slack-sdk
//!   `packages/socket-mode/src/SocketModeClient.ts` `onWebSocketMessage`; python-slack-sdk
//!   `slack_sdk/socket_mode/async_client.py` `run_message_listeners`, which reconnects on
//!   `disconnect`).
//! - Requests come as envelopes `{"envelope_id", "type": "slash_commands" | "interactive" |
//!   "events_api", "payload", "accepts_response_payload", "retry_attempt", "retry_reason"}`
//!   (python-slack-sdk `slack_sdk/socket_mode/request.py` `SocketModeRequest`; the same fields in
//!   `SocketModeClient.ts`). A `slash_commands` payload holds the slash command's fields
//!   (`team_id`, `user_id`, `channel_id`, `text`, …) as JSON; an `interactive` payload is the
//!   interaction payload itself (e.g. `block_actions`).
//! - Every envelope is acknowledged with `{"envelope_id": …}`, plus `"payload": …` carrying the
//!   response when `accepts_response_payload` is true — for a slash command its reply message
//!   (python-slack-sdk `slack_sdk/socket_mode/response.py` `SocketModeResponse.to_dict`).
//!
//! The WebSocket is tokio-tungstenite with its rustls feature and the platform's roots, the same
//! rustls (aws-lc provider) and `rustls-native-certs` reqwest uses, so no second TLS stack and
//! no package beyond those already in the lockfile: `wss://` trusts what the Web API client
//! trusts, `SSL_CERT_FILE` included. Measured: a clean debug build of tokio-tungstenite 0.24 with
//! these features (`cargo build -j2 --timings`, under `nice -n 19` on a shared 2-core machine)
//! spends 12.5 s in tungstenite and 6.9 s in tokio-tungstenite; everything else it needs is
//! built for reqwest already.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::commands::{slash_command, SlashForm};
use super::config::SlackConfig;
use super::interactions::{click, Payload};
use super::web::{WebApi, WebApiError};
use crate::domain::Timestamp;
use crate::engine::{Arrival, Engine};
use crate::front::{ApiError, Background, Front};

/// Largest message accepted from the socket; a request envelope is a few KiB.
const MAX_MESSAGE: usize = 256 * 1024;

/// How long a delivered envelope's id is remembered: far longer than Slack keeps retrying.
const REPLAY_TTL_SECS: i64 = 24 * 3600;

/// A client ping this often keeps the connection (and any NAT on the way) alive.
const PING_EVERY: Duration = Duration::from_secs(30);

/// Without a frame from Slack for this long (its pings included) the connection is dead.
const IDLE: Duration = Duration::from_secs(90);

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why a connection ended, or could not be made. Never holds the token or the URL.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// `apps.connections.open` failed.
    #[error("apps.connections.open failed: {0}")]
    Open(#[from] WebApiError),
    /// Its answer had no `url`.
    #[error("apps.connections.open answered without a url")]
    NoUrl,
    /// The WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(String),
    /// Nothing arrived for too long.
    #[error("no frame from Slack for {0:?}")]
    Idle(Duration),
}

/// How a connection ended well.
enum Ended {
    /// Slack asked for a reconnection (`disconnect`): reconnect now.
    Refresh,
    /// The socket closed: reconnect after a pause.
    Closed,
}

/// The doubling pause between failed connections, reset by each `hello`.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self {
            next: Duration::from_secs(1),
        }
    }

    fn reset(&mut self) {
        *self = Self::new();
    }

    fn take(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        wait
    }
}

/// One request from Slack (python-slack-sdk `SocketModeRequest`).
#[derive(Debug, Deserialize)]
struct Envelope {
    envelope_id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    accepts_response_payload: bool,
    #[serde(default)]
    retry_attempt: Option<u64>,
}

/// Connects to Slack with the app-level token `opener` holds and serves envelopes until
/// `shutdown` completes, reconnecting (with a fresh URL) whenever a connection ends. Follow-ups
/// run in `background`, after each envelope's acknowledgement.
pub async fn run(
    engine: Arc<Engine>,
    slack: Arc<SlackConfig>,
    background: Background,
    opener: WebApi,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(Front {
        engine,
        background,
        config: slack,
    });
    let mut backoff = Backoff::new();
    tokio::pin!(shutdown);
    loop {
        let ended = tokio::select! {
            () = &mut shutdown => break,
            ended = connection(&shared, &opener, &mut backoff) => ended,
        };
        let wait = match ended {
            Ok(Ended::Refresh) => {
                tracing::info!("slack asked for a reconnection");
                continue;
            }
            Ok(Ended::Closed) => {
                tracing::warn!("slack socket closed; reconnecting");
                backoff.take()
            }
            Err(e) => {
                let wait = backoff.take();
                tracing::warn!(error = %e, retry_in = ?wait, "slack socket mode connection failed");
                wait
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!("slack socket mode stopped");
}

/// One connection: a fresh URL, then envelopes until it ends.
async fn connection(
    shared: &Arc<Front<SlackConfig>>,
    opener: &WebApi,
    backoff: &mut Backoff,
) -> Result<Ended, SocketError> {
    let answer = opener.call("apps.connections.open", &json!({})).await?;
    let url = answer["url"].as_str().ok_or(SocketError::NoUrl)?;
    let config = WebSocketConfig {
        max_message_size: Some(MAX_MESSAGE),
        max_frame_size: Some(MAX_MESSAGE),
        ..WebSocketConfig::default()
    };
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
        .await
        .map_err(|e| SocketError::WebSocket(e.to_string()))?;
    let (mut sink, mut stream) = socket.split();
    let (acks, mut pending) = mpsc::channel::<String>(64);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut last_seen = tokio::time::Instant::now();
    let mut greeted = false;
    let failed = |e: tokio_tungstenite::tungstenite::Error| SocketError::WebSocket(e.to_string());
    loop {
        tokio::select! {
            frame = stream.next() => {
                last_seen = tokio::time::Instant::now();
                let text = match frame {
                    None => return Ok(Ended::Closed),
                    Some(Err(e)) => return Err(failed(e)),
                    Some(Ok(Message::Close(_))) => return Ok(Ended::Closed),
                    Some(Ok(Message::Text(text))) => text,
                    // Pings are answered by the WebSocket library; pongs only prove life.
                    Some(Ok(_)) => continue,
                };
                if let Some(ended) = on_message(shared, &text, &acks, backoff, &mut greeted) {
                    return Ok(ended);
                }
            }
            Some(ack) = pending.recv() => sink.send(Message::Text(ack)).await.map_err(failed)?,
            _ = ping.tick() => sink.send(Message::Ping(Vec::new())).await.map_err(failed)?,
            () = tokio::time::sleep_until(last_seen + IDLE) => return Err(SocketError::Idle(IDLE)),
        }
    }
}

/// Reads one message: `hello`, `disconnect`, or an envelope, which is handled on its own task
/// (so a slow Web API call does not hold up the others) and acknowledged through `acks`.
fn on_message(
    shared: &Arc<Front<SlackConfig>>,
    text: &str,
    acks: &mpsc::Sender<String>,
    backoff: &mut Backoff,
    greeted: &mut bool,
) -> Option<Ended> {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("slack socket message is not JSON; ignored");
        return None;
    };
    match message["type"].as_str() {
        Some("hello") => {
            tracing::info!("connected to slack in socket mode");
            backoff.reset();
            *greeted = true;
            return None;
        }
        Some("disconnect") => {
            let reason = message["reason"].as_str().unwrap_or("unknown");
            tracing::info!(reason, "slack announced a disconnection");
            // `link_disabled`: Socket Mode was turned off for the app. That, or a disconnection
            // before any `hello`, is waited out rather than answered by reconnecting at once.
            return Some(if reason == "link_disabled" || !*greeted {
                Ended::Closed
            } else {
                Ended::Refresh
            });
        }
        _ => {}
    }
    let envelope = match serde_json::from_value::<Envelope>(message) {
        Ok(envelope) if valid_envelope_id(&envelope.envelope_id) => envelope,
        _ => {
            tracing::warn!("slack socket message is not an envelope otpbot reads; ignored");
            return None;
        }
    };
    let (shared, acks) = (shared.clone(), acks.clone());
    tokio::spawn(async move {
        let ack = handle(&shared, envelope).await;
        if acks.send(ack.to_string()).await.is_err() {
            tracing::warn!("slack socket closed before an envelope was acknowledged");
        }
    });
    None
}

/// Envelope ids become store keys: a bounded, plain alphabet only.
fn valid_envelope_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Handles one envelope and returns its acknowledgement.
async fn handle(shared: &Front<SlackConfig>, envelope: Envelope) -> Value {
    let id = envelope.envelope_id.clone();
    let now = shared.engine.clock().now();
    let arrival = Arrival::once(
        now,
        format!("replay:slack-socket:{id}"),
        Timestamp::from_unix(now.unix() + REPLAY_TTL_SECS),
    );
    let retry = envelope.retry_attempt.unwrap_or(0);
    let outcome = match envelope.kind.as_str() {
        "slash_commands" => match serde_json::from_value::<SlashForm>(envelope.payload) {
            Ok(form) => slash_command(shared, form, arrival).await,
            Err(_) => Err(bad("the slash command payload is malformed")),
        },
        "interactive" => match serde_json::from_value::<Payload>(envelope.payload) {
            Ok(payload) => click(shared, payload, arrival).await,
            Err(_) => Err(bad("the payload is not an interaction")),
        },
        other => {
            // otpbot subscribes to no events; anything else is acknowledged and dropped.
            tracing::info!(kind = other, "slack socket envelope ignored");
            Ok(None)
        }
    };
    match outcome {
        Ok(Some(answered)) if envelope.accepts_response_payload => {
            json!({ "envelope_id": id, "payload": answered.body })
        }
        Ok(Some(_)) => json!({ "envelope_id": id }),
        Ok(None) => {
            tracing::info!(
                retry,
                "slack socket envelope seen before; acknowledged only"
            );
            json!({ "envelope_id": id })
        }
        // Acknowledged all the same: a refused envelope will not improve when Slack retries it.
        Err(e) => {
            tracing::warn!(error = %e, "slack socket envelope refused");
            json!({ "envelope_id": id })
        }
    }
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut backoff = Backoff::new();
        let waits: Vec<u64> = (0..8).map(|_| backoff.take().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        backoff.reset();
        assert_eq!(backoff.take(), Duration::from_secs(1));
    }

    #[test]
    fn envelope_ids_are_checked_before_they_become_keys() {
        assert!(valid_envelope_id("dbdd0ef3-1543-4f94-bfb4-133d0e6c1545"));
        for bad in ["", "a b", "x:y", "../etc", &"a".repeat(129)] {
            assert!(!valid_envelope_id(bad), "{bad:?}");
        }
    }
}
