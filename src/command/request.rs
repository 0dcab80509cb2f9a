//! Self-service access: `/otp request <tool> [for <dur>] [reason…]` asks the tool's approvers;
//! `/otp approve <id> [for <dur>] [reason…]` and `/otp deny <id> [reason…]` decide. Approvers
//! are admins and holders of the tool's approver role. The first decision wins inside the
//! decision's transaction; an approval makes the grant in that same transaction.

use super::{grant_length, parse_tool, show_user, Args, CommandError, CommandResult, Ctx, Draft};
use crate::domain::{
    AccessRequest, AccessRequestId, Action, Grant, GrantDuration, Outcome, Principal, RequestState,
    ToolName,
};
use crate::reply::{Audience, Button, Notice, Reply};
use crate::store::{Change, Effect, Verdict};

const REQUEST_USAGE: &str = "/otp request <tool> [for 2h] [reason]";
const APPROVE_USAGE: &str = "/otp approve <request> [for 1h] [reason]";
const DENY_USAGE: &str = "/otp deny <request> [reason]";

/// Asks for access to a tool.
#[derive(Debug)]
pub struct RequestAccess {
    /// The tool.
    pub tool: ToolName,
    /// For how long; the tool's default when absent.
    pub duration: Option<GrantDuration>,
    /// Why, as typed.
    pub reason: Option<String>,
}

impl RequestAccess {
    /// `request <tool> [for <dur>] [reason…]`
    pub fn parse(args: &mut Args<'_>) -> CommandResult<Self> {
        let tool = parse_tool(args.require("a tool", REQUEST_USAGE)?)?;
        let (duration, reason) = args.duration_and_reason(REQUEST_USAGE)?;
        Ok(Self {
            tool,
            duration,
            reason,
        })
    }

    /// Checks the tool's limits, then stores the open request with its record, taking the
    /// caller's request quota, in one decision.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let draft = |outcome| Draft::new(Action::AccessRequest, outcome).tool(&self.tool);
        let unknown = || {
            CommandError::denied(
                draft(Outcome::UnknownTool),
                format!("There is no tool called `{}`.", self.tool),
            )
        };
        let access = ctx.core.stores.access.as_ref();
        let Some(tool) = access.tool(&self.tool).await? else {
            return Err(unknown());
        };
        let duration = grant_length(&tool, self.duration, draft(Outcome::Invalid))?;
        let policy = ctx.core.policy();
        let request = AccessRequest {
            id: AccessRequestId::parse(ctx.request.request_id.as_str())
                .ok_or_else(|| CommandError::Inconsistent("request id".into()))?,
            requester: ctx.caller().clone(),
            tool: self.tool.clone(),
            duration,
            reason: self.reason.clone(),
            requested_at: ctx.now,
            expires_at: ctx.now.plus_secs(policy.request_ttl_secs),
            state: RequestState::Open,
        };
        let detail = match &self.reason {
            Some(reason) => format!("request {} for {duration}: {reason}", request.id),
            None => format!("request {} for {duration}", request.id),
        };
        let effect = Effect::Change {
            change: Change::OpenRequest(request.clone()),
            if_unchanged: None,
        };
        let quota = policy.request_quota(ctx.caller());
        match ctx
            .commit(draft(Outcome::Ok).detail(detail), effect, Some(quota))
            .await?
        {
            Verdict::Done { .. } => {}
            Verdict::Pending => {
                let msg = format!(
                    "You already have an open request for {}. Wait for an approver.",
                    tool.display_name
                );
                return Err(CommandError::denied(
                    draft(Outcome::Invalid).detail("a request is already open"),
                    msg,
                ));
            }
            Verdict::UnknownTool => return Err(unknown()),
            Verdict::Limited(_) => {
                return Err(CommandError::denied(
                    draft(Outcome::RateLimited).detail("request limit"),
                    "You have asked for access too often. Wait a while and try again.",
                ))
            }
            other => {
                return Err(CommandError::Inconsistent(format!(
                    "opening a request: {other:?}"
                )))
            }
        }
        let line = format!(
            "Asked the approvers of {} for {duration} of access (request `{}`). It stays open \
             until {}.",
            tool.display_name, request.id, request.expires_at
        );
        let who = show_user(ctx.caller(), ctx.caller());
        let mut lines = vec![format!(
            "{who} asks for {} access for {duration}.",
            tool.display_name
        )];
        if let Some(reason) = &request.reason {
            lines.push(format!("Reason: {reason}"));
        }
        lines.push(format!(
            "Asked at {}; open until {} (request `{}`).",
            request.requested_at, request.expires_at, request.id
        ));
        let mut buttons = vec![Button::Approve(request.id.clone(), None)];
        if let Some(shorter) = shorter_offer(duration) {
            buttons.push(Button::Approve(request.id.clone(), Some(shorter)));
        }
        buttons.push(Button::Deny(request.id.clone()));
        // The approvals channel serves requests from its own platform; a request from the other
        // platform goes to the approvers directly, as for a tool without a channel.
        let channel = tool
            .approvals_channel
            .clone()
            .map(Audience::Channel)
            .filter(|to| to.platform() == Some(ctx.caller().platform()));
        let audiences = match channel {
            Some(channel) => vec![channel],
            None => approvers_to_tell(ctx, &self.tool).await,
        };
        let mut reply = Reply::info(&ctx.request.request_id, vec![line]);
        if audiences.is_empty() {
            reply.lines.push(format!(
                "No approver can be messaged here: give an admin the request id `{}`.",
                request.id
            ));
        }
        for to in audiences {
            reply = reply.with_notice(Notice {
                to,
                lines: lines.clone(),
                buttons: buttons.clone(),
            });
        }
        Ok(reply)
    }
}

