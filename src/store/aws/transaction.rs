//! What the items of a decision's `TransactWriteItems` are made of: each item is tagged with
//! what it is ([`Part`]), so the transaction's cancellation reasons can be read back (see
//! [`super::decide`]), and leases (replay markers, open-request slots) are puts that only
//! succeed over an expired item.

use aws_sdk_dynamodb::types::Put;

use super::item::{n, Item};
use super::schema::ACCESS_PK;
use super::sdk_error::built;
use crate::store::StoreResult;

/// A put of `item` that only succeeds where no live item holds its key: none, or one whose
/// `until` attribute (Unix seconds) is at or before `now`. Replay markers and open-request
/// slots are both such leases.
pub(super) fn put_unless_live(
    what: &str,
    table: &str,
    item: Item,
    until: &str,
    now: i64,
) -> StoreResult<Put> {
    built(
        what,
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #until <= :now")
            .expression_attribute_names("#pk", ACCESS_PK)
            .expression_attribute_names("#until", until)
            .expression_attribute_values(":now", n(now))
            .build(),
    )
}

/// A put of `item` into `table` that cancels the transaction if an item with its key is there.
pub(super) fn put_new(what: &str, table: &str, item: Item) -> StoreResult<Put> {
    built(
        what,
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", ACCESS_PK)
            .build(),
    )
}

/// What one transaction item is, so its cancellation reason can be read.
pub(super) enum Part {
    /// The replay marker: the request was seen before.
    Replay,
    /// The check that the tool is in the catalog.
    Tool,
    /// The check that the caller's grant exists and is unexpired.
    Grant,
    /// A rate limit's log, conditioned on the version it was read at.
    Quota,
    /// A change item whose condition says "there was something to do".
    Change,
    /// The requester's slot for a new access request: another one is open.
    Pending,
    /// The access request being decided: gone, decided or expired.
    Request,
    /// An approval counted on a request that needs several: gone, decided, expired, or it
    /// holds another number of approvals than was read.
    Approvals,
    /// A person's break-glass lease for a tool: they broke the glass on it within the period.
    TooSoon,
    /// The break-glass being reviewed: gone, or reviewed already.
    Reviewed,
    /// The check that the grant an approval keeps still ends at or after the approval's.
    Kept,
    /// Anything whose failure has no meaning of its own.
    Other,
}
