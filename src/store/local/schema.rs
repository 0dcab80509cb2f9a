//! Schema migrations, tracked with `PRAGMA user_version`. Append only: never edit a released step.

use std::path::Path;

use rusqlite::Connection;

use super::sql::{backend, DB_FILE};
use crate::store::StoreResult;

const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    CREATE TABLE tools (
        name           TEXT PRIMARY KEY,
        display_name   TEXT NOT NULL,
        default_grant  INTEGER NOT NULL,
        max_grant      INTEGER NOT NULL,
        notify_channel TEXT
    );
    CREATE TABLE seeds (
        tool       TEXT PRIMARY KEY,
        nonce      BLOB NOT NULL,
        ciphertext BLOB NOT NULL
    );
    CREATE TABLE grants (
        principal  TEXT NOT NULL,
        tool       TEXT NOT NULL,
        granted_by TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        reason     TEXT,
        PRIMARY KEY (principal, tool)
    );
    CREATE INDEX grants_by_tool ON grants (tool, principal);
    CREATE TABLE roles (
        principal TEXT NOT NULL,
        role      TEXT NOT NULL,
        PRIMARY KEY (principal, role)
    );
    CREATE TABLE audit (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        at         INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        actor      TEXT NOT NULL,
        action     TEXT NOT NULL,
        tool       TEXT,
        subject    TEXT,
        outcome    TEXT NOT NULL,
        detail     TEXT,
        channel    TEXT,
        code_mac   TEXT
    );
    CREATE INDEX audit_by_tool ON audit (tool, id);
    CREATE INDEX audit_by_actor ON audit (actor, id);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TABLE counters (
        key        TEXT PRIMARY KEY,
        value      INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX counters_by_expiry ON counters (expires_at);
    "#,
    // 2: exact rate limits: the admitted times of each quota key.
    r#"
    CREATE TABLE quota_events (
        key        TEXT NOT NULL,
        at         INTEGER NOT NULL,
        keep_until INTEGER NOT NULL
    );
    CREATE INDEX quota_events_by_key ON quota_events (key, at);
    CREATE INDEX quota_events_by_expiry ON quota_events (keep_until);
    DELETE FROM counters WHERE key LIKE 'rate:%';
    "#,
    // 3: the audit hash chain (see `crate::audit::chain`); NULL on records written before it.
    r#"
    ALTER TABLE audit ADD COLUMN chain TEXT;
    "#,
    // 4: check values of the keys the store was created with (see `super::keycheck`).
    r#"
    CREATE TABLE key_checks (
        role        TEXT PRIMARY KEY,
        check_value TEXT NOT NULL
    );
    "#,
    // 5: access requests (at most one open per requester and tool) and approval channels.
    r#"
    CREATE TABLE access_requests (
        id           TEXT PRIMARY KEY,
        requester    TEXT NOT NULL,
        tool         TEXT NOT NULL,
        duration     INTEGER NOT NULL,
        reason       TEXT,
        requested_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        state        TEXT NOT NULL,
        decided_by   TEXT,
        decided_at   INTEGER
    );
    CREATE INDEX access_requests_open ON access_requests (requester, tool, state, expires_at);
    ALTER TABLE tools ADD COLUMN approvals_channel TEXT;
    "#,
    // 6: deployment secrets (`otpbot secret set` on the local store), encrypted like seeds.
    r#"
    CREATE TABLE secrets (
        name       TEXT PRIMARY KEY,
        nonce      BLOB NOT NULL,
        ciphertext BLOB NOT NULL
    );
    "#,
    // 7: the unkeyed hash chain beside the keyed one (see `crate::audit::chain`); it begins with
    // the chain-start record, which the first open with the audit key writes.
    r#"
    ALTER TABLE audit ADD COLUMN hash TEXT;
    CREATE INDEX audit_chain_start ON audit (seq) WHERE action = 'chain_start';
    "#,
    // 8: the person behind a grant and a request (see `crate::domain::Person`). Rows written
    // before it get their principal: the person as far as was known then.
    r#"
    ALTER TABLE grants ADD COLUMN person TEXT;
    UPDATE grants SET person = principal;
    ALTER TABLE access_requests ADD COLUMN requester_person TEXT;
    UPDATE access_requests SET requester_person = requester;
    "#,
    // 9: rate limits as rings of N slots (see `super::counters`): a decision reads one ring row
    // and one slot whatever N is. The admitted times kept so far become rings of their own
    // size, re-laid for the configured limit by the next decision of each key.
    r#"
    CREATE TABLE quota_rings (
        key        TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        admitted   INTEGER NOT NULL,
        newest     INTEGER NOT NULL,
        keep_until INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX quota_rings_by_expiry ON quota_rings (keep_until);
    CREATE TABLE quota_slots (
        key  TEXT NOT NULL,
        slot INTEGER NOT NULL,
        at   INTEGER NOT NULL,
        PRIMARY KEY (key, slot)
    ) WITHOUT ROWID;
    CREATE TABLE quota_floor (
        id    INTEGER PRIMARY KEY CHECK (id = 0),
        floor INTEGER NOT NULL
    );
    INSERT INTO quota_floor (id, floor) VALUES (0, -9223372036854775808);
    INSERT INTO quota_rings (key, size, admitted, newest, keep_until)
        SELECT key, count(*), count(*), max(at), max(keep_until) + 300
        FROM quota_events GROUP BY key;
    INSERT INTO quota_slots (key, slot, at)
        SELECT key, row_number() OVER (PARTITION BY key ORDER BY at) - 1, at FROM quota_events;
    DROP TABLE quota_events;
    "#,
    // 10 (SWEEP_VERSION): the sweep's marks (a request's reminder and expiry notice, a grant's
    // expiry warning), each set once by a conditional update, and where each copy of a
    // request's approval message was posted. Requests that had expired before it are taken
    // as told, so an upgrade does not report old requests.
    r#"
    ALTER TABLE access_requests ADD COLUMN reminded_at INTEGER;
    ALTER TABLE access_requests ADD COLUMN expiry_told_at INTEGER;
    ALTER TABLE grants ADD COLUMN warned_at INTEGER;
    UPDATE access_requests SET expiry_told_at = expires_at
        WHERE state = 'open' AND expires_at <= CAST(strftime('%s', 'now') AS INTEGER);
    CREATE INDEX access_requests_undecided ON access_requests (state, expiry_told_at, expires_at);
    CREATE INDEX grants_by_expiry ON grants (expires_at);
    CREATE TABLE request_copies (
        request_id TEXT NOT NULL,
        copy       TEXT NOT NULL,
        PRIMARY KEY (request_id, copy)
    ) WITHOUT ROWID;
    "#,
    // 11 (TOOL_RULES_VERSION): tool rules (approvals a request needs, the break-glass length)
    // and the approvals of requests that need several (see `crate::domain::Approval`): one row
    // per approval, at most one per person, counted on the request so that a decision can be
    // conditioned on it.
    r#"
    ALTER TABLE tools ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE tools ADD COLUMN break_glass INTEGER;
    ALTER TABLE access_requests ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE access_requests ADD COLUMN approvals INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE request_approvals (
        request  TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        approver TEXT NOT NULL,
        person   TEXT NOT NULL,
        at       INTEGER NOT NULL,
        duration INTEGER NOT NULL,
        PRIMARY KEY (request, seq),
        UNIQUE (request, person)
    );
    "#,
    // 12 (BREAK_GLASS_VERSION): break-glass (see `crate::domain::BreakGlass`): who took which
    // tool when and why, and its review; looked up by person and tool for the one-per-period
    // rule.
    r#"
    CREATE TABLE break_glass (
        id            TEXT PRIMARY KEY,
        breaker       TEXT NOT NULL,
        person        TEXT NOT NULL,
        tool          TEXT NOT NULL,
        reason        TEXT NOT NULL,
        at            INTEGER NOT NULL,
        until         INTEGER NOT NULL,
        reviewed_by   TEXT,
        reviewed_at   INTEGER,
        review_ok     INTEGER,
        review_reason TEXT
    );
    CREATE INDEX break_glass_by_person ON break_glass (person, tool, at);
    "#,
    // 13 (REQUESTER_NAME_VERSION): the requester's display name as their platform gave it
    // (Teams), for approvers' cards. Requests made before it have none and show the requester's
    // id as before.
    r#"
    ALTER TABLE access_requests ADD COLUMN requester_name TEXT;
    "#,
    // 14: each approval's approver display name (Teams), for the count on approval cards.
    r#"
    ALTER TABLE request_approvals ADD COLUMN name TEXT;
    "#,
    // 15: the decider's display name (Teams), for what later clicks on a request are told.
    r#"
    ALTER TABLE access_requests ADD COLUMN decided_by_name TEXT;
    "#,
    // 16 (INLINE_RINGS_VERSION): a ring's slots as 8-byte big-endian times in blobs (see
    // `super::rings`): slots 0 to 63 in the ring's own row, the rest in rows of 64, so that a
    // decision at the default limits reads and writes one row per quota key. The sweep scans
    // the rings instead of keeping an index by expiry that every decision rewrote.
    r#"
    DROP INDEX quota_rings_by_expiry;
    ALTER TABLE quota_rings ADD COLUMN slots BLOB NOT NULL DEFAULT x'';
    UPDATE quota_rings SET slots = coalesce(
        (SELECT unhex(group_concat(printf('%016x', s.at), '' ORDER BY s.slot))
         FROM quota_slots AS s WHERE s.key = quota_rings.key AND s.slot < 64),
        x'');
    CREATE TABLE quota_chunks (
        key   TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        slots BLOB NOT NULL,
        PRIMARY KEY (key, chunk)
    ) WITHOUT ROWID;
    INSERT INTO quota_chunks (key, chunk, slots)
        SELECT key, slot / 64, unhex(group_concat(printf('%016x', at), '' ORDER BY slot))
        FROM quota_slots WHERE slot >= 64 GROUP BY key, slot / 64;
    DROP TABLE quota_slots;
    "#,
];

/// The schema version from which a ring's slots live in blobs (see `super::rings`).
#[cfg(test)]
pub(super) const INLINE_RINGS_VERSION: usize = 16;

/// The schema version that added the sweep's marks and the copies of approval messages.
pub const SWEEP_VERSION: usize = 10;

/// Creates `dir/otpbot.db` as an otpbot of schema `version` left it (its first `version`
/// migrations, nothing else), so that tests can write rows as an older version did and check
/// what the upgrade makes of them. Not for production use.
#[doc(hidden)]
pub fn create_at_schema_version(dir: &Path, version: usize) -> StoreResult<()> {
    let mut conn = Connection::open(dir.join(DB_FILE)).map_err(backend)?;
    migrate_to(&mut conn, version).map_err(backend)
}

/// The schema version from which access requests keep their requester's display name.
pub const REQUESTER_NAME_VERSION: usize = 13;

/// The schema version from which every audit log begins its chain with a chain-start record.
pub const CHAIN_START_VERSION: usize = 7;

/// The schema version from which tools carry their rules (approvals required, break-glass)
/// and requests their approvals.
pub const TOOL_RULES_VERSION: usize = 11;

/// The schema version from which break-glass records are stored.
pub const BREAK_GLASS_VERSION: usize = 12;

/// Applies every migration newer than the file's `user_version`, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Applies the migrations newer than the file's `user_version` up to schema `version`; an
/// older otpbot's file is made by stopping early (for upgrade tests).
pub fn migrate_to(conn: &mut Connection, version: usize) -> rusqlite::Result<()> {
    let current: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {current} is newer than this otpbot ({}); upgrade otpbot",
            MIGRATIONS.len()
        )));
    }
    let version = version.min(MIGRATIONS.len());
    for (index, sql) in MIGRATIONS.iter().enumerate().take(version).skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}
