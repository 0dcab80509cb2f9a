//! Attacks on access held by groups, run over HTTP against an app on either backend (SQLite in
//! `tests/groups.rs`, DynamoDB in `tests/aws_e2e.rs`), with the fake Slack Web API answering
//! `usergroups.users.list` for the members a test sets.

use otpbot::domain::{Action, AuditQuery, Outcome, Principal, ToolName};

use super::approvals::request_id;
use super::slack::FakeWebApi;
use super::{Options, TestApp, ADMIN, TEAM};

/// The contractors' user group, as Slack sends its mention with escaping on.
pub const CONTRACTORS: &str = "<!subteam^S0CONTRACT|@contractors>";
/// The same group as stored.
pub const CONTRACTORS_GROUP: &str = "slack-group:T0TEST:S0CONTRACT";

/// Options for an app whose Slack Web API is `fake`.
pub fn options(fake: &FakeWebApi) -> Options {
    Options {
        slack_api: Some(fake.api_url()),
        ..Options::default()
    }
}

fn github() -> ToolName {
    ToolName::parse("github").expect("tool")
}

fn group() -> Principal {
    Principal::parse(CONTRACTORS_GROUP).expect("group")
}

async fn grant_contractors(app: &TestApp) {
    let granted = app
        .slash(
            ADMIN,
            &format!("grant {CONTRACTORS} github for 1h incident 42"),
        )
        .await
        .ephemeral();
    assert!(
        granted.contains("Granted group `slack-group:T0TEST:S0CONTRACT`"),
        "{granted}"
    );
}

/// A member of a group holding a grant gets a code; `who`, `list` and `audit` show the
/// group, and the issued record names the member as actor and the group as subject. Someone
/// outside the group gets none.
pub async fn a_group_grant_serves_its_members_and_the_audit_names_both(
    app: &TestApp,
    fake: &FakeWebApi,
) {
    fake.set_group(TEAM, "S0CONTRACT", &["UALICE"]);
    grant_contractors(app).await;
    let code = app.slash("UALICE", "github").await.ephemeral();
    assert!(code.contains(&app.expected_code(app.now())), "{code}");
    let issued = app.last_event().await;
    assert_eq!(
        (issued.action, issued.outcome, issued.actor.as_str()),
        (Action::Code, Outcome::Issued, "slack:T0TEST:UALICE")
    );
    assert_eq!(issued.subject, Some(group()), "the record names the group");
    assert!(
        issued
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains(CONTRACTORS_GROUP),
        "{issued:?}"
    );
    let other = app.slash("UBOB", "github").await.ephemeral();
    assert!(other.contains("You have no access to GitHub"), "{other}");
    assert!(!other.contains(&app.expected_code(app.now())));
    let who = app.slash(ADMIN, "who github").await.ephemeral();
    assert!(
        who.contains(CONTRACTORS_GROUP) && who.contains("incident 42"),
        "{who}"
    );
    let list = app.slash("UALICE", "list").await.ephemeral();
    assert!(
        list.contains("`github` until") && list.contains(CONTRACTORS_GROUP),
        "{list}"
    );
    let audit = app
        .slash(ADMIN, "audit <!subteam^S0CONTRACT> since 1d")
        .await
        .ephemeral();
    assert!(
        audit.contains("code `github`") && audit.contains("issued"),
        "{audit}"
    );
    assert!(audit.contains("grant `github`"), "{audit}");
    assert!(!audit.contains("UBOB"), "only the group's records: {audit}");
}

