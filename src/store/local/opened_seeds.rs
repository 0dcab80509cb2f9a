//! The seeds the writer opened for whole codes (see `whole_code.rs`), kept so that a code does
//! not decrypt its seed and parse its URI every time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};

use super::crypto::MasterKey;
use super::sql::backend;
use crate::domain::{Seed, Timestamp, ToolName, TotpIssue};
use crate::store::StoreResult;

/// Seeds the writer opened, each kept with the ciphertext it was opened from: a seed is used
/// again only while the stored ciphertext is the same bytes (a new one, from this process or
/// another, is opened afresh) and for `keep` at most. Only the writer's jobs use it,
/// so its lock is never waited for. A seed is wiped from memory when it leaves the map.
pub(super) struct OpenedSeeds {
    key: Arc<MasterKey>,
    keep: Duration,
    opened: Mutex<HashMap<String, Opened>>,
}

struct Opened {
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    at: Instant,
    seed: Seed,
}

impl OpenedSeeds {
    /// Opens seeds with `key` and keeps each for `keep` (zero: opens every seed anew).
    pub(super) fn new(key: Arc<MasterKey>, keep: Duration) -> Self {
        Self {
            key,
            keep,
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// The code of `tool` at `now` from its seed as stored now; `None` if it has none.
    // Never inlined, so that a profile names the seed's part of a code (`benches/code_profile.rs`).
    #[inline(never)]
    pub(super) fn issue(
        &self,
        conn: &Connection,
        tool: &ToolName,
        now: Timestamp,
    ) -> StoreResult<Option<TotpIssue>> {
        let mut stmt = conn
            .prepare_cached("SELECT nonce, ciphertext FROM seeds WHERE tool = ?1")
            .map_err(backend)?;
        let row = stmt
            .query_row([tool.as_str()], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()
            .map_err(backend)?;
        let mut opened = self
            .opened
            .lock()
            .map_err(|_| backend("opened seeds lock poisoned"))?;
        let Some((nonce, ciphertext)) = row else {
            opened.remove(tool.as_str());
            return Ok(None);
        };
        if let Some(o) = opened.get(tool.as_str()) {
            if o.nonce == nonce && o.ciphertext == ciphertext && o.at.elapsed() < self.keep {
                return Ok(Some(o.seed.issue(now)));
            }
        }
        let seed = self.key.open(tool, &nonce, &ciphertext)?;
        let issue = seed.issue(now);
        if self.keep.is_zero() {
            opened.remove(tool.as_str());
        } else {
            let entry = Opened {
                nonce,
                ciphertext,
                at: Instant::now(),
                seed,
            };
            opened.insert(tool.as_str().to_owned(), entry);
        }
        Ok(Some(issue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::random_key;

    /// A connection with one sealed seed for `github`.
    fn sealed(key: &MasterKey) -> (Connection, ToolName) {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE seeds (tool TEXT PRIMARY KEY, nonce BLOB, ciphertext BLOB)",
        )
        .expect("table");
        let tool = ToolName::parse("github").expect("tool");
        let seed = Seed::parse("JBSWY3DPEHPK3PXP").expect("seed");
        let (nonce, ciphertext) = key.seal(&tool, &seed).expect("seal");
        conn.execute(
            "INSERT INTO seeds VALUES ('github', ?1, ?2)",
            rusqlite::params![nonce, ciphertext],
        )
        .expect("insert");
        (conn, tool)
    }

    /// `OTPBOT_SEED_CACHE_SECS=0` keeps no decrypted seed in memory; any other value keeps one.
    #[test]
    fn a_zero_keep_leaves_no_seed_in_memory() {
        let key = Arc::new(MasterKey::new(random_key()));
        let (conn, tool) = sealed(&key);
        let now = Timestamp::from_unix(1_000);
        for (keep, kept) in [(Duration::ZERO, 0), (Duration::from_secs(60), 1)] {
            let seeds = OpenedSeeds::new(Arc::clone(&key), keep);
            assert!(seeds.issue(&conn, &tool, now).expect("issue").is_some());
            let held = seeds.opened.lock().expect("lock").len();
            assert_eq!(held, kept, "seeds held with keep {keep:?}");
        }
    }
}
