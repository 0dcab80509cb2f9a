//! Break-glass end to end over Slack, against the fake Slack Web API (`common::slack`, shaped
//! from Slack's documentation): `/otp break-glass <tool> <reason>` gives the code and a short
//! grant at once, tells the approvals channel, the notice channel and every approver with
//! review buttons, and records `break_glass`; `/otp review` (typed, or the notice's buttons
//! sent back as a `block_actions` payload:
//! <https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>) reviews it
//! once. Each test attacks one promise.

use crate::common;

use otpbot::domain::{Action, Outcome, Principal, ToolName};
use serde_json::{json, Value};

use common::slack::{pressed, FakeWebApi};
use common::{principal, Options, TestApp, ADMIN, SETUP_OPERATOR, TEAM};

fn github() -> ToolName {
    ToolName::parse("github").expect("tool")
}

/// Gives `github` a break-glass of `length` (none with `None`) and these channels.
async fn allow(
    app: &TestApp,
    length: Option<&str>,
    approvals: Option<&str>,
    notices: Option<&str>,
) {
    let mut tool = app
        .stores
        .access
        .tool(&github())
        .await
        .expect("tool")
        .expect("github");
    tool.rules.break_glass =
        length.map(|l| otpbot::domain::GrantDuration::parse(l).expect("length"));
    tool.approvals_channel = approvals.map(str::to_owned);
    tool.notify_channel = notices.map(str::to_owned);
    let operator = Principal::parse(SETUP_OPERATOR).expect("operator");
    app.stores
        .put_tool(&tool, None, &operator, app.now())
        .await
        .expect("put tool");
}

async fn app_with_glass(fake: Option<&FakeWebApi>) -> TestApp {
    let app = TestApp::spawn_with(Options {
        slack_api: fake.map(FakeWebApi::api_url),
        ..Options::default()
    })
    .await;
    allow(&app, Some("1h"), Some("C0APPROVE"), Some("C0NOTICE")).await;
    app.slash(ADMIN, "role add <@UBOB> approver github")
        .await
        .ephemeral();
    app
}

fn glass_id(reply: &str) -> String {
    let start = reply.find("(break-glass `").expect("a break-glass id") + "(break-glass `".len();
    let end = reply[start..].find('`').expect("backtick") + start;
    reply[start..end].to_owned()
}

async fn records(app: &TestApp, action: Action) -> Vec<otpbot::domain::AuditEvent> {
    let mut events: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .collect();
    events.reverse();
    events
}

async fn has_grant(app: &TestApp, user: &str) -> bool {
    app.stores
        .access
        .grant(&principal(user), &github())
        .await
        .expect("read")
        .is_some_and(|g| g.is_active(app.now()))
}

fn text_of(message: &Value) -> String {
    let mut out = vec![message["text"].as_str().unwrap_or_default().to_owned()];
    for b in message["blocks"].as_array().into_iter().flatten() {
        out.push(b["text"]["text"].as_str().unwrap_or_default().to_owned());
    }
    out.join("\n")
}

/// A signed click by `user` with `action_id` and `value`, on a message in C0NOTICE.
async fn press(app: &TestApp, user: &str, action_id: &str, value: &str) -> u16 {
    let payload = json!({
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "container": {"type": "message", "message_ts": "1793700005.000100", "channel_id": "C0NOTICE"},
        "channel": {"id": "C0NOTICE"},
        "actions": [{"type": "button", "action_id": action_id, "value": value}]
    });
    app.post_interaction(&payload).await
}

#[tokio::test]
async fn break_glass_gives_the_code_at_once_and_tells_everyone_responsible() {
    let fake = FakeWebApi::start().await;
    let app = app_with_glass(Some(&fake)).await;
    let reply = app
        .slash("UALICE", "break-glass github prod down")
        .await
        .ephemeral();
    assert!(
        reply.contains(&app.expected_code(app.now())),
        "the code in the same reply: {reply}"
    );
    assert!(reply.contains("Glass broken"), "{reply}");
    let grant = app
        .stores
        .access
        .grant(&principal("UALICE"), &github())
        .await
        .expect("read")
        .expect("a grant");
    assert_eq!(
        grant.expires_at,
        app.now().plus_secs(3_600),
        "at most the tool's 1h"
    );
    let id = glass_id(&reply);
    let recorded = records(&app, Action::BreakGlass).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].outcome, Outcome::Issued);
    assert!(
        recorded[0].code_mac.is_some(),
        "the code's MAC is in the record"
    );
    let detail = recorded[0].detail.clone().unwrap_or_default();
    assert!(
        detail.contains("prod down") && detail.contains(&id),
        "{detail}"
    );
    assert!(
        !detail.contains(&app.expected_code(app.now())),
        "never the code"
    );

    app.settled().await;
    let posts = fake.bodies("chat.postMessage");
    let to: Vec<String> = posts
        .iter()
        .map(|p| p["channel"].as_str().unwrap_or_default().to_owned())
        .collect();
    for channel in ["C0APPROVE", "C0NOTICE", "D0UBOB", "D0UADMIN"] {
        assert!(to.iter().any(|c| c == channel), "{channel} told: {to:?}");
    }
    assert!(
        !to.iter().any(|c| c == "D0UALICE"),
        "the breaker is not asked to review: {to:?}"
    );
    for post in &posts {
        let text = text_of(post);
        assert!(
            text.contains("<@UALICE> broke the glass on GitHub: prod down"),
            "{text}"
        );
        assert!(
            !text.contains(&app.expected_code(app.now())),
            "never the code: {text}"
        );
        pressed(post, "Looks right");
        pressed(post, "Revoke");
    }
}

