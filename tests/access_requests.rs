//! Self-service access end to end over the Slack slash-command endpoint: a member asks, an
//! approver decides once, the member gets the code; every step is in the audit log.

use crate::common;

use otpbot::domain::{Action, Outcome, RateLimit};

use common::{principal, Options, TestApp, ADMIN};

/// The request id a "request" reply names (between the backticks after "request").
fn request_id(reply: &str) -> String {
    let start = reply.find("(request `").expect("a request id in the reply") + "(request `".len();
    let end = reply[start..].find('`').expect("closing backtick") + start;
    reply[start..end].to_owned()
}

/// The audit records of `action`, oldest first, as (actor user, outcome, detail).
async fn trail(app: &TestApp, action: Action) -> Vec<(String, Outcome, String)> {
    let mut events: Vec<_> = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == action)
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
async fn request_approve_then_code() {
    let app = TestApp::spawn().await;
    let refused = app.slash("UALICE", "github").await.ephemeral();
    assert!(refused.contains("no access"), "{refused}");

    let asked = app
        .slash("UALICE", "request github for 2h deploy fix")
        .await
        .ephemeral();
    assert!(
        // No bot token here, so nobody could be messaged: the reply says so.
        asked.contains("Your request for 2h of GitHub access is open until"),
        "{asked}"
    );
    let id = request_id(&asked);

    app.clock.advance(60);
    let approved = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(approved.contains("Approved"), "{approved}");
    assert!(approved.contains("for 2h"), "{approved}");

    let code = app.slash("UALICE", "github").await.ephemeral();
    assert!(
        code.contains(&app.expected_code(app.now())),
        "the approved requester gets the code: {code}"
    );
    let grant = app
        .stores
        .access
        .grant(&principal("UALICE"), &"github".parse().expect("tool"))
        .await
        .expect("grant")
        .expect("a grant");
    assert_eq!(grant.granted_by, principal(ADMIN));
    assert_eq!(grant.reason.as_deref(), Some("deploy fix"));
    assert_eq!(grant.expires_at, app.now().plus_secs(7_200));

    let requested = trail(&app, Action::AccessRequest).await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].0, "UALICE");
    assert_eq!(requested[0].1, Outcome::Ok);
    assert!(requested[0].2.contains("deploy fix"), "{requested:?}");
    let approvals = trail(&app, Action::Approve).await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        (approvals[0].0.as_str(), approvals[0].1),
        (ADMIN, Outcome::Ok)
    );
    assert!(approvals[0].2.contains(&id), "{approvals:?}");
}

#[tokio::test]
async fn deny_grants_nothing() {
    let app = TestApp::spawn().await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    let denied = app
        .slash(ADMIN, &format!("deny {id} not this week"))
        .await
        .ephemeral();
    assert!(denied.contains("Denied"), "{denied}");
    let refused = app.slash("UALICE", "github").await.ephemeral();
    assert!(refused.contains("no access"), "{refused}");
    let denials = trail(&app, Action::Deny).await;
    assert_eq!(denials.len(), 1);
    assert!(denials[0].2.contains("not this week"), "{denials:?}");
    // The denial freed the slot: Alice may ask again.
    let again = app.slash("UALICE", "request github").await.ephemeral();
    assert!(again.contains("GitHub access is open until"), "{again}");
}

#[tokio::test]
async fn self_approval_and_non_approvers_are_refused_and_audited() {
    let app = TestApp::spawn().await;
    let own = request_id(&app.slash(ADMIN, "request github").await.ephemeral());
    let refused = app
        .slash(ADMIN, &format!("approve {own}"))
        .await
        .ephemeral();
    assert!(
        refused.contains("Nobody approves their own request"),
        "{refused}"
    );

    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    let bob = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(
        bob.contains("Only admins and the tool's approvers"),
        "{bob}"
    );

    // Once Bob approves github requests, he may.
    let made = app
        .slash(ADMIN, "role add <@UBOB> approver github")
        .await
        .ephemeral();
    assert!(made.contains("now approves requests for"), "{made}");
    let approved = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(approved.contains("Approved"), "{approved}");

    let approvals = trail(&app, Action::Approve).await;
    let outcomes: Vec<_> = approvals
        .iter()
        .map(|(who, outcome, detail)| (who.as_str(), *outcome, detail.contains("self-approval")))
        .collect();
    assert_eq!(
        outcomes,
        [
            (ADMIN, Outcome::Forbidden, true),
            ("UBOB", Outcome::Forbidden, false),
            ("UBOB", Outcome::Ok, false),
        ]
    );
    assert!(app
        .stores
        .access
        .grant(&principal(ADMIN), &"github".parse().expect("tool"))
        .await
        .expect("grant")
        .is_none());
}

