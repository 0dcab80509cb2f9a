//! Access requests on Teams, end to end over HTTP against the fake Bot Framework
//! (`common::teams`): the approval card posted to the approvals channel, Approve/Deny clicks
//! arriving as `adaptiveCard/action` invokes, the refreshed card in the invoke's HTTP answer,
//! the card updated in place, the requester told privately, and every refusal audited.
//!
//! The invoke fixture follows the documented shape: an `invoke` activity named
//! `adaptiveCard/action` whose `value` is an `AdaptiveCardInvokeValue`
//! `{ action: { type: "Action.Execute", id, verb, data }, trigger: "manual" }` and whose
//! `replyToId` is the message holding the card (botbuilder-js
//! `libraries/botframework-schema/src/index.ts` `AdaptiveCardInvokeValue`,
//! `AdaptiveCardInvokeAction`; Microsoft 365 Agents SDK `microsoft/Agents-for-js`
//! `AdaptiveCardInvokeValue` with `trigger?: 'manual'`; Teams, "Work with Universal Actions for
//! Adaptive Cards", "adaptiveCard/action invoke activity"). The answer checked is
//! `AdaptiveCardInvokeResponse { statusCode, type, value }` (same sources, "Response format"),
//! and refused actions botbuilder's `createAdaptiveCardInvokeErrorResponse` shape
//! (`application/vnd.microsoft.error`, `value { code, message }`).

use crate::common;

use common::teams::*;
use common::{Options, SETUP_OPERATOR};
use otpbot::domain::{Action, AuditEvent, Outcome, ToolName};
use serde_json::{json, Value};

/// The tool's approvals channel: a Teams channel conversation id.
const APPROVALS: &str = "19:approvals0a1b2c3d4@thread.tacv2";
/// The id of the approval card message in that channel.
const CARD_MESSAGE: &str = "1700000000999";

struct Approvals {
    h: Harness,
}

/// An invoke's answer: HTTP status and JSON body.
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    /// The answered card's text (every TextBlock).
    fn card_text(&self) -> String {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.body["statusCode"], 200, "{}", self.body);
        assert_eq!(
            self.body["type"], "application/vnd.microsoft.card.adaptive",
            "{}",
            self.body
        );
        card_blocks(&self.body["value"])
    }

    fn verbs(&self) -> Vec<String> {
        verbs(&self.body["value"])
    }
}

