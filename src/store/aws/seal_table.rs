//! The seals in the audit table's own partition ([`SEAL_STREAM`]): each period's seal, with its
//! checkpoint, recorded once (a conditional put), and read back newest or all.

use super::audit_table::{sort_key, Walk};
use super::handle::AwsStore;
use super::item::{get_s, opt_s, s, Item, ItemBuilder};
use super::schema::{AUDIT_PK, AUDIT_SK, SEAL_STREAM};
use super::sdk_error::{is_conditional_failure, sdk};
use crate::audit::checkpoint::Checkpoint;
use crate::audit::seal_format::Seal;
use crate::store::{StoreError, StoreResult};

/// A seal read back from its item.
pub(super) fn seal_from(item: &Item) -> StoreResult<Seal> {
    let value: serde_json::Value = serde_json::from_str(get_s(item, "seal")?)
        .map_err(|_| StoreError::Corrupt("a seal item is not JSON".into()))?;
    Seal::from_json(&value).map_err(|why| StoreError::Corrupt(format!("a seal item: {why}")))
}

impl AwsStore {
    /// Every seal recorded in the table, oldest first.
    pub(super) async fn stored_seals(&self) -> StoreResult<Vec<Seal>> {
        self.walk(Walk {
            stream: SEAL_STREAM,
            low: "0".into(),
            high: "~".into(),
            forward: true,
            limit: None,
        })
        .await?
        .iter()
        .map(seal_from)
        .collect()
    }

    /// The newest seal item in the table.
    async fn latest_seal_item(&self) -> StoreResult<Option<Item>> {
        let items = self
            .walk(Walk {
                stream: SEAL_STREAM,
                low: "0".into(),
                high: "~".into(),
                forward: false,
                limit: Some(1),
            })
            .await?;
        Ok(items.into_iter().next())
    }

    /// The newest seal recorded in the table.
    pub(super) async fn latest_seal(&self) -> StoreResult<Option<Seal>> {
        self.latest_seal_item()
            .await?
            .as_ref()
            .map(seal_from)
            .transpose()
    }

    /// The checkpoint of the newest seal recorded in the table: the log's latest signed head
    /// (`None` before the first seal, or if the deployment signs none).
    pub async fn latest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        let Some(item) = self.latest_seal_item().await? else {
            return Ok(None);
        };
        Ok(opt_s(&item, "checkpoint")
            .and_then(|text| serde_json::from_str(&text).ok())
            .and_then(|v| Checkpoint::from_json(&v)))
    }

    /// Records `seal` (with its checkpoint) in the table unless a seal of that period is there
    /// already; returns the seal that stands.
    pub(super) async fn put_seal_item(
        &self,
        seal: Seal,
        checkpoint: Option<&Checkpoint>,
    ) -> StoreResult<Seal> {
        let item = ItemBuilder::default()
            .set(AUDIT_PK, s(SEAL_STREAM))
            .set(AUDIT_SK, s(sort_key(seal.start)))
            .set("seal", s(seal.to_json().to_string()))
            .opt(
                "checkpoint",
                checkpoint.map(|c| c.to_json().to_string()).as_deref(),
            )
            .build();
        let result = self
            .ddb
            .put_item()
            .table_name(&self.settings.audit_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#sk)")
            .expression_attribute_names("#sk", AUDIT_SK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(seal),
            Err(e) if is_conditional_failure(&e) => {
                // An overlapping run sealed this period first; its seal stands.
                let stored = self.stored_seals().await?;
                stored
                    .into_iter()
                    .find(|s| s.start == seal.start)
                    .ok_or_else(|| StoreError::Backend("seal vanished after a conflict".into()))
            }
            Err(e) => Err(sdk("record seal", e)),
        }
    }
}
