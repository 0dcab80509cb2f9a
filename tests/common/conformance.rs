//! The store conformance suite: every backend must pass every function here. A backend's test
//! file instantiates them with `conformance_tests!(make_stores)`, where `make_stores` is an async
//! fn returning a fresh, empty `(Stores, Guard)`; the guard keeps the backend alive.

use otpbot::domain::{AccessRequest, AccessRequestId, Approval, RequestState, ToolRules};
use otpbot::domain::{
    Action, AuditEvent, AuditQuery, EventId, Grant, GrantDuration, Outcome, Person, Principal,
    RequestId, Role, Seed, Timestamp, Tool, ToolName,
};
use otpbot::domain::{MessageRef, Quota, RateLimit, SweepMark};
use otpbot::store::{Change, Decision, DecisionView, Effect, ReplayMark, Stores, Verdict};

pub fn tool_name(name: &str) -> ToolName {
    ToolName::parse(name).expect("tool name")
}

pub fn who(user: &str) -> Principal {
    Principal::parse(&format!("slack:T1:{user}")).expect("principal")
}

fn tool(name: &str) -> Tool {
    Tool {
        name: tool_name(name),
        display_name: format!("{name} display"),
        default_grant: GrantDuration::parse("8h").expect("8h"),
        max_grant: GrantDuration::parse("2w").expect("2w"),
        notify_channel: Some("C1".into()),
        approvals_channel: Some("C2".into()),
        rules: otpbot::domain::ToolRules::default(),
    }
}

pub fn grant(user: &str, tool: &str, expires: i64) -> Grant {
    Grant {
        principal: who(user),
        person: Person::from(&who(user)),
        tool: tool_name(tool),
        granted_by: who("UADMIN"),
        granted_at: Timestamp::from_unix(1_000),
        expires_at: Timestamp::from_unix(expires),
        reason: Some("because".into()),
    }
}

fn event(at: i64, actor: &str, tool: Option<&str>, outcome: Outcome) -> AuditEvent {
    let at = Timestamp::from_unix(at);
    AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor: who(actor),
        action: Action::Code,
        tool: tool.map(tool_name),
        subject: None,
        outcome,
        detail: Some("d".into()),
        channel: Some("C1".into()),
        code_mac: Some("ab".repeat(32)),
    }
}

/// Tools: put, get, list sorted, replace, remove (with their grants).
pub async fn tool_catalog(s: &Stores) {
    assert_eq!(
        s.access.tool(&tool_name("github")).await.expect("get"),
        None,
        "empty store has no tool"
    );
    apply(
        s,
        Change::PutTool {
            tool: tool("github"),
            seed: None,
        },
    )
    .await;
    apply(
        s,
        Change::PutTool {
            tool: tool("aws-root"),
            seed: None,
        },
    )
    .await;
    assert_eq!(
        s.access.tool(&tool_name("github")).await.expect("get"),
        Some(tool("github"))
    );
    let names: Vec<String> = s
        .access
        .tools()
        .await
        .expect("list")
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["aws-root", "github"], "tools sorted by name");
    let mut changed = tool("github");
    changed.display_name = "GitHub org".into();
    changed.notify_channel = None;
    changed.approvals_channel = Some("C3".into());
    apply(
        s,
        Change::PutTool {
            tool: changed.clone(),
            seed: None,
        },
    )
    .await;
    assert_eq!(
        s.access.tool(&tool_name("github")).await.expect("get"),
        Some(changed)
    );
    apply(s, Change::PutGrant(grant("U1", "github", 5_000))).await;
    assert!(apply(s, Change::RemoveTool(tool_name("github"))).await);
    assert!(
        !apply(s, Change::RemoveTool(tool_name("github"))).await,
        "second remove finds nothing"
    );
    assert_eq!(
        s.access
            .grant(&who("U1"), &tool_name("github"))
            .await
            .expect("get"),
        None,
        "grants go with the tool"
    );
}

/// Grants: put, get, by principal, by tool, replace, expired kept, delete.
pub async fn grants(s: &Stores) {
    catalog(s).await;
    apply(s, Change::PutGrant(grant("U1", "github", 5_000))).await;
    apply(s, Change::PutGrant(grant("U1", "aws-root", 500))).await;
    apply(s, Change::PutGrant(grant("U2", "github", 6_000))).await;
    let g = s
        .access
        .grant(&who("U1"), &tool_name("aws-root"))
        .await
        .expect("get")
        .expect("expired grant is returned");
    assert!(
        !g.is_active(Timestamp::from_unix(1_000)),
        "the caller, not the store, judges expiry"
    );
    let mine: Vec<String> = s
        .access
        .grants_for(&who("U1"))
        .await
        .expect("by principal")
        .iter()
        .map(|g| g.tool.to_string())
        .collect();
    assert_eq!(mine, ["aws-root", "github"]);
    let holders: Vec<String> = s
        .access
        .holders(&tool_name("github"))
        .await
        .expect("by tool")
        .iter()
        .map(|g| g.principal.to_string())
        .collect();
    assert_eq!(holders, ["slack:T1:U1", "slack:T1:U2"]);
    apply(s, Change::PutGrant(grant("U1", "github", 9_000))).await;
    let g = s
        .access
        .grant(&who("U1"), &tool_name("github"))
        .await
        .expect("get")
        .expect("grant");
    assert_eq!(
        g,
        grant("U1", "github", 9_000),
        "replace keeps one grant with the new expiry"
    );
    assert!(
        apply(
            s,
            Change::DeleteGrant {
                principal: who("U1"),
                tool: tool_name("github")
            }
        )
        .await
    );
    assert!(
        !apply(
            s,
            Change::DeleteGrant {
                principal: who("U1"),
                tool: tool_name("github")
            }
        )
        .await
    );
    assert_eq!(
        s.access
            .grant(&who("U1"), &tool_name("github"))
            .await
            .expect("get"),
        None
    );
}

/// Roles: add, idempotent add, list, remove.
pub async fn roles(s: &Stores) {
    assert_eq!(
        s.access.roles(&who("U1")).await.expect("roles"),
        Default::default()
    );
    assert!(
        apply(
            s,
            Change::SetRole {
                principal: who("U1"),
                role: Role::Auditor,
                on: true
            }
        )
        .await
    );
    assert!(
        !apply(
            s,
            Change::SetRole {
                principal: who("U1"),
                role: Role::Auditor,
                on: true
            }
        )
        .await,
        "no change the second time"
    );
    assert!(
        apply(
            s,
            Change::SetRole {
                principal: who("U1"),
                role: Role::Admin,
                on: true
            }
        )
        .await
    );
    let roles = s.access.roles(&who("U1")).await.expect("roles");
    assert!(roles.admin && roles.auditor);
    assert!(
        !s.access.roles(&who("U2")).await.expect("roles").auditor,
        "roles are per principal"
    );
    assert!(
        apply(
            s,
            Change::SetRole {
                principal: who("U1"),
                role: Role::Admin,
                on: false
            }
        )
        .await
    );
    let roles = s.access.roles(&who("U1")).await.expect("roles");
    assert!(!roles.admin && roles.auditor);
}

/// Seeds: round trip, per tool, replace, delete.
pub async fn seeds(s: &Stores) {
    let at = Timestamp::from_unix(59);
    let a = Seed::parse("JBSWY3DPEHPK3PXP").expect("seed a");
    let b = Seed::parse(
        "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&algorithm=SHA256",
    )
    .expect("seed b");
    assert!(s
        .secrets
        .seed(&tool_name("github"))
        .await
        .expect("get")
        .is_none());
    s.secrets
        .put_seed(&tool_name("github"), &a)
        .await
        .expect("put");
    s.secrets
        .put_seed(&tool_name("aws-root"), &b)
        .await
        .expect("put");
    let got = s
        .secrets
        .seed(&tool_name("github"))
        .await
        .expect("get")
        .expect("seed");
    assert_eq!(got.code_at(at), a.code_at(at));
    let got = s
        .secrets
        .seed(&tool_name("aws-root"))
        .await
        .expect("get")
        .expect("seed");
    assert_eq!(
        (got.code_at(at), got.digits()),
        (b.code_at(at), 8),
        "algorithm and digits survive"
    );
    s.secrets
        .put_seed(&tool_name("github"), &b)
        .await
        .expect("replace");
    let got = s
        .secrets
        .seed(&tool_name("github"))
        .await
        .expect("get")
        .expect("seed");
    assert_eq!(got.code_at(at), b.code_at(at));
    assert!(s
        .secrets
        .delete_seed(&tool_name("github"))
        .await
        .expect("delete"));
    assert!(s
        .secrets
        .seed(&tool_name("github"))
        .await
        .expect("get")
        .is_none());
}

