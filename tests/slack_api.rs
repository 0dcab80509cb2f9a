//! End to end over HTTP: a real server on a random port, a real SQLite store, requests signed
//! as Slack signs them. Each case checks the reply and the audit record (or its absence).

use crate::common;

use common::{principal, Options, TestApp, ADMIN, SEED, TEAM};
use otpbot::domain::{Action, Outcome};
use otpbot::engine::RateLimit;

async fn grant(app: &TestApp, user: &str, tool: &str, dur: &str) {
    let text = app
        .slash(ADMIN, &format!("grant <@{user}> {tool} for {dur}"))
        .await
        .ephemeral();
    assert!(text.contains("Granted"), "grant failed: {text}");
}

#[tokio::test]
async fn code_is_the_rfc6238_code_and_is_audited_without_the_code() {
    let app = TestApp::spawn().await;
    grant(&app, "UALICE", "github", "8h").await;
    let reply = app.slash("UALICE", "github").await;
    let text = reply.ephemeral();
    let expected = app.expected_code(app.now());
    assert!(
        text.contains(&expected),
        "reply {text:?} lacks the code {expected}"
    );
    assert!(
        text.contains("valid for 25 s"),
        "5 s into the step, 25 s remain: {text}"
    );
    assert!(!text.contains("next code"), "no next code with 25 s left");
    assert!(reply.raw.len() < 4_000);

    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Code, Outcome::Issued)
    );
    assert_eq!(event.actor, principal("UALICE"));
    assert_eq!(event.tool.as_ref().map(|t| t.as_str()), Some("github"));
    assert_eq!(event.channel.as_deref(), Some("C0TEST"));
    assert_eq!(
        event.request_id.as_str(),
        reply.json["blocks"]
            .as_array()
            .and_then(|b| b.last())
            .and_then(|b| b["elements"][0]["text"].as_str())
            .map(|t| t.trim_start_matches("request id `").trim_end_matches('`'))
            .unwrap_or_default()
    );
    let tool = otpbot::domain::ToolName::parse("github").expect("tool");
    assert_eq!(
        event.code_mac,
        Some(app.audit_key.mac_text(&tool, &expected)),
        "the MAC lets an auditor check the code"
    );

    let db = app.db_bytes();
    let find = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    assert!(
        !find(expected.as_bytes()),
        "the code is nowhere in the database files"
    );
    assert!(
        !find(common::base32(SEED).as_bytes()) && !find(SEED),
        "the seed is not in the clear"
    );
}

#[tokio::test]
async fn next_code_is_shown_when_the_current_one_is_about_to_roll_over() {
    let app = TestApp::spawn().await;
    grant(&app, "UALICE", "github", "8h").await;
    app.clock.advance(20); // 25 s into the step: 5 s left
    let text = app.slash("UALICE", "github").await.ephemeral();
    let next = app.expected_code(app.now().plus_secs(5));
    assert!(
        text.contains(&app.expected_code(app.now())) && text.contains("valid for 5 s"),
        "{text}"
    );
    assert!(text.contains(&format!("next code: `{next}`")), "{text}");
    let tool = otpbot::domain::ToolName::parse("github").expect("tool");
    let macs = app.last_event().await.code_mac.expect("MACs");
    assert!(
        macs.split(',')
            .any(|m| m == app.audit_key.mac_text(&tool, &next)),
        "the next code can be traced too: {macs}"
    );
}

#[tokio::test]
async fn no_grant_expired_grant_and_revoked_grant_are_refused_and_audited() {
    let app = TestApp::spawn().await;
    let text = app.slash("UBOB", "github").await.ephemeral();
    assert!(text.contains("You have no access to GitHub"), "{text}");
    assert_eq!(app.last_event().await.outcome, Outcome::NoGrant);

    grant(&app, "UBOB", "github", "1h").await;
    app.clock.advance(3_600);
    let text = app.slash("UBOB", "github").await.ephemeral();
    assert!(text.contains("Your access to GitHub ended at"), "{text}");
    assert!(
        !text.contains(&app.expected_code(app.now())),
        "no code after expiry"
    );
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Code, Outcome::Expired)
    );

    grant(&app, "UBOB", "github", "1h").await;
    assert!(app
        .slash("UBOB", "github")
        .await
        .ephemeral()
        .contains(&app.expected_code(app.now())));
    let text = app.slash(ADMIN, "revoke <@UBOB> github").await.ephemeral();
    assert!(text.contains("Revoked <@UBOB>'s access"), "{text}");
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome, event.subject),
        (Action::Revoke, Outcome::Ok, Some(principal("UBOB")))
    );
    let text = app.slash("UBOB", "github").await.ephemeral();
    assert!(text.contains("no access"), "{text}");
    assert_eq!(app.last_event().await.outcome, Outcome::NoGrant);
}