/// Most approvers messaged directly about one request.
const MAX_DIRECT: usize = 20;

/// The approvers of `tool` to message directly when it has no approvals channel: admins
/// (stored and bootstrap) and its approvers on the requester's platform, never the requester.
/// A failed read is logged: the request stands and its reply says no one was told.
async fn approvers_to_tell(ctx: &Ctx<'_>, tool: &ToolName) -> Vec<Audience> {
    let caller = ctx.caller();
    let mut people = match ctx.core.stores.access.approvers(tool).await {
        Ok(people) => people,
        Err(e) => {
            tracing::warn!(error = %e, "approvers not read; none told");
            return Vec::new();
        }
    };
    people.extend(ctx.core.policy().bootstrap_admins.iter().cloned());
    people.retain(|p| p != caller && p.platform() == caller.platform());
    people.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    people.dedup();
    if people.len() > MAX_DIRECT {
        tracing::warn!(
            approvers = people.len(),
            told = MAX_DIRECT,
            "too many approvers to message directly; set an approvals channel"
        );
        people.truncate(MAX_DIRECT);
    }
    people.into_iter().map(Audience::Person).collect()
}

/// A shorter grant the approval message offers besides the one asked for: an hour, or a
/// quarter of an hour for requests of an hour or less.
fn shorter_offer(asked: GrantDuration) -> Option<GrantDuration> {
    [3_600, 900]
        .into_iter()
        .filter_map(GrantDuration::from_secs)
        .find(|offer| *offer < asked)
}

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

