//! The engine: takes a verified, platform-neutral [`ChatRequest`] from a front end, admits it,
//! parses and applies its [`Command`] against the [`Core`] it owns (stores, clock, audit key,
//! policy), audits refusals and failures, and returns a [`Reply`].
//!
//! Imports point one way: front ends → engine → [`command`](crate::command) → store → domain.
//! The types a command runs against ([`Core`], [`Ctx`], [`Draft`], [`Policy`], [`ChatRequest`],
//! [`Arrival`]) live in the command layer and are re-exported here for the front ends; the
//! commands never import this module.
//!
//! The clock is read once per request; that reading is the decision time of everything the
//! request does: the grant check, the TOTP step and the audit record. Each request ends in one
//! [`Decision`] handed to the store as a whole: its replay marker and per-caller rate limit
//! (the request's admission), its audit record, and the access change it makes or the grant
//! its code depends on. The store commits it in one transaction or refuses it, so there is
//! never a change without its record, nor a code on a grant revoked before it.
//!
//! Order for a code (SPEC §3): caller rate limit → tool exists → grant valid now → per-tool rate
//! limit → read seed → compute code → one transaction (grant still valid, replay marker, both
//! rate limits, the "issued" record) → reply. A refused or failed transaction means no code.
//! A chat request (one that arrived through a front end: [`Engine::handle_at`],
//! [`Engine::click_at`], [`Engine::handle_finishing`], [`Engine::refuse_workspace_at`]) runs
//! under one deadline, [`Policy::deadline`], counted once for all its store work together, not
//! per call: when the store does not answer in time the caller is told to try again while
//! Slack still listens (SPEC §3.12). The operator's own commands ([`Engine::handle`]) wait.
//!
//! This module never logs a code or a seed.

mod refusal;
mod sweep;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::command::sweep::{Swept, SWEEPER};
use crate::command::{per_caller_denial, Command, CommandError};
pub use crate::command::{AdminView, Arrival, AuditorView, ChatRequest, Core, Ctx, Draft, Policy};
pub use crate::command::{GroupError, Groups, Membership};
pub use crate::domain::RateLimit;
use crate::domain::{Action, AuditEvent, Clock, Outcome, Principal, Roles, Timestamp};
use crate::keys::AuditKey;
use crate::reply::{Button, Reply};
use crate::store::{Change, Decision, DecisionView, Effect, StoreResult, Stores, Verdict};

/// How long the record of a request that missed its deadline may take, after the answer.
const AUDIT_LATE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The request was seen before and was not acted on again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("replayed request")]
pub struct Replayed;

/// The core service. One per process, shared by every front end.
pub struct Engine {
    core: Core,
}

impl Engine {
    /// Builds the engine from its parts.
    pub fn new(
        stores: Stores,
        clock: Arc<dyn Clock>,
        audit_key: Arc<AuditKey>,
        policy: Policy,
    ) -> Self {
        Self {
            core: Core::new(stores, clock, audit_key, policy),
        }
    }

    /// What commands run against: the stores, clock, audit key and policy.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The stores, for start-up and the operator's commands; front ends never read them.
    pub fn stores(&self) -> &Stores {
        self.core.stores()
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.core.clock()
    }

    /// The audit key.
    pub fn audit_key(&self) -> &AuditKey {
        self.core.audit_key()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        self.core.policy()
    }

    /// The audit event `draft` describes, decided at `at` for `request`.
    pub fn event(&self, request: &ChatRequest, draft: Draft, at: Timestamp) -> AuditEvent {
        self.core.event(request, draft, at)
    }

    /// Durably appends an audit event for `request`, on its own, timed now. For what happens
    /// outside a decision (a reply that could not be delivered).
    pub async fn audit(&self, request: &ChatRequest, draft: Draft) -> StoreResult<()> {
        let event = self.event(request, draft, self.clock().now());
        self.stores().audit.append(&event).await
    }

    /// Commits an access change made outside chat (the operator's CLI) with its record, in
    /// one transaction. `if_unchanged` is recorded instead when nothing changed. `Ok(false)`
    /// when nothing changed.
    pub async fn change(
        &self,
        request: &ChatRequest,
        change: Change,
        record: Draft,
        if_unchanged: Option<Draft>,
    ) -> StoreResult<bool> {
        let now = self.clock().now();
        let decision = Decision {
            now,
            replay: None,
            quotas: Vec::new(),
            record: Some(self.event(request, record, now)),
            effect: Effect::Change {
                change,
                if_unchanged: if_unchanged.map(|d| self.event(request, d, now)),
            },
        };
        match self
            .stores()
            .decisions
            .decide(&DecisionView::default(), &decision)
            .await?
        {
            Verdict::Done { changed } => Ok(changed),
            other => Err(crate::store::StoreError::Backend(format!(
                "an unlimited change was refused: {other:?}"
            ))),
        }
    }

