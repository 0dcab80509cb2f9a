//! Test helpers: an otpbot on a random port with a fresh SQLite store, an injected clock, and a
//! client that signs requests the way Slack does; the `otpbot` binary run as an operator runs
//! it ([`cli`]).
#![allow(dead_code)]

pub mod approvals;
pub mod aws;
pub mod cli;
pub mod conformance;
pub mod graph;
pub mod groups;
pub mod lambda;
pub mod rfc6238;
pub mod slack;
pub mod teams;
pub mod terraform;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;

use otpbot::domain::{
    AuditEvent, AuditQuery, Clock, GrantDuration, ManualClock, Principal, Seed, Timestamp, Tool,
    ToolName,
};
use otpbot::engine::{Engine, Policy};
use otpbot::keys::{random_key, AuditKey, SigningSecret};
use otpbot::slack::signature::sign;
use otpbot::slack::SlackConfig;
use otpbot::startup::{router, AppState};
use otpbot::store::local::{LocalStore, MasterKey};
use otpbot::store::Stores;
use serde_json::Value;

/// The signing secret every test app uses.
/// Who the harness's own set-up (tool enrolment) is recorded as.
pub const SETUP_OPERATOR: &str = "cli:local:harness";

pub const SECRET: &str = "0123456789abcdef0123456789abcdef";
/// The bot token the test app holds (the fake Web API checks it).
pub const BOT_TOKEN: &str = "xoxb-test-bot-token";
/// The allowed workspace.
pub const TEAM: &str = "T0TEST";
/// An admin by configuration.
pub const ADMIN: &str = "UADMIN";
/// A fixed start time: 2026-11-03T10:00:05Z (5 s into a 30 s TOTP step).
pub const START: i64 = 1_793_700_005;
/// The test tool's raw seed (20 bytes).
pub const SEED: &[u8] = b"otpbot-test-seed-20b";

/// The key directory (`OTPBOT_KEY_DIR`) of every `otpbot` this test binary runs: under the
/// build's own scratch directory, so that no test writes into the real home directory. Stores
/// made by the tests adopt these keys as a user's stores adopt the default key directory's.
pub fn key_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("keys-{}", env!("CARGO_CRATE_NAME")))
}

/// A running otpbot and handles on its insides.
pub struct TestApp {
    pub url: String,
    pub clock: ManualClock,
    pub router: axum::Router,
    pub stores: Stores,
    pub audit_key: Arc<AuditKey>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The follow-ups the app starts after its answers.
    pub background: otpbot::front::Background,
    /// The application state the router serves (for the sweep: `state.sweep()`).
    pub state: AppState,
}

/// What came back from a slash command.
pub struct SlackReply {
    pub status: u16,
    pub json: Value,
    pub raw: String,
}

impl SlackReply {
    /// The reply as one plain string (fallback text plus every block's text).
    pub fn text(&self) -> String {
        let mut out = vec![self.json["text"].as_str().unwrap_or_default().to_owned()];
        for block in self.json["blocks"].as_array().into_iter().flatten() {
            out.push(
                block["text"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        out.join("\n")
    }

    /// Asserts a handled (200, ephemeral) reply and returns its text.
    pub fn ephemeral(&self) -> String {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.raw
        );
        assert_eq!(self.json["response_type"], "ephemeral", "{}", self.raw);
        self.text()
    }
}

/// Settings a test may change before the app starts.
pub struct Options {
    pub policy: Policy,
    pub workspaces: Vec<String>,
    /// The Slack Web API base URL (a local fake); `None`: no bot token, no notices.
    pub slack_api: Option<String>,
    /// Where Entra ID groups' members are read (a Graph client on a local fake).
    pub graph: Option<Arc<dyn otpbot::engine::Membership>>,
}

impl Default for Options {
    fn default() -> Self {
        let mut policy = Policy::default();
        policy.bootstrap_admins.insert(principal(ADMIN));
        Self {
            policy,
            workspaces: vec![TEAM.to_owned(), "E0ENTERPRISE".to_owned()],
            slack_api: None,
            graph: None,
        }
    }
}

/// The `X-Slack-Signature` for `body` at `ts` under [`SECRET`].
pub fn signature(ts: i64, body: &[u8]) -> String {
    sign(&SigningSecret::new(SECRET.into()), ts, body)
}

/// A slash-command form body as Slack sends it, with a fresh `trigger_id`.
pub fn slash_body(team: &str, user: &str, text: &str) -> String {
    let trigger = format!("{}.{}", rand::random::<u64>(), rand::random::<u64>());
    serde_urlencoded::to_string([
        ("token", "x"),
        ("trigger_id", trigger.as_str()),
        ("team_id", team),
        ("channel_id", "C0TEST"),
        ("user_id", user),
        ("command", "/otp"),
        ("text", text),
    ])
    .expect("form")
}

/// `slack:T0TEST:{user}`
pub fn principal(user: &str) -> Principal {
    Principal::parse(&format!("slack:{TEAM}:{user}")).expect("test principal")
}

/// The code in a reply's text: the first text between backticks, which must be six digits.
pub fn code_in(text: &str) -> String {
    let code = text.split('`').nth(1).expect("a code in backticks");
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "not a six-digit code: {text}"
    );
    code.to_owned()
}

/// Base32 (RFC 4648, no padding), written here so tests do not trust the code under test.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

impl TestApp {
    /// Starts an app with default options and the `github` tool enrolled.
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// Starts an app on a fresh SQLite store with `options` and the `github` tool enrolled.
    pub async fn spawn_with(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("open store"),
        );
        Self::spawn_on(Stores::single(store), dir, options).await
    }

