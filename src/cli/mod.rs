//! The `otpbot` command line: the server, the operator's tools (enrol seeds, grant, audit), and
//! `otpbot slash`, which signs a request exactly as Slack does. Argument parsing is here; the
//! work is done by the library. Seeds are read from stdin or a hidden prompt, never from argv.

mod admin;
mod audit;
mod serve;
mod slash;
mod tool;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::domain::{Clock, SystemClock};
use crate::engine::{Engine, Policy};
use crate::keys::{load_or_create_key_file, AuditKey};
use crate::store::local::{LocalStore, MasterKey};
use crate::store::Stores;

/// otpbot: TOTP codes for shared accounts, handed out in chat, every issuance audited.
#[derive(Debug, Parser)]
#[command(name = "otpbot", version, about, long_about = None)]
pub struct Cli {
    /// Local store directory.
    #[arg(long, global = true, env = "OTPBOT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Serve Slack slash commands over HTTP.
    Serve(serve::ServeArgs),
    /// Try otpbot: serve on the local store with a demo tool and a demo admin.
    Demo(serve::ServeArgs),
    /// Enrol, list and remove tools (seeds are read from stdin, never from arguments).
    #[command(subcommand)]
    Tool(tool::ToolCommand),
    /// Grant a principal time-bound access to a tool, as the operator.
    Grant(admin::GrantArgs),
    /// Revoke a principal's access to a tool, as the operator.
    Revoke(admin::RevokeArgs),
    /// Give or take away the admin or auditor role, as the operator.
    Role(admin::RoleArgs),
    /// Read or export the audit log.
    Audit(audit::AuditArgs),
    /// Send a slash command to a running server, signed exactly as Slack signs it.
    Slash(slash::SlashArgs),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::from_env().context("invalid configuration")?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    let log_filter = match &cli.command {
        CliCommand::Serve(_) | CliCommand::Demo(_) => settings.log_filter.clone(),
        _ => "warn".to_owned(),
    };
    crate::telemetry::init(&log_filter, settings.log_format);
    for var in &settings.unknown {
        tracing::warn!(variable = %var, "unknown OTPBOT_ variable ignored; check for a typo");
    }
    match cli.command {
        CliCommand::Serve(args) => serve::serve(settings, args).await,
        CliCommand::Demo(args) => serve::demo(settings, args).await,
        CliCommand::Tool(cmd) => tool::run(settings, cmd).await,
        CliCommand::Grant(args) => admin::grant(settings, args).await,
        CliCommand::Revoke(args) => admin::revoke(settings, args).await,
        CliCommand::Role(args) => admin::role(settings, args).await,
        CliCommand::Audit(args) => audit::run(settings, args).await,
        CliCommand::Slash(args) => slash::run(settings, args).await,
    }
}

/// Opens the local store and builds the engine, generating key files on first run.
/// Keys given in the environment are moved out of `settings`.
pub fn open_engine(settings: &mut Settings, policy: Policy) -> anyhow::Result<Engine> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create data directory {}",
            settings.data_dir.display()
        )
    })?;
    let master = match settings.master_key.take() {
        Some(key) => key,
        None => load_or_create_key_file(&settings.key_path("master.key")).context("master key")?,
    };
    let audit = match settings.audit_key.take() {
        Some(key) => key,
        None => load_or_create_key_file(&settings.key_path("audit.key")).context("audit key")?,
    };
    let store = LocalStore::open(&settings.data_dir, MasterKey::new(master))
        .with_context(|| format!("cannot open the store in {}", settings.data_dir.display()))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(Engine::new(
        Stores::single(Arc::new(store)),
        clock,
        Arc::new(AuditKey::new(audit)),
        policy,
    ))
}

/// A request standing for the operator at this terminal: `cli:local:{os user}`.
pub fn operator_request() -> crate::engine::ChatRequest {
    let user: String = std::env::var("USER")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    let user = if user.is_empty() {
        "operator".to_owned()
    } else {
        user
    };
    let principal = crate::domain::Principal::new(crate::domain::Platform::Cli, "local", &user)
        .unwrap_or_else(|_| {
            crate::domain::Principal::parse("cli:local:operator").expect("valid principal")
        });
    crate::engine::ChatRequest {
        request_id: crate::domain::RequestId::new(),
        principal,
        channel: Some("cli".into()),
        text: String::new(),
    }
}