#[tokio::test]
async fn break_glass_without_reason_is_refused() {
    let app = app_with_glass(None).await;
    for text in ["break-glass github", "break-glass github   ", "break-glass"] {
        let reply = app.slash("UALICE", text).await.ephemeral();
        // Slack shows it escaped: `/otp break-glass &lt;tool&gt; &lt;reason&gt;`.
        assert!(
            reply.contains("/otp break-glass &lt;tool&gt; &lt;reason&gt;"),
            "{text}: {reply}"
        );
    }
    assert!(!has_grant(&app, "UALICE").await);
    assert!(records(&app, Action::BreakGlass)
        .await
        .iter()
        .all(|e| e.outcome != Outcome::Issued));
}

#[tokio::test]
async fn a_tool_without_break_glass_refuses_it_audited() {
    let app = TestApp::spawn().await;
    let reply = app
        .slash("UALICE", "break-glass github prod down")
        .await
        .ephemeral();
    assert!(reply.contains("GitHub allows no break-glass"), "{reply}");
    assert!(!reply.contains(&app.expected_code(app.now())));
    assert!(!has_grant(&app, "UALICE").await);
    let refused = records(&app, Action::BreakGlass).await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].outcome, Outcome::Forbidden);
    // Turned off again after being on: refused the same.
    allow(&app, Some("1h"), None, None).await;
    allow(&app, None, None, None).await;
    let reply = app
        .slash("UBOB", "break-glass github prod down")
        .await
        .ephemeral();
    assert!(reply.contains("allows no break-glass"), "{reply}");
}

#[tokio::test]
async fn break_glass_twice_within_the_period_is_refused() {
    let app = app_with_glass(None).await;
    let first = app
        .slash("UALICE", "break-glass github prod down")
        .await
        .ephemeral();
    assert!(first.contains("Glass broken"), "{first}");
    // Her grant ends after an hour; within the day she may not break it again.
    app.clock.advance(2 * 3_600);
    let again = app
        .slash("UALICE", "break-glass github still down")
        .await
        .ephemeral();
    assert!(
        again.contains("You broke the glass on GitHub recently"),
        "{again}"
    );
    assert!(!again.contains(&app.expected_code(app.now())));
    assert!(!has_grant(&app, "UALICE").await);
    let recorded = records(&app, Action::BreakGlass).await;
    assert_eq!(
        recorded.iter().map(|e| e.outcome).collect::<Vec<_>>(),
        [Outcome::Issued, Outcome::RateLimited]
    );
    // Someone else may, and so may she once the period is over.
    assert!(app
        .slash("UCAROL", "break-glass github prod down")
        .await
        .ephemeral()
        .contains("Glass broken"));
    app.clock.advance(22 * 3_600);
    let later = app
        .slash("UALICE", "break-glass github down again")
        .await
        .ephemeral();
    assert!(later.contains("Glass broken"), "{later}");
}

#[tokio::test]
async fn break_glass_twice_at_once_grants_once() {
    let app = app_with_glass(None).await;
    let (a, b, c) = tokio::join!(
        app.slash("UALICE", "break-glass github prod down"),
        app.slash("UALICE", "break-glass github prod down"),
        app.slash("UALICE", "break-glass github prod down"),
    );
    let replies = [a.ephemeral(), b.ephemeral(), c.ephemeral()];
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.contains("Glass broken"))
            .count(),
        1,
        "{replies:?}"
    );
    let issued = records(&app, Action::BreakGlass)
        .await
        .into_iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .count();
    assert_eq!(issued, 1);
}

#[tokio::test]
async fn a_breaker_cannot_review_his_own_break_glass() {
    let app = app_with_glass(None).await;
    // Bob is an approver of the tool, and breaks the glass himself.
    let id = glass_id(
        &app.slash("UBOB", "break-glass github prod down")
            .await
            .ephemeral(),
    );
    for verdict in ["ok", "revoke"] {
        let own = app
            .slash("UBOB", &format!("review {id} {verdict}"))
            .await
            .ephemeral();
        assert!(
            own.contains("Nobody reviews their own break-glass"),
            "{own}"
        );
    }
    assert!(
        has_grant(&app, "UBOB").await,
        "his own revoke changed nothing"
    );
    let reviews = records(&app, Action::Review).await;
    assert!(
        reviews.iter().all(|e| e.outcome == Outcome::Forbidden),
        "{reviews:?}"
    );
    let stored = app
        .stores
        .access
        .break_glass(&otpbot::domain::AccessRequestId::parse(&id).expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.review, None);
    // A member who is no approver may not review either.
    let member = app
        .slash("UCAROL", &format!("review {id} ok"))
        .await
        .ephemeral();
    assert!(
        member.contains("Only admins and the tool's approvers"),
        "{member}"
    );
}

