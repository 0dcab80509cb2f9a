//! Request throughput and latency of the local server, and the Lambda handler's calls per code.
//!
//! `cargo bench --bench requests` (needs `.venv/bin/moto_server`, which `scripts/test.sh`
//! installs; `OTPBOT_BIN=path` measures another build of the binary). Prints, on this machine:
//! - the fsync floor: one 4 KiB write and `fsync` in the data directory's file system;
//! - the real `otpbot serve` (its own process, default settings: SQLite in WAL mode with
//!   `synchronous = FULL`, on disk under the target directory, not tmpfs) with 1,600 granted
//!   users at the default limits: audited codes per second and p50/p99 latency of signed
//!   `/otp github` requests over loopback HTTP at 1 and 64 keep-alive clients, each user asking
//!   a few times, and the same server's `GET /healthz` rate with the same client as the ceiling;
//!   the CPU time the server (and its SQLite writer thread alone) and this client spent per
//!   request at 64 clients, and the bytes the server wrote to files per request, from `/proc`;
//!   then the ratios the project holds itself to (codes/s at 64 clients over `/healthz`/s, p99
//!   at 64 clients, p50 at one client over the fsync floor);
//! - a second server with limits of 1,000,000 codes a minute and 8 users: four back-to-back
//!   rounds of 2,400 codes, and the fourth round's rate over the first's (a decision's cost must
//!   not grow with what the limit has admitted);
//! - the Lambda handler on the AWS backend against the emulator: DynamoDB and SSM calls per
//!   issued code at steady state (counted on the wire) and the warm latency of API Gateway
//!   events through the same router (`cargo bench --bench lambda_start` times cold starts).
//!
//! `BENCH_WRAPPER="perf record -g -o server.perf --"` runs that server under a profiler (any
//! command that takes the program and its arguments).
//!
//! Numbers from a shared machine move with its load; the ratios come from one run. Nothing here
//! asserts a timing.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/local.rs"]
mod local;

use common::aws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use otpbot::domain::{Clock, Grant, GrantDuration, Principal, Seed, SystemClock, Tool, ToolName};
use otpbot::keys::{random_key, AuditKey, SigningSecret};
use otpbot::slack::signature::sign;
use otpbot::slack::SlackConfig;
use otpbot::startup::{router, AppState};
use otpbot::store::Stores;
use tower::ServiceExt;

/// Latency percentiles and mean of `samples`.
struct Summary {
    p50: Duration,
    p99: Duration,
    rate: f64,
}

fn summarize(name: &str, mut samples: Vec<Duration>, elapsed: Duration) -> Summary {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    let total: Duration = samples.iter().sum();
    let rate = samples.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<46} n={:<6} {rate:>7.0}/s  mean {:>8.2?}  p50 {:>8.2?}  p99 {:>8.2?}",
        samples.len(),
        total / samples.len() as u32,
        pct(0.50),
        pct(0.99)
    );
    Summary {
        p50: pct(0.50),
        p99: pct(0.99),
        rate,
    }
}

/// Runs `clients` concurrent clients; client `c` sends `each` requests made by `send(c, i)`.
async fn load<F, Fut>(name: &str, clients: usize, each: usize, send: F) -> Summary
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Duration> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let send = send.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(each);
            for i in 0..each {
                samples.push(send(client, i).await);
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("client task"));
    }
    summarize(
        &format!("{name}, {clients} clients"),
        samples,
        started.elapsed(),
    )
}

/// CPU time (user and system) the process `pid` has used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: &str) -> Duration {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// CPU time the SQLite writer thread of the process `pid` has used so far.
fn writer_cpu_time(pid: &str) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("otpbot-sqlite-w"))
        })
        .map(|task| stat_cpu(&task.path().join("stat").to_string_lossy()))
        .sum()
}

/// User and system CPU time from a `stat` file of `/proc`.
fn stat_cpu(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12] // utime and stime: fields 14 and 15 of the whole line
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // The kernel reports them in USER_HZ, 100 a second on Linux.
    Duration::from_millis(ticks * 10)
}

