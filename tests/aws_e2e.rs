//! otpbot on the AWS backend, end to end against a real local DynamoDB + SSM emulator: Lambda
//! event payloads through the router, the real binary under a local Lambda runtime API, the CLI,
//! and the service failing mid-request.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::aws::{self, Moto};
use common::cli::Otpbot;
use common::{principal, slash_body, Options, TestApp, ADMIN, SEED, TEAM};
use otpbot::domain::{Action, AuditQuery, Grant, Outcome, Quota, RateLimit, Seed, ToolName};
use otpbot::store::aws::{AwsSettings, AwsStore};
use otpbot::store::{DecisionStore, Stores};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn aws_app(moto: &Moto) -> (TestApp, Arc<AwsStore>) {
    let store = aws::store_on(moto, aws::unique_settings()).await;
    let app = TestApp::spawn_on(
        Stores::single(store.clone()),
        tempfile::tempdir().expect("dir"),
        Options::default(),
    )
    .await;
    (app, store)
}

/// An API Gateway HTTP API (payload 2.0) event, or a Lambda Function URL event, for a POST.
fn http_event(function_url: bool, headers: Value, body: &str, base64: bool) -> String {
    let domain = if function_url {
        "abcdefg.lambda-url.us-east-1.on.aws"
    } else {
        "abc123.execute-api.us-east-1.amazonaws.com"
    };
    let route = if function_url {
        "$default"
    } else {
        "POST /slack/commands"
    };
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": "/slack/commands",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": domain,
            "domainPrefix": domain.split('.').next(),
            "http": { "method": "POST", "path": "/slack/commands", "protocol": "HTTP/1.1", "sourceIp": "3.3.3.3", "userAgent": "Slackbot 1.0" },
            "requestId": "req-1",
            "routeKey": route,
            "stage": "$default",
            "time": "03/Nov/2026:10:00:05 +0000",
            "timeEpoch": 1_793_700_005_000u64
        },
        "body": if base64 { base64::engine::general_purpose::STANDARD.encode(body) } else { body.to_owned() },
        "isBase64Encoded": base64
    })
    .to_string()
}

fn slack_headers(ts: i64, signature: &str) -> Value {
    json!({
        "content-type": "application/x-www-form-urlencoded",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "x-slack-request-timestamp": ts.to_string(),
        "x-slack-signature": signature,
    })
}

