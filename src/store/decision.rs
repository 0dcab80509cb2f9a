//! The one write path of every request: a [`Decision`] (replay marker, rate limits, audit
//! record, and the grant to re-check or the access change to make) that a backend commits in
//! one transaction, or not at all.

use async_trait::async_trait;

use super::error::StoreResult;
use crate::domain::{
    AccessRequest, AccessRequestId, Approval, AuditEvent, BreakGlass, Grant, MessageRef, Principal,
    Quota, QuotaLog, Review, Role, Seed, SweepMark, Timestamp, Tool, ToolName, TotpIssue,
};

/// A signed request's fingerprint, kept until its signature could no longer be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayMark {
    /// The fingerprint, e.g. `replay:slack:{mac}`.
    pub key: String,
    /// When the marker may be forgotten.
    pub expires_at: Timestamp,
}

/// A change of access state. Each commits in one transaction with its audit record.
#[derive(Clone, Debug)]
pub enum Change {
    /// Adds or replaces the grant for its principal and tool; the tool must be in the catalog
    /// when it commits.
    PutGrant(Grant),
    /// Ends a grant; unchanged if there was none.
    DeleteGrant {
        /// Whose grant.
        principal: Principal,
        /// For which tool.
        tool: ToolName,
    },
    /// Gives (`on`) or takes away a role; unchanged if it already was so.
    SetRole {
        /// Whose role.
        principal: Principal,
        /// Which role.
        role: Role,
        /// Give or take.
        on: bool,
    },
    /// Adds or replaces a catalog entry, and the seed with it when given.
    PutTool {
        /// The catalog entry.
        tool: Tool,
        /// The new seed.
        seed: Option<Seed>,
    },
    /// Removes a tool, its seed and every grant for it; unchanged if there was no such tool.
    RemoveTool(ToolName),
    /// Gives (`on`) or takes away the approver role for one tool; unchanged if it already
    /// was so.
    SetApprover {
        /// Whose role.
        principal: Principal,
        /// For which tool.
        tool: ToolName,
        /// Give or take.
        on: bool,
    },
    /// Stores a new open request. Refused ([`Verdict::Pending`]) while its requester has another
    /// open, unexpired request for the same tool.
    OpenRequest(AccessRequest),
    /// Decides an open request, first decision wins: refused with [`Verdict::NoRequest`],
    /// [`Verdict::Decided`] or [`Verdict::RequestExpired`] unless the request is open and
    /// unexpired at the decision time, checked inside the transaction. An approval carries
    /// the grant, made in the same transaction, unless the requester's grant for the tool
    /// already ends at or after it: an approval never shortens a grant. Then that grant stays
    /// as it is, the request is approved all the same, the decision's `if_unchanged` record is
    /// written instead of its record, and the verdict is `Done { changed: false }`.
    DecideRequest {
        /// The request.
        id: AccessRequestId,
        /// Whose request it is (frees their slot for the tool).
        requester: Principal,
        /// For which tool.
        tool: ToolName,
        /// The approver.
        by: Principal,
        /// The approver's display name, where their platform gave one.
        by_name: Option<String>,
        /// The grant for an approval; `None` denies.
        grant: Option<Grant>,
    },
    /// Marks one thing the sweep does as done, on condition that it is still to do (see
    /// [`SweepMark`]); unchanged when another sweep marked it first or it no longer applies.
    /// Marked before its message goes out, so it happens at most once.
    Mark(SweepMark),
    /// Adds where copies of a request's approval message were posted; unchanged when there is
    /// no such request.
    AddCopies {
        /// The request.
        id: AccessRequestId,
        /// The copies posted.
        copies: Vec<MessageRef>,
    },
    /// Counts one approval of an open request that needs several (the two-person rule):
    /// refused like [`Change::DecideRequest`] unless the request is open and unexpired, and
    /// with [`Verdict::Stale`] unless it holds exactly `seen` approvals when this commits
    /// (another approval came first: read it again and decide again). With `grant`, this
    /// approval completes the count: the request is approved and the grant made as for
    /// [`Change::DecideRequest`] (never shortening one, `if_unchanged` then recorded).
    CountApproval {
        /// The request.
        id: AccessRequestId,
        /// Whose request it is (frees their slot for the tool once approved).
        requester: Principal,
        /// For which tool.
        tool: ToolName,
        /// The approval counted.
        approval: Approval,
        /// How many approvals the request held when the approver read it.
        seen: usize,
        /// The grant when this approval is the last one needed.
        grant: Option<Grant>,
    },
    /// Breaks the glass: stores `glass` and makes `grant` (the breaker's, replacing any), in
    /// one transaction with the record (which carries the code's MAC). Refused with
    /// [`Verdict::TooSoon`] when the same person broke the glass on the same tool less than
    /// `every_secs` before, checked inside the transaction.
    BreakGlass {
        /// The break-glass.
        glass: BreakGlass,
        /// The grant it takes.
        grant: Grant,
        /// The period in which a person may break the glass on a tool once.
        every_secs: i64,
    },
    /// Records the review of break-glass `id`, first review wins: refused with
    /// [`Verdict::NoRequest`] when there is no such break-glass and [`Verdict::Decided`] when
    /// it was reviewed. With `revoke`, the breaker's grant for the tool ends with it.
    ReviewBreakGlass {
        /// The break-glass.
        id: AccessRequestId,
        /// The review.
        review: Review,
        /// The grant a `revoke` review ends: its principal and tool.
        revoke: Option<(Principal, ToolName)>,
    },
}

