//! The local audit log's hash chain as an auditor meets it: `otpbot audit verify` passes on an
//! untouched log and names the first discrepancy, exiting non-zero, after each way someone with
//! write access to the SQLite file could tamper with it (the triggers that refuse UPDATE and
//! DELETE are dropped first, as such a person would).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use otpbot::domain::{Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp};
use otpbot::keys::{random_key, AuditKey};
use otpbot::store::local::{verify_file, LocalOptions, LocalStore, MasterKey};
use otpbot::store::AuditStore;
use rusqlite::Connection;

const BIN: &str = env!("CARGO_BIN_EXE_otpbot");

fn otpbot(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USER", "ops")
        .env("OTPBOT_DATA_DIR", dir)
        .stdin(Stdio::null());
    cmd
}

fn run(dir: &Path, args: &[&str]) -> Output {
    otpbot(dir).args(args).output().expect("run otpbot")
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A data directory whose log holds 7 records written by the command line.
fn written_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for user in ["UALICE", "UBOB", "UCAROL", "UDAVE"] {
        ok(run(
            dir.path(),
            &["role", "add", &format!("slack:T0DEMO:{user}"), "auditor"],
        ));
    }
    for _ in 0..3 {
        ok(run(dir.path(), &["audit", "--limit", "1"]));
    }
    dir
}

/// Copies the data directory, so each tampering starts from the untouched log.
fn copy_of(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copy");
    }
    copy
}

/// Runs `sql` on the copy's database with the append-only triggers dropped.
fn tamper(dir: &Path, sql: &str) {
    let conn = Connection::open(dir.join("otpbot.db")).expect("open db");
    conn.execute_batch(&format!(
        "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; {sql}"
    ))
    .expect("tamper");
}

/// Runs `otpbot audit verify`; asserts it fails and returns what it said.
fn verify_fails(dir: &Path) -> String {
    let out = run(dir, &["audit", "verify"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "verify passed a tampered log: {said}"
    );
    said
}

#[test]
fn verify_passes_an_untouched_log_and_names_each_tampering() {
    let log = written_log();
    let out = ok(run(log.path(), &["audit", "verify"]));
    assert!(out.starts_with("ok: 8 records, 0 seals, from "), "{out}");
    // Verify is read-only: it leaves no record of its own.
    let again = ok(run(log.path(), &["audit", "verify"]));
    assert!(again.starts_with("ok: 8 records"), "{again}");
    let recent = ok(run(log.path(), &["audit", "verify", "--since", "1h"]));
    assert!(recent.starts_with("ok: 8 records"), "{recent}");

    // The SIEM export: one JSON object per line, every record, the stable field names.
    let jsonl = ok(run(log.path(), &["audit", "--format", "jsonl"]));
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(
        lines.len(),
        9,
        "the chain start, 7 records and the export's own: {jsonl}"
    );
    assert_eq!(lines[0]["action"], "audit");
    assert!(lines
        .iter()
        .any(|l| l["actor"] == "cli:local:ops" && l["subject"] == "slack:T0DEMO:UCAROL"));
    assert!(lines.iter().all(|l| l["tool"].is_null()));

    let cases: &[(&str, &str, &str)] = &[
        (
            "delete a record",
            "DELETE FROM audit WHERE seq = 3;",
            "record missing: record #3 has been removed",
        ),
        (
            "delete the last record",
            "DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit);",
            "record missing: record #9 has been removed",
        ),
        (
            "change the tool",
            "UPDATE audit SET tool = 'aws-root' WHERE seq = 5;",
            "record altered: record #5",
        ),
        (
            "change the actor",
            "UPDATE audit SET actor = 'slack:T0DEMO:UMALLORY' WHERE seq = 2;",
            "record altered: record #2",
        ),
        (
            "change the outcome",
            "UPDATE audit SET outcome = 'forbidden' WHERE seq = 4;",
            "record altered: record #4",
        ),
        (
            "change the time",
            "UPDATE audit SET at = at - 86400 WHERE seq = 6;",
            "record altered: record #6",
        ),
        (
            "write a value otpbot never writes",
            "UPDATE audit SET outcome = 'denied' WHERE seq = 3;",
            "record altered: record #3",
        ),
        (
            "insert a forged record",
            "UPDATE audit SET seq = seq + 1000 WHERE seq >= 4;
             UPDATE audit SET seq = seq - 999 WHERE seq >= 1000;
             INSERT INTO audit (seq, id, at, request_id, actor, action, tool, subject, outcome,
                                detail, channel, code_mac, chain)
               SELECT 4, id || 'x', at, request_id, 'slack:T0DEMO:UMALLORY', action, tool,
                      subject, outcome, detail, channel, code_mac, chain
               FROM audit WHERE seq = 5;",
            "record inserted: record #4",
        ),
        (
            "swap two records",
            "UPDATE audit SET seq = -3 WHERE seq = 3;
             UPDATE audit SET seq = 3 WHERE seq = 4;
             UPDATE audit SET seq = 4 WHERE seq = -3;",
            "records reordered: records #3",
        ),
        (
            "break the chain at the first record",
            "UPDATE audit SET chain = substr(chain, 2) || '0' WHERE seq = 1;",
            "chain broken at record #1",
        ),
    ];
    for (what, sql, expected) in cases {
        let copy = copy_of(log.path());
        tamper(copy.path(), sql);
        let said = verify_fails(copy.path());
        assert!(said.contains(expected), "{what}: {said}");
    }
}

fn event(n: i64) -> AuditEvent {
    let at = Timestamp::from_unix(1_900_000_000 + n);
    AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor: Principal::parse(&format!("slack:T0DEMO:U{n}")).expect("principal"),
        action: Action::Code,
        tool: None,
        subject: None,
        outcome: Outcome::Ok,
        detail: Some(format!("n={n}")),
        channel: None,
        code_mac: None,
    }
}

/// Records committed together (group commit, one savepoint each) chain in commit order, and a
/// failed insert (duplicate id) rolls back with its savepoint without breaking the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_produce_one_unbroken_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Arc::new(AuditKey::new(random_key()));
    let store = Arc::new(
        LocalStore::open_chained(
            dir.path(),
            MasterKey::new(random_key()),
            LocalOptions::default(),
            Some(key.clone()),
        )
        .expect("open"),
    );
    let duplicate = event(0);
    store.append(&duplicate).await.expect("first");
    let tasks: Vec<_> = (1..=64)
        .map(|n| {
            let store = store.clone();
            let duplicate = duplicate.clone();
            tokio::spawn(async move {
                store.append(&event(n)).await.expect("append");
                // Refused: the id exists. Its savepoint rolls back.
                assert!(store.append(&duplicate).await.is_err());
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    drop(store);
    let none = std::collections::BTreeSet::new();
    let (verified, heads) = verify_file(dir.path(), &key, None, &none).expect("chain intact");
    assert_eq!(
        verified.records, 66,
        "the chain start and 65 records: {verified}"
    );
    assert_eq!(heads.records, 66, "every record is in the unkeyed chain");
    // Another key cannot vouch for the log.
    let other = AuditKey::new(random_key());
    let err = verify_file(dir.path(), &other, None, &none).expect_err("wrong key");
    assert!(err.to_string().contains("record #1"), "{err}");
}
