//! The `otpbot` command line: the server, the operator's tools (enrol seeds, grant, audit), and
//! `otpbot slash`, which signs a request exactly as Slack does. Argument parsing is here; the
//! work is done by the library. Seeds are read from stdin or a hidden prompt, never from argv.

mod admin;
mod audit;
mod secret;
mod serve;
mod slash;
mod tool;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use secrecy::ExposeSecret;

use crate::config::{Backend, Settings};
use crate::domain::{Clock, SystemClock};
use crate::engine::{Engine, Policy};
use crate::keys::{decode_hex_key, load_or_create_key_file, AuditKey, SigningSecret};
use crate::slack::SlackConfig;
use crate::store::aws::AwsStore;
use crate::store::local::{LocalOptions, LocalStore, MasterKey};
use crate::store::Stores;
use crate::teams::auth::BotAuth;
use crate::teams::connector::Connector;
use crate::teams::TeamsConfig;

/// otpbot: TOTP codes for shared accounts, handed out in chat, every issuance audited.
#[derive(Debug, Parser)]
#[command(name = "otpbot", version, about, long_about = None)]
pub struct Cli {
    /// Local store directory.
    #[arg(long, global = true, env = "OTPBOT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// What to do. Without one, under AWS Lambda (`AWS_LAMBDA_RUNTIME_API` set), otpbot runs
    /// the Lambda handler.
    #[command(subcommand)]
    pub command: Option<CliCommand>,
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
    /// Write deployment secrets into SSM (AWS backend), read from stdin, never from arguments.
    #[command(subcommand)]
    Secret(SecretCommand),
}

/// Secret subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Write one secret: slack-signing-secret, audit-key (or --generate), teams-client-secret.
    Set(secret::SecretArgs),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::from_env().context("invalid configuration")?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    let Some(command) = cli.command else {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return lambda(settings).await;
        }
        anyhow::bail!("no command given; see `otpbot --help` (try `otpbot demo`)");
    };
    let log_filter = match &command {
        CliCommand::Serve(_) | CliCommand::Demo(_) => settings.log_filter.clone(),
        _ => "warn".to_owned(),
    };
    crate::telemetry::init(&log_filter, settings.log_format);
    for var in &settings.unknown {
        tracing::warn!(variable = %var, "unknown OTPBOT_ variable ignored; check for a typo");
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
    }
}

/// The assembled backend: the engine, plus what else start-up needs from the backend.
pub struct App {
    /// The core.
    pub engine: Engine,
    aws: Option<Arc<AwsStore>>,
}

/// Timeouts that keep a request inside Slack's 3 s budget even when AWS is slow or down.
fn aws_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(1_000))
        .operation_timeout(Duration::from_millis(2_500))
        .build()
}

/// Loads the AWS configuration once: region, credentials chain, `AWS_ENDPOINT_URL`.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(aws_timeouts())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

/// What an operator is told when outbound HTTPS cannot be set up.
const HTTPS_SETUP: &str =
    "cannot set up outbound HTTPS: check the CA certificates named by SSL_CERT_FILE / SSL_CERT_DIR";