#[tokio::test]
async fn unknown_tool_is_refused_and_audited() {
    let app = TestApp::spawn().await;
    let text = app.slash("UBOB", "gitlab").await.ephemeral();
    assert!(text.contains("There is no tool called `gitlab`"), "{text}");
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Code, Outcome::UnknownTool)
    );
    assert_eq!(event.tool.map(|t| t.to_string()), Some("gitlab".into()));
}

#[tokio::test]
async fn members_cannot_grant_and_non_auditors_cannot_audit() {
    let app = TestApp::spawn().await;
    let text = app
        .slash("UBOB", "grant <@UBOB> github for 8h")
        .await
        .ephemeral();
    assert!(text.contains("Only admins can do that"), "{text}");
    assert_eq!(
        (
            app.last_event().await.action,
            app.last_event().await.outcome
        ),
        (Action::Grant, Outcome::Forbidden)
    );
    assert!(
        app.slash("UBOB", "github")
            .await
            .ephemeral()
            .contains("no access"),
        "the refused grant did not happen"
    );

    for (text, action) in [
        ("audit", Action::Audit),
        ("who github", Action::Who),
        ("tools", Action::Tools),
    ] {
        let reply = app.slash("UBOB", text).await.ephemeral();
        assert!(
            reply.contains("Only admins and auditors can do that"),
            "{text}: {reply}"
        );
        let event = app.last_event().await;
        assert_eq!(
            (event.action, event.outcome),
            (action, Outcome::Forbidden),
            "{text}"
        );
    }
    for text in ["revoke <@UALICE> github", "role add <@UBOB> admin"] {
        assert!(
            app.slash("UBOB", text)
                .await
                .ephemeral()
                .contains("Only admins"),
            "{text}"
        );
        assert_eq!(app.last_event().await.outcome, Outcome::Forbidden, "{text}");
    }
}

#[tokio::test]
async fn roles_give_and_take_powers() {
    let app = TestApp::spawn().await;
    assert!(app
        .slash(ADMIN, "role add <@UAUD|auditor> auditor")
        .await
        .ephemeral()
        .contains("<@UAUD> is now auditor"));
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.subject.clone()),
        (Action::RoleAdd, Some(principal("UAUD")))
    );
    let text = app.slash("UAUD", "audit").await.ephemeral();
    assert!(
        text.contains("role_add"),
        "the auditor sees the role change: {text}"
    );
    assert!(
        app.slash("UAUD", "grant <@UAUD> github")
            .await
            .ephemeral()
            .contains("Only admins"),
        "auditors cannot grant"
    );

    assert!(app
        .slash(ADMIN, "role add <@UBOSS> admin")
        .await
        .ephemeral()
        .contains("is now admin"));
    assert!(app
        .slash("UBOSS", "grant <@UBOB> github for 30m")
        .await
        .ephemeral()
        .contains("Granted <@UBOB>"));
    assert!(app
        .slash(ADMIN, "role remove <@UBOSS> admin")
        .await
        .ephemeral()
        .contains("no longer admin"));
    assert_eq!(app.last_event().await.action, Action::RoleRemove);
    assert!(app
        .slash("UBOSS", "grant <@UBOB> github")
        .await
        .ephemeral()
        .contains("Only admins"));
    let text = app
        .slash(ADMIN, &format!("role remove <@{ADMIN}> admin"))
        .await
        .ephemeral();
    assert!(
        text.contains("OTPBOT_ADMINS"),
        "bootstrap admins stay admins: {text}"
    );
}

