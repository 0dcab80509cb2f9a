//! Crash and fault tests (SPEC §3.5): a child process doing grants, revokes, role and tool
//! changes and codes is killed with SIGKILL at random moments; then the store must hold no
//! change without its audit record, no record of a change that is not there, and no "issued"
//! record for a grant that was not valid when it was decided. Break-glass (its grant, code and
//! record in one decision) and its revocation by review are among the operations. The same with a write failure at
//! every write: a size-capped SQLite file (a full disk), and a connection to DynamoDB that is
//! cut at random moments.
//!
//! The check replays the audit log in commit order (SQLite: the log's row order; DynamoDB:
//! event id order, the child being sequential there) and compares the result with the store.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otpbot::domain::{
    Action, AuditEvent, AuditQuery, Clock, GrantDuration, Outcome, Platform, Principal, RequestId,
    Role, Seed, Timestamp, Tool, ToolName,
};
use otpbot::engine::{ChatRequest, Draft, Engine, Policy, RateLimit};
use otpbot::keys::{random_key, AuditKey};
use otpbot::reply::{Reply, Tone};
use otpbot::store::local::{LocalOptions, LocalStore, MasterKey};
use otpbot::store::{Change, Stores};
use rand::Rng;

const CHILD: &str = "OTPBOT_CRASH_CHILD";
const USERS: [&str; 3] = ["U1", "U2", "U3"];
const TOOLS: [&str; 2] = ["github", "aws"];
const SEED_URI: &str = "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP";
/// The master key of the test stores (the child must open the same file).
const MASTER_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn who(user: &str) -> Principal {
    Principal::new(Platform::Slack, "T0TEST", user).expect("principal")
}

fn tool(name: &str) -> ToolName {
    ToolName::parse(name).expect("tool")
}

fn master() -> MasterKey {
    MasterKey::new(otpbot::keys::decode_hex_key(MASTER_HEX, "test key").expect("key"))
}

/// A clock that moves one second on every reading, so every request has its own instant.
struct Ticking(AtomicI64);

impl Clock for Ticking {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.0.fetch_add(1, Ordering::SeqCst))
    }
}

fn engine(stores: Stores, start: i64) -> Engine {
    let mut policy = Policy::default();
    policy.bootstrap_admins.insert(who("UADMIN"));
    let plenty = RateLimit {
        limit: 1_000_000,
        window_secs: 60,
    };
    policy.per_caller = plenty;
    policy.per_tool = plenty;
    // The clock ticks a second a reading: break the glass again after a few operations.
    policy.break_glass_every_secs = 5;
    Engine::new(
        stores,
        Arc::new(Ticking(AtomicI64::new(start))),
        Arc::new(AuditKey::new(random_key())),
        policy,
    )
}

fn request(user: &str, text: String) -> ChatRequest {
    ChatRequest {
        request_id: RequestId::new(),
        person: otpbot::domain::Person::from(&who(user)),
        reaches_others: true,
        principal: who(user),
        channel: Some("C1".into()),
        text,
        delivery: None,
        name: None,
    }
}

/// One random operation; the reply when it went through chat.
async fn one_op(engine: &Engine, rng: &mut impl Rng) -> Option<Reply> {
    let user = USERS[rng.gen_range(0..USERS.len())];
    let t = TOOLS[rng.gen_range(0..TOOLS.len())];
    let (caller, text) = match rng.gen_range(0..100) {
        0..=24 => ("UADMIN", format!("grant <@{user}> {t} for 30m")),
        25..=34 => ("UADMIN", format!("revoke <@{user}> {t}")),
        35..=39 => (user, format!("done {t}")),
        40..=49 => {
            let op = if rng.gen_bool(0.5) { "add" } else { "remove" };
            let role = if rng.gen_bool(0.5) {
                "auditor"
            } else {
                "admin"
            };
            ("UADMIN", format!("role {op} <@{user}> {role}"))
        }
        50..=53 => {
            let change = if rng.gen_bool(0.6) {
                Change::PutTool {
                    tool: catalog_entry("aws"),
                    seed: Some(Seed::parse(SEED_URI).expect("seed")),
                }
            } else {
                Change::RemoveTool(tool("aws"))
            };
            let action = match change {
                Change::PutTool { .. } => Action::ToolAdd,
                _ => Action::ToolRemove,
            };
            let operator = request("UOPERATOR", String::new());
            // Failures are expected here in the fault tests; the check judges the store.
            let _ = engine
                .change(
                    &operator,
                    change,
                    Draft::new(action, Outcome::Ok).tool(&tool("aws")),
                    None,
                )
                .await;
            return None;
        }
        54..=61 => {
            let broken = engine
                .handle(&request(user, format!("break-glass {t} crash drill")))
                .await;
            if broken.code.is_some() && rng.gen_bool(0.5) {
                let review = format!("review {} revoke drill over", broken.request_id);
                engine.handle(&request("UADMIN", review)).await;
            }
            return Some(broken);
        }
        _ => (user, t.to_owned()),
    };
    Some(engine.handle(&request(caller, text)).await)
}

