//! `/otp <tool>`: the current code, for a caller with a valid grant.

use std::sync::Arc;

use super::args::{show_named, show_user};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{per_caller_denial, CommandError, CommandResult};
use super::groups::grant_via_group;
use crate::domain::{Action, Grant, Outcome, Quota, Timestamp, Tool, ToolName, TotpIssue};
use crate::keys::AuditKey;
use crate::reply::{Audience, CodeCard, FollowUps, Notice, Reply, Tone};
use crate::store::{CodeOutcome, CompleteRecord, DecisionView, Effect, Verdict, WholeCodes};

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
    ///
    /// A store that decides a code whole (SQLite) does all of it in one transaction; a caller
    /// without an unexpired grant of their own there, and every code on a store that reads
    /// first (DynamoDB), goes through [`Code::read_first`].
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        ctx.log_tool(&self.tool);
        let tool_quota = ctx.core.policy().tool_quota(ctx.person(), &self.tool);
        let mut read = None;
        if let Some(whole) = ctx.core.stores.decisions.whole_codes() {
            match self.whole(ctx, whole, tool_quota.clone()).await? {
                Whole::Issued(reply) => return Ok(reply),
                Whole::NoOwnGrant(view) => read = Some(view),
            }
        }
        self.read_first(ctx, tool_quota, read).await
    }

    /// The code decided whole in the store's transaction, from the caller's own grant; or,
    /// when the caller holds none unexpired (one through a group may still give the code), what
    /// the transaction read.
    async fn whole(
        &self,
        ctx: &Ctx<'_>,
        whole: &dyn WholeCodes,
        tool_quota: Quota,
    ) -> CommandResult<Whole> {
        let refuse = Refusals { tool: &self.tool };
        let key = Arc::clone(&ctx.core.audit_key);
        let (tool, route) = (self.tool.clone(), route(ctx));
        let complete: CompleteRecord = Box::new(move |issue, record| {
            record.detail = Some(issued_detail(issue, &route, ""));
            record.code_mac = Some(code_macs(&key, &tool, issue));
        });
        let draft = refuse.draft(Outcome::Issued);
        match ctx.issue_whole(whole, draft, tool_quota, complete).await? {
            CodeOutcome::Issued { tool, grant, issue } => {
                tracing::info!(outcome = "issued", "code issued");
                Ok(Whole::Issued(issued(ctx, &tool, &grant, issue)))
            }
            CodeOutcome::Refused {
                verdict: Verdict::NoGrant | Verdict::Expired(_),
                view,
            } => Ok(Whole::NoOwnGrant(view)),
            CodeOutcome::Refused { verdict, view } => {
                let display = view.tool.as_ref().map_or("", |t| t.display_name.as_str());
                Err(refuse.refusal(verdict, display))
            }
        }
    }

    /// The code read for first: the catalog entry and grant (or one through a group), then
    /// the seed, then the decision, which checks the grant again. `read` is the catalog entry
    /// and grant a whole decision already read, if one did.
    ///
    /// The limits are pre-checked from the view where the store reads them for its decision
    /// anyway (DynamoDB); elsewhere (SQLite) the decision alone checks them, and its verdict
    /// refuses with the same reply and record.
    async fn read_first(
        self,
        ctx: &Ctx<'_>,
        tool_quota: Quota,
        read: Option<DecisionView>,
    ) -> CommandResult<Reply> {
        let stores = &ctx.core.stores;
        let quotas = [ctx.caller_quota(), tool_quota.clone()];
        let prechecked: &[Quota] = if stores.decisions.decides_from_view_logs() {
            &quotas
        } else {
            &[]
        };
        let view = match read {
            Some(view) => view,
            None => {
                stores
                    .decisions
                    .view(ctx.caller(), Some(&self.tool), prechecked)
                    .await?
            }
        };
        let admits = |i: usize| {
            view.logs
                .get(i)
                .is_none_or(|log| log.admits(quotas[i].limit, ctx.now))
        };
        let refuse = Refusals { tool: &self.tool };
        if !admits(0) {
            return Err(refuse.caller_limited());
        }
        let Some(tool) = view.tool.clone() else {
            return Err(refuse.unknown());
        };
        let display = tool.display_name.as_str();
        let grant = match &view.grant {
            Some(g) if g.is_active(ctx.now) => g.clone(),
            own => match grant_via_group(ctx, &self.tool, &refuse.draft(Outcome::Error)).await? {
                Some(via_group) => via_group,
                None => {
                    return Err(match own {
                        Some(g) => refuse.expired(display, g.expires_at),
                        None => refuse.no_grant(display),
                    })
                }
            },
        };
        if !admits(1) {
            return Err(refuse.limited(display));
        }
        let issue = issue(ctx, &self.tool).await?;
        // A grant held through a group is the one the transaction re-checks.
        let effect = Effect::Issue {
            principal: grant.principal.clone(),
            tool: self.tool.clone(),
        };
        let record = self.record(ctx, &refuse, &issue, &grant);
        let verdict = ctx
            .commit_viewed(record, effect, Some(tool_quota), &view)
            .await?;
        refuse.unless_issued(verdict, display)?;
        tracing::info!(outcome = "issued", "code issued");
        Ok(issued(ctx, &tool, &grant, issue))
    }

    /// The "issued" record: how long the code is valid, how it reaches the caller, and the
    /// MACs of both codes the caller sees, so either can be traced back here.
    /// A code through a group names the group as the record's subject (the actor is the member).
    fn record(
        &self,
        ctx: &Ctx<'_>,
        refuse: &Refusals<'_>,
        issue: &TotpIssue,
        grant: &Grant,
    ) -> Draft {
        let via = if grant.principal.is_group() {
            format!("; member of group {}", grant.principal)
        } else {
            String::new()
        };
        let mut record =
            refuse
                .draft(Outcome::Issued)
                .detail(issued_detail(issue, &route(ctx), &via));
        if grant.principal.is_group() {
            record = record.subject(&grant.principal);
        }
        record.code_mac = Some(code_macs(ctx.core.audit_key(), &self.tool, issue));
        record
    }
}

