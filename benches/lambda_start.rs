//! Cold and warm starts of the Lambda function, side by side with a Python handler of the same
//! job, under one local Lambda runtime API, against the DynamoDB/SSM emulator behind TLS.
//!
//! `cargo bench --bench lambda_start` runs the binary cargo builds for the bench;
//! `OTPBOT_BIN=target/lambda/release/otpbot cargo bench --bench lambda_start` runs another build
//! (e.g. the Lambda package's, `cargo build --release --no-default-features`). Needs
//! `moto_server`, and for the Python handler `awslambdaric`, `pyotp` and `boto3` (all in
//! `requirements-dev.txt`), from `.venv` or the virtual environment named by `BENCH_VENV`.
//!
//! Each round starts otpbot and the Python handler (benches/support/handler.py: signature
//! check, one SSM `GetParameter` for the seed, pyotp) one after the other, alternating which goes
//! first, as the Lambda service would (its `AWS_LAMBDA_*` variables:
//! <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>), and sends each
//! signed `/otp github` requests as API Gateway HTTP API events (payload format 2.0:
//! <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>):
//! - init: from starting the process to its first `GET …/invocation/next`;
//! - first response: from starting the process to the first answer;
//! - warm: from handing an event over to its answer, for the events after the first;
//! - peak memory: `VmHWM` of the process after its last answer (`/proc/<pid>/status`), with the
//!   resident anonymous and file-backed parts (`/proc/<pid>/smaps_rollup`).
//!
//! A last otpbot start runs with the emulator recording requests, to count the calls made at
//! start-up and by the first and a warm request, and the TLS handshakes each paid. The
//! functions' logs go to `target/lambda_start-otpbot.log` and `target/lambda_start-python.log`.
//! Nothing here asserts a time.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/emulator.rs"]
mod emulator;
#[path = "support/runtime.rs"]
mod runtime;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emulator::Emulator;
use otpbot::domain::{Clock, Grant, GrantDuration, Principal, Seed, SystemClock, Tool, ToolName};
use otpbot::keys::SigningSecret;
use otpbot::store::aws::{AwsSettings, AwsStore};
use otpbot::store::Stores;
use runtime::RuntimeApi;
use serde_json::json;

/// Cold starts of each handler.
const ROUNDS: usize = 10;
/// Warm requests after each cold start's first.
const WARM: usize = 20;
/// Users with a grant in each round's tables; requests take turns, so default limits never
/// bind. Each round has fresh tables: the emulator copies a whole table for every item of a
/// transaction, so its cost per call grows with what earlier rounds left behind.
const USERS: usize = 8;
const TEAM: &str = "T0BENCH";
const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Otpbot,
    Python,
}

/// What one cold start measured.
#[derive(Default)]
struct Start {
    init: Duration,
    first: Duration,
    warm: Vec<Duration>,
    peak_kb: u64,
    anon_kb: u64,
    file_kb: u64,
}

struct Bench {
    emulator: Emulator,
    settings: AwsSettings,
    binary: PathBuf,
    next_user: std::sync::atomic::AtomicUsize,
}

impl Bench {
    /// Fresh tables, tool, grants and secret settings for the next round.
    async fn next_round(&mut self) {
        self.settings = setup(&self.emulator).await;
    }
}

fn event(user: &str) -> String {
    let body = serde_urlencoded::to_string([
        ("team_id", TEAM),
        ("user_id", user),
        ("channel_id", "C1"),
        ("command", "/otp"),
        ("text", "github"),
        ("trigger_id", &format!("{}", rand::random::<u64>())),
    ])
    .expect("form");
    let ts = SystemClock.now().unix();
    let signature =
        otpbot::slack::signature::sign(&SigningSecret::new(SECRET.into()), ts, body.as_bytes());
    json!({
        "version": "2.0", "routeKey": "POST /slack/commands", "rawPath": "/slack/commands",
        "rawQueryString": "",
        "headers": {
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts.to_string(),
            "x-slack-signature": signature,
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": { "method": "POST", "path": "/slack/commands", "protocol": "HTTP/1.1",
                      "sourceIp": "3.3.3.3", "userAgent": "Slackbot 1.0" },
            "requestId": "req", "routeKey": "POST /slack/commands", "stage": "$default",
            "time": "03/Nov/2026:10:00:05 +0000", "timeEpoch": 1_793_700_005_000u64
        },
        "body": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body),
        "isBase64Encoded": true
    })
    .to_string()
}

