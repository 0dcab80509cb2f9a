//! Replay markers in the access table (`pk = C#{key}`), each change a single
//! conditional write, so concurrent Lambda instances cannot both win or lose a count. The TTL
//! attribute lets DynamoDB clean up; reads check expiry themselves.

use async_trait::async_trait;

use super::handle::AwsStore;
use super::item::{n, s, ItemBuilder};
use super::key_layout::counter_pk;
use super::schema::{ACCESS_PK, ACCESS_SK, TTL_ATTRIBUTE};
use super::sdk_error::{is_conditional_failure, sdk};
use crate::domain::Timestamp;
use crate::store::{CounterStore, StoreResult};

impl AwsStore {
    /// Creates the counter at 1 unless a live one exists; `false` if one does.
    async fn create_counter(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let item = ItemBuilder::default()
            .set(ACCESS_PK, s(counter_pk(key)))
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
}
