//! What the audit chains cost on the local store.
//!
//! `cargo bench --bench audit_chain` prints, on this machine, for a SQLite file on disk with
//! `synchronous = FULL`:
//! - appends per second from 64 concurrent writers, unlinked (a store opened without the audit
//!   key) and linked (the keyed chain and the unkeyed hash, as `otpbot serve` writes);
//! - how long `otpbot audit verify`'s check of that log takes, with a checkpoint at its end;
//! - how long checking a JSON Lines export of it against that checkpoint takes;
//! - how long making a checkpoint (head read and Ed25519 signature) takes.
//!
//! Numbers from a shared machine are indicative; compare runs on the same machine. Nothing here
//! asserts a timing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use otpbot::audit::checkpoint::{self, Checkpoint, Ed25519Signer};
use otpbot::audit::jsonl::json_line;
use otpbot::audit::record::Position;
use otpbot::domain::{Action, AuditEvent, AuditQuery, EventId, Outcome, Principal, RequestId};
use otpbot::domain::{Clock, SystemClock};
use otpbot::keys::{random_key, AuditKey};
use otpbot::store::local::{verify_file, LocalOptions, LocalStore, MasterKey};
use otpbot::store::AuditStore;

const RECORDS: usize = 20_000;
const WRITERS: usize = 64;

fn event(n: usize) -> AuditEvent {
    let at = SystemClock.now();
    AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor: Principal::parse(&format!("slack:T0BENCH:U{n}")).expect("principal"),
        action: Action::Code,
        tool: None,
        subject: None,
        outcome: Outcome::Issued,
        detail: None,
        channel: Some("C0BENCH".into()),
        code_mac: Some(format!("{n:064x}")),
    }
}

/// Appends [`RECORDS`] records from [`WRITERS`] tasks; returns the time taken.
async fn fill(store: Arc<LocalStore>) -> Duration {
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (w..RECORDS).step_by(WRITERS) {
                    store.append(&event(n)).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    started.elapsed()
}

fn per_second(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

/// A directory under the target directory (on disk, not tmpfs).
fn dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir")
}

async fn export(store: &LocalStore) -> String {
    let mut out = String::new();
    let mut query = AuditQuery {
        limit: 5_000,
        ..AuditQuery::default()
    };
    loop {
        let page = store.query(&query).await.expect("query");
        for (event, position) in page.events.iter().zip(&page.positions) {
            out.push_str(&json_line(event, Some::<&Position>(position)));
            out.push('\n');
        }
        match page.next {
            Some(next) => query.before_id = Some(next),
            None => return out,
        }
    }
}

async fn run() {
    let plain = dir();
    let store =
        Arc::new(LocalStore::open(plain.path(), MasterKey::new(random_key())).expect("open"));
    let took = fill(store).await;
    println!(
        "append, unlinked:   {RECORDS} records from {WRITERS} writers in {took:.2?} ({:.0}/s)",
        per_second(RECORDS, took)
    );

    let linked = dir();
    let key = Arc::new(AuditKey::new(random_key()));
    let store = Arc::new(
        LocalStore::open_chained(
            linked.path(),
            MasterKey::new(random_key()),
            LocalOptions::default(),
            Some(key.clone()),
        )
        .expect("open"),
    );
    let took = fill(store.clone()).await;
    println!(
        "append, linked:     {RECORDS} records from {WRITERS} writers in {took:.2?} ({:.0}/s)",
        per_second(RECORDS, took)
    );

    let signer = Ed25519Signer::from_seed(&random_key()).expect("key");
    let started = Instant::now();
    let head = store.audit_head().await.expect("head").expect("a chain");
    let checkpoint = Checkpoint::sign(&head, SystemClock.now(), &signer)
        .await
        .expect("sign");
    println!(
        "checkpoint:         head read and signed in {:.2?}",
        started.elapsed()
    );

    let checkpoints = vec![("bench".to_owned(), checkpoint)];
    let wanted: BTreeSet<u64> = checkpoint::wanted(&checkpoints);
    let started = Instant::now();
    let (verified, heads) = verify_file(linked.path(), &key, None, &wanted).expect("intact");
    checkpoint::check(&checkpoints, signer.public_key(), &heads).expect("extends");
    let took = started.elapsed();
    println!(
        "verify, store:      {} records checked in {took:.2?} ({:.0}/s)",
        verified.records,
        per_second(verified.records, took)
    );

    let text = export(&store).await;
    let started = Instant::now();
    let (verified, heads) =
        otpbot::audit::export_check::verify_export(&text, &wanted).expect("intact");
    checkpoint::check(&checkpoints, signer.public_key(), &heads).expect("extends");
    let took = started.elapsed();
    println!(
        "verify, export:     {} records ({} KiB) checked in {took:.2?} ({:.0}/s)",
        verified.records,
        text.len() / 1024,
        per_second(verified.records, took)
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmarks run with `cargo bench --bench audit_chain`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}
