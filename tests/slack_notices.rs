//! Messages to others over a local fake of the Slack Web API that records every call: the
//! approval message with Approve/Deny buttons in the tool's approvals channel, and the
//! issuance notice (never the code) in its notice channel. Slack's HTTP 429 with `Retry-After`
//! is waited out.
//!
//! The fake answers as Slack's Web API does (<https://docs.slack.dev/apis/web-api/>): JSON with
//! `ok`, `error` when it is false; bearer token in `Authorization`; rate limiting as HTTP 429
//! with `Retry-After` in seconds (<https://docs.slack.dev/apis/web-api/rate-limits>).
//! `chat.postMessage` answers `{"ok": true, "channel", "ts"}`
//! (<https://docs.slack.dev/reference/methods/chat.postMessage>).

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use otpbot::domain::ToolName;
use serde_json::{json, Value};

use otpbot::keys::SigningSecret;
use otpbot::slack::verify::sign;

use common::{Options, TestApp, ADMIN, BOT_TOKEN, SECRET, SETUP_OPERATOR, TEAM};

/// One recorded call: method, `Authorization` header, JSON body.
type Call = (String, String, Value);

#[derive(Clone, Default)]
struct Fake {
    calls: Arc<Mutex<Vec<Call>>>,
    /// How many calls to answer with 429 first.
    limited: Arc<Mutex<u32>>,
}