    /// Refuses a request from a workspace that is not on the allow-list, and audits it.
    pub async fn refuse_workspace(&self, request: &ChatRequest) -> Reply {
        let arrival = Arrival {
            now: self.clock().now(),
            replay: None,
        };
        self.refuse_workspace_now(request, arrival)
            .await
            .unwrap_or_else(|Replayed| Reply::internal(&request.request_id))
    }

    /// [`Engine::refuse_workspace`] for a request that arrived as `arrival`, under the deadline.
    pub async fn refuse_workspace_at(
        &self,
        request: &ChatRequest,
        arrival: Arrival,
    ) -> Result<Reply, Replayed> {
        self.within_deadline(
            request,
            Box::pin(self.refuse_workspace_now(request, arrival)),
        )
        .await
    }

    async fn refuse_workspace_now(
        &self,
        request: &ChatRequest,
        arrival: Arrival,
    ) -> Result<Reply, Replayed> {
        tracing::warn!(request_id = %request.request_id, principal = %request.principal, "workspace not allowed");
        let ctx = Ctx::new(&self.core, request, arrival);
        let denial = CommandError::denied(
            Draft::new(Action::Request, Outcome::BadWorkspace)
                .detail("workspace not on the allow-list"),
            "This workspace is not allowed to use otpbot. Ask your otpbot operator.",
        );
        self.deny(&ctx, denial).await
    }

    /// The caller's roles: stored ones plus bootstrap admin.
    pub async fn roles(&self, principal: &Principal) -> StoreResult<Roles> {
        let mut roles = self.stores().access.roles(principal).await?;
        if self.policy().bootstrap_admins.contains(principal) {
            roles.admin = true;
        }
        Ok(roles)
    }

    /// The per-caller pre-check: whether the caller is still within the per-caller limit at
    /// `now`. A read only; the request's decision takes the quota exactly. Front ends that do
    /// work of their own for a request (e.g. resolving mentions) call this first and refuse
    /// with [`Engine::handle_at`] when it says no.
    pub async fn admit(&self, request: &ChatRequest, now: Timestamp) -> StoreResult<bool> {
        let quota = self.policy().caller_quota(&request.person);
        let view = self
            .stores()
            .decisions
            .view(&request.principal, None, std::slice::from_ref(&quota))
            .await?;
        Ok(view
            .logs
            .first()
            .is_none_or(|log| log.admits(quota.limit, now)))
    }

    /// Handles one request end to end, without a deadline: for the operator's own commands.
    /// Never fails: failures become replies.
    pub async fn handle(&self, request: &ChatRequest) -> Reply {
        let arrival = Arrival {
            now: self.clock().now(),
            replay: None,
        };
        let parsed = Command::parse(&request.text, &request.principal);
        self.run(request, arrival, parsed)
            .await
            .unwrap_or_else(|Replayed| Reply::internal(&request.request_id))
    }

    /// Handles one verified chat request that arrived as `arrival`, under the deadline;
    /// `Err(Replayed)` if its replay marker was seen before (then nothing else was done).
    pub async fn handle_at(
        &self,
        request: &ChatRequest,
        arrival: Arrival,
    ) -> Result<Reply, Replayed> {
        let parsed = Command::parse(&request.text, &request.principal);
        self.within_deadline(request, Box::pin(self.run(request, arrival, parsed)))
            .await
    }

    /// Handles a click on `button` (a typed action, never command text) like
    /// [`Engine::handle_at`] handles typed text.
    pub async fn click_at(
        &self,
        request: &ChatRequest,
        arrival: Arrival,
        button: Button,
    ) -> Result<Reply, Replayed> {
        let command = Ok(Command::clicked(button));
        self.within_deadline(request, Box::pin(self.run(request, arrival, command)))
            .await
    }

