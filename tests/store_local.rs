//! The SQLite backend: the shared conformance suite, plus what only a local file can show
//! (encryption at rest, the append-only trigger, the master key).

use crate::common;

use std::sync::Arc;

use otpbot::domain::{Seed, ToolName};
use otpbot::keys::random_key;
use otpbot::store::local::{LocalStore, MasterKey};
use otpbot::store::{SecretStore, StoreError, Stores};
use secrecy::ExposeSecret;

async fn local() -> (Stores, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("open");
    (Stores::single(Arc::new(store)), dir)
}

crate::conformance_tests!(local);

fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        bytes.extend(std::fs::read(entry.expect("entry").path()).unwrap_or_default());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn seeds_are_encrypted_at_rest_and_bound_to_their_tool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = random_key();
    let key_copy = random_key_copy(&key);
    let store = LocalStore::open(dir.path(), MasterKey::new(key)).expect("open");
    let (github, aws) = (
        ToolName::parse("github").expect("name"),
        ToolName::parse("aws").expect("name"),
    );
    let secret = "KRUGS4ZANFZSAYJAONSWG4TFOQQGM33SEBTWS5DIOVRA";
    store
        .put_seed(&github, &Seed::parse(secret).expect("seed"))
        .await
        .expect("put");
    store
        .put_seed(&aws, &Seed::parse("JBSWY3DPEHPK3PXP").expect("seed"))
        .await
        .expect("put");
    let bytes = all_bytes(dir.path());
    assert!(
        !contains(&bytes, secret.as_bytes()),
        "the base32 seed is not in the files"
    );
    assert!(!contains(&bytes, b"otpauth"), "no URI in the clear");

    let conn = rusqlite::Connection::open(store.path()).expect("open");
    conn.execute(
        "UPDATE seeds SET nonce = (SELECT nonce FROM seeds WHERE tool = 'aws'), ciphertext = (SELECT ciphertext FROM seeds WHERE tool = 'aws') WHERE tool = 'github'",
        [],
    )
    .expect("swap ciphertexts");
    assert!(
        matches!(store.seed(&github).await, Err(StoreError::Corrupt(_))),
        "a ciphertext moved to another tool fails"
    );
    drop(store);

    let reopened =
        LocalStore::open(dir.path(), MasterKey::new(key_copy)).expect("reopen with the same key");
    assert!(reopened.seed(&aws).await.expect("same key reads").is_some());
    drop(reopened);
    // A different master key is refused when the store opens (its key check value differs),
    // before any seed is read with it.
    let err = LocalStore::open(dir.path(), MasterKey::new(random_key()))
        .expect_err("a wrong master key does not open the store");
    assert!(matches!(err, StoreError::WrongKey("master")), "{err:?}");
}

fn random_key_copy(key: &otpbot::keys::KeyBytes) -> otpbot::keys::KeyBytes {
    otpbot::keys::decode_hex_key(&hex::encode(key.expose_secret()), "copy").expect("copy")
}

#[tokio::test]
async fn audit_rows_cannot_be_changed_or_deleted() {
    let (stores, dir) = local().await;
    common::conformance::audit_log(&stores).await;
    let conn = rusqlite::Connection::open(dir.path().join("otpbot.db")).expect("open");
    let update = conn.execute("UPDATE audit SET outcome = 'ok'", []);
    let delete = conn.execute("DELETE FROM audit", []);
    assert!(
        update.is_err() && delete.is_err(),
        "append-only: {update:?} {delete:?}"
    );
    let count: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
        .expect("count");
    assert_eq!(count, 5);
}

#[tokio::test]
async fn reopening_keeps_data_and_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = random_key();
    let copy = random_key_copy(&key);
    {
        let store = Arc::new(LocalStore::open(dir.path(), MasterKey::new(key)).expect("open"));
        common::conformance::roles(&Stores::single(store)).await;
    }
    let store =
        LocalStore::open(dir.path(), MasterKey::new(copy)).expect("reopen migrates nothing twice");
    let roles = otpbot::store::AccessStore::roles(
        &store,
        &otpbot::domain::Principal::parse("slack:T1:U1").expect("p"),
    )
    .await
    .expect("roles");
    assert!(roles.auditor, "data survives a restart");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the database is private to its owner");
    }
}

#[tokio::test]
async fn a_large_audit_log_pages_through_every_event_once() {
    let (stores, _dir) = local().await;
    common::conformance::paging_over_many_events(&stores, 1_250).await;
}

