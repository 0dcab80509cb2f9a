//! Card button clicks: `invoke` activities named `adaptiveCard/action`, sent when someone clicks
//! an `Action.Execute` on one of otpbot's cards (Universal Actions for Adaptive Cards).
//!
//! They arrive on `POST /teams/messages` and pass the same checks as messages before anything
//! here runs: the bearer token, the channel and the service URL, the tenant allow-list, and the
//! replay marker keyed by the activity id (recorded in the request's decision). Nothing in the
//! `value` is trusted but the `verb` and `data` of the action, and those only once checked: the
//! verb must be one otpbot puts on its cards, and the data must hold a well-formed request id or
//! tool name. The click then becomes the command text a Slack button stands for (`approve <id>`,
//! `deny <id>`, `request <tool>`, `<tool>`) and runs through the engine for the verified sender.
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

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::activity::Activity;
use super::{decision, notices, render, TeamsConfig, TeamsState, Turn};
use crate::domain::{AccessRequestId, Action, GrantDuration, Outcome, ToolName};
use crate::engine::{Draft, Replayed};
use crate::front::ApiError;
use crate::reply::{Button, Reply};

/// The invoke `name` of an `Action.Execute` click.
pub const ADAPTIVE_CARD_ACTION: &str = "adaptiveCard/action";
/// Approve an access request; `data.request` is its id, `data.for` an optional shorter grant.
pub const APPROVE: &str = "otp.approve";
/// Deny an access request; `data.request` is its id.
pub const DENY: &str = "otp.deny";
/// Ask for access to a tool (on the "no access" card); `data.tool` is the tool name.
pub const REQUEST: &str = "otp.request";
/// Get the code of a tool (on the "approved" card); `data.tool` is the tool name.
pub const CODE: &str = "otp.code";

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

/// A checked click: the button it stands for.
#[derive(Debug, PartialEq, Eq)]
struct Clicked(Button);

impl Clicked {
    /// The command text the click stands for, as a Slack button's.
    fn command_text(&self) -> String {
        self.0.command()
    }