fn card_blocks(card: &Value) -> String {
    card["body"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn verbs(card: &Value) -> Vec<String> {
    card["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            assert_eq!(a["type"], "Action.Execute", "{a}");
            a["verb"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

impl Approvals {
    /// An app whose `github` tool has a Teams approvals channel; the admin approves.
    async fn start() -> Self {
        Self::start_with_admins(&[ADMIN_AAD]).await
    }

    /// The same, with `admins` (AAD object ids) as admins.
    async fn start_with_admins(admins: &[&str]) -> Self {
        let mut options = Options::default();
        for admin in admins {
            options.policy.bootstrap_admins.insert(teams_user(admin));
        }
        let h = Harness::start_with(options).await;
        let name = ToolName::parse("github").expect("name");
        let mut tool = h
            .app
            .stores
            .access
            .tool(&name)
            .await
            .expect("tool")
            .expect("github");
        tool.approvals_channel = Some(APPROVALS.into());
        let operator = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
        h.app
            .stores
            .put_tool(&tool, None, &operator, h.app.now())
            .await
            .expect("put tool");
        Self { h }
    }

    /// Alice asks for access in her personal chat; returns the request id and the approval
    /// card posted to the approvals channel.
    async fn request(&self) -> (String, Value) {
        assert_eq!(
            self.h
                .send_as(ALICE_AAD, "request github for 2h deploy fix", "personal")
                .await,
            200
        );
        let posts = self.h.posts();
        let reply = posts
            .iter()
            .find(|(path, _, _)| path.starts_with("reply a:personal-1 "))
            .expect("alice answered");
        let text = card_text(&reply.2);
        assert!(text.contains("Asked the approvers of GitHub"), "{text}");
        // Teams shows a literal with escaped backticks: "(request \`0123456789abcdef\`)".
        let marker = "(request \\`";
        let start = text
            .find(marker)
            .unwrap_or_else(|| panic!("no request id: {text}"));
        let id = text[start + marker.len()..start + marker.len() + 16].to_owned();
        let notice = posts
            .iter()
            .find(|(path, _, _)| path == &format!("send {APPROVALS}"))
            .unwrap_or_else(|| panic!("no approval card posted: {posts:?}"));
        (id, notice.2.clone())
    }

    /// The invoke activity for a click of `verb` with `data` by `aad`, on the card in the
    /// approvals channel (`conversation_type` `channel`) or in a personal chat.
    fn invoke(&self, aad: &str, verb: &str, data: Value, conversation_type: &str) -> Value {
        let mut activity = self.h.activity(aad, "", conversation_type);
        activity["type"] = json!("invoke");
        activity["name"] = json!("adaptiveCard/action");
        activity.as_object_mut().expect("object").remove("text");
        activity["replyToId"] = json!(CARD_MESSAGE);
        activity["value"] = json!({
            "action": { "type": "Action.Execute", "id": "act-1", "verb": verb, "data": data },
            "trigger": "manual"
        });
        if conversation_type == "channel" {
            activity["conversation"]["id"] = json!(format!("{APPROVALS};messageid={CARD_MESSAGE}"));
        }
        activity
    }

    /// Posts `activity` with `token` (a valid one when `None`).
    async fn send(&self, activity: &Value, token: Option<String>) -> Answer {
        let token = token.unwrap_or_else(|| self.h.key.token(self.h.claims()));
        let response = self
            .h
            .client
            .post(format!("{}/teams/messages", self.h.app.url))
            .bearer_auth(token)
            .json(activity)
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        // What follows the answer (the card updated, the requester told) goes out after it.
        self.h.app.settled().await;
        Answer { status, body }
    }

    async fn click(&self, aad: &str, verb: &str, data: Value, conversation_type: &str) -> Answer {
        let activity = self.invoke(aad, verb, data, conversation_type);
        self.send(&activity, None).await
    }

    async fn decide(&self, aad: &str, verb: &str, id: &str) -> Answer {
        self.click(aad, verb, json!({ "request": id }), "channel")
            .await
    }

    async fn has_grant(&self) -> bool {
        self.h
            .app
            .stores
            .access
            .grant(&teams_user(ALICE_AAD), &"github".parse().expect("tool"))
            .await
            .expect("grant")
            .is_some()
    }

    /// The audit records of `action`, oldest first.
    async fn events(&self, action: Action) -> Vec<AuditEvent> {
        self.h
            .app
            .audit()
            .await
            .into_iter()
            .rev()
            .filter(|e| e.action == action)
            .collect()
    }
}

#[tokio::test]
async fn request_approve_in_the_channel_then_get_the_code_in_the_personal_chat() {
    let a = Approvals::start().await;
    let (id, card) = a.request().await;
    // The approval card: who, what, for how long, why, and Approve/Deny as Universal Actions.
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let content = &card["attachments"][0]["content"];
    assert_eq!(content["version"], "1.4", "Action.Execute needs 1.4");
    let text = card_blocks(content);
    assert!(
        text.contains("asks for GitHub access for 2h") && text.contains("deploy fix"),
        "{text}"
    );
    // Approve, Approve for a shorter grant, Deny.
    assert_eq!(verbs(content), ["otp.approve", "otp.approve", "otp.deny"]);
    let actions = content["actions"].as_array().expect("actions");
    let shown: Vec<_> = actions
        .iter()
        .map(|a| (a["title"].clone(), a["data"].clone()))
        .collect();
    assert_eq!(
        shown,
        [
            (json!("Approve"), json!({ "request": id })),
            (
                json!("Approve for 1h"),
                json!({ "request": id, "for": "1h" })
            ),
            (json!("Deny"), json!({ "request": id })),
        ]
    );

    // The admin clicks "Approve for 1h" in the channel.
    let approved = a
        .click(
            ADMIN_AAD,
            "otp.approve",
            actions[1]["data"].clone(),
            "channel",
        )
        .await;
    let text = approved.card_text();
    assert!(
        text.contains("Approved by @Ada Admin") && text.contains("for 1h"),
        "{text}"
    );
    assert!(
        !text.contains(ADMIN_AAD) && !text.contains(ALICE_AAD),
        "names, not ids: {text}"
    );
    assert!(approved.verbs().is_empty(), "no buttons once decided");
    let grant =
        a.h.app
            .stores
            .access
            .grant(&teams_user(ALICE_AAD), &"github".parse().expect("tool"))
            .await
            .expect("grant")
            .expect("alice's grant");
    assert_eq!(
        grant.expires_at,
        a.h.app.now().plus_secs(3_600),
        "the shorter grant"
    );
    let posts = a.h.posts();
    // The card is replaced in place for everyone.
    let update = posts
        .iter()
        .find(|(path, _, _)| {
            path == &format!("update {APPROVALS};messageid={CARD_MESSAGE} {CARD_MESSAGE}")
        })
        .unwrap_or_else(|| panic!("card not updated: {posts:?}"));
    let updated = card_text(&update.2);
    assert!(updated.contains("Approved by"), "{updated}");
    assert!(verbs(&update.2["attachments"][0]["content"]).is_empty());
    // Alice is told in a 1:1 chat opened by her AAD object id, with a Get code button.
    let created = posts
        .iter()
        .find(|(path, _, body)| path == "create" && body["members"][0]["id"] == ALICE_AAD)
        .unwrap_or_else(|| panic!("no 1:1 chat opened for alice: {posts:?}"));
    assert_eq!(created.2["tenantId"], TENANT);
    let told = posts
        .iter()
        .find(|(path, _, _)| path == "send a:private-conversation")
        .unwrap_or_else(|| panic!("alice not told: {posts:?}"));
    let told_text = card_text(&told.2);
    assert!(
        told_text.contains("approved your GitHub access request"),
        "{told_text}"
    );
    let told_card = &told.2["attachments"][0]["content"];
    assert_eq!(verbs(told_card), ["otp.code"]);
    assert_eq!(told_card["actions"][0]["data"], json!({ "tool": "github" }));

    // Alice clicks Get code in her personal chat: the code is in the answered card.
    let code = a
        .click(
            ALICE_AAD,
            "otp.code",
            json!({ "tool": "github" }),
            "personal",
        )
        .await;
    let expected = a.h.app.expected_code(a.h.app.now());
    assert!(code.card_text().contains(&expected), "{}", code.body);

    let approvals = a.events(Action::Approve).await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        (approvals[0].outcome, approvals[0].actor.clone()),
        (Outcome::Ok, teams_user(ADMIN_AAD))
    );
    let issued = a.events(Action::Code).await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].outcome, Outcome::Issued);
    assert!(
        issued[0]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("card action in a personal chat"),
        "{:?}",
        issued[0].detail
    );
}

#[tokio::test]
async fn get_code_clicked_in_a_channel_answers_only_in_a_private_chat() {
    let a = Approvals::start().await;
    a.h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let answer = a
        .click(
            ALICE_AAD,
            "otp.code",
            json!({ "tool": "github" }),
            "channel",
        )
        .await;
    let expected = a.h.app.expected_code(a.h.app.now());
    let text = answer.card_text();
    assert!(
        !answer.body.to_string().contains(&expected),
        "{}",
        answer.body
    );
    assert!(text.contains("private chat"), "{text}");
    let posts = a.h.posts();
    let private = posts
        .iter()
        .find(|(path, _, _)| path == "send a:private-conversation")
        .unwrap_or_else(|| panic!("no private answer: {posts:?}"));
    assert!(card_text(&private.2).contains(&expected));
    for (path, _, body) in &posts {
        if path != "send a:private-conversation" {
            assert!(!body.to_string().contains(&expected), "{path}: {body}");
        }
    }
}

#[tokio::test]
async fn deny_updates_the_card_and_tells_the_requester_without_a_code_button() {
    let a = Approvals::start().await;
    let (id, _) = a.request().await;
    let denied = a.decide(ADMIN_AAD, "otp.deny", &id).await;
    assert!(denied.card_text().contains("Denied by"), "{}", denied.body);
    assert!(!a.has_grant().await);
    let posts = a.h.posts();
    let told = posts
        .iter()
        .find(|(path, _, _)| path == "send a:private-conversation")
        .unwrap_or_else(|| panic!("alice not told: {posts:?}"));
    assert!(card_text(&told.2).contains("denied your GitHub access request"));
    assert!(verbs(&told.2["attachments"][0]["content"]).is_empty());
    assert!(posts.iter().any(|(path, _, _)| path.starts_with("update ")));
    let denials = a.events(Action::Deny).await;
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0].outcome, Outcome::Ok);
}

