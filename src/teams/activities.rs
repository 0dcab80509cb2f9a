//! `POST /teams/messages`: every activity the Bot Connector sends, verified
//! ([`super::arrival`]), checked ([`super::turn`]) and handed to the handler of its kind: a
//! message ([`super::message`]) or a card button click ([`super::invoke`]).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::arrival::verified_activity;
use super::config::TeamsConfig;
use super::invoke::{self, ADAPTIVE_CARD_ACTION};
use super::message;
use super::turn::Turn;
use crate::front::{ApiError, Front};

/// Handles one Bot Framework activity.
pub(super) async fn messages(
    front: Front<TeamsConfig>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match handle(&front, &headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

/// HTTP 200 with an empty JSON body: the acknowledgement of an activity with no synchronous answer.
fn acknowledged() -> Response {
    (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response()
}

async fn handle(
    front: &Front<TeamsConfig>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let activity = verified_activity(&front.config, headers, body).await?;
    match (activity.kind.as_str(), activity.name.as_deref()) {
        ("message", _) => {
            if let Some(turn) = Turn::of(front, &activity).await? {
                message::message(front, &activity, turn).await?;
            }
            Ok(acknowledged())
        }
        ("invoke", Some(ADAPTIVE_CARD_ACTION)) => {
            let turn = Turn::of(front, &activity)
                .await?
                .ok_or_else(invoke::replayed)?;
            invoke::card_action(front, &activity, turn).await
        }
        // Other invokes are not implemented, as botbuilder's `ActivityHandler.onInvokeActivity`
        // answers them (501); other activity types are acknowledged and ignored.
        ("invoke", _) => Ok(StatusCode::NOT_IMPLEMENTED.into_response()),
        _ => Ok(acknowledged()),
    }
}
