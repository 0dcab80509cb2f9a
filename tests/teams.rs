//! The Teams front end against a local fake of the Bot Framework services started by the test
//! (`common::teams`): OpenID metadata and JWKS with a test RSA key, the token endpoint, and a
//! Connector that records what it receives.

use crate::common;

use std::sync::{Arc, Mutex};

use common::cli::Otpbot;
use common::teams::*;
use common::tls::TestCa;
use common::Options;
use otpbot::domain::{Action, Outcome};
use serde_json::{json, Value};

#[tokio::test]
async fn a_personal_message_gets_the_code_in_that_chat_and_an_audit_record() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    assert_eq!(h.send_as(ALICE_AAD, "otp github", "personal").await, 200);
    let posts = h.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let (path, auth, body) = &posts[0];
    assert_eq!(
        path, "reply a:personal-1 1700000000001",
        "replied in the personal chat to the message"
    );
    assert_eq!(auth, "Bearer connector-token-1");
    let expected = common::rfc6238::totp_sha1(common::SEED, h.app.now().unix() as u64, 30, 6);
    let text = card_text(body);
    assert!(text.contains(&expected), "{text}");
    assert_eq!(
        body["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let event = h.app.last_event().await;
    assert_eq!(
        (event.action, event.outcome, event.actor.clone()),
        (Action::Code, Outcome::Issued, teams_user(ALICE_AAD))
    );
    assert!(
        event
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("via personal chat"),
        "{:?}",
        event.detail
    );
}

fn grant(aad: &str) -> otpbot::domain::Grant {
    let at = otpbot::domain::Timestamp::from_unix(common::START);
    otpbot::domain::Grant {
        principal: teams_user(aad),
        person: otpbot::domain::Person::from(&teams_user(aad)),
        tool: otpbot::domain::ToolName::parse("github").expect("tool"),
        granted_by: otpbot::domain::Principal::parse(common::SETUP_OPERATOR).expect("operator"),
        granted_at: at,
        expires_at: at.plus_secs(3_600),
        reason: None,
    }
}

#[tokio::test]
async fn a_channel_message_never_carries_the_code_to_the_channel() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let mut activity = h.activity(ALICE_AAD, "<at>otpbot</at> github", "channel");
    activity["entities"] = json!([{ "type": "mention", "mentioned": { "id": "28:otpbot", "name": "otpbot" }, "text": "<at>otpbot</at>" }]);
    assert_eq!(h.post(Some(h.key.token(h.claims())), &activity).await, 200);
    let posts = h.posts();
    let paths: Vec<&str> = posts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "create",
            "send a:private-conversation",
            "reply 19:general@thread.tacv2;messageid=1700000000001 1700000000001"
        ]
    );
    assert_eq!(posts[0].2["members"][0]["id"], format!("29:{ALICE_AAD}"));
    assert_eq!(posts[0].2["tenantId"], TENANT);
    let private = card_text(&posts[1].2);
    let code = common::rfc6238::totp_sha1(common::SEED, h.app.now().unix() as u64, 30, 6);
    assert!(
        private.contains(&code),
        "the code went to the private chat: {private}"
    );
    let thread = posts[2].2.to_string();
    assert!(
        !thread.contains(&code) && thread.contains("answered you in a private chat"),
        "{thread}"
    );
    let event = h.app.last_event().await;
    assert_eq!(event.outcome, Outcome::Issued);
    assert!(event
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("private 1:1 chat, asked in a group chat or channel"));

    h.fake.seen.lock().expect("lock").fail_conversation_create = true;
    assert_eq!(h.send_as(ALICE_AAD, "github", "groupChat").await, 200);
    let posts = h.posts();
    let paths: Vec<&str> = posts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "create",
            "reply 19:general@thread.tacv2;messageid=1700000000001 1700000000002"
        ]
    );
    assert!(
        posts[1].2.to_string().contains("message me directly")
            && !posts[1].2.to_string().contains(&code)
    );
    let event = h.app.last_event().await;
    assert_eq!(
        (event.action, event.outcome),
        (Action::Request, Outcome::Invalid)
    );
    assert!(event
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("told to message the bot directly"));
}