#[tokio::test]
async fn self_approval_non_approvers_double_clicks_and_expiry_are_refused_on_the_card() {
    let a = Approvals::start().await;
    let (id, _) = a.request().await;

    // The requester approving her own request: refused, buttons stay for the approvers.
    let own = a.decide(ALICE_AAD, "otp.approve", &id).await;
    assert!(
        own.card_text()
            .contains("Nobody approves their own request"),
        "{}",
        own.body
    );
    // The card keeps every decision it offered, the shorter approval included.
    assert_eq!(own.verbs(), ["otp.approve", "otp.approve", "otp.deny"]);
    // Bob is neither admin nor approver.
    let bob = a.decide(BOB_AAD, "otp.approve", &id).await;
    assert!(bob
        .card_text()
        .contains("Only admins and the tool's approvers"));
    assert!(!a.has_grant().await);
    assert!(
        !a.h.posts()
            .iter()
            .any(|(path, _, _)| path.starts_with("update ")),
        "an open request's card is left as it is"
    );

    // The first decision wins; the second click is told who decided.
    assert!(a
        .decide(ADMIN_AAD, "otp.approve", &id)
        .await
        .card_text()
        .contains("Approved by"));
    a.h.posts();
    let again = a.decide(ADMIN_AAD, "otp.deny", &id).await;
    let text = again.card_text();
    // Told by the display name kept with the request, not the decider's object id.
    assert!(text.contains("Already approved by @Ada Admin"), "{text}");
    assert!(!text.contains(ADMIN_AAD), "{text}");
    assert!(again.verbs().is_empty());
    assert!(a.has_grant().await, "the later deny changed nothing");
    assert!(
        !a.h.posts()
            .iter()
            .any(|(path, _, _)| path == "send a:private-conversation"),
        "the requester is told once"
    );

    let approvals: Vec<_> = a
        .events(Action::Approve)
        .await
        .into_iter()
        .map(|e| (e.outcome, e.actor))
        .collect();
    assert_eq!(
        approvals,
        [
            (Outcome::Forbidden, teams_user(ALICE_AAD)),
            (Outcome::Forbidden, teams_user(BOB_AAD)),
            (Outcome::Ok, teams_user(ADMIN_AAD)),
        ]
    );
    let denials = a.events(Action::Deny).await;
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0].outcome, Outcome::Invalid);
    assert!(denials[0]
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("already approved"));
}

