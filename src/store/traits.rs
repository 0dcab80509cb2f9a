//! One small trait per storage role that reads: the tool catalog, grants and roles; seeds; the
//! audit log; lone replay markers. Every write of access state goes through
//! [`super::decision::DecisionStore`].

use async_trait::async_trait;

use super::error::StoreResult;
use crate::audit::record::Position;
use crate::domain::{
    AccessRequest, AccessRequestId, AuditEvent, AuditQuery, BreakGlass, EventId, Grant, Principal,
    Roles, Seed, Timestamp, Tool, ToolName,
};

/// Reads of the tool catalog, grants and roles. Every write goes through
/// [`DecisionStore`](super::DecisionStore).
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// One tool by name.
    async fn tool(&self, name: &ToolName) -> StoreResult<Option<Tool>>;
    /// All tools, by name.
    async fn tools(&self) -> StoreResult<Vec<Tool>>;
    /// The grant of `principal` for `tool`, expired or not.
    async fn grant(&self, principal: &Principal, tool: &ToolName) -> StoreResult<Option<Grant>>;
    /// All grants of `principal`, expired or not, by tool.
    async fn grants_for(&self, principal: &Principal) -> StoreResult<Vec<Grant>>;
    /// All grants for `tool`, expired or not, by principal.
    async fn holders(&self, tool: &ToolName) -> StoreResult<Vec<Grant>>;
    /// The stored roles of `principal` (bootstrap admins from settings are added by the core).
    async fn roles(&self, principal: &Principal) -> StoreResult<Roles>;
    /// Whether `principal` holds the per-tool approver role for `tool`.
    async fn is_approver(&self, principal: &Principal, tool: &ToolName) -> StoreResult<bool>;
    /// Who the store says may decide requests for `tool`: stored admins and the tool's
    /// approvers, each once, by principal (bootstrap admins from settings are added by the core).
    async fn approvers(&self, tool: &ToolName) -> StoreResult<Vec<Principal>>;
    /// One access request by id, decided or not.
    async fn access_request(&self, id: &AccessRequestId) -> StoreResult<Option<AccessRequest>>;
    /// One break-glass by id, reviewed or not.
    async fn break_glass(&self, id: &AccessRequestId) -> StoreResult<Option<BreakGlass>>;
}

/// TOTP seeds, encrypted at rest by the backend.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores or replaces the seed of `tool` on its own, unrecorded: for stores without a
    /// catalog entry for `tool` (tests, repair). Enrolling or replacing the seed of a tool goes
    /// through [`Change::PutTool`](super::Change::PutTool), which records it; on AWS the catalog entry it writes pins
    /// the SSM parameter version codes come from, so this call does not change them.
    async fn put_seed(&self, tool: &ToolName, seed: &Seed) -> StoreResult<()>;
    /// The seed of `tool`.
    async fn seed(&self, tool: &ToolName) -> StoreResult<Option<Seed>>;
    /// Deletes the seed of `tool`; `false` if there was none.
    async fn delete_seed(&self, tool: &ToolName) -> StoreResult<bool>;
}

/// One page of audit events, newest first.
#[derive(Debug, Default)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// Pass as [`AuditQuery::before_id`] to get the next page; `None` at the end.
    pub next: Option<EventId>,
    /// Where each event sits in the log, in the order of `events`, from a backend that links
    /// records one by one (the local store); empty from one that seals periods (AWS).
    pub positions: Vec<Position>,
}

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Durably appends one event on its own; returns only once it is stored. Never overwrites.
    async fn append(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Events matching `query`, newest first, at most `query.limit` of them.
    async fn query(&self, query: &AuditQuery) -> StoreResult<AuditPage>;
}

/// A lone replay marker.
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Records `key` until `expires_at`. `true` the first time; `false` while an unexpired record
    /// exists (a replay).
    async fn first_sighting(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool>;
}
