//! The `otpbot` command line: the server, the operator's tools (enrol seeds, grant, audit), and
//! `otpbot slash`, which signs a request exactly as Slack does. Argument parsing is here; the
//! work is done by the library. Seeds are read from stdin or a hidden prompt, never from argv.

/// `println!` that ends the command instead of panicking when stdout is a closed pipe
/// (`otpbot tool list | head`): the write error goes up, and `main` exits quietly on it.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say_line(format_args!($($arg)*))?
    };
}

mod admin;
mod audit;
mod aws;
mod checkpoint;
mod export;
mod help;
mod lambda;
#[cfg(feature = "local")]
mod open;
#[cfg(feature = "qr")]
mod qr;
mod secret;
mod serve;
mod slash;
mod socket_mode;
mod tool;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{FromArgMatches, Parser, Subcommand};

use secrecy::ExposeSecret;

use crate::config::{Backend, Settings, SettingsArgs};
use crate::domain::{Clock, SystemClock};
use crate::engine::{Engine, Policy};
use crate::keys::{decode_hex_key, AuditKey, KeyBytes, SigningSecret};
use crate::slack::SlackConfig;
use crate::store::aws::AwsStore;
#[cfg(feature = "local")]
use crate::store::local::LocalStore;
use crate::store::Stores;
use crate::teams::auth::BotAuth;
use crate::teams::connector::Connector;
use crate::teams::TeamsConfig;

pub use lambda::is_scheduled_event;

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
    /// Store deployment secrets (in SSM on AWS, else in the local store), read from stdin or a
    /// hidden prompt, never from arguments.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Set up the AWS backend's tables (for a local emulator; a deployment uses Terraform).
    #[command(subcommand)]
    Aws(aws::AwsCommand),
    /// Print a shell completion script (e.g. `otpbot completions bash > ~/.local/share/bash-completion/completions/otpbot`).
    Completions(help::CompletionArgs),
    /// Print help: of the commands, of one command (`otpbot help tool add`), or of the
    /// settings every command takes (`otpbot help settings`).
    Help(help::HelpArgs),
}

impl CliCommand {
    /// How the command uses the local store, and its name for messages.
    #[cfg(feature = "local")]
    fn store_use(&self) -> (open::StoreUse, &'static str) {
        use open::StoreUse::{Existing, MayCreate, Unused};
        match self {
            Self::Serve(_) => (MayCreate, "serve"),
            Self::Demo(_) => (MayCreate, "demo"),
            Self::Tool(tool::ToolCommand::Add { .. }) => (MayCreate, "tool add"),
            Self::Tool(tool::ToolCommand::Set { .. }) => (Existing, "tool set"),
            Self::Tool(tool::ToolCommand::List) => (Existing, "tool list"),
            Self::Tool(tool::ToolCommand::Remove { .. }) => (Existing, "tool remove"),
            Self::Grant(_) => (Existing, "grant"),
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

impl Cli {
    /// Parses the command line and the environment. Exits as clap does on usage errors and
    /// help; a bad value of a setting that came from its variable is told with the variable's
    /// name, and a secret given on the command line is refused.
    pub fn parse_or_exit() -> Self {
        let mut command = help::command();
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let result = command.try_get_matches_from_mut(&argv).and_then(|matches| {
            refuse_secret_arguments(&matches)?;
            Self::from_arg_matches(&matches)
        });
        match result {
            Ok(cli) => cli,
            Err(err) => {
                if let Some((long, error)) = crate::config::explain(&err, &command) {
                    let flag = format!("--{long}");
                    let given = argv.iter().filter_map(|a| a.to_str()).any(|a| {
                        a == flag || a.strip_prefix(&flag).is_some_and(|r| r.starts_with('='))
                    });
                    if !given {
                        use std::io::Write;
                        let _ =
                            writeln!(std::io::stderr(), "error: invalid configuration: {error}");
                        std::process::exit(2);
                    }
                }
                err.exit()
            }
        }
    }
}

/// Secret values come from the environment or a file: on the command line `ps` and shell
/// history would show them.
fn refuse_secret_arguments(matches: &clap::ArgMatches) -> Result<(), clap::Error> {
    for id in crate::config::SECRET_IDS {
        if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
            let flag = format!("--{}", id.replace('_', "-"));
            return Err(help::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{flag} takes its value from OTPBOT_{0} or a file named in \
                     OTPBOT_{0}_FILE (or {flag}-file), never from the command line, where `ps` \
                     and shell history would show it",
                    id.to_uppercase()
                ),
            ));
        }
    }
    Ok(())
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return lambda::lambda().await;
        }
        anyhow::bail!("no command given; see `otpbot --help` (try `otpbot demo`)");
    };
    match &command {
        CliCommand::Help(args) => return help::help(&args.topic),
        CliCommand::Completions(args) => return help::completions(args),
        _ => {}
    }
    let settings = Settings::from_args(cli.settings).context("invalid configuration")?;
    let log_filter = match &command {
        CliCommand::Serve(_) | CliCommand::Demo(_) => settings.log_filter.clone(),
        // The SDK's own warnings (each failed credential or region source, with a Debug dump)
        // would bury the one line an operator command prints when it fails.
        _ => "warn,aws_config=error".to_owned(),
    };
    crate::telemetry::init(&log_filter, settings.log_format);
    for var in &settings.unknown {
        tracing::warn!(variable = %var, "unknown OTPBOT_ variable ignored; check for a typo");
    }
    #[cfg(feature = "local")]
    {
        let (store_use, name) = command.store_use();
        open::check_data_dir(&settings, store_use, name)?;
    }
    match command {
        CliCommand::Serve(args) => serve::serve(settings, args).await,
        CliCommand::Demo(args) => serve::demo(settings, args).await,
        CliCommand::Tool(cmd) => tool::run(settings, cmd).await,
        CliCommand::Grant(args) => admin::grant(settings, args).await,
        CliCommand::Revoke(args) => admin::revoke(settings, args).await,
        CliCommand::Role(args) => admin::role(settings, args).await,
        CliCommand::Audit(args) => audit::run(settings, args).await,
        CliCommand::Slash(args) => slash::run(settings, args).await,
        CliCommand::Secret(SecretCommand::Set(args)) => secret::set(settings, args).await,
        CliCommand::Aws(cmd) => aws::run(settings, cmd).await,
        CliCommand::Help(_) | CliCommand::Completions(_) => Ok(()),
    }
}