#[tokio::test]
async fn grant_uses_tool_default_refuses_over_max_and_records_reason() {
    let app = TestApp::spawn().await;
    let text = app
        .slash(ADMIN, "grant <@UBOB> github incident 42")
        .await
        .ephemeral();
    assert!(text.contains("for 8h"), "the tool default applies: {text}");
    let event = app.last_event().await;
    assert_eq!(
        event.detail.as_deref(),
        Some("for 8h until 2026-11-03T18:00:05Z: incident 42")
    );
    let text = app
        .slash(ADMIN, "grant <@UBOB> github for 2w")
        .await
        .ephemeral();
    assert!(
        text.contains("GitHub grants are at most 1w; you asked for 2w"),
        "{text}"
    );
    assert_eq!(app.last_event().await.outcome, Outcome::Invalid);
    let text = app
        .slash(ADMIN, "grant <@UBOB> nosuch for 1h")
        .await
        .ephemeral();
    assert!(text.contains("There is no tool called `nosuch`"), "{text}");
    assert_eq!(
        (
            app.last_event().await.action,
            app.last_event().await.outcome
        ),
        (Action::Grant, Outcome::UnknownTool)
    );
    let text = app
        .slash(ADMIN, "grant <@UBOB> github for ever")
        .await
        .ephemeral();
    assert!(text.contains("`ever` is not a duration"), "{text}");
}

#[tokio::test]
async fn list_help_done_who_tools_audit() {
    let app = TestApp::spawn().await;
    app.enrol("aws-root", "AWS root", "1h", "1d").await;
    grant(&app, "UALICE", "github", "8h").await;
    grant(&app, "UALICE", "aws-root", "30m").await;

    let text = app.slash("UALICE", "list").await.ephemeral();
    assert!(
        text.contains("`aws-root` until 2026-11-03T10:30:05Z")
            && text.contains("`github` until 2026-11-03T18:00:05Z"),
        "{text}"
    );
    let help = app.slash("UALICE", "").await.ephemeral();
    assert!(
        // Slack shows `&lt;` as `<` ("Formatting text": escaping).
        help.contains("/otp &lt;tool&gt;") && help.contains("Your tools: aws-root, github"),
        "{help}"
    );
    assert!(
        !help.contains("/otp grant"),
        "members are not shown admin commands: {help}"
    );
    assert!(app
        .slash(ADMIN, "help")
        .await
        .ephemeral()
        .contains("/otp grant"));

    let text = app.slash(ADMIN, "who github").await.ephemeral();
    assert!(
        text.contains("1 current holder(s)") && text.contains("<@UALICE> until"),
        "{text}"
    );
    assert_eq!(app.last_event().await.action, Action::Who);
    let text = app.slash(ADMIN, "tools").await.ephemeral();
    assert!(
        text.contains("`aws-root` AWS root (default 1h, max 1d)"),
        "{text}"
    );

    let text = app.slash("UALICE", "done aws-root").await.ephemeral();
    assert!(
        text.contains("your access to `aws-root` has ended"),
        "{text}"
    );
    assert_eq!(
        (
            app.last_event().await.action,
            app.last_event().await.outcome
        ),
        (Action::Done, Outcome::Ok)
    );
    assert!(app
        .slash("UALICE", "aws-root")
        .await
        .ephemeral()
        .contains("no access"));
    assert!(app
        .slash("UALICE", "list")
        .await
        .ephemeral()
        .contains("`github`"));

    app.clock.advance(86_400 * 3);
    app.slash("UALICE", "github").await.ephemeral();
    let text = app.slash(ADMIN, "audit github since 1d").await.ephemeral();
    assert!(
        text.contains("Latest 1 event(s)") && text.contains("<@UALICE> code `github` expired"),
        "{text}"
    );
    let text = app.slash(ADMIN, "audit <@UALICE>").await.ephemeral();
    assert!(
        text.contains("done `aws-root`") && !text.contains("<@UADMIN> grant"),
        "filtered by actor: {text}"
    );
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.subject),
        (Action::Audit, Some(principal("UALICE")))
    );
}

/// An app where a limit of 3 codes in 600 s (set on `options` by `limit`) has been used up by
/// UALICE's three GitHub codes, each checked.
async fn alice_after_three_codes(limit: impl FnOnce(&mut Options, RateLimit)) -> TestApp {
    let mut options = Options::default();
    limit(
        &mut options,
        RateLimit {
            limit: 3,
            window_secs: 600,
        },
    );
    let app = TestApp::spawn_with(options).await;
    grant(&app, "UALICE", "github", "8h").await;
    for i in 0..3 {
        assert!(
            app.slash("UALICE", "github")
                .await
                .ephemeral()
                .contains(&app.expected_code(app.now())),
            "code {i}"
        );
    }
    app
}

