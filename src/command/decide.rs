//! `/otp approve <id> [for <dur>] [reason…]` and `/otp deny <id> [reason…]`, typed or clicked.
//! The first decision wins inside the decision's transaction; an approval makes the grant in
//! that same transaction, and never shortens a grant the requester already holds. Nobody
//! decides a request of their own: persons are compared, not workspace-qualified principals.
//!
//! The reply carries everything that follows: the caller's answer, the request's message as it
//! now stands (for the copy the decision was clicked on), and the requester's notice with a
//! "Get code" button. A refusal carries the request's message too, so a click on a stale copy
//! brings it up to date.

use super::approval_message::{approval_message, settled_message};
use super::args::{shorten, show_named, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use super::request_access::NAME_LIMIT;
use crate::domain::{
    AccessRequest, AccessRequestId, Action, Grant, GrantDuration, MessageRef, Outcome, Principal,
    RequestState, Timestamp, Tool,
};
use crate::reply::{clean, Audience, Button, Notice, Reply};
use crate::store::{Change, Effect, Verdict};

const APPROVE_USAGE: &str = "/otp approve <request> [for 1h] [reason]";
const DENY_USAGE: &str = "/otp deny <request> [reason]";

/// Approves or denies an access request.
#[derive(Debug)]
pub struct Decide {
    /// Approve (`true`) or deny.
    pub approve: bool,
    /// Which request, as typed or carried by a button.
    pub id: AccessRequestId,
    /// A shorter grant than asked for (approvals only).
    pub duration: Option<GrantDuration>,
    /// Why, as typed.
    pub reason: Option<String>,
}

/// Every copy of the request's approval message, to update them all with the decision. A
/// failed read is logged: the decision stands, and the clicked copy is updated all the same.
async fn copies(ctx: &Ctx<'_>, id: &AccessRequestId) -> Vec<MessageRef> {
    match ctx.core.stores.sweep.copies(id).await {
        Ok(copies) => copies,
        Err(e) => {
            tracing::warn!(error = %e, "copies of the request message not read");
            Vec::new()
        }
    }
}

/// What an approval did to the requester's grant.
pub(super) enum Granted {
    /// The approval's grant was stored.
    Made(Grant),
    /// The requester already held a grant that ends later; it stays (its end, as last read).
    Kept(Option<Timestamp>),
}

impl Decide {
    /// `approve <id> [for <dur>] [reason…]` or `deny <id> [reason…]`
    pub fn parse(args: &mut Args<'_>, approve: bool) -> CommandResult<Self> {
        let usage = if approve { APPROVE_USAGE } else { DENY_USAGE };
        let word = args.require("a request id", usage)?;
        let id = AccessRequestId::parse(word).ok_or_else(|| {
            CommandError::Usage(format!(
                "`{}` is not a request id. Usage: `{usage}`",
                shorten(word)
            ))
        })?;
        let (duration, reason) = if approve {
            args.duration_and_reason(usage)?
        } else {
            (None, args.duration_and_reason(usage)?.1)
        };
        Ok(Self {
            approve,
            id,
            duration,
            reason,
        })
    }

    /// The audit action.
    pub fn action(&self) -> Action {
        if self.approve {
            Action::Approve
        } else {
            Action::Deny
        }
    }

    /// The record of this decision on `request`.
    pub(super) fn draft(&self, request: &AccessRequest, outcome: Outcome, detail: &str) -> Draft {
        Draft::new(self.action(), outcome)
            .tool(&request.tool)
            .subject(&request.requester)
            .detail(format!("request {}: {detail}", self.id))
    }

    /// Checks who decides, then commits the decision (and the grant of an approval) with its
    /// record; the store refuses it unless the request is still open and unexpired.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let access = ctx.core.stores.access.as_ref();
        let Some(request) = access.access_request(&self.id).await? else {
            return Err(CommandError::denied(
                Draft::new(self.action(), Outcome::Invalid)
                    .detail(format!("request {}: none", self.id)),
                format!("There is no request `{}`.", self.id),
            ));
        };
        let tool = access.tool(&request.tool).await?;
        let display = tool
            .as_ref()
            .map_or_else(|| request.tool.to_string(), |t| t.display_name.clone());
        let current = approval_message(&request, &display, ctx.now);
        let refused = |err: CommandError| err.with_approval_message(&current);
        let via = self.check(ctx, &request).await.map_err(refused)?;
        let Some(tool) = tool else {
            return Err(refused(CommandError::denied(
                self.draft(&request, Outcome::UnknownTool, "tool removed"),
                format!("There is no tool called `{}` any more.", request.tool),
            )));
        };
        let duration = self.length(&request, &tool).map_err(refused)?;
        if self.approve && request.counts_approvals(&tool.rules) {
            let id = request.id.clone();
            let mut reply = self
                .count(ctx, (request, via.as_ref()), &tool, duration)
                .await?;
            reply.follow_ups.copies = copies(ctx, &id).await;
            return Ok(reply);
        }
        let granted = self
            .commit(ctx, (&request, via.as_ref()), &display, duration)
            .await?;
        let mut reply = self.decided(ctx, &request, &display, duration, granted);
        reply.follow_ups.copies = copies(ctx, &request.id).await;
        Ok(reply)
    }

    /// The grant's length: as asked, or shorter; never longer, nor over the tool's maximum.
    fn length(&self, request: &AccessRequest, tool: &Tool) -> CommandResult<GrantDuration> {
        match self.duration {
            Some(d) if d > request.duration => Err(CommandError::denied(
                self.draft(
                    request,
                    Outcome::Invalid,
                    &format!("for {d}: longer than asked"),
                ),
                format!(
                    "The request is for {}; an approval can only shorten it.",
                    request.duration
                ),
            )),
            Some(d) => Ok(d),
            None => Ok(request.duration.min(tool.max_grant)),
        }
    }

    /// Commits the decision with its record. An approval's grant is stored unless the
    /// requester's grant already ends later, which the store checks in the same transaction
    /// (recording the "kept" record instead).
    /// A decision taken as a member of an approver group (`via`) says so in its record.
    async fn commit(
        &self,
        ctx: &Ctx<'_>,
        (request, via): (&AccessRequest, Option<&Principal>),
        display: &str,
        duration: GrantDuration,
    ) -> CommandResult<Option<Granted>> {
        let grant = self.approve.then(|| self.grant(ctx, request, duration));
        let held = match &grant {
            Some(g) => ctx.core.stores.access.grant(&g.principal, &g.tool).await?,
            None => None,
        };
        let held_until = held.map(|h| h.expires_at);
        let (mut detail, kept) = self.details(duration, grant.as_ref(), held_until);
        if let Some(group) = via {
            detail.push_str(&format!("; as a member of group {group}"));
        }
        let effect = Effect::Change {
            change: Change::DecideRequest {
                id: self.id.clone(),
                requester: request.requester.clone(),
                tool: request.tool.clone(),
                by: ctx.caller().clone(),
                by_name: ctx.request.name.as_deref().map(|n| clean(n, NAME_LIMIT)),
                grant: grant.clone(),
            },
            if_unchanged: kept.map(|kept| ctx.event(self.draft(request, Outcome::Ok, &kept))),
        };
        let verdict = ctx
            .commit(self.draft(request, Outcome::Ok, &detail), effect, None)
            .await?;
        self.committed(ctx, (request, display), verdict, grant, held_until)
            .await
    }

    /// The grant an approval makes: for `duration` from now, with the approver's reason or
    /// else the requester's.
    pub(super) fn grant(
        &self,
        ctx: &Ctx<'_>,
        request: &AccessRequest,
        duration: GrantDuration,
    ) -> Grant {
        Grant {
            principal: request.requester.clone(),
            person: request.requester_person.clone(),
            tool: request.tool.clone(),
            granted_by: ctx.caller().clone(),
            granted_at: ctx.now,
            expires_at: ctx.now.plus_secs(duration.secs()),
            reason: self.reason.clone().or_else(|| request.reason.clone()),
        }
    }

    /// The detail of the decision's record, and for an approval the detail recorded instead
    /// when the requester's grant (held until `held_until`) already ends later.
    fn details(
        &self,
        duration: GrantDuration,
        grant: Option<&Grant>,
        held_until: Option<Timestamp>,
    ) -> (String, Option<String>) {
        let why = self
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let Some(grant) = grant else {
            return (format!("denied{why}"), None);
        };
        let until = held_until.map_or_else(|| "a later time".to_owned(), |t| t.to_string());
        (
            format!("for {duration} until {}{why}", grant.expires_at),
            Some(format!(
                "for {duration}; the grant until {until} stays, as it ends later{why}"
            )),
        )
    }

    /// What the store's verdict means for this decision.
    pub(super) async fn committed(
        &self,
        ctx: &Ctx<'_>,
        (request, display): (&AccessRequest, &str),
        verdict: Verdict,
        grant: Option<Grant>,
        held_until: Option<Timestamp>,
    ) -> CommandResult<Option<Granted>> {
        match verdict {
            Verdict::Done { changed: true } => Ok(grant.map(Granted::Made)),
            Verdict::Done { changed: false } => Ok(Some(Granted::Kept(held_until))),
            Verdict::Decided => {
                let access = ctx.core.stores.access.as_ref();
                let stored = access.access_request(&self.id).await?;
                let stored = stored.unwrap_or_else(|| request.clone());
                Err(self
                    .decided_before(&stored, ctx.caller())
                    .with_approval_message(&approval_message(&stored, display, ctx.now)))
            }
            Verdict::RequestExpired => Err(self
                .expired(request)
                .with_approval_message(&approval_message(request, display, ctx.now))),
            Verdict::NoRequest => Err(CommandError::denied(
                self.draft(request, Outcome::Invalid, "none"),
                format!("There is no request `{}`.", self.id),
            )),
            Verdict::UnknownTool => Err(CommandError::denied(
                self.draft(request, Outcome::UnknownTool, "tool removed"),
                format!("There is no tool called `{}` any more.", request.tool),
            )),
            other => Err(CommandError::Inconsistent(format!(
                "deciding a request: {other:?}"
            ))),
        }
    }

    /// The reply to a committed decision: the caller's answer, the request's settled message,
    /// and the requester's notice (a "Get code" button with an approval).
    pub(super) fn decided(
        &self,
        ctx: &Ctx<'_>,
        request: &AccessRequest,
        display: &str,
        duration: GrantDuration,
        granted: Option<Granted>,
    ) -> Reply {
        let (line, told) = self.said(ctx, request, display, duration, granted.as_ref());
        let (by, at) = (ctx.caller().clone(), ctx.now);
        let settled = AccessRequest {
            state: match granted {
                Some(_) => RequestState::Approved { by, at },
                None => RequestState::Denied { by, at },
            },
            ..request.clone()
        };
        let mut reply = Reply::info(&ctx.request.request_id, vec![line]).with_notice(Notice {
            to: Audience::Person(request.requester.clone()),
            lines: vec![told],
            buttons: match granted {
                Some(_) => vec![Button::GetCode(request.tool.clone())],
                None => Vec::new(),
            },
        });
        let decider = ctx.request.name.as_deref();
        reply.follow_ups.approval_message =
            Some(settled_message(&settled, display, ctx.now, decider));
        reply
    }

    /// What the approver is answered, and what the requester is told, about this decision.
    fn said(
        &self,
        ctx: &Ctx<'_>,
        request: &AccessRequest,
        display: &str,
        duration: GrantDuration,
        granted: Option<&Granted>,
    ) -> (String, String) {
        let requester = &request.requester;
        let who = show_named(requester, request.requester_name.as_deref(), ctx.caller());
        let by = show_named(ctx.caller(), ctx.request.name.as_deref(), requester);
        let id = &self.id;
        match granted {
            Some(Granted::Made(g)) => (
                format!(
                    "Approved: {who} has access to {display} for {duration}, until {}.",
                    g.expires_at
                ),
                format!(
                    "{by} approved your {display} access request (request `{id}`). Your \
                     access ends at {}.",
                    g.expires_at
                ),
            ),
            Some(Granted::Kept(until)) => {
                let until = until.map_or_else(|| "a later time".to_owned(), |t| t.to_string());
                (
                    format!(
                        "Approved: {who} already has access to {display} until {until}, later \
                         than {duration} from now; that grant stays as it is."
                    ),
                    format!(
                        "{by} approved your {display} access request (request `{id}`). Your \
                         access already lasts until {until} and stays so."
                    ),
                )
            }
            None => (
                format!("Denied {who}'s request for {display}."),
                format!("{by} denied your {display} access request (request `{id}`)."),
            ),
        }
    }
}