async fn method(
    State(fake): State<Fake>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    fake.calls
        .lock()
        .expect("calls")
        .push((name.clone(), auth.clone(), body.clone()));
    {
        let mut limited = fake.limited.lock().expect("limited");
        if *limited > 0 {
            *limited -= 1;
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response();
        }
    }
    if auth != format!("Bearer {BOT_TOKEN}") {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    match name.as_str() {
        "chat.postMessage" => Json(json!({
            "ok": true,
            "channel": body["channel"],
            "ts": "1793700005.000100",
            "message": {"text": body["text"]}
        }))
        .into_response(),
        "chat.update" => Json(json!({
            "ok": true,
            "channel": body["channel"],
            "ts": body["ts"],
            "text": body["text"]
        }))
        .into_response(),
        "conversations.open" => Json(json!({
            "ok": true,
            "channel": {"id": format!("D0{}", body["users"].as_str().unwrap_or_default())}
        }))
        .into_response(),
        _ => Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}

/// A `response_url` of the fake: Slack answers a post there with `ok` ("Handling user
/// interaction", <https://docs.slack.dev/interactivity/handling-user-interaction>).
async fn hook(
    State(fake): State<Fake>,
    Path(path): Path<String>,
    Json(body): Json<Value>,
) -> &'static str {
    fake.calls
        .lock()
        .expect("calls")
        .push((format!("hook:{path}"), String::new(), body));
    "ok"
}

async fn start_fake() -> (Fake, String) {
    let fake = Fake::default();
    let app = Router::new()
        .route("/api/{name}", post(method))
        .route("/hooks/{*path}", post(hook))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (fake, format!("http://{addr}/api/"))
}

async fn app_with_channels(url: String) -> TestApp {
    app_with(url, Some("C0APPROVE"), Some("C0NOTICE")).await
}

/// An app whose `github` tool has these approvals and notice channels.
async fn app_with(url: String, approvals: Option<&str>, notices: Option<&str>) -> TestApp {
    let app = TestApp::spawn_with(Options {
        slack_api: Some(url),
        ..Options::default()
    })
    .await;
    let mut tool = app
        .stores
        .access
        .tool(&ToolName::parse("github").expect("name"))
        .await
        .expect("tool")
        .expect("github");
    tool.approvals_channel = approvals.map(str::to_owned);
    tool.notify_channel = notices.map(str::to_owned);
    let operator = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
    app.stores
        .put_tool(&tool, None, &operator, app.now())
        .await
        .expect("put tool");
    app
}

fn request_id(reply: &str) -> String {
    let start = reply.find("(request `").expect("a request id") + "(request `".len();
    let end = reply[start..].find('`').expect("backtick") + start;
    reply[start..end].to_owned()
}

#[tokio::test]
async fn a_request_posts_the_approval_message_and_a_code_posts_a_notice() {
    let (fake, url) = start_fake().await;
    let app = app_with_channels(url).await;
    let asked = app
        .slash("UALICE", "request github for 2h <!channel> deploy fix")
        .await
        .ephemeral();
    let id = request_id(&asked);
    let calls = fake.calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (name, auth, body) = &calls[0];
    assert_eq!(name, "chat.postMessage");
    assert_eq!(auth, &format!("Bearer {BOT_TOKEN}"));
    assert_eq!(body["channel"], "C0APPROVE");
    let text = body["blocks"][0]["text"]["text"].as_str().expect("section");
    assert!(
        text.contains("<@UALICE> asks for GitHub access for 2h."),
        "{text}"
    );
    assert!(
        text.contains("Reason: &lt;!channel&gt; deploy fix"),
        "the reason is escaped: {text}"
    );
    assert!(text.contains(&id), "{text}");
    let buttons = &body["blocks"][1]["elements"];
    assert_eq!(buttons[0]["action_id"], "otp_approve");
    assert_eq!(buttons[0]["value"], id.as_str());
    assert_eq!(buttons[0]["text"]["text"], "Approve");
    // Two hours asked: a one-hour approval is offered beside it.
    assert_eq!(buttons[1]["action_id"], "otp_approve");
    assert_eq!(buttons[1]["value"], format!("{id} 1h"));
    assert_eq!(buttons[1]["text"]["text"], "Approve for 1h");
    assert_eq!(buttons[2]["action_id"], "otp_deny");
    assert_eq!(buttons[2]["value"], id.as_str());

    app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    let code = app.slash("UALICE", "github").await.ephemeral();
    let expected = app.expected_code(app.now());
    assert!(code.contains(&expected));
    let calls = fake.calls.lock().expect("calls").clone();
    let (name, _, body) = calls.last().expect("a notice");
    assert_eq!(name, "chat.postMessage");
    assert_eq!(body["channel"], "C0NOTICE");
    let notice = body.to_string();
    assert!(
        notice.contains(
            "<@UALICE> got a GitHub code (grant by <@UADMIN>, reason: &lt;!channel&gt; deploy fix)"
        ),
        "{notice}"
    );
    assert!(!notice.contains(&expected), "never the code: {notice}");
}

#[tokio::test]
async fn a_rate_limited_post_is_retried_after_retry_after() {
    let (fake, url) = start_fake().await;
    *fake.limited.lock().expect("limited") = 1;
    let app = app_with_channels(url).await;
    let started = std::time::Instant::now();
    app.slash("UALICE", "request github").await.ephemeral();
    let waited = started.elapsed();
    let calls = fake.calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 2, "one 429, then the post: {calls:?}");
    assert_eq!(calls[0].2, calls[1].2, "the same message again");
    println!("waited {waited:?} for a Retry-After of 1 s");
    assert!(waited >= std::time::Duration::from_secs(1), "{waited:?}");
}

#[tokio::test]
async fn without_an_approvals_channel_each_approver_gets_a_direct_message() {
    let (fake, url) = start_fake().await;
    let app = TestApp::spawn_with(Options {
        slack_api: Some(url),
        ..Options::default()
    })
    .await;
    app.enrol("vpn", "VPN", "1h", "8h").await;
    app.slash(ADMIN, "role add <@UBOB> approver vpn")
        .await
        .ephemeral();
    app.slash(ADMIN, "role add <@UCAROL> approver github")
        .await
        .ephemeral();
    let asked = app.slash("UALICE", "request vpn for 2h").await.ephemeral();
    let id = request_id(&asked);
    let calls = fake.calls.lock().expect("calls").clone();
    // The direct messages go out at once, so their calls interleave.
    let mut opened: Vec<&str> = calls
        .iter()
        .filter(|c| c.0 == "conversations.open")
        .map(|c| c.2["users"].as_str().expect("users"))
        .collect();
    opened.sort();
    assert_eq!(
        opened,
        ["UADMIN", "UBOB"],
        "the bootstrap admin and vpn's approver, not github's approver nor the requester"
    );
    let mut posted: Vec<&Value> = calls
        .iter()
        .filter(|c| c.0 == "chat.postMessage")
        .map(|c| &c.2)
        .collect();
    posted.sort_by_key(|dm| dm["channel"].to_string());
    assert_eq!(calls.len(), 4, "{calls:?}");
    for (dm, user) in posted.into_iter().zip(["UADMIN", "UBOB"]) {
        assert_eq!(dm["channel"], format!("D0{user}"));
        let text = dm["text"].as_str().expect("fallback text");
        assert!(
            text.contains("<@UALICE> asks for VPN access for 2h."),
            "{text}"
        );
        assert_eq!(dm["blocks"][1]["elements"][0]["value"], id.as_str());
    }
    // Bob approves from his direct message, for the shorter hour offered there.
    assert_eq!(
        click(&app, "UBOB", "otp_approve", &format!("{id} 1h")).await,
        200
    );
    let grant = app
        .stores
        .access
        .grant(
            &common::principal("UALICE"),
            &ToolName::parse("vpn").expect("name"),
        )
        .await
        .expect("read")
        .expect("granted");
    assert_eq!(grant.expires_at.unix() - grant.granted_at.unix(), 3_600);
}

