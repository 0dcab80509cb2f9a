//! Attacks on who may approve what, run over HTTP against an app on either backend (SQLite in
//! `tests/access_requests.rs`, DynamoDB in `tests/aws_e2e.rs`).

use otpbot::domain::{Action, Outcome, Principal, ToolName};

use super::{TestApp, ADMIN};

/// The request id a "request" reply names (between the backticks after "request").
pub fn request_id(reply: &str) -> String {
    let start = reply.find("(request `").expect("a request id in the reply") + "(request `".len();
    let end = reply[start..].find('`').expect("closing backtick") + start;
    reply[start..end].to_owned()
}

fn github() -> ToolName {
    ToolName::parse("github").expect("tool")
}

/// An Enterprise Grid user signed in to two workspaces of one org (`slack:T0ONE:W0SELF` and
/// `slack:T0TWO:W0SELF`, org `E0ENTERPRISE`) is one person: asking in one workspace and
/// approving with `/otp approve` in the other is refused and audited; another approver may.
pub async fn a_grid_user_cannot_approve_own_request(app: &TestApp) {
    let made = app
        .slash(ADMIN, "role add slack:T0TWO:W0SELF approver github")
        .await
        .ephemeral();
    assert!(made.contains("now approves requests for"), "{made}");
    let asked = app
        .slash_in("T0ONE", Some("E0ENTERPRISE"), "W0SELF", "request github")
        .await
        .ephemeral();
    let id = request_id(&asked);
    let stored = app
        .stores
        .access
        .access_request(&otpbot::domain::AccessRequestId::parse(&id).expect("id"))
        .await
        .expect("read")
        .expect("the request");
    assert_eq!(
        stored.requester_person.as_str(),
        "slack:E0ENTERPRISE:W0SELF"
    );

    let own = app
        .slash_in(
            "T0TWO",
            Some("E0ENTERPRISE"),
            "W0SELF",
            &format!("approve {id}"),
        )
        .await
        .ephemeral();
    assert!(own.contains("Nobody approves their own request"), "{own}");
    let asker = Principal::parse("slack:T0ONE:W0SELF").expect("principal");
    let granted = app
        .stores
        .access
        .grant(&asker, &github())
        .await
        .expect("read");
    assert!(granted.is_none(), "no grant: {granted:?}");
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome, event.actor.as_str()),
        (Action::Approve, Outcome::Forbidden, "slack:T0TWO:W0SELF")
    );
    assert!(event.detail.unwrap_or_default().contains("self-approval"));

    // Someone else decides, and the grant records the person it was made for.
    let approved = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(approved.contains("Approved"), "{approved}");
    let grant = app
        .stores
        .access
        .grant(&asker, &github())
        .await
        .expect("read")
        .expect("granted");
    assert_eq!(grant.person.as_str(), "slack:E0ENTERPRISE:W0SELF");
}

/// An approval never shortens a grant the requester already holds: approving 30 minutes for
/// someone with a week left keeps the week, and says so; a shorter grant is lengthened.
pub async fn an_approval_never_shortens_a_grant(app: &TestApp) {
    let alice = super::principal("UALICE");
    app.slash(ADMIN, "grant <@UALICE> github for 1w")
        .await
        .ephemeral();
    let week = app
        .stores
        .access
        .grant(&alice, &github())
        .await
        .expect("read")
        .expect("granted")
        .expires_at;
    let id = request_id(
        &app.slash("UALICE", "request github for 30m")
            .await
            .ephemeral(),
    );
    app.clock.advance(60);
    let approved = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(
        approved.contains(&format!("already has access to GitHub until {week}"))
            && approved.contains("that grant stays"),
        "{approved}"
    );
    let kept = app
        .stores
        .access
        .grant(&alice, &github())
        .await
        .expect("read");
    assert_eq!(kept.map(|g| g.expires_at), Some(week), "the week stays");
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Approve, Outcome::Ok)
    );
    assert!(
        event.detail.unwrap_or_default().contains("stays"),
        "the record says the grant was kept"
    );

    // A shorter grant is lengthened by an approval.
    app.slash(ADMIN, "grant <@UBOB> github for 30m")
        .await
        .ephemeral();
    let id = request_id(&app.slash("UBOB", "request github for 2h").await.ephemeral());
    let approved = app.slash(ADMIN, &format!("approve {id}")).await.ephemeral();
    assert!(approved.contains("for 2h"), "{approved}");
    let bob = app
        .stores
        .access
        .grant(&super::principal("UBOB"), &github())
        .await
        .expect("read")
        .expect("granted");
    assert_eq!(bob.expires_at, app.now().plus_secs(7_200));
}