#[tokio::test]
async fn an_expired_request_s_buttons_only_say_so_and_the_card_is_updated() {
    let a = Approvals::start().await;
    let (id, _) = a.request().await;
    a.h.app.clock.advance(2 * 3_600);
    let late = a.decide(ADMIN_AAD, "otp.approve", &id).await;
    let text = late.card_text();
    assert!(text.contains("Expired undecided"), "{text}");
    assert!(late.verbs().is_empty());
    assert!(!a.has_grant().await);
    let posts = a.h.posts();
    let update = posts
        .iter()
        .find(|(path, _, _)| path.starts_with("update "))
        .unwrap_or_else(|| panic!("card not updated: {posts:?}"));
    assert!(card_text(&update.2).contains("Expired undecided"));
    assert!(!posts
        .iter()
        .any(|(path, _, _)| path == "send a:private-conversation"));
    let approvals = a.events(Action::Approve).await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].outcome, Outcome::Expired);
}

#[tokio::test]
async fn unauthenticated_misaddressed_replayed_and_malformed_invokes_change_nothing() {
    let a = Approvals::start().await;
    let (id, _) = a.request().await;
    let before = a.h.app.audit().await.len();
    let approve = a.invoke(
        ADMIN_AAD,
        "otp.approve",
        json!({ "request": id }),
        "channel",
    );

    // No token, a token signed by an unpublished key, a token for another service URL.
    let response =
        a.h.client
            .post(format!("{}/teams/messages", a.h.app.url))
            .json(&approve)
            .send()
            .await
            .expect("send");
    assert_eq!(response.status().as_u16(), 401, "no token");
    let stranger = SigningKey::new("key-unknown");
    assert_eq!(
        a.send(&approve, Some(stranger.token(a.h.claims())))
            .await
            .status,
        401,
        "unknown key"
    );
    let elsewhere = a.h.key.token(claims("https://smba.example.invalid/teams/"));
    assert_eq!(
        a.send(&approve, Some(elsewhere)).await.status,
        403,
        "token for another service URL"
    );
    // The activity claiming another service URL than its token.
    let mut moved = approve.clone();
    moved["serviceUrl"] = json!("https://smba.example.invalid/teams/");
    assert_eq!(a.send(&moved, None).await.status, 403, "wrong serviceUrl");

    // Unknown verbs and malformed data: refused in botbuilder's error shape, nothing run.
    for (verb, data) in [
        ("otp.grant_all", json!({ "request": id })),
        ("otp.approve", json!({ "request": "../x" })),
        ("otp.approve", json!({ "request": id, "for": "forever" })),
        ("otp.code", json!({ "tool": "no such tool!" })),
        ("otp.request", json!(null)),
    ] {
        let answer = a.click(ADMIN_AAD, verb, data.clone(), "channel").await;
        assert_eq!(answer.status, 400, "{verb} {data}: {}", answer.body);
        assert_eq!(answer.body["statusCode"], 400);
        assert_eq!(answer.body["type"], "application/vnd.microsoft.error");
        assert_eq!(
            answer.body["value"]["code"], "BadRequest",
            "{}",
            answer.body
        );
    }
    // Other invokes are not implemented (botbuilder's `onInvokeActivity` answers 501).
    let mut other = approve.clone();
    other["name"] = json!("composeExtension/query");
    assert_eq!(a.send(&other, None).await.status, 501);
    let mut submit = approve.clone();
    submit["value"]["action"]["type"] = json!("Action.Submit");
    let answer = a.send(&submit, None).await;
    assert_eq!(
        (answer.status, answer.body["value"]["code"].clone()),
        (400, json!("NotSupported"))
    );
    assert_eq!(a.h.app.audit().await.len(), before, "nothing recorded");
    assert!(!a.has_grant().await);
    assert!(a.h.posts().is_empty(), "nothing sent");

    // The genuine invoke works once; the same activity again is a replay.
    assert!(a
        .send(&approve, None)
        .await
        .card_text()
        .contains("Approved by"));
    assert_eq!(a.send(&approve, None).await.status, 401, "replayed");
    assert_eq!(
        a.events(Action::Approve).await.len(),
        1,
        "the replay recorded nothing"
    );
}

