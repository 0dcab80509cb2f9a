//! `otpbot tool add|list|remove`: the operator's catalog and seed enrolment.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use super::operator::operator_request;
use super::terminal::read_secret;
use crate::config::Settings;
use crate::domain::{
    Action, GrantDuration, Outcome, Seed, Tool, ToolName, ToolRules, MAX_APPROVALS,
};
use crate::engine::{Draft, Engine};
use crate::startup::{App, Patience};
use crate::store::Change;

/// Tool subcommands.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Enrol a tool. The seed (an otpauth://totp/ URI or a base32 secret) is read from stdin,
    /// a hidden prompt on a terminal, or the QR code image given with --qr. An enrolled tool is
    /// only re-enrolled with --replace.
    Add(AddArgs),
    /// Change a tool's channels (`none` clears one) and its rules: the approvals a request
    /// needs, the break-glass (`off` turns it off). The seed and grant limits stay.
    Set(SetArgs),
    /// List enrolled tools.
    List,
    /// Remove a tool, its seed and every grant for it.
    Remove {
        /// The tool.
        name: ToolName,
    },
}

/// `otpbot tool add`
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Tool name: 1-32 lowercase letters, digits and dashes.
    name: ToolName,
    /// How people call it (default: the name, or the current one with --replace).
    #[arg(long)]
    display_name: Option<String>,
    /// Grant length when an admin names none (default 8h, or the current one with --replace).
    #[arg(long)]
    default_grant: Option<GrantDuration>,
    /// Longest grant admins may give (default 1w, or the current one with --replace).
    #[arg(long)]
    max_grant: Option<GrantDuration>,
    /// Channel told of every code issued for this tool (never the code).
    #[arg(long, value_parser = channel)]
    notify_channel: Option<String>,
    /// Channel access requests for this tool go to (else approvers get direct messages).
    #[arg(long, value_parser = channel)]
    approvals_channel: Option<String>,
    /// Read the seed from the QR code a site shows when setting up 2FA (PNG or JPEG
    /// screenshot); the secret is never printed.
    #[arg(long, value_name = "IMAGE")]
    qr: Option<std::path::PathBuf>,
    /// Replace the seed of an enrolled tool (its settings stay unless given here).
    #[arg(long)]
    replace: bool,
}

/// `otpbot tool set`
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The tool.
    name: ToolName,
    /// Channel told of every code issued (never the code), or `none`.
    #[arg(long, value_parser = channel)]
    notify_channel: Option<String>,
    /// Channel access requests go to, or `none` for direct messages to approvers.
    #[arg(long, value_parser = channel)]
    approvals_channel: Option<String>,
    /// Distinct persons who must approve a request (1 to 5; the requester never counts).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_APPROVALS)))]
    approvals_required: Option<u8>,
    /// Let anyone who may ask for the tool take a grant of at most this long at once, with a
    /// reason, in an incident (`/otp break-glass`); `off` allows none.
    #[arg(long, value_name = "DURATION|off", value_parser = break_glass)]
    break_glass: Option<BreakGlass>,
}

/// The break-glass setting as given: a longest grant, or `off`.
#[derive(Clone, Copy, Debug)]
pub struct BreakGlass(Option<GrantDuration>);

fn break_glass(text: &str) -> Result<BreakGlass, String> {
    if text == "off" {
        return Ok(BreakGlass(None));
    }
    GrantDuration::parse(text)
        .map(|d| BreakGlass(Some(d)))
        .ok_or_else(|| "a duration like 1h, or `off`".into())
}

/// Runs a tool subcommand.
pub async fn run(mut settings: Settings, command: ToolCommand) -> anyhow::Result<()> {
    let policy = settings.policy();
    let engine = App::open(&mut settings, policy, Patience::Operator)
        .await?
        .engine;
    match command {
        ToolCommand::Add(args) => enrol(&engine, args).await,
        ToolCommand::Set(args) => set(&engine, args).await,
        ToolCommand::List => list(&engine).await,
        ToolCommand::Remove { name } => remove(&engine, name).await,
    }
}