#[tokio::test]
async fn a_request_nobody_can_be_told_of_says_so() {
    let (fake, url) = start_fake().await;
    let app = TestApp::spawn_with(Options {
        slack_api: Some(url),
        ..Options::default()
    })
    .await;
    app.enrol("vpn", "VPN", "1h", "8h").await;
    // The only approver is the requester, who never approves their own request.
    let asked = app.slash(ADMIN, "request vpn").await.ephemeral();
    assert!(
        asked.contains("No approver can be messaged here: give an admin the request id"),
        "{asked}"
    );
    assert!(fake.calls.lock().expect("calls").is_empty());
}

/// A signed click on a button of the approval message in C0APPROVE (Slack's `block_actions`
/// payload: <https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>).
async fn click(app: &TestApp, user: &str, action_id: &str, value: &str) -> u16 {
    click_with(app, user, action_id, value, None).await
}

/// A click as [`click`], with the `response_url` Slack gives every interaction ("Handling user
/// interaction": <https://docs.slack.dev/interactivity/handling-user-interaction>).
async fn click_with(
    app: &TestApp,
    user: &str,
    action_id: &str,
    value: &str,
    response_url: Option<String>,
) -> u16 {
    let mut payload = json!({
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "container": {
            "type": "message",
            "message_ts": "1793700005.000100",
            "channel_id": "C0APPROVE",
            "is_ephemeral": false
        },
        "channel": {"id": "C0APPROVE"},
        "actions": [{"type": "button", "action_id": action_id, "value": value}]
    });
    if let Some(url) = response_url {
        payload["response_url"] = Value::String(url);
    }
    let body = serde_urlencoded::to_string([("payload", payload.to_string())])
        .expect("form")
        .into_bytes();
    let ts = app.now().unix();
    let signature = sign(&SigningSecret::new(SECRET.into()), ts, &body);
    app.client
        .post(format!("{}/slack/interactions", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

#[tokio::test]
async fn approve_click_updates_the_message_and_tells_the_requester() {
    let (fake, url) = start_fake().await;
    let app = app_with_channels(url).await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    app.clock.advance(30);
    assert_eq!(click(&app, ADMIN, "otp_approve", &id).await, 200);
    let calls = fake.calls.lock().expect("calls").clone();
    let names: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "chat.postMessage",
            "chat.update",
            "conversations.open",
            "chat.postMessage"
        ]
    );
    let update = &calls[1].2;
    assert_eq!(update["channel"], "C0APPROVE");
    assert_eq!(update["ts"], "1793700005.000100");
    let text = update["blocks"][0]["text"]["text"].as_str().expect("text");
    assert!(
        text.contains(&format!("Approved by <@UADMIN> at {}", app.now())),
        "{text}"
    );
    assert!(
        update["blocks"].as_array().expect("blocks").len() == 1,
        "no buttons left"
    );
    assert_eq!(calls[2].2["users"], "UALICE");
    let dm = &calls[3].2;
    assert_eq!(dm["channel"], "D0UALICE");
    assert_eq!(dm["blocks"][1]["elements"][0]["action_id"], "otp_code");
    assert_eq!(dm["blocks"][1]["elements"][0]["value"], "github");
    // A second click changes nothing but says so; the message is set to the same state again.
    assert_eq!(click(&app, ADMIN, "otp_deny", &id).await, 200);
    let calls = fake.calls.lock().expect("calls").clone();
    let last = &calls.last().expect("update").2;
    assert!(last.to_string().contains("Approved by"), "{last}");
}

#[tokio::test]
async fn an_expired_click_updates_the_message_to_say_so() {
    let (fake, url) = start_fake().await;
    let app = app_with_channels(url).await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    app.clock.advance(3_601);
    assert_eq!(click(&app, ADMIN, "otp_approve", &id).await, 200);
    let calls = fake.calls.lock().expect("calls").clone();
    let names: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["chat.postMessage", "chat.update"]);
    assert!(
        calls[1].2.to_string().contains("Expired undecided at"),
        "{:?}",
        calls[1].2
    );
}