/// How a code decided whole went, short of a refusal.
enum Whole {
    /// Issued: the reply carrying it.
    Issued(Reply),
    /// The caller holds no unexpired grant of their own: the catalog entry and grant read.
    NoOwnGrant(DecisionView),
}

/// How a code reaches its caller, as the "issued" record says it (`; via …`), if the front end
/// said.
fn route(ctx: &Ctx<'_>) -> String {
    ctx.request
        .delivery
        .as_deref()
        .map(|d| format!("; via {d}"))
        .unwrap_or_default()
}

/// The "issued" record's detail: how long the code is valid, its `route` and the group it
/// came `via`, if one.
fn issued_detail(issue: &TotpIssue, route: &str, via: &str) -> String {
    format!("valid {} s{route}{via}", issue.valid_for_secs)
}

/// The code of `tool` (and the next one, near a rollover) at the decision time. Call it only
/// once the caller may have it (SPEC §3.4): the seed is read now and dropped at once.
pub(super) async fn issue(ctx: &Ctx<'_>, tool: &ToolName) -> CommandResult<TotpIssue> {
    let seed = ctx
        .core
        .stores
        .secrets
        .seed(tool)
        .await?
        .ok_or_else(|| CommandError::Inconsistent(format!("tool {tool} has no seed")))?;
    Ok(seed.issue(ctx.now))
}

/// The audit MACs of the codes an issue shows (the current one, and the next near a rollover),
/// as a record's `code_mac`: each shown code can be traced back to its record.
pub(super) fn code_macs(key: &AuditKey, tool: &ToolName, issue: &TotpIssue) -> String {
    let mut macs = vec![key.mac(tool, &issue.code)];
    macs.extend(issue.next.iter().map(|next| key.mac(tool, next)));
    macs.join(",")
}

/// The refusals of a code for `tool`.
struct Refusals<'a> {
    tool: &'a ToolName,
}

/// How a caller without a grant is pointed to one.
const ASK: &str = "Ask for access with the button below or `/otp request <tool>`";

impl Refusals<'_> {
    fn draft(&self, outcome: Outcome) -> Draft {
        Draft::new(Action::Code, outcome).tool(self.tool)
    }

    fn unknown(&self) -> CommandError {
        CommandError::denied(
            self.draft(Outcome::UnknownTool),
            format!(
                "There is no tool called `{}`. Type `/otp list` to see yours.",
                self.tool
            ),
        )
    }

    fn no_grant(&self, display: &str) -> CommandError {
        let msg = format!("You have no access to {display}. {ASK}.");
        CommandError::denied(self.draft(Outcome::NoGrant), msg)
    }

    fn expired(&self, display: &str, at: Timestamp) -> CommandError {
        let msg = format!("Your access to {display} ended at {at}. {ASK} again.");
        CommandError::denied(self.draft(Outcome::Expired), msg)
    }

    /// The per-caller limit's refusal, as the decision's verdict gives it too.
    fn caller_limited(&self) -> CommandError {
        per_caller_denial(Action::Code, Some(self.tool))
    }

    fn limited(&self, display: &str) -> CommandError {
        let msg = format!(
            "Too many codes for {display} in a short time. Wait a few minutes and try again."
        );
        CommandError::denied(
            self.draft(Outcome::RateLimited).detail("per-tool limit"),
            msg,
        )
    }

    /// What the store's verdict on the issuance means: issued, or the refusal it was.
    fn unless_issued(&self, verdict: Verdict, display: &str) -> CommandResult<()> {
        match verdict {
            Verdict::Done { .. } => Ok(()),
            refused => Err(self.refusal(refused, display)),
        }
    }

    /// The refusal a verdict other than `Done` on the issuance is.
    fn refusal(&self, verdict: Verdict, display: &str) -> CommandError {
        match verdict {
            Verdict::NoGrant => self.no_grant(display),
            Verdict::UnknownTool => self.unknown(),
            Verdict::Expired(at) => self.expired(display, at),
            Verdict::Limited(_) => self.limited(display),
            Verdict::Replay => CommandError::Replayed,
            other @ (Verdict::Done { .. }
            | Verdict::Pending
            | Verdict::NoRequest
            | Verdict::Decided
            | Verdict::RequestExpired
            | Verdict::Stale
            | Verdict::TooSoon(_)) => {
                CommandError::Inconsistent(format!("an issuance got a request verdict: {other:?}"))
            }
        }
    }
}

/// The reply carrying an issued code, and the notice to the tool's notice channel, which hears
/// of the issuance, never the code.
fn issued(ctx: &Ctx<'_>, tool: &Tool, grant: &Grant, issue: TotpIssue) -> Reply {
    let notices = tool
        .notify_channel
        .clone()
        .map(|channel| {
            let caller = ctx.caller();
            let via = if grant.principal.is_group() {
                format!(" as a member of {}", show_user(&grant.principal, caller))
            } else {
                String::new()
            };
            let mut line = format!(
                "{} got a {} code{via} (grant by {}",
                show_named(caller, ctx.request.name.as_deref(), caller),
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
    Reply {
        tone: Tone::Info,
        lines: vec![format!("Your access ends at {}.", grant.expires_at)],
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
