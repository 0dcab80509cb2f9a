//! Typed settings from `OTPBOT_*` environment variables (or the matching flags), validated at
//! start-up with messages that name the variable. Each setting is declared once, in
//! [`SettingsArgs`]; this module turns what was given into [`Settings`], checking what spans
//! several settings. Secret values may also come from `*_FILE` and are never echoed. Unknown
//! `OTPBOT_*` variables are reported, since a typo there would silently weaken a setting.

mod args;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

pub use args::{List, SettingsArgs, SECRET_IDS};

use crate::domain::{GrantDuration, Principal};
use crate::engine::{Policy, RateLimit};
use crate::keys::{self, KeyBytes, SigningSecret};
use crate::store::aws::{AwsSettings, SealSettings};

/// File in the data directory holding a generated signing secret (`otpbot demo`).
pub const DEMO_SIGNING_SECRET_FILE: &str = "slack-signing-secret";

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value is unusable.
    #[error("{var}: {message}")]
    Invalid {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// The settings could not be read at all (not a value's fault).
    #[error("{0}")]
    Unreadable(String),
}

fn invalid(var: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        message: message.into(),
    }
}

/// Which store backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// One SQLite file in the data directory.
    Local,
    /// DynamoDB and SSM Parameter Store.
    Aws,
}

/// Log output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Teams (Bot Framework) settings.
#[derive(Debug)]
pub struct TeamsSettings {
    /// The bot's Microsoft App ID: the audience of incoming tokens.
    pub app_id: String,
    /// Served tenants.
    pub tenants: HashSet<String>,
    /// The tenant of the single-tenant bot registration.
    pub app_tenant: String,
    /// The client secret, if given directly.
    pub client_secret: Option<secrecy::SecretString>,
    /// SSM parameter with the client secret (AWS backend).
    pub client_secret_param: String,
    /// OpenID metadata URL.
    pub openid_url: String,
    /// Login authority base URL.
    pub login_url: String,
    /// Serving the local Microsoft 365 Agents Playground: activities come without tokens and
    /// replies go to its loopback `http` service URL (see [`Settings::enable_teams_playground`]).
    pub playground: bool,
}

/// The tenant id the Microsoft 365 Agents Playground (0.2.28) puts in every activity.
pub const PLAYGROUND_TENANT: &str = "00000000-0000-0000-0000-0000000000001";

/// Validated settings.
#[derive(Debug)]
pub struct Settings {
    /// Store backend.
    pub backend: Backend,
    /// AWS backend settings (used when `backend` is `Aws`).
    pub aws: AwsSettings,
    /// SSM parameter with the Slack signing secret (AWS backend).
    pub signing_secret_param: String,
    /// SSM parameter with the audit key (AWS backend).
    pub audit_key_param: String,
    /// Local store directory.
    pub data_dir: PathBuf,
    /// Directory of the local store's key files: `OTPBOT_KEY_DIR`, else the user's
    /// configuration directory (see [`default_key_dir`]); `None` when neither is known.
    pub key_dir: Option<PathBuf>,
    /// Listen address.
    pub listen: SocketAddr,
    /// Teams settings, when `OTPBOT_TEAMS_APP_ID` is set or the playground is enabled.
    pub teams: Option<TeamsSettings>,
    /// Teams tenants served (`OTPBOT_TEAMS_TENANT_IDS`).
    pub teams_tenants: Vec<String>,
    /// Bootstrap admins.
    pub admins: HashSet<Principal>,
    /// Served Slack teams and enterprises.
    pub slack_workspaces: HashSet<String>,
    /// Slack signing secret, if configured.
    pub slack_signing_secret: Option<SigningSecret>,
    /// Master key from the environment, if given.
    pub master_key: Option<KeyBytes>,
    /// Audit key from the environment, if given.
    pub audit_key: Option<KeyBytes>,
    /// Codes per caller per tool.
    pub rate_per_tool: RateLimit,
    /// Commands per caller.
    pub rate_per_caller: RateLimit,
    /// Access requests per caller.
    pub rate_per_request: RateLimit,
    /// Slack bot token, if configured.
    pub slack_bot_token: Option<String>,
    /// SSM parameter of the Slack bot token (AWS backend).
    pub slack_bot_token_param: String,
    /// Whether `otpbot serve` takes Slack's requests over Socket Mode
    /// (`OTPBOT_SLACK_SOCKET_MODE`, `--slack-socket-mode`).
    pub slack_socket_mode: bool,
    /// The Slack app-level token for Socket Mode (`OTPBOT_SLACK_APP_TOKEN` or its `_FILE`).
    pub slack_app_token: Option<secrecy::SecretString>,
    /// Slack Web API base URL.
    pub slack_api_url: String,
    /// How long an access request stays open.
    pub request_ttl: GrantDuration,
    /// Log filter.
    pub log_filter: String,
    /// Log style.
    pub log_format: LogFormat,
    /// Unknown `OTPBOT_*` variables seen (to warn about once logging is up).
    pub unknown: Vec<String>,
    /// Sealing of closed audit periods (AWS backend).
    pub seal: SealSettings,
    /// How often `serve` publishes a signed audit checkpoint.
    pub checkpoint_every: std::time::Duration,
    /// Where checkpoints are posted besides the log: a Slack channel id or a Teams
    /// conversation id.
    pub audit_channel: Option<String>,
    /// The KMS key that signs checkpoints (AWS backend).
    pub checkpoint_kms_key: Option<String>,
}