#[tokio::test]
async fn mentions_of_other_users_resolve_to_their_aad_object_ids() {
    let h = Harness::start().await;
    let mut activity = h.activity(
        ADMIN_AAD,
        "<at>otpbot</at> grant <at>Bob</at> github for 1h",
        "personal",
    );
    activity["entities"] = json!([
        { "type": "mention", "mentioned": { "id": "28:otpbot", "name": "otpbot" }, "text": "<at>otpbot</at>" },
        { "type": "mention", "mentioned": { "id": "29:bob", "name": "Bob" }, "text": "<at>Bob</at>" }
    ]);
    assert_eq!(h.post(Some(h.key.token(h.claims())), &activity).await, 200);
    let event = h.app.last_event().await;
    assert_eq!(
        (event.action, event.outcome, event.subject),
        (Action::Grant, Outcome::Ok, Some(teams_user(BOB_AAD)))
    );
    let text = card_text(&h.posts()[0].2);
    assert!(text.contains(&format!("Granted @{BOB_AAD}")), "{text}");
    assert_eq!(
        h.fake.seen.lock().expect("lock").member_lookups,
        ["29:bob"],
        "Bob's AAD object id came from the Connector"
    );
}

#[tokio::test]
async fn otp_slash_otp_and_a_mention_of_the_bot_all_ask_for_a_code() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    // Teams writes a mention into `text` as `<at>name</at>` and describes it in a `mention`
    // entity whose `mentioned` is the channel account and `text` the same markup ("Channel and
    // group chat conversations with a bot", Teams developer docs).
    let bot_mention = json!({ "type": "mention", "mentioned": { "id": "28:otpbot", "name": "otpbot" }, "text": "<at>otpbot</at>" });
    let typed_mention = json!({ "type": "mention", "mentioned": { "id": "28:otpbot", "name": "otpbot" }, "text": "@otpbot" });
    let cases = [
        ("otp github", json!([])),
        ("/otp github", json!([])),
        ("OTP  github", json!([])),
        ("github", json!([])),
        ("<at>otpbot</at> github", json!([bot_mention])),
        ("<at>otpbot</at>&nbsp;/otp github", json!([bot_mention])),
        ("@otpbot github", json!([typed_mention])),
        ("@otpbot github", json!([])),
        ("@OtpBot otp github", json!([])),
    ];
    for (text, entities) in cases {
        let mut message = h.activity(ALICE_AAD, text, "personal");
        message["entities"] = entities;
        assert_eq!(h.post(Some(h.key.token(h.claims())), &message).await, 200);
        let posts = h.posts();
        assert_eq!(posts.len(), 1, "{text}: {posts:?}");
        let event = h.app.last_event().await;
        assert_eq!(
            (event.action, event.outcome),
            (Action::Code, Outcome::Issued),
            "{text}: {}",
            card_text(&posts[0].2)
        );
    }
}

#[tokio::test]
async fn a_rate_limited_caller_s_mentions_are_never_looked_up() {
    let mut options = Options::default();
    options.policy.per_caller = otpbot::engine::RateLimit {
        limit: 2,
        window_secs: 600,
    };
    options
        .policy
        .bootstrap_admins
        .insert(teams_user(ADMIN_AAD));
    let h = Harness::start_with(options).await;
    for _ in 0..2 {
        assert_eq!(h.send_as(ADMIN_AAD, "help", "personal").await, 200);
    }
    let mut activity = h.activity(ADMIN_AAD, "grant <at>Bob</at> github for 1h", "personal");
    activity["entities"] = json!([
        { "type": "mention", "mentioned": { "id": "29:bob", "name": "Bob" }, "text": "<at>Bob</at>" }
    ]);
    assert_eq!(h.post(Some(h.key.token(h.claims())), &activity).await, 200);
    let event = h.app.last_event().await;
    assert_eq!(event.outcome, Outcome::RateLimited);
    let posts = h.posts();
    assert!(
        card_text(&posts.last().expect("a reply").2).contains("too many requests"),
        "{posts:?}"
    );
    assert!(
        h.fake.seen.lock().expect("lock").member_lookups.is_empty(),
        "no Connector member lookup for a caller over the limit"
    );
}

