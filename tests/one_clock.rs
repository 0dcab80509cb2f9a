//! One clock reading per request (SPEC §3.5): the Slack signature's freshness, the grant check,
//! the TOTP step and the audit record all use the same instant. The clock here moves one second
//! on every reading, so a second reading anywhere would show as a different time.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{principal, signature, slash_body, ADMIN, SECRET, SEED, TEAM};
use otpbot::domain::{
    Clock, Grant, GrantDuration, Outcome, Principal, Seed, Timestamp, Tool, ToolName,
};
use otpbot::engine::{Engine, Policy};
use otpbot::keys::{random_key, AuditKey, SigningSecret};
use otpbot::slack::SlackConfig;
use otpbot::startup::{router, AppState};
use otpbot::store::local::{LocalStore, MasterKey};
use otpbot::store::Stores;
use tower::ServiceExt;

/// A clock that moves one second forward every time it is read, and counts its readings.
#[derive(Debug)]
struct TickingClock {
    next: std::sync::atomic::AtomicI64,
    reads: AtomicUsize,
}

impl Clock for TickingClock {
    fn now(&self) -> Timestamp {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Timestamp::from_unix(self.next.fetch_add(1, Ordering::SeqCst))
    }
}

#[tokio::test]
async fn a_code_request_reads_the_clock_once_and_uses_that_instant_throughout() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("open"));
    let stores = Stores::single(store);
    // Codes roll over every 30 s; the first request's reading is the last second of a step,
    // so a second reading would compute the next step's code.
    let start = 1_793_700_029;
    let clock = Arc::new(TickingClock {
        next: std::sync::atomic::AtomicI64::new(start),
        reads: AtomicUsize::new(0),
    });
    let github = ToolName::parse("github").expect("name");
    let uri = format!("otpauth://totp/x?secret={}", common::base32(SEED));
    let operator = Principal::parse("cli:local:setup").expect("operator");
    let tool = Tool {
        name: github.clone(),
        display_name: "GitHub".into(),
        default_grant: GrantDuration::parse("8h").expect("d"),
        max_grant: GrantDuration::parse("1w").expect("d"),
        notify_channel: None,
        approvals_channel: None,
        rules: otpbot::domain::ToolRules::default(),
    };
    let at = Timestamp::from_unix(start - 100);
    stores
        .put_tool(
            &tool,
            Some(&Seed::parse(&uri).expect("seed")),
            &operator,
            at,
        )
        .await
        .expect("tool");
    stores
        .put_grant(&Grant {
            principal: principal("UALICE"),
            person: otpbot::domain::Person::from(&principal("UALICE")),
            tool: github,
            granted_by: principal(ADMIN),
            granted_at: at,
            expires_at: Timestamp::from_unix(start + 3),
            reason: None,
        })
        .await
        .expect("grant");
    let audit_key = Arc::new(AuditKey::new(random_key()));
    let engine = Engine::new(
        stores.clone(),
        clock.clone(),
        audit_key.clone(),
        Policy::default(),
    );
    let state = AppState {
        background: otpbot::front::Background::default(),
        teams: None,
        engine: Arc::new(engine),
        slack: Some(Arc::new(SlackConfig {
            signing_secret: SigningSecret::new(SECRET.into()),
            allowed_workspaces: [TEAM.to_owned()].into_iter().collect(),
            web_api: None,
        })),
    };
    let app = router(state);

    // Four requests; the grant ends at start + 3, so whichever reading decides must be the
    // one the record carries.
    let mut replies = Vec::new();
    for _ in 0..4 {
        let body = slash_body(TEAM, "UALICE", "github");
        let ts = start;
        let request = axum::http::Request::post("/slack/commands")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature(ts, body.as_bytes()))
            .body(axum::body::Body::from(body))
            .expect("request");
        let before = clock.reads.load(Ordering::SeqCst);
        let response = app.clone().oneshot(request).await.expect("router");
        let reads = clock.reads.load(Ordering::SeqCst) - before;
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        replies.push(String::from_utf8_lossy(&bytes).into_owned());
        assert_eq!(reads, 1, "one clock reading per request");
    }
    let events: Vec<_> = stores
        .audit
        .query(&otpbot::domain::AuditQuery {
            actor: Some(principal("UALICE")),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit")
        .events
        .into_iter()
        .rev()
        .collect();
    let times: Vec<i64> = events.iter().map(|e| e.at.unix()).collect();
    assert_eq!(
        times,
        [start, start + 1, start + 2, start + 3],
        "each record carries its request's one reading"
    );
    let outcomes: Vec<Outcome> = events.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Issued,
            Outcome::Issued,
            Outcome::Issued,
            Outcome::Expired
        ],
        "the grant is judged at the same instant"
    );
    let github = ToolName::parse("github").expect("name");
    for (i, (reply, event)) in replies.iter().zip(&events).take(3).enumerate() {
        let at = start + i as i64;
        let code = common::rfc6238::totp_sha1(SEED, at as u64, 30, 6);
        assert!(
            reply.contains(&code),
            "request {i}: the code of its own instant: {reply}"
        );
        let mac = audit_key.mac_text(&github, &code);
        assert!(
            event
                .code_mac
                .as_deref()
                .is_some_and(|m| m.starts_with(&mac)),
            "request {i}: the record fingerprints the code of the same instant"
        );
    }
}