/// Removed from the group in Slack, a member keeps getting codes only while the membership
/// read before is younger than `OTPBOT_GROUP_CACHE` (60 s here), and none after.
pub async fn a_member_removed_from_a_group_gets_no_code_once_the_cache_expired(
    app: &TestApp,
    fake: &FakeWebApi,
) {
    fake.set_group(TEAM, "S0CONTRACT", &["UALICE", "UBOB"]);
    grant_contractors(app).await;
    assert!(app
        .slash("UALICE", "github")
        .await
        .ephemeral()
        .contains("Your access ends"));
    fake.set_group(TEAM, "S0CONTRACT", &["UBOB"]);
    app.clock.advance(30);
    let cached = app.slash("UALICE", "github").await.ephemeral();
    assert!(
        cached.contains("Your access ends"),
        "within the cache: {cached}"
    );
    app.clock.advance(30);
    let after = app.slash("UALICE", "github").await.ephemeral();
    assert!(after.contains("You have no access to GitHub"), "{after}");
    assert!(!after.contains(&app.expected_code(app.now())));
    let denied = app.last_event().await;
    assert_eq!(
        (denied.action, denied.outcome),
        (Action::Code, Outcome::NoGrant)
    );
    assert!(app
        .slash("UBOB", "github")
        .await
        .ephemeral()
        .contains("Your access ends"));
}

/// A look-up that fails (Slack rate limiting, too slow, an error, a plan without user groups)
/// refuses the code with a clear private message, audited with the group; nothing is issued.
pub async fn a_failed_group_lookup_refuses_the_code(app: &TestApp, fake: &FakeWebApi) {
    fake.set_group(TEAM, "S0CONTRACT", &["UALICE"]);
    grant_contractors(app).await;
    for (failure, said) in [
        ("429", "rate limiting"),
        ("slow", "timed out"),
        ("internal_error", "internal_error"),
        ("plan_upgrade_required", "need a paid Slack plan"),
        ("missing_scope", "usergroups:read"),
    ] {
        fake.fail_groups(Some(failure));
        let reply = app.slash("UALICE", "github").await.ephemeral();
        assert!(
            reply.contains("could not check your membership of group") && reply.contains(said),
            "{failure}: {reply}"
        );
        assert!(
            !reply.contains(&app.expected_code(app.now())),
            "{failure}: no code"
        );
        let record = app.last_event().await;
        assert_eq!(
            (record.action, record.outcome, record.subject.clone()),
            (Action::Code, Outcome::Error, Some(group())),
            "{failure}"
        );
        assert!(
            record
                .detail
                .as_deref()
                .unwrap_or_default()
                .contains("look-up failed"),
            "{failure}: {record:?}"
        );
    }
    fake.fail_groups(None);
    assert!(app
        .slash("UALICE", "github")
        .await
        .ephemeral()
        .contains("Your access ends"));
}

/// A group of another workspace never serves a user of this one, whoever its members are:
/// not even its members are read.
pub async fn a_group_of_another_workspace_does_not_match(app: &TestApp, fake: &FakeWebApi) {
    fake.set_group("T0OTHER", "S0CONTRACT", &["UALICE"]);
    let granted = app
        .slash(ADMIN, "grant slack-group:T0OTHER:S0CONTRACT github for 1h")
        .await
        .ephemeral();
    assert!(granted.contains("Granted"), "{granted}");
    let reply = app.slash("UALICE", "github").await.ephemeral();
    assert!(reply.contains("You have no access to GitHub"), "{reply}");
    assert_eq!(fake.group_lookups(), 0, "no look-up for a foreign group");
}

/// Crafted mentions (lower case, upper-case keyword, unclosed, doubled, another special
/// mention, an injected mention) are refused with a clear error, and nothing is granted.
pub async fn a_crafted_group_mention_is_refused(app: &TestApp) {
    for text in [
        "grant <!subteam^s0contract> github",
        "grant <!SUBTEAM^S0CONTRACT> github",
        "grant <!subteam^S0CONTRACT|@x github",
        "grant <!subteam^S0CONTRACT|@x>> github",
        "grant <!subteam^S0CONTRACT<@UADMIN>> github",
        "grant <!here> github",
        "grant <!subteam^U0CONTRACT> github",
        "grant slack-group:t0test:s0contract github",
        "role add <!subteam^S0CONTRACT> admin",
        "role add <!subteam^S0CONTRACT> auditor",
    ] {
        let reply = app.slash(ADMIN, text).await.ephemeral();
        assert!(
            reply.contains("not a user or user group mention")
                || reply.contains("not a Slack user group principal")
                || reply.contains("not admin or auditor"),
            "{text}: {reply}"
        );
    }
    let extra = app
        .slash(ADMIN, "grant <!subteam^S1|@x> extra")
        .await
        .ephemeral();
    assert!(extra.contains("There is no tool called `extra`"), "{extra}");
    let holders = app.stores.access.holders(&github()).await.expect("holders");
    assert!(holders.is_empty(), "nothing granted: {holders:?}");
    let roles = app.stores.access.roles(&group()).await.expect("roles");
    assert!(!roles.admin && !roles.auditor, "{roles:?}");
}