/// Audit: append, filters by tool, actor, time; newest first; paging; append-only.
pub async fn audit_log(s: &Stores) {
    let events = [
        event(100, "U1", Some("github"), Outcome::Issued),
        event(200, "U2", Some("github"), Outcome::NoGrant),
        event(300, "U1", Some("aws-root"), Outcome::Issued),
        event(400, "U1", None, Outcome::Forbidden),
        event(400, "U2", Some("github"), Outcome::Issued),
    ];
    for e in &events {
        s.audit.append(e).await.expect("append");
    }
    assert!(
        s.audit.append(&events[0]).await.is_err(),
        "an event id is written once, never overwritten"
    );
    let all = s
        .audit
        .query(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("query");
    assert_eq!(all.events.len(), 5);
    assert!(all.next.is_none());
    let ids: Vec<_> = all.events.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<_> = events.iter().rev().map(|e| e.id.clone()).collect();
    assert_eq!(
        ids, expected,
        "newest first, same-second events in reverse append order"
    );
    assert_eq!(all.events[4], events[0], "every field round-trips");

    let q = |tool: Option<&str>, actor: Option<&str>, since: Option<i64>, until: Option<i64>| {
        AuditQuery {
            tool: tool.map(tool_name),
            actor: actor.map(who),
            since: since.map(Timestamp::from_unix),
            until: until.map(Timestamp::from_unix),
            limit: 100,
            ..Default::default()
        }
    };
    let cases = [
        (
            "by tool",
            q(Some("github"), None, None, None),
            vec![4, 1, 0],
        ),
        ("by actor", q(None, Some("U1"), None, None), vec![3, 2, 0]),
        ("by time", q(None, None, Some(200), Some(400)), vec![2, 1]),
        (
            "tool and actor",
            q(Some("github"), Some("U2"), None, None),
            vec![4, 1],
        ),
        (
            "tool, actor and time",
            q(Some("github"), Some("U2"), Some(300), None),
            vec![4],
        ),
        ("nothing", q(Some("zzz"), None, None, None), vec![]),
        (
            "inverted range",
            q(None, None, Some(400), Some(200)),
            vec![],
        ),
    ];
    for (name, query, want) in cases {
        let got: Vec<_> = s
            .audit
            .query(&query)
            .await
            .expect(name)
            .events
            .into_iter()
            .map(|e| e.id)
            .collect();
        let want: Vec<_> = want
            .into_iter()
            .map(|i: usize| events[i].id.clone())
            .collect();
        assert_eq!(got, want, "{name}");
    }

    let mut query = AuditQuery {
        limit: 2,
        ..Default::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = s.audit.query(&query).await.expect("page");
        assert!(page.events.len() <= 2, "page size honoured");
        pages.extend(page.events.into_iter().map(|e| e.id));
        match page.next {
            Some(next) => query.before_id = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, expected, "paging visits every event once, in order");
}

/// Commits `change` with a record of it; whether it changed anything.
pub async fn apply(s: &Stores, change: Change) -> bool {
    let at = Timestamp::from_unix(1_000);
    let mut record = event(1_000, "UADMIN", None, Outcome::Ok);
    record.action = match &change {
        Change::PutGrant(_) => Action::Grant,
        Change::DeleteGrant { .. } => Action::Revoke,
        Change::SetRole { on: true, .. } => Action::RoleAdd,
        Change::SetRole { on: false, .. } => Action::RoleRemove,
        Change::PutTool { .. } => Action::ToolAdd,
        Change::RemoveTool(_) => Action::ToolRemove,
        Change::SetApprover { .. } => Action::ApproverSet,
        Change::OpenRequest(_) => Action::AccessRequest,
        Change::DecideRequest { grant: Some(_), .. } => Action::Approve,
        Change::DecideRequest { grant: None, .. } => Action::Deny,
        Change::Mark(_) => Action::Remind,
        Change::AddCopies { .. } => Action::AccessRequest,
        Change::CountApproval { .. } => Action::Approve,
        Change::BreakGlass { .. } => Action::BreakGlass,
        Change::ReviewBreakGlass { .. } => Action::Review,
    };
    record.at = at;
    s.change(change, record).await.expect("change")
}

/// Puts `github` and `aws-root` in the catalog (grants need their tool).
pub async fn catalog(s: &Stores) {
    for name in ["github", "aws-root"] {
        apply(
            s,
            Change::PutTool {
                tool: tool(name),
                seed: None,
            },
        )
        .await;
    }
}

/// Every audit event, oldest first.
pub async fn all_events(s: &Stores) -> Vec<AuditEvent> {
    let page = s
        .audit
        .query(&AuditQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("query");
    page.events.into_iter().rev().collect()
}

pub fn quota(key: &str, limit: u64, window_secs: i64) -> Quota {
    Quota {
        key: key.into(),
        limit: RateLimit { limit, window_secs },
    }
}

/// An "issued" decision for `user` on github at `at`, with `quotas`.
pub fn issue(user: &str, at: i64, quotas: Vec<Quota>, replay: Option<&str>) -> Decision {
    let now = Timestamp::from_unix(at);
    Decision {
        now,
        replay: replay.map(|key| ReplayMark {
            key: key.into(),
            expires_at: now.plus_secs(300),
        }),
        quotas,
        record: Some(event(at, user, Some("github"), Outcome::Issued)),
        effect: Effect::Issue {
            principal: who(user),
            tool: tool_name("github"),
        },
    }
}

async fn decide(s: &Stores, d: &Decision) -> Verdict {
    let view = s
        .decisions
        .view(&who("U1"), Some(&tool_name("github")), &d.quotas)
        .await
        .expect("view");
    s.decisions.decide(&view, d).await.expect("decide")
}

pub fn issued(events: &[AuditEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .count()
}

/// Replay markers: first sighting once until expiry, alone or inside a decision.
pub async fn replay_markers(s: &Stores) {
    catalog(s).await;
    let (t0, exp) = (Timestamp::from_unix(1_000), Timestamp::from_unix(1_300));
    assert!(s
        .counters
        .first_sighting("sig-a", exp, t0)
        .await
        .expect("first"));
    assert!(
        !s.counters
            .first_sighting("sig-a", exp, t0.plus_secs(299))
            .await
            .expect("replay"),
        "a replay within the window"
    );
    assert!(s
        .counters
        .first_sighting("sig-b", exp, t0)
        .await
        .expect("other key"));
    assert!(s
        .counters
        .first_sighting("sig-a", Timestamp::from_unix(1_700), t0.plus_secs(300))
        .await
        .expect("after expiry"));

    apply(s, Change::PutGrant(grant("U1", "github", 5_000))).await;
    let d = issue("U1", 1_000, vec![], Some("sig-c"));
    assert_eq!(decide(s, &d).await, Verdict::Done { changed: true });
    let again = issue("U1", 1_001, vec![], Some("sig-c"));
    assert_eq!(
        decide(s, &again).await,
        Verdict::Replay,
        "a replayed decision"
    );
    assert_eq!(
        issued(&all_events(s).await),
        1,
        "the replay recorded nothing"
    );
}

/// Each change commits with its record; a change that finds nothing to do records the
/// "unchanged" record instead and changes nothing.
pub async fn changes_commit_with_their_record(s: &Stores) {
    catalog(s).await;
    let revoke = |at: i64| {
        let mut done = event(at, "UADMIN", Some("github"), Outcome::Ok);
        done.action = Action::Revoke;
        done.detail = Some("grant revoked".into());
        let mut nothing = done.clone();
        nothing.id = EventId::new(Timestamp::from_unix(at));
        nothing.detail = Some("no grant to revoke".into());
        Decision {
            now: Timestamp::from_unix(at),
            replay: None,
            quotas: vec![],
            record: Some(done),
            effect: Effect::Change {
                change: Change::DeleteGrant {
                    principal: who("U1"),
                    tool: tool_name("github"),
                },
                if_unchanged: Some(nothing),
            },
        }
    };
    apply(s, Change::PutGrant(grant("U1", "github", 5_000))).await;
    let first = revoke(1_100);
    assert_eq!(
        decide(s, &first).await,
        Verdict::Done { changed: true },
        "the grant was there"
    );
    let second = revoke(1_200);
    assert_eq!(
        decide(s, &second).await,
        Verdict::Done { changed: false },
        "nothing left to revoke"
    );
    let details: Vec<_> = all_events(s)
        .await
        .into_iter()
        .filter(|e| e.action == Action::Revoke)
        .map(|e| e.detail.unwrap_or_default())
        .collect();
    assert_eq!(details, ["grant revoked", "no grant to revoke"]);
    assert!(s
        .access
        .grant(&who("U1"), &tool_name("github"))
        .await
        .expect("get")
        .is_none());

    // A record whose id exists already fails the whole decision: the change is not made.
    let mut clash = event(1_300, "UADMIN", Some("github"), Outcome::Ok);
    clash.id = all_events(s).await[0].id.clone();
    let decision = Decision {
        now: Timestamp::from_unix(1_300),
        replay: None,
        quotas: vec![],
        record: Some(clash),
        effect: Effect::Change {
            change: Change::PutGrant(grant("U2", "github", 9_000)),
            if_unchanged: None,
        },
    };
    assert!(
        s.decisions
            .decide(&DecisionView::default(), &decision)
            .await
            .is_err(),
        "a record that cannot be written fails the decision"
    );
    assert!(
        s.access
            .grant(&who("U2"), &tool_name("github"))
            .await
            .expect("get")
            .is_none(),
        "no change without its record"
    );
}

/// Replacing a tool's seed commits with its record or not at all: a change whose record
/// cannot be written leaves the old seed the one codes come from.
pub async fn a_failed_seed_replacement_keeps_the_old_seed(s: &Stores) {
    let at = Timestamp::from_unix(59);
    let old = Seed::parse("JBSWY3DPEHPK3PXP").expect("seed");
    let new = Seed::parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").expect("seed");
    let put = |seed: &Seed| Change::PutTool {
        tool: tool("github"),
        seed: Some(seed.clone()),
    };
    apply(s, put(&old)).await;
    let mut clash = event(1_300, "UADMIN", Some("github"), Outcome::Ok);
    clash.action = Action::ToolAdd;
    clash.id = all_events(s).await[0].id.clone();
    let decision = Decision {
        now: Timestamp::from_unix(1_300),
        replay: None,
        quotas: vec![],
        record: Some(clash),
        effect: Effect::Change {
            change: put(&new),
            if_unchanged: None,
        },
    };
    assert!(
        s.decisions
            .decide(&DecisionView::default(), &decision)
            .await
            .is_err(),
        "the record could not be written"
    );
    let seed = s
        .secrets
        .seed(&tool_name("github"))
        .await
        .expect("seed")
        .expect("still there");
    assert_eq!(
        seed.code_at(at),
        old.code_at(at),
        "the old seed is still in use"
    );
    apply(s, put(&new)).await;
    let seed = s
        .secrets
        .seed(&tool_name("github"))
        .await
        .expect("seed")
        .expect("seed");
    assert_eq!(
        seed.code_at(at),
        new.code_at(at),
        "a recorded replacement takes effect"
    );
}

/// An issuance re-checks the grant at decision time inside its transaction: a grant revoked
/// after the caller read it, or expired by then, issues nothing and records nothing.
pub async fn issue_rechecks_the_grant(s: &Stores) {
    catalog(s).await;
    apply(s, Change::PutGrant(grant("U1", "github", 5_000))).await;
    let stale = s
        .decisions
        .view(&who("U1"), Some(&tool_name("github")), &[])
        .await
        .expect("view");
    assert!(stale.grant.is_some(), "the view saw the grant");
    assert_eq!(
        stale.tool.as_ref().map(|t| &t.name),
        Some(&tool_name("github")),
        "the view read the catalog entry with the grant"
    );
    let unknown = s
        .decisions
        .view(&who("U1"), Some(&tool_name("gitlab")), &[])
        .await
        .expect("view");
    assert!(
        unknown.tool.is_none() && unknown.grant.is_none(),
        "no catalog entry, no grant: {unknown:?}"
    );
    apply(
        s,
        Change::DeleteGrant {
            principal: who("U1"),
            tool: tool_name("github"),
        },
    )
    .await;
    let d = issue("U1", 1_500, vec![], None);
    assert_eq!(
        s.decisions.decide(&stale, &d).await.expect("decide"),
        Verdict::NoGrant,
        "revoked between the read and the decision"
    );
    apply(s, Change::PutGrant(grant("U1", "github", 5_000))).await;
    assert_eq!(
        decide(s, &issue("U1", 5_000, vec![], None)).await,
        Verdict::Expired(Timestamp::from_unix(5_000)),
        "expired at the decision time"
    );
    assert_eq!(issued(&all_events(s).await), 0, "no issued record");
    assert_eq!(
        decide(s, &issue("U1", 4_999, vec![], None)).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(issued(&all_events(s).await), 1);
}

/// A group holds grants and approver roles like a user: a code through the group's grant is
/// re-checked on the group's grant in the transaction (revoked or expired: none), recorded with
/// the member as actor and the group as subject, and read back so.
pub async fn group_grants_and_approvers(s: &Stores) {
    catalog(s).await;
    let group = Principal::parse("slack-group:T1:S0CONTRACT").expect("group");
    let group_grant = Grant {
        principal: group.clone(),
        person: Person::from(&group),
        ..grant("U1", "github", 5_000)
    };
    apply(s, Change::PutGrant(group_grant.clone())).await;
    let holders = s
        .access
        .holders(&tool_name("github"))
        .await
        .expect("holders");
    assert_eq!(holders, vec![group_grant], "the group holds the grant");
    let through_group = |at: i64| {
        let mut d = issue("U1", at, vec![], None);
        d.effect = Effect::Issue {
            principal: group.clone(),
            tool: tool_name("github"),
        };
        if let Some(record) = d.record.as_mut() {
            record.subject = Some(group.clone());
        }
        d
    };
    assert_eq!(
        decide(s, &through_group(1_500)).await,
        Verdict::Done { changed: true }
    );
    let record = all_events(s).await.pop().expect("the issued record");
    assert_eq!(
        (record.actor, record.subject),
        (who("U1"), Some(group.clone())),
        "member and group both named"
    );
    assert_eq!(
        decide(s, &through_group(5_000)).await,
        Verdict::Expired(Timestamp::from_unix(5_000))
    );
    apply(
        s,
        Change::DeleteGrant {
            principal: group.clone(),
            tool: tool_name("github"),
        },
    )
    .await;
    assert_eq!(decide(s, &through_group(1_600)).await, Verdict::NoGrant);
    apply(
        s,
        Change::SetApprover {
            principal: group.clone(),
            tool: tool_name("github"),
            on: true,
        },
    )
    .await;
    assert!(s
        .access
        .is_approver(&group, &tool_name("github"))
        .await
        .expect("read"));
    let approvers = s
        .access
        .approvers(&tool_name("github"))
        .await
        .expect("read");
    assert!(approvers.contains(&group), "{approvers:?}");
}

/// A tool removed after a caller read it issues nothing, and takes no new grants.
pub async fn a_removed_tool_issues_nothing(s: &Stores) {
    catalog(s).await;
    apply(s, Change::PutGrant(grant("U1", "github", 5_000))).await;
    let stale = s
        .decisions
        .view(&who("U1"), Some(&tool_name("github")), &[])
        .await
        .expect("view");
    apply(s, Change::RemoveTool(tool_name("github"))).await;
    let d = issue("U1", 1_500, vec![], None);
    let verdict = s.decisions.decide(&stale, &d).await.expect("decide");
    assert!(
        matches!(verdict, Verdict::UnknownTool | Verdict::NoGrant),
        "removed between the read and the decision: {verdict:?}"
    );
    let late_grant = Decision {
        now: Timestamp::from_unix(1_600),
        replay: None,
        quotas: vec![],
        record: Some(event(1_600, "UADMIN", Some("github"), Outcome::Ok)),
        effect: Effect::Change {
            change: Change::PutGrant(grant("U1", "github", 5_000)),
            if_unchanged: None,
        },
    };
    assert_eq!(
        s.decisions
            .decide(&DecisionView::default(), &late_grant)
            .await
            .expect("decide"),
        Verdict::UnknownTool,
        "no grant for a tool that is gone"
    );
    assert!(s
        .access
        .grant(&who("U1"), &tool_name("github"))
        .await
        .expect("get")
        .is_none());
    assert_eq!(
        issued(&all_events(s).await),
        0,
        "nothing issued, nothing recorded"
    );
}

/// A limit of N per W admits exactly N in any window of length W, at the window edge too, and
/// a refused decision takes nothing (not its replay marker either).
pub async fn limits_are_exact_at_the_window_edge(s: &Stores) {
    catalog(s).await;
    apply(s, Change::PutGrant(grant("U1", "github", 100_000))).await;
    let q = || vec![quota("tool:U1:github", 3, 60)];
    let mut verdicts = Vec::new();
    for (at, replay) in [
        (1_000, "r1"),
        (1_000, "r2"),
        (1_030, "r3"),
        (1_059, "r4"),
        (1_060, "r4"),
        (1_060, "r5"),
        (1_089, "r6"),
        (1_090, "r7"),
    ] {
        verdicts.push(decide(s, &issue("U1", at, q(), Some(replay))).await);
    }
    let done = Verdict::Done { changed: true };
    let limited = Verdict::Limited(0);
    assert_eq!(
        verdicts,
        [
            done.clone(),
            done.clone(),
            done.clone(),
            limited.clone(),
            done.clone(),
            done.clone(),
            limited,
            done
        ],
        "3 per 60 s: full until the first admission is a whole window old; a refused \
         request's replay marker (r4) was not kept"
    );
    let times: Vec<i64> = all_events(s)
        .await
        .iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .map(|e| e.at.unix())
        .collect();
    for start in 900..1_200 {
        let inside = times
            .iter()
            .filter(|t| **t >= start && **t < start + 60)
            .count();
        assert!(
            inside <= 3,
            "window at {start}: {inside} codes in {times:?}"
        );
    }
}

/// 64 concurrent issuances against a limit of 10 admit exactly 10, each with its record.
pub async fn limits_hold_under_concurrency(s: &Stores) {
    catalog(s).await;
    apply(s, Change::PutGrant(grant("U1", "github", 100_000))).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let d = issue(
                "U1",
                2_000,
                vec![
                    quota("caller:U1", 11, 600),
                    quota("tool:U1:github", 10, 600),
                ],
                Some(&format!("burst-{i}")),
            );
            decide(&s, &d).await
        }));
    }
    let mut done = 0;
    for t in tasks {
        match t.await.expect("task") {
            Verdict::Done { .. } => done += 1,
            Verdict::Limited(1) => {}
            other => panic!("unexpected verdict {other:?}"),
        }
    }
    assert_eq!(done, 10, "exactly the limit was admitted");
    assert_eq!(issued(&all_events(s).await), 10, "one record per code");
    // The per-caller limit of 11 took exactly the 10 admissions: one more fits, then no more.
    let caller_only =
        |at: i64, replay: &str| issue("U1", at, vec![quota("caller:U1", 11, 600)], Some(replay));
    assert_eq!(
        decide(s, &caller_only(2_001, "after-1")).await,
        Verdict::Done { changed: true },
        "refused decisions took no per-caller quota"
    );
    assert_eq!(
        decide(s, &caller_only(2_002, "after-2")).await,
        Verdict::Limited(0),
        "the per-caller limit is full after its eleventh"
    );
}

fn request_id(id: &str) -> AccessRequestId {
    AccessRequestId::parse(id).expect("request id")
}

fn access_request(id: &str, user: &str, tool: &str, at: i64, expires: i64) -> AccessRequest {
    AccessRequest {
        id: request_id(id),
        requester: who(user),
        requester_person: Person::from(&who(user)),
        tool: tool_name(tool),
        duration: GrantDuration::parse("2h").expect("2h"),
        reason: Some("deploy fix".into()),
        requested_at: Timestamp::from_unix(at),
        expires_at: Timestamp::from_unix(expires),
        state: RequestState::Open,
        approvals_required: 1,
        approvals: Vec::new(),
        // Teams gives display names, Slack none: both are kept as given.
        requester_name: (user != "U2").then(|| format!("{user} Zoë Display")),
        decided_by_name: None,
    }
}

/// A decision that changes `change` at `at`, recorded as `action` by `actor`.
fn request_decision(change: Change, actor: &str, action: Action, at: i64) -> Decision {
    let mut record = event(at, actor, None, Outcome::Ok);
    record.action = action;
    record.code_mac = None;
    Decision {
        now: Timestamp::from_unix(at),
        replay: None,
        quotas: Vec::new(),
        record: Some(record),
        effect: Effect::Change {
            change,
            if_unchanged: None,
        },
    }
}

fn open(r: &AccessRequest, at: i64) -> Decision {
    let actor = r
        .requester
        .as_str()
        .rsplit(':')
        .next()
        .expect("user")
        .to_owned();
    request_decision(
        Change::OpenRequest(r.clone()),
        &actor,
        Action::AccessRequest,
        at,
    )
}

/// `approver` decides request `id` of `user` for `tool` at `at`; approves when `approve`.
fn decide_request(
    id: &str,
    user: &str,
    tool: &str,
    approver: &str,
    approve: bool,
    at: i64,
) -> Decision {
    let grant = approve.then(|| Grant {
        principal: who(user),
        person: Person::from(&who(user)),
        tool: tool_name(tool),
        granted_by: who(approver),
        granted_at: Timestamp::from_unix(at),
        expires_at: Timestamp::from_unix(at + 7_200),
        reason: Some("deploy fix".into()),
    });
    let action = if approve {
        Action::Approve
    } else {
        Action::Deny
    };
    let change = Change::DecideRequest {
        id: request_id(id),
        requester: who(user),
        tool: tool_name(tool),
        by: who(approver),
        // Teams gives display names, Slack none: both are kept as given.
        by_name: (approver != "U8").then(|| format!("{approver} Zoë Decider")),
        grant,
    };
    request_decision(change, approver, action, at)
}

async fn decide_plain(s: &Stores, d: &Decision) -> Verdict {
    s.decisions
        .decide(&DecisionView::default(), d)
        .await
        .expect("decide")
}

fn count(events: &[AuditEvent], action: Action) -> usize {
    events.iter().filter(|e| e.action == action).count()
}

/// The per-tool approver role: given, read back per tool, taken away; not an admin role.
pub async fn approvers_per_tool(s: &Stores) {
    catalog(s).await;
    let github = tool_name("github");
    assert!(!s
        .access
        .is_approver(&who("U2"), &github)
        .await
        .expect("read"));
    let on = |on| Change::SetApprover {
        principal: who("U2"),
        tool: github.clone(),
        on,
    };
    assert!(apply(s, on(true)).await);
    assert!(!apply(s, on(true)).await, "already an approver");
    assert!(s
        .access
        .is_approver(&who("U2"), &github)
        .await
        .expect("read"));
    assert!(
        !s.access
            .is_approver(&who("U2"), &tool_name("aws-root"))
            .await
            .expect("read"),
        "approver of github only"
    );
    assert_eq!(
        s.access.roles(&who("U2")).await.expect("roles"),
        otpbot::domain::Roles::default(),
        "an approver is neither admin nor auditor"
    );
    // Who is told of a request: stored admins and the tool's own approvers, once each.
    assert!(
        apply(
            s,
            Change::SetRole {
                principal: who("U9"),
                role: Role::Admin,
                on: true,
            }
        )
        .await
    );
    assert_eq!(
        s.access.approvers(&github).await.expect("approvers"),
        [who("U2"), who("U9")]
    );
    assert_eq!(
        s.access
            .approvers(&tool_name("aws-root"))
            .await
            .expect("approvers"),
        [who("U9")],
        "github's approver is not aws-root's"
    );
    assert!(apply(s, on(false)).await);
    assert!(!apply(s, on(false)).await, "no longer an approver");
    assert_eq!(
        s.access.approvers(&github).await.expect("approvers"),
        [who("U9")]
    );
    assert!(!s
        .access
        .is_approver(&who("U2"), &github)
        .await
        .expect("read"));
}

/// Requests: one open per requester and tool; decided once, inside the transaction; an
/// approval makes the grant with its record; expired and unknown requests are refused and
/// leave no trace.
pub async fn access_requests_open_once_and_decide_once(s: &Stores) {
    catalog(s).await;
    let r1 = access_request("r1", "U1", "github", 1_000, 4_600);
    assert_eq!(
        decide_plain(s, &open(&r1, 1_000)).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(
        s.access
            .access_request(&request_id("r1"))
            .await
            .expect("read"),
        Some(r1.clone())
    );
    let r2 = access_request("r2", "U1", "github", 1_100, 4_700);
    assert_eq!(
        decide_plain(s, &open(&r2, 1_100)).await,
        Verdict::Pending,
        "one open request per requester and tool"
    );
    assert_eq!(
        s.access
            .access_request(&request_id("r2"))
            .await
            .expect("read"),
        None
    );
    let other = access_request("r3", "U1", "aws-root", 1_100, 4_700);
    assert_eq!(
        decide_plain(s, &open(&other, 1_100)).await,
        Verdict::Done { changed: true }
    );
    let unknown = access_request("r4", "U1", "nope", 1_100, 4_700);
    assert_eq!(
        decide_plain(s, &open(&unknown, 1_100)).await,
        Verdict::UnknownTool
    );

    assert_eq!(
        decide_plain(s, &decide_request("r1", "U1", "github", "U9", true, 2_000)).await,
        Verdict::Done { changed: true }
    );
    let decided = s
        .access
        .access_request(&request_id("r1"))
        .await
        .expect("read");
    assert_eq!(
        decided.map(|r| (r.state, r.decided_by_name)),
        Some((
            RequestState::Approved {
                by: who("U9"),
                at: Timestamp::from_unix(2_000)
            },
            Some("U9 Zoë Decider".to_owned())
        ))
    );
    let g = s
        .access
        .grant(&who("U1"), &tool_name("github"))
        .await
        .expect("grant");
    assert_eq!(
        g.map(|g| (g.granted_by, g.expires_at)),
        Some((who("U9"), Timestamp::from_unix(9_200)))
    );
    assert_eq!(
        decide_plain(s, &decide_request("r1", "U1", "github", "U8", false, 2_001)).await,
        Verdict::Decided,
        "the first decision wins"
    );
    assert_eq!(
        decide_plain(s, &decide_request("zz", "U1", "github", "U8", true, 2_001)).await,
        Verdict::NoRequest
    );
    // The decision freed the slot: a new request for github opens, and a denial grants nothing.
    let r5 = access_request("r5", "U1", "github", 2_100, 5_700);
    assert_eq!(
        decide_plain(s, &open(&r5, 2_100)).await,
        Verdict::Done { changed: true }
    );
    apply(
        s,
        Change::DeleteGrant {
            principal: who("U1"),
            tool: tool_name("github"),
        },
    )
    .await;
    assert_eq!(
        decide_plain(s, &decide_request("r5", "U1", "github", "U9", false, 2_200)).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(
        s.access
            .grant(&who("U1"), &tool_name("github"))
            .await
            .expect("grant"),
        None
    );
    // r3 expires undecided at 4 700: a late approval is refused and grants nothing; the
    // requester may then ask again.
    assert_eq!(
        decide_plain(
            s,
            &decide_request("r3", "U1", "aws-root", "U9", true, 4_700)
        )
        .await,
        Verdict::RequestExpired
    );
    assert_eq!(
        s.access
            .grant(&who("U1"), &tool_name("aws-root"))
            .await
            .expect("grant"),
        None
    );
    let r6 = access_request("r6", "U1", "aws-root", 4_700, 8_300);
    assert_eq!(
        decide_plain(s, &open(&r6, 4_700)).await,
        Verdict::Done { changed: true }
    );

    let events = all_events(s).await;
    assert_eq!(
        count(&events, Action::AccessRequest),
        4,
        "r1, r3, r5, r6 recorded"
    );
    assert_eq!(
        count(&events, Action::Approve),
        1,
        "refused approvals recorded nothing"
    );
    assert_eq!(count(&events, Action::Deny), 1);
}

/// An approval never shortens a grant: against a grant that ends later, the request is
/// approved, the grant stays as it was and the "kept" record is written instead, in the same
/// transaction; against one that ends sooner, the approval's grant replaces it.
pub async fn approvals_never_shorten_a_grant(s: &Stores) {
    catalog(s).await;
    let held = grant("U1", "github", 50_000);
    assert!(apply(s, Change::PutGrant(held.clone())).await);
    let r = access_request("keep", "U1", "github", 1_000, 4_600);
    assert_eq!(
        decide_plain(s, &open(&r, 1_000)).await,
        Verdict::Done { changed: true }
    );
    // The approval's grant ends at 9 200, before the 50 000 already held.
    let mut d = decide_request("keep", "U1", "github", "U9", true, 2_000);
    let mut kept = event(2_000, "U9", Some("github"), Outcome::Ok);
    kept.action = Action::Approve;
    kept.detail = Some("kept".into());
    if let Effect::Change { if_unchanged, .. } = &mut d.effect {
        *if_unchanged = Some(kept.clone());
    }
    assert_eq!(decide_plain(s, &d).await, Verdict::Done { changed: false });
    let now = s
        .access
        .grant(&who("U1"), &tool_name("github"))
        .await
        .expect("read");
    assert_eq!(
        now,
        Some(held),
        "the later end stays, granted by whom it was"
    );
    let state = s
        .access
        .access_request(&request_id("keep"))
        .await
        .expect("read")
        .map(|r| r.state);
    assert_eq!(
        state,
        Some(RequestState::Approved {
            by: who("U9"),
            at: Timestamp::from_unix(2_000)
        })
    );
    let events = all_events(s).await;
    let approvals: Vec<_> = events
        .iter()
        .filter(|e| e.action == Action::Approve)
        .collect();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].id, kept.id, "the kept record, not the grant's");

    // A grant that ends sooner is lengthened.
    assert!(apply(s, Change::PutGrant(grant("U2", "github", 3_000))).await);
    let r = access_request("longer", "U2", "github", 1_000, 4_600);
    decide_plain(s, &open(&r, 1_000)).await;
    assert_eq!(
        decide_plain(
            s,
            &decide_request("longer", "U2", "github", "U9", true, 2_000)
        )
        .await,
        Verdict::Done { changed: true }
    );
    let now = s
        .access
        .grant(&who("U2"), &tool_name("github"))
        .await
        .expect("read");
    assert_eq!(now.map(|g| g.expires_at), Some(Timestamp::from_unix(9_200)));
}

/// Sixteen approvers decide one request at once: exactly one decision commits, the others are
/// told it was decided; the stored state, the grant and the records agree with the winner.
pub async fn racing_approvers_one_decision_wins(s: &Stores) {
    catalog(s).await;
    let r = access_request("race", "U1", "github", 1_000, 4_600);
    assert_eq!(
        decide_plain(s, &open(&r, 1_000)).await,
        Verdict::Done { changed: true }
    );
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let approver = format!("UA{i}");
            let d = decide_request("race", "U1", "github", &approver, i % 2 == 0, 2_000);
            (i, decide_plain(&s, &d).await)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            (i, Verdict::Done { changed: true }) => winners.push(i),
            (_, Verdict::Decided) => {}
            (_, other) => panic!("unexpected verdict {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one decision wins: {winners:?}");
    let winner = winners[0];
    let state = s
        .access
        .access_request(&request_id("race"))
        .await
        .expect("read")
        .map(|r| r.state);
    let by = who(&format!("UA{winner}"));
    let at = Timestamp::from_unix(2_000);
    let grant = s
        .access
        .grant(&who("U1"), &tool_name("github"))
        .await
        .expect("grant");
    let events = all_events(s).await;
    if winner % 2 == 0 {
        assert_eq!(state, Some(RequestState::Approved { by: by.clone(), at }));
        assert_eq!(grant.map(|g| g.granted_by), Some(by));
        assert_eq!(
            (
                count(&events, Action::Approve),
                count(&events, Action::Deny)
            ),
            (1, 0)
        );
    } else {
        assert_eq!(state, Some(RequestState::Denied { by, at }));
        assert_eq!(grant, None);
        assert_eq!(
            (
                count(&events, Action::Approve),
                count(&events, Action::Deny)
            ),
            (0, 1)
        );
    }
}

/// The person behind a request and a grant is stored and read back as written.
pub async fn persons_are_recorded_with_requests_and_grants(s: &Stores) {
    catalog(s).await;
    let grid = Person::parse("slack:E0ORG:W0SELF").expect("person");
    let mut r = access_request("grid", "W0SELF", "github", 1_000, 4_600);
    r.requester_person = grid.clone();
    decide_plain(s, &open(&r, 1_000)).await;
    let read = s
        .access
        .access_request(&request_id("grid"))
        .await
        .expect("read");
    assert_eq!(read.map(|r| r.requester_person), Some(grid.clone()));
    let mut g = grant("W0SELF", "github", 9_000);
    g.person = grid.clone();
    assert!(apply(s, Change::PutGrant(g)).await);
    let read = s
        .access
        .grant(&who("W0SELF"), &tool_name("github"))
        .await
        .expect("read");
    assert_eq!(read.map(|g| g.person), Some(grid));
}

/// Instantiates the suite for one backend.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make, tool_catalog, grants, roles, seeds, audit_log, replay_markers,
            changes_commit_with_their_record, a_failed_seed_replacement_keeps_the_old_seed,
            issue_rechecks_the_grant, a_removed_tool_issues_nothing,
            limits_are_exact_at_the_window_edge, limits_hold_under_concurrency,
            approvers_per_tool, access_requests_open_once_and_decide_once,
            racing_approvers_one_decision_wins, approvals_never_shorten_a_grant,
            persons_are_recorded_with_requests_and_grants, sweep_marks_each_item_once,
            tool_rules_are_stored_and_read_back,
            each_approval_counts_against_what_was_read, two_approvers_clicking_at_once_grant_once,
            many_approvers_clicking_at_once_count_exactly_the_approvals_needed,
            break_glass_once_per_person_and_tool_per_period,
            break_glass_twice_at_once_commits_once, a_break_glass_is_reviewed_once,
            group_grants_and_approvers);
    };
    (@each $make:path, $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (stores, _guard) = $make().await;
                common::conformance::$name(&stores).await;
            }
        )+
    };
}

