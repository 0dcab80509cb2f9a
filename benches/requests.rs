//! Request latency and throughput, and the Lambda handler's costs.
//!
//! `cargo bench --bench requests` (needs `.venv/bin/moto_server`, which `scripts/test.sh`
//! installs). Prints, on this machine:
//! - the local server (`otpbot serve` path) on a SQLite file on disk (under the target
//!   directory, not tmpfs) with `synchronous = FULL`: audited codes per second and p50/p99
//!   latency of signed `/otp github` requests over loopback HTTP at 1, 8 and 64 concurrent
//!   clients, and the same server's `GET /healthz` rate with the same client as the ceiling;
//! - the Lambda handler on the AWS backend against the emulator: DynamoDB and SSM calls per
//!   issued code at steady state (counted on the wire), init time (one AWS config load,
//!   clients built once, signing secret and audit key fetched from SSM, router built), and warm
//!   per-invocation latency of API Gateway events through the same router.
//!
//! Numbers from a shared machine are indicative; compare runs on the same machine. Nothing here
//! asserts a timing.

#[path = "../tests/common/mod.rs"]
mod common;

use common::aws;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use otpbot::domain::{Clock, Grant, GrantDuration, Principal, Seed, SystemClock, Tool, ToolName};
use otpbot::http::{router, AppState};
use otpbot::keys::{random_key, AuditKey, SigningSecret};
use otpbot::slack::verify::sign;
use otpbot::slack::SlackConfig;
use otpbot::store::local::{LocalStore, MasterKey};
use otpbot::store::Stores;
use tower::ServiceExt;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const TEAM: &str = "T0BENCH";

fn body(user: &str) -> String {
    let trigger = format!("{}.{}", rand::random::<u64>(), rand::random::<u64>());
    serde_urlencoded::to_string([
        ("team_id", TEAM),
        ("user_id", user),
        ("channel_id", "C1"),
        ("command", "/otp"),
        ("text", "github"),
        ("trigger_id", trigger.as_str()),
    ])
    .expect("form")
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    let total: Duration = samples.iter().sum();
    println!(
        "{name:<44} n={:<5} mean {:>8.2?}  p50 {:>8.2?}  p99 {:>8.2?}",
        samples.len(),
        total / samples.len() as u32,
        pct(0.50),
        pct(0.99)
    );
}