fn catalog_entry(name: &str) -> Tool {
    Tool {
        name: tool(name),
        display_name: name.to_uppercase(),
        default_grant: GrantDuration::parse("30m").expect("d"),
        max_grant: GrantDuration::parse("1d").expect("d"),
        notify_channel: None,
        approvals_channel: None,
        rules: otpbot::domain::ToolRules {
            approvals_required: 1,
            break_glass: GrantDuration::parse("10m"),
        },
    }
}

/// Enrols `github` (recorded) in a fresh store.
async fn set_up(stores: &Stores) {
    stores
        .put_tool(
            &catalog_entry("github"),
            Some(&Seed::parse(SEED_URI).expect("seed")),
            &who("UOPERATOR"),
            Timestamp::from_unix(1_000),
        )
        .await
        .expect("set up");
}

/// The expiry an accepted grant's record names ("… until 2026-01-01T00:00:00Z …").
fn granted_until(event: &AuditEvent) -> Timestamp {
    let detail = event.detail.as_deref().unwrap_or_default();
    let text = detail
        .split("until ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|t| t.trim_end_matches(':'))
        .unwrap_or_default();
    Timestamp::parse(text).unwrap_or_else(|| panic!("grant record without expiry: {detail}"))
}

type GrantState = BTreeMap<(String, String), i64>;

/// The break-glass id a `break_glass` or `review` record names ("break-glass <id> …").
fn glass_id(detail: &str) -> String {
    detail
        .strip_prefix("break-glass ")
        .and_then(|rest| rest.split([' ', ':']).next())
        .unwrap_or_else(|| panic!("no break-glass id in {detail}"))
        .to_owned()
}

/// Replays `events` (in commit order) and compares with what `stores` holds.
async fn check(stores: &Stores, events: &[AuditEvent]) -> usize {
    let mut grants: GrantState = BTreeMap::new();
    let mut roles: BTreeSet<(String, String)> = BTreeSet::new();
    let mut tools: BTreeSet<String> = BTreeSet::new();
    let mut issued = 0;
    let (mut glasses, mut revoked) = (Vec::new(), BTreeSet::new());
    for e in events {
        let t = e.tool.as_ref().map(|t| t.to_string()).unwrap_or_default();
        let subject = e
            .subject
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let detail = e.detail.as_deref().unwrap_or_default();
        match (e.action, e.outcome) {
            (Action::Grant, Outcome::Ok) => {
                assert!(
                    tools.contains(&t),
                    "a grant for a tool that was not there: {e:?}"
                );
                grants.insert((subject, t), granted_until(e).unix());
            }
            (Action::Revoke, Outcome::Ok) if detail == "grant revoked" => {
                assert!(
                    grants.remove(&(subject, t)).is_some(),
                    "revoked a grant that was not there: {e:?}"
                );
            }
            (Action::Done, Outcome::Ok) if detail == "grant ended by holder" => {
                assert!(
                    grants.remove(&(e.actor.to_string(), t)).is_some(),
                    "ended a grant that was not there: {e:?}"
                );
            }
            (Action::RoleAdd, Outcome::Ok) if !detail.contains("unchanged") => {
                assert!(
                    roles.insert((subject, detail.to_owned())),
                    "added a role twice: {e:?}"
                );
            }
            (Action::RoleRemove, Outcome::Ok) if !detail.contains("unchanged") => {
                assert!(
                    roles.remove(&(subject, detail.to_owned())),
                    "removed an absent role: {e:?}"
                );
            }
            (Action::ToolAdd, Outcome::Ok) => {
                tools.insert(t);
            }
            (Action::ToolRemove, Outcome::Ok) => {
                tools.remove(&t);
                grants.retain(|(_, g), _| *g != t);
            }
            (Action::BreakGlass, Outcome::Issued) => {
                issued += 1;
                assert!(
                    tools.contains(&t),
                    "a break-glass on a tool not there: {e:?}"
                );
                grants.insert((e.actor.to_string(), t), granted_until(e).unix());
                glasses.push(glass_id(detail));
            }
            (Action::Review, Outcome::Ok) if detail.contains(": revoke") => {
                grants.remove(&(subject, t));
                revoked.insert(glass_id(detail));
            }
            (Action::Code, Outcome::Issued) => {
                issued += 1;
                let grant = grants.get(&(e.actor.to_string(), t.clone()));
                assert!(
                    grant.is_some_and(|until| *until > e.at.unix()) && tools.contains(&t),
                    "a code was issued without a valid grant at its decision time: {e:?}"
                );
            }
            _ => {}
        }
    }
    let mut held: GrantState = BTreeMap::new();
    let mut held_roles = BTreeSet::new();
    for user in USERS.iter().chain(["UADMIN", "UOPERATOR"].iter()) {
        for g in stores.access.grants_for(&who(user)).await.expect("grants") {
            held.insert(
                (g.principal.to_string(), g.tool.to_string()),
                g.expires_at.unix(),
            );
        }
        let r = stores.access.roles(&who(user)).await.expect("roles");
        for (on, role) in [(r.admin, Role::Admin), (r.auditor, Role::Auditor)] {
            if on {
                held_roles.insert((who(user).to_string(), role.as_str().to_owned()));
            }
        }
    }
    let held_tools: BTreeSet<String> = stores
        .access
        .tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(
        held, grants,
        "grants in the store = grants the audit log records"
    );
    for id in glasses {
        let parsed = otpbot::domain::AccessRequestId::parse(&id).expect("break-glass id");
        let glass = stores.access.break_glass(&parsed).await.expect("read");
        let glass = glass.unwrap_or_else(|| panic!("a break-glass record without its row: {id}"));
        assert_eq!(
            glass.review.is_some(),
            revoked.contains(&id),
            "a review without its record, or a record without its review: {id}"
        );
    }
    assert_eq!(
        held_roles, roles,
        "roles in the store = roles the audit log records"
    );
    assert_eq!(
        held_tools, tools,
        "tools in the store = tools the audit log records"
    );
    issued
}

async fn events_by_id(stores: &Stores) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    let mut query = AuditQuery {
        limit: 5_000,
        ..Default::default()
    };
    loop {
        let page = stores.audit.query(&query).await.expect("audit");
        events.extend(page.events);
        match page.next {
            Some(next) => query.before_id = Some(next),
            None => break,
        }
    }
    events.reverse();
    events
}