/// Bytes the process `pid` has passed to `write` and `pwrite` so far (`wchar` of
/// `/proc/<pid>/io`): SQLite's log frames and checkpoints, and the log's lines. Sends on a
/// socket are not counted, so a `/healthz` reads 0.
fn written(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("wchar: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `phase` and prints the CPU time the server and this process (the client) used per
/// request of it (at 64 clients both share the machine's cores, so a code's rate follows them),
/// and the bytes the server wrote per request.
async fn with_cpu(
    server: u32,
    requests: usize,
    phase: impl std::future::Future<Output = Summary>,
) -> Summary {
    let server = server.to_string();
    let before = [
        cpu_time(&server),
        writer_cpu_time(&server),
        cpu_time("self"),
    ];
    let written_before = written(&server);
    let summary = phase.await;
    let after = [
        cpu_time(&server),
        writer_cpu_time(&server),
        cpu_time("self"),
    ];
    let [all, writer, client] =
        [0, 1, 2].map(|i| after[i].saturating_sub(before[i]) / requests as u32);
    let bytes = written(&server).saturating_sub(written_before) / requests as u64;
    println!(
        "{:<46} server {all:>7.1?} (its SQLite writer {writer:>6.1?}), client {client:>6.1?} per request; \
         server wrote {bytes} bytes per request",
        "  CPU time",
    );
    summary
}

/// The median time of a 4 KiB write and `fsync` of a file in `dir`.
fn fsync_floor(dir: &std::path::Path) -> Duration {
    use std::io::{Seek, Write};
    let mut file = std::fs::File::create(dir.join("fsync-probe")).expect("probe file");
    let page = [7u8; 4096];
    let mut samples: Vec<Duration> = (0..200)
        .map(|_| {
            let started = Instant::now();
            file.rewind().expect("rewind");
            file.write_all(&page).expect("write");
            file.sync_all().expect("fsync");
            started.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// The writer's round trip for the smallest job (one replay marker: one row, one commit, one
/// fsync), timed in process: what a decision waits for beyond its SQL, against the fsync floor.
async fn writer_round_trip(dir: &std::path::Path, floor: Duration) {
    let store = otpbot::store::local::LocalStore::open(
        dir,
        otpbot::store::local::MasterKey::new(random_key()),
    )
    .expect("store");
    let counters: &dyn otpbot::store::CounterStore = &store;
    let now = SystemClock.now();
    let mut samples = Vec::new();
    for i in 0..400 {
        let started = Instant::now();
        let fresh = counters
            .first_sighting(&format!("bench:{i}"), now.plus_secs(60), now)
            .await
            .expect("marker");
        samples.push(started.elapsed());
        assert!(fresh);
    }
    samples.sort();
    let p50 = samples[samples.len() / 2];
    println!(
        "writer round trip, one-row job (hand-off, SQL, commit, fsync): p50 {p50:.2?} = fsync floor + {:.2?}",
        p50.saturating_sub(floor)
    );
}

/// The local server with 1,600 users at the default limits.
async fn local_server() {
    const USERS: usize = 1_600;
    let dir = local::data_dir();
    let floor = fsync_floor(&dir.path());
    println!(
        "fsync floor: 4 KiB write + fsync in {}: median {floor:.2?}",
        dir.path().display()
    );
    let probe = local::data_dir();
    writer_round_trip(&probe.path(), floor).await;
    let seeding = Instant::now();
    local::seed(&dir.path(), USERS);
    println!("set up {USERS} grants in {:.1?}", seeding.elapsed());
    let wrapper: Vec<String> = std::env::var("BENCH_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let server = local::Server::start(&dir.path(), &[], &wrapper).await;
    let client = local::Client::new(server.addr);
    for _ in 0..200 {
        client.healthz().await;
    }
    let code = {
        let client = client.clone();
        move |user: usize| {
            let client = client.clone();
            async move { client.code(&local::user(user)).await }
        }
    };
    // Each user asks once at one client, then four times more among 64 clients: five codes in
    // a few seconds, within the default 10 per 10 minutes.
    let one = {
        let code = code.clone();
        load("audited /otp github", 1, USERS, move |_, i| code(i)).await
    };
    let many = {
        let code = code.clone();
        let phase = load("audited /otp github", 64, 4 * USERS / 64, move |c, i| {
            code((c + 64 * i) % USERS)
        });
        with_cpu(server.pid(), 4 * USERS, phase).await
    };
    let health = {
        let client = client.clone();
        let phase = load("GET /healthz (ceiling)", 64, 600, move |_, _| {
            let client = client.clone();
            async move { client.healthz().await }
        });
        with_cpu(server.pid(), 64 * 600, phase).await
    };
    println!(
        "ratios: codes/s at 64 clients over /healthz/s {:.3} (goal >= 0.25); p99 at 64 clients {:.2?} \
         (goal <= 10 ms); p50 at one client {:.2?} = fsync floor + {:.2?} (goal <= fsync + 0.5 ms)",
        many.rate / health.rate,
        many.p99,
        one.p50,
        one.p50.saturating_sub(floor)
    );
}

/// Four rounds at limits of 1,000,000 a minute: the cost of a code must not grow with them.
async fn large_limit() {
    const USERS: usize = 8;
    const EACH: usize = 300;
    let dir = local::data_dir();
    local::seed(&dir.path(), USERS);
    let limits = [
        ("OTPBOT_RATE_PER_TOOL", "1000000/1m"),
        ("OTPBOT_RATE_PER_CALLER", "1000000/1m"),
    ];
    let server = local::Server::start(&dir.path(), &limits, &[]).await;
    let client = local::Client::new(server.addr);
    let mut rates = Vec::new();
    for round in 1..=4 {
        let client = client.clone();
        let summary = load(
            &format!("limit 1,000,000/min, round {round}"),
            USERS,
            EACH,
            move |user, _| {
                let client = client.clone();
                async move { client.code(&local::user(user)).await }
            },
        )
        .await;
        rates.push(summary.rate);
    }
    println!(
        "ratio: round 4 over round 1 {:.2} (goal >= 0.8)",
        rates[3] / rates[0]
    );
}

/// Limits that never bind here and fit a DynamoDB item.
fn policy() -> otpbot::engine::Policy {
    let mut policy = otpbot::engine::Policy::default();
    let plenty = otpbot::engine::RateLimit {
        limit: 1_000,
        window_secs: 60,
    };
    policy.per_tool = plenty;
    policy.per_caller = plenty;
    policy
}

const SECRET: &str = local::SECRET;
const TEAM: &str = local::TEAM;

async fn seed_aws(stores: &Stores) {
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
    let user = Principal::parse(&format!("slack:{TEAM}:U0")).expect("principal");
    stores
        .put_tool(&tool, Some(&seed), &user, now)
        .await
        .expect("tool");
    let grant = Grant {
        person: otpbot::domain::Person::from(&user),
        principal: user.clone(),
        tool: github,
        granted_by: user,
        granted_at: now,
        expires_at: now.plus_secs(week.secs()),
        reason: None,
    };
    stores.put_grant(&grant).await.expect("grant");
}

fn slash_event(body: &str) -> lambda_http::Request {
    let secret = SigningSecret::new(SECRET.into());
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
        "body": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, body),
        "isBase64Encoded": true
    })
    .to_string();
    lambda_http::request::from_str(&event).expect("event")
}

fn form(user: &str) -> String {
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

/// DynamoDB and SSM calls per issued code at steady state, counted on the wire, and the warm
/// latency of API Gateway events through the router.
async fn lambda_handler() {
    let moto = aws::Moto::start();
    let log = aws::CallLog::default();
    let store = aws::counted_store_on(&moto, aws::unique_settings(), &log).await;
    let stores = Stores::single(store);
    seed_aws(&stores).await;
    let engine = otpbot::engine::Engine::new(
        stores,
        Arc::new(SystemClock),
        Arc::new(AuditKey::new(random_key())),
        policy(),
    );
    let app = router(AppState {
        engine: Arc::new(engine),
        slack: Some(Arc::new(SlackConfig {
            signing_secret: SigningSecret::new(SECRET.into()),
            allowed_workspaces: [TEAM.to_owned()].into(),
            web_api: None,
        })),
        teams: None,
        background: otpbot::front::Background::default(),
    });
    const CODES: usize = 100;
    let mut samples = Vec::new();
    for i in 0..=CODES {
        if i == 1 {
            log.take();
        }
        let request = slash_event(&form("U0"));
        let started = Instant::now();
        let response = app.clone().oneshot(request).await.expect("invoke");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        if i > 0 {
            samples.push(started.elapsed());
        }
        assert!(String::from_utf8_lossy(&bytes).contains("valid for"));
    }
    let calls = log.take();
    let dynamodb = calls.iter().filter(|c| c.starts_with("DynamoDB")).count();
    let ssm = calls.iter().filter(|c| c.starts_with("AmazonSSM")).count();
    println!(
        "{:<46} DynamoDB {:.2}, SSM {:.2} (over {CODES} codes)",
        "Lambda handler, calls per issued code",
        dynamodb as f64 / CODES as f64,
        ssm as f64 / CODES as f64
    );
    summarize(
        "Lambda handler, warm code (plain-HTTP emulator)",
        samples.clone(),
        samples.iter().sum(),
    );
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
        large_limit().await;
        lambda_handler().await;
    });
}
