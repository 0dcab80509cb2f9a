//! `/otp <tool>`: the current code, for a caller with a valid grant.

use super::args::show_user;
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use crate::domain::{Action, Outcome, ToolName};
use crate::reply::{Audience, CodeCard, FollowUps, Notice, Reply, Tone};
use crate::store::{Effect, Verdict};

/// Asks for the current code of a tool.
#[derive(Debug)]
pub struct Code {
    /// The tool.
    pub tool: ToolName,
}

impl Code {
    /// Authorizes, reads the seed, then commits the issuance as one decision (grant re-checked,
    /// replay marker, both rate limits, the "issued" record), and only then returns the code
    /// (SPEC §3.4, §3.5). All at the request's one clock reading.
    #[tracing::instrument(skip_all, fields(tool = %self.tool))]
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let stores = &ctx.core.stores;
        let draft = |outcome| Draft::new(Action::Code, outcome).tool(&self.tool);
        let policy = ctx.core.policy();
        let tool_quota = policy.tool_quota(ctx.person(), &self.tool);
        let quotas = [ctx.caller_quota(), tool_quota.clone()];
        let (tool, view) = tokio::join!(
            stores.access.tool(&self.tool),
            stores
                .decisions
                .view(ctx.caller(), Some(&self.tool), &quotas)
        );
        let (tool, view) = (tool?, view?);
        let admits = |i: usize| {
            view.logs
                .get(i)
                .is_none_or(|log| log.admits(quotas[i].limit, ctx.now))
        };
        if !admits(0) {
            return Err(CommandError::denied(
                draft(Outcome::RateLimited).detail("per-caller limit"),
                "You are sending too many requests. Wait a few minutes and try again.",
            ));
        }
        let unknown = || {
            CommandError::denied(
                draft(Outcome::UnknownTool),
                format!(
                    "There is no tool called `{}`. Type `/otp list` to see yours.",
                    self.tool
                ),
            )
        };
        let Some(tool) = tool else {
            return Err(unknown());
        };
        let ask = "Ask for access with the button below or `/otp request <tool>`";
        let no_grant = || {
            let msg = format!("You have no access to {}. {ask}.", tool.display_name);
            CommandError::denied(draft(Outcome::NoGrant), msg)
        };
        let expired = |at| {
            let msg = format!(
                "Your access to {} ended at {at}. {ask} again.",
                tool.display_name
            );
            CommandError::denied(draft(Outcome::Expired), msg)
        };
        let limited = || {
            let msg = format!(
                "Too many codes for {} in a short time. Wait a few minutes and try again.",
                tool.display_name
            );
            CommandError::denied(draft(Outcome::RateLimited).detail("per-tool limit"), msg)
        };
        let grant = match &view.grant {
            None => return Err(no_grant()),
            Some(g) if !g.is_active(ctx.now) => return Err(expired(g.expires_at)),
            Some(g) => g.clone(),
        };
        if !admits(1) {
            return Err(limited());
        }
        let seed =
            stores.secrets.seed(&self.tool).await?.ok_or_else(|| {
                CommandError::Inconsistent(format!("tool {} has no seed", self.tool))
            })?;
        let issue = seed.issue(ctx.now);
        drop(seed);
        let route = ctx
            .request
            .delivery
            .as_deref()
            .map(|d| format!("; via {d}"))
            .unwrap_or_default();
        let mut record =
            draft(Outcome::Issued).detail(format!("valid {} s{route}", issue.valid_for_secs));
        // Both codes the caller sees are fingerprinted, so either can be traced back here.
        let mut macs = vec![ctx.core.audit_key().mac(&self.tool, &issue.code)];
        macs.extend(
            issue
                .next
                .iter()
                .map(|next| ctx.core.audit_key().mac(&self.tool, next)),
        );
        record.code_mac = Some(macs.join(","));
        let effect = Effect::Issue {
            principal: ctx.caller().clone(),
            tool: self.tool.clone(),
        };
        match ctx
            .commit_viewed(record, effect, Some(tool_quota), &view)
            .await?
        {
            Verdict::Done { .. } => {}
            Verdict::NoGrant => return Err(no_grant()),
            Verdict::UnknownTool => return Err(unknown()),
            Verdict::Expired(at) => return Err(expired(at)),
            Verdict::Limited(_) => return Err(limited()),
            Verdict::Replay => return Err(CommandError::Replayed),
            other @ (Verdict::Pending
            | Verdict::NoRequest
            | Verdict::Decided
            | Verdict::RequestExpired) => {
                return Err(CommandError::Inconsistent(format!(
                    "an issuance got a request verdict: {other:?}"
                )))
            }
        }
        tracing::info!(outcome = "issued", "code issued");
        // The tool's notice channel hears of the issuance, never the code.
        let notices = tool
            .notify_channel
            .clone()
            .map(|channel| {
                let caller = ctx.caller();
                let mut line = format!(
                    "{} got a {} code (grant by {}",
                    show_user(caller, caller),
                    tool.display_name,
                    show_user(&grant.granted_by, caller)
                );
                match &grant.reason {
                    Some(reason) => line.push_str(&format!(", reason: {reason})")),
                    None => line.push(')'),
                }
                Notice {
                    to: Audience::Channel(channel),
                    lines: vec![line],
                    buttons: Vec::new(),
                }
            })
            .into_iter()
            .collect();
        Ok(Reply {
            tone: Tone::Info,
            lines: vec![format!("Your access ends at {}.", grant.expires_at)],
            code: Some(CodeCard {
                tool_display: tool.display_name,
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
        })
    }
}
