//! The core: takes a verified, platform-neutral [`ChatRequest`], applies the policy and the
//! command, writes the audit record, and returns a [`Reply`].
//!
//! Order for a code (SPEC §3): caller rate limit → tool exists → grant valid now → per-tool rate
//! limit → read seed → compute code → durable audit append → reply. A failed audit append means
//! an internal-error reply and no code. This module never logs a code or a seed.

use std::collections::HashSet;
use std::sync::Arc;

use crate::command::{Command, CommandError};
use crate::domain::{
    Action, AuditEvent, Clock, EventId, Outcome, Principal, RequestId, Roles, Timestamp, ToolName,
};
use crate::keys::AuditKey;
use crate::reply::Reply;
use crate::store::{AccessStore, AuditStore, StoreResult, Stores};

/// A request after its front end verified it, in platform-neutral form.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// For the reply, the log and the audit record.
    pub request_id: RequestId,
    /// The verified caller.
    pub principal: Principal,
    /// Where it was typed (channel or conversation id), if known.
    pub channel: Option<String>,
    /// The command text, e.g. `grant <@U1> github for 8h`.
    pub text: String,
    /// How the reply reaches the caller privately (recorded with issued codes).
    pub delivery: Option<String>,
}

/// `limit` requests per `window_secs`, estimated over a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u64,
    /// Window length in seconds.
    pub window_secs: i64,
}

impl RateLimit {
    /// Parses `<count>/<duration>`, e.g. `10/10m`.
    pub fn parse(text: &str) -> Option<Self> {
        let (count, window) = text.split_once('/')?;
        let limit = count.trim().parse().ok().filter(|n| *n > 0)?;
        let window = crate::domain::GrantDuration::parse(window)?;
        Some(Self {
            limit,
            window_secs: window.secs(),
        })
    }
}

/// Who is an admin by configuration, and the rate limits.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Principals that are admins whatever the store says (`OTPBOT_ADMINS`).
    pub bootstrap_admins: HashSet<Principal>,
    /// Codes per caller per tool.
    pub per_tool: RateLimit,
    /// Commands per caller, all commands together.
    pub per_caller: RateLimit,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            bootstrap_admins: HashSet::new(),
            per_tool: RateLimit {
                limit: 10,
                window_secs: 600,
            },
            per_caller: RateLimit {
                limit: 30,
                window_secs: 600,
            },
        }
    }
}

/// The parts of an audit event a command decides; the engine adds id, time, request, actor.
#[derive(Debug, Clone)]
pub struct Draft {
    /// What was asked for.
    pub action: Action,
    /// The tool concerned.
    pub tool: Option<ToolName>,
    /// The other principal concerned.
    pub subject: Option<Principal>,
    /// How it ended.
    pub outcome: Outcome,
    /// Short, non-secret detail.
    pub detail: Option<String>,
    /// MAC of an issued code.
    pub code_mac: Option<String>,
}

