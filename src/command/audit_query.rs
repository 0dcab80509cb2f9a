//! `/otp audit [<tool>|<@user>] [since <dur>]`: latest audit events, for admins and auditors.

use super::args::{parse_tool, parse_user, shorten, show_user, Args};
use super::ctx::Ctx;
use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use crate::domain::{Action, AuditEvent, AuditQuery, GrantDuration, Outcome, Principal, ToolName};
use crate::reply::Reply;
use crate::store::{AuditPage, AuditStore};

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
            if word.starts_with('<') || word.contains(':') {
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
        let page = match &self.user {
            Some(group) if group.is_group() => about_group(auditor.audit, query, group).await?,
            _ => auditor.audit.query(&query).await?,
        };
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

/// Records read looking for a group's, at most: the log is indexed by actor, and a group is
/// never one, so its records (grants and revocations to it, codes its members got through it)
/// are found among the latest ones by their subject.
const GROUP_SCAN: usize = 1_000;

/// The latest records naming `group` (as subject or actor) among the newest [`GROUP_SCAN`]
/// matching the rest of `query`; `next` is set when more remain unread.
async fn about_group(
    audit: &dyn AuditStore,
    query: AuditQuery,
    group: &Principal,
) -> CommandResult<AuditPage> {
    let limit = query.limit;
    let mut query = AuditQuery {
        actor: None,
        limit: 200,
        ..query
    };
    let (mut found, mut read) = (AuditPage::default(), 0);
    loop {
        let page = audit.query(&query).await?;
        read += page.events.len();
        found.events.extend(
            page.events
                .into_iter()
                .filter(|e| e.subject.as_ref() == Some(group) || &e.actor == group),
        );
        match page.next {
            Some(next) if found.events.len() < limit && read < GROUP_SCAN => {
                query.before_id = Some(next);
            }
            next => {
                found.next = next.or(found.events.get(limit).map(|e| e.id.clone()));
                found.events.truncate(limit);
                return Ok(found);
            }
        }
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