/// Every `OTPBOT_*` variable otpbot reads, as declared in [`SettingsArgs`] (the `*_FILE`
/// variables of secrets included).
pub fn variables() -> Vec<String> {
    SettingsArgs::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env()?.to_str().map(str::to_owned))
        .collect()
}

/// The names among `names` that look like settings but are none, sorted.
fn unknown(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let known = variables();
    let mut unknown: Vec<String> = names
        .into_iter()
        .filter(|name| name.starts_with("OTPBOT_") && !known.contains(name))
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

/// A secret given as `var` or as the file named by `{var}_FILE` (not both).
fn secret(
    var: &str,
    value: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{var}_FILE");
    match (value, file) {
        (Some(_), Some(_)) => Err(invalid(
            var,
            format!("set either {var} or {file_var}, not both"),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| invalid(&file_var, format!("cannot read {}: {e}", path.display()))),
        (None, None) => Ok(None),
    }
}

/// A 64-hex-character key given as `var` or `{var}_FILE`; the value is never echoed.
fn key(
    var: &str,
    value: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<KeyBytes>, ConfigError> {
    secret(var, value, file)?
        .map(|k| keys::decode_hex_key(&k, var).map_err(|e| invalid(var, e.to_string())))
        .transpose()
}

/// When `err` is about the value of a setting, the setting's flag (without `--`) and an error
/// that names its variable and says what is wrong (`OTPBOT_RATE_PER_TOOL: \`ten\` is not like
/// 10/10m`). `command` is the one that was parsed. Other errors (usage, help) give `None`.
pub fn explain(err: &clap::Error, command: &clap::Command) -> Option<(String, ConfigError)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    let setting = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let var = setting.get_env()?.to_str()?;
    let message = match err.kind() {
        ErrorKind::ValueValidation => std::error::Error::source(err)?.to_string(),
        ErrorKind::InvalidValue => {
            let value = match err.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(value)) => value.as_str(),
                _ => "",
            };
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(valid)) => valid.join(", "),
                _ => String::new(),
            };
            format!("`{value}` is not one of: {valid}")
        }
        _ => return None,
    };
    Some((long.to_owned(), invalid(var, message)))
}

/// A clap error of settings parsed from variables, as a [`ConfigError`].
fn config_error(err: &clap::Error, command: &clap::Command) -> ConfigError {
    match explain(err, command) {
        Some((_, error)) => error,
        None => ConfigError::Unreadable(err.to_string()),
    }
}

impl Settings {
    /// Reads the settings from the environment alone, as the Lambda does: it has no command
    /// line, and its Terraform module sets the same variables `otpbot serve` reads.
    pub fn from_env() -> Result<Self, ConfigError> {
        let args = SettingsArgs::try_parse_from(["otpbot"])
            .map_err(|e| config_error(&e, &SettingsArgs::command()))?;
        Self::from_args(args)
    }

    /// Checks the settings given on the command line or in the environment; unknown `OTPBOT_*`
    /// variables of the process are noted for a warning.
    pub fn from_args(args: SettingsArgs) -> Result<Self, ConfigError> {
        let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
        Self::build(args, unknown(names))
    }

