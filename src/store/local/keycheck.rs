//! The keys a store was created with, remembered by a check value so that a lost or swapped
//! key is refused at start-up instead of silently making every seed undecryptable or every
//! code look "not issued".
//!
//! A check value is `hex(HMAC-SHA256(key, "otpbot key check v1" || 0 || name))`: it tells
//! whether a key is the one recorded, and reveals nothing that helps recover it. The first open
//! with a key records its value; every later open compares (in constant time).

use hmac::Mac;
use rusqlite::{Connection, OptionalExtension};
use secrecy::ExposeSecret;

use super::sql::backend;
use crate::keys::{HmacSha256, KeyBytes};
use crate::store::{StoreError, StoreResult};

/// Which key: the master key (seed encryption) or the audit key (code MACs, chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// Encrypts enrolled seeds.
    Master,
    /// MACs issued codes and links the audit chain.
    Audit,
}

impl KeyRole {
    fn name(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Audit => "audit",
        }
    }
}

fn check_mac(role: KeyRole, key: &KeyBytes) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key.expose_secret()).expect("HMAC takes any key");
    mac.update(b"otpbot key check v1\0");
    mac.update(role.name().as_bytes());
    mac
}

/// Whether the store already holds data protected by a key in `role`.
fn holds_data(conn: &Connection, role: KeyRole) -> rusqlite::Result<bool> {
    let sql = match role {
        KeyRole::Master => "SELECT EXISTS (SELECT 1 FROM seeds)",
        KeyRole::Audit => "SELECT EXISTS (SELECT 1 FROM audit WHERE chain IS NOT NULL)",
    };
    conn.query_row(sql, [], |row| row.get(0))
}

/// Compares `key` with the recorded check value of `role`, recording it on first use.
/// `first_use_ok` says whether a store without a recorded value but with data may adopt this
/// key (it may when the data can vouch for it, e.g. a seed that decrypts).
pub(super) fn confirm(
    conn: &Connection,
    role: KeyRole,
    key: &KeyBytes,
    first_use_ok: impl FnOnce(&Connection) -> StoreResult<bool>,
) -> StoreResult<()> {
    let recorded: Option<String> = conn
        .query_row(
            "SELECT check_value FROM key_checks WHERE role = ?1",
            [role.name()],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    match recorded {
        // `verify_slice` compares in constant time.
        Some(recorded) => match hex::decode(recorded) {
            Ok(tag) if check_mac(role, key).verify_slice(&tag).is_ok() => Ok(()),
            _ => Err(StoreError::WrongKey(role.name())),
        },
        None => {
            if holds_data(conn, role).map_err(backend)? && !first_use_ok(conn)? {
                return Err(StoreError::WrongKey(role.name()));
            }
            conn.execute(
                "INSERT INTO key_checks (role, check_value) VALUES (?1, ?2)",
                [
                    role.name(),
                    &hex::encode(check_mac(role, key).finalize().into_bytes()),
                ],
            )
            .map_err(backend)?;
            Ok(())
        }
    }
}