/// Writes `count` events and pages through them newest first, 500 at a time.
pub async fn paging_over_many_events(s: &Stores, count: usize) {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let e = event(
            10_000 + (i / 7) as i64,
            "U1",
            Some("github"),
            Outcome::Issued,
        );
        ids.push(e.id.clone());
        s.audit.append(&e).await.expect("append");
    }
    ids.reverse();
    for (name, query) in [
        (
            "all",
            AuditQuery {
                limit: 500,
                ..Default::default()
            },
        ),
        (
            "by tool",
            AuditQuery {
                tool: Some(tool_name("github")),
                limit: 500,
                ..Default::default()
            },
        ),
    ] {
        let mut query = query;
        let mut seen = Vec::new();
        loop {
            let page = s.audit.query(&query).await.expect("page");
            seen.extend(page.events.into_iter().map(|e| e.id));
            match page.next {
                Some(next) => query.before_id = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ids, "{name}: every event once, newest first");
    }
}

/// The sweep's marks: each is made once, by one of two racing sweeps, only while it applies,
/// with its record or not at all; the sweep's reads see what is still to do; a request keeps
/// where its copies were posted; a renewed grant is a new grant to warn of.
pub async fn sweep_marks_each_item_once(s: &Stores) {
    catalog(s).await;
    let mark =
        |m: SweepMark, at: i64| request_decision(Change::Mark(m), "USWEEP", Action::Remind, at);
    let r1 = access_request("r1", "U1", "github", 1_000, 4_600);
    decide_plain(s, &open(&r1, 1_000)).await;
    let undecided = s
        .sweep
        .undecided_requests(Timestamp::from_unix(0))
        .await
        .expect("read");
    assert_eq!(undecided.len(), 1);
    assert_eq!(
        (undecided[0].reminded, undecided[0].copies.len()),
        (false, 0)
    );

    let copies = vec![
        MessageRef::Slack {
            channel: "C2".into(),
            ts: "1.1".into(),
        },
        MessageRef::Slack {
            channel: "D1".into(),
            ts: "1.2".into(),
        },
    ];
    let add = |id: &str| Decision {
        record: None,
        ..request_decision(
            Change::AddCopies {
                id: request_id(id),
                copies: copies.clone(),
            },
            "USWEEP",
            Action::AccessRequest,
            1_001,
        )
    };
    assert_eq!(
        decide_plain(s, &add("r1")).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(
        decide_plain(s, &add("nope")).await,
        Verdict::Done { changed: false }
    );
    assert_eq!(
        s.sweep.copies(&request_id("r1")).await.expect("copies"),
        copies
    );

    // Two sweeps race to remind: one marks it, with one record.
    // Each sweep writes a record of its own (its own event id).
    let remind = || mark(SweepMark::Reminded(request_id("r1")), 2_000);
    let (first, second) = (remind(), remind());
    let (a, b) = tokio::join!(decide_plain(s, &first), decide_plain(s, &second));
    let mut verdicts = vec![a, b];
    verdicts.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(
        verdicts,
        [
            Verdict::Done { changed: false },
            Verdict::Done { changed: true }
        ]
    );
    assert_eq!(count(&all_events(s).await, Action::Remind), 1, "one record");
    let undecided = s
        .sweep
        .undecided_requests(Timestamp::from_unix(0))
        .await
        .expect("read");
    assert!(undecided[0].reminded);
    assert_eq!(undecided[0].copies, copies);

    // Expiry is told only once the request has expired, and then once.
    let told = |at| mark(SweepMark::ExpiryTold(request_id("r1")), at);
    assert_eq!(
        decide_plain(s, &told(4_599)).await,
        Verdict::Done { changed: false }
    );
    assert_eq!(
        decide_plain(s, &told(4_600)).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(
        decide_plain(s, &told(4_700)).await,
        Verdict::Done { changed: false }
    );
    assert!(s
        .sweep
        .undecided_requests(Timestamp::from_unix(0))
        .await
        .expect("read")
        .is_empty());
    // A decided request is neither reminded nor watched.
    let r2 = access_request("r2", "U2", "github", 5_000, 8_600);
    decide_plain(s, &open(&r2, 5_000)).await;
    decide_plain(s, &decide_request("r2", "U2", "github", "U9", false, 5_100)).await;
    assert_eq!(
        decide_plain(s, &mark(SweepMark::Reminded(request_id("r2")), 5_200)).await,
        Verdict::Done { changed: false }
    );
    assert!(s
        .sweep
        .undecided_requests(Timestamp::from_unix(0))
        .await
        .expect("read")
        .is_empty());

    // A grant's holder is warned once per grant; a renewed grant is warned of again.
    apply(s, Change::PutGrant(grant("U3", "github", 10_000))).await;
    let window = |a, b| {
        s.sweep
            .unwarned_grants(Timestamp::from_unix(a), Timestamp::from_unix(b))
    };
    assert_eq!(window(6_000, 9_999).await.expect("read").len(), 0);
    assert_eq!(window(6_000, 10_000).await.expect("read").len(), 1);
    let warn = |expires, at| {
        mark(
            SweepMark::GrantWarned {
                principal: who("U3"),
                tool: tool_name("github"),
                expires_at: Timestamp::from_unix(expires),
            },
            at,
        )
    };
    assert_eq!(
        decide_plain(s, &warn(9_000, 7_000)).await,
        Verdict::Done { changed: false },
        "another grant"
    );
    assert_eq!(
        decide_plain(s, &warn(10_000, 7_000)).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(
        decide_plain(s, &warn(10_000, 7_001)).await,
        Verdict::Done { changed: false }
    );
    assert!(window(6_000, 10_000).await.expect("read").is_empty());
    apply(s, Change::PutGrant(grant("U3", "github", 20_000))).await;
    assert_eq!(window(16_000, 20_000).await.expect("read").len(), 1);
    assert_eq!(
        decide_plain(s, &warn(20_000, 21_000)).await,
        Verdict::Done { changed: false },
        "ended"
    );
}

/// A tool's rules and a request's required approvals are stored and read back as written.
pub async fn tool_rules_are_stored_and_read_back(s: &Stores) {
    let mut t = tool("aws-root");
    t.rules = ToolRules {
        approvals_required: 3,
        break_glass: GrantDuration::parse("1h"),
    };
    assert!(
        apply(
            s,
            Change::PutTool {
                tool: t.clone(),
                seed: None
            }
        )
        .await
    );
    let read = s.access.tool(&tool_name("aws-root")).await.expect("read");
    assert_eq!(read, Some(t));
    let mut r = access_request("three", "U1", "aws-root", 1_000, 4_600);
    r.approvals_required = 3;
    decide_plain(s, &open(&r, 1_000)).await;
    let read = s
        .access
        .access_request(&request_id("three"))
        .await
        .expect("read");
    assert_eq!(read, Some(r), "the request needs 3 and holds none");
}

/// `approver` counts an approval of request `id` (of `user` for `aws-root`) at `at`, having
/// read `seen` approvals; with `grants`, it completes the count and makes the grant.
fn count_decision(
    id: &str,
    user: &str,
    approver: &str,
    seen: usize,
    grants: bool,
    at: i64,
) -> Decision {
    let approval = Approval {
        by: who(approver),
        person: Person::from(&who(approver)),
        at: Timestamp::from_unix(at),
        duration: GrantDuration::parse("2h").expect("2h"),
        // Teams gives display names, Slack none: both are kept as given.
        name: (approver != "UB").then(|| format!("{approver} Zoë Display")),
    };
    let grant = grants.then(|| Grant {
        principal: who(user),
        person: Person::from(&who(user)),
        tool: tool_name("aws-root"),
        granted_by: who(approver),
        granted_at: Timestamp::from_unix(at),
        expires_at: Timestamp::from_unix(at + 7_200),
        reason: None,
    });
    let change = Change::CountApproval {
        id: request_id(id),
        requester: who(user),
        tool: tool_name("aws-root"),
        approval,
        seen,
        grant,
    };
    request_decision(change, approver, Action::Approve, at)
}

/// Opens request `id` of `user` for `aws-root`, needing `required` approvals.
async fn open_needing(s: &Stores, id: &str, user: &str, required: u8) {
    let mut r = access_request(id, user, "aws-root", 1_000, 4_600);
    r.approvals_required = required;
    assert_eq!(
        decide_plain(s, &open(&r, 1_000)).await,
        Verdict::Done { changed: true }
    );
}

/// An approval is counted only against the approvals it was read with: one planned on a
/// stale count is refused (`Stale`) and changes nothing; the one completing the count approves
/// the request and makes the grant; nothing is counted after that.
pub async fn each_approval_counts_against_what_was_read(s: &Stores) {
    catalog(s).await;
    open_needing(s, "two", "U1", 2).await;
    assert_eq!(
        decide_plain(s, &count_decision("two", "U1", "UA", 0, false, 2_000)).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(
        decide_plain(s, &count_decision("two", "U1", "UB", 0, false, 2_001)).await,
        Verdict::Stale,
        "planned on no approvals, but one was counted"
    );
    let read = s
        .access
        .access_request(&request_id("two"))
        .await
        .expect("read")
        .expect("request");
    assert_eq!(read.state, RequestState::Open);
    assert_eq!(read.approvals.len(), 1, "the stale approval left nothing");
    assert_eq!(read.approvals[0].by, who("UA"));
    assert_eq!(read.approvals[0].name.as_deref(), Some("UA Zoë Display"));
    assert_eq!(count(&all_events(s).await, Action::Approve), 1);
    assert_eq!(
        s.access
            .grant(&who("U1"), &tool_name("aws-root"))
            .await
            .expect("read"),
        None,
        "one approval of two grants nothing"
    );
    assert_eq!(
        decide_plain(s, &count_decision("two", "U1", "UB", 1, true, 2_002)).await,
        Verdict::Done { changed: true }
    );
    let read = s
        .access
        .access_request(&request_id("two"))
        .await
        .expect("read")
        .expect("request");
    assert_eq!(
        read.state,
        RequestState::Approved {
            by: who("UB"),
            at: Timestamp::from_unix(2_002)
        }
    );
    let by: Vec<_> = read.approvals.iter().map(|a| a.by.clone()).collect();
    assert_eq!(
        by,
        vec![who("UA"), who("UB")],
        "both approvals, oldest first"
    );
    let names: Vec<_> = read.approvals.iter().map(|a| a.name.clone()).collect();
    assert_eq!(names, vec![Some("UA Zoë Display".to_owned()), None]);
    let grant = s
        .access
        .grant(&who("U1"), &tool_name("aws-root"))
        .await
        .expect("read");
    assert_eq!(
        grant.map(|g| g.expires_at),
        Some(Timestamp::from_unix(9_202))
    );
    assert_eq!(
        decide_plain(s, &count_decision("two", "U1", "UC", 2, true, 2_003)).await,
        Verdict::Decided,
        "nothing is counted on a decided request"
    );
    assert_eq!(count(&all_events(s).await, Action::Approve), 2);
    // Counting on an expired request is refused as expired.
    open_needing(s, "late", "U2", 2).await;
    assert_eq!(
        decide_plain(s, &count_decision("late", "U2", "UA", 0, false, 4_600)).await,
        Verdict::RequestExpired
    );
}

/// What a two-person approver does on a click: read the request, count the approval against
/// what was read (completing the count if it is the last needed), read again when another
/// approval came first. Returns the final verdict and whether this approval made the grant.
async fn approve_as_clicked(
    s: &Stores,
    id: &str,
    user: &str,
    approver: &str,
    at: i64,
) -> (Verdict, bool) {
    for _ in 0..20 {
        let r = s
            .access
            .access_request(&request_id(id))
            .await
            .expect("read")
            .expect("request");
        if r.state != RequestState::Open {
            return (Verdict::Decided, false);
        }
        let seen = r.approvals.len();
        let grants = seen + 1 >= usize::from(r.approvals_required);
        match decide_plain(s, &count_decision(id, user, approver, seen, grants, at)).await {
            Verdict::Stale => continue,
            other => return (other, grants),
        }
    }
    panic!("{approver} met other approvals 20 times");
}

/// Two approvers of a two-person rule click at once, again and again: each time exactly one
/// grant is made, both approvals are counted, and the request is approved once.
pub async fn two_approvers_clicking_at_once_grant_once(s: &Stores) {
    catalog(s).await;
    for round in 0..6 {
        let (id, user) = (format!("pair{round}"), format!("U{round}"));
        open_needing(s, &id, &user, 2).await;
        let before = count(&all_events(s).await, Action::Approve);
        let tasks: Vec<_> = ["UA", "UB"]
            .into_iter()
            .map(|approver| {
                let (s, id, user) = (s.clone(), id.clone(), user.clone());
                tokio::spawn(
                    async move { approve_as_clicked(&s, &id, &user, approver, 2_000).await },
                )
            })
            .collect();
        let mut grants = 0;
        for t in tasks {
            let (verdict, granted) = t.await.expect("task");
            assert_eq!(
                verdict,
                Verdict::Done { changed: true },
                "round {round}: no approval lost"
            );
            grants += usize::from(granted);
        }
        assert_eq!(
            grants, 1,
            "round {round}: exactly one approval completed the count"
        );
        let r = s
            .access
            .access_request(&request_id(&id))
            .await
            .expect("read")
            .expect("request");
        assert_eq!(
            r.approvals.len(),
            2,
            "round {round}: both approvals counted"
        );
        assert!(
            matches!(r.state, RequestState::Approved { .. }),
            "round {round}"
        );
        assert!(s
            .access
            .grant(&who(&user), &tool_name("aws-root"))
            .await
            .expect("read")
            .is_some());
        assert_eq!(
            count(&all_events(s).await, Action::Approve) - before,
            2,
            "round {round}: one record per approval"
        );
    }
}

/// Eight approvers click at once on a request that needs three: exactly three approvals are
/// counted, one of them makes the grant, the rest are told it was decided.
pub async fn many_approvers_clicking_at_once_count_exactly_the_approvals_needed(s: &Stores) {
    catalog(s).await;
    open_needing(s, "three", "U1", 3).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                approve_as_clicked(&s, "three", "U1", &format!("UA{i}"), 2_000).await
            })
        })
        .collect();
    let (mut counted, mut grants) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            (Verdict::Done { changed: true }, granted) => {
                counted += 1;
                grants += usize::from(granted);
            }
            (Verdict::Decided, _) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((counted, grants), (3, 1));
    let r = s
        .access
        .access_request(&request_id("three"))
        .await
        .expect("read")
        .expect("request");
    assert_eq!(r.approvals.len(), 3);
    assert_eq!(count(&all_events(s).await, Action::Approve), 3);
}

