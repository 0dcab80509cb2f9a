//! Deployment secrets on the local store (`otpbot secret set` without AWS): the Slack signing
//! secret, bot and app tokens, the Teams client secret, encrypted under the master key as
//! seeds are, each written in one transaction with its audit record.

use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::audit_rows::insert_event;
use super::handle::LocalStore;
use super::sql::backend;
use crate::domain::AuditEvent;
use crate::store::StoreResult;

impl LocalStore {
    /// Stores `value` as the secret `name`, replacing any before, with `record` in the same
    /// transaction: neither is kept without the other.
    pub async fn put_secret(
        &self,
        name: &str,
        value: &str,
        record: &AuditEvent,
    ) -> StoreResult<()> {
        let (nonce, ciphertext) = self.key.seal_secret(name, value)?;
        let (name, record) = (name.to_owned(), record.clone());
        self.write(move |conn| {
            insert_event(conn, &record)?;
            conn.prepare_cached(
                "INSERT OR REPLACE INTO secrets (name, nonce, ciphertext) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![name, nonce, ciphertext]))
            .map_err(backend)?;
            Ok(((), true))
        })
        .await
    }

    /// The secret `name`, decrypted; `None` when it was never set.
    pub async fn secret(&self, name: &str) -> StoreResult<Option<Zeroizing<String>>> {
        let key = self.key.clone();
        let name = name.to_owned();
        self.read(move |conn| {
            let row: Option<(Vec<u8>, Vec<u8>)> = conn
                .prepare_cached("SELECT nonce, ciphertext FROM secrets WHERE name = ?1")
                .and_then(|mut s| {
                    s.query_row([&name], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(backend)?;
            row.map(|(nonce, ciphertext)| key.open_secret(&name, &nonce, &ciphertext))
                .transpose()
        })
        .await
    }
}
