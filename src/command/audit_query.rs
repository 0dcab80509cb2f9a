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
        let (page, cut) = match &self.user {
            Some(group) if group.is_group() => about_group(auditor.audit, query, group).await?,
            _ => (auditor.audit.query(&query).await?, false),
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
        if cut {
            lines.push(format!(
                "Only the newest {GROUP_SCAN} records were searched for this group: export with \
                 `otpbot audit` to read them all."
            ));
        } else if page.next.is_some() {
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
/// matching the rest of `query`; `next` is set when more remain unread, and the flag when the
/// search stopped at [`GROUP_SCAN`] with fewer found than asked for (older ones may name it).
async fn about_group(
    audit: &dyn AuditStore,
    query: AuditQuery,
    group: &Principal,
) -> CommandResult<(AuditPage, bool)> {
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
                let cut = next.is_some() && found.events.len() < limit;
                found.next = next.or(found.events.get(limit).map(|e| e.id.clone()));
                found.events.truncate(limit);
                return Ok((found, cut));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventId, RequestId, Timestamp};
    use crate::store::StoreResult;

    /// A log of events, newest last, paged newest first as [`AuditStore::query`] promises.
    struct Log(Vec<AuditEvent>);

    #[async_trait::async_trait]
    impl AuditStore for Log {
        async fn append(&self, _: &AuditEvent) -> StoreResult<()> {
            unreachable!("the query only reads")
        }

        async fn query(&self, query: &AuditQuery) -> StoreResult<AuditPage> {
            let end = match &query.before_id {
                Some(id) => self.0.iter().position(|e| &e.id == id).unwrap_or(0),
                None => self.0.len(),
            };
            let start = end.saturating_sub(query.limit);
            let events: Vec<_> = self.0[start..end].iter().rev().cloned().collect();
            let next = if start > 0 {
                events.last().map(|e| e.id.clone())
            } else {
                None
            };
            Ok(AuditPage {
                events,
                next,
                positions: Vec::new(),
            })
        }
    }

    fn event(n: i64, subject: Option<&Principal>) -> AuditEvent {
        let at = Timestamp::from_unix(1_900_000_000 + n);
        AuditEvent {
            id: EventId::new(at),
            at,
            request_id: RequestId::new(),
            actor: Principal::parse("slack:T1:U1").expect("principal"),
            action: Action::Code,
            tool: None,
            subject: subject.cloned(),
            outcome: Outcome::Issued,
            detail: None,
            channel: None,
            code_mac: None,
        }
    }

    fn group() -> Principal {
        Principal::parse("slack-group:T1:S1").expect("group")
    }

    fn query() -> AuditQuery {
        AuditQuery {
            limit: CHAT_LIMIT,
            ..AuditQuery::default()
        }
    }

    #[tokio::test]
    async fn a_group_record_older_than_the_scan_is_reported_as_unsearched() {
        let group = group();
        let mut log = vec![event(0, Some(&group))];
        log.extend((1..=GROUP_SCAN as i64 + 50).map(|n| event(n, None)));
        let (page, cut) = about_group(&Log(log), query(), &group)
            .await
            .expect("query");
        assert!(page.events.is_empty());
        assert!(cut, "the reply must say the search stopped short");
    }

    #[tokio::test]
    async fn a_group_search_that_read_the_whole_log_is_not_cut() {
        let group = group();
        let mut log = vec![event(0, Some(&group))];
        log.extend((1..=300).map(|n| event(n, None)));
        let (page, cut) = about_group(&Log(log), query(), &group)
            .await
            .expect("query");
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].subject.as_ref(), Some(&group));
        assert!(!cut && page.next.is_none());
    }
}