/// A store written before requests kept their requester's display name is upgraded in place:
/// its requests read back without a name (approvers' cards show the id, as they did), and new
/// requests keep theirs.
#[tokio::test]
async fn requests_from_before_display_names_read_back_without_one() {
    use otpbot::domain::AccessRequestId;
    let dir = tempfile::tempdir().expect("tempdir");
    let before = otpbot::store::local::REQUESTER_NAME_VERSION - 1;
    otpbot::store::local::create_at_schema_version(dir.path(), before).expect("older schema");
    let conn = rusqlite::Connection::open(dir.path().join("otpbot.db")).expect("open");
    conn.execute_batch(
        "INSERT INTO access_requests (id, requester, tool, duration, reason, requested_at,
             expires_at, state, requester_person) VALUES ('r1', 'teams:t1:u1', 'github', 3600,
             NULL, 1000, 4600, 'open', 'teams:t1:u1');",
    )
    .expect("an older otpbot's request");
    drop(conn);
    let store = LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("upgrade");
    let stores = Stores::single(Arc::new(store));
    let request = stores
        .access
        .access_request(&AccessRequestId::parse("r1").expect("id"))
        .await
        .expect("read")
        .expect("the request");
    assert_eq!(request.requester_name, None);
    assert_eq!(request.requester.as_str(), "teams:t1:u1");
}

/// A store written before persons were recorded (schema 7) is upgraded in place: its grants
/// and requests get their principal as their person, the person as far as was known then.
#[tokio::test]
async fn rows_from_before_persons_are_migrated_to_their_principal() {
    use otpbot::domain::{AccessRequestId, Principal};
    let dir = tempfile::tempdir().expect("tempdir");
    // A grant and an open request as an otpbot of schema 7 held them.
    otpbot::store::local::create_at_schema_version(dir.path(), 7).expect("schema 7");
    let conn = rusqlite::Connection::open(dir.path().join("otpbot.db")).expect("open");
    conn.execute_batch(
        "INSERT INTO grants (principal, tool, granted_by, granted_at, expires_at, reason)
             VALUES ('slack:T1:W0SELF', 'github', 'slack:T1:UADMIN', 1000, 9000, NULL);
         INSERT INTO access_requests (id, requester, tool, duration, reason, requested_at,
             expires_at, state) VALUES ('r1', 'slack:T2:W0SELF', 'github', 3600, NULL, 1000,
             4600, 'open');",
    )
    .expect("schema 7");
    drop(conn);
    let store = LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("upgrade");
    let stores = Stores::single(Arc::new(store));
    let holder = Principal::parse("slack:T1:W0SELF").expect("principal");
    let grant = stores
        .access
        .grant(&holder, &ToolName::parse("github").expect("tool"))
        .await
        .expect("read")
        .expect("the grant");
    assert_eq!(grant.person.as_str(), "slack:T1:W0SELF");
    let request = stores
        .access
        .access_request(&AccessRequestId::parse("r1").expect("id"))
        .await
        .expect("read")
        .expect("the request");
    assert_eq!(request.requester_person.as_str(), "slack:T2:W0SELF");
}

/// A tool and an open request stored before tools had rules read as one approval needed, no
/// break-glass and no approvals yet.
#[tokio::test]
async fn rows_from_before_tool_rules_need_one_approval_and_allow_no_break_glass() {
    use otpbot::domain::{AccessRequestId, ToolRules};
    use otpbot::store::local::TOOL_RULES_VERSION;
    let dir = tempfile::tempdir().expect("tempdir");
    let before = TOOL_RULES_VERSION - 1;
    otpbot::store::local::create_at_schema_version(dir.path(), before).expect("older schema");
    let conn = rusqlite::Connection::open(dir.path().join("otpbot.db")).expect("open");
    conn.execute_batch(
        "INSERT INTO tools (name, display_name, default_grant, max_grant, notify_channel,
             approvals_channel) VALUES ('github', 'GitHub', 28800, 604800, NULL, NULL);
         INSERT INTO access_requests (id, requester, tool, duration, reason, requested_at,
             expires_at, state, requester_person) VALUES ('r1', 'slack:T1:U1', 'github', 3600,
             NULL, 1000, 4600, 'open', 'slack:T1:U1');",
    )
    .expect("older rows");
    drop(conn);
    let store = LocalStore::open(dir.path(), MasterKey::new(random_key())).expect("upgrade");
    let stores = Stores::single(Arc::new(store));
    let tool = stores
        .access
        .tool(&ToolName::parse("github").expect("tool"))
        .await
        .expect("read")
        .expect("the tool");
    assert_eq!(tool.rules, ToolRules::default());
    let request = stores
        .access
        .access_request(&AccessRequestId::parse("r1").expect("id"))
        .await
        .expect("read")
        .expect("the request");
    assert_eq!(
        (request.approvals_required, request.approvals.len()),
        (1, 0)
    );
}