    /// The access request an Approve or Deny click decides.
    fn decides(&self) -> Option<&AccessRequestId> {
        match &self.0 {
            Button::Approve(id, _) | Button::Deny(id) => Some(id),
            Button::RequestAccess(_) | Button::GetCode(_) => None,
        }
    }
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

/// Checks the invoke's `value`: an `Action.Execute` with a known verb and well-formed data.
fn parse(value: Option<&Value>) -> Result<Clicked, Malformed> {
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
    let data = action.data.unwrap_or(Value::Null);
    let field = |name: &str| data.get(name).and_then(Value::as_str);
    let tool = || {
        field("tool")
            .and_then(|t| ToolName::parse(t).ok())
            .ok_or_else(|| malformed("data.tool is not a tool name"))
    };
    match action.verb.as_deref().unwrap_or_default() {
        verb @ (APPROVE | DENY) => {
            let id = field("request")
                .and_then(AccessRequestId::parse)
                .ok_or_else(|| malformed("data.request is not a request id"))?;
            let duration = match (verb, data.get("for")) {
                (_, None) => None,
                (APPROVE, Some(Value::String(d))) => Some(
                    GrantDuration::parse(d)
                        .ok_or_else(|| malformed("data.for is not a duration"))?,
                ),
                _ => return Err(malformed("data.for is not a duration of an approval")),
            };
            Ok(Clicked(if verb == APPROVE {
                Button::Approve(id, duration)
            } else {
                Button::Deny(id)
            }))
        }
        REQUEST => Ok(Clicked(Button::RequestAccess(tool()?))),
        CODE => Ok(Clicked(Button::GetCode(tool()?))),
        _ => Err(malformed("unknown verb")),
    }
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
    app: &TeamsState,
    teams: &TeamsConfig,
    activity: &Activity,
    mut turn: Turn<'_>,
) -> Result<Response, ApiError> {
    let clicked = match parse(activity.value.as_ref()) {
        Ok(clicked) => clicked,
        Err(refused) => {
            tracing::warn!(reason = %refused.message, "teams card action refused");
            return Ok(error_response(refused));
        }
    };
    turn.request.text = clicked.command_text();
    let decision = clicked.decides().cloned();
    // Decisions are answered on the card where they were clicked (they carry no secret);
    // other answers go only to a personal chat.
    let private = if activity.is_personal() {
        turn.request.delivery = Some("card action in a personal chat".into());
        None
    } else if decision.is_some() {
        turn.request.delivery = Some("card action in a group chat or channel".into());
        None
    } else {
        match teams
            .connector
            .personal_conversation(turn.service_url, turn.bot, turn.from, turn.tenant)
            .await
        {
            Ok(id) => {
                turn.request.delivery =
                    Some("private 1:1 chat, card action in a group chat or channel".into());
                Some(id)
            }
            Err(e) => {
                let request = &turn.request;
                tracing::warn!(request_id = %request.request_id, error = %e, "cannot open a 1:1 chat");
                let draft = Draft::new(Action::Request, Outcome::Invalid)
                    .detail("card action outside a personal chat; no private chat could be opened");
                app.engine
                    .audit(request, draft)
                    .await
                    .map_err(|_| ApiError::Internal(request.request_id.clone()))?;
                return Ok(card_response(&render::text_card(
                    "I only answer in a private chat, and I could not open one with you. Please message me directly.",
                )));
            }
        }
    };
    let request = &turn.request;
    let reply = app
        .engine
        .handle_at(request, turn.arrival.clone())
        .await
        .map_err(|Replayed| replayed())?;
    notices::post(teams, turn.service_url, turn.bot, &reply).await;
    if let Some(id) = decision {
        let card = decision::after_decision(app, teams, activity, &turn, &id, &reply).await;
        return Ok(card_response(&card));
    }
    match private {
        None => Ok(card_response(&render::render(&reply))),
        Some(private) => Ok(answer_privately(app, teams, &turn, &private, &reply).await),
    }
}

/// Sends the reply to the clicker's 1:1 chat `private`; the card answered in place only says
/// where the answer went.
async fn answer_privately(
    app: &TeamsState,
    teams: &TeamsConfig,
    turn: &Turn<'_>,
    private: &str,
    reply: &Reply,
) -> Response {
    let sent = teams
        .connector
        .send(turn.service_url, private, &render::render(reply))
        .await;
    let said = match sent {
        Ok(()) => "I've answered you in a private chat.",
        Err(e) => {
            let request = &turn.request;
            tracing::error!(request_id = %request.request_id, error = %e, "reply delivery failed");
            let draft = Draft::new(Action::Request, Outcome::Error).detail("reply delivery failed");
            if let Err(e) = app.engine.audit(request, draft).await {
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

    fn value(verb: &str, data: Value) -> Value {
        json!({ "action": { "type": "Action.Execute", "id": "a1", "verb": verb, "data": data }, "trigger": "manual" })
    }

    #[test]
    fn known_verbs_become_the_commands_their_slack_buttons_stand_for() {
        let cases = [
            (
                APPROVE,
                json!({ "request": "0123456789abcdef" }),
                "approve 0123456789abcdef",
            ),
            (
                APPROVE,
                json!({ "request": "0123456789abcdef", "for": "2h" }),
                "approve 0123456789abcdef for 2h",
            ),
            (
                DENY,
                json!({ "request": "0123456789abcdef" }),
                "deny 0123456789abcdef",
            ),
            (REQUEST, json!({ "tool": "github" }), "request github"),
            (CODE, json!({ "tool": "github" }), "github"),
        ];
        for (verb, data, text) in cases {
            let clicked = parse(Some(&value(verb, data.clone()))).expect("accepted");
            assert_eq!(clicked.command_text(), text, "{verb} {data}");
        }
    }

    #[test]
    fn unknown_verbs_and_malformed_data_are_refused() {
        let cases = [
            value("otp.grant_all", json!({ "tool": "github" })),
            value(APPROVE, json!({ "request": "../x" })),
            value(
                APPROVE,
                json!({ "request": "0123456789abcdef", "for": "forever" }),
            ),
            value(DENY, json!({ "request": "0123456789abcdef", "for": "2h" })),
            value(CODE, json!({ "tool": "github code" })),
            value(REQUEST, json!({ "tool": 7 })),
            value(REQUEST, Value::Null),
            json!({ "action": { "type": "Action.Submit", "verb": CODE, "data": { "tool": "github" } } }),
            json!({ "nothing": true }),
        ];
        for case in cases {
            assert!(parse(Some(&case)).is_err(), "accepted {case}");
        }
        assert!(parse(None).is_err(), "no value");
    }
}
