//! Card button clicks: `invoke` activities named `adaptiveCard/action`, sent when someone clicks
//! an `Action.Execute` on one of otpbot's cards (Universal Actions for Adaptive Cards).
//!
//! They arrive on `POST /teams/messages` and pass the same checks as messages before anything
//! here runs: the bearer token, the channel and the service URL, the tenant allow-list, and the
//! replay marker keyed by the activity id (recorded in the request's decision). Nothing in the
//! `value` is trusted but the `verb` and `data` of the action, and those only once checked: the
//! verb must be one otpbot puts on its cards, and the data must be what otpbot writes for that
//! verb (a well-formed request id or tool name): both are read back into the typed button
//! ([`Button::from_parts`]), which the engine maps to its command and runs for the verified
//! sender, as it does for a Slack click.
//!
//! Fields read: `name` (`adaptiveCard/action`), `value.action.type` (`Action.Execute`),
//! `value.action.verb`, `value.action.data` and `replyToId` (the message holding the card):
//! `AdaptiveCardInvokeValue` / `AdaptiveCardInvokeAction` in botbuilder-js
//! `libraries/botframework-schema/src/index.ts` and the Microsoft 365 Agents SDK
//! (`microsoft/Agents-for-js` `AdaptiveCardInvokeValue`), and Teams, "Work with Universal Actions
//! for Adaptive Cards", "adaptiveCard/action invoke activity":
//! <https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards>.
//!
//! The answer is synchronous, in the HTTP response: `AdaptiveCardInvokeResponse`
//! `{ statusCode, type, value }` (botbuilder-js `AdaptiveCardInvokeResponse`; same page,
//! "Response format"), with `type` `application/vnd.microsoft.card.adaptive` and the refreshed
//! card as `value`. A malformed action is answered as botbuilder's `ActivityHandler` answers one
//! (`createAdaptiveCardInvokeErrorResponse`): HTTP 400 with `statusCode` 400, `type`
//! `application/vnd.microsoft.error` and `value { code, message }`.
//!
//! A code is only ever shown in a personal chat: a "Get code" or "Request access" click in a
//! channel or group chat is answered in a 1:1 chat, and the card in the channel only says so.
//! An Approve or Deny click is answered on its card: the request's message as the decision left
//! it (the command says so in its reply), with the caller's answer under it. What else follows
//! (the card replaced for everyone once settled, the requester told) goes out after the answer.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::activity::Activity;
use super::buttons::verb_named;
use super::config::TeamsConfig;
use super::deliver::TeamsOut;
use super::render;
use super::turn::Turn;
use crate::domain::{Action, Outcome};
use crate::engine::{Draft, Replayed};
use crate::front::{answer, follow_up, ApiError, Ask, Deliver, Front};
use crate::reply::{ApprovalMessage, Button, Data, Reply};

/// The invoke `name` of an `Action.Execute` click.
pub const ADAPTIVE_CARD_ACTION: &str = "adaptiveCard/action";

/// `AdaptiveCardInvokeValue`: only its `action` is read.
#[derive(Debug, Deserialize)]
struct InvokeValue {
    action: InvokeAction,
}

/// `AdaptiveCardInvokeAction`: `type`, `verb` and `data` (its `id` is not read).
#[derive(Debug, Deserialize)]
struct InvokeAction {
    #[serde(rename = "type")]
    kind: String,
    verb: Option<String>,
    data: Option<Value>,
}

/// A refused invoke, answered as botbuilder answers a malformed `adaptiveCard/action`.
#[derive(Debug, PartialEq, Eq)]
struct Malformed {
    code: &'static str,
    message: String,
}

fn malformed(message: impl Into<String>) -> Malformed {
    Malformed {
        code: "BadRequest",
        message: message.into(),
    }
}

/// Checks the invoke's `value`: an `Action.Execute` with a known verb and the data otpbot
/// writes for it; the button it stands for.
fn parse(value: Option<&Value>) -> Result<Button, Malformed> {
    let value = value.ok_or_else(|| malformed("Missing value property"))?;
    let value: InvokeValue = serde_json::from_value(value.clone())
        .map_err(|_| malformed("the value is not an Adaptive Card action"))?;
    let action = value.action;
    if action.kind != "Action.Execute" {
        return Err(Malformed {
            code: "NotSupported",
            message: "only Action.Execute is supported".into(),
        });
    }
    let verb = action
        .verb
        .as_deref()
        .and_then(verb_named)
        .ok_or_else(|| malformed("unknown verb"))?;
    let data = match action.data {
        None | Some(Value::Null) => Data::default(),
        Some(data) => serde_json::from_value(data)
            .map_err(|_| malformed("the data is not what this verb carries"))?,
    };
    Button::from_parts(verb, &data)
        .ok_or_else(|| malformed("the data is not what this verb carries"))
}