impl Decide {
    /// `approve <id> [for <dur>] [reason…]` or `deny <id> [reason…]`
    pub fn parse(args: &mut Args<'_>, approve: bool) -> CommandResult<Self> {
        let usage = if approve { APPROVE_USAGE } else { DENY_USAGE };
        let word = args.require("a request id", usage)?;
        let id = AccessRequestId::parse(word).ok_or_else(|| {
            CommandError::Usage(format!(
                "`{}` is not a request id. Usage: `{usage}`",
                super::shorten(word)
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

    /// What a later decision is told about an earlier one.
    fn already(state: &RequestState, viewer: &Principal) -> String {
        match state {
            RequestState::Approved { by, at } => {
                format!("Already approved by {} at {at}.", show_user(by, viewer))
            }
            RequestState::Denied { by, at } => {
                format!("Already denied by {} at {at}.", show_user(by, viewer))
            }
            RequestState::Open => "This request is still open.".into(),
        }
    }

    /// Checks who decides, then commits the decision (and the grant of an approval) with its
    /// record; the store refuses it unless the request is still open and unexpired.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let access = ctx.core.stores.access.as_ref();
        let gone = || {
            CommandError::denied(
                Draft::new(self.action(), Outcome::Invalid)
                    .detail(format!("request {}: none", self.id)),
                format!("There is no request `{}`.", self.id),
            )
        };
        let Some(request) = access.access_request(&self.id).await? else {
            return Err(gone());
        };
        let draft = |outcome: Outcome, detail: String| {
            Draft::new(self.action(), outcome)
                .tool(&request.tool)
                .subject(&request.requester)
                .detail(format!("request {}: {detail}", self.id))
        };
        if &request.requester == ctx.caller() {
            return Err(CommandError::denied(
                draft(Outcome::Forbidden, "self-approval refused".into()),
                "Nobody approves their own request. Another approver will decide.",
            ));
        }
        if !(ctx.roles.admin || access.is_approver(ctx.caller(), &request.tool).await?) {
            return Err(CommandError::denied(
                draft(Outcome::Forbidden, "not an approver".into()),
                "Only admins and the tool's approvers can decide requests.",
            ));
        }
        let expired = |request: &AccessRequest| {
            CommandError::denied(
                draft(
                    Outcome::Expired,
                    format!("expired at {}", request.expires_at),
                ),
                format!("This request expired at {} undecided.", request.expires_at),
            )
        };
        let decided = |state: &RequestState| {
            CommandError::denied(
                draft(Outcome::Invalid, format!("already {}", state.as_str())),
                Self::already(state, ctx.caller()),
            )
        };
        if request.state != RequestState::Open {
            return Err(decided(&request.state));
        }
        if !request.is_open(ctx.now) {
            return Err(expired(&request));
        }
        let unknown = || {
            CommandError::denied(
                draft(Outcome::UnknownTool, "tool removed".into()),
                format!("There is no tool called `{}` any more.", request.tool),
            )
        };
        let Some(tool) = access.tool(&request.tool).await? else {
            return Err(unknown());
        };
        let duration = match self.duration {
            Some(d) if d > request.duration => {
                let msg = format!(
                    "The request is for {}; an approval can only shorten it.",
                    request.duration
                );
                return Err(CommandError::denied(
                    draft(Outcome::Invalid, format!("for {d}: longer than asked")),
                    msg,
                ));
            }
            Some(d) => d,
            None => request.duration.min(tool.max_grant),
        };
        let reason = self.reason.clone().or_else(|| request.reason.clone());
        let grant = self.approve.then(|| Grant {
            principal: request.requester.clone(),
            tool: request.tool.clone(),
            granted_by: ctx.caller().clone(),
            granted_at: ctx.now,
            expires_at: ctx.now.plus_secs(duration.secs()),
            reason: reason.clone(),
        });
        let mut detail = match &grant {
            Some(g) => format!("for {duration} until {}", g.expires_at),
            None => "denied".to_owned(),
        };
        if let Some(why) = &self.reason {
            detail = format!("{detail}: {why}");
        }
        let effect = Effect::Change {
            change: Change::DecideRequest {
                id: self.id.clone(),
                requester: request.requester.clone(),
                tool: request.tool.clone(),
                by: ctx.caller().clone(),
                grant: grant.clone(),
            },
            if_unchanged: None,
        };
        match ctx.commit(draft(Outcome::Ok, detail), effect, None).await? {
            Verdict::Done { .. } => {}
            Verdict::Decided => {
                let state = access
                    .access_request(&self.id)
                    .await?
                    .map_or(RequestState::Open, |r| r.state);
                return Err(decided(&state));
            }
            Verdict::RequestExpired => return Err(expired(&request)),
            Verdict::NoRequest => return Err(gone()),
            Verdict::UnknownTool => return Err(unknown()),
            other => {
                return Err(CommandError::Inconsistent(format!(
                    "deciding a request: {other:?}"
                )))
            }
        }
        let who = show_user(&request.requester, ctx.caller());
        let line = match &grant {
            Some(g) => format!(
                "Approved: {who} has access to {} for {duration}, until {}.",
                tool.display_name, g.expires_at
            ),
            None => format!("Denied {who}'s request for {}.", tool.display_name),
        };
        Ok(Reply::info(&ctx.request.request_id, vec![line]))
    }
}