async fn invoke(app: &TestApp, event: &str) -> (u16, Value) {
    let request = lambda_http::request::from_str(event).expect("a valid Lambda event");
    let response = app.router.clone().oneshot(request).await.expect("router");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn lambda_http_events_with_base64_bodies_are_verified_over_the_decoded_bytes() {
    let moto = Moto::shared();
    let (app, _store) = aws_app(&moto).await;
    grant_alice_github(&app).await;
    let ts = app.now().unix();
    let expected = app.expected_code(app.now());

    for (name, function_url, base64) in [
        ("HTTP API, base64", false, true),
        ("Function URL, plain", true, false),
    ] {
        let body = slash_body(TEAM, "UALICE", "github");
        let event = http_event(
            function_url,
            slack_headers(ts, &common::signature(ts, body.as_bytes())),
            &body,
            base64,
        );
        let (status, json) = invoke(&app, &event).await;
        assert_eq!(status, 200, "{name}: {json}");
        assert_eq!(json["response_type"], "ephemeral", "{name}");
        // The code is in the blocks only; the fallback `text` is what notifications show.
        assert!(
            json["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains(&expected),
            "{name}: {json}"
        );
    }

    // Signing the base64 text instead of the bytes Slack sent must fail.
    let body = slash_body(TEAM, "UALICE", "github");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
    let event = http_event(
        false,
        slack_headers(ts, &common::signature(ts, encoded.as_bytes())),
        &body,
        true,
    );
    assert_eq!(invoke(&app, &event).await.0, 401);

    let events = app.audit().await;
    let issued: Vec<_> = events
        .iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .collect();
    assert_eq!(issued.len(), 2, "both invocations were audited in DynamoDB");
    assert!(issued
        .iter()
        .all(|e| e.actor == principal("UALICE") && e.action == Action::Code));
}

#[tokio::test]
async fn the_aws_backend_fails_closed_when_the_audit_table_is_gone() {
    let moto = Moto::shared();
    let (app, store) = aws_app(&moto).await;
    grant_alice_github(&app).await;
    store
        .dynamodb()
        .delete_table()
        .table_name(&store.settings().audit_table)
        .send()
        .await
        .expect("delete audit table");

    let text = app.slash("UALICE", "github").await.ephemeral();
    assert!(
        text.contains("Something went wrong") && !text.contains(&app.expected_code(app.now())),
        "{text}"
    );
    let text = app
        .slash(ADMIN, "grant <@UBOB> github for 1h")
        .await
        .ephemeral();
    assert!(text.contains("Something went wrong"), "{text}");
    let github = ToolName::parse("github").expect("name");
    let grant = otpbot::store::AccessStore::grant(store.as_ref(), &principal("UBOB"), &github)
        .await
        .expect("read");
    assert!(
        grant.is_none(),
        "the unaudited grant was rolled back: {grant:?}"
    );
}

#[tokio::test]
async fn the_emulator_dying_mid_session_gives_a_private_try_again_with_request_id() {
    let mut moto = Moto::start();
    let (app, _store) = aws_app(&moto).await;
    grant_alice_github(&app).await;
    moto.stop();
    let started = std::time::Instant::now();
    let reply = app.slash("UALICE", "github").await;
    let answered = started.elapsed();
    println!("a closed port answered in {answered:?}");
    assert!(answered < Duration::from_secs(3), "{answered:?}");
    let text = reply.ephemeral();
    assert!(
        text.contains("Please try again") && text.contains("request id"),
        "{text}"
    );
    assert!(
        !text.contains(&app.expected_code(app.now())),
        "no code without an audit record"
    );
    assert!(
        !text.to_lowercase().contains("dynamodb") && !text.contains("127.0.0.1"),
        "no internal detail: {text}"
    );
}

#[tokio::test]
async fn a_grid_user_cannot_approve_own_request_on_aws() {
    let moto = Moto::shared();
    let (app, _store) = aws_app(&moto).await;
    common::approvals::a_grid_user_cannot_approve_own_request(&app).await;
}

#[tokio::test]
async fn an_approval_never_shortens_a_grant_on_aws() {
    let moto = Moto::shared();
    let (app, _store) = aws_app(&moto).await;
    common::approvals::an_approval_never_shortens_a_grant(&app).await;
}

#[tokio::test]
async fn two_approvers_clicking_at_once_grant_once_on_aws() {
    let moto = Moto::shared();
    let (app, _store) = aws_app(&moto).await;
    common::approvals::two_approvers_clicking_at_once_grant_once(&app).await;
}

#[tokio::test]
async fn break_glass_once_per_period_then_revoked_by_review_on_aws() {
    let moto = Moto::shared();
    let (app, _store) = aws_app(&moto).await;
    common::approvals::break_glass_once_per_period_then_revoked_by_review(&app).await;
}

/// An app on DynamoDB whose Slack Web API is a fake answering `usergroups.users.list`.
async fn aws_group_app(moto: &Moto) -> (TestApp, common::slack::FakeWebApi) {
    let fake = common::slack::FakeWebApi::start().await;
    let store = aws::store_on(moto, aws::unique_settings()).await;
    let app = TestApp::spawn_on(
        Stores::single(store),
        tempfile::tempdir().expect("dir"),
        common::groups::options(&fake),
    )
    .await;
    (app, fake)
}

#[tokio::test]
async fn a_group_grant_serves_its_members_and_the_audit_names_both_on_aws() {
    let (app, fake) = aws_group_app(&Moto::shared()).await;
    common::groups::a_group_grant_serves_its_members_and_the_audit_names_both(&app, &fake).await;
}

#[tokio::test]
async fn a_member_removed_from_a_group_gets_no_code_once_the_cache_expired_on_aws() {
    let (app, fake) = aws_group_app(&Moto::shared()).await;
    common::groups::a_member_removed_from_a_group_gets_no_code_once_the_cache_expired(&app, &fake)
        .await;
}

#[tokio::test]
async fn a_failed_group_lookup_refuses_the_code_on_aws() {
    let (app, fake) = aws_group_app(&Moto::shared()).await;
    common::groups::a_failed_group_lookup_refuses_the_code(&app, &fake).await;
}

#[tokio::test]
async fn a_group_approver_cannot_approve_own_request_on_aws() {
    let (app, fake) = aws_group_app(&Moto::shared()).await;
    common::groups::a_group_approver_cannot_approve_own_request(&app, &fake).await;
}

#[tokio::test]
async fn a_revoked_group_grant_serves_no_member_on_aws() {
    let (app, fake) = aws_group_app(&Moto::shared()).await;
    common::groups::a_revoked_group_grant_serves_no_member(&app, &fake).await;
}

/// Slack gives up on an answer after 3 s. With DynamoDB not answering at all (a black hole:
/// connections accepted, nothing ever sent back), and each SDK call allowed 10 s, every chat
/// request still ends within 3 s with the private "try again": one deadline for the request's
/// store work, not one per call.
#[tokio::test]
async fn dynamodb_not_answering_is_told_to_try_again_within_three_seconds() {
    let moto = Moto::shared();
    let relay = aws::Relay::start(moto.port).await;
    let settings = aws::unique_settings();
    let direct = aws::store_on(&moto, settings.clone()).await;
    let store = Arc::new(AwsStore::new(&aws::sdk_config(&relay.url).await, settings));
    let app = app_with_alice_granted(store).await;
    relay.go_silent();
    for (who, text) in [
        ("UALICE", "github"),
        ("UBOB", "request github"),
        (ADMIN, "grant <@UBOB> github for 1h"),
        ("UALICE", "list"),
    ] {
        let started = std::time::Instant::now();
        let reply = app.slash(who, text).await.ephemeral();
        let answered = started.elapsed();
        println!("`{text}` answered in {answered:?} with DynamoDB silent");
        assert!(answered < Duration::from_secs(3), "`{text}`: {answered:?}");
        assert!(
            reply.contains("Please try again") && reply.contains("request id"),
            "`{text}`: {reply}"
        );
        assert!(!reply.contains(&app.expected_code(app.now())), "no code");
    }
    let github = ToolName::parse("github").expect("name");
    let bob = otpbot::store::AccessStore::grant(direct.as_ref(), &principal("UBOB"), &github)
        .await
        .expect("read");
    assert!(bob.is_none(), "nothing was granted: {bob:?}");
}

/// SPEC §4 hot path: at steady state (seed and catalog entry cached) an issued code costs one
/// `BatchGetItem` and one `TransactWriteItems`, and no SSM call. Counted on the wire by an
/// interceptor on the SDK clients, per HTTP request, retries included.
#[tokio::test]
async fn an_issued_code_costs_two_dynamodb_round_trips_and_no_ssm_call() {
    let moto = Moto::shared();
    let log = aws::CallLog::default();
    let store = aws::counted_store_on(&moto, aws::unique_settings(), &log).await;
    let app = app_with_alice_granted(store.clone()).await;
    // The first code fills the caches (catalog entry, seed).
    let expected = app.expected_code(app.now());
    assert!(app
        .slash("UALICE", "github")
        .await
        .ephemeral()
        .contains(&expected));
    log.take();

    const CODES: usize = 5;
    for i in 0..CODES {
        app.clock.advance(7);
        let expected = app.expected_code(app.now());
        let reply = app.slash("UALICE", "github").await.ephemeral();
        assert!(reply.contains(&expected), "code {i}: {reply}");
    }
    let calls = log.take();
    let per_code = [
        "DynamoDB_20120810.BatchGetItem",
        "DynamoDB_20120810.TransactWriteItems",
    ];
    let expected_calls: Vec<&str> = per_code.iter().copied().cycle().take(2 * CODES).collect();
    assert_eq!(
        calls, expected_calls,
        "each code: one BatchGetItem, one TransactWriteItems, nothing else (no SSM)"
    );
    let issued = app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .count();
    assert_eq!(issued, CODES + 1, "every code has its record");
}

/// A process that has not read the tool yet (a new Lambda instance, its caches empty) reads
/// the tool's catalog entry in the code's one `BatchGetItem`, with the grant and the limits,
/// not in a `GetItem` of its own; the next code finds it cached.
#[tokio::test]
async fn a_cold_code_reads_the_catalog_entry_in_the_same_round_trip() {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    let _app = app_with_alice_granted(store).await;
    let log = aws::CallLog::default();
    let cold = aws::counted_store_over(&moto, settings, &log).await;
    let github = ToolName::parse("github").expect("tool");
    let quota = Quota {
        key: format!("caller:slack:{TEAM}:UALICE"),
        limit: RateLimit {
            limit: 30,
            window_secs: 600,
        },
    };
    for round in ["cold", "warm"] {
        let view = cold
            .view(
                &principal("UALICE"),
                Some(&github),
                std::slice::from_ref(&quota),
            )
            .await
            .expect("view");
        assert_eq!(
            view.tool.map(|t| t.name),
            Some(github.clone()),
            "{round}: the catalog entry"
        );
        assert!(view.grant.is_some(), "{round}: the grant");
        assert_eq!(
            log.take(),
            ["DynamoDB_20120810.BatchGetItem"],
            "{round}: one round trip"
        );
    }
}

/// An app on `store` in which the admin has granted Alice `github` for an hour.
async fn app_with_alice_granted(store: Arc<AwsStore>) -> TestApp {
    let app = TestApp::spawn_on(
        Stores::single(store),
        tempfile::tempdir().expect("dir"),
        Options::default(),
    )
    .await;
    grant_alice_github(&app).await;
    app
}

/// The admin grants Alice `github` for an hour.
async fn grant_alice_github(app: &TestApp) {
    assert!(app
        .slash(ADMIN, "grant <@UALICE> github for 1h")
        .await
        .ephemeral()
        .contains("Granted"));
}

/// Runs `otpbot tool add {args}` on AWS with `seed` on stdin; its status and stderr.
fn tool_add(moto: &Moto, settings: &AwsSettings, args: &[&str], seed: &str) -> (bool, String) {
    let out = on_aws(moto, settings)
        .env("OTPBOT_AUDIT_KEY", "ab".repeat(32))
        .args(["tool", "add"])
        .args(args)
        .input(seed);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `tool add` whose recorded write fails (the audit table is gone) leaves no seed in SSM for
/// the tool it did not add, and says why in one plain line; a failed replacement keeps the
/// enrolled seed, still the one codes come from.
#[tokio::test]
async fn a_failed_tool_add_leaves_no_seed_behind_and_says_so_in_one_line() {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    let seed = common::base32(SEED);
    let (ok, err) = tool_add(&moto, &settings, &["vpn"], &seed);
    assert!(ok, "{err}");
    store
        .dynamodb()
        .delete_table()
        .table_name(&settings.audit_table)
        .send()
        .await
        .expect("delete audit table");

    let (ok, err) = tool_add(&moto, &settings, &["github"], &seed);
    assert!(!ok, "the add failed");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].starts_with("error: storing the tool failed; nothing was changed"),
        "{err}"
    );
    for debug in ["{", "SdkError", "ServiceError", "Some(", "raw:"] {
        assert!(!err.contains(debug), "no Debug dump ({debug}): {err}");
    }
    let github = format!("{}/tools/github", settings.ssm_prefix);
    let left = store.parameter(&github).await.expect("read");
    assert!(left.is_none(), "the new seed was removed from SSM");

    // A replacement that fails leaves the enrolled seed where it was.
    let other = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let (ok, _) = tool_add(&moto, &settings, &["vpn", "--replace"], other);
    assert!(!ok, "the replacement failed");
    let vpn = ToolName::parse("vpn").expect("name");
    let at = otpbot::domain::Timestamp::from_unix(1_000_000);
    let kept = otpbot::store::SecretStore::seed(store.as_ref(), &vpn)
        .await
        .expect("read")
        .expect("still enrolled");
    assert_eq!(
        kept.code_at(at),
        Seed::parse(&seed).expect("seed").code_at(at),
        "codes still come from the enrolled seed"
    );
}

/// A working directory like the README's quick start leaves behind: `otpbot demo`'s data with
/// its own signing secret. The AWS backend must ignore it and use SSM's.
static DEMO_LEFTOVERS: std::sync::LazyLock<tempfile::TempDir> = std::sync::LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("otpbot-data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("slack-signing-secret"), "not-the-ssm-secret").expect("write");
    dir
});

