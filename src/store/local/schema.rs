//! Schema migrations, tracked with `PRAGMA user_version`. Append only: never edit a released step.

use rusqlite::Connection;

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
];

/// The schema version from which every audit log begins its chain with a chain-start record.
pub const CHAIN_START_VERSION: usize = 7;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Admissions kept by a store from before the rings still count after the upgrade.
    #[test]
    fn admitted_times_survive_the_move_to_rings() {
        let mut conn = Connection::open_in_memory().expect("db");
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.pragma_update(None, "user_version", 5)
            .expect("version");
        for at in [1_000, 1_010, 1_020] {
            conn.execute(
                "INSERT INTO quota_events (key, at, keep_until) VALUES ('tool:k', ?1, ?1 + 60)",
                [at],
            )
            .expect("old admission");
        }
        migrate(&mut conn).expect("upgrade");
        let quota = crate::domain::Quota {
            key: "tool:k".into(),
            limit: crate::domain::RateLimit {
                limit: 3,
                window_secs: 60,
            },
        };
        let at = crate::domain::Timestamp::from_unix;
        assert!(
            !super::super::counters::take(&conn, &quota, at(1_059)).expect("take"),
            "three admissions from before the upgrade fill a limit of 3"
        );
        assert!(super::super::counters::take(&conn, &quota, at(1_060)).expect("take"));
        let smaller = crate::domain::Quota {
            limit: crate::domain::RateLimit {
                limit: 2,
                window_secs: 60,
            },
            ..quota
        };
        assert!(
            !super::super::counters::take(&conn, &smaller, at(1_061)).expect("take"),
            "1,020 and 1,060 still count against a limit of 2"
        );
    }
}