#[tokio::test]
async fn a_no_access_card_offers_request_access_which_asks_the_approvers() {
    let a = Approvals::start().await;
    assert_eq!(a.h.send_as(ALICE_AAD, "github", "personal").await, 200);
    let posts = a.h.posts();
    let card = &posts[0].2["attachments"][0]["content"];
    assert_eq!(verbs(card), ["otp.request"], "{card}");
    assert_eq!(card["actions"][0]["title"], "Request access");
    let data = card["actions"][0]["data"].clone();
    assert_eq!(data, json!({ "tool": "github" }));
    let asked = a.click(ALICE_AAD, "otp.request", data, "personal").await;
    assert!(
        asked.card_text().contains("Asked the approvers of GitHub"),
        "{}",
        asked.body
    );
    let posts = a.h.posts();
    let notice = posts
        .iter()
        .find(|(path, _, _)| path == &format!("send {APPROVALS}"))
        .unwrap_or_else(|| panic!("no approval card: {posts:?}"));
    assert_eq!(
        verbs(&notice.2["attachments"][0]["content"]),
        ["otp.approve", "otp.approve", "otp.deny"]
    );
    let asked = a.events(Action::AccessRequest).await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].outcome, Outcome::Ok);
}

#[tokio::test]
async fn without_an_approvals_channel_each_approver_gets_the_card_in_a_personal_chat() {
    let a = Approvals::start().await;
    let name = ToolName::parse("github").expect("name");
    let mut tool =
        a.h.app
            .stores
            .access
            .tool(&name)
            .await
            .expect("tool")
            .expect("github");
    tool.approvals_channel = None;
    let operator = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
    a.h.app
        .stores
        .put_tool(&tool, None, &operator, a.h.app.now())
        .await
        .expect("put tool");
    assert_eq!(
        a.h.send_as(ALICE_AAD, "request github", "personal").await,
        200
    );
    let posts = a.h.posts();
    let created: Vec<_> = posts
        .iter()
        .filter(|(path, _, _)| path == "create")
        .map(|(_, _, body)| body["members"][0]["id"].clone())
        .collect();
    assert_eq!(created, [json!(ADMIN_AAD)], "the admin, by AAD object id");
    let card = posts
        .iter()
        .find(|(path, _, _)| path == "send a:private-conversation")
        .unwrap_or_else(|| panic!("no card sent to the approver: {posts:?}"));
    let content = &card.2["attachments"][0]["content"];
    assert!(card_blocks(content).contains("asks for GitHub access"));
    assert_eq!(verbs(content), ["otp.approve", "otp.approve", "otp.deny"]);
    // Clicked in the approver's personal chat, it decides like in a channel.
    let id = content["actions"][0]["data"]["request"]
        .as_str()
        .expect("id")
        .to_owned();
    let approved = a
        .click(
            ADMIN_AAD,
            "otp.approve",
            json!({ "request": id }),
            "personal",
        )
        .await;
    assert!(
        approved.card_text().contains("Approved by"),
        "{}",
        approved.body
    );
    assert!(a.has_grant().await);
}

#[tokio::test]
async fn racing_approvers_one_decision_wins_and_the_requester_is_told_once() {
    const RACERS: [&str; 4] = [
        ADMIN_AAD,
        BOB_AAD,
        "aad0c0c0-e000-4000-8000-000000000004",
        "aad0d0d0-e000-4000-8000-000000000005",
    ];
    let a = Approvals::start_with_admins(&RACERS).await;
    let (id, _) = a.request().await;
    a.h.posts();
    let (w, x, y, z) = tokio::join!(
        a.decide(RACERS[0], "otp.approve", &id),
        a.decide(RACERS[1], "otp.deny", &id),
        a.decide(RACERS[2], "otp.approve", &id),
        a.decide(RACERS[3], "otp.deny", &id),
    );
    let cards: Vec<String> = [w, x, y, z].iter().map(Answer::card_text).collect();
    let won = cards
        .iter()
        .filter(|c| c.contains("Approved: ") || c.contains("Denied @"))
        .count();
    assert_eq!(won, 1, "{cards:?}");
    assert_eq!(
        cards.iter().filter(|c| c.contains("Already ")).count(),
        3,
        "{cards:?}"
    );
    let committed = a
        .events(Action::Approve)
        .await
        .into_iter()
        .chain(a.events(Action::Deny).await)
        .filter(|e| e.outcome == Outcome::Ok)
        .count();
    assert_eq!(committed, 1);
    let told =
        a.h.posts()
            .into_iter()
            .filter(|(path, _, _)| path == "send a:private-conversation")
            .count();
    assert_eq!(told, 1, "the requester is told once");
}