    /// Starts an app on a fresh SQLite store with Teams configured as given.
    pub async fn spawn_teams(options: Options, teams: otpbot::teams::TeamsConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("open store"),
        );
        Self::start(Stores::single(store), dir, options, Some(Arc::new(teams))).await
    }

    /// Starts an app on `stores` with `options` and the `github` tool enrolled.
    pub async fn spawn_on(stores: Stores, dir: tempfile::TempDir, options: Options) -> Self {
        Self::start(stores, dir, options, None).await
    }

    async fn start(
        stores: Stores,
        dir: tempfile::TempDir,
        options: Options,
        teams: Option<Arc<otpbot::teams::TeamsConfig>>,
    ) -> Self {
        let clock = ManualClock::new(Timestamp::from_unix(START));
        let audit_key = Arc::new(AuditKey::new(random_key()));
        let engine = Engine::new(
            stores.clone(),
            Arc::new(clock.clone()),
            audit_key.clone(),
            options.policy,
        );
        let web_api = options.slack_api.map(|url| {
            Arc::new(otpbot::slack::web::WebApi::new(&url, BOT_TOKEN.into()).expect("web api"))
        });
        if let Some(api) = &web_api {
            let groups = engine.core().groups();
            groups.serve(otpbot::domain::Platform::SlackGroup, api.clone());
        }
        if let Some(graph) = options.graph {
            let groups = engine.core().groups();
            groups.serve(otpbot::domain::Platform::EntraGroup, graph);
        }
        let slack = SlackConfig {
            signing_secret: SigningSecret::new(SECRET.into()),
            allowed_workspaces: options.workspaces.into_iter().collect(),
            web_api,
        };
        let engine = Arc::new(engine);
        let background = otpbot::front::Background::recording_copies(engine.clone());
        let state = AppState {
            teams,
            engine,
            slack: Some(Arc::new(slack)),
            background: background.clone(),
        };
        let router = router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = router.clone();
        tokio::spawn(async move { axum::serve(listener, served).await.expect("serve") });
        let url = format!("http://{addr}");
        let app = Self {
            url,
            clock,
            router,
            stores,
            audit_key,
            dir,
            client: otpbot::front::client(std::time::Duration::from_secs(30)).expect("HTTP client"),
            background,
            state,
        };
        app.enrol("github", "GitHub", "8h", "1w").await;
        app
    }

    /// Enrols a tool with [`SEED`], recorded as done by [`SETUP_OPERATOR`].
    pub async fn enrol(&self, name: &str, display: &str, default: &str, max: &str) {
        let name = ToolName::parse(name).expect("tool name");
        let uri = format!(
            "otpauth://totp/Test:{name}?secret={}&issuer=Test",
            base32(SEED)
        );
        let seed = Seed::parse(&uri).expect("seed");
        let tool = Tool {
            name,
            display_name: display.into(),
            default_grant: GrantDuration::parse(default).expect("default"),
            max_grant: GrantDuration::parse(max).expect("max"),
            notify_channel: None,
            approvals_channel: None,
            rules: otpbot::domain::ToolRules::default(),
        };
        let operator = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
        self.stores
            .put_tool(&tool, Some(&seed), &operator, self.now())
            .await
            .expect("put tool");
    }

    /// Waits until every follow-up the app started after its answers (notices, message
    /// updates) has ended, at most 30 s.
    pub async fn settled(&self) {
        assert!(
            self.background
                .idle_within(std::time::Duration::from_secs(30))
                .await,
            "follow-ups still running after 30 s"
        );
    }

    /// The current injected time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sends `/otp {text}` as `user` of the test team.
    pub async fn slash(&self, user: &str, text: &str) -> SlackReply {
        self.slash_in(TEAM, None, user, text).await
    }

    /// Sends `/otp {text}` as `user` of `team` (and enterprise).
    pub async fn slash_in(
        &self,
        team: &str,
        enterprise: Option<&str>,
        user: &str,
        text: &str,
    ) -> SlackReply {
        // Slack sends a fresh trigger_id with every command, so no two requests are identical.
        let trigger = format!("{}.{}", rand::random::<u64>(), rand::random::<u64>());
        let mut fields = vec![
            ("token", "x"),
            ("trigger_id", trigger.as_str()),
            ("team_id", team),
            ("channel_id", "C0TEST"),
            ("user_id", user),
            ("command", "/otp"),
            ("text", text),
        ];
        if let Some(e) = enterprise {
            fields.push(("enterprise_id", e));
        }
        let body = serde_urlencoded::to_string(fields).expect("form");
        self.post_signed(body.into_bytes()).await
    }

    /// Posts `body` signed with the right secret at the injected time.
    pub async fn post_signed(&self, body: Vec<u8>) -> SlackReply {
        let ts = self.now().unix();
        let signature = sign(&SigningSecret::new(SECRET.into()), ts, &body);
        self.post_raw(body, Some(ts.to_string()), Some(signature))
            .await
    }

    /// Posts an interaction `payload` (e.g. Slack's `block_actions`, a click on a button) to
    /// `/slack/interactions` as Slack does, form-encoded under `payload` and signed at the
    /// injected time (<https://docs.slack.dev/interactivity/handling-user-interaction>); the
    /// response's status.
    pub async fn post_interaction(&self, payload: &Value) -> u16 {
        let body = serde_urlencoded::to_string([("payload", payload.to_string())])
            .expect("form")
            .into_bytes();
        self.post_slack_form("/slack/interactions", body, None)
            .await
            .status()
            .as_u16()
    }

    /// Posts the form-encoded `body` to `path` with Slack's timestamp and signature headers at
    /// the injected time (<https://docs.slack.dev/authentication/verifying-requests-from-slack>):
    /// signed with the test's secret, or carrying `signature` as given (a forgery).
    pub async fn post_slack_form(
        &self,
        path: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> reqwest::Response {
        let ts = self.now().unix();
        let signature =
            signature.unwrap_or_else(|| sign(&SigningSecret::new(SECRET.into()), ts, &body));
        self.client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .expect("send")
    }

    /// Posts `body` with exactly these headers.
    pub async fn post_raw(
        &self,
        body: Vec<u8>,
        ts: Option<String>,
        signature: Option<String>,
    ) -> SlackReply {
        let mut request = self
            .client
            .post(format!("{}/slack/commands", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(ts) = ts {
            request = request.header("x-slack-request-timestamp", ts);
        }
        if let Some(signature) = signature {
            request = request.header("x-slack-signature", signature);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let raw = response.text().await.expect("body");
        let json = serde_json::from_str(&raw).unwrap_or(Value::Null);
        SlackReply { status, json, raw }
    }

    /// The audit log newest first, without the records of the harness's own set-up.
    pub async fn audit(&self) -> Vec<AuditEvent> {
        let query = AuditQuery {
            limit: 10_000,
            ..AuditQuery::default()
        };
        let setup = otpbot::domain::Principal::parse(SETUP_OPERATOR).expect("operator");
        let mut events = self
            .stores
            .audit
            .query(&query)
            .await
            .expect("audit query")
            .events;
        events.retain(|e| e.actor != setup);
        events
    }

    /// The newest audit event.
    pub async fn last_event(&self) -> AuditEvent {
        self.audit()
            .await
            .into_iter()
            .next()
            .expect("at least one audit event")
    }

    /// The code an independent RFC 6238 implementation computes for [`SEED`] at `at`.
    pub fn expected_code(&self, at: Timestamp) -> String {
        rfc6238::totp_sha1(SEED, at.unix() as u64, 30, 6)
    }

    /// The database directory's files, concatenated (db, WAL).
    pub fn db_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for name in ["otpbot.db", "otpbot.db-wal"] {
            let path: PathBuf = self.dir.path().join(name);
            bytes.extend(std::fs::read(path).unwrap_or_default());
        }
        bytes
    }

    /// A second connection to the database, for fault injection.
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("otpbot.db")).expect("open db")
    }
}

