//! `otpbot audit`: read or export the audit log, newest first, page by page (an export of any
//! size streams; it is never loaded whole), check it (`verify`), and take or check signed
//! checkpoints of it (`checkpoint`, `public-key`).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use super::export::{Format, Sink};
use super::{operator_request, App};
use crate::config::Settings;
use crate::domain::{
    Action, AuditEvent, AuditQuery, Clock, GrantDuration, Outcome, Principal, SystemClock,
    Timestamp, ToolName,
};
use crate::engine::{Draft, Engine};

/// `otpbot audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that the audit log is complete, unaltered and extends every checkpoint given
    /// (read-only); or check an exported log with the public key alone.
    Verify(super::verify::VerifyArgs),
    /// Print a signed checkpoint of the log (one JSON object): its record count and head,
    /// signed with the checkpoint key (on AWS: the newest seal's, signed by KMS).
    Checkpoint,
    /// Print the public key (PEM) that checks the checkpoints' signatures.
    PublicKey,
}

/// `otpbot audit`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// `verify`, `checkpoint` or `public-key`; without one, read or export the log.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only events about this tool.
    #[arg(long)]
    pub tool: Option<ToolName>,
    /// Only events by this principal (slack:{team}:{user}).
    #[arg(long)]
    pub user: Option<Principal>,
    /// Only events since: a duration back from now (7d) or a date/time (2026-11-03, RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before: a duration back from now or a date/time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only issuances of this code (with --tool, or --at): checks whether otpbot issued it,
    /// and to whom.
    #[arg(long)]
    pub code: Option<String>,
    /// With --code: when the code was used (e.g. a sign-in time from the account's own log),
    /// as a date/time or a duration back from now. Answers with a verdict: who otpbot issued
    /// that code to in the minutes before, on every tool unless --tool is given.
    #[arg(long, requires = "code", value_name = "TIME")]
    pub at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Stop after this many events (default: all).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Parses a duration back from `now` or an absolute time.
pub(super) fn parse_when(text: &str, now: Timestamp, flag: &str) -> anyhow::Result<Timestamp> {
    if let Some(d) = GrantDuration::parse(text) {
        return Ok(now.plus_secs(-d.secs()));
    }
    Timestamp::parse(text).with_context(|| {
        format!("{flag} `{text}` is neither a duration like 7d nor a date like 2026-11-03")
    })
}

/// Whether `event` is selected by the code filter: no filter, or one of its code MACs matches.
fn issued_code_matches(event: &AuditEvent, wanted: Option<&str>) -> bool {
    match (wanted, event.code_mac.as_deref()) {
        (None, _) => true,
        (Some(wanted), Some(macs)) => macs.split(',').any(|m| m == wanted),
        (Some(_), None) => false,
    }
}

/// Runs `otpbot audit`.
pub async fn run(mut settings: Settings, args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Verify(verify)) => return super::verify::run(settings, verify).await,
        Some(AuditCommand::Checkpoint) => return super::checkpoint::print(settings).await,
        Some(AuditCommand::PublicKey) => {
            return super::checkpoint::print_public_key(settings).await
        }
        None => {}
    }
    let policy = settings.policy();
    let engine = App::open(&mut settings, policy, super::Patience::Operator)
        .await?
        .engine;
    let now = SystemClock.now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_when(s, now, "--since"))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_when(s, now, "--until"))
        .transpose()?;
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

    let mut sink = Sink::new(
        args.format,
        std::io::BufWriter::new(std::io::stdout().lock()),
    )?;
    let mut query = AuditQuery {
        tool: args.tool,
        actor: args.user,
        since,
        until,
        limit: 500,
        ..AuditQuery::default()
    };
    let mut remaining = args.limit.unwrap_or(usize::MAX);
    while remaining > 0 {
        let page = engine.stores().audit.query(&query).await?;
        for (i, event) in page.events.iter().enumerate() {
            if remaining == 0 {
                break;
            }
            if !issued_code_matches(event, code_mac.as_deref()) {
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
        let mac = engine.audit_key().mac_text(&tool, code);
        let mut query = AuditQuery {
            tool: Some(tool.clone()),
            since: Some(since),
            until: Some(until),
            limit: 500,
            ..AuditQuery::default()
        };
        loop {
            let page = engine.stores().audit.query(&query).await?;
            for event in page.events.iter().filter(|e| {
                e.outcome == Outcome::Issued && issued_code_matches(e, Some(mac.as_str()))
            }) {
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
                None => break,
            }
        }
    }
    if found == 0 {
        bail!(
            "no code issued in that window matches: otpbot issued {code} to nobody between {since} \
             and {until}"
        );
    }
    Ok(())
}
