//! Replay and rate-limit counters in the access table (`pk = C#{key}`), each change a single
//! conditional write, so concurrent Lambda instances cannot both win or lose a count. The TTL
//! attribute lets DynamoDB clean up; reads check expiry themselves.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::access::is_conditional_failure;
use super::item::{get_n, n, s, ItemBuilder};
use super::schema::{ACCESS_PK, ACCESS_SK, TTL_ATTRIBUTE};
use super::{sdk, AwsStore};
use crate::domain::Timestamp;
use crate::store::{CounterStore, StoreResult};

fn pk(key: &str) -> String {
    format!("C#{key}")
}

impl AwsStore {
    /// Creates the counter at 1 unless a live one exists; `false` if one does.
    async fn create_counter(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let item = ItemBuilder::default()
            .set(ACCESS_PK, s(pk(key)))
            .set(ACCESS_SK, s("C"))
            .set("value", n(1))
            .set(TTL_ATTRIBUTE, n(expires_at.unix()))
            .build();
        let result = self
            .ddb
            .put_item()
            .table_name(&self.settings.access_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .expression_attribute_names("#pk", ACCESS_PK)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now.unix()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk("create counter", e)),
        }
    }
}

#[async_trait]
impl CounterStore for AwsStore {
    async fn first_sighting(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.create_counter(key, expires_at, now).await
    }

    async fn increment(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<u64> {
        // Either add to a live counter or create a fresh one; a lost race on one path means the
        // other one now applies, so a few rounds always settle.
        for _ in 0..5 {
            let result = self
                .ddb
                .update_item()
                .table_name(&self.settings.access_table)
                .key(ACCESS_PK, s(pk(key)))
                .key(ACCESS_SK, s("C"))
                .update_expression("ADD #v :one")
                .condition_expression("attribute_exists(#pk) AND #exp > :now")
                .expression_attribute_names("#v", "value")
                .expression_attribute_names("#pk", ACCESS_PK)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now.unix()))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match result {
                Ok(out) => {
                    let attributes = out.attributes.unwrap_or_default();
                    return Ok(get_n(&attributes, "value")?.max(0) as u64);
                }
                Err(e) if is_conditional_failure(&e) => {
                    if self.create_counter(key, expires_at, now).await? {
                        return Ok(1);
                    }
                }
                Err(e) => return Err(sdk("increment counter", e)),
            }
        }
        Err(crate::store::StoreError::Backend(format!(
            "counter {key} kept changing under contention"
        )))
    }

    async fn count(&self, key: &str, now: Timestamp) -> StoreResult<u64> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.settings.access_table)
            .key(ACCESS_PK, s(pk(key)))
            .key(ACCESS_SK, s("C"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk("read counter", e))?;
        let Some(item) = out.item else { return Ok(0) };
        if get_n(&item, TTL_ATTRIBUTE)? <= now.unix() {
            return Ok(0);
        }
        Ok(get_n(&item, "value")?.max(0) as u64)
    }
}
