//! `/otp break-glass <tool> <reason…>`: in an incident, anyone who may ask for a tool takes a
//! grant at once, for at most the tool's break-glass length (`otpbot tool set <tool>
//! --break-glass 1h`), and gets the code in the same reply. One decision commits the
//! break-glass, its grant and its record (action `break_glass`, with the code's MAC), refused
//! when the same person broke the glass on the tool within `OTPBOT_BREAK_GLASS_EVERY`. The
//! approvals channel, the notice channel and every approver of the tool are told at once,
//! with "Looks right" and "Revoke" buttons for the review ([`super::Review`]). A tool without
//! break-glass refuses it, audited.

use super::args::{parse_tool, Args};
use super::code::{code_macs, issue};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use super::request_access::approvers_to_tell;
use super::review::notice;
use crate::domain::{
    AccessRequestId, Action, BreakGlass, Grant, Outcome, Tool, ToolName, TotpIssue,
};
use crate::reply::{Audience, CodeCard, FollowUps, Notice, Reply, Tone};
use crate::store::{Change, Effect, Verdict};

const USAGE: &str = "/otp break-glass <tool> <reason>";
/// The longest reason kept.
const MAX_REASON: usize = 300;

/// Takes a short grant at once, with a reason.
#[derive(Debug)]
pub struct BreakGlassNow {
    /// The tool.
    pub tool: ToolName,
    /// Why, as typed (required).
    pub reason: String,
}

impl BreakGlassNow {
    /// `break-glass <tool> <reason…>`: the reason is required.
    pub fn parse(args: &mut Args<'_>) -> CommandResult<Self> {
        let tool = parse_tool(args.require("a tool", USAGE)?)?;
        let reason: String = args
            .rest()
            .chars()
            .filter(|c| *c != '`')
            .take(MAX_REASON)
            .collect();
        if reason.trim().is_empty() {
            return Err(CommandError::Usage(format!(
                "Say why you break the glass: `{USAGE}`, e.g. `/otp break-glass {tool} prod \
                 down`."
            )));
        }
        Ok(Self { tool, reason })
    }

    fn draft(&self, outcome: Outcome) -> Draft {
        Draft::new(Action::BreakGlass, outcome).tool(&self.tool)
    }

