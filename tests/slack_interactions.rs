//! `POST /slack/interactions` end to end: button clicks are verified like slash commands on the
//! raw body, then become the command they stand for, for the verified user.
//!
//! Fixtures follow Slack's `block_actions` payload
//! (<https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>): a form field
//! `payload` holding JSON with `type`, `team.id`, `user.id`, `channel.id` and `actions[]` of
//! `action_id`/`value` (the fields otpbot reads; real payloads carry more, which is ignored).

use crate::common;

use otpbot::domain::{Action, Outcome};
use otpbot::keys::SigningSecret;
use otpbot::slack::signature::sign;

use common::slack::pressed;
use common::{principal, SlackReply, TestApp, ADMIN, SECRET, TEAM};

/// The `value` otpbot writes on a button deciding request `id` (it is otpbot's own; Slack hands
/// it back unread): used here to forge clicks on requests never shown in a message.
fn decision(verb: &str, id: &str) -> String {
    serde_json::json!({ "do": verb, "request": id }).to_string()
}

fn click(team: &str, user: &str, action_id: &str, value: &str) -> Vec<u8> {
    let payload = common::block_actions(team, user, action_id, value);
    serde_urlencoded::to_string([("payload", payload.to_string())])
        .expect("form")
        .into_bytes()
}

async fn post(app: &TestApp, body: Vec<u8>, signature: Option<String>) -> SlackReply {
    let response = app
        .post_slack_form("/slack/interactions", body, signature)
        .await;
    let status = response.status().as_u16();
    let raw = response.text().await.expect("body");
    let json = serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null);
    SlackReply { status, json, raw }
}

fn request_id(reply: &str) -> String {
    let start = reply.find("(request `").expect("a request id") + "(request `".len();
    let end = reply[start..].find('`').expect("backtick") + start;
    reply[start..end].to_owned()
}

async fn has_grant(app: &TestApp, user: &str) -> bool {
    app.stores
        .access
        .grant(&principal(user), &"github".parse().expect("tool"))
        .await
        .expect("grant")
        .is_some()
}

#[tokio::test]
async fn request_button_then_approve_button_then_code_button() {
    let web = common::slack::FakeWebApi::start().await;
    let app = TestApp::spawn_with(common::Options {
        slack_api: Some(web.api_url()),
        ..common::Options::default()
    })
    .await;
    let refused = app.slash("UALICE", "github").await;
    let (action, value) = pressed(&refused.json, "Request access");
    let asked = post(&app, click(TEAM, "UALICE", &action, &value), None).await;
    request_id(&asked.ephemeral());
    app.settled().await;
    let message = web
        .bodies("chat.postMessage")
        .pop()
        .expect("approval message");
    let (action, value) = pressed(&message, "Approve");
    let approved = post(&app, click(TEAM, ADMIN, &action, &value), None).await;
    assert!(
        approved.ephemeral().contains("Approved"),
        "{}",
        approved.raw
    );
    assert!(has_grant(&app, "UALICE").await);
    app.settled().await;
    let told = web
        .bodies("chat.postMessage")
        .pop()
        .expect("the requester told");
    assert_eq!(told["channel"], "D0UALICE");
    let (action, value) = pressed(&told, "Get code");
    let code = post(&app, click(TEAM, "UALICE", &action, &value), None).await;
    assert!(
        code.ephemeral().contains(&app.expected_code(app.now())),
        "{}",
        code.raw
    );
    let approvals: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Approve)
        .collect();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].channel.as_deref(), Some("C0APPROVE"));
}

#[tokio::test]
async fn forged_replayed_and_unknown_clicks_change_nothing() {
    let app = TestApp::spawn().await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    let before = app.audit().await.len();

    // Forged: signed with another secret.
    let body = click(TEAM, ADMIN, "otp_approve", &decision("approve", &id));
    let forged = sign(
        &SigningSecret::new("another-secret-another-secret-00".into()),
        app.now().unix(),
        &body,
    );
    assert_eq!(post(&app, body.clone(), Some(forged)).await.status, 401);
    // Tampered: a valid signature of other bytes.
    let other = click(TEAM, "UBOB", "otp_approve", &decision("approve", &id));
    let signature = sign(&SigningSecret::new(SECRET.into()), app.now().unix(), &other);
    assert_eq!(post(&app, body.clone(), Some(signature)).await.status, 401);
    // Unknown action ids and malformed values are refused before anything runs: an action id
    // otpbot never writes, a value that is not its own, a bare id (never split or guessed at),
    // and a value under another button's action id.
    for (action, value) in [
        ("otp_grant_all".to_owned(), decision("approve", &id)),
        ("otp_approve".to_owned(), decision("approve", "../x")),
        ("otp_approve".to_owned(), id.clone()),
        ("otp_approve".to_owned(), format!("{id} 1h")),
        ("otp_deny".to_owned(), decision("approve", &id)),
    ] {
        assert_eq!(
            post(&app, click(TEAM, ADMIN, &action, &value), None)
                .await
                .status,
            400,
            "{action} {value}"
        );
    }
    assert_eq!(app.audit().await.len(), before, "nothing recorded");
    assert!(!has_grant(&app, "UALICE").await);

    // The genuine click works once; the same bytes again are a replay.
    assert_eq!(post(&app, body.clone(), None).await.status, 200);
    assert_eq!(post(&app, body, None).await.status, 401);
    let approvals = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Approve)
        .count();
    assert_eq!(approvals, 1, "the replay recorded nothing");
}

