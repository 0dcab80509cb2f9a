//! Typed settings from `OTPBOT_*` environment variables (or the matching flags), validated at
//! start-up with messages that name the variable. Each setting is declared once, in
//! [`SettingsArgs`]; this module turns what was given into [`Settings`], checking what spans
//! several settings. Secret values may also come from `*_FILE` and are never echoed. Unknown
//! `OTPBOT_*` variables are reported, since a typo there would silently weaken a setting.

mod args;
mod error;
mod secrets;
mod teams;
mod values;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

pub use self::args::{SettingsArgs, SECRET_IDS};
use self::error::{config_error, invalid};
pub use self::error::{explain, ConfigError};
use self::secrets::Parameters;
pub use self::teams::TeamsSettings;
pub use self::values::{Backend, List, LogFormat, PLAYGROUND_TENANT};
use crate::domain::{GrantDuration, Principal};
use crate::engine::{Policy, RateLimit};
use crate::keys::{self, KeyBytes, SigningSecret};
use crate::store::aws::{AwsSettings, SealSettings};

/// File in the data directory holding a generated signing secret (`otpbot demo`).
pub const DEMO_SIGNING_SECRET_FILE: &str = "slack-signing-secret";

/// The workspace `otpbot demo` serves, and `otpbot slash` sends as by default.
pub const DEMO_TEAM: &str = "T0DEMO";

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
    /// How often `serve` sweeps (`OTPBOT_SWEEP_EVERY`).
    pub sweep_every: std::time::Duration,
    /// How long a request waits before its approvers are reminded.
    pub request_remind_after: GrantDuration,
    /// How long before a grant ends its holder is warned.
    pub grant_expiry_notice: GrantDuration,
    /// The period in which one person may break the glass on one tool once.
    pub break_glass_every: GrantDuration,
    /// How long a group's members are trusted, in seconds (`OTPBOT_GROUP_CACHE`).
    pub group_cache_secs: u64,
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

/// Why the playground is refused on Lambda.
const NO_PLAYGROUND_ON_LAMBDA: &str =
    "the Teams playground is a local try-out and is never available on AWS Lambda";

/// The AWS backend's tables, parameters and caching.
fn aws_settings(args: &mut SettingsArgs) -> AwsSettings {
    AwsSettings {
        access_table: std::mem::take(&mut args.access_table),
        audit_table: std::mem::take(&mut args.audit_table),
        ssm_prefix: std::mem::take(&mut args.ssm_prefix),
        kms_key_id: args.kms_key_id.take(),
        seed_cache_ttl: std::time::Duration::from_secs(args.seed_cache_secs),
    }
}

/// The sealing of closed audit periods (AWS backend).
fn seal_settings(args: &mut SettingsArgs) -> SealSettings {
    SealSettings {
        bucket: args.audit_bucket.take(),
        prefix: std::mem::take(&mut args.audit_bucket_prefix),
        period_secs: args.seal_period_secs,
        grace_secs: args.seal_grace_secs,
        max_per_run: SealSettings::default().max_per_run,
    }
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
    fn build(mut args: SettingsArgs, unknown: Vec<String>) -> Result<Self, ConfigError> {
        let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        if args.teams_playground && on_lambda {
            return Err(invalid("OTPBOT_TEAMS_PLAYGROUND", NO_PLAYGROUND_ON_LAMBDA));
        }
        let parameters = Parameters::under(&args.ssm_prefix);
        let teams_tenants = args.teams_tenant_ids.take().unwrap_or_default().0;
        let teams = teams::from_args(&mut args, &teams_tenants, &parameters)?;
        let given = secrets::given(&mut args)?;
        let mut settings = Self {
            backend: args.backend,
            signing_secret_param: parameters.name(
                args.slack_signing_secret_param.take(),
                "slack/signing-secret",
            ),
            audit_key_param: parameters.name(args.audit_key_param.take(), "audit/hmac-key"),
            slack_bot_token_param: parameters
                .name(args.slack_bot_token_param.take(), "slack/bot-token"),
            seal: seal_settings(&mut args),
            aws: aws_settings(&mut args),
            checkpoint_every: std::time::Duration::from_secs(args.checkpoint_every.secs() as u64),
            audit_channel: args.audit_channel,
            checkpoint_kms_key: args.checkpoint_kms_key,
            key_dir: args
                .key_dir
                .or_else(|| default_key_dir(|var| std::env::var_os(var))),
            data_dir: args.data_dir,
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
            slack_signing_secret: given.slack_signing_secret,
            master_key: given.master_key,
            audit_key: given.audit_key,
            rate_per_tool: args.rate_per_tool,
            rate_per_caller: args.rate_per_caller,
            rate_per_request: args.rate_per_request,
            slack_bot_token: given.slack_bot_token,
            slack_api_url: args.slack_api_url,
            slack_socket_mode: args.slack_socket_mode,
            slack_app_token: given.slack_app_token,
            request_ttl: args.request_ttl,
            sweep_every: args.sweep_every,
            request_remind_after: args.request_remind_after,
            grant_expiry_notice: args.grant_expiry_notice,
            break_glass_every: args.break_glass_every,
            group_cache_secs: args.group_cache,
            log_filter: args.log,
            log_format: args.log_format.unwrap_or(LogFormat::default_for(on_lambda)),
            unknown,
        };
        if args.teams_playground {
            settings.enable_teams_playground()?;
        }
        Ok(settings)
    }

    /// Serves Microsoft's local Teams emulator, the Microsoft 365 Agents Playground (see
    /// `teams::playground`).
    pub fn enable_teams_playground(&mut self) -> Result<(), ConfigError> {
        teams::playground(&mut self.teams, &self.teams_tenants)
    }

    /// The policy these settings describe.
    pub fn policy(&self) -> Policy {
        Policy {
            bootstrap_admins: self.admins.clone(),
            per_tool: self.rate_per_tool,
            per_caller: self.rate_per_caller,
            per_request: self.rate_per_request,
            request_ttl_secs: self.request_ttl.secs(),
            remind_after_secs: self.request_remind_after.secs(),
            expiry_notice_secs: self.grant_expiry_notice.secs(),
            break_glass_every_secs: self.break_glass_every.secs(),
            group_cache_secs: i64::try_from(self.group_cache_secs).unwrap_or(i64::MAX),
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

/// Settings as given may hold secrets: their Debug output names none of them.
impl std::fmt::Debug for args::SettingsArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsArgs").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
