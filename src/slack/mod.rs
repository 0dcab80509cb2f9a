//! The Slack front end: slash commands on `POST /slack/commands` (`commands`), button clicks
//! on `POST /slack/interactions` (`interactions`), and both arriving over a Socket Mode
//! WebSocket instead ([`socket`]). Each arrival is verified ([`signature`] over HTTP; the
//! connection itself in Socket Mode), turned into the engine's platform-neutral request
//! (`front::Incoming`), and answered in Block Kit ([`render`]); what follows the answer goes out
//! through the Web API ([`SlackOut`], `front::Deliver`).
//!
//! It never reads a store, builds a command or decides: the engine does.

mod arrival;
mod buttons;
mod commands;
mod config;
mod deliver;
pub mod groups;
mod interactions;
pub mod render;
pub mod signature;
pub mod socket;
pub mod web;

use axum::extract::FromRequestParts;
use axum::routing::post;
use axum::Router;

pub use self::config::SlackConfig;
pub use self::deliver::SlackOut;
use crate::front::{ApiError, Front};

/// Slack's endpoints: slash commands and button clicks, on any application state that hands
/// out the engine, the background and the [`SlackConfig`] (a missing one answers 404).
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Front<SlackConfig>: FromRequestParts<S, Rejection = ApiError>,
{
    Router::new()
        .route("/slack/commands", post(commands::commands))
        .route("/slack/interactions", post(interactions::interactions))
}
