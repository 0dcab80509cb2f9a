//! Where each kind of item lives in the access table: its partition key and sort key (see
//! [`super::schema`] for the attributes and indexes).

use crate::domain::{AccessRequestId, Principal, ToolName};

/// Partition of the tool catalog.
pub(super) const TOOLS_PK: &str = "TOOLS";

/// Partition of a principal's grants, roles and open-request slots.
pub(super) fn principal_pk(p: &Principal) -> String {
    format!("P#{p}")
}

/// The sort key of the approver role for `tool` in the principal's partition.
pub(super) fn approver_sk(tool: &ToolName) -> String {
    format!("R#approver:{tool}")
}

/// Partition of a rate limit's log.
pub(super) fn quota_pk(key: &str) -> String {
    format!("Q#{key}")
}

/// Partition of a replay marker.
pub(super) fn counter_pk(key: &str) -> String {
    format!("C#{key}")
}

/// Partition of an access request (its sort key is `AR`).
pub(super) fn request_pk(id: &AccessRequestId) -> String {
    format!("AR#{id}")
}

/// Sort key of a requester's slot for `tool`, holding their open request.
pub(super) fn slot_sk(tool: &ToolName) -> String {
    format!("AR#{tool}")
}

/// The grants-by-tool index partition of the requests the sweep still watches (undecided,
/// their expiry not yet told): `gsi1pk` of a request's item until then.
pub(super) const SWEEP_REQUESTS: &str = "SWEEP#requests";