/// A member of a group that approves a tool may approve others' requests, never their own;
/// a non-member may not; the group's members hear of the request, not the requester.
pub async fn a_group_approver_cannot_approve_own_request(app: &TestApp, fake: &FakeWebApi) {
    fake.set_group(TEAM, "S0APPROVE", &["UALICE", "UBOB"]);
    let made = app
        .slash(
            ADMIN,
            "role add <!subteam^S0APPROVE|@approvers> approver github",
        )
        .await
        .ephemeral();
    assert!(made.contains("now approves requests for"), "{made}");
    fake.clear();
    let asked = app.slash("UALICE", "request github").await.ephemeral();
    let id = request_id(&asked);
    app.settled().await;
    let told: Vec<String> = fake
        .bodies("conversations.open")
        .iter()
        .map(|b| b["users"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        told.contains(&"UBOB".to_owned()),
        "the group's other member: {told:?}"
    );
    assert!(
        !told.contains(&"UALICE".to_owned()),
        "never the requester: {told:?}"
    );
    let own = app
        .slash("UALICE", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(own.contains("Nobody approves their own request"), "{own}");
    let outsider = app
        .slash("UCAROL", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(
        outsider.contains("Only admins and the tool's approvers"),
        "{outsider}"
    );
    // Once the members read for the request's notices are too old, a failed look-up refuses.
    app.clock.advance(60);
    fake.fail_groups(Some("429"));
    let failed = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(
        failed.contains("could not check your membership"),
        "{failed}"
    );
    fake.fail_groups(None);
    let approved = app
        .slash("UBOB", &format!("approve {id}"))
        .await
        .ephemeral();
    assert!(approved.contains("Approved"), "{approved}");
    let record = app.last_event().await;
    assert_eq!(
        (record.action, record.actor.as_str()),
        (Action::Approve, "slack:T0TEST:UBOB")
    );
    assert!(
        record
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("as a member of group slack-group:T0TEST:S0APPROVE"),
        "the record names the group: {record:?}"
    );
    let grant = app
        .stores
        .access
        .grant(&super::principal("UALICE"), &github())
        .await
        .expect("read");
    assert_eq!(
        grant.map(|g| g.granted_by),
        Some(super::principal("UBOB")),
        "the member approved"
    );
}

/// A group's grant revoked ends its members' codes at once, whatever the cache holds.
pub async fn a_revoked_group_grant_serves_no_member(app: &TestApp, fake: &FakeWebApi) {
    fake.set_group(TEAM, "S0CONTRACT", &["UALICE"]);
    grant_contractors(app).await;
    assert!(app
        .slash("UALICE", "github")
        .await
        .ephemeral()
        .contains("Your access ends"));
    let revoked = app
        .slash(ADMIN, &format!("revoke {CONTRACTORS} github"))
        .await
        .ephemeral();
    assert!(revoked.contains("Revoked"), "{revoked}");
    let after = app.slash("UALICE", "github").await.ephemeral();
    assert!(after.contains("You have no access to GitHub"), "{after}");
    let records = app
        .stores
        .audit
        .query(&AuditQuery {
            limit: 50,
            ..AuditQuery::default()
        })
        .await
        .expect("query");
    assert!(records
        .events
        .iter()
        .any(|e| e.action == Action::Revoke && e.subject == Some(group())));
}
