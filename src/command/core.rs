//! What a command runs against: the [`Core`] (stores, clock, audit key, policy) and the
//! verified, platform-neutral [`ChatRequest`] with its [`Arrival`]. The engine builds these;
//! nothing here knows the engine or any front end.

use std::sync::Arc;

use super::draft::Draft;
use super::membership::Groups;
use super::policy::Policy;
use crate::domain::{AuditEvent, Clock, EventId, Person, Principal, RequestId, Timestamp};
use crate::keys::AuditKey;
use crate::store::{ReplayMark, Stores};

/// A request after its front end verified it, in platform-neutral form.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// For the reply, the log and the audit record.
    pub request_id: RequestId,
    /// The verified caller.
    pub principal: Principal,
    /// The person the caller is: on Slack Enterprise Grid, the org's user (the request's
    /// enterprise id with the user id); elsewhere the principal.
    pub person: Person,
    /// Whether the front end that took the request can message others on the caller's
    /// platform (Slack: only with a bot token). A request that could tell no approver says so.
    pub reaches_others: bool,
    /// Where it was typed (channel or conversation id), if known.
    pub channel: Option<String>,
    /// The command text, e.g. `grant <@U1> github for 8h`.
    pub text: String,
    /// How the reply reaches the caller privately (recorded with issued codes).
    pub delivery: Option<String>,
    /// The caller's display name as their platform gave it (Teams: the activity's
    /// `from.name`), for cards others read; `None` where the platform shows names itself
    /// (Slack renders `<@U…>`). Never trusted for anything but showing.
    pub name: Option<String>,
}

/// What a front end knows of a request besides its content.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// The request's one clock reading: its decision time.
    pub now: Timestamp,
    /// The signed request's fingerprint, refused the second time it is seen. It is recorded
    /// in the request's decision transaction, not on its own.
    pub replay: Option<ReplayMark>,
}

impl Arrival {
    /// An arrival at `now` without a replay marker: the operator's own commands.
    pub fn at(now: Timestamp) -> Self {
        Self { now, replay: None }
    }

    /// An arrival at `now` whose fingerprint `key` (a verified signature's, an envelope's or an
    /// activity's id) is refused again until `expires_at`: recorded in the request's decision.
    pub fn once(now: Timestamp, key: String, expires_at: Timestamp) -> Self {
        Self {
            now,
            replay: Some(ReplayMark { key, expires_at }),
        }
    }
}

/// The parts a command works with: the stores, the clock, the audit key and the policy. The
/// engine owns one and hands commands a shared reference through their [`Ctx`](super::Ctx).
pub struct Core {
    pub(super) stores: Stores,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) audit_key: Arc<AuditKey>,
    pub(super) policy: Policy,
    pub(super) groups: Groups,
}

impl Core {
    /// Builds the core from its parts.
    pub fn new(
        stores: Stores,
        clock: Arc<dyn Clock>,
        audit_key: Arc<AuditKey>,
        policy: Policy,
    ) -> Self {
        Self {
            groups: Groups::new(policy.group_cache_secs),
            stores,
            clock,
            audit_key,
            policy,
        }
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The audit key.
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Who is in which group, as the platforms say: the sources start-up hands it, and
    /// their recent answers.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// The audit event `draft` describes, decided at `at` for `request`.
    pub fn event(&self, request: &ChatRequest, draft: Draft, at: Timestamp) -> AuditEvent {
        AuditEvent {
            id: EventId::new(at),
            at,
            request_id: request.request_id.clone(),
            actor: request.principal.clone(),
            action: draft.action,
            tool: draft.tool,
            subject: draft.subject,
            outcome: draft.outcome,
            detail: draft.detail,
            channel: request.channel.clone(),
            code_mac: draft.code_mac,
        }
    }
}