#[tokio::test]
async fn deny_click_tells_the_requester_without_a_code_button() {
    let (fake, url) = start_fake().await;
    let app = app_with_channels(url).await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    assert_eq!(click(&app, ADMIN, "otp_deny", &id).await, 200);
    let calls = fake.calls.lock().expect("calls").clone();
    let names: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "chat.postMessage",
            "chat.update",
            "conversations.open",
            "chat.postMessage"
        ]
    );
    assert!(calls[1].2.to_string().contains("Denied by <@UADMIN>"));
    let dm = &calls[3].2;
    assert_eq!(dm["channel"], "D0UALICE");
    assert!(dm
        .to_string()
        .contains("<@UADMIN> denied your GitHub access request"));
    assert_eq!(
        dm["blocks"].as_array().expect("blocks").len(),
        1,
        "no button"
    );
}

#[tokio::test]
async fn a_get_code_click_answers_the_clicker_privately_through_the_response_url() {
    let (fake, url) = start_fake().await;
    let app = app_with_channels(url.clone()).await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    assert_eq!(click(&app, ADMIN, "otp_approve", &id).await, 200);
    fake.calls.lock().expect("calls").clear();
    // Alice clicks Get code in her direct message: the code reaches her, ephemeral.
    let hook = url.replace("/api/", "/hooks/T0TEST/1/secret");
    assert_eq!(
        click_with(&app, "UALICE", "otp_code", "github", Some(hook)).await,
        200
    );
    let calls = fake.calls.lock().expect("calls").clone();
    let answers: Vec<&Value> = calls
        .iter()
        .filter(|c| c.0 == "hook:T0TEST/1/secret")
        .map(|c| &c.2)
        .collect();
    assert_eq!(answers.len(), 1, "{calls:?}");
    let answer = answers[0];
    assert_eq!(answer["response_type"], "ephemeral");
    assert_eq!(answer["replace_original"], false);
    let expected = app.expected_code(app.now());
    assert!(answer["blocks"].to_string().contains(&expected), "{answer}");
    assert!(
        !answer["text"].to_string().contains(&expected),
        "never in the notification"
    );
    // A response URL elsewhere is not answered.
    fake.calls.lock().expect("calls").clear();
    assert_eq!(
        click_with(
            &app,
            "UALICE",
            "otp_code",
            "github",
            Some("https://evil.example/hooks/1".into())
        )
        .await,
        200
    );
    assert!(fake
        .calls
        .lock()
        .expect("calls")
        .iter()
        .all(|c| !c.0.starts_with("hook:")));
}

#[tokio::test]
async fn an_approvals_channel_on_the_other_platform_is_passed_over_for_direct_messages() {
    let (fake, url) = start_fake().await;
    // A Teams channel: Slack's front end cannot post there, so Slack requests go to the
    // approvers directly instead of nowhere.
    let app = app_with(url, Some("19:approvals@thread.tacv2"), None).await;
    app.slash("UALICE", "request github").await.ephemeral();
    let calls = fake.calls.lock().expect("calls").clone();
    let names: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        ["conversations.open", "chat.postMessage"],
        "{calls:?}"
    );
    assert_eq!(calls[0].2["users"], "UADMIN");
}