/// `user` breaks the glass on `tool` at `at` (grant for an hour), once per `every` seconds.
fn break_glass(id: &str, user: &str, tool: &str, at: i64, every: i64) -> Decision {
    let until = Timestamp::from_unix(at + 3_600);
    let glass = otpbot::domain::BreakGlass {
        id: request_id(id),
        breaker: who(user),
        person: Person::from(&who(user)),
        tool: tool_name(tool),
        reason: "prod down".into(),
        at: Timestamp::from_unix(at),
        until,
        review: None,
    };
    let grant = Grant {
        principal: who(user),
        person: Person::from(&who(user)),
        tool: tool_name(tool),
        granted_by: who(user),
        granted_at: Timestamp::from_unix(at),
        expires_at: until,
        reason: Some("break-glass: prod down".into()),
    };
    let change = Change::BreakGlass {
        glass,
        grant,
        every_secs: every,
    };
    request_decision(change, user, Action::BreakGlass, at)
}

/// One break-glass per person and tool per period, exactly: the second within the period is
/// refused (saying when the next is possible) and leaves nothing; another tool, another
/// person, or the same after the period are not held back. The grant and the record commit
/// with the break-glass, which reads back as written.
pub async fn break_glass_once_per_person_and_tool_per_period(s: &Stores) {
    catalog(s).await;
    let every = 86_400;
    assert_eq!(
        decide_plain(s, &break_glass("bg1", "U1", "aws-root", 1_000, every)).await,
        Verdict::Done { changed: true }
    );
    let grant = s
        .access
        .grant(&who("U1"), &tool_name("aws-root"))
        .await
        .expect("read");
    assert_eq!(
        grant.map(|g| g.expires_at),
        Some(Timestamp::from_unix(4_600))
    );
    let read = s
        .access
        .break_glass(&request_id("bg1"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        (read.breaker, read.reason.as_str(), read.review),
        (who("U1"), "prod down", None)
    );
    assert_eq!(
        decide_plain(
            s,
            &break_glass("bg2", "U1", "aws-root", 1_000 + every - 1, every)
        )
        .await,
        Verdict::TooSoon(Timestamp::from_unix(1_000 + every)),
        "a second within the period"
    );
    assert_eq!(
        s.access
            .break_glass(&request_id("bg2"))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        count(&all_events(s).await, Action::BreakGlass),
        1,
        "the refused left no record"
    );
    for (id, user, tool, at) in [
        ("bg3", "U1", "github", 2_000),
        ("bg4", "U2", "aws-root", 2_000),
        ("bg5", "U1", "aws-root", 1_000 + every),
    ] {
        assert_eq!(
            decide_plain(s, &break_glass(id, user, tool, at, every)).await,
            Verdict::Done { changed: true },
            "{id}"
        );
    }
}

/// Eight break-glasses by one person on one tool at once: exactly one commits.
pub async fn break_glass_twice_at_once_commits_once(s: &Stores) {
    catalog(s).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                decide_plain(
                    &s,
                    &break_glass(&format!("race{i}"), "U1", "aws-root", 2_000, 86_400),
                )
                .await
            })
        })
        .collect();
    let mut done = 0;
    for t in tasks {
        match t.await.expect("task") {
            Verdict::Done { .. } => done += 1,
            Verdict::TooSoon(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(done, 1);
    assert_eq!(count(&all_events(s).await, Action::BreakGlass), 1);
}

/// A review commits once: a `revoke` ends the grant with it; a second review is refused as
/// decided, and one of a break-glass that does not exist as none.
pub async fn a_break_glass_is_reviewed_once(s: &Stores) {
    catalog(s).await;
    decide_plain(s, &break_glass("bg", "U1", "aws-root", 1_000, 86_400)).await;
    let review = |by: &str, ok: bool, id: &str| {
        let change = Change::ReviewBreakGlass {
            id: request_id(id),
            review: otpbot::domain::Review {
                by: who(by),
                at: Timestamp::from_unix(1_500),
                ok,
                reason: Some("not an incident".into()),
            },
            revoke: (!ok).then(|| (who("U1"), tool_name("aws-root"))),
        };
        request_decision(change, by, Action::Review, 1_500)
    };
    assert_eq!(
        decide_plain(s, &review("U9", false, "bg")).await,
        Verdict::Done { changed: true }
    );
    assert_eq!(
        s.access
            .grant(&who("U1"), &tool_name("aws-root"))
            .await
            .expect("read"),
        None,
        "revoked"
    );
    let read = s
        .access
        .break_glass(&request_id("bg"))
        .await
        .expect("read")
        .expect("stored");
    let given = read.review.expect("reviewed");
    assert_eq!(
        (given.by, given.ok, given.reason.as_deref()),
        (who("U9"), false, Some("not an incident"))
    );
    assert_eq!(
        decide_plain(s, &review("U8", true, "bg")).await,
        Verdict::Decided
    );
    assert_eq!(
        decide_plain(s, &review("U8", true, "nothing")).await,
        Verdict::NoRequest
    );
    assert_eq!(count(&all_events(s).await, Action::Review), 1);
}