/// The error answer of a malformed action: HTTP 400, `application/vnd.microsoft.error`.
fn error_response(refused: Malformed) -> Response {
    let body = json!({
        "statusCode": 400,
        "type": "application/vnd.microsoft.error",
        "value": { "code": refused.code, "message": refused.message }
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// The answer carrying `card`: HTTP 200, `application/vnd.microsoft.card.adaptive`.
fn card_response(message: &Value) -> Response {
    let body = json!({
        "statusCode": 200,
        "type": render::CARD_CONTENT_TYPE,
        "value": render::card_of(message)
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The refusal of an invoke whose activity id was already acted on.
pub(super) fn replayed() -> ApiError {
    tracing::warn!(reason = "replay", "teams card action refused");
    ApiError::Unauthorized("replayed request".into())
}

/// Handles one `adaptiveCard/action` invoke whose activity passed the checks in [`Turn::of`].
pub(super) async fn card_action(
    front: &Front<TeamsConfig>,
    activity: &Activity,
    mut turn: Turn<'_>,
) -> Result<Response, ApiError> {
    let button = match parse(activity.value.as_ref()) {
        Ok(button) => button,
        Err(refused) => {
            tracing::warn!(reason = %refused.message, "teams card action refused");
            return Ok(error_response(refused));
        }
    };
    // Decisions (and reviews of a break-glass) are answered on the card where they were
    // clicked (they carry no secret);
    // other answers go only to a personal chat.
    let decides = matches!(
        button,
        Button::Approve(..) | Button::Deny(_) | Button::Review(..)
    );
    let private = match where_to_answer(front, activity, &mut turn, decides).await? {
        Ok(private) => private,
        Err(refusal) => return Ok(refusal),
    };
    turn.asked.ask = Ask::Click(button);
    let mut reply = answer(&front.engine, &turn.asked, turn.arrival.clone())
        .await
        .map_err(|Replayed| replayed())?;
    let follow_ups = std::mem::take(&mut reply.follow_ups);
    let out = TeamsOut::new(front.config.clone(), turn.service_url, turn.bot);
    let message = follow_ups.approval_message.as_ref();
    let response = match (decides, &private) {
        (true, _) => card_response(&decision_card(&out, &reply, message)),
        (false, None) => card_response(&out.render(&reply)),
        (false, Some(private)) => answer_privately(front, &out, &turn, private, &reply).await,
    };
    let personal = activity.is_personal().then(|| turn.conversation.to_owned());
    let clicked = activity
        .reply_to_id
        .clone()
        .map(|card| (turn.conversation.to_owned(), card));
    let out = out.clicked(clicked).caller_chat(private.or(personal));
    follow_up(&front.background, out, reply.request_id.clone(), follow_ups);
    Ok(response)
}

/// Where a click is answered: on its card (`None`: in a personal chat, or a decision), or in
/// the clicker's 1:1 chat; `Err` carries the answer when that chat could not be opened.
async fn where_to_answer(
    front: &Front<TeamsConfig>,
    activity: &Activity,
    turn: &mut Turn<'_>,
    decides: bool,
) -> Result<Result<Option<String>, Response>, ApiError> {
    let delivery = &mut turn.asked.request.delivery;
    if activity.is_personal() {
        *delivery = Some("card action in a personal chat".into());
        return Ok(Ok(None));
    }
    if decides {
        *delivery = Some("card action in a group chat or channel".into());
        return Ok(Ok(None));
    }
    Ok(private_chat(front, turn).await?.map(Some))
}

/// The card answered to an Approve or Deny click: the request's message as the decision left
/// it (its buttons while it is still open), and the clicker's answer under it.
fn decision_card(out: &TeamsOut, reply: &Reply, message: Option<&ApprovalMessage>) -> Value {
    let Some(message) = message else {
        return out.render(reply);
    };
    let mut lines = message.lines.clone();
    lines.extend(reply.lines.iter().cloned());
    render::lines_card(&lines, &message.buttons)
}

/// The clicker's 1:1 chat, opened for a click outside one; `Err` carries the answer when none
/// could be opened (the click is then audited and not run).
async fn private_chat(
    front: &Front<TeamsConfig>,
    turn: &mut Turn<'_>,
) -> Result<Result<String, Response>, ApiError> {
    match front
        .config
        .connector
        .personal_conversation(turn.service_url, turn.bot, turn.from, turn.tenant)
        .await
    {
        Ok(id) => {
            turn.asked.request.delivery =
                Some("private 1:1 chat, card action in a group chat or channel".into());
            Ok(Ok(id))
        }
        Err(e) => {
            let request = &turn.asked.request;
            tracing::warn!(request_id = %request.request_id, error = %e, "cannot open a 1:1 chat");
            let draft = Draft::new(Action::Request, Outcome::Invalid)
                .detail("card action outside a personal chat; no private chat could be opened");
            front
                .engine
                .audit(request, draft)
                .await
                .map_err(|_| ApiError::Internal(request.request_id.clone()))?;
            Ok(Err(card_response(&render::text_card(
                "I only answer in a private chat, and I could not open one with you. Please message me directly.",
            ))))
        }
    }
}

/// Sends the reply to the clicker's 1:1 chat `private`; the card answered in place only says
/// where the answer went.
async fn answer_privately(
    front: &Front<TeamsConfig>,
    out: &TeamsOut,
    turn: &Turn<'_>,
    private: &str,
    reply: &Reply,
) -> Response {
    let sent = front
        .config
        .connector
        .send(turn.service_url, private, &out.render(reply))
        .await;
    let said = match sent {
        Ok(()) => "I've answered you in a private chat.",
        Err(e) => {
            let request = &turn.asked.request;
            tracing::error!(request_id = %request.request_id, error = %e, "reply delivery failed");
            let draft = Draft::new(Action::Request, Outcome::Error).detail("reply delivery failed");
            if let Err(e) = front.engine.audit(request, draft).await {
                tracing::error!(error = %e, "could not audit the delivery failure");
            }
            "I could not answer you in a private chat. Please message me directly."
        }
    };
    card_response(&render::text_card(said))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccessRequestId, GrantDuration, ToolName};

    fn value(verb: &str, data: Value) -> Value {
        json!({ "action": { "type": "Action.Execute", "id": "a1", "verb": verb, "data": data }, "trigger": "manual" })
    }

    #[test]
    fn every_button_on_a_card_comes_back_from_a_click_as_itself() {
        let id = AccessRequestId::parse("0123456789abcdef").expect("id");
        let tool = ToolName::parse("github").expect("tool");
        for button in [
            Button::Approve(id.clone(), None),
            Button::Approve(id.clone(), GrantDuration::parse("2h")),
            Button::Deny(id),
            Button::RequestAccess(tool.clone()),
            Button::GetCode(tool),
        ] {
            let card = render::card_of(&render::lines_card(&[], std::slice::from_ref(&button)));
            let written = &card["actions"][0];
            let clicked = value(
                written["verb"].as_str().expect("verb"),
                written["data"].clone(),
            );
            assert_eq!(parse(Some(&clicked)), Ok(button), "{written}");
        }
    }

    #[test]
    fn unknown_verbs_and_malformed_data_are_refused() {
        let cases = [
            value("otp.grant_all", json!({ "tool": "github" })),
            value("otp.approve", json!({ "request": "../x" })),
            value(
                "otp.approve",
                json!({ "request": "0123456789abcdef", "for": "forever" }),
            ),
            value(
                "otp.deny",
                json!({ "request": "0123456789abcdef", "for": "2h" }),
            ),
            value("otp.code", json!({ "tool": "github code" })),
            value("otp.request", json!({ "tool": 7 })),
            value("otp.request", Value::Null),
            json!({ "action": { "type": "Action.Submit", "verb": "otp.code", "data": { "tool": "github" } } }),
            json!({ "nothing": true }),
        ];
        for case in cases {
            assert!(parse(Some(&case)).is_err(), "accepted {case}");
        }
        assert!(parse(None).is_err(), "no value");
    }
}
