//! A Teams message: the command it carries, answered in a personal chat (opened for the
//! caller when the message came from a channel or group chat, which is then only told where the
//! answer went), and the reply's follow-ups sent after the answer.

use super::activity::Activity;
use super::config::TeamsConfig;
use super::connector::Connector;
use super::deliver::TeamsOut;
use super::turn::Turn;
use super::{render, text};
use crate::domain::{Action, Outcome};
use crate::engine::{Draft, Replayed};
use crate::front::{follow_up, ApiError, Deliver, Front};
use crate::reply::Reply;

/// Handles a message activity whose activity passed the checks in [`Turn::of`].
pub(super) async fn message(
    front: &Front<TeamsConfig>,
    activity: &Activity,
    mut turn: Turn<'_>,
) -> Result<(), ApiError> {
    let teams = &front.config;
    // Until the caller has passed the rate limit, mentions are resolved only from what the
    // activity itself says; the Connector is asked about the rest afterwards.
    turn.asked.request.text = text::command_text(activity, None).await;
    let private = if activity.is_personal() {
        turn.asked.request.delivery = Some("personal chat".into());
        None
    } else {
        match private_chat(front, &mut turn).await? {
            Some(id) => Some(id),
            None => return Ok(()),
        }
    };
    let lookup = text::MemberLookup {
        connector: &teams.connector,
        service_url: turn.service_url,
        conversation: turn.conversation,
    };
    let finish = || text::command_text(activity, Some(lookup));
    let mut reply = match front
        .engine
        .handle_finishing(&turn.asked.request, turn.arrival.clone(), finish)
        .await
    {
        Ok(reply) => reply,
        Err(Replayed) => {
            tracing::warn!(reason = "duplicate activity", "teams request ignored");
            return Ok(());
        }
    };
    let follow_ups = std::mem::take(&mut reply.follow_ups);
    let out = TeamsOut::new(teams.clone(), turn.service_url, turn.bot);
    answer(front, &out, &turn, private.as_deref(), &reply).await;
    // The notices follow the answer.
    let caller_chat = private.unwrap_or_else(|| turn.conversation.to_owned());
    let out = out.caller_chat(Some(caller_chat));
    follow_up(&front.background, out, reply.request_id.clone(), follow_ups);
    Ok(())
}

/// The caller's 1:1 chat, opened for a message from a channel or group chat; `None` when none
/// could be opened (then the message is audited, the caller asked in the thread to message the
/// bot directly, and nothing is run).
async fn private_chat(
    front: &Front<TeamsConfig>,
    turn: &mut Turn<'_>,
) -> Result<Option<String>, ApiError> {
    let teams = &front.config;
    let opened = teams
        .connector
        .personal_conversation(turn.service_url, turn.bot, turn.from, turn.tenant)
        .await;
    let request = &mut turn.asked.request;
    match opened {
        Ok(id) => {
            request.delivery = Some("private 1:1 chat, asked in a group chat or channel".into());
            Ok(Some(id))
        }
        Err(e) => {
            tracing::warn!(request_id = %request.request_id, error = %e, "cannot open a 1:1 chat");
            let draft = Draft::new(Action::Request, Outcome::Invalid)
                .detail("asked outside a personal chat; no private chat could be opened; told to message the bot directly");
            front
                .engine
                .audit(request, draft)
                .await
                .map_err(|_| ApiError::Internal(request.request_id.clone()))?;
            let notice = render::notice("I only answer in a private chat, and I could not open one with you. Please message me directly.");
            notify(&teams.connector, turn, &notice).await;
            Ok(None)
        }
    }
}

/// Sends the reply: in the personal chat it was asked in, or in the 1:1 chat `private` (the
/// thread is then told where it went). A failed delivery is logged and audited.
async fn answer(
    front: &Front<TeamsConfig>,
    out: &TeamsOut,
    turn: &Turn<'_>,
    private: Option<&str>,
    reply: &Reply,
) {
    let card = out.render(reply);
    let connector = &front.config.connector;
    let sent = match private {
        None => {
            connector
                .reply(turn.service_url, turn.conversation, turn.activity_id, &card)
                .await
        }
        Some(private) => connector.send(turn.service_url, private, &card).await,
    };
    match sent {
        Ok(()) if private.is_some() => {
            let notice = render::notice("I've answered you in a private chat.");
            notify(connector, turn, &notice).await;
        }
        Ok(()) => {}
        Err(e) => {
            let request = &turn.asked.request;
            tracing::error!(request_id = %request.request_id, error = %e, "reply delivery failed");
            let draft = Draft::new(Action::Request, Outcome::Error).detail("reply delivery failed");
            if let Err(e) = front.engine.audit(request, draft).await {
                tracing::error!(error = %e, "could not audit the delivery failure");
            }
        }
    }
}

/// Replies with a short notice in the conversation the message came from; failures are logged.
async fn notify(connector: &Connector, turn: &Turn<'_>, notice: &serde_json::Value) {
    if let Err(e) = connector
        .reply(
            turn.service_url,
            turn.conversation,
            turn.activity_id,
            notice,
        )
        .await
    {
        tracing::warn!(error = %e, "sending a notice failed");
    }
}
