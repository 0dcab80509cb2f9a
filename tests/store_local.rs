//! The SQLite backend: the shared conformance suite, plus what only a local file can show
//! (encryption at rest, the append-only trigger, the master key).

use crate::common;
use crate::common::conformance;

use std::sync::Arc;

use otpbot::domain::{Quota, Seed, Timestamp, ToolName};
use otpbot::keys::random_key;
use otpbot::store::local::{LocalStore, MasterKey, DB_FILE};
use otpbot::store::{
    Change, CodeAsk, CodeOutcome, CompleteRecord, Effect, SecretStore, StoreError, StoreResult,
    Stores, Verdict,
};
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

/// The seed every whole-code test issues from (RFC 4226's test key).
const GITHUB_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// A code of `user` for github at `at`, decided whole, its record completed with the code's
/// validity.
async fn whole_code(
    s: &Stores,
    user: &str,
    at: i64,
    quotas: Vec<Quota>,
    replay: Option<&str>,
) -> StoreResult<CodeOutcome> {
    let whole = s
        .decisions
        .whole_codes()
        .expect("SQLite decides a code whole");
    let decision = conformance::issue(user, at, quotas, replay);
    let complete: CompleteRecord = Box::new(|issue, record| {
        record.detail = Some(format!("valid {} s", issue.valid_for_secs));
    });
    whole.issue_whole(CodeAsk { decision, complete }).await
}

/// The code a whole decision issued, which must be `seed`'s at `at`.
fn assert_issued(outcome: StoreResult<CodeOutcome>, seed: &Seed, at: i64) {
    match outcome {
        Ok(CodeOutcome::Issued { tool, grant, issue }) => {
            assert_eq!(tool.name.as_str(), "github");
            assert_eq!(grant.tool.as_str(), "github");
            let expected = seed.code_at(Timestamp::from_unix(at));
            assert_eq!(
                issue.code.expose(),
                expected.expose(),
                "the stored seed's code"
            );
        }
        other => panic!("not issued: {other:?}"),
    }
}

/// How a whole decision was refused (a refusal, not an error).
fn refused(outcome: StoreResult<CodeOutcome>) -> Verdict {
    match outcome {
        Ok(CodeOutcome::Refused { verdict, .. }) => verdict,
        other => panic!("not refused: {other:?}"),
    }
}

/// A code decided whole in the writer makes every check before it reads the seed (SPEC §3.4):
/// with github's seed made unreadable, a replay, a caller without a grant, one whose grant
/// expired and one over a limit are refused as ever, and an unknown tool too; only a caller who
/// may have the code reaches the seed, and gets an error with nothing recorded.
#[tokio::test]
async fn a_whole_code_reads_the_seed_only_after_every_check() {
    let (s, dir) = local().await;
    conformance::catalog(&s).await;
    let github = conformance::tool_name("github");
    let seed = Seed::parse(GITHUB_SEED).expect("seed");
    s.secrets.put_seed(&github, &seed).await.expect("seed");
    s.secrets
        .put_seed(&conformance::tool_name("aws-root"), &seed)
        .await
        .expect("seed");
    for (user, expires) in [("U1", 5_000), ("U2", 1_500), ("U4", 5_000)] {
        conformance::apply(
            &s,
            Change::PutGrant(conformance::grant(user, "github", expires)),
        )
        .await;
    }
    let one = |user: &str| vec![conformance::quota(&format!("caller:{user}"), 1, 600)];
    assert_issued(
        whole_code(&s, "U1", 2_000, one("U1"), Some("r1")).await,
        &seed,
        2_000,
    );
    let records = conformance::all_events(&s).await;
    assert_eq!(conformance::issued(&records), 1);
    assert_eq!(
        records.last().and_then(|e| e.detail.as_deref()),
        Some(format!("valid {} s", 30 - 2_000 % 30).as_str()),
        "the record was completed from the code"
    );

    // Another tool's ciphertext under github's name fails to open (it is bound to its tool).
    rusqlite::Connection::open(dir.path().join(DB_FILE))
        .expect("open")
        .execute(
            "UPDATE seeds SET nonce = (SELECT nonce FROM seeds WHERE tool = 'aws-root'), \
             ciphertext = (SELECT ciphertext FROM seeds WHERE tool = 'aws-root') \
             WHERE tool = 'github'",
            [],
        )
        .expect("break github's seed");

    let at = 2_010;
    assert_eq!(
        refused(whole_code(&s, "U4", at, vec![], Some("r1")).await),
        Verdict::Replay
    );
    assert_eq!(
        refused(whole_code(&s, "U3", at, vec![], None).await),
        Verdict::NoGrant
    );
    assert_eq!(
        refused(whole_code(&s, "U2", at, vec![], None).await),
        Verdict::Expired(Timestamp::from_unix(1_500))
    );
    assert_eq!(
        refused(whole_code(&s, "U1", at, one("U1"), None).await),
        Verdict::Limited(0)
    );
    let mut unknown = conformance::issue("U1", at, vec![], None);
    unknown.effect = Effect::Issue {
        principal: conformance::who("U1"),
        tool: conformance::tool_name("gitlab"),
    };
    let whole = s.decisions.whole_codes().expect("whole codes");
    let complete: CompleteRecord = Box::new(|_, _| {});
    let outcome = whole
        .issue_whole(CodeAsk {
            decision: unknown,
            complete,
        })
        .await;
    assert_eq!(refused(outcome), Verdict::UnknownTool);

    let err = whole_code(&s, "U4", at, one("U4"), Some("r2"))
        .await
        .expect_err("a seed that does not open is an error");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(
        conformance::issued(&conformance::all_events(&s).await),
        1,
        "nothing recorded since"
    );
    // The replay marker and the limit of the failed code were rolled back with it.
    s.secrets.put_seed(&github, &seed).await.expect("mend");
    assert_issued(
        whole_code(&s, "U4", at, one("U4"), Some("r2")).await,
        &seed,
        at,
    );
}

/// The writer keeps a seed opened only while the stored ciphertext is the one it opened: a
/// seed replaced through another handle on the same file (as by the command line beside a
/// running server) gives the very next code, and a removed one none.
#[tokio::test]
async fn a_whole_code_follows_a_seed_replaced_from_another_handle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = random_key();
    let key_copy = random_key_copy(&key);
    let server = Stores::single(Arc::new(
        LocalStore::open(dir.path(), MasterKey::new(key)).expect("open"),
    ));
    conformance::catalog(&server).await;
    conformance::apply(
        &server,
        Change::PutGrant(conformance::grant("U1", "github", 9_000)),
    )
    .await;
    let github = conformance::tool_name("github");
    let first = Seed::parse(GITHUB_SEED).expect("seed");
    server
        .secrets
        .put_seed(&github, &first)
        .await
        .expect("seed");
    assert_issued(
        whole_code(&server, "U1", 2_000, vec![], None).await,
        &first,
        2_000,
    );
    assert_issued(
        whole_code(&server, "U1", 2_030, vec![], None).await,
        &first,
        2_030,
    );

    let cli = LocalStore::open(dir.path(), MasterKey::new(key_copy)).expect("second handle");
    let second = Seed::parse("JBSWY3DPEHPK3PXP").expect("seed");
    cli.put_seed(&github, &second).await.expect("replace");
    assert_issued(
        whole_code(&server, "U1", 2_060, vec![], None).await,
        &second,
        2_060,
    );

    assert!(cli.delete_seed(&github).await.expect("delete"));
    let err = whole_code(&server, "U1", 2_090, vec![], None)
        .await
        .expect_err("no seed, no code");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}