impl Draft {
    /// A draft with only action and outcome set.
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            action,
            tool: None,
            subject: None,
            outcome,
            detail: None,
            code_mac: None,
        }
    }

    /// Sets the tool.
    pub fn tool(mut self, tool: &ToolName) -> Self {
        self.tool = Some(tool.clone());
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: &Principal) -> Self {
        self.subject = Some(subject.clone());
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The core service. One per process, shared by every front end.
pub struct Engine {
    pub(crate) stores: Stores,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit_key: Arc<AuditKey>,
    pub(crate) policy: Policy,
}

/// Everything a command needs while it runs: the request, the caller's roles, the engine.
pub struct Ctx<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The request.
    pub request: &'a ChatRequest,
    /// The caller's roles, bootstrap admins included.
    pub roles: Roles,
    /// The time the request is judged at.
    pub now: Timestamp,
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
            stores,
            clock,
            audit_key,
            policy,
        }
    }

    /// The stores (for front ends' replay checks and the CLI).
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

    /// Durably appends an audit event for `request`.
    pub async fn audit(&self, request: &ChatRequest, draft: Draft) -> StoreResult<()> {
        let at = self.clock.now();
        let event = AuditEvent {
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
        };
        self.stores.audit.append(&event).await
    }

    /// Refuses a request from a workspace that is not on the allow-list, and audits it.
    pub async fn refuse_workspace(&self, request: &ChatRequest) -> Reply {
        tracing::warn!(request_id = %request.request_id, principal = %request.principal, "workspace not allowed");
        let draft = Draft::new(Action::Request, Outcome::BadWorkspace)
            .detail("workspace not on the allow-list");
        match self.audit(request, draft).await {
            Ok(()) => Reply::refusal(
                &request.request_id,
                "This workspace is not allowed to use otpbot. Ask your otpbot operator.",
            ),
            Err(e) => self.internal(request, Action::Request, e.into()).await,
        }
    }

    /// The caller's roles: stored ones plus bootstrap admin.
    pub async fn roles(&self, principal: &Principal) -> StoreResult<Roles> {
        let mut roles = self.stores.access.roles(principal).await?;
        if self.policy.bootstrap_admins.contains(principal) {
            roles.admin = true;
        }
        Ok(roles)
    }

    /// Counts one request against `limit` for `scope`; `true` if it is within the limit.
    /// Sliding-window estimate from two fixed windows; every attempt counts, denied or not.
    pub async fn within_rate(
        &self,
        scope: &str,
        limit: RateLimit,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let w = limit.window_secs.max(1);
        let window = now.unix().div_euclid(w);
        let counters = &self.stores.counters;
        let expires = Timestamp::from_unix((window + 2) * w);
        let current = counters
            .increment(&format!("rate:{scope}:{window}"), expires, now)
            .await?;
        let previous = counters
            .count(&format!("rate:{scope}:{}", window - 1), now)
            .await?;
        let elapsed = now.unix().rem_euclid(w);
        let weighted_previous = previous as f64 * (w - elapsed) as f64 / w as f64;
        Ok(current as f64 + weighted_previous.floor() <= limit.limit as f64)
    }

    /// Handles one verified request end to end. Never fails: failures become replies.
    #[tracing::instrument(skip_all, fields(request_id = %request.request_id, principal = %request.principal))]
    pub async fn handle(&self, request: &ChatRequest) -> Reply {
        let now = self.clock.now();
        let parsed = Command::parse(&request.text, &request.principal);
        let action = parsed.as_ref().map_or(Action::Request, Command::action);
        if let Some(refusal) = self.caller_limit(request, action, now).await {
            return refusal;
        }
        self.run(request, parsed, now).await
    }

    /// [`Engine::handle`] for a front end that must call its platform to finish the command text
    /// (Teams resolves mentions through the Bot Connector): the per-caller limit is counted
    /// first, on `request` as it is, and `finish` runs only for a caller within it; its text is
    /// then handled like any other, without counting the caller twice.
    #[tracing::instrument(skip_all, fields(request_id = %request.request_id, principal = %request.principal))]
    pub async fn handle_finishing<F, Fut>(&self, request: &ChatRequest, finish: F) -> Reply
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = String>,
    {
        let now = self.clock.now();
        let action = Command::parse(&request.text, &request.principal)
            .as_ref()
            .map_or(Action::Request, Command::action);
        if let Some(refusal) = self.caller_limit(request, action, now).await {
            return refusal;
        }
        let finished = ChatRequest {
            text: finish().await,
            ..request.clone()
        };
        let parsed = Command::parse(&finished.text, &finished.principal);
        self.run(&finished, parsed, now).await
    }

    /// Counts the request against the per-caller limit; the audited refusal if it is over.
    async fn caller_limit(
        &self,
        request: &ChatRequest,
        action: Action,
        now: Timestamp,
    ) -> Option<Reply> {
        match self
            .within_rate(
                &format!("caller:{}", request.principal),
                self.policy.per_caller,
                now,
            )
            .await
        {
            Ok(true) => None,
            Ok(false) => {
                let denial = CommandError::denied(
                    Draft::new(action, Outcome::RateLimited).detail("per-caller limit"),
                    "You are sending too many requests. Wait a few minutes and try again.",
                );
                Some(self.deny(request, denial).await)
            }
            Err(e) => Some(self.internal(request, action, e.into()).await),
        }
    }

    /// Runs a parsed command for a caller within the per-caller limit.
    async fn run(
        &self,
        request: &ChatRequest,
        parsed: Result<Command, CommandError>,
        now: Timestamp,
    ) -> Reply {
        let action = parsed.as_ref().map_or(Action::Request, Command::action);
        let command = match parsed {
            Ok(command) => command,
            Err(usage) => return self.deny(request, usage).await,
        };
        let roles = match self.roles(&request.principal).await {
            Ok(roles) => roles,
            Err(e) => return self.internal(request, action, e.into()).await,
        };
        let ctx = Ctx {
            engine: self,
            request,
            roles,
            now,
        };
        match command.apply(&ctx).await {
            Ok(reply) => reply,
            Err(err @ (CommandError::Denied { .. } | CommandError::Usage(_))) => {
                self.deny(request, err).await
            }
            Err(err) => self.internal(request, action, err).await,
        }
    }

    /// Audits a refusal and turns it into the caller's reply.
    async fn deny(&self, request: &ChatRequest, err: CommandError) -> Reply {
        let (draft, message) = match err {
            CommandError::Denied { draft, message } => (*draft, message),
            CommandError::Usage(message) => (
                Draft::new(Action::Request, Outcome::Invalid).detail(message.clone()),
                message,
            ),
            other => return self.internal(request, Action::Request, other).await,
        };
        tracing::info!(action = %draft.action, outcome = %draft.outcome, "refused");
        match self.audit(request, draft).await {
            Ok(()) => Reply::refusal(&request.request_id, message),
            Err(e) => self.internal(request, Action::Request, e.into()).await,
        }
    }

    /// Logs an internal failure, tries to audit it, and answers generically.
    async fn internal(&self, request: &ChatRequest, action: Action, err: CommandError) -> Reply {
        tracing::error!(request_id = %request.request_id, error = %err, "request failed");
        let draft = Draft::new(action, Outcome::Error).detail("internal error");
        if let Err(e) = self.audit(request, draft).await {
            tracing::error!(request_id = %request.request_id, error = %e, "could not audit the failure either");
        }
        Reply::internal(&request.request_id)
    }
}

/// Write access to grants and roles: only an admin's [`Ctx`] hands it out.
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

impl Ctx<'_> {
    /// The caller.
    pub fn caller(&self) -> &Principal {
        &self.request.principal
    }

    /// Durably records `draft` for this request.
    pub async fn audit(&self, draft: Draft) -> Result<(), CommandError> {
        Ok(self.engine.audit(self.request, draft).await?)
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
