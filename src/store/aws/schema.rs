//! The AWS backend's tables: key attributes, index names, the TTL attribute, and the table
//! definitions `otpbot aws create-tables` creates. `terraform/dynamodb.tf` must declare exactly
//! these: tests compare them (`tests/terraform.rs`), and the AWS tests create their emulator
//! tables from the Terraform definitions.

use aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::sdk_error::{describe, sdk};
use crate::store::StoreError;

/// Access table partition key: `P#{principal}`, `TOOLS`, or `C#{counter}`.
pub const ACCESS_PK: &str = "pk";
/// Access table sort key: `G#{tool}`, `R#{role}`, `T#{tool}`, or `C`.
pub const ACCESS_SK: &str = "sk";
/// Index of grants by tool (`gsi1pk = T#{tool}`, `gsi1sk = P#{principal}`), and of role holders
/// by role (`gsi1pk = R#admin` or `R#approver:{tool}`, `gsi1sk = P#{principal}`).
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

/// A global secondary index: its keys (strings) and an `ALL` projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    /// Index name.
    pub name: &'static str,
    /// Partition key attribute.
    pub hash_key: &'static str,
    /// Sort key attribute.
    pub range_key: &'static str,
}

/// A table's key schema: the one definition `otpbot aws create-tables` creates and the test
/// against `terraform/dynamodb.tf` compares. Every key attribute is a string (`S`); billing is
/// on demand (`PAY_PER_REQUEST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    /// The Terraform resource name in `terraform/dynamodb.tf`.
    pub resource: &'static str,
    /// Partition key attribute.
    pub hash_key: &'static str,
    /// Sort key attribute.
    pub range_key: &'static str,
    /// Every key attribute of the table and its indexes, in declaration order.
    pub attributes: &'static [&'static str],
    /// Global secondary indexes.
    pub indexes: &'static [Index],
    /// The TTL attribute, if items expire.
    pub ttl_attribute: Option<&'static str>,
}

/// The access table.
pub const ACCESS_TABLE: TableSchema = TableSchema {
    resource: "access",
    hash_key: ACCESS_PK,
    range_key: ACCESS_SK,
    attributes: &[ACCESS_PK, ACCESS_SK, GSI1_PK, GSI1_SK],
    indexes: &[Index {
        name: GRANTS_BY_TOOL,
        hash_key: GSI1_PK,
        range_key: GSI1_SK,
    }],
    ttl_attribute: Some(TTL_ATTRIBUTE),
};

/// The audit table. Its records never expire.
pub const AUDIT_TABLE: TableSchema = TableSchema {
    resource: "audit",
    hash_key: AUDIT_PK,
    range_key: AUDIT_SK,
    attributes: &[AUDIT_PK, AUDIT_SK, "tool", "actor"],
    indexes: &[
        Index {
            name: AUDIT_BY_TOOL,
            hash_key: "tool",
            range_key: AUDIT_SK,
        },
        Index {
            name: AUDIT_BY_ACTOR,
            hash_key: "actor",
            range_key: AUDIT_SK,
        },
    ],
    ttl_attribute: None,
};

/// What [`create_table`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The table was created (and its TTL turned on).
    Created,
    /// A table of that name was already there; it was left as it is.
    AlreadyExists,
}

/// Creates `name` with `schema`: keys, string attributes, indexes, on-demand billing, then the
/// TTL once the table is active. Encryption under the deployment's KMS key, point-in-time
/// recovery and deletion protection are the deployment's, set by Terraform.
///
/// Request fields follow the DynamoDB API reference for `CreateTable` (`KeySchema`,
/// `AttributeDefinitions`, `GlobalSecondaryIndexes`, `BillingMode`) and `UpdateTimeToLive`
/// (`TimeToLiveSpecification`); an existing table answers `ResourceInUseException`.
pub async fn create_table(
    ddb: &aws_sdk_dynamodb::Client,
    schema: &TableSchema,
    name: &str,
) -> Result<Created, StoreError> {
    use aws_sdk_dynamodb::client::Waiters;
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;

    match create_request(ddb, schema, name)?.send().await {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceInUseException") => return Ok(Created::AlreadyExists),
        Err(e) => return Err(sdk(&format!("create table {name}"), e)),
    }
    ddb.wait_until_table_exists()
        .table_name(name)
        .wait(std::time::Duration::from_secs(120))
        .await
        .map_err(|e| {
            StoreError::Backend(format!(
                "table {name} did not become active: {}",
                describe(&e)
            ))
        })?;
    if let Some(attribute) = schema.ttl_attribute {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| built("TTL", e))?;
        ddb.update_time_to_live()
            .table_name(name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| sdk(&format!("turn on TTL of {name}"), e))?;
    }
    Ok(Created::Created)
}

/// The `CreateTable` request of `name` with `schema`, on-demand.
fn create_request(
    ddb: &aws_sdk_dynamodb::Client,
    schema: &TableSchema,
    name: &str,
) -> Result<CreateTableFluentBuilder, StoreError> {
    let mut request = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(schema.hash_key, KeyType::Hash)?)
        .key_schema(key(schema.range_key, KeyType::Range)?);
    for attribute in schema.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(*attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| built("attribute", e))?,
        );
    }
    for index in schema.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.hash_key, KeyType::Hash)?)
                .key_schema(key(index.range_key, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| built("index", e))?,
        );
    }
    Ok(request)
}

/// A key schema element: `attribute` as the hash or the range key.
fn key(attribute: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(attribute)
        .key_type(kind)
        .build()
        .map_err(|e| built("key schema", e))
}

fn built(what: &str, e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("{what}: {e}"))
}

/// The audit table partition of seals (`id` = the sealed period's start, 11-digit Unix
/// seconds). Seal items carry no `tool` or `actor`, so the indexes never show them.
pub const SEAL_STREAM: &str = "seals";
