//! The local audit log's chains as an auditor meets them: `otpbot audit verify` passes on an
//! untouched log and names the first discrepancy, exiting non-zero, after each way someone with
//! write access to the SQLite file could tamper with it (the triggers that refuse UPDATE and
//! DELETE are dropped first, as such a person would). What only a checkpoint held elsewhere
//! can catch (a cut-off tail with its counter rewound, history re-chained with the audit key)
//! is caught with one, and a checkpoint that is not genuine is refused.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use common::cli::{store_key_dir, Otpbot};

use otpbot::domain::{Action, AuditEvent, EventId, Outcome, Principal, RequestId, Timestamp};
use otpbot::keys::{random_key, AuditKey};
use otpbot::store::local::{verify_file, LocalOptions, LocalStore, MasterKey};
use otpbot::store::AuditStore;
use rusqlite::Connection;

/// A data directory whose log holds 7 records written by the command line.
fn written_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for user in ["UALICE", "UBOB", "UCAROL", "UDAVE"] {
        Otpbot::on_store(dir.path())
            .args(["role", "add", &format!("slack:T0DEMO:{user}"), "auditor"])
            .ok();
    }
    for _ in 0..3 {
        Otpbot::on_store(dir.path())
            .args(["audit", "--limit", "1"])
            .ok();
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
    // The copy keeps the original's keys, as an attacker who copies a store uses its keys.
    if let Ok(keys) = std::fs::read_dir(store_key_dir(dir)) {
        std::fs::create_dir_all(store_key_dir(copy.path())).expect("key dir");
        for entry in keys {
            let entry = entry.expect("entry");
            std::fs::copy(
                entry.path(),
                store_key_dir(copy.path()).join(entry.file_name()),
            )
            .expect("copy key");
        }
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
    let out = Otpbot::on_store(dir).args(["audit", "verify"]).output();
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
    let out = Otpbot::on_store(log.path()).args(["audit", "verify"]).ok();
    assert!(out.starts_with("ok: 8 records, 0 seals, from "), "{out}");
    // Verify is read-only: it leaves no record of its own.
    let again = Otpbot::on_store(log.path()).args(["audit", "verify"]).ok();
    assert!(again.starts_with("ok: 8 records"), "{again}");
    let recent = Otpbot::on_store(log.path())
        .args(["audit", "verify", "--since", "1h"])
        .ok();
    assert!(recent.starts_with("ok: 8 records"), "{recent}");

    // The SIEM export: one JSON object per line, every record, the stable field names.
    let jsonl = Otpbot::on_store(log.path())
        .args(["audit", "--format", "jsonl"])
        .ok();
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

// ---- The attacks of an operator with write access to the file (and, last, the audit key). ----

fn key_file(dir: &Path, name: &str) -> otpbot::keys::KeyBytes {
    let text = std::fs::read_to_string(store_key_dir(dir).join(name)).expect("key file");
    otpbot::keys::decode_hex_key(&text, name).expect("hex key")
}

/// Opens the CLI's store with its own keys, as the server would.
fn open_as_server(dir: &Path) -> LocalStore {
    LocalStore::open_chained(
        dir,
        MasterKey::new(key_file(dir, "master.key")),
        LocalOptions::default(),
        Some(Arc::new(AuditKey::new(key_file(dir, "audit.key")))),
    )
    .expect("open")
}

fn issued(n: i64) -> AuditEvent {
    AuditEvent {
        action: Action::Code,
        outcome: Outcome::Issued,
        tool: Some(otpbot::domain::ToolName::parse("github").expect("tool")),
        code_mac: Some(format!("{n:064x}")),
        ..event(n)
    }
}

/// The log of [`written_log`] plus three issued codes: 11 records from the chain start.
async fn log_with_issuances() -> tempfile::TempDir {
    let dir = written_log();
    let store = open_as_server(dir.path());
    for n in 1..=3 {
        store.append(&issued(n)).await.expect("append");
    }
    dir
}

/// Runs `otpbot audit verify` with `args`; asserts it fails and returns what it said.
fn verify_fails_with(dir: &Path, args: &[&str]) -> String {
    let out = Otpbot::on_store(dir)
        .args([&["audit", "verify"], args].concat())
        .output();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "verify passed: {}{said}",
        String::from_utf8_lossy(&out.stdout)
    );
    said
}

/// The first attack: every chain value set to NULL, then every issuance deleted. The
/// records after the chain start must all be linked, so an unlinked one fails the check.
#[tokio::test]
async fn unlinking_the_chain_and_deleting_issuances_is_caught() {
    let log = log_with_issuances().await;
    tamper(
        log.path(),
        "UPDATE audit SET chain = NULL; DELETE FROM audit WHERE outcome = 'issued';",
    );
    let said = verify_fails(log.path());
    assert!(said.contains("record not linked: record #1 (id "), "{said}");
}

/// Emptying the log: with the counter left, it tells how many positions were handed out;
/// with the counter deleted too, the schema still has a chain, which must start somewhere.
#[tokio::test]
async fn emptying_the_log_is_caught_with_or_without_its_counter() {
    let log = log_with_issuances().await;
    let copy = copy_of(log.path());
    tamper(copy.path(), "DELETE FROM audit;");
    let said = verify_fails(copy.path());
    assert!(
        said.contains("log emptied: the log holds no record, but the store handed out 11"),
        "{said}"
    );
    tamper(
        log.path(),
        "DELETE FROM audit; DELETE FROM sqlite_sequence;",
    );
    let said = verify_fails(log.path());
    assert!(said.contains("chain start missing"), "{said}");
}

#[tokio::test]
async fn deleting_the_chain_start_is_caught() {
    let log = log_with_issuances().await;
    tamper(
        log.path(),
        "DELETE FROM audit WHERE action = 'chain_start';",
    );
    assert!(verify_fails(log.path()).contains("chain start missing"));
}

/// The second attack: the newest records deleted and `sqlite_sequence` rewound. The
/// file alone cannot tell (nothing in it was left to say so); a checkpoint taken before can.
#[tokio::test]
async fn a_cut_off_tail_with_a_rewound_counter_is_caught_by_an_earlier_checkpoint() {
    let log = log_with_issuances().await;
    let checkpoint = Otpbot::on_store(log.path())
        .args(["audit", "checkpoint"])
        .ok();
    let file = log.path().join("checkpoint.json");
    std::fs::write(&file, &checkpoint).expect("write checkpoint");
    let held: serde_json::Value = serde_json::from_str(&checkpoint).expect("one JSON object");
    assert_eq!(held["records"], 11, "{held}");
    assert_eq!(held["algorithm"], "ed25519");

    let passes = Otpbot::on_store(log.path())
        .args([
            "audit",
            "verify",
            "--checkpoint",
            file.to_str().expect("path"),
        ])
        .ok();
    assert!(passes.contains("extends the checkpoint given"), "{passes}");

    tamper(
        log.path(),
        "DELETE FROM audit WHERE seq > 8; UPDATE sqlite_sequence SET seq = 8 WHERE name = 'audit';",
    );
    let alone = Otpbot::on_store(log.path()).args(["audit", "verify"]).ok();
    assert!(alone.starts_with("ok: 8 records"), "{alone}");
    let said = verify_fails_with(log.path(), &["--checkpoint", file.to_str().expect("path")]);
    assert!(
        said.contains("log cut off: the checkpoint of ")
            && said.contains("vouches for 11 records, but the log holds only 8"),
        "{said}"
    );
}

/// Rewrites the whole log as a holder of the audit key can: record #`seq` gets another actor,
/// and every chain value and hash from it on is recomputed.
fn rechain_with_the_audit_key(dir: &Path, seq: i64) {
    use otpbot::audit::chain::{hash_link, link};
    use otpbot::audit::record::canonical;
    let key = AuditKey::new(key_file(dir, "audit.key"));
    tamper(
        dir,
        &format!("UPDATE audit SET actor = 'slack:T0DEMO:UMALLORY' WHERE seq = {seq};"),
    );
    let conn = Connection::open(dir.join("otpbot.db")).expect("open db");
    let rows: Vec<(i64, String)> = {
        let mut stmt = conn
            .prepare("SELECT seq, id FROM audit ORDER BY seq")
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    };
    let (mut chain, mut hash): (Option<String>, Option<String>) = (None, None);
    for (seq, id) in rows {
        let event = read_event(&conn, &id);
        let record = canonical(&event);
        let new_chain = link(&key, chain.as_deref(), &record);
        let new_hash = hash_link(hash.as_deref(), &record);
        conn.execute(
            "UPDATE audit SET chain = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![new_chain, new_hash, seq],
        )
        .expect("rechain");
        (chain, hash) = (Some(new_chain), Some(new_hash));
    }
}

/// One record as otpbot reads it back.
fn read_event(conn: &Connection, id: &str) -> AuditEvent {
    conn.query_row(
        "SELECT id, at, request_id, actor, action, tool, subject, outcome, detail, channel, \
         code_mac FROM audit WHERE id = ?1",
        [id],
        |r| {
            Ok(AuditEvent {
                id: EventId::from_stored(r.get(0)?),
                at: Timestamp::from_unix(r.get(1)?),
                request_id: RequestId::from_stored(r.get(2)?),
                actor: Principal::parse(&r.get::<_, String>(3)?).expect("actor"),
                action: Action::parse(&r.get::<_, String>(4)?).expect("action"),
                tool: r
                    .get::<_, Option<String>>(5)?
                    .map(|t| otpbot::domain::ToolName::parse(&t).expect("tool")),
                subject: r
                    .get::<_, Option<String>>(6)?
                    .map(|p| Principal::parse(&p).expect("subject")),
                outcome: Outcome::parse(&r.get::<_, String>(7)?).expect("outcome"),
                detail: r.get(8)?,
                channel: r.get(9)?,
                code_mac: r.get(10)?,
            })
        },
    )
    .expect("record")
}

/// A holder of the audit key who can write the file rewrites history and re-chains it: the
/// file alone then checks out (the keyed chain proves nothing against its own key), but the
/// checkpoint taken before does not match the new history.
#[tokio::test]
async fn history_rewritten_and_rechained_with_the_audit_key_is_caught_by_a_checkpoint() {
    let log = log_with_issuances().await;
    let file = log.path().join("checkpoint.json");
    std::fs::write(
        &file,
        Otpbot::on_store(log.path())
            .args(["audit", "checkpoint"])
            .ok(),
    )
    .expect("write");
    rechain_with_the_audit_key(log.path(), 3);
    let alone = Otpbot::on_store(log.path()).args(["audit", "verify"]).ok();
    assert!(alone.starts_with("ok: 11 records"), "{alone}");
    let said = verify_fails_with(log.path(), &["--checkpoint", file.to_str().expect("path")]);
    assert!(
        said.contains("history rewritten: the log's first 11 records are not the ones"),
        "{said}"
    );
}

/// A checkpoint whose fields were changed after signing, or checked against another key, is
/// refused as not genuine: nobody can vouch for a shorter log in the key's name.
#[tokio::test]
async fn a_checkpoint_not_signed_by_the_key_is_refused() {
    let log = log_with_issuances().await;
    let mut held: serde_json::Value = serde_json::from_str(
        &Otpbot::on_store(log.path())
            .args(["audit", "checkpoint"])
            .ok(),
    )
    .expect("json");
    held["records"] = serde_json::json!(5);
    let forged = log.path().join("forged.json");
    std::fs::write(&forged, held.to_string()).expect("write");
    let said = verify_fails_with(
        log.path(),
        &["--checkpoint", forged.to_str().expect("path")],
    );
    assert!(
        said.contains("checkpoint not genuine: the checkpoint of ") && said.contains("forged.json"),
        "{said}"
    );

    let genuine = log.path().join("genuine.json");
    std::fs::write(
        &genuine,
        Otpbot::on_store(log.path())
            .args(["audit", "checkpoint"])
            .ok(),
    )
    .expect("write");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    Otpbot::on_store(elsewhere.path())
        .args(["role", "add", "slack:T0DEMO:UOTHER", "auditor"])
        .ok();
    let other_key = elsewhere.path().join("other.pem");
    std::fs::write(
        &other_key,
        Otpbot::on_store(elsewhere.path())
            .args(["audit", "public-key"])
            .ok(),
    )
    .expect("pem");
    let said = verify_fails_with(
        log.path(),
        &[
            "--checkpoint",
            genuine.to_str().expect("path"),
            "--public-key",
            other_key.to_str().expect("path"),
        ],
    );
    assert!(said.contains("checkpoint not genuine"), "{said}");
}

/// A store that had records before the chain existed: the first open with the audit key
/// writes the chain start, and the older records are reported as before the chain, not failed.
/// A file whose schema predates the chain start is not passed as checked.
#[tokio::test]
async fn records_from_before_the_chain_are_reported_and_an_old_schema_is_not_passed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let master = otpbot::keys::random_key();
    std::fs::write(
        dir.path().join("master.key"),
        hex::encode(secrecy::ExposeSecret::expose_secret(&master)),
    )
    .expect("master key");
    let audit = otpbot::keys::random_key();
    std::fs::write(
        dir.path().join("audit.key"),
        hex::encode(secrecy::ExposeSecret::expose_secret(&audit)),
    )
    .expect("audit key");
    // Three records as an otpbot of schema 6 wrote them: before the chain start and the
    // unkeyed hash (schema 7), with no chain value.
    otpbot::store::local::create_at_schema_version(dir.path(), 6).expect("schema 6");
    let conn = Connection::open(dir.path().join("otpbot.db")).expect("open db");
    for n in 1..=3 {
        let e = event(n);
        conn.execute(
            "INSERT INTO audit (id, at, request_id, actor, action, outcome) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                e.id.as_str(),
                e.at.unix(),
                e.request_id.as_str(),
                e.actor.as_str(),
                e.action.as_str(),
                e.outcome.as_str()
            ],
        )
        .expect("an old record");
    }
    drop(conn);
    let said = verify_fails(dir.path());
    assert!(
        said.contains("predates the audit chain's start record; open the store once"),
        "{said}"
    );
    Otpbot::on_store(dir.path()).args(["tool", "list"]).ok();
    let out = Otpbot::on_store(dir.path()).args(["audit", "verify"]).ok();
    assert!(
        out.starts_with("ok: ")
            && out.contains("(3 older records written before the chain existed were not checked)"),
        "{out}"
    );
    let jsonl = Otpbot::on_store(dir.path())
        .args(["audit", "--format", "jsonl"])
        .ok();
    let start = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|l| l["action"] == "chain_start")
        .expect("a chain-start record");
    assert_eq!(start["seq"], 4, "{start}");
    assert_eq!(
        start["detail"], "the audit chain starts; the 3 records before it predate the chain",
        "{start}"
    );
}