impl Bench {
    fn user(&self) -> String {
        let i = self
            .next_user
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("U{:05}", i % USERS)
    }

    fn lambda_env(&self, command: &mut Command, api: &RuntimeApi) {
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &self.emulator.url)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.emulator.dynamodb_url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "otpbot")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/otpbot")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }

    fn spawn(&self, kind: Kind, api: &RuntimeApi) -> Child {
        let log = |name: &str| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/{name}"));
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null())
        };
        match kind {
            Kind::Otpbot => {
                let mut command = Command::new(&self.binary);
                self.lambda_env(&mut command, api);
                command
                    .env("SSL_CERT_FILE", &self.emulator.bundle)
                    .env("OTPBOT_BACKEND", "aws")
                    .env("OTPBOT_ACCESS_TABLE", &self.settings.access_table)
                    .env("OTPBOT_AUDIT_TABLE", &self.settings.audit_table)
                    .env("OTPBOT_SSM_PREFIX", &self.settings.ssm_prefix)
                    .env("OTPBOT_SLACK_TEAM_IDS", TEAM)
                    .env("OTPBOT_LOG_FORMAT", "json")
                    .stderr(log("lambda_start-otpbot.log"));
                command.spawn().expect("start otpbot")
            }
            Kind::Python => {
                let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/support");
                let mut command = Command::new(emulator::venv().join("bin/python"));
                self.lambda_env(&mut command, api);
                command
                    .args(["-m", "awslambdaric", "handler.handle"])
                    .current_dir(&support)
                    .env("PYTHONPATH", &support)
                    .env("LAMBDA_TASK_ROOT", &support)
                    .env("PYTHONDONTWRITEBYTECODE", "1")
                    .env("AWS_CA_BUNDLE", &self.emulator.bundle)
                    .env("BENCH_SIGNING_SECRET", SECRET)
                    .env(
                        "BENCH_SEED_PARAMETER",
                        format!("{}/tools/github", self.settings.ssm_prefix),
                    )
                    .stderr(log("lambda_start-python.log"));
                command.spawn().expect("start the Python handler")
            }
        }
    }

    /// One cold start of `kind`, its first request and `WARM` more.
    async fn cold_start(&self, kind: Kind) -> Start {
        let mut api = RuntimeApi::start().await;
        api.queue(event(&self.user())).await;
        let started = Instant::now();
        let mut child = self.spawn(kind, &api);
        let (_, answered, answer) = api.invocation().await;
        check(&answer);
        let mut start = Start {
            init: api.first_next().expect("asked for work") - started,
            first: answered - started,
            ..Start::default()
        };
        for _ in 0..WARM {
            api.queue(event(&self.user())).await;
            let (handed, answered, answer) = api.invocation().await;
            check(&answer);
            start.warm.push(answered - handed);
        }
        (start.peak_kb, start.anon_kb, start.file_kb) = memory(child.id());
        let _ = child.kill();
        let _ = child.wait();
        start
    }
}

fn check(answer: &str) {
    let json: serde_json::Value = serde_json::from_str(answer).unwrap_or_default();
    assert!(
        json["statusCode"] == 200 && answer.contains("valid for"),
        "{answer}"
    );
}