impl App {
    /// Opens the configured backend and builds the engine. Keys given in the environment are
    /// moved out of `settings`; local key files are generated on first run.
    pub async fn open(settings: &mut Settings, policy: Policy) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        match settings.backend {
            Backend::Local => {
                crate::store::local::create_private_dir(&settings.data_dir).with_context(|| {
                    format!(
                        "cannot create data directory {}",
                        settings.data_dir.display()
                    )
                })?;
                let master = match settings.master_key.take() {
                    Some(key) => key,
                    None => load_or_create_key_file(&settings.key_path("master.key"))
                        .context("master key")?,
                };
                let audit = match settings.audit_key.take() {
                    Some(key) => key,
                    None => load_or_create_key_file(&settings.key_path("audit.key"))
                        .context("audit key")?,
                };
                let audit = Arc::new(AuditKey::new(audit));
                let store = LocalStore::open_chained(
                    &settings.data_dir,
                    MasterKey::new(master),
                    LocalOptions::default(),
                    Some(audit.clone()),
                )
                .with_context(|| {
                    format!("cannot open the store in {}", settings.data_dir.display())
                })?;
                let engine = Engine::new(Stores::single(Arc::new(store)), clock, audit, policy);
                Ok(Self { engine, aws: None })
            }
            Backend::Aws => {
                let store = Arc::new(AwsStore::new(&aws_config().await, settings.aws.clone()));
                let audit = match settings.audit_key.take() {
                    Some(key) => key,
                    None => {
                        let name = &settings.audit_key_param;
                        let text = store
                            .parameter(name)
                            .await
                            .with_context(|| {
                                format!("cannot read the audit key from SSM parameter {name}")
                            })?
                            .with_context(|| {
                                format!("SSM parameter {name} (the audit key) does not exist")
                            })?;
                        decode_hex_key(text.expose_secret(), name)?
                    }
                };
                let engine = Engine::new(
                    Stores::single(store.clone()),
                    clock,
                    Arc::new(AuditKey::new(audit)),
                    policy,
                );
                Ok(Self {
                    engine,
                    aws: Some(store),
                })
            }
        }
    }

    /// The Slack settings: the signing secret from the environment, the data directory (demo)
    /// or, on AWS, its SSM parameter; read once at start-up.
    pub async fn slack_config(&self, settings: &Settings) -> anyhow::Result<SlackConfig> {
        let secret = match (settings.signing_secret(), &self.aws) {
            (Some(secret), _) => secret,
            (None, Some(store)) => {
                let name = &settings.signing_secret_param;
                let text = store
                    .parameter(name)
                    .await
                    .with_context(|| format!("cannot read the Slack signing secret from SSM parameter {name}"))?
                    .with_context(|| format!("SSM parameter {name} (the Slack signing secret) does not exist"))?;
                SigningSecret::new(text.expose_secret().to_owned())
            }
            (None, None) => anyhow::bail!(
                "OTPBOT_SLACK_SIGNING_SECRET (or OTPBOT_SLACK_SIGNING_SECRET_FILE) is not set; `otpbot demo` makes one up"
            ),
        };
        if settings.slack_workspaces.is_empty() {
            tracing::warn!("OTPBOT_SLACK_TEAM_IDS is empty: every Slack request will be refused");
        }
        // The bot token: from the environment, or on AWS from its SSM parameter when written.
        let mut web_api = crate::slack::web::WebApi::from_settings(settings)?;
        if let (None, Some(store)) = (&web_api, &self.aws) {
            let name = &settings.slack_bot_token_param;
            let token = store.parameter(name).await.with_context(|| {
                format!("cannot read the Slack bot token from SSM parameter {name}")
            })?;
            if let Some(token) = token {
                let api = crate::slack::web::WebApi::new(
                    &settings.slack_api_url,
                    token.expose_secret().to_owned(),
                )?;
                web_api = Some(Arc::new(api));
            }
        }
        Ok(SlackConfig {
            signing_secret: secret,
            allowed_workspaces: settings.slack_workspaces.clone(),
            web_api,
        })
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
            let http = crate::http::client(Duration::from_secs(5)).context(HTTPS_SETUP)?;
            return Ok(Some(TeamsConfig::playground(teams.tenants.clone(), http)));
        }
        let secret = match (&teams.client_secret, &self.aws) {
            (Some(secret), _) => secret.clone(),
            (None, Some(store)) => {
                let name = &teams.client_secret_param;
                store
                    .parameter(name)
                    .await
                    .with_context(|| {
                        format!("cannot read the Teams client secret from SSM parameter {name}")
                    })?
                    .with_context(|| {
                        format!("SSM parameter {name} (the Teams client secret) does not exist")
                    })?
            }
            (None, None) => anyhow::bail!("OTPBOT_TEAMS_CLIENT_SECRET (or _FILE) is not set"),
        };
        let http = crate::http::client(Duration::from_secs(5)).context(HTTPS_SETUP)?;
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
        })
    }
}

/// The Lambda entry point: the same router as `otpbot serve`, driven by `lambda_http`.
pub async fn lambda(mut settings: Settings) -> anyhow::Result<()> {
    crate::telemetry::init(&settings.log_filter, settings.log_format);
    let policy = settings.policy();
    let state = App::open(&mut settings, policy)
        .await?
        .into_state(&settings)
        .await?;
    tracing::info!(backend = ?settings.backend, "otpbot Lambda handler ready");
    lambda_http::run(crate::http::router(state))
        .await
        .map_err(|e| anyhow::anyhow!("Lambda runtime failed: {e}"))
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
        principal,
        channel: Some("cli".into()),
        text: String::new(),
        delivery: Some("terminal".into()),
    }
}