/// The SQLite log in commit (row) order.
async fn events_by_row(stores: &Stores, db: &std::path::Path) -> Vec<AuditEvent> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut stmt = conn
        .prepare("SELECT id FROM audit ORDER BY seq")
        .expect("sql");
    let order: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("ids");
    let mut by_id: BTreeMap<String, AuditEvent> = events_by_id(stores)
        .await
        .into_iter()
        .map(|e| (e.id.as_str().to_owned(), e))
        .collect();
    order
        .iter()
        .map(|id| by_id.remove(id).expect("every row is an event"))
        .collect()
}

/// Every reply that shows a code belongs to a request with an "issued" record.
fn codes_have_records(replies: &[Reply], events: &[AuditEvent]) {
    let recorded: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.outcome == Outcome::Issued)
        .map(|e| e.request_id.as_str())
        .collect();
    for reply in replies {
        if reply.code.is_some() {
            assert!(
                recorded.contains(reply.request_id.as_str()),
                "a code left without its record"
            );
        }
    }
}

/// Where the child works: `local:<dir>` or `aws:<url> <access> <audit> <prefix>`.
async fn open_spec(spec: &str) -> Stores {
    if let Some(dir) = spec.strip_prefix("local:") {
        let store = LocalStore::open(std::path::Path::new(dir), master()).expect("open");
        return Stores::single(Arc::new(store));
    }
    let rest = spec.strip_prefix("aws:").expect("spec");
    let parts: Vec<&str> = rest.split(' ').collect();
    let settings = otpbot::store::aws::AwsSettings {
        access_table: parts[1].into(),
        audit_table: parts[2].into(),
        ssm_prefix: parts[3].into(),
        kms_key_id: None,
        seed_cache_ttl: Duration::from_secs(60),
    };
    let config = common::aws::sdk_config(parts[0]).await;
    Stores::single(Arc::new(otpbot::store::aws::AwsStore::new(
        &config, settings,
    )))
}

