//! The engine's side of the sweep: one sweep at the clock's time, and the copies of a
//! request's approval message a front end posted, recorded with the request. Front ends and
//! start-up call these; the work is the command layer's ([`crate::command::sweep`]).

use super::Engine;
use crate::command::sweep::Swept;
use crate::domain::{AccessRequestId, MessageRef};
use crate::store::StoreResult;

impl Engine {
    /// Runs one sweep now (reminders, expired requests, grant expiry warnings), each item
    /// marked and recorded before its message; the messages come back as follow-ups for the
    /// front ends to deliver.
    pub async fn sweep(&self) -> StoreResult<Swept> {
        crate::command::sweep::sweep(self.core(), self.clock().now()).await
    }

    /// Records where copies of request `id`'s approval message were posted, so that every
    /// copy can be updated once it is settled.
    pub async fn record_copies(
        &self,
        id: &AccessRequestId,
        copies: Vec<MessageRef>,
    ) -> StoreResult<bool> {
        crate::command::sweep::record_copies(self.core(), id, copies, self.clock().now()).await
    }
}