/// `VmHWM`, `RssAnon` and `RssFile` of `pid`, in kB.
fn memory(pid: u32) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("RssAnon:"), field("RssFile:"))
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Sets up the tables, the tool, `USERS` grants and the secret settings.
async fn setup(emulator: &Emulator) -> AwsSettings {
    let config = common::aws::sdk_config(&emulator.url).await;
    let settings = common::aws::unique_settings();
    let store = Arc::new(AwsStore::new(&config, settings.clone()));
    common::terraform::create_table(store.dynamodb(), "access", &settings.access_table).await;
    common::terraform::create_table(store.dynamodb(), "audit", &settings.audit_table).await;
    let stores = Stores::single(store.clone());
    let github = ToolName::parse("github").expect("name");
    let week = GrantDuration::parse("1w").expect("1w");
    let tool = Tool {
        name: github.clone(),
        display_name: "GitHub".into(),
        default_grant: week,
        max_grant: week,
        notify_channel: None,
        approvals_channel: None,
        rules: otpbot::domain::ToolRules::default(),
    };
    let now = SystemClock.now();
    let seed = Seed::parse("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").expect("seed");
    let operator = Principal::parse(&format!("slack:{TEAM}:UOPERATOR")).expect("principal");
    stores
        .put_tool(&tool, Some(&seed), &operator, now)
        .await
        .expect("tool");
    for i in 0..USERS {
        let principal = Principal::parse(&format!("slack:{TEAM}:U{i:05}")).expect("user");
        let grant = Grant {
            person: otpbot::domain::Person::from(&principal),
            principal,
            tool: github.clone(),
            granted_by: operator.clone(),
            granted_at: now,
            expires_at: now.plus_secs(week.secs()),
            reason: None,
        };
        stores.put_grant(&grant).await.expect("grant");
    }
    let prefix = &settings.ssm_prefix;
    for (name, value) in [
        ("slack/signing-secret", SECRET.to_owned()),
        ("audit/hmac-key", "cd".repeat(32)),
        ("slack/bot-token", "xoxb-bench".to_owned()),
    ] {
        common::aws::put_secret(&store, format!("{prefix}/{name}"), &value).await;
    }
    settings
}

/// One otpbot start with the emulator recording: the calls of its init, its first request
/// and a warm one.
async fn count_calls(bench: &Bench) {
    let http = otpbot::front::client(Duration::from_secs(10)).expect("client");
    let mut api = RuntimeApi::start().await;
    bench.emulator.record(&http, true).await;
    let handshakes = bench.emulator.handshakes();
    let mut child = bench.spawn(Kind::Otpbot, &api);
    while api.first_next().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bench.emulator.record(&http, false).await;
    let init = bench.emulator.recorded_targets();
    let mut phases = vec![("init", init, bench.emulator.handshakes() - handshakes)];
    for phase in ["first request", "warm request"] {
        bench.emulator.record(&http, true).await;
        let handshakes = bench.emulator.handshakes();
        api.queue(event(&bench.user())).await;
        let (_, _, answer) = api.invocation().await;
        check(&answer);
        bench.emulator.record(&http, false).await;
        let made = bench.emulator.handshakes() - handshakes;
        phases.push((phase, bench.emulator.recorded_targets(), made));
    }
    let _ = child.kill();
    let _ = child.wait();
    for (phase, targets, handshakes) in phases {
        let mut counted: std::collections::BTreeMap<String, usize> = Default::default();
        for target in targets {
            *counted.entry(target).or_default() += 1;
        }
        let list: Vec<String> = counted.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
        println!(
            "otpbot calls, {phase:<14} {}; TLS handshakes {handshakes}",
            list.join(", ")
        );
    }
}

