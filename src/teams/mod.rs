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
//! `invoke`, which answers in the HTTP response. What follows a reply (approval cards, messages
//! to approvers, a settled card replaced) goes out through [`TeamsOut`] (`front::Deliver`).
//!
//! It never reads a store, builds a command or decides: the engine does.

mod activities;
pub mod activity;
mod app_token;
mod arrival;
pub mod auth;
mod buttons;
mod config;
pub mod connector;
mod deliver;
pub mod graph;
mod invoke;
mod message;
pub mod render;
mod text;
mod turn;

use axum::extract::FromRequestParts;
use axum::routing::post;
use axum::Router;

pub use self::config::{TeamsConfig, DEFAULT_SERVICE_URL};
pub use self::deliver::{is_conversation_id, TeamsOut};
use crate::front::{ApiError, Front};

/// Teams' endpoint: activities from the Bot Connector, on any application state that hands
/// out the engine, the background and the [`TeamsConfig`] (a missing one answers 404).
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Front<TeamsConfig>: FromRequestParts<S, Rejection = ApiError>,
{
    Router::new().route("/teams/messages", post(activities::messages))
}