    /// Reads settings from `vars` (`OTPBOT_*` variables) alone, whatever the process
    /// environment holds, through the same declarations and checks as [`Settings::from_env`].
    /// An empty variable counts as unset, as in the environment.
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut command = SettingsArgs::command().mut_args(|arg| arg.env(None::<&str>));
        let declared = SettingsArgs::command();
        let mut argv: Vec<OsString> = vec!["otpbot".into()];
        for (var, value) in &vars {
            let long = declared
                .get_arguments()
                .find(|arg| arg.get_env().is_some_and(|env| env == var.as_str()))
                .and_then(|arg| arg.get_long());
            if let (Some(long), false) = (long, value.is_empty()) {
                argv.push(format!("--{long}={value}").into());
            }
        }
        let args = command
            .try_get_matches_from_mut(argv)
            .and_then(|matches| SettingsArgs::from_arg_matches(&matches))
            .map_err(|e| config_error(&e, &declared))?;
        Self::build(args, unknown(vars.into_keys()))
    }

    /// The checks that span several settings, and the defaults derived from others.
    fn build(args: SettingsArgs, unknown: Vec<String>) -> Result<Self, ConfigError> {
        let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        if args.teams_playground && on_lambda {
            return Err(invalid(
                "OTPBOT_TEAMS_PLAYGROUND",
                "the Teams playground is a local try-out and is never available on AWS Lambda",
            ));
        }
        let prefix = args.ssm_prefix.trim_end_matches('/').to_owned();
        let param = |given: Option<String>, path: &str| given.unwrap_or(format!("{prefix}/{path}"));
        let teams_tenants = args.teams_tenant_ids.unwrap_or_default().0;
        let teams = match args.teams_app_id.filter(|id| !id.trim().is_empty()) {
            None => None,
            Some(app_id) => Some(TeamsSettings {
                app_id: app_id.trim().to_owned(),
                tenants: teams_tenants.iter().cloned().collect(),
                app_tenant: args
                    .teams_app_tenant_id
                    .or_else(|| teams_tenants.first().cloned())
                    .ok_or_else(|| {
                        invalid(
                            "OTPBOT_TEAMS_TENANT_IDS",
                            "needs at least one tenant id when OTPBOT_TEAMS_APP_ID is set",
                        )
                    })?,
                client_secret: secret(
                    "OTPBOT_TEAMS_CLIENT_SECRET",
                    args.teams_client_secret,
                    args.teams_client_secret_file,
                )?
                .map(secrecy::SecretString::from),
                client_secret_param: param(args.teams_client_secret_param, "teams/client-secret"),
                openid_url: args.teams_openid_url,
                login_url: args.teams_login_url,
                playground: false,
            }),
        };
        let mut settings = Self {
            backend: args.backend,
            signing_secret_param: param(args.slack_signing_secret_param, "slack/signing-secret"),
            audit_key_param: param(args.audit_key_param, "audit/hmac-key"),
            slack_bot_token_param: param(args.slack_bot_token_param, "slack/bot-token"),
            aws: AwsSettings {
                access_table: args.access_table,
                audit_table: args.audit_table,
                ssm_prefix: args.ssm_prefix,
                kms_key_id: args.kms_key_id,
                seed_cache_ttl: std::time::Duration::from_secs(args.seed_cache_secs),
            },
            seal: SealSettings {
                bucket: args.audit_bucket,
                prefix: args.audit_bucket_prefix,
                period_secs: args.seal_period_secs,
                grace_secs: args.seal_grace_secs,
                max_per_run: SealSettings::default().max_per_run,
            },
            checkpoint_every: std::time::Duration::from_secs(args.checkpoint_every.secs() as u64),
            audit_channel: args.audit_channel,
            checkpoint_kms_key: args.checkpoint_kms_key,
            data_dir: args.data_dir,
            key_dir: args
                .key_dir
                .or_else(|| default_key_dir(|var| std::env::var_os(var))),
            listen: args.listen,
            teams,
            teams_tenants,
            admins: args.admins.unwrap_or_default().0.into_iter().collect(),
            slack_workspaces: args
                .slack_team_ids
                .unwrap_or_default()
                .0
                .into_iter()
                .collect(),
            slack_signing_secret: secret(
                "OTPBOT_SLACK_SIGNING_SECRET",
                args.slack_signing_secret,
                args.slack_signing_secret_file,
            )?
            .map(SigningSecret::new),
            master_key: key("OTPBOT_MASTER_KEY", args.master_key, args.master_key_file)?,
            audit_key: key("OTPBOT_AUDIT_KEY", args.audit_key, args.audit_key_file)?,
            rate_per_tool: args.rate_per_tool,
            rate_per_caller: args.rate_per_caller,
            rate_per_request: args.rate_per_request,
            slack_bot_token: secret(
                "OTPBOT_SLACK_BOT_TOKEN",
                args.slack_bot_token,
                args.slack_bot_token_file,
            )?,
            slack_api_url: args.slack_api_url,
            slack_socket_mode: args.slack_socket_mode,
            slack_app_token: secret(
                "OTPBOT_SLACK_APP_TOKEN",
                args.slack_app_token,
                args.slack_app_token_file,
            )?
            .map(secrecy::SecretString::from),
            request_ttl: args.request_ttl,
            log_filter: args.log,
            log_format: args.log_format.unwrap_or(if on_lambda {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            }),
            unknown,
        };
        if args.teams_playground {
            settings.enable_teams_playground()?;
        }
        Ok(settings)
    }

    /// Serves Microsoft's local Teams emulator, the Microsoft 365 Agents Playground (npm
    /// `@microsoft/m365agentsplayground`): it posts activities without an `Authorization` header
    /// and takes replies at a plain-`http` loopback service URL without checking a token. So in
    /// this mode no token is verified or fetched and loopback `http` service URLs are accepted;
    /// `otpbot serve` refuses it unless it listens on loopback. Teams needs no app id or secret
    /// here, only the served tenants (the playground's is [`PLAYGROUND_TENANT`]).
    pub fn enable_teams_playground(&mut self) -> Result<(), ConfigError> {
        let Some(first) = self.teams_tenants.first().cloned() else {
            return Err(invalid(
                "OTPBOT_TEAMS_TENANT_IDS",
                format!(
                    "the Teams playground needs its tenant to be served: set it to {PLAYGROUND_TENANT}"
                ),
            ));
        };
        match &mut self.teams {
            Some(teams) => teams.playground = true,
            None => {
                self.teams = Some(TeamsSettings {
                    app_id: String::new(),
                    tenants: self.teams_tenants.iter().cloned().collect(),
                    app_tenant: first,
                    client_secret: None,
                    client_secret_param: String::new(),
                    openid_url: crate::teams::auth::DEFAULT_OPENID_URL.into(),
                    login_url: crate::teams::connector::DEFAULT_LOGIN_URL.into(),
                    playground: true,
                })
            }
        }
        Ok(())
    }

    /// The policy these settings describe.
    pub fn policy(&self) -> Policy {
        Policy {
            bootstrap_admins: self.admins.clone(),
            per_tool: self.rate_per_tool,
            per_caller: self.rate_per_caller,
            per_request: self.rate_per_request,
            request_ttl_secs: self.request_ttl.secs(),
            ..Policy::default()
        }
    }

    /// The signing secret: configured, or on the local backend the one `otpbot demo` wrote into
    /// the data directory. The AWS backend never reads the working directory: its secret comes
    /// from the environment or SSM only, so a demo's data left next to it cannot override SSM.
    pub fn signing_secret(&self) -> Option<SigningSecret> {
        self.slack_signing_secret.clone().or_else(|| {
            if self.backend != Backend::Local {
                return None;
            }
            let text =
                std::fs::read_to_string(self.data_dir.join(DEMO_SIGNING_SECRET_FILE)).ok()?;
            Some(SigningSecret::new(text))
        })
    }

    /// Whether the Slack endpoint is configured: a signing secret is at hand (environment or
    /// `otpbot demo`'s file) or Slack workspaces are named (on AWS the secret is then read from
    /// SSM). A Teams-only deployment sets neither and needs no Slack secret.
    pub fn slack_enabled(&self) -> bool {
        !self.slack_workspaces.is_empty() || self.signing_secret().is_some()
    }

    /// Where the local store's key file `name` (`master.key`, `audit.key`, `checkpoint.key`,
    /// …) is, or is to be made: the one place that decides, so every key follows it (see
    /// [`keys::locate`]).
    pub fn key_path(&self, name: &str) -> PathBuf {
        keys::locate(name, self.key_dir.as_deref(), &self.data_dir).path
    }
}

/// The key directory when `OTPBOT_KEY_DIR` is not set: `otpbot` in the user's configuration
/// directory, `$XDG_CONFIG_HOME` or else `~/.config` (the XDG Base Directory convention).
/// Only absolute paths count, as the specification says; `None` when neither is set.
pub fn default_key_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| {
        var(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".config")))
        .map(|config| config.join("otpbot"))
}

#[cfg(test)]
mod tests;