    /// Checks that the tool allows it, reads the seed, then commits the break-glass with its
    /// grant and its record in one decision; the code and the notices follow in the reply.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        ctx.log_tool(&self.tool);
        let access = ctx.core.stores.access.as_ref();
        let Some(tool) = access.tool(&self.tool).await? else {
            return Err(CommandError::denied(
                self.draft(Outcome::UnknownTool),
                format!("There is no tool called `{}`.", self.tool),
            ));
        };
        let Some(length) = tool.rules.break_glass else {
            return Err(CommandError::denied(
                self.draft(Outcome::Forbidden)
                    .detail(format!("no break-glass on this tool: {}", self.reason)),
                format!(
                    "{} allows no break-glass. Ask its approvers with `/otp request {}`.",
                    tool.display_name, self.tool
                ),
            ));
        };
        if let Some(held) = access.grant(ctx.caller(), &self.tool).await? {
            if held.is_active(ctx.now) {
                return Err(CommandError::denied(
                    self.draft(Outcome::Invalid).detail("already has access"),
                    format!(
                        "You already have access to {} until {}: type `/otp {}` for the code.",
                        tool.display_name, held.expires_at, self.tool
                    ),
                ));
            }
        }
        let glass = self.glass(ctx, ctx.now.plus_secs(length.secs()))?;
        let grant = Grant {
            principal: ctx.caller().clone(),
            person: ctx.person().clone(),
            tool: self.tool.clone(),
            granted_by: ctx.caller().clone(),
            granted_at: ctx.now,
            expires_at: glass.until,
            reason: Some(format!("break-glass: {}", self.reason)),
        };
        let issue = issue(ctx, &self.tool).await?;
        let record = self.record(ctx, &glass, &issue, length.to_string());
        let effect = Effect::Change {
            change: Change::BreakGlass {
                glass: glass.clone(),
                grant,
                every_secs: ctx.core.policy().break_glass_every_secs,
            },
            if_unchanged: None,
        };
        let verdict = ctx.commit(record, effect, None).await?;
        self.unless_broken(verdict, &tool)?;
        let told = audiences(ctx, &tool).await;
        Ok(broken(ctx, &tool, &glass, issue, told))
    }

    fn glass(&self, ctx: &Ctx<'_>, until: crate::domain::Timestamp) -> CommandResult<BreakGlass> {
        Ok(BreakGlass {
            id: AccessRequestId::parse(ctx.request.request_id.as_str())
                .ok_or_else(|| CommandError::Inconsistent("request id".into()))?,
            breaker: ctx.caller().clone(),
            person: ctx.person().clone(),
            tool: self.tool.clone(),
            reason: self.reason.clone(),
            at: ctx.now,
            until,
            review: None,
        })
    }

    /// The record: the break-glass, its length and reason, and the MACs of the codes shown.
    fn record(
        &self,
        ctx: &Ctx<'_>,
        glass: &BreakGlass,
        issue: &TotpIssue,
        length: String,
    ) -> Draft {
        let mut record = self.draft(Outcome::Issued).detail(format!(
            "break-glass {} for {length} until {}: {}; valid {} s",
            glass.id, glass.until, self.reason, issue.valid_for_secs
        ));
        record.code_mac = Some(code_macs(ctx.core.audit_key(), &self.tool, issue));
        record
    }

    /// What the store's verdict means: broken, or why not.
    fn unless_broken(&self, verdict: Verdict, tool: &Tool) -> CommandResult<()> {
        match verdict {
            Verdict::Done { .. } => Ok(()),
            Verdict::TooSoon(again) => Err(CommandError::denied(
                self.draft(Outcome::RateLimited)
                    .detail(format!("once per period; again from {again}")),
                format!(
                    "You broke the glass on {} recently; once per period, again from {again}. \
                     Ask its approvers with `/otp request {}`.",
                    tool.display_name, self.tool
                ),
            )),
            Verdict::UnknownTool => Err(CommandError::denied(
                self.draft(Outcome::UnknownTool),
                format!("There is no tool called `{}` any more.", self.tool),
            )),
            other => Err(CommandError::Inconsistent(format!(
                "breaking the glass: {other:?}"
            ))),
        }
    }
}

/// Who is told at once: the tool's approvals and notice channels, and every approver of the
/// tool (never the breaker), on the breaker's platform.
async fn audiences(ctx: &Ctx<'_>, tool: &Tool) -> Vec<Audience> {
    if !ctx.request.reaches_others {
        return Vec::new();
    }
    let mut told: Vec<Audience> = [&tool.approvals_channel, &tool.notify_channel]
        .into_iter()
        .flatten()
        .map(|c| Audience::Channel(c.clone()))
        .filter(|to| to.platform() == Some(ctx.caller().platform()))
        .collect();
    told.dedup();
    let breaker = (ctx.caller(), ctx.person());
    told.extend(approvers_to_tell(ctx.core, &tool.name, breaker, ctx.now).await);
    told
}

/// The reply: the code, the grant's end, and the notices with the review buttons.
fn broken(
    ctx: &Ctx<'_>,
    tool: &Tool,
    glass: &BreakGlass,
    issue: TotpIssue,
    told: Vec<Audience>,
) -> Reply {
    let id = &glass.id;
    let message = notice(glass, &tool.display_name);
    let notices = told
        .into_iter()
        .map(|to| Notice {
            to,
            lines: message.lines.clone(),
            buttons: message.buttons.clone(),
        })
        .collect::<Vec<_>>();
    let you = if notices.is_empty() {
        "Nobody could be told here; an admin will see it in the audit log."
    } else {
        "The tool's approvers are told and will review it."
    };
    Reply {
        tone: Tone::Info,
        lines: vec![format!(
            "Glass broken: your access to {} ends at {} (break-glass `{id}`). {you}",
            tool.display_name, glass.until
        )],
        code: Some(CodeCard {
            tool_display: tool.display_name.clone(),
            code: issue.code,
            valid_for_secs: issue.valid_for_secs,
            next: issue.next,
        }),
        request_id: ctx.request.request_id.clone(),
        buttons: Vec::new(),
        follow_ups: FollowUps {
            notices,
            ..FollowUps::default()
        },
    }
}
