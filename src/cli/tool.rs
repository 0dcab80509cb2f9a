//! `otpbot tool add|list|remove`: the operator's catalog and seed enrolment.

use anyhow::{bail, Context};
use clap::Subcommand;

use super::{operator_request, App};
use crate::config::Settings;
use crate::domain::{Action, GrantDuration, Outcome, Seed, Tool, ToolName};
use crate::engine::{Draft, Engine};

/// Tool subcommands.
#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Enrol a tool, or replace its seed and settings. The seed (an otpauth://totp/ URI or a
    /// base32 secret) is read from stdin, or from a hidden prompt on a terminal.
    Add {
        /// Tool name: 1-32 lowercase letters, digits and dashes.
        name: ToolName,
        /// How people call it (defaults to the name).
        #[arg(long)]
        display_name: Option<String>,
        /// Grant length when an admin names none.
        #[arg(long, default_value = "8h")]
        default_grant: GrantDuration,
        /// Longest grant admins may give.
        #[arg(long, default_value = "1w")]
        max_grant: GrantDuration,
        /// Channel to mention in notices about this tool.
        #[arg(long)]
        notify_channel: Option<String>,
    },
    /// List enrolled tools.
    List,
    /// Remove a tool, its seed and every grant for it.
    Remove {
        /// The tool.
        name: ToolName,
    },
}

/// Runs a tool subcommand.
pub async fn run(mut settings: Settings, command: ToolCommand) -> anyhow::Result<()> {
    let policy = settings.policy();
    let engine = App::open(&mut settings, policy).await?.engine;
    match command {
        ToolCommand::Add {
            name,
            display_name,
            default_grant,
            max_grant,
            notify_channel,
        } => {
            if default_grant > max_grant {
                bail!("--default-grant {default_grant} is longer than --max-grant {max_grant}");
            }
            let seed = read_seed(&name)?;
            let display_name = display_name.unwrap_or_else(|| name.to_string());
            let tool = Tool {
                name,
                display_name,
                default_grant,
                max_grant,
                notify_channel,
            };
            add(&engine, &tool, &seed).await?;
            println!(
                "Enrolled `{}` ({}); default grant {default_grant}, max {max_grant}.",
                tool.name, tool.display_name
            );
        }
        ToolCommand::List => {
            let tools = engine.stores().access.tools().await?;
            if tools.is_empty() {
                println!("No tools. Enrol one with: otpbot tool add <name> < seed.txt");
            }
            for t in tools {
                println!(
                    "{:<20} {:<30} default {:<4} max {}",
                    t.name,
                    t.display_name,
                    t.default_grant.to_string(),
                    t.max_grant
                );
            }
        }
        ToolCommand::Remove { name } => {
            let stores = engine.stores();
            let removed = stores.access.remove_tool(&name).await?;
            let seed_removed = stores.secrets.delete_seed(&name).await?;
            if !removed && !seed_removed {
                bail!("there is no tool `{name}`");
            }
            let draft = Draft::new(Action::ToolRemove, Outcome::Ok).tool(&name);
            engine
                .audit(&operator_request(), draft)
                .await
                .context("audit write failed")?;
            println!("Removed `{name}`, its seed and its grants.");
        }
    }
    Ok(())
}

fn read_seed(name: &ToolName) -> anyhow::Result<Seed> {
    let prompt = format!("Seed for {name} (otpauth://totp/ URI or base32 secret, hidden): ");
    let input = super::read_secret(&prompt, 64 * 1024)?;
    let first_line = input
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    Seed::parse(first_line).with_context(|| format!("the seed for {name} was rejected"))
}

/// Stores seed and tool, then audits; if the audit fails, puts back what was there.
pub async fn add(engine: &Engine, tool: &Tool, seed: &Seed) -> anyhow::Result<()> {
    let stores = engine.stores();
    let previous_tool = stores.access.tool(&tool.name).await?;
    let previous_seed = stores.secrets.seed(&tool.name).await.ok().flatten();
    stores.secrets.put_seed(&tool.name, seed).await?;
    stores.access.put_tool(tool).await?;
    let detail = if previous_tool.is_some() {
        "replaced"
    } else {
        "enrolled"
    };
    let draft = Draft::new(Action::ToolAdd, Outcome::Ok)
        .tool(&tool.name)
        .detail(detail);
    if let Err(e) = engine.audit(&operator_request(), draft).await {
        match (previous_tool, previous_seed) {
            (Some(t), Some(s)) => {
                stores.access.put_tool(&t).await?;
                stores.secrets.put_seed(&t.name, &s).await?;
            }
            _ => {
                stores.access.remove_tool(&tool.name).await?;
                stores.secrets.delete_seed(&tool.name).await?;
            }
        }
        return Err(e).context("audit write failed; the change was rolled back");
    }
    Ok(())
}