#[tokio::test]
async fn per_tool_rate_limit_refuses_and_audits_then_recovers() {
    let app = alice_after_three_codes(|o, limit| o.policy.per_tool = limit).await;
    let text = app.slash("UALICE", "github").await.ephemeral();
    assert!(text.contains("Too many codes for GitHub"), "{text}");
    assert!(!text.contains(&app.expected_code(app.now())));
    assert_eq!(app.last_event().await.outcome, Outcome::RateLimited);
    app.clock.advance(1_200);
    assert!(
        app.slash("UALICE", "github")
            .await
            .ephemeral()
            .contains(&app.expected_code(app.now())),
        "after two windows"
    );
}

/// A code over the per-caller limit is refused by the decision itself where the store does not
/// pre-check limits (SQLite): the same words as the pre-check's, one record that names the tool
/// and holds no code MAC, and nothing issued.
#[tokio::test]
async fn a_code_over_the_per_caller_limit_is_refused_with_its_tool_on_record() {
    let app = alice_after_three_codes(|o, limit| o.policy.per_caller = limit).await;
    let before = app.audit().await.len();
    let text = app.slash("UALICE", "github").await.ephemeral();
    assert!(text.contains("too many requests"), "{text}");
    assert!(!text.contains(&app.expected_code(app.now())), "{text}");
    let events = app.audit().await;
    assert_eq!(events.len(), before + 1, "one record for the refusal");
    let refused = events.first().expect("the refusal, newest first");
    assert_eq!(refused.action, Action::Code);
    assert_eq!(refused.outcome, Outcome::RateLimited);
    assert_eq!(refused.detail.as_deref(), Some("per-caller limit"));
    assert_eq!(refused.tool.as_ref().map(|t| t.as_str()), Some("github"));
    assert_eq!(refused.code_mac, None);
}

/// An attacker firing one caller's requests all at once gets no more codes than the limit: on
/// SQLite only the decision checks it, so nothing but the writer's transaction stands between a
/// burst and the limit. Exactly three of twelve concurrent `/otp github` are issued, the others
/// are refused, and the log holds three "issued" records.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_codes_at_once_issues_exactly_the_limit() {
    let mut options = Options::default();
    options.policy.per_tool = RateLimit {
        limit: 3,
        window_secs: 600,
    };
    let app = TestApp::spawn_with(options).await;
    grant(&app, "UALICE", "github", "8h").await;
    let replies = futures_util::future::join_all(
        (0..12).map(|_| async { app.slash("UALICE", "github").await.ephemeral() }),
    )
    .await;
    let code = app.expected_code(app.now());
    let issued = replies.iter().filter(|text| text.contains(&code)).count();
    let refused = replies
        .iter()
        .filter(|text| text.contains("Too many codes for GitHub"))
        .count();
    assert_eq!((issued, refused), (3, 9), "{replies:#?}");
    let records = app.audit().await;
    let on_record = |outcome| {
        records
            .iter()
            .filter(|e| e.action == Action::Code && e.outcome == outcome)
            .count()
    };
    assert_eq!(on_record(Outcome::Issued), 3);
    assert_eq!(on_record(Outcome::RateLimited), 9);
}

#[tokio::test]
async fn per_caller_rate_limit_covers_every_command() {
    let mut options = Options::default();
    options.policy.per_caller = RateLimit {
        limit: 5,
        window_secs: 600,
    };
    let app = TestApp::spawn_with(options).await;
    for _ in 0..5 {
        app.slash("UBOB", "list").await.ephemeral();
    }
    let text = app.slash("UBOB", "help").await.ephemeral();
    assert!(text.contains("too many requests"), "{text}");
    assert_eq!(app.last_event().await.outcome, Outcome::RateLimited);
    assert!(
        app.slash("UALICE", "list")
            .await
            .ephemeral()
            .contains("no tools"),
        "other callers are unaffected"
    );
}

#[tokio::test]
async fn other_workspaces_are_refused_and_audited_enterprise_ids_allowed() {
    let app = TestApp::spawn().await;
    let text = app
        .slash_in("T0EVIL", None, ADMIN, "github")
        .await
        .ephemeral();
    assert!(text.contains("This workspace is not allowed"), "{text}");
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Request, Outcome::BadWorkspace)
    );
    assert_eq!(event.actor.workspace(), "T0EVIL");

    let text = app
        .slash_in("T0OTHER", Some("E0ENTERPRISE"), "UX", "list")
        .await
        .ephemeral();
    assert!(
        text.contains("no tools"),
        "a team of an allowed enterprise is served: {text}"
    );
}

