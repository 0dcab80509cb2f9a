//! The names the AWS backend relies on: key attributes, index names and the TTL attribute.
//! Infrastructure definitions must use exactly these; tests create emulator tables from them.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::AwsSettings;
use crate::store::StoreError;

/// Access table partition key: `P#{principal}`, `TOOLS`, or `C#{counter}`.
pub const ACCESS_PK: &str = "pk";
/// Access table sort key: `G#{tool}`, `R#{role}`, `T#{tool}`, or `C`.
pub const ACCESS_SK: &str = "sk";
/// Index of grants by tool (`gsi1pk = T#{tool}`, `gsi1sk = P#{principal}`).
pub const GRANTS_BY_TOOL: &str = "grants-by-tool";
/// Partition key of [`GRANTS_BY_TOOL`].
pub const GSI1_PK: &str = "gsi1pk";
/// Sort key of [`GRANTS_BY_TOOL`].
pub const GSI1_SK: &str = "gsi1sk";
/// The TTL attribute (Unix seconds) of grants and counters. DynamoDB deletes late, so every
/// read checks it too.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Audit table partition key: the constant [`AUDIT_STREAM`].
pub const AUDIT_PK: &str = "stream";
/// Audit table sort key: the event id, which sorts by time.
pub const AUDIT_SK: &str = "id";
/// The single audit partition. Audit volume is bounded by people typing commands; one partition
/// takes 1,000 writes per second.
pub const AUDIT_STREAM: &str = "events";
/// Index of audit events by tool (`tool`, `id`).
pub const AUDIT_BY_TOOL: &str = "by-tool";
/// Index of audit events by actor (`actor`, `id`).
pub const AUDIT_BY_ACTOR: &str = "by-actor";

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_err)
}

fn attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_err)
}

fn index(name: &str, pk: &str, sk: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key(sk, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_err)
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("building a table definition: {e}"))
}

/// Creates both tables as the backend expects them (for emulators and first-time set-up).
pub async fn create_tables(client: &Client, settings: &AwsSettings) -> Result<(), StoreError> {
    let fail = |e| super::sdk("create table", e);
    client
        .create_table()
        .table_name(&settings.access_table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(ACCESS_PK, KeyType::Hash)?)
        .key_schema(key(ACCESS_SK, KeyType::Range)?)
        .attribute_definitions(attr(ACCESS_PK)?)
        .attribute_definitions(attr(ACCESS_SK)?)
        .attribute_definitions(attr(GSI1_PK)?)
        .attribute_definitions(attr(GSI1_SK)?)
        .global_secondary_indexes(index(GRANTS_BY_TOOL, GSI1_PK, GSI1_SK)?)
        .send()
        .await
        .map_err(fail)?;
    client
        .update_time_to_live()
        .table_name(&settings.access_table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .map_err(build_err)?,
        )
        .send()
        .await
        .map_err(|e| super::sdk("enable TTL", e))?;
    client
        .create_table()
        .table_name(&settings.audit_table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(AUDIT_PK, KeyType::Hash)?)
        .key_schema(key(AUDIT_SK, KeyType::Range)?)
        .attribute_definitions(attr(AUDIT_PK)?)
        .attribute_definitions(attr(AUDIT_SK)?)
        .attribute_definitions(attr("tool")?)
        .attribute_definitions(attr("actor")?)
        .global_secondary_indexes(index(AUDIT_BY_TOOL, "tool", AUDIT_SK)?)
        .global_secondary_indexes(index(AUDIT_BY_ACTOR, "actor", AUDIT_SK)?)
        .send()
        .await
        .map_err(fail)?;
    Ok(())
}
