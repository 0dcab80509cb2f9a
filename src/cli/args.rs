//! The command line as declared: the settings every command takes, and the subcommands.

use clap::{Args, Parser, Subcommand};

use super::{admin, audit, aws, secret, serve, slash, sweep, tool};
use crate::config::SettingsArgs;
#[cfg(feature = "local")]
use crate::startup::local::StoreUse;

/// otpbot: TOTP codes for shared accounts, handed out in chat, every issuance audited.
#[derive(Debug, Parser)]
#[command(name = "otpbot", version, about, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    /// The settings, declared once.
    #[command(flatten)]
    pub settings: SettingsArgs,

    /// What to do. Without one, under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set), otpbot runs
    /// the Lambda handler.
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Serve Slack slash commands and Teams messages over HTTP, each when configured.
    ///
    /// Listens on --listen (OTPBOT_LISTEN, 127.0.0.1:3000 unless set). Slack is served with
    /// OTPBOT_SLACK_SIGNING_SECRET and OTPBOT_SLACK_TEAM_IDS (or over Socket Mode with
    /// --slack-socket-mode and OTPBOT_SLACK_APP_TOKEN), Teams with OTPBOT_TEAMS_APP_ID and
    /// OTPBOT_TEAMS_TENANT_IDS; --teams-playground serves Microsoft's local Teams emulator.
    /// Nothing is created until the settings are found valid and the address is free.
    /// SIGTERM or Ctrl-C stops it after the requests in flight.
    Serve(serve::ServeArgs),
    /// Try otpbot: serve on the local store with a demo tool and a demo admin.
    ///
    /// Serves Slack on --listen (127.0.0.1:3000 unless set) with a made-up signing secret,
    /// workspace T0DEMO, admin <@U123> and the tool `github`, and prints the commands to try.
    /// It only runs on a store it made itself (a new --data-dir). Ctrl-C stops it.
    Demo(serve::ServeArgs),
    /// Enrol, list and remove tools (seeds are read from stdin, never from arguments).
    #[command(subcommand)]
    Tool(tool::ToolCommand),
    /// Grant a principal time-bound access to a tool, as the operator.
    Grant(admin::GrantArgs),
    /// Revoke a principal's access to a tool, as the operator.
    Revoke(admin::RevokeArgs),
    /// Give or take away the admin, auditor or per-tool approver role, as the operator.
    Role(admin::RoleArgs),
    /// Read or export the audit log.
    Audit(audit::AuditArgs),
    /// Send a slash command to a running server, signed exactly as Slack signs it.
    Slash(slash::SlashArgs),
    /// Sweep once: remind approvers of open requests, tell of requests that expired
    /// undecided, warn holders before their grants end (as `serve` does every
    /// OTPBOT_SWEEP_EVERY). Each at most once, even beside a running server.
    Sweep(sweep::SweepArgs),
    /// Store deployment secrets (in SSM on AWS, else in the local store), read from stdin or a
    /// hidden prompt, never from arguments.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Set up the AWS backend's tables (for a local emulator; a deployment uses Terraform).
    #[command(subcommand)]
    Aws(aws::AwsCommand),
    /// Print a shell completion script (e.g. `otpbot completions bash > ~/.local/share/bash-completion/completions/otpbot`).
    Completions(CompletionArgs),
    /// Print help: of the commands, of one command (`otpbot help tool add`), or of the
    /// settings every command takes (`otpbot help settings`).
    Help(HelpArgs),
}

impl CliCommand {
    /// How the command uses the local store, and its name for messages.
    #[cfg(feature = "local")]
    pub(super) fn store_use(&self) -> (StoreUse, &'static str) {
        use StoreUse::{Existing, MayCreate, Unused};
        match self {
            Self::Serve(_) => (MayCreate, "serve"),
            Self::Demo(_) => (MayCreate, "demo"),
            Self::Tool(tool::ToolCommand::Add(_)) => (MayCreate, "tool add"),
            Self::Tool(tool::ToolCommand::Set(_)) => (Existing, "tool set"),
            Self::Tool(tool::ToolCommand::List) => (Existing, "tool list"),
            Self::Tool(tool::ToolCommand::Remove { .. }) => (Existing, "tool remove"),
            Self::Grant(_) => (Existing, "grant"),
            Self::Sweep(_) => (Existing, "sweep"),
            Self::Revoke(_) => (Existing, "revoke"),
            Self::Role(args) if matches!(args.op, admin::RoleOp::Remove) => {
                (Existing, "role remove")
            }
            Self::Role(_) => (MayCreate, "role add"),
            Self::Audit(args) => match &args.command {
                None => (Existing, "audit"),
                // An export is checked with the public key alone: no store at all.
                Some(audit::AuditCommand::Verify(v)) if v.export.is_some() => (Unused, ""),
                Some(audit::AuditCommand::Verify(_)) => (Existing, "audit verify"),
                Some(audit::AuditCommand::Checkpoint) => (Existing, "audit checkpoint"),
                Some(audit::AuditCommand::PublicKey) => (Existing, "audit public-key"),
            },
            Self::Secret(_) => (MayCreate, "secret set"),
            Self::Slash(_) | Self::Aws(_) | Self::Completions(_) | Self::Help(_) => (Unused, ""),
        }
    }
}

/// Secret subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store one secret: slack-signing-secret, slack-bot-token, teams-client-secret, or (AWS)
    /// audit-key (or --generate).
    Set(secret::SecretArgs),
}

/// `otpbot help [settings | <command>…]`
#[derive(Debug, Args)]
pub struct HelpArgs {
    /// `settings`, or a command (e.g. `tool add`); none: the commands.
    #[arg(num_args = 0.., value_name = "TOPIC")]
    pub topic: Vec<String>,
}

/// `otpbot completions <shell>`
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    pub shell: clap_complete::Shell,
}