#[tokio::test]
async fn clicks_are_judged_like_commands() {
    let app = TestApp::spawn().await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    // A request id otpbot never issued.
    let unknown = post(
        &app,
        click(
            TEAM,
            ADMIN,
            "otp_approve",
            &decision("approve", "0123456789abcdef"),
        ),
        None,
    )
    .await;
    assert!(
        unknown.ephemeral().contains("There is no request"),
        "{}",
        unknown.raw
    );
    // A non-approver, and the requester, clicking Approve.
    let approve = decision("approve", &id);
    let bob = post(&app, click(TEAM, "UBOB", "otp_approve", &approve), None).await;
    assert!(bob
        .ephemeral()
        .contains("Only admins and the tool's approvers"));
    let own = post(&app, click(TEAM, "UALICE", "otp_approve", &approve), None).await;
    assert!(own
        .ephemeral()
        .contains("Nobody approves their own request"));
    // A workspace that is not served.
    let foreign = post(&app, click("T0OTHER", ADMIN, "otp_approve", &approve), None).await;
    assert!(
        foreign.ephemeral().contains("not allowed"),
        "{}",
        foreign.raw
    );
    assert!(!has_grant(&app, "UALICE").await);
    let outcomes: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .rev()
        .filter(|e| e.action != Action::AccessRequest)
        .map(|e| e.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Invalid,
            Outcome::Forbidden,
            Outcome::Forbidden,
            Outcome::BadWorkspace
        ]
    );
}

#[tokio::test]
async fn the_no_access_reply_offers_a_request_button_that_works() {
    let app = TestApp::spawn().await;
    let refused = app.slash("UALICE", "github").await;
    let actions: Vec<_> = refused.json["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter(|b| b["type"] == "actions")
        .collect();
    assert_eq!(actions.len(), 1, "{}", refused.raw);
    let button = &actions[0]["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["text"]["text"], "Request access");
    let (action_id, value) = (
        button["action_id"].as_str().expect("action_id"),
        button["value"].as_str().expect("value"),
    );
    assert_eq!(action_id, "otp_request");
    let value_json: serde_json::Value = serde_json::from_str(value).expect("a JSON value");
    assert_eq!(
        value_json,
        serde_json::json!({"do": "request", "tool": "github"})
    );
    // Clicking it sends that action and value back.
    let asked = post(&app, click(TEAM, "UALICE", action_id, value), None).await;
    assert!(
        asked
            .ephemeral()
            .contains("Your request for 8h of GitHub access is open until"),
        "{}",
        asked.raw
    );
    // Other refusals offer nothing.
    let unknown = app.slash("UALICE", "nope").await;
    assert!(!unknown.raw.contains("\"actions\""), "{}", unknown.raw);
}

/// The Approve button, like `/otp approve`, compares persons: a Grid user who asked in one
/// workspace of the org cannot approve with a click from another (`enterprise.id` in the
/// payload names the org).
#[tokio::test]
async fn a_grid_user_cannot_approve_own_request_with_a_button() {
    let app = TestApp::spawn().await;
    app.slash(ADMIN, "role add slack:T0TWO:W0SELF approver github")
        .await
        .ephemeral();
    let asked = app
        .slash_in("T0ONE", Some("E0ENTERPRISE"), "W0SELF", "request github")
        .await
        .ephemeral();
    let id = request_id(&asked);
    let mut payload =
        common::block_actions("T0TWO", "W0SELF", "otp_approve", &decision("approve", &id));
    payload["enterprise"] = serde_json::json!({"id": "E0ENTERPRISE", "name": "Example Org"});
    let body = serde_urlencoded::to_string([("payload", payload.to_string())])
        .expect("form")
        .into_bytes();
    let own = post(&app, body, None).await;
    assert!(
        own.ephemeral()
            .contains("Nobody approves their own request"),
        "{}",
        own.raw
    );
    let asker = otpbot::domain::Principal::parse("slack:T0ONE:W0SELF").expect("principal");
    assert!(app
        .stores
        .access
        .grant(&asker, &"github".parse().expect("tool"))
        .await
        .expect("grant")
        .is_none());
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Approve, Outcome::Forbidden)
    );
    assert!(event.detail.unwrap_or_default().contains("self-approval"));
}
