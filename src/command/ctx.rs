//! A request's [`Ctx`]: everything a command needs while it runs, and the one decision it
//! commits through it; the capabilities (the admin's and the auditor's views) only a caller with
//! the role is handed.

use std::sync::atomic::{AtomicBool, Ordering};

use super::core::{Arrival, ChatRequest, Core};
use super::draft::Draft;
use super::error::{forbidden, per_caller_denial, CommandError};
use crate::domain::{Action, AuditEvent, Person, Principal, Quota, Roles, Timestamp, ToolName};
use crate::store::{
    AccessStore, AuditStore, CodeAsk, CodeOutcome, CompleteRecord, Decision, DecisionView, Effect,
    ReplayMark, Verdict, WholeCodes,
};

/// Everything a command needs while it runs: the request, the caller's roles, the core, the
/// decision time, and the admission its one decision carries.
pub struct Ctx<'a> {
    /// The stores, clock, audit key and policy.
    pub core: &'a Core,
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
    /// The context of `request`, which arrived as `arrival`, before its roles are read.
    pub(crate) fn new(core: &'a Core, request: &'a ChatRequest, arrival: Arrival) -> Self {
        Self {
            core,
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

    /// The person the caller is.
    pub fn person(&self) -> &Person {
        &self.request.person
    }

    /// The caller's per-caller quota.
    pub fn caller_quota(&self) -> Quota {
        self.core.policy.caller_quota(self.person())
    }

    /// Whether the request's decision, and so its admission, is committed.
    pub(crate) fn is_committed(&self) -> bool {
        self.committed.load(Ordering::SeqCst)
    }

    /// Names `tool` in the request's log span, so that every line of the request from here on
    /// carries it: one span per request, where a span of the command's own was entered and left
    /// on every poll of its future.
    pub fn log_tool(&self, tool: &ToolName) {
        tracing::Span::current().record("tool", tracing::field::display(tool));
    }

    /// The audit event for `draft`, at the decision time.
    pub fn event(&self, draft: Draft) -> AuditEvent {
        self.core.event(self.request, draft, self.now)
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

    /// Commits the request's admission alone, for a command that records nothing.
    pub(crate) async fn commit_admission(&self) -> Result<(), CommandError> {
        let decision = self.decision(None, Effect::Record, true, None);
        self.decide(decision, Action::Request, None).await.map(drop)
    }

    /// [`Ctx::commit`], optionally without the caller's quota and from a view already read.
    pub(crate) async fn commit_with(
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
            .core
            .stores
            .decisions
            .decide(view.unwrap_or(&unread), &decision)
            .await?;
        let tool = decision.record.as_ref().and_then(|r| r.tool.as_ref());
        self.verdict(&decision.quotas, tool, verdict, action)
    }

    /// Decides this request's code of `tool` whole through `whole`: its admission, the tool's
    /// `quota`, the "issued" record of `draft` (completed by `complete` once the code is known)
    /// and the issuance under the caller's own grant, in one transaction. Refusals come back as
    /// [`Ctx::commit`]'s do, with what the transaction read.
    pub(crate) async fn issue_whole(
        &self,
        whole: &dyn WholeCodes,
        draft: Draft,
        quota: Quota,
        complete: CompleteRecord,
    ) -> Result<CodeOutcome, CommandError> {
        let action = draft.action;
        let Some(tool) = draft.tool.clone() else {
            return Err(CommandError::Inconsistent("a code without a tool".into()));
        };
        let effect = Effect::Issue {
            principal: self.caller().clone(),
            tool: tool.clone(),
        };
        let decision = self.decision(Some(self.event(draft)), effect, true, Some(quota));
        let quotas = decision.quotas.clone();
        match whole.issue_whole(CodeAsk { decision, complete }).await? {
            CodeOutcome::Refused { verdict, view } => {
                let verdict = self.verdict(&quotas, Some(&tool), verdict, action)?;
                Ok(CodeOutcome::Refused { verdict, view })
            }
            issued @ CodeOutcome::Issued { .. } => {
                self.committed.store(true, Ordering::SeqCst);
                Ok(issued)
            }
        }
    }

    /// Maps a store's verdict on a decision that took `quotas`, about `tool`, to the outcome
    /// of the command.
    fn verdict(
        &self,
        quotas: &[Quota],
        tool: Option<&ToolName>,
        verdict: Verdict,
        action: Action,
    ) -> Result<Verdict, CommandError> {
        match verdict {
            Verdict::Done { .. } => {
                self.committed.store(true, Ordering::SeqCst);
                Ok(verdict)
            }
            Verdict::Replay => Err(CommandError::Replayed),
            Verdict::Limited(i) if quotas.get(i) == Some(&self.caller_quota()) => {
                Err(per_caller_denial(action, tool))
            }
            other => Ok(other),
        }
    }

    /// Admin capabilities, or a refusal audited under `action`.
    pub fn admin(&self, action: Action) -> Result<AdminView<'_>, CommandError> {
        if !self.roles.admin {
            return Err(forbidden(action, "admins"));
        }
        Ok(AdminView {
            access: self.core.stores.access.as_ref(),
        })
    }

    /// Auditor capabilities (admins have them too), or a refusal audited under `action`.
    pub fn auditor(&self, action: Action) -> Result<AuditorView<'_>, CommandError> {
        if !(self.roles.admin || self.roles.auditor) {
            return Err(forbidden(action, "admins and auditors"));
        }
        Ok(AuditorView {
            audit: self.core.stores.audit.as_ref(),
            access: self.core.stores.access.as_ref(),
        })
    }
}
