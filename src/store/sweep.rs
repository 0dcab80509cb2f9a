//! Reads the sweep needs: the requests it may still have to remind of or report expired, the
//! grants ending soon whose holders were not warned yet, and where each copy of a request's
//! approval message was posted. Every write goes through
//! [`DecisionStore`](super::DecisionStore) ([`Change::Mark`](super::Change::Mark),
//! [`Change::AddCopies`](super::Change::AddCopies)).

use async_trait::async_trait;

use super::error::StoreResult;
use crate::domain::{AccessRequest, AccessRequestId, Grant, MessageRef, Timestamp};

/// A request the sweep may still have work on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweptRequest {
    /// The request (open: undecided).
    pub request: AccessRequest,
    /// Whether its approvers were reminded already.
    pub reminded: bool,
    /// Where its approval message was posted.
    pub copies: Vec<MessageRef>,
}

/// The sweep's reads. Queries, never scans of a whole table.
#[async_trait]
pub trait SweepStore: Send + Sync {
    /// Undecided requests whose expiry was not yet told, that expired after `since` or have
    /// not expired.
    async fn undecided_requests(&self, since: Timestamp) -> StoreResult<Vec<SweptRequest>>;

    /// Grants ending after `after` and at or before `until` whose holders were not warned of
    /// that end yet.
    async fn unwarned_grants(&self, after: Timestamp, until: Timestamp) -> StoreResult<Vec<Grant>>;

    /// Where copies of the approval message of request `id` were posted.
    async fn copies(&self, id: &AccessRequestId) -> StoreResult<Vec<MessageRef>>;
}
