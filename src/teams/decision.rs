//! What an Approve or Deny click on Teams leads to besides its decision: the card answered to
//! the clicker, the approval card replaced in place for everyone once the request is settled,
//! and the requester told privately. Mirrors the Slack front end's `chat.update` and direct
//! message after a decision. Never changes the decision; failures are logged.

use serde_json::Value;

use super::activity::Activity;
use super::{notices, render, TeamsConfig, TeamsState, Turn};
use crate::command::show_user;
use crate::domain::{AccessRequest, AccessRequestId, Platform, RequestState};
use crate::reply::{Button, Reply, Tone};

/// After an Approve or Deny click: the card answered to the clicker, built from the request's
/// stored state. Once the request is decided or expired, the approval card is also replaced in
/// place for everyone (Connector "update activity" on `replyToId`), without buttons; when this
/// click decided it, the requester is told in a 1:1 chat. Failures are logged: the decision stands.
pub(super) async fn after_decision(
    app: &TeamsState,
    teams: &TeamsConfig,
    activity: &Activity,
    turn: &Turn<'_>,
    id: &AccessRequestId,
    reply: &Reply,
) -> Value {
    let access = &app.engine.stores().access;
    let stored = match access.access_request(id).await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(error = %e, "request not read after a decision");
            None
        }
    };
    let Some(stored) = stored else {
        return render::render(reply);
    };
    let now = app.engine.clock().now();
    let display = match access.tool(&stored.tool).await {
        Ok(Some(tool)) => tool.display_name,
        _ => stored.tool.to_string(),
    };
    let requester = show_user(&stored.requester, &stored.requester);
    let summary = format!(
        "{requester} asked for {display} access for {} (request `{id}`).",
        stored.duration
    );
    let outcome = match &stored.state {
        RequestState::Approved { by, at } => Some(format!(
            "Approved by {} at {at}.",
            show_user(by, &stored.requester)
        )),
        RequestState::Denied { by, at } => Some(format!(
            "Denied by {} at {at}.",
            show_user(by, &stored.requester)
        )),
        RequestState::Open if !stored.is_open(now) => {
            Some(format!("Expired undecided at {}.", stored.expires_at))
        }
        RequestState::Open => None,
    };
    let Some(outcome) = outcome else {
        // Still open (the click was refused): the clicker sees why, and the buttons stay for
        // the approvers.
        let mut lines = vec![summary];
        lines.extend(reply.lines.iter().cloned());
        let buttons = vec![Button::Approve(id.clone(), None), Button::Deny(id.clone())];
        return render::lines_card(&lines, &buttons);
    };
    let settled = render::lines_card(&[summary.clone(), outcome.clone()], &[]);
    if let Some(card_message) = activity.reply_to_id.as_deref() {
        if let Err(e) = teams
            .connector
            .update(turn.service_url, turn.conversation, card_message, &settled)
            .await
        {
            tracing::warn!(error = %e, "approval card not updated");
        }
    }
    if reply.tone == Tone::Info {
        tell_requester(teams, turn, &stored, &display).await;
    }
    let mut lines = vec![summary, outcome];
    lines.extend(reply.lines.iter().cloned());
    render::lines_card(&lines, &[])
}

/// Tells the requester of a decision this click made, in a 1:1 chat: an approval with a
/// "Get code" button, a denial without. Only Teams users of a served tenant are reached here.
async fn tell_requester(
    teams: &TeamsConfig,
    turn: &Turn<'_>,
    stored: &AccessRequest,
    display: &str,
) {
    let requester = &stored.requester;
    if requester.platform() != Platform::Teams
        || !teams.allowed_tenants.contains(requester.workspace())
    {
        return;
    }
    let id = &stored.id;
    let (line, buttons) = match &stored.state {
        RequestState::Approved { by, .. } => (
            format!(
                "{} approved your {display} access request (request `{id}`).",
                show_user(by, requester)
            ),
            vec![Button::GetCode(stored.tool.clone())],
        ),
        RequestState::Denied { by, .. } => (
            format!(
                "{} denied your {display} access request (request `{id}`).",
                show_user(by, requester)
            ),
            Vec::new(),
        ),
        RequestState::Open => return,
    };
    let card = render::lines_card(&[line], &buttons);
    notices::send_to_person(teams, turn.service_url, turn.bot, requester, &card).await;
}