fn row(name: &str, otpbot: f64, python: f64, unit: &str) {
    println!(
        "{name:<34} {otpbot:>9.1} {unit:<3} {python:>9.1} {unit:<3} {:>7.2}×",
        python / otpbot
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench --bench lambda_start`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let python = emulator::venv().join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import awslambdaric, boto3, pyotp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ready,
        "{} cannot import awslambdaric, boto3 and pyotp: install requirements-dev.txt into \
         .venv (scripts/test.sh does), or name another virtual environment in BENCH_VENV",
        python.display()
    );
    let emulator = Emulator::start();
    // The bench's own SDK clients trust the run's CA the way otpbot's do.
    std::env::set_var("SSL_CERT_FILE", &emulator.bundle);
    runtime.block_on(async move {
        let settings = setup(&emulator).await;
        let binary = std::env::var_os("OTPBOT_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_otpbot")));
        let mut bench = Bench {
            emulator,
            settings,
            binary,
            next_user: Default::default(),
        };
        let size = std::fs::metadata(&bench.binary).map(|m| m.len()).unwrap_or(0);
        println!(
            "binary: {} ({:.1} MB); {ROUNDS} cold starts each, alternating, {WARM} warm requests after each first",
            bench.binary.display(),
            size as f64 / 1e6
        );
        let (mut otp, mut py) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            if round > 0 {
                bench.next_round().await;
            }
            let order = if round % 2 == 0 {
                [Kind::Otpbot, Kind::Python]
            } else {
                [Kind::Python, Kind::Otpbot]
            };
            for kind in order {
                let start = bench.cold_start(kind).await;
                match kind {
                    Kind::Otpbot => otp.push(start),
                    Kind::Python => py.push(start),
                }
            }
        }
        report(&otp, &py);
        bench.next_round().await;
        count_calls(&bench).await;
    });
}

fn report(otp: &[Start], py: &[Start]) {
    let med = |starts: &[Start], f: &dyn Fn(&Start) -> Duration| {
        let mut v: Vec<Duration> = starts.iter().map(f).collect();
        ms(median(&mut v))
    };
    let warm = |starts: &[Start]| {
        let mut v: Vec<Duration> = starts.iter().flat_map(|s| s.warm.clone()).collect();
        ms(median(&mut v))
    };
    println!(
        "{:<34} {:>13} {:>13} {:>8}",
        "median over the cold starts", "otpbot", "Python", "Py/otp"
    );
    let (o_init, p_init) = (med(otp, &|s| s.init), med(py, &|s| s.init));
    row("init (start to first /next)", o_init, p_init, "ms");
    let (o_first, p_first) = (med(otp, &|s| s.first), med(py, &|s| s.first));
    row("first response (start to answer)", o_first, p_first, "ms");
    let (o_cold, p_cold) = (
        med(otp, &|s| s.first - s.init),
        med(py, &|s| s.first - s.init),
    );
    row("first response minus init", o_cold, p_cold, "ms");
    let (o_warm, p_warm) = (warm(otp), warm(py));
    row("warm request (median of all)", o_warm, p_warm, "ms");
    println!(
        "{:<34} {:>9.2}     {:>9.2}",
        "(first minus init) / warm",
        o_cold / o_warm,
        p_cold / p_warm
    );
    // The emulator's transactions cost more as its tables grow, so the warm requests late in
    // a start cost more than the first; the request right after the first met nearly the same
    // tables.
    let (o_next, p_next) = (
        med(otp, &|s| s.warm.first().copied().unwrap_or_default()),
        med(py, &|s| s.warm.first().copied().unwrap_or_default()),
    );
    row("second request (the first warm)", o_next, p_next, "ms");
    println!(
        "{:<34} {:>9.2}     {:>9.2}",
        "(first minus init) / second",
        o_cold / o_next,
        p_cold / p_next
    );
    let kb = |starts: &[Start], f: &dyn Fn(&Start) -> u64| {
        starts.iter().map(f).max().unwrap_or(0) as f64 / 1024.0
    };
    row(
        "peak memory VmHWM (largest)",
        kb(otp, &|s| s.peak_kb),
        kb(py, &|s| s.peak_kb),
        "MB",
    );
    row(
        "  resident anonymous at the end",
        kb(otp, &|s| s.anon_kb),
        kb(py, &|s| s.anon_kb),
        "MB",
    );
    row(
        "  resident file-backed at the end",
        kb(otp, &|s| s.file_kb),
        kb(py, &|s| s.file_kb),
        "MB",
    );
}
