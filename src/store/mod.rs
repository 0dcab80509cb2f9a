//! Storage behind small traits, one per role, so the core never knows which backend it runs on.
//!
//! - [`AccessStore`]: the tool catalog, grants and roles.
//! - [`SecretStore`]: TOTP seeds. Read only after authorization.
//! - [`AuditStore`]: the append-only audit log.
//! - [`CounterStore`]: short-lived counters for replay refusal and rate limits.
//!
//! Backends: [`local`] (one SQLite file) and [`aws`] (DynamoDB + SSM Parameter Store). Each backend passes the conformance suite in
//! `tests/store_conformance.rs`. No backend ever logs a seed.

pub mod aws;
pub mod local;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    AuditEvent, AuditQuery, EventId, Grant, Principal, Role, Roles, Seed, Timestamp, Tool, ToolName,
};

/// A store failure. The text is for the log, never for a chat user.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the operation.
    #[error("store backend failed: {0}")]
    Backend(String),
    /// Stored data could not be read back (bad row, wrong master key).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The tool catalog, grants and roles.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// One tool by name.
    async fn tool(&self, name: &ToolName) -> StoreResult<Option<Tool>>;
    /// All tools, by name.
    async fn tools(&self) -> StoreResult<Vec<Tool>>;
    /// Adds or replaces a tool.
    async fn put_tool(&self, tool: &Tool) -> StoreResult<()>;
    /// Removes a tool and every grant for it; `false` if there was no such tool.
    async fn remove_tool(&self, name: &ToolName) -> StoreResult<bool>;

    /// The grant of `principal` for `tool`, expired or not.
    async fn grant(&self, principal: &Principal, tool: &ToolName) -> StoreResult<Option<Grant>>;
    /// All grants of `principal`, expired or not, by tool.
    async fn grants_for(&self, principal: &Principal) -> StoreResult<Vec<Grant>>;
    /// All grants for `tool`, expired or not, by principal.
    async fn holders(&self, tool: &ToolName) -> StoreResult<Vec<Grant>>;
    /// Adds or replaces the grant for its principal and tool.
    async fn put_grant(&self, grant: &Grant) -> StoreResult<()>;
    /// Deletes a grant; `false` if there was none.
    async fn delete_grant(&self, principal: &Principal, tool: &ToolName) -> StoreResult<bool>;

    /// The stored roles of `principal` (bootstrap admins from settings are added by the core).
    async fn roles(&self, principal: &Principal) -> StoreResult<Roles>;
    /// Gives (`on`) or takes away a role; `false` if nothing changed.
    async fn set_role(&self, principal: &Principal, role: Role, on: bool) -> StoreResult<bool>;
}

/// TOTP seeds, encrypted at rest by the backend.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores or replaces the seed of `tool`.
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
}

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Durably appends one event; returns only once it is stored. Never overwrites.
    async fn append(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Events matching `query`, newest first, at most `query.limit` of them.
    async fn query(&self, query: &AuditQuery) -> StoreResult<AuditPage>;
}

/// Short-lived counters, atomic under concurrent callers.
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
    /// Adds one to `key` (starting afresh if it expired) and returns the new value.
    async fn increment(&self, key: &str, expires_at: Timestamp, now: Timestamp)
        -> StoreResult<u64>;
    /// The current value of `key`, 0 if absent or expired.
    async fn count(&self, key: &str, now: Timestamp) -> StoreResult<u64>;
}

/// The four stores the core needs, chosen once at start-up.
#[derive(Clone)]
pub struct Stores {
    /// Catalog, grants, roles.
    pub access: Arc<dyn AccessStore>,
    /// Seeds.
    pub secrets: Arc<dyn SecretStore>,
    /// Audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Replay and rate-limit counters.
    pub counters: Arc<dyn CounterStore>,
}

impl Stores {
    /// All four roles served by one backend object.
    pub fn single<S>(store: Arc<S>) -> Self
    where
        S: AccessStore + SecretStore + AuditStore + CounterStore + 'static,
    {
        Self {
            access: store.clone(),
            secrets: store.clone(),
            audit: store.clone(),
            counters: store,
        }
    }
}