/// `otpbot tool add`: a new tool, or with --replace a new seed for an enrolled one (whose
/// settings stay unless given).
async fn enrol(engine: &Engine, args: AddArgs) -> anyhow::Result<()> {
    let name = &args.name;
    let current = engine.stores().access.tool(name).await?;
    match (&current, args.replace) {
        (Some(_), false) => bail!(
            "`{name}` is already enrolled; add --replace to replace its seed (its settings stay \
             unless given)"
        ),
        (None, true) => bail!("there is no tool `{name}` to replace; leave out --replace"),
        _ => {}
    }
    let (default_grant, max_grant) = grant_limits(&args, current.as_ref())?;
    let seed = seed_of(name, args.qr.as_deref())?;
    let tool = Tool {
        display_name: args
            .display_name
            .or(current.as_ref().map(|t| t.display_name.clone()))
            .unwrap_or_else(|| args.name.to_string()),
        notify_channel: args
            .notify_channel
            .or(current.as_ref().and_then(|t| t.notify_channel.clone()))
            .filter(|c| c != NONE),
        approvals_channel: args
            .approvals_channel
            .or(current.as_ref().and_then(|t| t.approvals_channel.clone()))
            .filter(|c| c != NONE),
        name: args.name,
        default_grant,
        max_grant,
        rules: current
            .as_ref()
            .map(|t| t.rules.clone())
            .unwrap_or_default(),
    };
    add(engine, &tool, &seed).await?;
    let done = if args.replace {
        "Replaced the seed of"
    } else {
        "Enrolled"
    };
    say!(
        "{done} `{}` ({}); default grant {default_grant}, max {max_grant}.",
        tool.name,
        tool.display_name
    );
    Ok(())
}

/// The default and the longest grant: as given, else the enrolled tool's, else 8h and 1w.
fn grant_limits(
    args: &AddArgs,
    current: Option<&Tool>,
) -> anyhow::Result<(GrantDuration, GrantDuration)> {
    let default_grant = args
        .default_grant
        .or(current.map(|t| t.default_grant))
        .or(GrantDuration::from_secs(8 * 3600))
        .context("default grant")?;
    let max_grant = args
        .max_grant
        .or(current.map(|t| t.max_grant))
        .or(GrantDuration::from_secs(7 * 86_400))
        .context("max grant")?;
    if default_grant > max_grant {
        bail!("the default grant {default_grant} is longer than the max grant {max_grant}");
    }
    Ok((default_grant, max_grant))
}

/// The seed of tool `name`: from the QR code image at `qr`, or from stdin or a hidden prompt.
fn seed_of(name: &ToolName, qr: Option<&std::path::Path>) -> anyhow::Result<Seed> {
    match qr {
        #[cfg(feature = "qr")]
        Some(path) => super::qr::read_seed(path)
            .with_context(|| format!("no seed for {name} from {}", path.display())),
        #[cfg(not(feature = "qr"))]
        Some(_) => {
            bail!("this build of otpbot reads no QR codes (built without the `qr` feature)")
        }
        None => read_seed(name),
    }
}

/// `otpbot tool set`: a tool's channels changed, with the record of it.
async fn set(engine: &Engine, args: SetArgs) -> anyhow::Result<()> {
    let name = args.name;
    let Some(mut tool) = engine.stores().access.tool(&name).await? else {
        bail!("there is no tool `{name}`");
    };
    if let Some(c) = args.notify_channel {
        tool.notify_channel = (c != NONE).then_some(c);
    }
    if let Some(c) = args.approvals_channel {
        tool.approvals_channel = (c != NONE).then_some(c);
    }
    let rules_given = args.approvals_required.is_some() || args.break_glass.is_some();
    if let Some(n) = args.approvals_required {
        tool.rules.approvals_required = n;
    }
    if let Some(BreakGlass(d)) = args.break_glass {
        tool.rules.break_glass = d;
    }
    let draft = Draft::new(Action::ToolAdd, Outcome::Ok)
        .tool(&name)
        .detail(format!(
            "channels: notify {}, approvals {}; {}",
            tool.notify_channel.as_deref().unwrap_or(NONE),
            tool.approvals_channel.as_deref().unwrap_or(NONE),
            rules_shown(&tool)
        ));
    let change = Change::PutTool {
        tool: tool.clone(),
        seed: None,
    };
    engine
        .change(&operator_request(), change, draft, None)
        .await
        .context("changing the tool failed; nothing was changed")?;
    say!(
        "`{name}`: notices to {}, requests to {}.",
        tool.notify_channel.as_deref().unwrap_or("nowhere"),
        tool.approvals_channel
            .as_deref()
            .unwrap_or("approvers directly")
    );
    if rules_given {
        say!("`{name}`: {}.", rules_shown(&tool));
    }
    Ok(())
}