#[tokio::test]
async fn an_issued_code_is_announced_in_the_tool_s_teams_notice_channel_without_the_code() {
    const NOTICES: &str = "19:githubnotices9e8d@thread.tacv2";
    let a = Approvals::start().await;
    let name = ToolName::parse("github").expect("name");
    let mut tool =
        a.h.app
            .stores
            .access
            .tool(&name)
            .await
            .expect("tool")
            .expect("github");
    tool.notify_channel = Some(NOTICES.into());
    let operator = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
    a.h.app
        .stores
        .put_tool(&tool, None, &operator, a.h.app.now())
        .await
        .expect("put tool");
    a.h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    assert_eq!(a.h.send_as(ALICE_AAD, "github", "personal").await, 200);
    let expected = a.h.app.expected_code(a.h.app.now());
    let posts = a.h.posts();
    let notice = posts
        .iter()
        .find(|(path, _, _)| path == &format!("send {NOTICES}"))
        .unwrap_or_else(|| panic!("no issuance notice: {posts:?}"));
    let text = card_text(&notice.2);
    assert!(
        text.contains("@Alice Contractor got a GitHub code"),
        "{text}"
    );
    assert!(
        !text.contains(ALICE_AAD),
        "a name, not an object id: {text}"
    );
    assert!(!notice.2.to_string().contains(&expected), "{}", notice.2);
    assert!(verbs(&notice.2["attachments"][0]["content"]).is_empty());
}

/// Alice's grant of `github`, made by the harness's operator.
fn grant(aad: &str) -> otpbot::domain::Grant {
    let at = otpbot::domain::Timestamp::from_unix(common::START);
    otpbot::domain::Grant {
        principal: teams_user(aad),
        person: otpbot::domain::Person::from(&teams_user(aad)),
        tool: ToolName::parse("github").expect("tool"),
        granted_by: otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator"),
        granted_at: at,
        expires_at: at.plus_secs(3_600),
        reason: None,
    }
}

/// Approve, Approve for 1h and Deny, each clicked as written on the approval card, answer the
/// clicker on the card, replace the card for everyone, and tell the requester in a 1:1 chat
/// (with Get code after an approval), alike.
#[tokio::test]
async fn every_decision_button_updates_the_card_and_tells_the_requester_alike() {
    for (index, outcome) in [(0, "Approved by"), (1, "Approved by"), (2, "Denied by")] {
        let a = Approvals::start().await;
        let (_, card) = a.request().await;
        let action = card["attachments"][0]["content"]["actions"][index].clone();
        let verb = action["verb"].as_str().expect("verb").to_owned();
        let answer = a
            .click(ADMIN_AAD, &verb, action["data"].clone(), "channel")
            .await;
        let title = action["title"].as_str().expect("title");
        assert!(
            answer.card_text().contains(outcome),
            "{title}: {}",
            answer.body
        );
        assert!(
            answer.verbs().is_empty(),
            "{title}: no buttons once decided"
        );
        let posts = a.h.posts();
        let update = posts
            .iter()
            .find(|(path, _, _)| path.starts_with("update "))
            .unwrap_or_else(|| panic!("{title}: card not updated: {posts:?}"));
        assert!(card_text(&update.2).contains(outcome), "{title}");
        let told = posts
            .iter()
            .find(|(path, _, _)| path == "send a:private-conversation")
            .unwrap_or_else(|| panic!("{title}: requester not told: {posts:?}"));
        let told_verbs = verbs(&told.2["attachments"][0]["content"]);
        let expected: &[&str] = if outcome == "Denied by" {
            &[]
        } else {
            &["otp.code"]
        };
        assert_eq!(told_verbs, expected, "{title}");
        let grant =
            a.h.app
                .stores
                .access
                .grant(&teams_user(ALICE_AAD), &"github".parse().expect("tool"))
                .await
                .expect("grant");
        let hours = match index {
            0 => Some(2),
            1 => Some(1),
            _ => None,
        };
        assert_eq!(
            grant.map(|g| (g.expires_at.unix() - g.granted_at.unix()) / 3_600),
            hours,
            "{title}"
        );
    }
}

impl Approvals {
    /// Takes the approvals channel off `github`: approvers are messaged directly.
    async fn without_channel(&self) {
        let name = ToolName::parse("github").expect("name");
        let mut tool = self
            .h
            .app
            .stores
            .access
            .tool(&name)
            .await
            .expect("tool")
            .expect("github");
        tool.approvals_channel = None;
        let operator = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
        self.h
            .app
            .stores
            .put_tool(&tool, None, &operator, self.h.app.now())
            .await
            .expect("put tool");
    }
}