/// The real binary on the AWS backend against `moto`, run from a directory holding a demo's
/// leftovers.
fn on_aws(moto: &Moto, settings: &AwsSettings) -> Otpbot {
    Otpbot::new()
        .cwd(DEMO_LEFTOVERS.path())
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("OTPBOT_BACKEND", "aws")
        .env("OTPBOT_ACCESS_TABLE", &settings.access_table)
        .env("OTPBOT_AUDIT_TABLE", &settings.audit_table)
        .env("OTPBOT_SSM_PREFIX", &settings.ssm_prefix)
        .env("OTPBOT_SLACK_TEAM_IDS", TEAM)
}

#[tokio::test]
async fn the_cli_enrols_grants_and_exports_on_aws() {
    let moto = Moto::shared();
    let mut settings = aws::unique_settings();
    settings.kms_key_id = Some("alias/otpbot-test".into());
    let store = aws::store_on(&moto, settings.clone()).await;

    // Deployment secrets go in through the CLI, from stdin, never from arguments.
    for (args, stdin) in [
        (vec!["secret", "set", "audit-key", "--generate"], ""),
        (
            vec!["secret", "set", "slack-signing-secret"],
            "8f742231b10e8888abcd99yyyzzz85a5\n",
        ),
        (
            vec!["secret", "set", "slack-bot-token"],
            "xoxb-8f742231-test-bot-token\n",
        ),
    ] {
        let out = on_aws(&moto, &settings)
            .env("OTPBOT_KMS_KEY_ID", "alias/otpbot-test")
            .args(&args)
            .input(stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("8f742231"),
            "the value is not echoed"
        );
    }
    let audit_key = store
        .parameter(&format!("{}/audit/hmac-key", settings.ssm_prefix))
        .await
        .expect("read")
        .expect("audit key");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&audit_key).len(),
        64,
        "a generated 256-bit key in hex"
    );
    let signing = store
        .parameter(&format!("{}/slack/signing-secret", settings.ssm_prefix))
        .await
        .expect("read")
        .expect("secret");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&signing),
        "8f742231b10e8888abcd99yyyzzz85a5"
    );

    let bot = store
        .parameter(&format!("{}/slack/bot-token", settings.ssm_prefix))
        .await
        .expect("read")
        .expect("bot token");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&bot),
        "xoxb-8f742231-test-bot-token"
    );

    let out = on_aws(&moto, &settings)
        .env("OTPBOT_KMS_KEY_ID", "alias/otpbot-test")
        .args(["tool", "add", "github", "--max-grant", "1d"])
        .input(&common::base32(SEED));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let described = store
        .ssm()
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(format!("{}/tools/github", settings.ssm_prefix))
                .build()
                .expect("filter"),
        )
        .send()
        .await
        .expect("describe");
    let meta = described
        .parameters()
        .first()
        .expect("the seed parameter exists")
        .clone();
    assert_eq!(meta.r#type().map(|t| t.as_str()), Some("SecureString"));
    assert_eq!(
        meta.key_id(),
        Some("alias/otpbot-test"),
        "the configured KMS key encrypts the seed"
    );

    for args in [
        vec![
            "grant",
            "slack:T0TEST:UALICE",
            "github",
            "--for",
            "8h",
            "--reason",
            "release",
        ],
        vec!["role", "add", "slack:T0TEST:UAUD", "auditor"],
    ] {
        let out = on_aws(&moto, &settings).args(&args).output();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let github = ToolName::parse("github").expect("name");
    let grant = otpbot::store::AccessStore::grant(store.as_ref(), &principal("UALICE"), &github)
        .await
        .expect("read");
    assert_eq!(grant.and_then(|g| g.reason), Some("release".into()));

    let out = on_aws(&moto, &settings)
        .args(["audit", "--format", "csv", "--tool", "github"])
        .output();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actions: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap_or_default())
        .collect();
    assert_eq!(actions, ["audit", "grant", "tool_add"], "{csv}");
    let out = on_aws(&moto, &settings)
        .args(["audit", "--format", "csv"])
        .output();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        csv.matches(",secret_set,").count(),
        3,
        "writing secrets is audited: {csv}"
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the real binary needs on AWS to serve Alice's `/otp github` as a Lambda function: the
/// secrets in SSM, the `github` tool (its notice channel `notify`) and Alice's grant.
async fn lambda_backend(moto: &Moto, notify: Option<&str>) -> (AwsSettings, Arc<AwsStore>, String) {
    let settings = aws::unique_settings();
    let store = aws::store_on(moto, settings.clone()).await;
    let audit_key = "cd".repeat(32);
    aws::put_secret(
        &store,
        format!("{}/audit/hmac-key", settings.ssm_prefix),
        &audit_key,
    )
    .await;
    aws::put_secret(
        &store,
        format!("{}/slack/signing-secret", settings.ssm_prefix),
        common::SECRET,
    )
    .await;
    let github = ToolName::parse("github").expect("name");
    let uri = format!("otpauth://totp/x?secret={}", common::base32(SEED));
    let tool = otpbot::domain::Tool {
        name: github.clone(),
        display_name: "GitHub".into(),
        default_grant: otpbot::domain::GrantDuration::parse("8h").expect("d"),
        max_grant: otpbot::domain::GrantDuration::parse("1d").expect("d"),
        notify_channel: notify.map(str::to_owned),
        approvals_channel: None,
        rules: otpbot::domain::ToolRules::default(),
    };
    let stores = otpbot::store::Stores::single(store.clone());
    let operator = principal("UOPERATOR");
    let seed = Seed::parse(&uri).expect("seed");
    let setup_at = otpbot::domain::Clock::now(&otpbot::domain::SystemClock);
    stores
        .put_tool(&tool, Some(&seed), &operator, setup_at)
        .await
        .expect("tool");
    let now = otpbot::domain::Clock::now(&otpbot::domain::SystemClock);
    let grant = Grant {
        principal: principal("UALICE"),
        person: otpbot::domain::Person::from(&principal("UALICE")),
        tool: github.clone(),
        granted_by: principal(ADMIN),
        granted_at: now,
        expires_at: now.plus_secs(3_600),
        reason: None,
    };
    stores.put_grant(&grant).await.expect("grant");
    (settings, store, audit_key)
}

/// The real binary as a Lambda function under the runtime API at `api`.
fn lambda_function(
    moto: &Moto,
    settings: &AwsSettings,
    api: &common::lambda::LambdaApi,
) -> Command {
    let mut cmd = on_aws(moto, settings)
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "otpbot")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/otpbot")
        .command();
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Alice's signed `/otp github` as an API Gateway event, signed now.
fn alices_code_event() -> String {
    let ts = otpbot::domain::Clock::now(&otpbot::domain::SystemClock).unix();
    let body = slash_body(TEAM, "UALICE", "github");
    http_event(
        false,
        slack_headers(ts, &common::signature(ts, body.as_bytes())),
        &body,
        true,
    )
}

/// The Slack reply inside a Lambda function's answer.
fn slack_reply(answer: Option<Result<String, String>>) -> Value {
    let answer = answer
        .expect("a response")
        .unwrap_or_else(|e| panic!("the function reported an error: {e}"));
    let answer: Value = serde_json::from_str(&answer).expect("response JSON");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    serde_json::from_str(answer["body"].as_str().expect("body")).expect("reply JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_serves_a_slash_command_under_a_lambda_runtime() {
    let moto = Moto::shared();
    let (settings, store, audit_key) = lambda_backend(&moto, None).await;
    let github = ToolName::parse("github").expect("name");
    let mut api = common::lambda::LambdaApi::start().await;
    let _function = Killed(
        lambda_function(&moto, &settings, &api)
            .spawn()
            .expect("spawn the Lambda binary"),
    );
    api.events.send(alices_code_event()).await.expect("queue");
    let answer = tokio::time::timeout(Duration::from_secs(60), api.answers.recv())
        .await
        .expect("the function answered in time");
    let reply = slack_reply(answer);
    assert_eq!(reply["response_type"], "ephemeral");
    // The code is in the first block, between backticks (never in the notification `text`).
    let text = reply["blocks"][0]["text"]["text"].as_str().expect("text");
    let code: String = text
        .split('`')
        .nth(1)
        .expect("a code")
        .chars()
        .take(6)
        .collect();

    let query = AuditQuery {
        limit: 10,
        ..AuditQuery::default()
    };
    let events = otpbot::store::AuditStore::query(store.as_ref(), &query)
        .await
        .expect("query")
        .events;
    let issued = events
        .iter()
        .find(|e| e.outcome == Outcome::Issued)
        .expect("an issuance in the DynamoDB audit table");
    assert_eq!(
        code,
        common::rfc6238::totp_sha1(SEED, issued.at.unix() as u64, 30, 6),
        "the RFC 6238 code at the audited time"
    );
    let key =
        otpbot::keys::AuditKey::new(otpbot::keys::decode_hex_key(&audit_key, "k").expect("key"));
    // The first MAC is the current code's (a second one follows near a rollover, for the next).
    assert_eq!(
        issued.code_mac.as_deref().and_then(|m| m.split(',').next()),
        Some(key.mac_text(&github, &code).as_str()),
        "the audit key from SSM was used"
    );
}

/// Lambda freezes the function once its invocation is over. The code is answered at once while
/// the issuance notice waits out a 429 with `Retry-After: 8`; the function's internal extension
/// keeps the invocation open until the notice is out, and only then is the function frozen
/// (the local runtime API stops the process, as Lambda does). Without the extension the
/// process would be stopped right after the answer and the notice never posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_go_out_before_lambda_freezes_the_function() {
    let moto = Moto::shared();
    let (settings, _store, _key) = lambda_backend(&moto, Some("C0NOTICE")).await;
    let slack = common::slack::FakeWebApi::start().await;
    slack.rate_limit(1, 8);
    let mut api = common::lambda::LambdaApi::start().await;
    let mut function = lambda_function(&moto, &settings, &api);
    function
        .env("OTPBOT_SLACK_BOT_TOKEN", common::BOT_TOKEN)
        .env("OTPBOT_SLACK_API_URL", slack.api_url());
    let function = Killed(function.spawn().expect("spawn the Lambda binary"));
    api.freeze_when_done(function.0.id());

    let sent = std::time::Instant::now();
    api.invoke(alices_code_event()).await;
    let answer = tokio::time::timeout(Duration::from_secs(60), api.answers.recv())
        .await
        .expect("the function answered");
    let answered = sent.elapsed();
    let reply = slack_reply(answer);
    assert!(reply["blocks"].to_string().contains('`'), "a code: {reply}");
    assert_eq!(api.extensions(), 1, "the function registered its extension");
    println!("answered in {answered:?}; the notice waits 8 s");
    assert!(answered < Duration::from_secs(3), "{answered:?}");

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while slack.bodies("chat.postMessage").len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the notice never went out (frozen {} times): {:?}",
            api.freezes(),
            slack.names()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let posts = slack.bodies("chat.postMessage");
    assert_eq!(posts[1]["channel"], "C0NOTICE");
    assert!(posts[1]["text"].to_string().contains("got a GitHub code"));
    // Once the notice is out the invocation ends and the function is frozen.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while api.freezes() == 0 {
        assert!(std::time::Instant::now() < deadline, "never frozen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        sent.elapsed() >= Duration::from_secs(8),
        "frozen only after the notice"
    );
}
