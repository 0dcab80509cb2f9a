//! `otpbot audit` without a subcommand: read or export the audit log, newest first, page by
//! page (an export of any size streams; it is never loaded whole), or say who otpbot issued a
//! given code to.

use anyhow::{bail, Context};

use super::args::AuditArgs;
use super::export::{Format, Sink};
use super::when::parse_when;
use crate::cli::operator::operator_request;
use crate::config::Settings;
use crate::domain::{
    Action, AuditEvent, AuditQuery, Clock, Outcome, Principal, SystemClock, Timestamp, ToolName,
};
use crate::engine::{Draft, Engine};
use crate::startup::{App, Patience};

/// Whether `event` is selected by the code filter: no filter, or one of its code MACs matches.
fn issued_code_matches(event: &AuditEvent, wanted: Option<&str>) -> bool {
    match (wanted, event.code_mac.as_deref()) {
        (None, _) => true,
        (Some(wanted), Some(macs)) => macs.split(',').any(|m| m == wanted),
        (Some(_), None) => false,
    }
}

/// Reads or exports the log as `args` select, or with `--code` and `--at` answers whose code
/// it was.
pub(super) async fn read(mut settings: Settings, args: AuditArgs) -> anyhow::Result<()> {
    let policy = settings.policy();
    let engine = App::open(&mut settings, policy, Patience::Operator)
        .await?
        .engine;
    let now = SystemClock.now();
    let when = |text: &Option<String>, flag| {
        text.as_deref()
            .map(|s| parse_when(s, now, flag))
            .transpose()
    };
    let since = when(&args.since, "--since")?;
    let until = when(&args.until, "--until")?;
    if let (Some(code), Some(at)) = (&args.code, &args.at) {
        let at = parse_when(at, now, "--at")?;
        return verdict(&engine, code.trim(), at, args.tool.as_ref()).await;
    }
    let code_mac = match (&args.code, &args.tool) {
        (Some(code), Some(tool)) => Some(engine.audit_key().mac_text(tool, code.trim())),
        (Some(_), None) => bail!("--code needs --tool, or --at to search every tool"),
        _ => None,
    };
    let detail = format!("export {:?}", args.format).to_lowercase();
    let mut draft = Draft::new(Action::Audit, Outcome::Ok).detail(detail);
    draft.tool = args.tool.clone();
    draft.subject = args.user.clone();
    engine
        .audit(&operator_request(), draft)
        .await
        .context("audit write failed")?;
    // A group is never an actor: its records are found by their subject.
    let group = args.user.clone().filter(Principal::is_group);
    let query = AuditQuery {
        tool: args.tool,
        actor: args.user.filter(|u| !u.is_group()),
        since,
        until,
        limit: 500,
        ..AuditQuery::default()
    };
    let remaining = args.limit.unwrap_or(usize::MAX);
    let only = Only {
        code_mac: code_mac.as_deref(),
        group: group.as_ref(),
    };
    export(&engine, query, only, remaining, args.format).await
}

/// Which of the events a query selects are exported.
struct Only<'a> {
    /// Only the issuance of the code of this MAC.
    code_mac: Option<&'a str>,
    /// Only the events about this group.
    group: Option<&'a Principal>,
}

/// Writes up to `remaining` events `query` selects (those `only` names) as `format`, newest
/// first, page by page.
async fn export(
    engine: &Engine,
    mut query: AuditQuery,
    only: Only<'_>,
    mut remaining: usize,
    format: Format,
) -> anyhow::Result<()> {
    let mut sink = Sink::new(format, std::io::BufWriter::new(std::io::stdout().lock()))?;
    while remaining > 0 {
        let page = engine.stores().audit.query(&query).await?;
        for (i, event) in page.events.iter().enumerate() {
            if remaining == 0 {
                break;
            }
            let about_group = only
                .group
                .is_none_or(|g| event.subject.as_ref() == Some(g) || &event.actor == g);
            if !about_group || !issued_code_matches(event, only.code_mac) {
                continue;
            }
            remaining -= 1;
            sink.write(event, page.positions.get(i))?;
        }
        match page.next {
            Some(next) => query.before_id = Some(next),
            None => break,
        }
    }
    sink.finish()?;
    Ok(())
}

/// How long before its use a code may have been issued: its own 30 s step, the next code
/// shown with it, and the step or two of clock drift sites accept, with room to spare.
const ISSUED_BEFORE_USE_SECS: i64 = 5 * 60;
/// How long after the stated time of use: clocks on either side may be a little off.
const ISSUED_AFTER_USE_SECS: i64 = 60;

/// `otpbot audit --code C --at T`: which issuances of code `C` could have been used at `T`.
async fn verdict(
    engine: &Engine,
    code: &str,
    at: Timestamp,
    tool: Option<&ToolName>,
) -> anyhow::Result<()> {
    let tools = match tool {
        Some(tool) => vec![tool.clone()],
        None => engine
            .stores()
            .access
            .tools()
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect(),
    };
    let (since, until) = (
        at.plus_secs(-ISSUED_BEFORE_USE_SECS),
        at.plus_secs(ISSUED_AFTER_USE_SECS),
    );
    let mut draft = Draft::new(Action::Audit, Outcome::Ok).detail(format!("code verdict at {at}"));
    draft.tool = tool.cloned();
    engine
        .audit(&operator_request(), draft)
        .await
        .context("audit write failed")?;
    let mut found = 0usize;
    for tool in tools {
        found += issuances(engine, code, &tool, since, until).await?;
    }
    if found == 0 {
        bail!(
            "no code issued in that window matches: otpbot issued {code} to nobody between {since} \
             and {until}"
        );
    }
    Ok(())
}

/// Prints each issuance of `code` for `tool` between `since` and `until`; how many there were.
async fn issuances(
    engine: &Engine,
    code: &str,
    tool: &ToolName,
    since: Timestamp,
    until: Timestamp,
) -> anyhow::Result<usize> {
    let mac = engine.audit_key().mac_text(tool, code);
    let mut query = AuditQuery {
        tool: Some(tool.clone()),
        since: Some(since),
        until: Some(until),
        limit: 500,
        ..AuditQuery::default()
    };
    let mut found = 0;
    loop {
        let page = engine.stores().audit.query(&query).await?;
        for event in page
            .events
            .iter()
            .filter(|e| e.outcome == Outcome::Issued && issued_code_matches(e, Some(mac.as_str())))
        {
            found += 1;
            say!(
                "issued by otpbot to {} at {} ({} code, request {})",
                event.actor,
                event.at,
                tool,
                event.request_id
            );
        }
        match page.next {
            Some(next) => query.before_id = Some(next),
            None => return Ok(found),
        }
    }
}