#[tokio::test]
async fn forged_stale_and_missing_signatures_get_401_and_no_audit() {
    let app = TestApp::spawn().await;
    let body =
        serde_urlencoded::to_string([("team_id", TEAM), ("user_id", ADMIN), ("text", "github")])
            .expect("form");
    let now = app.now().unix();
    let good = otpbot::slack::signature::sign(
        &otpbot::keys::SigningSecret::new(common::SECRET.into()),
        now,
        body.as_bytes(),
    );
    let forged = otpbot::slack::signature::sign(
        &otpbot::keys::SigningSecret::new("wrong".into()),
        now,
        body.as_bytes(),
    );
    let stale_ts = now - 301;
    let stale = otpbot::slack::signature::sign(
        &otpbot::keys::SigningSecret::new(common::SECRET.into()),
        stale_ts,
        body.as_bytes(),
    );
    let cases = [
        (
            "forged",
            Some(now.to_string()),
            Some(forged),
            "invalid signature",
        ),
        (
            "stale",
            Some(stale_ts.to_string()),
            Some(stale),
            "stale request timestamp",
        ),
        (
            "no signature",
            Some(now.to_string()),
            None,
            "missing signature",
        ),
        (
            "no timestamp",
            None,
            Some(good.clone()),
            "missing request timestamp",
        ),
        (
            "other body",
            Some(now.to_string()),
            Some(good.clone()),
            "invalid signature",
        ),
    ];
    for (name, ts, sig, message) in cases {
        let payload = if name == "other body" {
            body.replace("github", "list")
        } else {
            body.clone()
        };
        let reply = app.post_raw(payload.into_bytes(), ts, sig).await;
        assert_eq!(reply.status, 401, "{name}");
        assert!(reply.raw.contains(message), "{name}: {}", reply.raw);
        assert!(
            !reply.raw.contains("github") && !reply.raw.contains(TEAM),
            "{name}: the body is not echoed"
        );
    }
    assert!(
        app.audit().await.is_empty(),
        "nothing unverified reaches the audit log"
    );
}

#[tokio::test]
async fn a_replayed_request_is_refused() {
    let app = TestApp::spawn().await;
    grant(&app, "UALICE", "github", "8h").await;
    let body =
        serde_urlencoded::to_string([("team_id", TEAM), ("user_id", "UALICE"), ("text", "github")])
            .expect("form");
    let ts = app.now().unix();
    let sig = otpbot::slack::signature::sign(
        &otpbot::keys::SigningSecret::new(common::SECRET.into()),
        ts,
        body.as_bytes(),
    );
    let first = app
        .post_raw(
            body.clone().into_bytes(),
            Some(ts.to_string()),
            Some(sig.clone()),
        )
        .await;
    assert!(first.ephemeral().contains(&app.expected_code(app.now())));
    let before = app.audit().await.len();
    app.clock.advance(60);
    let second = app
        .post_raw(
            body.clone().into_bytes(),
            Some(ts.to_string()),
            Some(sig.clone()),
        )
        .await;
    assert_eq!(second.status, 401);
    assert!(second.raw.contains("replayed request"), "{}", second.raw);
    let respelled = format!("v0={}", sig[3..].to_uppercase());
    let third = app
        .post_raw(body.into_bytes(), Some(ts.to_string()), Some(respelled))
        .await;
    assert_eq!(
        third.status, 401,
        "the same MAC spelled in upper-case hex is the same request"
    );
    assert!(third.raw.contains("replayed request"), "{}", third.raw);
    assert_eq!(
        app.audit().await.len(),
        before,
        "the replay issued and recorded nothing"
    );
}

#[tokio::test]
async fn oversized_and_broken_bodies_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let huge = format!("team_id={TEAM}&user_id=U1&text={}", "a".repeat(17 * 1024)).into_bytes();
    let reply = app.post_signed(huge).await;
    assert_eq!(reply.status, 413, "{}", reply.raw);
    assert!(reply.raw.contains("larger than 16 KiB"), "{}", reply.raw);

    let cases: [(&str, &[u8], &str); 4] = [
        (
            "binary",
            b"\xff\xfe\x00garbage%%%",
            "the form has no team_id",
        ),
        (
            "no user",
            b"team_id=T0TEST&text=github",
            "the form has no user_id",
        ),
        (
            "duplicate field",
            b"team_id=T0TEST&team_id=T2&user_id=U1",
            "not valid form encoding",
        ),
        (
            "bad user id",
            b"team_id=T0TEST&user_id=U1%2F..&text=x",
            "malformed",
        ),
    ];
    for (name, body, message) in cases {
        let reply = app.post_signed(body.to_vec()).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.raw);
        assert!(reply.raw.contains(message), "{name}: {}", reply.raw);
    }
    assert!(
        app.audit().await.is_empty(),
        "no principal, nothing to audit"
    );
    let reply = app.post_signed(b"ssl_check=1&token=x".to_vec()).await;
    assert_eq!(
        (reply.status, reply.raw.as_str()),
        (200, ""),
        "ssl_check is answered"
    );
}