/// Puts the `github` tool and grants for `users` into `stores`.
async fn seed_store(stores: &Stores, users: &[String]) {
    let github = ToolName::parse("github").expect("name");
    let week = GrantDuration::parse("1w").expect("1w");
    let tool = Tool {
        name: github.clone(),
        display_name: "GitHub".into(),
        default_grant: week,
        max_grant: week,
        notify_channel: None,
        approvals_channel: None,
    };
    let now = SystemClock.now();
    let seed = Seed::parse("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("seed");
    let operator = Principal::parse(&format!("slack:{TEAM}:UOPERATOR")).expect("principal");
    stores
        .put_tool(&tool, Some(&seed), &operator, now)
        .await
        .expect("tool");
    for user in users {
        let principal = Principal::parse(&format!("slack:{TEAM}:{user}")).expect("principal");
        let grant = Grant {
            person: otpbot::domain::Person::from(&principal),
            principal: principal.clone(),
            tool: github.clone(),
            granted_by: principal,
            granted_at: now,
            expires_at: now.plus_secs(week.secs()),
            reason: None,
        };
        stores.put_grant(&grant).await.expect("grant");
    }
}

/// Limits that never bind here, over a short window so the limit logs stay small.
fn policy() -> otpbot::engine::Policy {
    let mut policy = otpbot::engine::Policy::default();
    let plenty = otpbot::engine::RateLimit {
        limit: 1_000_000,
        window_secs: 1,
    };
    policy.per_tool = plenty;
    policy.per_caller = plenty;
    policy
}

/// Runs `clients` concurrent clients, each sending `each` requests made by `send`; prints the
/// rate and latency.
async fn load<F, Fut>(name: &str, clients: usize, each: usize, send: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Duration> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let send = send.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(each);
            for _ in 0..each {
                samples.push(send(client).await);
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("task"));
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    report(&format!("{name}, {clients} clients"), samples);
    println!("{:<52} {rate:.0}/s", format!("  rate, {clients} clients"));
}

async fn local_server() {
    // On disk, not tmpfs: the target directory is on the build disk.
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&base).expect("target dir");
    let dir = tempfile::tempdir_in(&base).expect("dir");
    let store =
        Arc::new(LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("store"));
    let stores = Stores::single(store);
    let users: Vec<String> = (0..64).map(|i| format!("U{i}")).collect();
    seed_store(&stores, &users).await;
    let engine = otpbot::engine::Engine::new(
        stores,
        Arc::new(SystemClock),
        Arc::new(AuditKey::new(random_key())),
        policy(),
    );
    let slack = SlackConfig {
        signing_secret: SigningSecret::new(SECRET.into()),
        allowed_workspaces: [TEAM.to_owned()].into(),
        web_api: None,
    };
    let app = router(AppState {
        background: otpbot::front::Background::default(),
        engine: Arc::new(engine),
        slack: Some(Arc::new(slack)),
        teams: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let url = format!("http://{addr}/slack/commands");
    let health = format!("http://{addr}/healthz");
    let client = otpbot::front::client(Duration::from_secs(30)).expect("HTTP client");
    let secret = SigningSecret::new(SECRET.into());
    let send = {
        let client = client.clone();
        move |user: usize| {
            let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
            async move {
                let body = body(&format!("U{user}"));
                let ts = SystemClock.now().unix();
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .header("x-slack-request-timestamp", ts.to_string())
                    .header("x-slack-signature", sign(&secret, ts, body.as_bytes()))
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                assert!(response.status().is_success());
                let text = response.text().await.expect("text");
                assert!(text.contains("valid for"), "{text}");
                started.elapsed()
            }
        }
    };
    for user in 0..64 {
        send(user).await;
    }
    println!(
        "local server on {} (SQLite, WAL, synchronous = FULL)",
        dir.path().display()
    );
    load("local server, audited /otp github", 1, 2_000, send.clone()).await;
    load("local server, audited /otp github", 8, 500, send.clone()).await;
    load("local server, audited /otp github", 64, 150, send).await;
    let healthz = move |_: usize| {
        let (client, health) = (client.clone(), health.clone());
        async move {
            let started = Instant::now();
            let response = client.get(&health).send().await.expect("send");
            assert!(response.status().is_success());
            response.bytes().await.expect("body");
            started.elapsed()
        }
    };
    load("local server, GET /healthz (ceiling)", 64, 300, healthz).await;
}

/// DynamoDB and SSM calls per issued code at steady state, counted on the wire.
async fn calls_per_code(moto: &aws::Moto) {
    let log = aws::CallLog::default();
    let store = aws::counted_store_on(moto, aws::unique_settings(), &log).await;
    let stores = Stores::single(store);
    seed_store(&stores, &["U0".to_owned()]).await;
    let engine = otpbot::engine::Engine::new(
        stores,
        Arc::new(SystemClock),
        Arc::new(AuditKey::new(random_key())),
        policy(),
    );
    let app = router(AppState {
        background: otpbot::front::Background::default(),
        engine: Arc::new(engine),
        slack: Some(Arc::new(SlackConfig {
            signing_secret: SigningSecret::new(SECRET.into()),
            allowed_workspaces: [TEAM.to_owned()].into(),
            web_api: None,
        })),
        teams: None,
    });
    let secret = SigningSecret::new(SECRET.into());
    const CODES: usize = 50;
    for i in 0..=CODES {
        if i == 1 {
            log.take();
        }
        let body = body("U0");
        let ts = SystemClock.now().unix();
        let request = axum::http::Request::post("/slack/commands")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(&secret, ts, body.as_bytes()))
            .body(axum::body::Body::from(body))
            .expect("request");
        let response = app.clone().oneshot(request).await.expect("invoke");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        assert!(String::from_utf8_lossy(&bytes).contains("valid for"));
    }
    let calls = log.take();
    let dynamodb = calls.iter().filter(|c| c.starts_with("DynamoDB")).count();
    let ssm = calls.iter().filter(|c| c.starts_with("AmazonSSM")).count();
    println!(
        "{:<52} DynamoDB {:.2}, SSM {:.2} (over {CODES} codes)",
        "Lambda handler, calls per issued code",
        dynamodb as f64 / CODES as f64,
        ssm as f64 / CODES as f64
    );
}

/// The emulator's own cost of one call: sequential `GetItem`s on a small table.
async fn emulator_floor(moto: &aws::Moto) {
    let store = aws::store_on(moto, aws::unique_settings()).await;
    let mut samples = Vec::new();
    for i in 0..120 {
        let started = Instant::now();
        store
            .dynamodb()
            .get_item()
            .table_name(&store.settings().access_table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("P#x".into()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("G#x".into()),
            )
            .send()
            .await
            .expect("get item");
        if i >= 20 {
            samples.push(started.elapsed());
        }
    }
    report("emulator floor: one DynamoDB GetItem call", samples);
}

async fn lambda_handler() {
    {
        let counting = aws::Moto::start();
        calls_per_code(&counting).await;
        emulator_floor(&counting).await;
    }
    // A fresh emulator: it copies every table a transaction touches, so its cost per call grows
    // with what other runs left in it.
    let moto = aws::Moto::start();
    let settings = aws::unique_settings();
    let store = aws::store_on(&moto, settings.clone()).await;
    seed_store(&Stores::single(store.clone()), &["U0".to_owned()]).await;
    for (name, value) in [
        ("slack/signing-secret", SECRET.to_owned()),
        ("audit/hmac-key", "ab".repeat(32)),
    ] {
        store
            .ssm()
            .put_parameter()
            .name(format!("{}/{name}", settings.ssm_prefix))
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("parameter");
    }
    for (key, value) in [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
    ] {
        std::env::set_var(key, value);
    }
    let vars: HashMap<String, String> = [
        ("OTPBOT_BACKEND", "aws"),
        ("OTPBOT_ACCESS_TABLE", settings.access_table.as_str()),
        ("OTPBOT_AUDIT_TABLE", settings.audit_table.as_str()),
        ("OTPBOT_SSM_PREFIX", settings.ssm_prefix.as_str()),
        ("OTPBOT_SLACK_TEAM_IDS", TEAM),
        ("OTPBOT_RATE_PER_TOOL", "1000000/1m"),
        ("OTPBOT_RATE_PER_CALLER", "1000000/1m"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let mut inits = Vec::new();
    let mut handler = None;
    for _ in 0..20 {
        let started = Instant::now();
        let mut settings = otpbot::config::Settings::from_vars(vars.clone()).expect("settings");
        let policy = settings.policy();
        let app = otpbot::cli::App::open(&mut settings, policy, otpbot::cli::Patience::Chat)
            .await
            .expect("open");
        let router = router(app.into_state(&settings).await.expect("state"));
        inits.push(started.elapsed());
        handler = Some(router);
    }
    report("Lambda handler init (config, clients, SSM)", inits);

    let router = handler.expect("router");
    let secret = SigningSecret::new(SECRET.into());
    let mut samples = Vec::new();
    for i in 0..120 {
        let body = body("U0");
        let ts = SystemClock.now().unix();
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "POST /slack/commands", "rawPath": "/slack/commands", "rawQueryString": "",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "x-slack-request-timestamp": ts.to_string(),
                "x-slack-signature": sign(&secret, ts, body.as_bytes()),
            },
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
                "http": { "method": "POST", "path": "/slack/commands", "protocol": "HTTP/1.1", "sourceIp": "1.1.1.1", "userAgent": "Slackbot" },
                "requestId": "r", "routeKey": "POST /slack/commands", "stage": "$default", "time": "", "timeEpoch": 0
            },
            "body": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &body),
            "isBase64Encoded": true
        })
        .to_string();
        let started = Instant::now();
        let request = lambda_http::request::from_str(&event).expect("event");
        let response = router.clone().oneshot(request).await.expect("invoke");
        assert!(response.status().is_success());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        assert!(String::from_utf8_lossy(&bytes).contains("valid for"));
        if i >= 20 {
            samples.push(started.elapsed());
        }
    }
    let mean = |part: &[Duration]| part.iter().sum::<Duration>() / part.len().max(1) as u32;
    println!(
        "{:<52} first 20 {:.2?}, last 20 {:.2?}",
        "  warm invocation mean, as the audit table grows",
        mean(&samples[..20]),
        mean(&samples[samples.len() - 20..])
    );
    report("Lambda handler, warm invocation (emulator)", samples);
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
            println!(
                "{:<52} {}",
                "bench process peak RSS (whole run)",
                line.trim_start_matches("VmHWM:").trim()
            );
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmarks run with `cargo bench --bench requests`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        local_server().await;
        lambda_handler().await;
    });
}