    /// `work` for `request`, or the "try again" answer once the deadline has passed. The
    /// failure is then recorded on its own, after the answer, as far as the store allows.
    ///
    /// `work` comes boxed: a request's future is kilobytes, and held inline it would be carried
    /// (and copied whenever moved) by every layer above, up to the connection's task.
    async fn within_deadline(
        &self,
        request: &ChatRequest,
        work: Pin<Box<impl Future<Output = Result<Reply, Replayed>>>>,
    ) -> Result<Reply, Replayed> {
        let deadline = self.policy().deadline;
        match tokio::time::timeout(deadline, work).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::error!(request_id = %request.request_id, ?deadline, "no answer within the deadline; told to try again");
                let draft = Draft::new(Action::Request, Outcome::Error)
                    .detail(format!("no answer within {} ms", deadline.as_millis()));
                let event = self.event(request, draft, self.clock().now());
                let audit = self.stores().audit.clone();
                tokio::spawn(async move {
                    let recorded =
                        tokio::time::timeout(AUDIT_LATE_WITHIN, audit.append(&event)).await;
                    if !matches!(recorded, Ok(Ok(()))) {
                        tracing::error!(request_id = %event.request_id, "the late failure was not recorded either");
                    }
                });
                Ok(Reply::internal(&request.request_id))
            }
        }
    }

    /// Runs `parsed` for `request`, which arrived as `arrival`: admission, roles, the command,
    /// and the audit of a refusal or failure.
    #[tracing::instrument(skip_all, fields(request_id = %request.request_id, principal = %request.principal, tool = tracing::field::Empty))]
    async fn run(
        &self,
        request: &ChatRequest,
        arrival: Arrival,
        parsed: Result<Command, CommandError>,
    ) -> Result<Reply, Replayed> {
        let mut ctx = Ctx::new(&self.core, request, arrival);
        let action = parsed.as_ref().map_or(Action::Request, Command::action);
        // A code request checks its per-caller limit with its grant (DynamoDB: one round trip)
        // or in its decision (SQLite).
        if !matches!(parsed, Ok(Command::Code(_))) {
            match self.admit(request, ctx.now).await {
                Ok(true) => {}
                Ok(false) => return self.deny(&ctx, per_caller_denial(action, None)).await,
                Err(e) => return Ok(self.internal(&ctx, action, e.into()).await),
            }
        }
        let command = match parsed {
            Ok(command) => command,
            Err(usage) => return self.deny(&ctx, usage).await,
        };
        if !matches!(command, Command::Code(_)) {
            ctx.roles = match self.roles(&request.principal).await {
                Ok(roles) => roles,
                Err(e) => return Ok(self.internal(&ctx, action, e.into()).await),
            };
        }
        // Boxed, as in `within_deadline`: the commands' futures differ by kilobytes, and this
        // one would otherwise be as large as the largest.
        let reply = match Box::pin(command.apply(&ctx)).await {
            Ok(reply) => reply,
            Err(CommandError::Replayed) => return Err(Replayed),
            Err(err @ (CommandError::Denied { .. } | CommandError::Usage(_))) => {
                return self.deny(&ctx, err).await
            }
            Err(err) => return Ok(self.internal(&ctx, action, err).await),
        };
        if ctx.is_committed() {
            return Ok(reply);
        }
        // A command that records nothing (help, list) still takes its admission.
        match ctx.commit_admission().await {
            Ok(()) => Ok(reply),
            Err(CommandError::Replayed) => Err(Replayed),
            Err(err @ CommandError::Denied { .. }) => self.deny(&ctx, err).await,
            Err(err) => Ok(self.internal(&ctx, action, err).await),
        }
    }

    /// [`Engine::handle_at`] for a front end that must call its platform to finish the command
    /// text (Teams resolves mentions through the Bot Connector): `finish` runs only for a caller
    /// within the per-caller limit ([`Engine::admit`]), and the finished text is then handled like
    /// any other; the limit itself is taken exactly in the request's decision. One deadline
    /// covers it all.
    pub async fn handle_finishing<F, Fut>(
        &self,
        request: &ChatRequest,
        arrival: Arrival,
        finish: F,
    ) -> Result<Reply, Replayed>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = String>,
    {
        self.within_deadline(request, Box::pin(self.finishing(request, arrival, finish)))
            .await
    }

    async fn finishing<F, Fut>(
        &self,
        request: &ChatRequest,
        arrival: Arrival,
        finish: F,
    ) -> Result<Reply, Replayed>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = String>,
    {
        let action = Command::parse(&request.text, &request.principal)
            .as_ref()
            .map_or(Action::Request, Command::action);
        match self.admit(request, arrival.now).await {
            Ok(true) => {}
            Ok(false) => {
                let ctx = Ctx::new(&self.core, request, arrival);
                return self.deny(&ctx, per_caller_denial(action, None)).await;
            }
            Err(e) => {
                let ctx = Ctx::new(&self.core, request, arrival);
                return Ok(self.internal(&ctx, action, e.into()).await);
            }
        }
        let finished = ChatRequest {
            text: finish().await,
            ..request.clone()
        };
        let parsed = Command::parse(&finished.text, &finished.principal);
        self.run(&finished, arrival, parsed).await
    }
}
