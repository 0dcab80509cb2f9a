//! What a decision reads in DynamoDB before and after its transaction, each time in one
//! consistent `BatchGetItem`: the catalog entry (unless cached), grant and rate-limit logs it
//! starts from, the logs again when they changed under it, and why a grant check failed.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::access_items::{grant_from, pinned_tool_from};
use super::handle::AwsStore;
use super::item::{get_n, key_of, s, Item};
use super::key_layout::{principal_pk, quota_pk, TOOLS_PK};
use super::schema::{ACCESS_PK, ACCESS_SK};
use super::sdk_error::{built, sdk};
use crate::domain::{Principal, Quota, QuotaLog, ToolName};
use crate::store::{DecisionView, StoreError, StoreResult, Verdict};

/// Attempts before a decision that keeps meeting concurrent writers gives up.
pub(super) const ATTEMPTS: usize = 64;

fn log_from(item: Option<&Item>) -> StoreResult<QuotaLog> {
    let Some(item) = item else {
        return Ok(QuotaLog::default());
    };
    let times = match item.get("times") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .filter_map(|v| v.as_n().ok()?.parse().ok())
            .collect(),
        _ => Vec::new(),
    };
    Ok(QuotaLog {
        times,
        version: get_n(item, "ver")?,
        nth_newest: None,
    })
}

impl AwsStore {
    /// `BatchGetItem` of `keys` on the access table, following `UnprocessedKeys`.
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        if keys.is_empty() {
            return Ok(found);
        }
        let table = self.settings.access_table.clone();
        let mut request = built(
            "batch keys",
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build(),
        )?;
        for _ in 0..ATTEMPTS {
            let out = self
                .ddb
                .batch_get_item()
                .request_items(&table, request)
                .send()
                .await
                .map_err(|e| sdk("batch get", e))?;
            if let Some(items) = out.responses.as_ref().and_then(|r| r.get(&table)) {
                found.extend(items.iter().cloned());
            }
            match out.unprocessed_keys.and_then(|mut u| u.remove(&table)) {
                Some(rest) if !rest.keys.is_empty() => request = rest,
                _ => return Ok(found),
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Err(StoreError::Backend(
            "batch get kept leaving keys unprocessed".into(),
        ))
    }

    /// The logs of `quotas`, in order.
    pub(super) async fn logs(&self, quotas: &[Quota]) -> StoreResult<Vec<QuotaLog>> {
        let keys = quotas
            .iter()
            .map(|q| key_of(quota_pk(&q.key), "Q"))
            .collect();
        let items = self.batch_get(keys).await?;
        quotas
            .iter()
            .map(|q| {
                let pk = quota_pk(&q.key);
                log_from(items.iter().find(|i| i.get(ACCESS_PK) == Some(&s(&pk))))
            })
            .collect()
    }

    /// Why the grant check failed: gone, or expired.
    pub(super) async fn grant_refusal(
        &self,
        principal: &Principal,
        tool: &ToolName,
    ) -> StoreResult<Verdict> {
        let items = self
            .batch_get(vec![key_of(principal_pk(principal), &format!("G#{tool}"))])
            .await?;
        Ok(match items.first().map(grant_from).transpose()? {
            Some(g) => Verdict::Expired(g.expires_at),
            None => Verdict::NoGrant,
        })
    }

    /// What a decision needs to read first (see [`crate::store::DecisionStore::view`]), in one
    /// `BatchGetItem`.
    pub(super) async fn read_view(
        &self,
        principal: &Principal,
        tool: Option<&ToolName>,
        quotas: &[Quota],
    ) -> StoreResult<DecisionView> {
        let mut keys: Vec<Item> = quotas
            .iter()
            .map(|q| key_of(quota_pk(&q.key), "Q"))
            .collect();
        let grant_pk = principal_pk(principal);
        if let Some(tool) = tool {
            keys.push(key_of(grant_pk.clone(), &format!("G#{tool}")));
        }
        // The catalog entry, read in the same round trip unless it is cached.
        let cached = tool.and_then(|t| self.cached_tool(t));
        if let (Some(tool), None) = (tool, &cached) {
            keys.push(key_of(TOOLS_PK.into(), &format!("T#{tool}")));
        }
        let items = self.batch_get(keys).await?;
        let find = |pk: &str, sk: &str| {
            items
                .iter()
                .find(|i| i.get(ACCESS_PK) == Some(&s(pk)) && i.get(ACCESS_SK) == Some(&s(sk)))
        };
        let grant = match tool {
            Some(tool) => find(&grant_pk, &format!("G#{tool}"))
                .map(grant_from)
                .transpose()?,
            None => None,
        };
        let entry = match (tool, cached) {
            (Some(_), Some(entry)) => entry,
            (Some(tool), None) => {
                let entry = find(TOOLS_PK, &format!("T#{tool}"))
                    .map(pinned_tool_from)
                    .transpose()?;
                self.cache_tool(tool, entry.clone());
                entry
            }
            (None, _) => None,
        };
        let logs = quotas
            .iter()
            .map(|q| log_from(find(&quota_pk(&q.key), "Q")))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(DecisionView {
            tool: entry.map(|(tool, _)| tool),
            grant,
            logs,
        })
    }
}
