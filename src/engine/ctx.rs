//! A request's context while its command runs, and the one decision it commits.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{Arrival, ChatRequest, Draft, Engine};
use crate::command::CommandError;
use crate::domain::{Action, AuditEvent, Outcome, Principal, Quota, Roles, Timestamp};
use crate::store::{AccessStore, AuditStore, Decision, DecisionView, Effect, ReplayMark, Verdict};

/// Everything a command needs while it runs: the request, the caller's roles, the engine, the
/// decision time, and the admission its one decision carries.
pub struct Ctx<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The request.
    pub request: &'a ChatRequest,
    /// The caller's roles, bootstrap admins included (not read for code requests).
    pub roles: Roles,
    /// The time the request is judged at: its one clock reading.
    pub now: Timestamp,
    /// The request's replay marker, if its front end gave one.
    replay: Option<ReplayMark>,
    /// Set once the request's decision is committed (its admission went with it).
    committed: AtomicBool,
}

/// The refusal of a request over the per-caller limit.
pub(super) fn per_caller_denial(action: Action) -> CommandError {
    CommandError::denied(
        Draft::new(action, Outcome::RateLimited).detail("per-caller limit"),
        "You are sending too many requests. Wait a few minutes and try again.",
    )
}

/// Read access for admins: only an admin's [`Ctx`] hands it out. Writes go through
/// [`Ctx::commit`].
pub struct AdminView<'a> {
    /// The access store.
    pub access: &'a dyn AccessStore,
}

/// Read access to the audit log and holders: only an auditor's or admin's [`Ctx`] hands it out.
pub struct AuditorView<'a> {
    /// The audit log.
    pub audit: &'a dyn AuditStore,
    /// The access store, for holders and the catalog.
    pub access: &'a dyn AccessStore,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(engine: &'a Engine, request: &'a ChatRequest, arrival: Arrival) -> Self {
        Self {
            engine,
            request,
            roles: Roles::default(),
            now: arrival.now,
            replay: arrival.replay,
            committed: AtomicBool::new(false),
        }
    }

    /// The caller.
    pub fn caller(&self) -> &Principal {
        &self.request.principal
    }

    /// The caller's per-caller quota.
    pub fn caller_quota(&self) -> Quota {
        self.engine.policy.caller_quota(self.caller())
    }

    pub(super) fn is_committed(&self) -> bool {
        self.committed.load(Ordering::SeqCst)
    }

    /// The audit event for `draft`, at the decision time.
    pub fn event(&self, draft: Draft) -> AuditEvent {
        self.engine.event(self.request, draft, self.now)
    }

    /// Durably records `draft` as this request's decision (an audited read).
    pub async fn audit(&self, draft: Draft) -> Result<(), CommandError> {
        self.commit(draft, Effect::Record, None).await.map(drop)
    }

    /// Commits this request's one decision: its admission (replay marker, per-caller quota),
    /// `extra` quota, the record of `draft` and `effect`, in one transaction. Refusals come back
    /// as audited-to-be [`CommandError`]s: a full quota, a grant gone or expired, a replay.
    pub async fn commit(
        &self,
        draft: Draft,
        effect: Effect,
        extra: Option<Quota>,
    ) -> Result<Verdict, CommandError> {
        self.commit_with(draft, effect, true, extra, None).await
    }

    /// [`Ctx::commit`] starting from `view`, which the caller read for the caller's quota,
    /// `extra` and the grant, in that order.
    pub async fn commit_viewed(
        &self,
        draft: Draft,
        effect: Effect,
        extra: Option<Quota>,
        view: &DecisionView,
    ) -> Result<Verdict, CommandError> {
        self.commit_with(draft, effect, true, extra, Some(view))
            .await
    }

    pub(super) async fn commit_admission(&self) -> Result<(), CommandError> {
        let decision = self.decision(None, Effect::Record, true, None);
        self.decide(decision, Action::Request, None).await.map(drop)
    }

    pub(super) async fn commit_with(
        &self,
        draft: Draft,
        effect: Effect,
        take_quota: bool,
        extra: Option<Quota>,
        view: Option<&DecisionView>,
    ) -> Result<Verdict, CommandError> {
        let action = draft.action;
        let decision = self.decision(Some(self.event(draft)), effect, take_quota, extra);
        self.decide(decision, action, view).await
    }

    fn decision(
        &self,
        record: Option<AuditEvent>,
        effect: Effect,
        take_quota: bool,
        extra: Option<Quota>,
    ) -> Decision {
        let mut quotas = Vec::new();
        if take_quota {
            quotas.push(self.caller_quota());
        }
        quotas.extend(extra);
        Decision {
            now: self.now,
            replay: self.replay.clone(),
            quotas,
            record,
            effect,
        }
    }

    async fn decide(
        &self,
        decision: Decision,
        action: Action,
        view: Option<&DecisionView>,
    ) -> Result<Verdict, CommandError> {
        let unread = DecisionView::default();
        let verdict = self
            .engine
            .stores
            .decisions
            .decide(view.unwrap_or(&unread), &decision)
            .await?;
        self.verdict(&decision, verdict, action)
    }

    /// Maps a store's verdict on `decision` to the outcome of the command.
    fn verdict(
        &self,
        decision: &Decision,
        verdict: Verdict,
        action: Action,
    ) -> Result<Verdict, CommandError> {
        match verdict {
            Verdict::Done { .. } => {
                self.committed.store(true, Ordering::SeqCst);
                Ok(verdict)
            }
            Verdict::Replay => Err(CommandError::Replayed),
            Verdict::Limited(i) if decision.quotas.get(i) == Some(&self.caller_quota()) => {
                Err(per_caller_denial(action))
            }
            other => Ok(other),
        }
    }

    /// Admin capabilities, or a refusal audited under `action`.
    pub fn admin(&self, action: Action) -> Result<AdminView<'_>, CommandError> {
        if !self.roles.admin {
            return Err(crate::command::forbidden(action, "admins"));
        }
        Ok(AdminView {
            access: self.engine.stores.access.as_ref(),
        })
    }

    /// Auditor capabilities (admins have them too), or a refusal audited under `action`.
    pub fn auditor(&self, action: Action) -> Result<AuditorView<'_>, CommandError> {
        if !(self.roles.admin || self.roles.auditor) {
            return Err(crate::command::forbidden(action, "admins and auditors"));
        }
        Ok(AuditorView {
            audit: self.engine.stores.audit.as_ref(),
            access: self.engine.stores.access.as_ref(),
        })
    }
}