#[tokio::test]
async fn hostile_tool_names_get_a_polite_usage_error() {
    let app = TestApp::spawn().await;
    let kib = "a".repeat(1024);
    for (name, text) in [
        ("traversal", "../x"),
        ("mixed traversal", "GitHub/.."),
        ("unicode", "gïthub"),
        ("1 KiB", kib.as_str()),
        ("ssm path", "/otpbot/tools/github"),
        ("control", "git\u{7}hub"),
        ("mention as tool", "<!channel>"),
    ] {
        let text = app.slash(ADMIN, text).await.ephemeral();
        assert!(
            text.contains("is not a tool name") || text.contains("control characters"),
            "{name}: {text}"
        );
        assert!(
            text.len() < 600,
            "{name}: the reply does not echo the whole input"
        );
        let event = app.last_event().await;
        assert_eq!(
            (event.action, event.outcome, event.tool),
            (Action::Request, Outcome::Invalid, None),
            "{name}"
        );
    }
    let text = app
        .slash(ADMIN, "grant <@UALICE> ../../etc")
        .await
        .ephemeral();
    assert!(text.contains("is not a tool name"), "{text}");
    let text = app.slash(ADMIN, "frobnicate the thing").await.ephemeral();
    assert!(text.contains("Unexpected `the`"), "{text}");
    grant(&app, "UALICE", "GitHub", "1h").await;
    assert!(
        app.slash("UALICE", "GITHUB")
            .await
            .ephemeral()
            .contains(&app.expected_code(app.now())),
        "names are lower-cased"
    );
}

#[tokio::test]
async fn a_failing_audit_write_means_no_code() {
    let app = TestApp::spawn().await;
    grant(&app, "UALICE", "github", "8h").await;
    let before = app.audit().await.len();
    app.sql()
        .execute_batch("CREATE TRIGGER fail_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .expect("inject failure");
    let reply = app.slash("UALICE", "github").await;
    let text = reply.ephemeral();
    assert!(
        !text.contains(&app.expected_code(app.now())),
        "fail closed: no code without its audit record"
    );
    assert!(
        text.contains("Something went wrong") && text.contains("request id"),
        "{text}"
    );
    assert!(!text.contains("disk full"), "store errors stay in the log");

    let text = app
        .slash(ADMIN, "grant <@UBOB> github for 1h")
        .await
        .ephemeral();
    assert!(text.contains("Something went wrong"), "{text}");
    app.sql()
        .execute_batch("DROP TRIGGER fail_audit;")
        .expect("heal");
    assert_eq!(
        app.audit().await.len(),
        before,
        "nothing was recorded while failing"
    );
    assert!(
        app.slash("UBOB", "github")
            .await
            .ephemeral()
            .contains("no access"),
        "the unaudited grant was rolled back"
    );
    assert!(
        app.slash("UALICE", "github")
            .await
            .ephemeral()
            .contains(&app.expected_code(app.now())),
        "works once healed"
    );
}

#[tokio::test]
async fn a_store_failing_mid_request_gives_a_generic_error_with_request_id() {
    let app = TestApp::spawn().await;
    grant(&app, "UALICE", "github", "8h").await;
    app.sql()
        .execute_batch("ALTER TABLE seeds RENAME TO seeds_gone;")
        .expect("break the seed table");
    let reply = app.slash("UALICE", "github").await;
    let text = reply.ephemeral();
    assert!(
        text.contains("Something went wrong") && !text.contains(&app.expected_code(app.now())),
        "{text}"
    );
    assert!(!text.contains("seeds"), "no internal detail: {text}");
    let event = app.last_event().await;
    assert_eq!(
        (event.action, event.outcome, event.code_mac),
        (Action::Code, Outcome::Error, None)
    );
    assert!(
        text.contains(event.request_id.as_str()),
        "the reply quotes the request id that the log holds"
    );
}

#[tokio::test]
async fn healthz_answers() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "ok");
}