#[tokio::test]
async fn forged_and_misaddressed_tokens_are_refused_and_nothing_is_processed() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let stranger = SigningKey::new("key-1");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = h.claims();
        f(&mut c);
        c
    };
    let activity = h.activity(ALICE_AAD, "github", "personal");
    let cases: Vec<(&str, Option<String>, Value, u16)> = vec![
        ("no token", None, activity.clone(), 401),
        (
            "forged signature",
            Some(stranger.token(h.claims())),
            activity.clone(),
            401,
        ),
        (
            "wrong audience",
            Some(h.key.token(with(&|c| c["aud"] = json!("someone-else")))),
            activity.clone(),
            401,
        ),
        (
            "wrong issuer",
            Some(
                h.key
                    .token(with(&|c| c["iss"] = json!("https://evil.example"))),
            ),
            activity.clone(),
            401,
        ),
        (
            "expired",
            Some(h.key.token(with(&|c| c["exp"] = json!(now() - 301)))),
            activity.clone(),
            401,
        ),
        (
            "not yet valid",
            Some(h.key.token(with(&|c| c["nbf"] = json!(now() + 400)))),
            activity.clone(),
            401,
        ),
        (
            "unknown key",
            Some(SigningKey::new("key-404").token(h.claims())),
            activity.clone(),
            401,
        ),
        (
            "key endorsed only for skype",
            Some(h.skype_key.token(h.claims())),
            activity.clone(),
            403,
        ),
        (
            "a channel other than msteams, even with its endorsement",
            Some(h.skype_key.token(h.claims())),
            {
                let mut a = activity.clone();
                a["channelId"] = json!("skype");
                a
            },
            403,
        ),
        (
            "service URL mismatch",
            Some(h.key.token(with(&|c| {
                c["serviceurl"] = json!("https://smba.example/evil/")
            }))),
            activity.clone(),
            403,
        ),
        (
            "no serviceurl claim",
            Some(h.key.token(with(&|c| {
                c.as_object_mut().expect("claims").remove("serviceurl");
            }))),
            activity.clone(),
            403,
        ),
        (
            // Both SDKs look the claim up by its exact name, `serviceurl`: a token spelling it
            // `serviceUrl` has no service URL claim to them, and none here.
            "the service URL only under a camelCase `serviceUrl` claim",
            Some(h.key.token(with(&|c| {
                let url = c.as_object_mut().expect("claims").remove("serviceurl");
                c["serviceUrl"] = url.expect("serviceurl");
            }))),
            activity.clone(),
            403,
        ),
        (
            "garbage token",
            Some("not.a.jwt".into()),
            activity.clone(),
            401,
        ),
    ];
    for (name, token, activity, status) in cases {
        assert_eq!(h.post(token, &activity).await, status, "{name}");
    }
    assert!(h.posts().is_empty(), "nothing was sent anywhere");
    assert!(
        h.app.audit().await.is_empty(),
        "nothing unverified reached the audit log"
    );

    let mut foreign = h.activity(ALICE_AAD, "github", "personal");
    foreign["channelData"]["tenant"]["id"] = json!("00000000-0000-0000-0000-00000000beef");
    foreign["conversation"]["tenantId"] = json!("00000000-0000-0000-0000-00000000beef");
    assert_eq!(
        h.post(Some(h.key.token(h.claims())), &foreign).await,
        403,
        "unknown tenant"
    );
    assert!(h.posts().is_empty());
    let event = h.app.last_event().await;
    assert_eq!(event.outcome, Outcome::BadWorkspace);
}

#[tokio::test]
async fn the_connector_token_is_reused_until_it_expires_and_keys_refresh_on_a_new_kid() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    for text in ["github", "list", "help"] {
        assert_eq!(h.send_as(ALICE_AAD, text, "personal").await, 200);
    }
    let posts = h.posts();
    assert_eq!(posts.len(), 3);
    assert!(
        posts.iter().all(|p| p.1 == "Bearer connector-token-1"),
        "one token for all replies"
    );
    assert_eq!(h.fake.seen.lock().expect("lock").token_requests, 1);
    assert_eq!(
        h.fake.seen.lock().expect("lock").key_fetches,
        1,
        "keys are cached"
    );

    let rotated = SigningKey::new("key-2");
    h.fake
        .keys
        .lock()
        .expect("lock")
        .push(rotated.jwk(&["msteams"]));
    assert_eq!(
        h.post(
            Some(rotated.token(h.claims())),
            &h.activity(ALICE_AAD, "list", "personal")
        )
        .await,
        200
    );
    assert_eq!(
        h.fake.seen.lock().expect("lock").key_fetches,
        2,
        "an unknown kid refreshes the keys once"
    );
}