/// A tool's rules in words: the approvals a request needs and its break-glass.
pub fn rules_shown(tool: &Tool) -> String {
    let approvals = match tool.rules.approvals_required {
        1 => "1 approval per request".to_owned(),
        n => format!("{n} approvals per request"),
    };
    match tool.rules.break_glass {
        Some(d) => format!("{approvals}, break-glass for up to {d}"),
        None => format!("{approvals}, no break-glass"),
    }
}

/// `otpbot tool list`
async fn list(engine: &Engine) -> anyhow::Result<()> {
    let tools = engine.stores().access.tools().await?;
    if tools.is_empty() {
        say!("No tools. Enrol one with: otpbot tool add <name> < seed.txt");
    }
    for t in tools {
        let line = format!(
            "{:<20} {:<30} default {:<4} max {}",
            t.name,
            t.display_name,
            t.default_grant.to_string(),
            t.max_grant
        );
        if t.rules == ToolRules::default() {
            say!("{line}");
        } else {
            say!("{line:<70} {}", rules_shown(&t));
        }
    }
    Ok(())
}

/// `otpbot tool remove`: the tool, its seed and its grants go in one transaction with the
/// record.
async fn remove(engine: &Engine, name: ToolName) -> anyhow::Result<()> {
    let draft = Draft::new(Action::ToolRemove, Outcome::Ok).tool(&name);
    let change = Change::RemoveTool(name.clone());
    let removed = engine
        .change(&operator_request(), change, draft, None)
        .await
        .context("removing the tool failed; nothing was changed")?;
    if !removed {
        bail!("there is no tool `{name}`");
    }
    say!("Removed `{name}`, its seed and its grants.");
    Ok(())
}

/// The word that clears a channel setting.
const NONE: &str = "none";

/// A channel or conversation id: 1-200 printable characters without spaces.
fn channel(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 200
        && text.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if ok {
        Ok(text.to_owned())
    } else {
        Err("a channel id like C0123ABCD (no spaces), or `none`".into())
    }
}

fn read_seed(name: &ToolName) -> anyhow::Result<Seed> {
    let prompt = format!("Seed for {name} (otpauth://totp/ URI or base32 secret, hidden): ");
    let input = read_secret(&prompt, 64 * 1024)?;
    let first_line = input
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    Seed::parse(first_line).with_context(|| format!("the seed for {name} was rejected"))
}

/// Stores tool and seed with the record of it, in one step (see [`Change::PutTool`] for how
/// each backend keeps the seed with it).
pub async fn add(engine: &Engine, tool: &Tool, seed: &Seed) -> anyhow::Result<()> {
    let previous = engine.stores().access.tool(&tool.name).await?;
    let detail = if previous.is_some() {
        "replaced"
    } else {
        "enrolled"
    };
    let draft = Draft::new(Action::ToolAdd, Outcome::Ok)
        .tool(&tool.name)
        .detail(detail);
    let change = Change::PutTool {
        tool: tool.clone(),
        seed: Some(seed.clone()),
    };
    engine
        .change(&operator_request(), change, draft, None)
        .await
        .context("storing the tool failed; nothing was changed")?;
    Ok(())
}