/// What a decision does besides writing its audit record.
// One per request, moved once into its decision: boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Effect {
    /// Nothing: a denial, an audited read, or only the admission.
    Record,
    /// Issue a code: `tool` must still be in the catalog and `principal`'s grant for it must
    /// exist and be unexpired at the decision time, checked inside the transaction.
    Issue {
        /// The caller.
        principal: Principal,
        /// The tool.
        tool: ToolName,
    },
    /// Change access state. When nothing changes, `if_unchanged` is recorded instead of the
    /// decision's record (`None`: nothing is recorded).
    Change {
        /// The change.
        change: Change,
        /// The record for a change that found nothing to do.
        if_unchanged: Option<AuditEvent>,
    },
}

/// Everything one request decided, committed by the store in one transaction.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The decision time: the request's one clock reading.
    pub now: Timestamp,
    /// The request's replay marker, refused if already present.
    pub replay: Option<ReplayMark>,
    /// Rate limits the request takes, checked in order; any full one refuses the decision.
    pub quotas: Vec<Quota>,
    /// The audit record; `None` only for decisions that change and reveal nothing.
    pub record: Option<AuditEvent>,
    /// The state change or issuance.
    pub effect: Effect,
}

/// How a decision ended. Anything but `Done` left no trace in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Committed; `changed` is `false` when a [`Change`] found nothing to do.
    Done {
        /// Whether access state changed.
        changed: bool,
    },
    /// The replay marker was already there.
    Replay,
    /// The quota at this index of [`Decision::quotas`] is full.
    Limited(usize),
    /// There is no grant (it was revoked, or never made).
    NoGrant,
    /// The tool is not (or no longer) in the catalog.
    UnknownTool,
    /// The grant expired at this time.
    Expired(Timestamp),
    /// The requester already has an open request for the tool.
    Pending,
    /// There is no such access request.
    NoRequest,
    /// The access request was already decided (the stored request says how).
    Decided,
    /// The access request expired undecided.
    RequestExpired,
    /// The person broke the glass on the tool within the period; again possible at this time.
    TooSoon(Timestamp),
    /// The access request changed since it was read (another approval was counted): read
    /// it again and decide again.
    Stale,
}

/// What a decision needs to read first, read in one round trip.
#[derive(Clone, Debug, Default)]
pub struct DecisionView {
    /// The catalog entry of the tool asked about, if one was and it is in the catalog.
    pub tool: Option<Tool>,
    /// The grant asked about, if one was.
    pub grant: Option<Grant>,
    /// The logs of the quotas asked about, in the same order.
    pub logs: Vec<QuotaLog>,
}

/// The one write path of every decision.
#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Reads, in one round trip, the catalog entry of `tool` and the grant of `principal` for
    /// it (when a tool is given) and the logs of `quotas`. For early refusals and authorization
    /// before a seed is read; the decision itself checks again.
    async fn view(
        &self,
        principal: &Principal,
        tool: Option<&ToolName>,
        quotas: &[Quota],
    ) -> StoreResult<DecisionView>;

    /// Commits `decision` atomically, or refuses it and leaves nothing behind. `view` is what
    /// the caller read for it (backends that check under optimistic concurrency start from it).
    async fn decide(&self, view: &DecisionView, decision: &Decision) -> StoreResult<Verdict>;

    /// Whether [`DecisionStore::decide`] starts from the quota logs its view read. DynamoDB
    /// does (its conditional writes are made from them, and without them it reads them again);
    /// SQLite reads and takes the limits inside its own transaction and reads nothing from the
    /// view. Where it does not, a request that goes on to its decision anyway may leave the
    /// limits out of its view and to the decision's verdict ([`Verdict::Limited`]).
    fn decides_from_view_logs(&self) -> bool {
        true
    }

    /// The store's way of deciding a whole code in its decision's transaction, if it has one
    /// (SQLite); `None` (DynamoDB): a code is read for with [`DecisionStore::view`] and the seed
    /// store, then decided with [`DecisionStore::decide`].
    fn whole_codes(&self) -> Option<&dyn WholeCodes> {
        None
    }
}

/// Completes the "issued" record of a code from the code about to be shown (its MAC, and how
/// long it is valid): called once the caller is found to hold it, inside the transaction.
pub type CompleteRecord = Box<dyn FnOnce(&TotpIssue, &mut AuditEvent) + Send>;

/// A code to decide whole: the decision (its effect an [`Effect::Issue`] of the caller's own
/// grant, its record the "issued" record so far), and what completes the record.
pub struct CodeAsk {
    /// The decision: replay marker, rate limits, record and effect.
    pub decision: Decision,
    /// Completes the record once the code is known.
    pub complete: CompleteRecord,
}

/// How a code decided whole ended.
#[derive(Debug)]
pub enum CodeOutcome {
    /// Committed with its record: the code, and the catalog entry and grant it was issued under.
    Issued {
        /// The catalog entry.
        tool: Tool,
        /// The grant.
        grant: Grant,
        /// The code (and the next one, near a rollover).
        issue: TotpIssue,
    },
    /// Refused, nothing left behind: the verdict, with what the transaction read of the catalog
    /// entry and the grant (for the refusal's words).
    Refused {
        /// Why.
        verdict: Verdict,
        /// The catalog entry and grant as read; no quota logs.
        view: DecisionView,
    },
}

/// Deciding a whole code in one transaction, from the pages the store's writer holds: the
/// replay marker, the catalog entry, the caller's grant (refused unless unexpired), the rate
/// limits, and only then the seed, the code and its completed record (SPEC §3.4, §3.5).
#[async_trait]
pub trait WholeCodes: Send + Sync {
    /// Decides `ask`: commits it with its record and returns the code, or refuses it and
    /// leaves nothing behind. The seed is read only once every check has passed.
    async fn issue_whole(&self, ask: CodeAsk) -> StoreResult<CodeOutcome>;
}