/// The assembled backend: the engine, plus what else start-up needs from the backend.
pub struct App {
    /// The core.
    pub engine: Engine,
    aws: Option<Arc<AwsStore>>,
    /// The local store (local backend), for what only it holds (its deployment secrets).
    #[cfg(feature = "local")]
    local: Option<Arc<LocalStore>>,
    /// The AWS configuration the store was built from, loaded once (AWS backend).
    sdk: Option<aws_config::SdkConfig>,
    /// Where the audit log's signed checkpoints come from.
    checkpoints: checkpoint::Checkpoints,
}

/// The audit key on AWS: from the environment if given, else its SSM parameter (read once).
async fn aws_audit_key(store: &AwsStore, settings: &mut Settings) -> anyhow::Result<KeyBytes> {
    if let Some(key) = settings.audit_key.take() {
        return Ok(key);
    }
    let name = &settings.audit_key_param;
    let text = store
        .parameter(name)
        .await
        .with_context(|| {
            format!(
                "cannot read the audit key from SSM parameter {name}: check the AWS credentials \
                 and region, and that they may ssm:GetParameter it"
            )
        })?
        .with_context(|| {
            format!(
                "SSM parameter {name} (the audit key) does not exist: create it with `otpbot \
                 secret set audit-key --generate`, or set OTPBOT_AUDIT_KEY_PARAM to where it is"
            )
        })?;
    Ok(decode_hex_key(text.expose_secret(), name)?)
}

/// The SSM parameters a server or Lambda reads at start-up, in one call: each secret setting
/// it will use that the environment does not give.
fn startup_parameters(settings: &Settings) -> Vec<String> {
    let mut names = Vec::new();
    if settings.audit_key.is_none() {
        names.push(settings.audit_key_param.clone());
    }
    if settings.slack_enabled() && settings.signing_secret().is_none() {
        names.push(settings.signing_secret_param.clone());
    }
    if settings.slack_enabled() && settings.slack_bot_token.is_none() {
        names.push(settings.slack_bot_token_param.clone());
    }
    if let Some(teams) = settings.teams.as_ref().filter(|t| !t.playground) {
        if teams.client_secret.is_none() {
            names.push(teams.client_secret_param.clone());
        }
    }
    names
}

/// How long AWS calls may take, by who waits for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// A chat request (the server, the Lambda): the answer must reach Slack within its 3 s, so
    /// a slow or absent AWS fails fast and the caller is told to retry. These timeouts bound
    /// each call; the engine bounds a request's calls all together (`Policy::deadline`).
    Chat,
    /// An operator's command: it may wait on a slow link rather than give up on a write that
    /// AWS may still complete, and retry it into a conflict with itself.
    Operator,
}

