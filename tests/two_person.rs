//! The two-person rule end to end over Slack (`otpbot tool set <tool> --approvals-required N`):
//! a request is granted only once that many distinct persons, never the requester, approved;
//! each approval is audited; one person counts once (in whichever workspace of an Enterprise
//! Grid org); a deny ends the request; the shortest length chosen wins; approvers clicking at
//! once make one grant. Clicks are sent the way Slack sends them, a `block_actions` payload
//! with the button's `action_id` and `value` as otpbot wrote them
//! (<https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>), and the
//! updated approval message is read from the fake Web API's `chat.update`
//! (<https://docs.slack.dev/reference/methods/chat.update>).

use crate::common;

use otpbot::domain::{AccessRequestId, Action, Outcome, Principal, RequestState, ToolName};
use serde_json::{json, Value};

use common::slack::{pressed, FakeWebApi};
use common::{principal, Options, TestApp, ADMIN, SETUP_OPERATOR, TEAM};

fn github() -> ToolName {
    ToolName::parse("github").expect("tool")
}

/// Makes `github` need `n` approvals (and, with `channel`, post its requests there).
async fn require(app: &TestApp, n: u8, channel: Option<&str>) {
    let mut tool = app
        .stores
        .access
        .tool(&github())
        .await
        .expect("tool")
        .expect("github");
    tool.rules.approvals_required = n;
    tool.approvals_channel = channel.map(str::to_owned);
    let operator = Principal::parse(SETUP_OPERATOR).expect("operator");
    app.stores
        .put_tool(&tool, None, &operator, app.now())
        .await
        .expect("put tool");
}

/// An app whose `github` tool needs two approvals, with UBOB and UCAROL its approvers.
async fn two_person_app(options: Options, channel: Option<&str>) -> TestApp {
    let app = TestApp::spawn_with(options).await;
    require(&app, 2, channel).await;
    for user in ["UBOB", "UCAROL"] {
        let made = app
            .slash(ADMIN, &format!("role add <@{user}> approver github"))
            .await
            .ephemeral();
        assert!(made.contains("now approves"), "{made}");
    }
    app
}

fn request_id(reply: &str) -> String {
    let start = reply.find("(request `").expect("a request id") + "(request `".len();
    let end = reply[start..].find('`').expect("backtick") + start;
    reply[start..end].to_owned()
}

async fn grant_of(app: &TestApp, user: &str) -> Option<otpbot::domain::Grant> {
    app.stores
        .access
        .grant(&principal(user), &github())
        .await
        .expect("read")
}

async fn stored(app: &TestApp, id: &str) -> otpbot::domain::AccessRequest {
    app.stores
        .access
        .access_request(&AccessRequestId::parse(id).expect("id"))
        .await
        .expect("read")
        .expect("request")
}

/// The `approve` records, oldest first, as (actor user, outcome, detail).
async fn approvals(app: &TestApp) -> Vec<(String, Outcome, String)> {
    let mut events: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Approve)
        .map(|e| {
            (
                e.actor.user().to_owned(),
                e.outcome,
                e.detail.unwrap_or_default(),
            )
        })
        .collect();
    events.reverse();
    events
}