/// A Slack `block_actions` payload: one button click by `user` of `team` on the approval
/// message in C0APPROVE (Slack, "block_actions payload":
/// <https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>; the fields as
/// in Bolt's `BlockAction`: <https://docs.slack.dev/tools/bolt-js/reference/interfaces/BlockAction>).
pub fn block_actions(team: &str, user: &str, action_id: &str, value: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "block_actions",
        "team": {"id": team, "domain": "example"},
        "user": {"id": user, "username": "someone", "team_id": team},
        "api_app_id": "A0TEST",
        "container": {"type": "message", "message_ts": "1793700005.000100", "channel_id": "C0APPROVE"},
        "trigger_id": "123.456.abc",
        "channel": {"id": "C0APPROVE", "name": "approvals"},
        "response_url": "https://hooks.example.invalid/actions/T0/1/x",
        "actions": [{
            "type": "button",
            "action_id": action_id,
            "block_id": "decide",
            "value": value,
            "text": {"type": "plain_text", "text": "Approve"},
            "action_ts": "1793700006.000200"
        }]
    })
}

/// The `name`s of the `[[section]]` tables of a Cargo manifest (`[[bin]]`, `[[test]]`), in
/// their order.
pub fn manifest_names(manifest: &str, section: &str) -> Vec<String> {
    manifest
        .split(&format!("[[{section}]]"))
        .skip(1)
        .filter_map(|table| {
            let line = table.lines().find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_owned())
        })
        .collect()
}