#[tokio::test]
async fn a_second_click_is_told_who_decided() {
    let app = TestApp::spawn().await;
    app.slash(ADMIN, "role add <@UBOB> approver github")
        .await
        .ephemeral();
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    let late = app.slash("UBOB", &format!("deny {id}")).await.ephemeral();
    let at = app.now().to_string();
    // The reply mentions the admin through otpbot's own mention, rendered for Slack.
    assert!(late.contains("Already approved by <@UADMIN> at"), "{late}");
    assert!(late.contains(&at), "{late}");
    let again = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(again.contains("Already approved"), "{again}");
    assert_eq!(
        trail(&app, Action::Approve)
            .await
            .iter()
            .filter(|e| e.1 == Outcome::Ok)
            .count(),
        1,
        "one approval committed"
    );
    assert_eq!(trail(&app, Action::Deny).await[0].1, Outcome::Invalid);
}

#[tokio::test]
async fn racing_approvers_over_http_one_wins() {
    let app = TestApp::spawn().await;
    for user in ["UB1", "UB2", "UB3", "UB4"] {
        app.slash(ADMIN, &format!("role add <@{user}> approver github"))
            .await
            .ephemeral();
    }
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    let (approve, deny) = (format!("approve {id}"), format!("deny {id}"));
    let (a, b, c, d) = tokio::join!(
        app.slash("UB1", &approve),
        app.slash("UB2", &deny),
        app.slash("UB3", &approve),
        app.slash("UB4", &deny),
    );
    let replies: Vec<String> = [a, b, c, d].iter().map(|r| r.ephemeral()).collect();
    let won: Vec<_> = replies
        .iter()
        .filter(|r| r.starts_with("Approved") || r.starts_with("Denied"))
        .collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    assert_eq!(
        replies.iter().filter(|r| r.contains("Already")).count(),
        3,
        "{replies:?}"
    );
    let committed = trail(&app, Action::Approve)
        .await
        .into_iter()
        .chain(trail(&app, Action::Deny).await)
        .filter(|e| e.1 == Outcome::Ok)
        .count();
    assert_eq!(committed, 1);
}

#[tokio::test]
async fn expired_requests_cannot_be_decided() {
    let app = TestApp::spawn().await;
    let id = request_id(&app.slash("UALICE", "request github").await.ephemeral());
    app.clock.advance(3_600);
    let late = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(late.contains("expired"), "{late}");
    assert!(app
        .slash("UALICE", "github")
        .await
        .ephemeral()
        .contains("no access"));
    let approvals = trail(&app, Action::Approve).await;
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].1, Outcome::Expired, "the expiry is audited");
    // An expired request no longer blocks a new one.
    let again = app.slash("UALICE", "request github").await.ephemeral();
    assert!(again.contains("GitHub access is open until"), "{again}");
}

#[tokio::test]
async fn one_open_request_per_tool_and_a_request_limit() {
    let mut options = Options::default();
    options.policy.per_request = RateLimit {
        limit: 2,
        window_secs: 3_600,
    };
    let app = TestApp::spawn_with(options).await;
    app.enrol("aws-root", "AWS root", "1h", "8h").await;
    app.enrol("vpn", "VPN", "1h", "8h").await;
    app.slash("UALICE", "request github").await.ephemeral();
    let twice = app.slash("UALICE", "request github").await.ephemeral();
    assert!(twice.contains("already have an open request"), "{twice}");
    app.slash("UALICE", "request aws-root").await.ephemeral();
    let third = app.slash("UALICE", "request vpn").await.ephemeral();
    assert!(third.contains("asked for access too often"), "{third}");
    let too_long = app.slash("UBOB", "request vpn for 2d").await.ephemeral();
    assert!(too_long.contains("at most"), "{too_long}");
    let unknown = app.slash("UBOB", "request nope").await.ephemeral();
    assert!(unknown.contains("no tool called"), "{unknown}");
    let outcomes: Vec<_> = trail(&app, Action::AccessRequest)
        .await
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Ok,
            Outcome::Invalid,
            Outcome::Ok,
            Outcome::RateLimited,
            Outcome::Invalid,
            Outcome::UnknownTool
        ]
    );
}

#[tokio::test]
async fn a_grid_user_cannot_approve_own_request() {
    common::approvals::a_grid_user_cannot_approve_own_request(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn an_approval_never_shortens_a_grant() {
    common::approvals::an_approval_never_shortens_a_grant(&TestApp::spawn().await).await;
}