#[tokio::test]
async fn non_message_activities_are_acknowledged_and_ignored() {
    let h = Harness::start().await;
    let mut activity = h.activity(ALICE_AAD, "", "personal");
    activity["type"] = json!("conversationUpdate");
    assert_eq!(h.post(Some(h.key.token(h.claims())), &activity).await, 200);
    assert!(h.posts().is_empty());
    assert!(h.app.audit().await.is_empty());
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_before_use() {
    let h = Harness::start().await;
    // Tokens that live less than the 5-minute renewal margin are never reused.
    h.fake.seen.lock().expect("lock").token_lifetime = 200;
    for _ in 0..2 {
        assert_eq!(h.send_as(ALICE_AAD, "list", "personal").await, 200);
    }
    let auths: Vec<String> = h.posts().into_iter().map(|p| p.1).collect();
    assert_eq!(
        auths,
        ["Bearer connector-token-1", "Bearer connector-token-2"]
    );
}

#[tokio::test]
async fn a_redelivered_activity_is_acted_on_once() {
    let h = Harness::start().await;
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let token = h.key.token(h.claims());
    let activity = h.activity(ALICE_AAD, "github", "personal");
    assert_eq!(h.post(Some(token.clone()), &activity).await, 200);
    assert_eq!(
        h.post(Some(token), &activity).await,
        200,
        "acknowledged, so the sender stops retrying"
    );
    assert_eq!(h.posts().len(), 1, "one reply");
    let issued = h
        .app
        .audit()
        .await
        .into_iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .count();
    assert_eq!(issued, 1, "one code issued");
}

// ---- The `otpbot` binary, as deployed: `otpbot serve` in its own process. ----

/// `otpbot` with nothing from this process's environment but `PATH`, on the data dir `dir`.
fn otpbot(dir: &std::path::Path) -> std::process::Command {
    Otpbot::new()
        .data_dir(dir)
        .key_dir(common::key_dir())
        .command()
}

/// The Teams settings of a deployment whose Bot Framework is `fake`.
fn teams_env(cmd: &mut std::process::Command, fake: &Fake) {
    cmd.env("OTPBOT_TEAMS_APP_ID", APP_ID)
        .env("OTPBOT_TEAMS_TENANT_IDS", TENANT)
        .env("OTPBOT_TEAMS_CLIENT_SECRET", "bot-secret")
        .env("OTPBOT_TEAMS_OPENID_URL", format!("{}/openid", fake.base))
        .env("OTPBOT_TEAMS_LOGIN_URL", &fake.base);
}

fn succeeded(output: std::process::Output) {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Enrols `github` with [`common::SEED`] and grants it to `principal`, as the operator does.
fn enrol_and_grant(dir: &std::path::Path, principal: &str) {
    use std::io::Write;
    let mut child = otpbot(dir)
        .args(["tool", "add", "github", "--display-name", "GitHub"])
        .args(["--default-grant", "1h", "--max-grant", "1d"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn otpbot tool add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(common::base32(common::SEED).as_bytes())
        .expect("write seed");
    succeeded(child.wait_with_output().expect("tool add"));
    succeeded(
        otpbot(dir)
            .args(["grant", principal, "github"])
            .output()
            .expect("grant"),
    );
}

/// The codes valid now or in the previous 30 s step (the binary reads the real clock).
fn current_codes() -> [String; 2] {
    let t = now() as u64;
    [t, t - 30].map(|at| common::rfc6238::totp_sha1(common::SEED, at, 30, 6))
}

/// A running `otpbot serve`, its JSON log lines collected; killed when dropped.
struct Served {
    child: std::process::Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `cmd` (an `otpbot serve` on `127.0.0.1:0`) and waits until it listens. If it exits
    /// instead, returns what it logged.
    fn start(mut cmd: std::process::Command) -> Result<Self, String> {
        use std::io::BufRead;
        cmd.env("OTPBOT_LOG_FORMAT", "json")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn otpbot serve");
        let stderr = child.stderr.take().expect("stderr");
        let log: Arc<Mutex<Vec<String>>> = Default::default();
        let (listening, heard) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                if parsed["message"] == "otpbot listening" {
                    let _ = listening.send(parsed["addr"].as_str().map(str::to_owned));
                }
                lines.lock().expect("lock").push(line);
            }
            let _ = listening.send(None);
        });
        let addr = heard
            .recv_timeout(std::time::Duration::from_secs(60))
            .ok()
            .flatten();
        let mut served = Self {
            child,
            url: String::new(),
            log,
        };
        match addr {
            Some(addr) => {
                served.url = format!("http://{addr}");
                Ok(served)
            }
            None => Err(served.log_text()),
        }
    }

    fn log_text(&self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.log.lock().expect("lock").join("\n")
    }

    async fn post(&self, token: Option<String>, activity: &Value) -> u16 {
        let mut request = otpbot::front::client(std::time::Duration::from_secs(30))
            .expect("HTTP client")
            .post(format!("{}/teams/messages", self.url))
            .json(activity);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("send").status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn outbound_tls_trusts_the_certificate_authority_named_by_ssl_cert_file() {
    let ca = TestCa::new();
    let key = SigningKey::new("key-tls");
    let fake = Fake::start(vec![key.jwk(&["msteams"])], Some(ca.acceptor.clone())).await;
    assert!(fake.base.starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().expect("tempdir");
    enrol_and_grant(dir.path(), &format!("teams:{TENANT}:{ALICE_AAD}"));
    let trusted = dir.path().join("company-ca.pem");
    std::fs::write(&trusted, &ca.ca_pem).expect("write CA");
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, TestCa::new().ca_pem).expect("write other CA");

    // Trusting nothing, otpbot does not start.
    let mut cmd = otpbot(dir.path());
    teams_env(&mut cmd, &fake);
    cmd.env("SSL_CERT_FILE", dir.path().join("missing.pem"))
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let refused = Served::start(cmd).err().expect("refused without a CA");
    assert!(
        refused.contains("no trusted CA certificates") && refused.contains("missing.pem"),
        "{refused}"
    );

    // A certificate file that is not PEM at all: a clear refusal, not a panic.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    )
    .expect("write garbage");
    let mut cmd = otpbot(dir.path());
    teams_env(&mut cmd, &fake);
    cmd.env("SSL_CERT_FILE", &garbage)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let refused = Served::start(cmd)
        .err()
        .expect("refused with a broken CA file");
    assert!(!refused.contains("panicked"), "{refused}");
    assert!(
        refused.contains("garbage.pem") || refused.contains("SSL_CERT_FILE"),
        "{refused}"
    );

    // Trusting only another CA, otpbot cannot reach the Bot Framework at all.
    let mut cmd = otpbot(dir.path());
    teams_env(&mut cmd, &fake);
    cmd.env("SSL_CERT_FILE", &other)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let served = Served::start(cmd).expect("otpbot serve starts");
    let message = activity(&fake.service_url(), 1, ALICE_AAD, "github", "personal");
    let status = served
        .post(Some(key.token(claims(&fake.service_url()))), &message)
        .await;
    assert_eq!(status, 500, "the signing keys are out of reach");
    assert_eq!(fake.seen.lock().expect("lock").key_fetches, 0);
    assert!(fake.posts().is_empty());
    drop(served);

    // Trusting the CA through SSL_CERT_FILE, the code is delivered over HTTPS.
    let mut cmd = otpbot(dir.path());
    teams_env(&mut cmd, &fake);
    cmd.env("SSL_CERT_FILE", &trusted)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let served = Served::start(cmd).expect("otpbot serve starts");
    let message = activity(&fake.service_url(), 2, ALICE_AAD, "github", "personal");
    let status = served
        .post(Some(key.token(claims(&fake.service_url()))), &message)
        .await;
    assert_eq!(status, 200, "{}", served.log_text());
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, "reply a:personal-1 2");
    let card = card_text(&posts[0].2);
    assert!(
        current_codes().iter().any(|code| card.contains(code)),
        "the code reached the HTTPS Connector: {card}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_only_and_slack_only_deployments_each_start_without_the_other_s_settings() {
    let fake = Fake::start(Vec::new(), None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let client = otpbot::front::client(std::time::Duration::from_secs(30)).expect("HTTP client");

    let mut cmd = otpbot(dir.path());
    teams_env(&mut cmd, &fake);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let teams_only = Served::start(cmd).expect("a Teams-only deployment starts");
    let slack = client
        .post(format!("{}/slack/commands", teams_only.url))
        .body("token=x")
        .send()
        .await
        .expect("send");
    assert_eq!(
        slack.status(),
        404,
        "no Slack endpoint without Slack settings"
    );
    drop(teams_only);

    let mut cmd = otpbot(dir.path());
    cmd.env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", common::TEAM)
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let slack_only = Served::start(cmd).expect("a Slack-only deployment starts");
    let teams = client
        .post(format!("{}/teams/messages", slack_only.url))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        teams.status(),
        404,
        "no Teams endpoint without Teams settings"
    );
    drop(slack_only);

    let mut cmd = otpbot(dir.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let refused = Served::start(cmd)
        .err()
        .expect("nothing configured: refused");
    assert!(
        refused.contains("neither Slack nor Teams is configured"),
        "{refused}"
    );
}

// ---- The local try-out: `otpbot serve --teams-playground`. ----

/// The tenant and user the Microsoft 365 Agents Playground 0.2.28 puts in its activities
/// (`GET /_internal/v1/testConfig`: `config.tenantId`, `config.currentUser.aadObjectId`).
const PLAYGROUND_TENANT: &str = "00000000-0000-0000-0000-0000000000001";
const PLAYGROUND_USER_AAD: &str = "00000000-0000-0000-0000-0000000000020";

/// An activity as the playground posts it: no `Authorization` header, its own ids, and a plain
/// `http` loopback service URL with a path prefix (measured from the 0.2.28 package).
fn playground_activity(service_url: &str, id: u64, text: &str) -> Value {
    json!({
        "type": "message",
        "text": text,
        "id": format!("e438f221-df7a-4efe-b86b-{id:012}"),
        "from": { "id": "user-id-0", "name": "Alex Wilber", "aadObjectId": PLAYGROUND_USER_AAD },
        "serviceUrl": service_url,
        "conversation": { "conversationType": "personal", "tenantId": PLAYGROUND_TENANT, "id": "608e5e0a-6dd2-4204-a717-f36b18234d06" },
        "recipient": { "id": "00000000-0000-0000-0000-00000000000011", "name": "Test Bot" },
        "textFormat": "plain",
        "entities": [{ "type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "UTC" }],
        "channelData": { "tenant": { "id": PLAYGROUND_TENANT } },
        "channelId": "msteams"
    })
}

fn playground_serve(dir: &std::path::Path, listen: &str) -> std::process::Command {
    let mut cmd = otpbot(dir);
    cmd.env("OTPBOT_TEAMS_TENANT_IDS", PLAYGROUND_TENANT).args([
        "serve",
        "--teams-playground",
        "--listen",
        listen,
    ]);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn the_playground_mode_is_refused_unless_local() {
    let dir = tempfile::tempdir().expect("tempdir");
    let refused = |cmd: std::process::Command| {
        Served::start(cmd)
            .err()
            .expect("the playground mode is refused")
    };
    let everywhere = refused(playground_serve(dir.path(), "0.0.0.0:0"));
    assert!(
        everywhere.contains("must listen on a loopback address"),
        "{everywhere}"
    );

    let mut lambda = playground_serve(dir.path(), "127.0.0.1:0");
    lambda.env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    let lambda = refused(lambda);
    assert!(lambda.contains("never available on AWS Lambda"), "{lambda}");

    let mut by_variable = otpbot(dir.path());
    by_variable
        .env("OTPBOT_TEAMS_PLAYGROUND", "true")
        .env("OTPBOT_TEAMS_TENANT_IDS", PLAYGROUND_TENANT)
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let by_variable = refused(by_variable);
    assert!(
        by_variable.contains("OTPBOT_TEAMS_PLAYGROUND") && by_variable.contains("Lambda"),
        "{by_variable}"
    );

    let mut no_tenant = otpbot(dir.path());
    no_tenant.args(["serve", "--teams-playground", "--listen", "127.0.0.1:0"]);
    let no_tenant = refused(no_tenant);
    assert!(no_tenant.contains(PLAYGROUND_TENANT), "{no_tenant}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_playground_mode_takes_tokenless_activities_and_replies_over_loopback_http_only() {
    // The fake stands in for the playground's connector at a plain-http loopback URL; it also
    // serves a token endpoint, which must not be asked.
    let key = SigningKey::new("key-1");
    let fake = Fake::start(vec![key.jwk(&["msteams"])], None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    enrol_and_grant(
        dir.path(),
        &format!("teams:{PLAYGROUND_TENANT}:{PLAYGROUND_USER_AAD}"),
    );

    // Without the opt-in, the same activity is refused and nothing is sent.
    let mut cmd = otpbot(dir.path());
    teams_env(&mut cmd, &fake);
    cmd.env("OTPBOT_TEAMS_TENANT_IDS", PLAYGROUND_TENANT).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    let served = Served::start(cmd).expect("otpbot serve starts");
    let message = playground_activity(&fake.service_url(), 1, "otp github");
    assert_eq!(served.post(None, &message).await, 401);
    // Even with a valid token naming it, a plain-http service URL is refused up front.
    let token = key.token(claims(&fake.service_url()));
    assert_eq!(served.post(Some(token), &message).await, 403);
    assert!(fake.posts().is_empty());
    assert_eq!(fake.seen.lock().expect("lock").token_requests, 0);
    drop(served);

    let mut cmd = playground_serve(dir.path(), "127.0.0.1:0");
    teams_env(&mut cmd, &fake);
    cmd.env("OTPBOT_TEAMS_TENANT_IDS", PLAYGROUND_TENANT);
    let served = Served::start(cmd).expect("otpbot serve --teams-playground starts");
    let started = served.log_text();
    assert!(
        started.contains("WARN") && started.contains("Teams playground mode"),
        "warned at start: {started}"
    );

    let message = playground_activity(&fake.service_url(), 2, "otp github");
    assert_eq!(
        served.post(None, &message).await,
        200,
        "{}",
        served.log_text()
    );
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let (path, authorization, body) = &posts[0];
    assert_eq!(
        path,
        "reply 608e5e0a-6dd2-4204-a717-f36b18234d06 e438f221-df7a-4efe-b86b-000000000002"
    );
    assert_eq!(
        authorization, "",
        "no Connector token is sent to the playground"
    );
    assert_eq!(fake.seen.lock().expect("lock").token_requests, 0);
    let card = card_text(body);
    assert!(
        current_codes().iter().any(|code| card.contains(code)),
        "{card}"
    );
    let warnings = served
        .log_text()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("without a Bot Framework token"))
        .count();
    assert_eq!(warnings, 1, "one warning per request");

    // A service URL off this machine is refused, even in playground mode.
    let away = playground_activity("http://teams.example:56150/_connector", 3, "otp github");
    assert_eq!(served.post(None, &away).await, 403);
    assert!(fake.posts().is_empty());
}

/// A child process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real Microsoft 365 Agents Playground (pinned in `tests/playground`) against
/// `endpoint`, confined to loopback by the project's own guard through the same launcher the
/// docs use (`scripts/playground.sh`), on a port it reports; returns it and that port.
fn start_playground(endpoint: &str, work: &std::path::Path) -> (Killed, u16) {
    use std::io::BufRead;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cli = root.join("tests/playground/node_modules/@microsoft/m365agentsplayground/cli.js");
    assert!(
        cli.exists(),
        "the playground is not installed: run `npm ci` in tests/playground (scripts/test.sh does)"
    );
    // `-p 0` would pick a port only after `--su` must name it, so a free port is chosen here and
    // the playground's own report checked (it falls back to another port if that one is taken).
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = std::process::Command::new("bash")
            .arg(root.join("scripts/playground.sh"))
            .args(["-e", endpoint, "-c", "msteams", "--disable-telemetry"])
            .args(["-p", &port.to_string()])
            .args(["--su", &format!("http://127.0.0.1:{port}/_connector")])
            .current_dir(work)
            .env("TEAMSAPPTESTER_BROWSER", "none")
            .env(
                "M365_AGENTS_PLAYGROUND_LOGFILE",
                work.join("playground.log"),
            )
            .env(
                "M365_AGENTS_PLAYGROUND_CONFIG_PATH",
                work.join("playground.yml"),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn the playground");
        let stdout = child.stdout.take().expect("stdout");
        let child = Killed(child);
        let (said, heard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(p) = line.strip_prefix("Listening on ") {
                    let _ = said.send(p.trim().parse::<u16>().ok());
                }
            }
            let _ = said.send(None);
        });
        match heard.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(Some(listening)) if listening == port => return (child, port),
            Ok(Some(_)) => continue,
            _ => panic!(
                "the playground did not start: {}",
                std::fs::read_to_string(work.join("playground.log")).unwrap_or_default()
            ),
        }
    }
    panic!("the playground never listened on the port it was given");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_reaches_the_real_microsoft_365_agents_playground() {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED: node is not installed, so the Microsoft 365 Agents Playground cannot run"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    enrol_and_grant(
        dir.path(),
        &format!("teams:{PLAYGROUND_TENANT}:{PLAYGROUND_USER_AAD}"),
    );
    let served = Served::start(playground_serve(dir.path(), "127.0.0.1:0"))
        .expect("otpbot serve --teams-playground starts");
    let (_playground, port) =
        start_playground(&format!("{}/teams/messages", served.url), dir.path());
    let base = format!("http://127.0.0.1:{port}");
    let client = otpbot::front::client(std::time::Duration::from_secs(30)).expect("HTTP client");

    let config: Value = client
        .get(format!("{base}/_internal/v1/testConfig"))
        .send()
        .await
        .expect("testConfig")
        .json()
        .await
        .expect("testConfig json");
    let config = &config["config"];
    assert_eq!(config["tenantId"], PLAYGROUND_TENANT, "{config}");
    assert_eq!(config["currentUser"]["aadObjectId"], PLAYGROUND_USER_AAD);
    let chat = config["personalChat"]["id"]
        .as_str()
        .expect("personal chat id");
    let user = config["currentUser"]["id"].as_str().expect("user id");

    let (mut log, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/_ws/log/stream"))
            .await
            .expect("log stream");
    let sent = client
        .post(format!(
            "{base}/_conversation/v1/conversations/{chat}/messages"
        ))
        .json(&json!({ "from": { "id": user }, "text": "otp github", "textFormat": "plain" }))
        .send()
        .await
        .expect("send a message");
    assert!(sent.status().is_success(), "{:?}", sent.text().await);

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let (mut delivered, mut answered) = (None, None);
    while delivered.is_none() || answered.is_none() {
        let entry = tokio::time::timeout_at(deadline, next_log(&mut log))
            .await
            .unwrap_or_else(|_| {
                panic!("no reply in the playground; otpbot: {}", served.log_text())
            });
        let entry = &entry["log"];
        match (entry["from"].as_str(), entry["to"].as_str()) {
            // What otpbot posted to the playground's connector.
            (Some("User Application"), _) if entry["request"]["body"]["type"] == "message" => {
                delivered = Some(entry.clone())
            }
            // The playground's message to otpbot, with otpbot's answer.
            (_, Some("User Application")) if entry["activityName"] == "message" => {
                answered = Some(entry["response"]["statusCode"].clone())
            }
            _ => {}
        }
    }
    assert_eq!(
        answered,
        Some(json!(200)),
        "otpbot took the tokenless activity"
    );
    let delivered = delivered.expect("a reply");
    assert!(
        delivered["response"]["statusCode"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s)),
        "{delivered}"
    );
    let card = card_text(&delivered["request"]["body"]);
    assert!(
        current_codes().iter().any(|code| card.contains(code)),
        "the code is in the card the playground shows: {card}"
    );
}

/// The next JSON text message on the playground's log WebSocket.
async fn next_log<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).unwrap_or(Value::Null)
            }
            Some(Ok(_)) => continue,
            other => panic!("the log stream ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_serviceurl_claim_matches_the_activity_ignoring_case_as_botbuilder_dotnet_does() {
    // botbuilder-dotnet `ChannelValidation`: `string.Equals(serviceUrlClaim, serviceUrl,
    // StringComparison.OrdinalIgnoreCase)`.
    let h = Harness::start().await;
    let mut shouting = h.claims();
    shouting["serviceurl"] = json!(h.service_url().to_uppercase().replace("HTTP://", "http://"));
    let message = h.activity(ALICE_AAD, "help", "personal");
    assert_eq!(h.post(Some(h.key.token(shouting)), &message).await, 200);
    assert_eq!(h.posts().len(), 1);
}

/// Only RSA keys verify Bot Framework tokens. A key set that also publishes an elliptic-curve
/// key (RFC 7517, appendix A.1's example shape), a symmetric one, and an EC key reusing the
/// RSA key's `kid` is still read: the RSA key verifies, the others are ignored, and a token
/// naming the EC key's `kid` is refused.
#[tokio::test]
async fn signing_keys_that_are_not_rsa_are_ignored() {
    let h = Harness::start().await;
    let ec = |kid: &str| {
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": kid,
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
            "endorsements": ["msteams"]
        })
    };
    *h.fake.keys.lock().expect("keys") = vec![
        ec("ec-1"),
        json!({ "kty": "oct", "kid": "oct-1", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow" }),
        h.key.jwk(&["msteams"]),
        ec("key-1"),
    ];
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    assert_eq!(h.send_as(ALICE_AAD, "github", "personal").await, 200);
    let expected = common::rfc6238::totp_sha1(common::SEED, h.app.now().unix() as u64, 30, 6);
    assert!(card_text(&h.posts()[0].2).contains(&expected));
    // A token whose header names the EC key: no RSA key has that id, so it is refused.
    let impostor = SigningKey {
        kid: "ec-1".into(),
        pair: aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa"),
    };
    let activity = h.activity(ALICE_AAD, "github", "personal");
    assert_eq!(
        h.post(Some(impostor.token(h.claims())), &activity).await,
        401
    );
    assert!(h.posts().is_empty(), "nothing answered");
}

/// The Bot Connector client never follows a redirect: a service URL (vouched for by the token)
/// that answers `307` elsewhere gets the answer nowhere else; the code never reaches the
/// redirect's target, and the failed delivery is audited.
#[tokio::test]
async fn a_service_url_that_redirects_is_not_followed() {
    let h = Harness::start().await;
    let elsewhere = common::slack::Recorder::start().await;
    h.fake.seen.lock().expect("seen").redirect_to = format!("{}/stolen", elsewhere.url);
    h.app
        .stores
        .put_grant(&grant(ALICE_AAD))
        .await
        .expect("grant");
    let moved = format!("{}/moved/", h.fake.base);
    let mut activity = h.activity(ALICE_AAD, "github", "personal");
    activity["serviceUrl"] = json!(moved);
    let token = h.key.token(claims(&moved));
    assert_eq!(h.post(Some(token), &activity).await, 200);
    let posts = h.posts();
    assert!(
        posts.iter().any(|(path, _, _)| path.starts_with("moved ")),
        "the service URL was called: {posts:?}"
    );
    assert!(
        elsewhere.seen().is_empty(),
        "followed: {:?}",
        elsewhere.seen()
    );
    let event = h.app.last_event().await;
    assert_eq!(event.outcome, Outcome::Error, "{event:?}");
    assert!(event.detail.unwrap_or_default().contains("delivery failed"));
}
