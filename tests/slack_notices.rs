//! What follows a Slack answer, over a local fake of the Slack Web API that records every call
//! (`common::slack`, shaped from Slack's documentation): the approval message with its buttons
//! in the tool's approvals channel, the issuance notice (never the code) in its notice channel,
//! every button's click updating the message and telling the requester, all of it after the
//! answer so a slow or rate-limited Web API never holds the answer past Slack's 3 s, and no
//! redirect ever followed.
//!
//! A click is sent back the way Slack sends it: the `action_id` and `value` of the button as
//! otpbot wrote it into the message, in a `block_actions` payload
//! (<https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>).

use crate::common;

use std::time::{Duration, Instant};

use otpbot::domain::{Action, Outcome, ToolName};
use serde_json::{json, Value};

use common::slack::{button, FakeWebApi, Recorder};
use common::{Options, SlackReply, TestApp, ADMIN, BOT_TOKEN, SETUP_OPERATOR, TEAM};

async fn app_with_channels(fake: &FakeWebApi) -> TestApp {
    app_with(fake, Some("C0APPROVE"), Some("C0NOTICE")).await
}

/// An app whose `github` tool has these approvals and notice channels.
async fn app_with(fake: &FakeWebApi, approvals: Option<&str>, notices: Option<&str>) -> TestApp {
    let app = TestApp::spawn_with(Options {
        slack_api: Some(fake.api_url()),
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

/// `/otp {text}` as `user`, with the `response_url` Slack gives every slash command
/// ("Implementing slash commands": <https://docs.slack.dev/interactivity/implementing-slash-commands>).
async fn slash_with_response_url(app: &TestApp, user: &str, text: &str, url: &str) -> SlackReply {
    let trigger = format!("{}.{}", rand::random::<u64>(), rand::random::<u64>());
    let body = serde_urlencoded::to_string([
        ("token", "x"),
        ("trigger_id", trigger.as_str()),
        ("team_id", TEAM),
        ("channel_id", "C0TEST"),
        ("user_id", user),
        ("command", "/otp"),
        ("text", text),
        ("response_url", url),
    ])
    .expect("form");
    app.post_signed(body.into_bytes()).await
}

/// A signed click by `user` on `element` (a button as otpbot wrote it) of the message in
/// C0APPROVE; Slack's answer address is `response_url` when given.
async fn press(app: &TestApp, user: &str, element: &Value, response_url: Option<String>) -> u16 {
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
        "actions": [{
            "type": "button",
            "action_id": element["action_id"],
            "value": element["value"],
            "text": element["text"]
        }]
    });
    if let Some(url) = response_url {
        payload["response_url"] = Value::String(url);
    }
    app.post_interaction(&payload).await
}

/// Asks for github as Alice and returns the request id and the approval message posted.
async fn ask(app: &TestApp, fake: &FakeWebApi, text: &str) -> (String, Value) {
    let id = request_id(&app.slash("UALICE", text).await.ephemeral());
    app.settled().await;
    let message = fake
        .bodies("chat.postMessage")
        .into_iter()
        .rfind(|b| b["text"].as_str().unwrap_or_default().contains(&id))
        .unwrap_or_else(|| panic!("no approval message: {:?}", fake.calls()));
    (id, message)
}

#[tokio::test]
async fn a_request_posts_the_approval_message_and_a_code_posts_a_notice() {
    let fake = FakeWebApi::start().await;
    let app = app_with_channels(&fake).await;
    let asked = app
        .slash("UALICE", "request github for 2h <!channel> deploy fix")
        .await
        .ephemeral();
    assert!(asked.contains("Asked the approvers of GitHub"), "{asked}");
    let id = request_id(&asked);
    app.settled().await;
    let calls = fake.calls();
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
    let buttons = body["blocks"][1]["elements"].as_array().expect("buttons");
    let labels: Vec<&Value> = buttons.iter().map(|b| &b["text"]["text"]).collect();
    assert_eq!(labels, ["Approve", "Approve for 1h", "Deny"]);
    // Slack refuses an actions block whose action ids repeat (`invalid_blocks`).
    let mut ids: Vec<&str> = buttons
        .iter()
        .map(|b| b["action_id"].as_str().expect("action_id"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "unique action ids: {buttons:?}");
    for b in buttons {
        assert!(b["value"].as_str().expect("value").contains(&id), "{b}");
    }

    app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    let code = app.slash("UALICE", "github").await.ephemeral();
    let expected = app.expected_code(app.now());
    assert!(code.contains(&expected));
    app.settled().await;
    let notice = fake
        .bodies("chat.postMessage")
        .into_iter()
        .find(|b| b["channel"] == "C0NOTICE")
        .expect("an issuance notice");
    let notice = notice.to_string();
    assert!(
        notice.contains(
            "<@UALICE> got a GitHub code (grant by <@UADMIN>, reason: &lt;!channel&gt; deploy fix)"
        ),
        "{notice}"
    );
    assert!(!notice.contains(&expected), "never the code: {notice}");
}

/// Slack gives up on an answer after 3 s. The issuance notice's `chat.postMessage` answered
/// 429 with `Retry-After: 8`: the code still comes at once, and the notice still goes out, later.
#[tokio::test]
async fn a_slow_web_api_never_holds_the_answer_past_slacks_three_seconds() {
    let fake = FakeWebApi::start().await;
    let app = app_with_channels(&fake).await;
    app.slash(ADMIN, "grant <@UALICE> github for 1h")
        .await
        .ephemeral();
    app.settled().await;
    fake.clear();
    fake.rate_limit(1, 8);
    let started = Instant::now();
    let code = app.slash("UALICE", "github").await.ephemeral();
    let answered = started.elapsed();
    assert!(code.contains(&app.expected_code(app.now())), "{code}");
    println!("answered in {answered:?} while the notice waits 8 s");
    assert!(answered < Duration::from_secs(3), "{answered:?}");
    assert!(
        fake.bodies("chat.postMessage").len() <= 1,
        "not yet retried"
    );
    app.settled().await;
    let posts = fake.bodies("chat.postMessage");
    assert_eq!(posts.len(), 2, "one 429, then the notice: {posts:?}");
    assert_eq!(posts[1]["channel"], "C0NOTICE");
    assert!(started.elapsed() >= Duration::from_secs(8));
}

#[tokio::test]
async fn without_an_approvals_channel_each_approver_gets_a_direct_message() {
    let fake = FakeWebApi::start().await;
    let app = app_with(&fake, None, None).await;
    app.enrol("vpn", "VPN", "1h", "8h").await;
    app.slash(ADMIN, "role add <@UBOB> approver vpn")
        .await
        .ephemeral();
    app.slash(ADMIN, "role add <@UCAROL> approver github")
        .await
        .ephemeral();
    let id = request_id(&app.slash("UALICE", "request vpn for 2h").await.ephemeral());
    app.settled().await;
    let calls = fake.calls();
    // The direct messages go out at once, so their calls interleave.
    let mut opened: Vec<String> = fake
        .bodies("conversations.open")
        .iter()
        .map(|b| b["users"].as_str().expect("users").to_owned())
        .collect();
    opened.sort();
    assert_eq!(
        opened,
        ["UADMIN", "UBOB"],
        "the bootstrap admin and vpn's approver, not github's approver nor the requester"
    );
    let mut posted = fake.bodies("chat.postMessage");
    posted.sort_by_key(|dm| dm["channel"].to_string());
    assert_eq!(calls.len(), 4, "{calls:?}");
    for (dm, user) in posted.iter().zip(["UADMIN", "UBOB"]) {
        assert_eq!(dm["channel"], format!("D0{user}"));
        let text = dm["text"].as_str().expect("fallback text");
        assert!(
            text.contains("<@UALICE> asks for VPN access for 2h."),
            "{text}"
        );
        assert!(text.contains(&id), "{text}");
    }
    // Bob approves from his direct message, for the shorter hour offered there.
    let bobs = &posted[1];
    assert_eq!(
        press(&app, "UBOB", button(bobs, "Approve for 1h"), None).await,
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
    let fake = FakeWebApi::start().await;
    let app = app_with(&fake, None, None).await;
    app.enrol("vpn", "VPN", "1h", "8h").await;
    // The only approver is the requester, who never approves their own request.
    let asked = app.slash(ADMIN, "request vpn").await.ephemeral();
    assert!(
        asked.contains("No approver can be messaged here: give an admin the request id"),
        "{asked}"
    );
    assert!(!asked.contains("Asked the approvers"), "{asked}");
    app.settled().await;
    assert!(fake.calls().is_empty());
}

/// Without a bot token nobody can be messaged: the reply says so and names the request id,
/// instead of claiming the approvers were asked.
#[tokio::test]
async fn without_a_bot_token_a_request_says_nobody_was_asked() {
    let app = TestApp::spawn().await;
    let asked = app.slash("UALICE", "request github").await.ephemeral();
    let id = request_id(&asked);
    assert!(!asked.contains("Asked the approvers"), "{asked}");
    assert!(
        asked.contains(&format!(
            "No approver can be messaged here: give an admin the request id `{id}`"
        )),
        "{asked}"
    );
}

/// Every approval message failing later (`chat.postMessage` refused) is reported to the
/// requester privately, through the slash command's response URL.
#[tokio::test]
async fn a_request_whose_messages_all_fail_later_is_reported_to_the_requester() {
    let fake = FakeWebApi::start().await;
    let app = app_with_channels(&fake).await;
    fake.fail("chat.postMessage");
    let hook = fake.hook_url("commands/T0TEST/1/alice");
    let asked = slash_with_response_url(&app, "UALICE", "request github", &hook)
        .await
        .ephemeral();
    let id = request_id(&asked);
    app.settled().await;
    let told = fake.bodies("hook:commands/T0TEST/1/alice");
    assert_eq!(told.len(), 1, "{:?}", fake.calls());
    assert_eq!(told[0]["response_type"], "ephemeral");
    let text = told[0]["text"].as_str().expect("text");
    assert!(
        text.contains("No approver could be told") && text.contains(&id),
        "{text}"
    );
}

/// Approve, Approve for 1h and Deny each update the message they were clicked on, answer the
/// clicker privately and tell the requester (Get code with an approval); Get code and Request
/// access answer the clicker alike.
#[tokio::test]
async fn every_button_updates_the_message_and_tells_the_requester_alike() {
    for (label, approved) in [("Approve", true), ("Approve for 1h", true), ("Deny", false)] {
        let fake = FakeWebApi::start().await;
        let app = app_with_channels(&fake).await;
        let (id, message) = ask(&app, &fake, "request github for 2h").await;
        fake.clear();
        app.clock.advance(30);
        let hook = fake.hook_url("actions/T0TEST/1/admin");
        assert_eq!(
            press(&app, ADMIN, button(&message, label), Some(hook)).await,
            200
        );
        app.settled().await;
        let names = fake.names();
        assert_eq!(
            names,
            [
                "hook:actions/T0TEST/1/admin",
                "chat.update",
                "conversations.open",
                "chat.postMessage"
            ],
            "{label}"
        );
        let calls = fake.calls();
        let answer = &calls[0].2;
        assert_eq!(answer["response_type"], "ephemeral", "{label}");
        let expect = if approved { "Approved" } else { "Denied" };
        assert!(answer.to_string().contains(expect), "{label}: {answer}");
        let update = &calls[1].2;
        assert_eq!(
            (update["channel"].as_str(), update["ts"].as_str()),
            (Some("C0APPROVE"), Some("1793700005.000100")),
            "{label}"
        );
        let text = update["blocks"][0]["text"]["text"].as_str().expect("text");
        assert!(
            text.contains(&format!("{expect} by <@UADMIN> at {}", app.now())) && text.contains(&id),
            "{label}: {text}"
        );
        assert_eq!(
            update["blocks"].as_array().expect("blocks").len(),
            1,
            "no buttons left"
        );
        assert_eq!(calls[2].2["users"], "UALICE", "{label}");
        let dm = &calls[3].2;
        assert_eq!(dm["channel"], "D0UALICE");
        let grant = app
            .stores
            .access
            .grant(
                &common::principal("UALICE"),
                &"github".parse().expect("tool"),
            )
            .await
            .expect("read");
        if !approved {
            assert!(dm["text"]
                .as_str()
                .expect("text")
                .contains("denied your GitHub"));
            assert_eq!(
                dm["blocks"].as_array().expect("blocks").len(),
                1,
                "no button"
            );
            assert!(grant.is_none());
            continue;
        }
        let hours = if label == "Approve" { 2 } else { 1 };
        let grant = grant.expect("granted");
        assert_eq!(
            grant.expires_at.unix() - grant.granted_at.unix(),
            hours * 3_600,
            "{label}"
        );
        // Alice clicks Get code in her direct message: the code reaches her privately.
        fake.clear();
        let alice = fake.hook_url("actions/T0TEST/2/alice");
        assert_eq!(
            press(&app, "UALICE", button(dm, "Get code"), Some(alice)).await,
            200
        );
        app.settled().await;
        let answers = fake.bodies("hook:actions/T0TEST/2/alice");
        assert_eq!(answers.len(), 1, "{:?}", fake.calls());
        let expected = app.expected_code(app.now());
        assert!(
            answers[0]["blocks"].to_string().contains(&expected),
            "{label}"
        );
        assert!(
            !answers[0]["text"].to_string().contains(&expected),
            "never in the notification"
        );
    }
}

/// "Request access" under a refusal asks the approvers like the command does, and answers the
/// clicker through the response URL.
#[tokio::test]
async fn the_request_access_button_asks_the_approvers_and_answers_the_clicker() {
    let fake = FakeWebApi::start().await;
    let app = app_with_channels(&fake).await;
    let refused = app.slash("UBOB", "github").await;
    let element = button(&refused.json, "Request access").clone();
    let hook = fake.hook_url("actions/T0TEST/3/bob");
    assert_eq!(press(&app, "UBOB", &element, Some(hook)).await, 200);
    app.settled().await;
    let answer = fake.bodies("hook:actions/T0TEST/3/bob");
    assert_eq!(answer.len(), 1, "{:?}", fake.calls());
    assert!(answer[0]
        .to_string()
        .contains("Asked the approvers of GitHub"));
    let posted = fake.bodies("chat.postMessage");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["channel"], "C0APPROVE");
    assert!(posted[0]["text"]
        .to_string()
        .contains("<@UBOB> asks for GitHub access"));
}

#[tokio::test]
async fn an_expired_click_updates_the_message_to_say_so() {
    let fake = FakeWebApi::start().await;
    let app = app_with_channels(&fake).await;
    let (_, message) = ask(&app, &fake, "request github").await;
    app.clock.advance(3_601);
    assert_eq!(
        press(&app, ADMIN, button(&message, "Approve"), None).await,
        200
    );
    app.settled().await;
    assert_eq!(fake.names(), ["chat.postMessage", "chat.update"]);
    let update = &fake.bodies("chat.update")[0];
    assert!(
        update.to_string().contains("Expired undecided at"),
        "{update}"
    );
}

/// A second click on a decided request changes nothing but brings the message up to date.
#[tokio::test]
async fn a_click_on_a_decided_request_only_says_who_decided() {
    let fake = FakeWebApi::start().await;
    let app = app_with_channels(&fake).await;
    let (_, message) = ask(&app, &fake, "request github").await;
    assert_eq!(
        press(&app, ADMIN, button(&message, "Approve"), None).await,
        200
    );
    app.settled().await;
    fake.clear();
    assert_eq!(
        press(&app, ADMIN, button(&message, "Deny"), None).await,
        200
    );
    app.settled().await;
    assert_eq!(fake.names(), ["chat.update"], "the requester is told once");
    assert!(fake.bodies("chat.update")[0]
        .to_string()
        .contains("Approved by"));
    let denials = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Deny)
        .map(|e| e.outcome)
        .collect::<Vec<_>>();
    assert_eq!(denials, [Outcome::Invalid]);
}

#[tokio::test]
async fn a_response_url_elsewhere_is_not_answered() {
    let fake = FakeWebApi::start().await;
    let app = app_with_channels(&fake).await;
    app.slash(ADMIN, "grant <@UALICE> github for 1h")
        .await
        .ephemeral();
    app.settled().await;
    let code = json!({"action_id": "otp_code", "value": r#"{"do":"code","tool":"github"}"#, "text": {"type": "plain_text", "text": "Get code"}});
    fake.clear();
    assert_eq!(
        press(
            &app,
            "UALICE",
            &code,
            Some("https://evil.example/hooks/1".into())
        )
        .await,
        200
    );
    app.settled().await;
    assert!(fake.calls().iter().all(|c| !c.0.starts_with("hook:")));
}

/// Outbound HTTP to Slack never follows a redirect: a response URL on the allowed origin that
/// answers `307` elsewhere, and a Web API that does the same, lead nowhere; the code and the
/// bot token never reach the redirect's target.
#[tokio::test]
async fn a_redirect_is_never_followed_so_no_code_or_token_leaves() {
    let fake = FakeWebApi::start().await;
    let elsewhere = Recorder::start().await;
    let app = app_with_channels(&fake).await;
    app.slash(ADMIN, "grant <@UALICE> github for 1h")
        .await
        .ephemeral();
    let code = json!({"action_id": "otp_code", "value": r#"{"do":"code","tool":"github"}"#, "text": {"type": "plain_text", "text": "Get code"}});
    let redirecting =
        fake.redirecting_url("hooks/T0TEST/1/x", &format!("{}/stolen", elsewhere.url));
    assert_eq!(press(&app, "UALICE", &code, Some(redirecting)).await, 200);
    app.settled().await;
    assert!(
        fake.names()
            .contains(&"redirect:hooks/T0TEST/1/x".to_owned()),
        "the response URL was called: {:?}",
        fake.names()
    );
    assert!(
        elsewhere.seen().is_empty(),
        "followed: {:?}",
        elsewhere.seen()
    );

    // A Web API answering 307: the notice is not posted elsewhere, the token not sent there.
    let redirect_api = FakeWebApi::start().await;
    let target = format!("{}/api/", elsewhere.url);
    let base = redirect_api.redirecting_url("api/", &target);
    let app = TestApp::spawn_with(Options {
        slack_api: Some(base),
        ..Options::default()
    })
    .await;
    app.slash("UALICE", "request github").await.ephemeral();
    app.settled().await;
    assert!(!redirect_api.names().is_empty(), "the Web API was called");
    assert!(
        elsewhere.seen().is_empty(),
        "followed: {:?}",
        elsewhere.seen()
    );
}

#[tokio::test]
async fn an_approvals_channel_on_the_other_platform_is_passed_over_for_direct_messages() {
    let fake = FakeWebApi::start().await;
    // A Teams channel: Slack's front end cannot post there, so Slack requests go to the
    // approvers directly instead of nowhere.
    let app = app_with(&fake, Some("19:approvals@thread.tacv2"), None).await;
    app.slash("UALICE", "request github").await.ephemeral();
    app.settled().await;
    assert_eq!(
        fake.names(),
        ["conversations.open", "chat.postMessage"],
        "{:?}",
        fake.calls()
    );
    assert_eq!(fake.calls()[0].2["users"], "UADMIN");
}