/// The two-person rule under a race: `github` needs two approvals, and its two approvers
/// approve each of five requests at the same moment. Each time exactly one reply says "1 of 2"
/// and the other approves, both approvals are stored, one grant is made, and two approval
/// records are written per request, never more.
pub async fn two_approvers_clicking_at_once_grant_once(app: &TestApp) {
    let mut tool = app
        .stores
        .access
        .tool(&github())
        .await
        .expect("tool")
        .expect("github");
    tool.rules.approvals_required = 2;
    let operator = Principal::parse(super::SETUP_OPERATOR).expect("operator");
    app.stores
        .put_tool(&tool, None, &operator, app.now())
        .await
        .expect("put tool");
    for user in ["UBOB", "UCAROL"] {
        app.slash(ADMIN, &format!("role add <@{user}> approver github"))
            .await
            .ephemeral();
    }
    for round in 0..5 {
        let asker = format!("UASK{round}");
        let id = request_id(&app.slash(&asker, "request github").await.ephemeral());
        let approve = format!("approve {id}");
        let (bob, carol) = tokio::join!(app.slash("UBOB", &approve), app.slash("UCAROL", &approve));
        let replies = [bob.ephemeral(), carol.ephemeral()];
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.contains("1 of 2 approvals"))
                .count(),
            1,
            "round {round}: {replies:?}"
        );
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.starts_with("Approved: <@"))
                .count(),
            1,
            "round {round}: {replies:?}"
        );
        let stored = app
            .stores
            .access
            .access_request(&otpbot::domain::AccessRequestId::parse(&id).expect("id"))
            .await
            .expect("read")
            .expect("request");
        assert_eq!(stored.approvals.len(), 2, "round {round}: no approval lost");
        assert!(
            matches!(stored.state, otpbot::domain::RequestState::Approved { .. }),
            "round {round}"
        );
        let asker = super::principal(&asker);
        let granted = app
            .stores
            .access
            .grant(&asker, &github())
            .await
            .expect("read");
        assert!(granted.is_some(), "round {round}");
    }
    let ok = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == Action::Approve && e.outcome == Outcome::Ok)
        .count();
    assert_eq!(ok, 10, "two approval records per request, no more");
}

/// Break-glass on whichever backend `app` runs: `github` allows 1h; Alice breaks the glass and
/// gets the code; her own review is refused; Bob (an approver) revokes it by review, which
/// ends the grant; a second review is told it was reviewed; and within the period she breaks
/// the glass on the tool no more, revoked or not.
pub async fn break_glass_once_per_period_then_revoked_by_review(app: &TestApp) {
    let mut tool = app
        .stores
        .access
        .tool(&github())
        .await
        .expect("tool")
        .expect("github");
    tool.rules.break_glass = otpbot::domain::GrantDuration::parse("1h");
    let operator = Principal::parse(super::SETUP_OPERATOR).expect("operator");
    app.stores
        .put_tool(&tool, None, &operator, app.now())
        .await
        .expect("put tool");
    app.slash(ADMIN, "role add <@UBOB> approver github")
        .await
        .ephemeral();
    let broken = app
        .slash("UALICE", "break-glass github prod down")
        .await
        .ephemeral();
    assert!(broken.contains(&app.expected_code(app.now())), "{broken}");
    let start = broken.find("(break-glass `").expect("an id") + "(break-glass `".len();
    let id = broken[start..start + 16].to_owned();
    let alice = super::principal("UALICE");
    let grant = app
        .stores
        .access
        .grant(&alice, &github())
        .await
        .expect("read");
    assert_eq!(
        grant.map(|g| g.expires_at),
        Some(app.now().plus_secs(3_600))
    );
    let own = app
        .slash("UALICE", &format!("review {id} ok"))
        .await
        .ephemeral();
    assert!(own.contains("Nobody reviews their own"), "{own}");
    let revoked = app
        .slash("UBOB", &format!("review {id} revoke"))
        .await
        .ephemeral();
    assert!(revoked.starts_with("Revoked"), "{revoked}");
    let grant = app
        .stores
        .access
        .grant(&alice, &github())
        .await
        .expect("read");
    assert_eq!(grant, None, "revoke ended the grant");
    let second = app
        .slash(ADMIN, &format!("review {id} ok"))
        .await
        .ephemeral();
    assert!(second.contains("already reviewed"), "{second}");
    // A revoked break-glass still counts: within the period no other, later or at once.
    app.clock.advance(2 * 3_600);
    let (a, b) = tokio::join!(
        app.slash("UALICE", "break-glass github still down"),
        app.slash("UALICE", "break-glass github still down")
    );
    for again in [a.ephemeral(), b.ephemeral()] {
        assert!(again.contains("recently"), "{again}");
        assert!(!again.contains(&app.expected_code(app.now())), "{again}");
    }
    let events = app.audit().await;
    let outcomes = |action| {
        let mut found: Vec<Outcome> = events
            .iter()
            .filter(|e| e.action == action)
            .map(|e| e.outcome)
            .collect();
        found.reverse();
        found
    };
    assert_eq!(
        outcomes(Action::BreakGlass),
        [Outcome::Issued, Outcome::RateLimited, Outcome::RateLimited]
    );
    assert!(app
        .stores
        .access
        .grant(&alice, &github())
        .await
        .expect("read")
        .is_none());
    assert_eq!(
        outcomes(Action::Review),
        [Outcome::Forbidden, Outcome::Ok, Outcome::Invalid]
    );
}