#[tokio::test]
async fn a_revoke_review_ends_the_grant_and_a_second_review_is_told() {
    let app = app_with_glass(None).await;
    let id = glass_id(
        &app.slash("UALICE", "break-glass github prod down")
            .await
            .ephemeral(),
    );
    let revoked = app
        .slash("UBOB", &format!("review {id} revoke no incident on record"))
        .await
        .ephemeral();
    assert!(revoked.starts_with("Revoked"), "{revoked}");
    assert!(!has_grant(&app, "UALICE").await);
    let code = app.slash("UALICE", "github").await.ephemeral();
    assert!(code.contains("no access"), "{code}");
    let again = app
        .slash(ADMIN, &format!("review {id} ok"))
        .await
        .ephemeral();
    assert!(
        again.contains("already reviewed: <@UBOB> revoked it"),
        "{again}"
    );
    let reviews = records(&app, Action::Review).await;
    assert_eq!(
        reviews.iter().map(|e| e.outcome).collect::<Vec<_>>(),
        [Outcome::Ok, Outcome::Invalid]
    );
    assert!(reviews[0]
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("revoke: no incident on record"));
    let unknown = app
        .slash(ADMIN, "review 0123456789abcdef ok")
        .await
        .ephemeral();
    assert!(unknown.contains("There is no break-glass"), "{unknown}");
    let usage = app
        .slash(ADMIN, &format!("review {id} maybe"))
        .await
        .ephemeral();
    assert!(usage.contains("neither `ok` nor `revoke`"), "{usage}");
}

#[tokio::test]
async fn the_notice_s_review_buttons_review_it() {
    let fake = FakeWebApi::start().await;
    let app = app_with_glass(Some(&fake)).await;
    app.slash("UALICE", "break-glass github prod down")
        .await
        .ephemeral();
    app.settled().await;
    let notice = fake
        .bodies("chat.postMessage")
        .into_iter()
        .find(|p| p["channel"] == "C0NOTICE")
        .expect("notice");
    // The breaker's own click on the notice is refused like her typed review.
    let (action, value) = pressed(&notice, "Looks right");
    assert_eq!(press(&app, "UALICE", &action, &value).await, 200);
    let (action, value) = pressed(&notice, "Revoke");
    fake.clear();
    assert_eq!(press(&app, "UBOB", &action, &value).await, 200);
    app.settled().await;
    assert!(!has_grant(&app, "UALICE").await, "Revoke ended the grant");
    let update = fake
        .bodies("chat.update")
        .pop()
        .expect("the notice settled");
    let text = text_of(&update);
    assert!(
        text.contains("Reviewed by <@UBOB>") && text.contains("revoked"),
        "{text}"
    );
    assert!(update["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|b| b["type"] != "actions"));
    let reviews = records(&app, Action::Review).await;
    assert_eq!(
        reviews
            .iter()
            .map(|e| (e.actor.user().to_owned(), e.outcome))
            .collect::<Vec<_>>(),
        [
            ("UALICE".to_owned(), Outcome::Forbidden),
            ("UBOB".to_owned(), Outcome::Ok)
        ]
    );
}

#[tokio::test]
async fn a_crafted_review_button_is_refused() {
    let app = app_with_glass(None).await;
    let id = glass_id(
        &app.slash("UALICE", "break-glass github prod down")
            .await
            .ephemeral(),
    );
    let before = app.audit().await.len();
    let value = |v: Value| v.to_string();
    for (action, crafted) in [
        (
            "otp_review_ok",
            value(json!({"do": "review_ok", "request": format!("{id} revoke")})),
        ),
        (
            "otp_review_ok",
            value(json!({"do": "review_revoke", "request": id})),
        ),
        (
            "otp_review_revoke",
            value(json!({"do": "review_revoke", "request": id, "for": "1h"})),
        ),
        (
            "otp_review_revoke",
            value(json!({"do": "review_revoke", "tool": "github"})),
        ),
        ("otp_review", value(json!({"do": "review", "request": id}))),
        ("otp_review_ok", format!("{id} ok")),
    ] {
        assert_eq!(
            press(&app, ADMIN, action, &crafted).await,
            400,
            "{action} {crafted}"
        );
    }
    assert_eq!(app.audit().await.len(), before, "nothing ran");
    assert!(has_grant(&app, "UALICE").await);
}

#[tokio::test]
async fn break_glass_once_per_period_then_revoked_by_review() {
    common::approvals::break_glass_once_per_period_then_revoked_by_review(&TestApp::spawn().await)
        .await;
}