/// On Teams too a request says honestly who was asked: nobody when the requester is the only
/// approver (with the request id to give an admin), and, when every approver's message fails
/// later, the requester hears of it in the personal chat.
#[tokio::test]
async fn a_request_nobody_could_be_told_of_says_so_on_teams() {
    let a = Approvals::start_with_admins(&[ALICE_AAD]).await;
    a.without_channel().await;
    assert_eq!(
        a.h.send_as(ALICE_AAD, "request github", "personal").await,
        200
    );
    let posts = a.h.posts();
    let reply = card_text(&posts[0].2);
    assert!(
        reply.contains("No approver can be messaged here: give an admin the request id"),
        "{reply}"
    );
    assert!(!reply.contains("Asked the approvers"), "{reply}");
    assert_eq!(posts.len(), 1, "nobody else messaged: {posts:?}");

    let a = Approvals::start().await;
    a.without_channel().await;
    a.h.fake.seen.lock().expect("seen").fail_conversation_create = true;
    assert_eq!(
        a.h.send_as(ALICE_AAD, "request github", "personal").await,
        200
    );
    let posts = a.h.posts();
    let texts: Vec<String> = posts
        .iter()
        .filter(|(path, _, _)| {
            path.starts_with("reply a:personal-1") || path == "send a:personal-1"
        })
        .map(|(_, _, body)| card_text(body))
        .collect();
    assert!(
        texts[0].contains("Asked the approvers of GitHub"),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("No approver could be told of your request")),
        "{posts:?}"
    );
}

/// Changes the rules of the `github` tool as an operator would (`otpbot tool set`).
async fn set_github_rules(a: &Approvals, change: impl FnOnce(&mut otpbot::domain::ToolRules)) {
    let name = ToolName::parse("github").expect("name");
    let stores = &a.h.app.stores;
    let mut tool = stores
        .access
        .tool(&name)
        .await
        .expect("tool")
        .expect("github");
    change(&mut tool.rules);
    let operator = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
    stores
        .put_tool(&tool, None, &operator, a.h.app.now())
        .await
        .expect("put tool");
}

/// The two-person rule on Teams cards: the first approval's card shows "1 of 2 approvals" and
/// keeps its buttons (in the invoke's answer and updated in place), the same approver clicking
/// again is told so and counts once, and a second person's approval makes the grant.
#[tokio::test]
async fn a_two_person_card_counts_each_approver_once_and_grants_on_the_second() {
    let a = Approvals::start_with_admins(&[ADMIN_AAD, BOB_AAD]).await;
    set_github_rules(&a, |rules| rules.approvals_required = 2).await;
    let (id, card) = a.request().await;
    let text = card_blocks(&card["attachments"][0]["content"]);
    assert!(text.contains("Needs 2 approvals"), "{text}");

    let first = a.decide(ADMIN_AAD, "otp.approve", &id).await;
    let text = first.card_text();
    // The count names approvers by display name, never by object id.
    assert!(text.contains("1 of 2 approvals: @Ada Admin"), "{text}");
    assert!(!text.contains(ADMIN_AAD), "{text}");
    assert_eq!(first.verbs(), ["otp.approve", "otp.approve", "otp.deny"]);
    assert!(!a.has_grant().await, "one approval of two grants nothing");
    assert!(
        a.h.posts()
            .iter()
            .any(|(path, _, body)| path.starts_with("update ")
                && card_blocks(&body["attachments"][0]["content"]).contains("1 of 2 approvals")),
        "the card in the channel shows the count"
    );

    let again = a.decide(ADMIN_AAD, "otp.approve", &id).await;
    assert!(
        again
            .card_text()
            .contains("You already approved this request"),
        "{}",
        again.body
    );
    assert!(!a.has_grant().await);

    let second = a.decide(BOB_AAD, "otp.approve", &id).await;
    let text = second.card_text();
    assert!(
        text.contains("Approved by @Ada Admin and @Bob Approver"),
        "{text}"
    );
    assert!(second.verbs().is_empty());
    assert!(a.has_grant().await);
    let approvals: Vec<_> = a
        .events(Action::Approve)
        .await
        .into_iter()
        .map(|e| (e.outcome, e.actor))
        .collect();
    assert_eq!(
        approvals,
        [
            (Outcome::Ok, teams_user(ADMIN_AAD)),
            (Outcome::Invalid, teams_user(ADMIN_AAD)),
            (Outcome::Ok, teams_user(BOB_AAD)),
        ]
    );
}

