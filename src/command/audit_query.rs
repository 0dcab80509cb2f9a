//! `/otp audit [<tool>|<@user>] [since <dur>]`: latest audit events, for admins and auditors.

use super::args::{parse_tool, parse_user, shorten, show_user, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use crate::domain::{Action, AuditEvent, AuditQuery, GrantDuration, Outcome, Principal, ToolName};
use crate::reply::Reply;

const USAGE: &str = "/otp audit [<tool>|@user] [since 7d]";

/// How many events a chat reply shows; the CLI exports everything.
pub const CHAT_LIMIT: usize = 20;

/// Shows the latest audit events, optionally filtered.
#[derive(Debug)]
pub struct Audit {
    /// Only this tool.
    pub tool: Option<ToolName>,
    /// Only this actor.
    pub user: Option<Principal>,
    /// Only this far back.
    pub since: Option<GrantDuration>,
}

impl Audit {
    /// `audit [<tool>|<@user>] [since <dur>]`
    pub fn parse(args: &mut Args<'_>, caller: &Principal) -> CommandResult<Self> {
        let (mut tool, mut user, mut since) = (None, None, None);
        if let Some(word) = args.peek().filter(|w| !w.eq_ignore_ascii_case("since")) {
            args.word();
            if word.starts_with("<@") {
                user = Some(parse_user(word, caller)?);
            } else {
                tool = Some(parse_tool(word)?);
            }
        }
        if args.peek().is_some_and(|w| w.eq_ignore_ascii_case("since")) {
            args.word();
            let text = args.require("a duration", USAGE)?;
            since = Some(GrantDuration::parse(text).ok_or_else(|| {
                CommandError::Usage(format!(
                    "`{}` is not a duration like 30m, 8h, 7d or 2w.",
                    shorten(text)
                ))
            })?);
        }
        Ok(Self { tool, user, since })
    }

    /// Queries the log through the auditor view; the query itself is audited.
    pub async fn apply(self, ctx: &Ctx<'_>) -> CommandResult<Reply> {
        let auditor = ctx.auditor(Action::Audit)?;
        let query = AuditQuery {
            tool: self.tool.clone(),
            actor: self.user.clone(),
            since: self.since.map(|d| ctx.now.plus_secs(-d.secs())),
            limit: CHAT_LIMIT,
            ..AuditQuery::default()
        };
        let page = auditor.audit.query(&query).await?;
        let mut filter = Vec::new();
        if let Some(tool) = &self.tool {
            filter.push(tool.to_string());
        }
        if let Some(user) = &self.user {
            filter.push(user.to_string());
        }
        if let Some(since) = self.since {
            filter.push(format!("since {since}"));
        }
        let mut draft = Draft::new(Action::Audit, Outcome::Ok).detail(filter.join(" "));
        draft.tool = self.tool.clone();
        draft.subject = self.user.clone();
        ctx.audit(draft).await?;
        let mut lines = vec![format!(
            "Latest {} event(s), newest first:",
            page.events.len()
        )];
        lines.extend(page.events.iter().map(|e| line(e, ctx.caller())));
        if page.next.is_some() {
            lines.push(
                "More events exist: narrow the filter, or export with `otpbot audit`.".into(),
            );
        }
        Ok(Reply::info(&ctx.request.request_id, lines))
    }
}

fn line(e: &AuditEvent, viewer: &Principal) -> String {
    let mut parts = vec![
        e.at.to_string(),
        show_user(&e.actor, viewer),
        e.action.to_string(),
    ];
    if let Some(tool) = &e.tool {
        parts.push(format!("`{tool}`"));
    }
    if let Some(subject) = &e.subject {
        parts.push(show_user(subject, viewer));
    }
    parts.push(e.outcome.to_string());
    if let Some(detail) = e.detail.as_deref().filter(|d| !d.is_empty()) {
        parts.push(format!("({})", detail.replace('`', "'")));
    }
    parts.join(" ")
}
