//! Self-service access: `/otp request <tool> [for <dur>] [reason…]` asks the tool's approvers
//! (admins and holders of the tool's approver role) with a message carrying Approve and Deny
//! buttons; [`super::Decide`] decides. The reply says honestly who was asked: when no approver
//! can be messaged from where the request came, it says so at once and gives the request id to
//! pass to an admin, and when every message fails later the requester is told privately.

use super::approval_message::{approval_buttons, asking_lines};
use super::args::{grant_length, parse_tool, Args};
use super::core::Core;
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use super::groups::with_members;
use crate::domain::{
    AccessRequest, AccessRequestId, Action, GrantDuration, Outcome, Person, Principal,
    RequestState, Timestamp, Tool, ToolName,
};
use crate::reply::{clean, Audience, Notice, Reply};
use crate::store::{Change, Effect, Verdict};

/// Longest requester display name kept with a request, in characters.
pub(super) const NAME_LIMIT: usize = 64;

const REQUEST_USAGE: &str = "/otp request <tool> [for 2h] [reason]";

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
    /// caller's request quota, in one decision; the approvers' messages follow the reply.
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
            requester_person: ctx.person().clone(),
            tool: self.tool.clone(),
            duration,
            reason: self.reason.clone(),
            requested_at: ctx.now,
            expires_at: ctx.now.plus_secs(policy.request_ttl_secs),
            state: RequestState::Open,
            approvals_required: tool.rules.approvals_required,
            approvals: Vec::new(),
            requester_name: ctx.request.name.as_deref().map(|n| clean(n, NAME_LIMIT)),
            decided_by_name: None,
        };
        let detail = match &self.reason {
            Some(reason) => format!("request {} for {duration}: {reason}", request.id),
            None => format!("request {} for {duration}", request.id),
        };
        let effect = Effect::Change {
            change: Change::OpenRequest(request.clone()),
            if_unchanged: None,
        };
        let quota = policy.request_quota(ctx.person());
        let verdict = ctx
            .commit(draft(Outcome::Ok).detail(detail), effect, Some(quota))
            .await?;
        self.opened(verdict, &tool)?;
        let audiences = audiences(ctx, &tool).await;
        Ok(asked(ctx, &request, &tool.display_name, audiences))
    }

    /// What the store's verdict on opening the request means: opened, or why not.
    fn opened(&self, verdict: Verdict, tool: &Tool) -> CommandResult<()> {
        let draft = |outcome| Draft::new(Action::AccessRequest, outcome).tool(&self.tool);
        match verdict {
            Verdict::Done { .. } => Ok(()),
            Verdict::Pending => Err(CommandError::denied(
                draft(Outcome::Invalid).detail("a request is already open"),
                format!(
                    "You already have an open request for {}. Wait for an approver.",
                    tool.display_name
                ),
            )),
            Verdict::UnknownTool => Err(CommandError::denied(
                draft(Outcome::UnknownTool),
                format!("There is no tool called `{}`.", self.tool),
            )),
            Verdict::Limited(_) => Err(CommandError::denied(
                draft(Outcome::RateLimited).detail("request limit"),
                "You have asked for access too often. Wait a while and try again.",
            )),
            other => Err(CommandError::Inconsistent(format!(
                "opening a request: {other:?}"
            ))),
        }
    }
}

/// Who hears of a new request: the tool's approvals channel when it is on the requester's
/// platform, else its approvers directly; nobody when the front end can message no one.
async fn audiences(ctx: &Ctx<'_>, tool: &Tool) -> Vec<Audience> {
    if !ctx.request.reaches_others {
        return Vec::new();
    }
    approver_audiences(ctx.core, tool, (ctx.caller(), ctx.person()), ctx.now).await
}

/// Who is asked about a request of `requester` (the person `person`) for `tool`: its
/// approvals channel when it is on the requester's platform, else its approvers directly.
pub(super) async fn approver_audiences(
    core: &Core,
    tool: &Tool,
    (requester, person): (&Principal, &Person),
    now: Timestamp,
) -> Vec<Audience> {
    // The approvals channel serves requests from its own platform; a request from the other
    // platform goes to the approvers directly, as for a tool without a channel.
    let channel = tool
        .approvals_channel
        .clone()
        .map(Audience::Channel)
        .filter(|to| to.platform() == Some(requester.platform()));
    match channel {
        Some(channel) => vec![channel],
        None => approvers_to_tell(core, &tool.name, (requester, person), now).await,
    }
}

/// The reply to a request stored as `request`, and the approval message for each audience.
fn asked(ctx: &Ctx<'_>, request: &AccessRequest, display: &str, to: Vec<Audience>) -> Reply {
    let (id, duration, until) = (&request.id, request.duration, request.expires_at);
    if to.is_empty() {
        return Reply::info(
            &ctx.request.request_id,
            vec![
                format!(
                    "Your request for {duration} of {display} access is open until {until} \
                     (request `{id}`)."
                ),
                format!(
                    "No approver can be messaged here: give an admin the request id `{id}` to \
                     approve it with `/otp approve {id}`."
                ),
            ],
        );
    }
    let line = format!(
        "Asked the approvers of {display} for {duration} of access (request `{id}`). It stays \
         open until {until}."
    );
    let mut reply = Reply::info(&ctx.request.request_id, vec![line]);
    reply.follow_ups.if_undelivered = Some(format!(
        "No approver could be told of your request `{id}` for {display} access: give an admin \
         the request id `{id}` to approve it with `/otp approve {id}`."
    ));
    reply.follow_ups.record_copies = Some(request.id.clone());
    for to in to {
        reply = reply.with_notice(Notice {
            to,
            lines: asking_lines(request, display),
            buttons: approval_buttons(request),
        });
    }
    reply
}

/// Most approvers messaged directly about one request.
const MAX_DIRECT: usize = 20;

/// The approvers of `tool` to message directly when it has no approvals channel: admins
/// (stored and bootstrap) and its approvers on the requester's platform, never the requester
/// (as a person).
/// A failed read is logged: the request stands and its reply says no one was told.
pub(super) async fn approvers_to_tell(
    core: &Core,
    tool: &ToolName,
    (caller, person): (&Principal, &Person),
    now: Timestamp,
) -> Vec<Audience> {
    let mut people = match core.stores.access.approvers(tool).await {
        Ok(people) => people,
        Err(e) => {
            tracing::warn!(error = %e, "approvers not read; none told");
            return Vec::new();
        }
    };
    people.extend(core.policy().bootstrap_admins.iter().cloned());
    let mut people = with_members(core, caller, now, people).await;
    // Never the requester, in any workspace they may be signed in to.
    people.retain(|p| {
        p != caller && p.platform() == caller.platform() && !Person::from(p).may_be(person)
    });
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