/// The timeouts of `patience`.
fn aws_timeouts(patience: Patience) -> aws_config::timeout::TimeoutConfig {
    let (connect, attempt, operation) = match patience {
        Patience::Chat => (500, 1_000, 2_500),
        Patience::Operator => (3_000, 10_000, 30_000),
    };
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(connect))
        .operation_attempt_timeout(Duration::from_millis(attempt))
        .operation_timeout(Duration::from_millis(operation))
        .build()
}

/// Loads the AWS configuration once: region, credentials chain, `AWS_ENDPOINT_URL`. Without a
/// region every call would fail, each after probing the instance metadata service, so that is
/// said once, up front.
pub async fn aws_config(patience: Patience) -> anyhow::Result<aws_config::SdkConfig> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(aws_timeouts(patience))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    if config.region().is_none() {
        anyhow::bail!(
            "no AWS region: set AWS_REGION, or AWS_PROFILE to a profile that has a region"
        );
    }
    Ok(config)
}

/// Why a build without the `local` feature (the Lambda package) cannot open the local store.
#[cfg(not(feature = "local"))]
pub(crate) fn no_local_store() -> anyhow::Error {
    anyhow::anyhow!(
        "this build of otpbot has no local store (it was built without the `local` feature, \
         as the Lambda package is); set OTPBOT_BACKEND=aws, or use a full build"
    )
}

/// Writes one line to stdout (see `say!`).
pub(crate) fn say_line(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Whether `err` is a write to a closed stdout pipe: the reader has all it wanted.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// What an operator is told when outbound HTTPS cannot be set up.
const HTTPS_SETUP: &str =
    "cannot set up outbound HTTPS: check the CA certificates named by SSL_CERT_FILE / SSL_CERT_DIR";

impl App {
    /// Opens the configured backend and builds the engine. Keys given in the environment are
    /// moved out of `settings`; local key files are generated on first run.
    pub async fn open(
        settings: &mut Settings,
        policy: Policy,
        patience: Patience,
    ) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        match settings.backend {
            #[cfg(not(feature = "local"))]
            Backend::Local => Err(no_local_store()),
            #[cfg(feature = "local")]
            Backend::Local => {
                let store = open::open_local(settings)?;
                let audit = store.1.clone();
                let signer = Arc::new(checkpoint::local_signer(settings)?);
                let engine = Engine::new(Stores::single(store.0.clone()), clock, audit, policy);
                Ok(Self {
                    engine,
                    aws: None,
                    local: Some(store.0.clone()),
                    sdk: None,
                    checkpoints: checkpoint::Checkpoints::Local {
                        store: store.0,
                        signer,
                    },
                })
            }
            Backend::Aws => {
                // What serves chat takes quotas: each limit must fit the item its times live in.
                if patience == Patience::Chat {
                    for (setting, limit) in [
                        ("OTPBOT_RATE_PER_TOOL", policy.per_tool),
                        ("OTPBOT_RATE_PER_CALLER", policy.per_caller),
                        ("OTPBOT_RATE_PER_REQUEST", policy.per_request),
                    ] {
                        crate::store::aws::check_limit(setting, limit)
                            .map_err(anyhow::Error::msg)?;
                    }
                }
                let sdk = aws_config(patience).await?;
                let store = Arc::new(AwsStore::new(&sdk, settings.aws.clone()));
                if patience == Patience::Chat {
                    let names = startup_parameters(settings);
                    store.start_up(&names).await.with_context(|| {
                        format!(
                            "cannot read the secret settings from SSM ({})",
                            names.join(", ")
                        )
                    })?;
                }
                let audit = aws_audit_key(&store, settings).await?;
                let engine = Engine::new(
                    Stores::single(store.clone()),
                    clock,
                    Arc::new(AuditKey::new(audit)),
                    policy,
                );
                let checkpoints = checkpoint::Checkpoints::Aws {
                    store: store.clone(),
                    kms: aws_sdk_kms::Client::new(&sdk),
                    kms_key: settings.checkpoint_kms_key.clone(),
                };
                Ok(Self {
                    engine,
                    aws: Some(store),
                    #[cfg(feature = "local")]
                    local: None,
                    sdk: Some(sdk),
                    checkpoints,
                })
            }
        }
    }

    /// The Slack settings: the signing secret from the environment, the data directory (demo)
    /// or what the backend keeps (SSM, the local store); read once at start-up.
    pub async fn slack_config(&self, settings: &Settings) -> anyhow::Result<SlackConfig> {
        let secret = match settings.signing_secret() {
            Some(secret) => secret,
            None => {
                let name = secret::SecretName::SlackSigningSecret;
                let value = self
                    .required_secret(settings, name, "OTPBOT_SLACK_SIGNING_SECRET")
                    .await?;
                SigningSecret::new(value.expose_secret().to_owned())
            }
        };
        if settings.slack_workspaces.is_empty() {
            tracing::warn!(
                "OTPBOT_SLACK_TEAM_IDS is empty: every Slack request will be refused; set it to \
                 the workspaces to serve"
            );
        }
        Ok(SlackConfig {
            signing_secret: secret,
            allowed_workspaces: settings.slack_workspaces.clone(),
            web_api: self.slack_web_api(settings).await?,
        })
    }

    /// The Slack Web API client with the bot token: from the environment, else what the
    /// backend keeps (SSM, the local store); `None` without a token.
    pub async fn slack_web_api(
        &self,
        settings: &Settings,
    ) -> anyhow::Result<Option<Arc<crate::slack::web::WebApi>>> {
        let mut web_api = crate::slack::web::WebApi::from_settings(settings)?;
        if web_api.is_none() {
            let token = self
                .stored_secret(settings, secret::SecretName::SlackBotToken)
                .await?;
            if let Some(token) = token {
                let api = crate::slack::web::WebApi::new(
                    &settings.slack_api_url,
                    token.expose_secret().to_owned(),
                )?;
                web_api = Some(Arc::new(api));
            }
        }
        Ok(web_api)
    }
}

