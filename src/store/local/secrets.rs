//! Seeds in SQLite ([`SecretStore`]), encrypted under the master key before they reach the
//! writer (see [`super::crypto`]).

use async_trait::async_trait;
use rusqlite::OptionalExtension;

use super::access_rows::write_seed;
use super::handle::LocalStore;
use super::sql::backend;
use crate::domain::{Seed, ToolName};
use crate::store::{SecretStore, StoreResult};

#[async_trait]
impl SecretStore for LocalStore {
    async fn put_seed(&self, tool: &ToolName, seed: &Seed) -> StoreResult<()> {
        let (nonce, ciphertext) = self.key.seal(tool, seed)?;
        let name = tool.as_str().to_owned();
        self.write(move |c| {
            write_seed(c, &name, &nonce, &ciphertext)?;
            Ok(((), true))
        })
        .await
    }

    async fn seed(&self, tool: &ToolName) -> StoreResult<Option<Seed>> {
        let name = tool.as_str().to_owned();
        let row = self
            .read_point(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT nonce, ciphertext FROM seeds WHERE tool = ?1")
                    .map_err(backend)?;
                stmt.query_row([name], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()
                .map_err(backend)
            })
            .await?;
        row.map(|(nonce, ciphertext)| self.key.open(tool, &nonce, &ciphertext))
            .transpose()
    }

    async fn delete_seed(&self, tool: &ToolName) -> StoreResult<bool> {
        let name = tool.as_str().to_owned();
        self.write(move |c| {
            let n = c
                .prepare_cached("DELETE FROM seeds WHERE tool = ?1")
                .and_then(|mut s| s.execute([name]))
                .map_err(backend)?;
            Ok((n > 0, true))
        })
        .await
    }
}