/// The child process: random operations until it is killed, one line per finished operation.
#[test]
#[ignore = "the crash tests run this as their child process"]
fn child_worker() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let start: i64 = std::env::var("OTPBOT_CRASH_START")
        .expect("start")
        .parse()
        .expect("start");
    let tasks: usize = std::env::var("OTPBOT_CRASH_TASKS")
        .expect("tasks")
        .parse()
        .expect("tasks");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let engine = Arc::new(engine(open_spec(&spec).await, start));
        let mut workers = Vec::new();
        for _ in 0..tasks {
            let engine = engine.clone();
            workers.push(tokio::spawn(async move {
                let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_entropy();
                loop {
                    one_op(&engine, &mut rng).await;
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "op");
                    let _ = out.flush();
                }
            }));
        }
        for w in workers {
            let _ = w.await;
        }
    });
}

/// Runs children against `spec`, killing each at a random moment, until `ops` operations
/// finished and at least 20 children were killed; returns the operations and the kills.
fn kill_children(spec: &str, tasks: usize, ops: usize, max_life_ms: u64) -> (usize, usize) {
    const MIN_KILLS: usize = 20;
    let exe = std::env::current_exe().expect("test binary");
    // The test's name in the suite: this module's path without the crate's name.
    let worker = format!(
        "{}::child_worker",
        module_path!()
            .split_once("::")
            .expect("a module of the suite")
            .1
    );
    let began = Instant::now();
    let (mut done, mut runs) = (0, 0);
    let mut rng = rand::thread_rng();
    // The work is counted, not timed: a loaded machine takes longer, and the cap only stops a
    // child that makes no progress at all from hanging the suite.
    while (done < ops || runs < MIN_KILLS) && began.elapsed() < Duration::from_secs(300) {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                &worker,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, spec)
            .env(
                "OTPBOT_CRASH_START",
                (1_900_000_000 + runs as i64 * 100_000).to_string(),
            )
            .env("OTPBOT_CRASH_TASKS", tasks.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child");
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..max_life_ms)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        done += out.lines().filter(|l| *l == "op").count();
        runs += 1;
    }
    (done, runs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let stores = Stores::single(Arc::new(
            LocalStore::open(dir.path(), master()).expect("open"),
        ));
        set_up(&stores).await;
    }
    let spec = format!("local:{}", dir.path().display());
    let (ops, runs) = tokio::task::spawn_blocking(move || kill_children(&spec, 4, 600, 150))
        .await
        .expect("children");
    assert!(ops >= 500, "only {ops} operations in {runs} runs");
    let stores = Stores::single(Arc::new(
        LocalStore::open(dir.path(), master()).expect("reopen"),
    ));
    let events = events_by_row(&stores, &dir.path().join("otpbot.db")).await;
    let issued = check(&stores, &events).await;
    assert!(issued > 0, "codes were issued along the way");
    eprintln!(
        "sqlite: {ops} operations, {runs} SIGKILLs, {} records, {issued} codes",
        events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_survives_sigkill_at_random_moments() {
    let moto = common::aws::Moto::shared();
    let settings = common::aws::unique_settings();
    let store = common::aws::store_on(&moto, settings.clone()).await;
    let stores = Stores::single(store);
    set_up(&stores).await;
    let spec = format!(
        "aws:{} {} {} {}",
        moto.url, settings.access_table, settings.audit_table, settings.ssm_prefix
    );
    // Sequential children, so event id order is commit order.
    let (ops, runs) = tokio::task::spawn_blocking(move || kill_children(&spec, 1, 500, 1_500))
        .await
        .expect("children");
    assert!(
        ops >= 500 && runs >= 20,
        "only {ops} operations in {runs} runs"
    );
    let events = events_by_id(&stores).await;
    let issued = check(&stores, &events).await;
    assert!(issued > 0, "codes were issued along the way");
    eprintln!(
        "dynamodb: {ops} operations, {runs} SIGKILLs, {} records, {issued} codes",
        events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_fails_requests_whole() {
    let dir = tempfile::tempdir().expect("dir");
    let pages: u64 = {
        let stores = Stores::single(Arc::new(
            LocalStore::open(dir.path(), master()).expect("open"),
        ));
        set_up(&stores).await;
        drop(stores);
        let conn = rusqlite::Connection::open(dir.path().join("otpbot.db")).expect("open");
        conn.query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages")
    };
    let options = LocalOptions {
        max_pages: Some(pages + 6),
        ..LocalOptions::default()
    };
    let stores = Stores::single(Arc::new(
        LocalStore::open_with(dir.path(), master(), options).expect("capped"),
    ));
    let engine = engine(stores.clone(), 1_900_000_000);
    let mut rng = rand::thread_rng();
    let mut replies = Vec::new();
    for _ in 0..400 {
        if let Some(reply) = one_op(&engine, &mut rng).await {
            replies.push(reply);
        }
    }
    let failed = replies.iter().filter(|r| r.tone == Tone::Internal).count();
    assert!(failed > 50, "the disk filled up: {failed} failures");
    assert!(replies.len() - failed > 20, "and writes succeeded before");
    for r in replies.iter().filter(|r| r.tone == Tone::Internal) {
        assert!(r.code.is_none(), "no code on a failed write");
    }
    drop(engine);
    drop(stores);
    let stores = Stores::single(Arc::new(
        LocalStore::open(dir.path(), master()).expect("reopen"),
    ));
    let events = events_by_row(&stores, &dir.path().join("otpbot.db")).await;
    codes_have_records(&replies, &events);
    check(&stores, &events).await;
}

/// A loopback TCP proxy to `upstream` that cuts every connection after a random time.
async fn cutting_proxy(upstream: u16) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let life = Duration::from_millis(rand::thread_rng().gen_range(1..40));
            tokio::spawn(async move {
                let Ok(mut outbound) =
                    tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let _ = tokio::time::timeout(
                    life,
                    tokio::io::copy_bidirectional(&mut inbound, &mut outbound),
                )
                .await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_with_dropped_connections_fails_requests_whole() {
    let moto = common::aws::Moto::shared();
    let settings = common::aws::unique_settings();
    let direct = Stores::single(common::aws::store_on(&moto, settings.clone()).await);
    set_up(&direct).await;
    let port = cutting_proxy(moto.port).await;
    // No retries: every cut connection surfaces as a failed request.
    let config = common::aws::sdk_config(&format!("http://127.0.0.1:{port}"))
        .await
        .to_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let cut = otpbot::store::aws::AwsStore::new(&config, settings.clone());
    let engine = engine(Stores::single(Arc::new(cut)), 1_900_000_000);
    let mut rng = rand::thread_rng();
    let mut replies = Vec::new();
    for _ in 0..200 {
        if let Some(reply) = one_op(&engine, &mut rng).await {
            replies.push(reply);
        }
    }
    let failed = replies.iter().filter(|r| r.tone == Tone::Internal).count();
    assert!(failed > 10, "connections were cut: {failed} failures");
    assert!(replies.len() - failed > 10, "and requests went through");
    for r in replies.iter().filter(|r| r.tone == Tone::Internal) {
        assert!(r.code.is_none(), "no code on a failed write");
    }
    let events = events_by_id(&direct).await;
    codes_have_records(&replies, &events);
    check(&direct, &events).await;
}
