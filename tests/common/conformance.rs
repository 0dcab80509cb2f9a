//! The store conformance suite: every backend must pass every function here. A backend's test
//! file instantiates them with `conformance_tests!(make_stores)`, where `make_stores` is an async
//! fn returning a fresh, empty `(Stores, Guard)`; the guard keeps the backend alive.

use otpbot::domain::{
    Action, AuditEvent, AuditQuery, EventId, Grant, GrantDuration, Outcome, Principal, RequestId,
    Role, Seed, Timestamp, Tool, ToolName,
};
use otpbot::store::Stores;

fn tool_name(name: &str) -> ToolName {
    ToolName::parse(name).expect("tool name")
}

fn who(user: &str) -> Principal {
    Principal::parse(&format!("slack:T1:{user}")).expect("principal")
}

fn tool(name: &str) -> Tool {
    Tool {
        name: tool_name(name),
        display_name: format!("{name} display"),
        default_grant: GrantDuration::parse("8h").expect("8h"),
        max_grant: GrantDuration::parse("2w").expect("2w"),
        notify_channel: Some("C1".into()),
    }
}

fn grant(user: &str, tool: &str, expires: i64) -> Grant {
    Grant {
        principal: who(user),
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
    s.access.put_tool(&tool("github")).await.expect("put");
    s.access.put_tool(&tool("aws-root")).await.expect("put");
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
    s.access.put_tool(&changed).await.expect("replace");
    assert_eq!(
        s.access.tool(&tool_name("github")).await.expect("get"),
        Some(changed)
    );
    s.access
        .put_grant(&grant("U1", "github", 5_000))
        .await
        .expect("grant");
    assert!(s
        .access
        .remove_tool(&tool_name("github"))
        .await
        .expect("remove"));
    assert!(
        !s.access
            .remove_tool(&tool_name("github"))
            .await
            .expect("remove again"),
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
    s.access
        .put_grant(&grant("U1", "github", 5_000))
        .await
        .expect("put");
    s.access
        .put_grant(&grant("U1", "aws-root", 500))
        .await
        .expect("put expired");
    s.access
        .put_grant(&grant("U2", "github", 6_000))
        .await
        .expect("put");
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
    s.access
        .put_grant(&grant("U1", "github", 9_000))
        .await
        .expect("replace");
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
    assert!(s
        .access
        .delete_grant(&who("U1"), &tool_name("github"))
        .await
        .expect("delete"));
    assert!(!s
        .access
        .delete_grant(&who("U1"), &tool_name("github"))
        .await
        .expect("delete again"));
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
    assert!(s
        .access
        .set_role(&who("U1"), Role::Auditor, true)
        .await
        .expect("add"));
    assert!(
        !s.access
            .set_role(&who("U1"), Role::Auditor, true)
            .await
            .expect("add again"),
        "no change the second time"
    );
    assert!(s
        .access
        .set_role(&who("U1"), Role::Admin, true)
        .await
        .expect("add"));
    let roles = s.access.roles(&who("U1")).await.expect("roles");
    assert!(roles.admin && roles.auditor);
    assert!(
        !s.access.roles(&who("U2")).await.expect("roles").auditor,
        "roles are per principal"
    );
    assert!(s
        .access
        .set_role(&who("U1"), Role::Admin, false)
        .await
        .expect("remove"));
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

/// Counters: first sighting once until expiry; increments, expiry resets.
pub async fn counters(s: &Stores) {
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

    assert_eq!(s.counters.count("n", t0).await.expect("count"), 0);
    for want in 1..=3 {
        assert_eq!(s.counters.increment("n", exp, t0).await.expect("inc"), want);
    }
    assert_eq!(s.counters.count("n", t0).await.expect("count"), 3);
    assert_eq!(
        s.counters.count("n", exp).await.expect("count at expiry"),
        0,
        "expired counters read as 0"
    );
    assert_eq!(
        s.counters
            .increment("n", Timestamp::from_unix(2_000), exp)
            .await
            .expect("inc"),
        1,
        "expired counters restart"
    );
}

/// Concurrent increments and first sightings lose nothing and admit one winner.
pub async fn counters_are_atomic(s: &Stores) {
    let (t0, exp) = (Timestamp::from_unix(1_000), Timestamp::from_unix(1_300));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let won = s
                .counters
                .first_sighting("race", exp, t0)
                .await
                .expect("sighting");
            let n = s.counters.increment("hits", exp, t0).await.expect("inc");
            (won, n)
        }));
    }
    let mut winners = 0;
    let mut values = Vec::new();
    for t in tasks {
        let (won, n) = t.await.expect("task");
        winners += usize::from(won);
        values.push(n);
    }
    values.sort_unstable();
    assert_eq!(winners, 1, "exactly one first sighting");
    assert_eq!(
        values,
        (1..=20).collect::<Vec<u64>>(),
        "every increment counted once"
    );
}

/// Instantiates the suite for one backend.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make, tool_catalog, grants, roles, seeds, audit_log, counters, counters_are_atomic);
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