#[tokio::test]
async fn a_request_is_granted_only_after_two_distinct_approvals() {
    let app = two_person_app(Options::default(), None).await;
    let id = request_id(
        &app.slash("UALICE", "request github for 2h")
            .await
            .ephemeral(),
    );
    let first = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(first.contains("1 of 2 approvals"), "{first}");
    assert!(
        grant_of(&app, "UALICE").await.is_none(),
        "one approval of two grants nothing"
    );
    let refused = app.slash("UALICE", "github").await.ephemeral();
    assert!(refused.contains("no access"), "{refused}");
    assert_eq!(stored(&app, &id).await.state, RequestState::Open);

    let second = app
        .slash("UCAROL", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(second.starts_with("Approved"), "{second}");
    let grant = grant_of(&app, "UALICE").await.expect("granted");
    assert_eq!(grant.expires_at, app.now().plus_secs(7_200));
    let code = app.slash("UALICE", "github").await.ephemeral();
    assert!(code.contains(&app.expected_code(app.now())), "{code}");
    let trail = approvals(&app).await;
    assert_eq!(trail.len(), 2, "{trail:?}");
    assert_eq!((trail[0].0.as_str(), trail[0].1), ("UBOB", Outcome::Ok));
    assert!(trail[0].2.contains("approval 1 of 2"), "{trail:?}");
    assert_eq!((trail[1].0.as_str(), trail[1].1), ("UCAROL", Outcome::Ok));
    assert!(
        trail[1].2.contains("approval 2 of 2; for 2h until"),
        "{trail:?}"
    );
}

#[tokio::test]
async fn the_requester_never_counts_as_an_approver() {
    let app = two_person_app(Options::default(), None).await;
    // Bob, an approver himself, asks: his own approval is refused and counts for nothing.
    let id = request_id(&app.slash("UBOB", "request github").await.ephemeral());
    let own = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(own.contains("Nobody approves their own request"), "{own}");
    app.slash("UCAROL", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(
        grant_of(&app, "UBOB").await.is_none(),
        "Carol's is the only approval"
    );
    assert_eq!(stored(&app, &id).await.approvals.len(), 1);
    let last = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(last.starts_with("Approved"), "{last}");
    assert!(grant_of(&app, "UBOB").await.is_some());
}

#[tokio::test]
async fn the_same_person_approving_twice_counts_once() {
    let app = two_person_app(Options::default(), None).await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    app.slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    let again = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(
        again.contains("You already approved this request"),
        "{again}"
    );
    assert!(again.contains("Nothing changed"), "{again}");
    assert!(grant_of(&app, "UALICE").await.is_none());
    assert_eq!(stored(&app, &id).await.approvals.len(), 1);
    let trail = approvals(&app).await;
    assert_eq!(trail.len(), 2);
    assert_eq!(
        trail[1].1,
        Outcome::Invalid,
        "the second click is audited as refused"
    );
}

#[tokio::test]
async fn one_grid_person_in_two_workspaces_counts_once() {
    let app = TestApp::spawn().await;
    require(&app, 2, None).await;
    for approver in ["slack:T0ONE:W0SELF", "slack:T0TWO:W0SELF"] {
        app.slash(ADMIN, &format!("role add {approver} approver github"))
            .await
            .ephemeral();
    }
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    let first = app
        .slash_in(
            "T0ONE",
            Some("E0ENTERPRISE"),
            "W0SELF",
            &format!("approve {id}"),
        )
        .await
        .ephemeral();
    assert!(first.contains("1 of 2 approvals"), "{first}");
    let second = app
        .slash_in(
            "T0TWO",
            Some("E0ENTERPRISE"),
            "W0SELF",
            &format!("approve {id}"),
        )
        .await
        .ephemeral();
    assert!(
        second.contains("You already approved this request"),
        "{second}"
    );
    assert!(
        grant_of(&app, "UALICE").await.is_none(),
        "one person, one approval"
    );
    assert_eq!(stored(&app, &id).await.approvals.len(), 1);
}

#[tokio::test]
async fn a_deny_ends_a_two_person_request() {
    let app = two_person_app(Options::default(), None).await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    app.slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    let denied = app.slash("UCAROL", &format!("deny {id}")).await.ephemeral();
    assert!(denied.starts_with("Denied"), "{denied}");
    let late = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(late.contains("Already denied"), "{late}");
    assert!(grant_of(&app, "UALICE").await.is_none());
}

#[tokio::test]
async fn the_shortest_length_an_approver_chose_wins() {
    let app = two_person_app(Options::default(), None).await;
    let id = request_id(
        &app.slash("UALICE", "request github for 8h")
            .await
            .ephemeral(),
    );
    app.slash("UBOB", &format!("approve {id} for 1h"))
        .await
        .ephemeral();
    app.clock.advance(60);
    let last = app
        .slash("UCAROL", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(last.contains("for 1h"), "{last}");
    let grant = grant_of(&app, "UALICE").await.expect("granted");
    assert_eq!(
        grant.expires_at,
        app.now().plus_secs(3_600),
        "Bob's 1h, from the grant"
    );
}

#[tokio::test]
async fn a_two_person_approval_never_shortens_a_grant() {
    let app = two_person_app(Options::default(), None).await;
    app.slash(ADMIN, "grant <@UALICE> github for 1w")
        .await
        .ephemeral();
    let held = grant_of(&app, "UALICE").await.expect("held");
    let id = request_id(
        &app.slash("UALICE", "request github for 1h")
            .await
            .ephemeral(),
    );
    app.slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    let last = app
        .slash("UCAROL", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(last.contains("stays as it is"), "{last}");
    assert_eq!(grant_of(&app, "UALICE").await, Some(held));
    assert!(matches!(
        stored(&app, &id).await.state,
        RequestState::Approved { .. }
    ));
}

#[tokio::test]
async fn two_approvers_clicking_at_once_grant_once() {
    common::approvals::two_approvers_clicking_at_once_grant_once(&TestApp::spawn().await).await;
}

/// A signed click by `user` on the message in C0APPROVE.
async fn press(app: &TestApp, user: &str, (action_id, value): &(String, String)) -> u16 {
    let payload = json!({
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "container": {"type": "message", "message_ts": "1793700005.000100", "channel_id": "C0APPROVE"},
        "channel": {"id": "C0APPROVE"},
        "actions": [{"type": "button", "action_id": action_id, "value": value}]
    });
    app.post_interaction(&payload).await
}

fn text_of(message: &Value) -> String {
    message["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_approval_message_shows_the_count_after_the_first_button() {
    let fake = FakeWebApi::start().await;
    let app = two_person_app(
        Options {
            slack_api: Some(fake.api_url()),
            ..Options::default()
        },
        Some("C0APPROVE"),
    )
    .await;
    app.slash("UALICE", "request github").await.ephemeral();
    app.settled().await;
    let message = fake
        .bodies("chat.postMessage")
        .pop()
        .expect("approval message");
    assert!(text_of(&message).contains("Needs 2 approvals"), "{message}");
    let approve = pressed(&message, "Approve");
    fake.clear();
    assert_eq!(press(&app, "UBOB", &approve).await, 200);
    app.settled().await;
    let update = fake.bodies("chat.update").pop().expect("message updated");
    let text = text_of(&update);
    assert!(text.contains("1 of 2 approvals: <@UBOB>"), "{text}");
    assert!(grant_of(&app, "UALICE").await.is_none());
    // The updated message still offers the decisions; Carol's click completes the count.
    let approve = pressed(&update, "Approve");
    fake.clear();
    assert_eq!(press(&app, "UCAROL", &approve).await, 200);
    app.settled().await;
    let update = fake.bodies("chat.update").pop().expect("message settled");
    let text = text_of(&update);
    assert!(text.contains("Approved by <@UBOB> and <@UCAROL>"), "{text}");
    assert!(grant_of(&app, "UALICE").await.is_some());
}

/// An approval counted because its approver is a member of an approver group names the group
/// in its record, as a single approver's does: an auditor reads through which group a person
/// could approve.
#[tokio::test]
async fn a_counted_approval_through_a_group_names_the_group() {
    let fake = FakeWebApi::start().await;
    fake.set_group(TEAM, "S0APPROVE", &["UDAVE"]);
    let app = two_person_app(
        Options {
            slack_api: Some(fake.api_url()),
            ..Options::default()
        },
        None,
    )
    .await;
    let made = app
        .slash(
            ADMIN,
            "role add <!subteam^S0APPROVE|@approvers> approver github",
        )
        .await
        .ephemeral();
    assert!(made.contains("now approves"), "{made}");
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    let through_group = app
        .slash("UDAVE", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(through_group.contains("1 of 2"), "{through_group}");
    let direct = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(direct.contains("Approved"), "{direct}");
    let records = approvals(&app).await;
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].0, "UDAVE");
    assert!(
        records[0]
            .2
            .contains("as a member of group slack-group:T0TEST:S0APPROVE"),
        "{records:?}"
    );
    assert_eq!(records[1].0, "UBOB");
    assert!(!records[1].2.contains("member of group"), "{records:?}");
    assert!(grant_of(&app, "UALICE").await.is_some());
}
