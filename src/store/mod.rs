//! Storage behind small traits, one per role, so the core never knows which backend it runs on.
//!
//! - [`AccessStore`]: reads of the tool catalog, grants and roles.
//! - [`SecretStore`]: TOTP seeds. Read only after authorization.
//! - [`AuditStore`]: the append-only audit log (reads, and lone records).
//! - [`DecisionStore`]: the one write path of a decision. The core hands over the whole decision
//!   (the request's replay marker and rate limits, the audit record, and the grant to re-check
//!   or the access change to make) and the backend commits it in one transaction, or not at all.
//! - [`CounterStore`]: a lone replay marker, for front ends whose check does not join a decision.
//!
//! Backends: [`local`] (one SQLite file) and [`aws`] (DynamoDB + SSM Parameter Store). Each
//! backend passes the conformance suite in `tests/common/conformance.rs`. No backend ever logs
//! a seed.

pub mod aws;
#[cfg(feature = "local")]
pub mod local;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    AccessRequest, AccessRequestId, Action, AuditEvent, AuditQuery, EventId, Grant, Outcome,
    Principal, Quota, QuotaLog, RequestId, Role, Roles, Seed, Timestamp, Tool, ToolName,
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
    /// The store was created with another key in this role (`master` or `audit`).
    #[error("the {0} key is not the one this store was created with")]
    WrongKey(&'static str),
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Reads of the tool catalog, grants and roles. Every write goes through [`DecisionStore`].
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
}

/// TOTP seeds, encrypted at rest by the backend.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores or replaces the seed of `tool` on its own, unrecorded: for stores without a
    /// catalog entry for `tool` (tests, repair). Enrolling or replacing the seed of a tool goes
    /// through [`Change::PutTool`], which records it; on AWS the catalog entry it writes pins
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
    pub positions: Vec<crate::audit::record::Position>,
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
        /// The grant for an approval; `None` denies.
        grant: Option<Grant>,
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
}

/// What a decision needs to read first, read in one round trip.
#[derive(Clone, Debug, Default)]
pub struct DecisionView {
    /// The grant asked about, if one was.
    pub grant: Option<Grant>,
    /// The logs of the quotas asked about, in the same order.
    pub logs: Vec<QuotaLog>,
}

/// The one write path of every decision.
#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Reads, in one round trip, the grant of `principal` for `tool` (when given) and the logs
    /// of `quotas`. For early refusals and authorization before a seed is read; the decision
    /// itself checks again.
    async fn view(
        &self,
        principal: &Principal,
        tool: Option<&ToolName>,
        quotas: &[Quota],
    ) -> StoreResult<DecisionView>;

    /// Commits `decision` atomically, or refuses it and leaves nothing behind. `view` is what
    /// the caller read for it (backends that check under optimistic concurrency start from it).
    async fn decide(&self, view: &DecisionView, decision: &Decision) -> StoreResult<Verdict>;
}

/// The stores the core needs, chosen once at start-up.
#[derive(Clone)]
pub struct Stores {
    /// Catalog, grants, roles.
    pub access: Arc<dyn AccessStore>,
    /// Seeds.
    pub secrets: Arc<dyn SecretStore>,
    /// Audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Lone replay markers.
    pub counters: Arc<dyn CounterStore>,
    /// Decisions.
    pub decisions: Arc<dyn DecisionStore>,
}

impl Stores {
    /// All roles served by one backend object.
    pub fn single<S>(store: Arc<S>) -> Self
    where
        S: AccessStore + SecretStore + AuditStore + CounterStore + DecisionStore + 'static,
    {
        Self {
            access: store.clone(),
            secrets: store.clone(),
            audit: store.clone(),
            counters: store.clone(),
            decisions: store,
        }
    }

    /// Stores `grant` with its audit record (actor: its grantor), in one transaction. For
    /// setting a store up outside chat.
    pub async fn put_grant(&self, grant: &Grant) -> StoreResult<()> {
        let record = setup_record(
            &grant.granted_by,
            Action::Grant,
            Some(&grant.tool),
            Some(&grant.principal),
            format!("until {}", grant.expires_at),
            grant.granted_at,
        );
        self.change(Change::PutGrant(grant.clone()), record)
            .await
            .map(drop)
    }

    /// Stores `tool` (and its seed) with its audit record by `actor` at `at`, in one
    /// transaction. For setting a store up outside chat.
    pub async fn put_tool(
        &self,
        tool: &Tool,
        seed: Option<&Seed>,
        actor: &Principal,
        at: Timestamp,
    ) -> StoreResult<()> {
        let record = setup_record(
            actor,
            Action::ToolAdd,
            Some(&tool.name),
            None,
            "set up".into(),
            at,
        );
        let change = Change::PutTool {
            tool: tool.clone(),
            seed: seed.cloned(),
        };
        self.change(change, record).await.map(drop)
    }

    /// Commits `change` with `record` (recorded also when nothing changed), as an operator
    /// does when setting a store up. `false` if nothing changed.
    pub async fn change(&self, change: Change, record: AuditEvent) -> StoreResult<bool> {
        let decision = Decision {
            now: record.at,
            replay: None,
            quotas: Vec::new(),
            record: Some(record.clone()),
            effect: Effect::Change {
                change,
                if_unchanged: Some(record),
            },
        };
        match self
            .decisions
            .decide(&DecisionView::default(), &decision)
            .await?
        {
            Verdict::Done { changed } => Ok(changed),
            other => Err(StoreError::Backend(format!(
                "a change without limits was refused: {other:?}"
            ))),
        }
    }
}

fn setup_record(
    actor: &Principal,
    action: Action,
    tool: Option<&ToolName>,
    subject: Option<&Principal>,
    detail: String,
    at: Timestamp,
) -> AuditEvent {
    AuditEvent {
        id: EventId::new(at),
        at,
        request_id: RequestId::new(),
        actor: actor.clone(),
        action,
        tool: tool.cloned(),
        subject: subject.cloned(),
        outcome: Outcome::Ok,
        detail: Some(detail),
        channel: None,
        code_mac: None,
    }
}
