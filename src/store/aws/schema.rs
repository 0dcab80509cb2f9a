//! The names the AWS backend relies on: key attributes, index names and the TTL attribute.
//! `terraform/dynamodb.tf` must use exactly these: a test compares them, and the AWS tests
//! create their emulator tables from the Terraform definitions.

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
/// The audit table partition of seals (`id` = the sealed period's start, 11-digit Unix
/// seconds). Seal items carry no `tool` or `actor`, so the indexes never show them.
pub const SEAL_STREAM: &str = "seals";