/// Break-glass on Teams: the code in the breaker's personal chat, the notice card with
/// "Looks right" and "Revoke" in the approvals channel, the breaker's own review refused, and
/// an admin's Revoke click ending the grant, once.
#[tokio::test]
async fn break_glass_on_teams_is_told_on_a_card_and_revoked_from_it() {
    let a = Approvals::start().await;
    set_github_rules(&a, |rules| {
        rules.break_glass = otpbot::domain::GrantDuration::parse("1h")
    })
    .await;
    assert_eq!(
        a.h.send_as(ALICE_AAD, "break-glass github prod down", "personal")
            .await,
        200
    );
    assert!(a.has_grant().await);
    let posts = a.h.posts();
    let notice = posts
        .iter()
        .find(|(path, _, _)| path == &format!("send {APPROVALS}"))
        .unwrap_or_else(|| panic!("no break-glass card: {posts:?}"));
    let content = &notice.2["attachments"][0]["content"];
    let text = card_blocks(content);
    assert!(
        text.contains("broke the glass on GitHub: prod down"),
        "{text}"
    );
    assert_eq!(verbs(content), ["otp.review_ok", "otp.review_revoke"]);
    let data = content["actions"][1]["data"].clone();

    let own = a
        .click(ALICE_AAD, "otp.review_revoke", data.clone(), "channel")
        .await;
    assert!(
        own.card_text()
            .contains("Nobody reviews their own break-glass"),
        "{}",
        own.body
    );
    // The card keeps its review buttons for the approvers.
    assert_eq!(own.verbs(), ["otp.review_ok", "otp.review_revoke"]);
    assert!(a.has_grant().await);
    let revoked = a
        .click(ADMIN_AAD, "otp.review_revoke", data.clone(), "channel")
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(!a.has_grant().await, "revoked from the card");
    let again = a.click(ADMIN_AAD, "otp.review_ok", data, "channel").await;
    assert!(
        again.card_text().contains("already reviewed"),
        "{}",
        again.body
    );
    let reviews: Vec<_> = a
        .events(Action::Review)
        .await
        .into_iter()
        .map(|e| (e.outcome, e.actor))
        .collect();
    assert_eq!(
        reviews,
        [
            (Outcome::Forbidden, teams_user(ALICE_AAD)),
            (Outcome::Ok, teams_user(ADMIN_AAD)),
            (Outcome::Invalid, teams_user(ADMIN_AAD)),
        ]
    );
}

/// Teams cards name people by the display name Teams gives (`from.name`), never by object id:
/// the approval card names the requester, the settled card and the requester's notice the
/// approver. A display name is text like any other: markup in it is shown, never run.
#[tokio::test]
async fn teams_cards_name_people_by_display_name_not_by_object_id() {
    let a = Approvals::start().await;
    let (id, card) = a.request().await;
    let asking = card_blocks(&card["attachments"][0]["content"]);
    assert!(
        asking.contains("@Alice Contractor asks for GitHub access"),
        "{asking}"
    );
    assert!(
        !card.to_string().contains(ALICE_AAD),
        "no object id on the card: {card}"
    );
    let stored =
        a.h.app
            .stores
            .access
            .access_request(&otpbot::domain::AccessRequestId::parse(&id).expect("id"))
            .await
            .expect("read")
            .expect("the request");
    assert_eq!(stored.requester_name.as_deref(), Some("Alice Contractor"));
    let approved = a.decide(ADMIN_AAD, "otp.approve", &id).await.card_text();
    assert!(approved.contains("Approved by @Ada Admin"), "{approved}");
    let posts = a.h.posts();
    let told = posts
        .iter()
        .find(|(path, _, _)| path == "send a:private-conversation")
        .unwrap_or_else(|| panic!("alice not told: {posts:?}"));
    let told = card_text(&told.2);
    assert!(
        told.contains("@Ada Admin approved your GitHub access request"),
        "{told}"
    );
    assert!(!told.contains(ADMIN_AAD), "{told}");
}

/// A display name that carries markup or a forged mention is shown as text on the card.
#[tokio::test]
async fn a_hostile_display_name_is_shown_as_text() {
    let a = Approvals::start().await;
    let mut activity = a.h.activity(BOB_AAD, "request github", "personal");
    activity["from"]["name"] = json!("**Eve** [login](https://evil.example) <at>Ada</at>");
    assert_eq!(a.send(&activity, None).await.status, 200);
    let posts = a.h.posts();
    let card = posts
        .iter()
        .find(|(path, _, _)| path == &format!("send {APPROVALS}"))
        .unwrap_or_else(|| panic!("no approval card: {posts:?}"));
    let text = card_blocks(&card.2["attachments"][0]["content"]);
    assert!(text.contains(r"@\*\*Eve\*\*"), "markdown escaped: {text}");
    assert!(!text.contains("](https://evil.example)"), "no link: {text}");
}