impl App {
    /// The Teams settings and clients, when Teams is configured; the client secret comes from
    /// the environment or, on AWS, its SSM parameter, read once.
    pub async fn teams_config(&self, settings: &Settings) -> anyhow::Result<Option<TeamsConfig>> {
        let Some(teams) = &settings.teams else {
            return Ok(None);
        };
        if teams.playground {
            let http = crate::front::client(Duration::from_secs(5)).context(HTTPS_SETUP)?;
            return Ok(Some(TeamsConfig::playground(teams.tenants.clone(), http)));
        }
        let secret = match &teams.client_secret {
            Some(secret) => secret.clone(),
            None => {
                let name = secret::SecretName::TeamsClientSecret;
                self.required_secret(settings, name, "OTPBOT_TEAMS_CLIENT_SECRET")
                    .await?
            }
        };
        let http = crate::front::client(Duration::from_secs(5)).context(HTTPS_SETUP)?;
        Ok(Some(TeamsConfig {
            auth: BotAuth::new(teams.app_id.clone(), teams.openid_url.clone(), http.clone()),
            connector: Connector::new(
                http,
                teams.login_url.clone(),
                teams.app_tenant.clone(),
                teams.app_id.clone(),
                secret,
            ),
            allowed_tenants: teams.tenants.clone(),
        }))
    }

    /// The HTTP state for serving: Slack and Teams, each when configured; at least one must be.
    pub async fn into_state(self, settings: &Settings) -> anyhow::Result<crate::http::AppState> {
        if !settings.slack_enabled() && settings.teams.is_none() {
            anyhow::bail!(
                "neither Slack nor Teams is configured: set OTPBOT_SLACK_SIGNING_SECRET and \
                 OTPBOT_SLACK_TEAM_IDS for Slack, OTPBOT_TEAMS_APP_ID and OTPBOT_TEAMS_TENANT_IDS \
                 for Teams (or try `otpbot demo`)"
            );
        }
        let slack = if settings.slack_enabled() {
            Some(Arc::new(self.slack_config(settings).await?))
        } else {
            None
        };
        let teams = self.teams_config(settings).await?;
        Ok(crate::http::AppState {
            engine: Arc::new(self.engine),
            slack,
            teams: teams.map(Arc::new),
            background: crate::front::Background::default(),
        })
    }
}

/// Reads a secret value from a hidden prompt on a terminal, or from stdin (at most `max` bytes),
/// never from arguments.
pub fn read_secret(prompt: &str, max: u64) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use std::io::{IsTerminal, Read};
    let mut text = zeroize::Zeroizing::new(String::new());
    if std::io::stdin().is_terminal() {
        *text = rpassword::prompt_password(prompt).context("cannot read the value")?;
    } else {
        std::io::stdin()
            .take(max)
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
    }
    Ok(text)
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
        person: crate::domain::Person::from(&principal),
        reaches_others: false,
        principal,
        channel: Some("cli".into()),
        text: String::new(),
        delivery: Some("terminal".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_request_gives_up_inside_slacks_budget_and_an_operator_waits_longer() {
        let chat = aws_timeouts(Patience::Chat);
        let operator = aws_timeouts(Patience::Operator);
        // Slack shows an error when a slash command has no answer after 3 s.
        assert!(chat.operation_timeout().expect("set") < Duration::from_secs(3));
        assert!(
            operator.operation_attempt_timeout().expect("set")
                >= 5 * chat.operation_attempt_timeout().expect("set")
        );
    }
}
