//! Typed settings from `OTPBOT_*` environment variables, validated at start-up with messages
//! that name the variable. Secret values may also come from `*_FILE`. Unknown `OTPBOT_*`
//! variables are reported, since a typo there would silently weaken a setting.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::domain::{GrantDuration, Principal};
use crate::engine::{Policy, RateLimit};
use crate::keys::{self, KeyBytes, SigningSecret};
use crate::store::aws::{AwsSettings, SealSettings};

/// File in the data directory holding a generated signing secret (`otpbot demo`).
pub const DEMO_SIGNING_SECRET_FILE: &str = "slack-signing-secret";

/// Every variable otpbot reads, with its meaning, for warnings and `--help`.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "OTPBOT_BACKEND",
        "store backend: `local` (default) or `aws`",
    ),
    (
        "OTPBOT_ACCESS_TABLE",
        "aws: DynamoDB table of tools, grants, roles, counters (default otpbot-access)",
    ),
    (
        "OTPBOT_AUDIT_TABLE",
        "aws: DynamoDB audit table (default otpbot-audit)",
    ),
    (
        "OTPBOT_SSM_PREFIX",
        "aws: SSM parameter prefix (default /otpbot)",
    ),
    (
        "OTPBOT_KMS_KEY_ID",
        "aws: KMS key id or ARN for SecureString seeds (default: the account's SSM key)",
    ),
    (
        "OTPBOT_SEED_CACHE_SECS",
        "aws: seconds a seed read from SSM is reused (default 60, 0 = off)",
    ),
    (
        "OTPBOT_SLACK_SIGNING_SECRET_PARAM",
        "aws: SSM parameter holding the signing secret (default {prefix}/slack/signing-secret)",
    ),
    (
        "OTPBOT_AUDIT_KEY_PARAM",
        "aws: SSM parameter holding the audit key (default {prefix}/audit/hmac-key)",
    ),
    (
        "OTPBOT_AUDIT_BUCKET",
        "aws: S3 bucket (Object Lock) holding the sealed audit periods",
    ),
    (
        "OTPBOT_AUDIT_BUCKET_PREFIX",
        "aws: key prefix of the sealed audit periods in the bucket (default audit/)",
    ),
    (
        "OTPBOT_SEAL_PERIOD_SECS",
        "aws: length of a sealed audit period in seconds (default 300)",
    ),
    (
        "OTPBOT_SEAL_GRACE_SECS",
        "aws: seconds after its end before a period is sealed; longer than the function's timeout (default 120)",
    ),
    (
        "OTPBOT_DATA_DIR",
        "local store directory (default ./otpbot-data)",
    ),
    (
        "OTPBOT_LISTEN",
        "address for `otpbot serve` (default 127.0.0.1:3000)",
    ),
    (
        "OTPBOT_MASTER_KEY",
        "local seed encryption key, 64 hex chars (or _FILE; default: generated file)",
    ),
    (
        "OTPBOT_AUDIT_KEY",
        "audit HMAC key, 64 hex chars (or _FILE; default: generated file)",
    ),
    (
        "OTPBOT_SLACK_SIGNING_SECRET",
        "Slack app signing secret (or _FILE)",
    ),
    (
        "OTPBOT_SLACK_TEAM_IDS",
        "comma-separated Slack team ids (T…) and enterprise ids (E…) served",
    ),
    (
        "OTPBOT_TEAMS_APP_ID",
        "Teams: the Azure Bot's Microsoft App ID; turns the Teams endpoint on",
    ),
    (
        "OTPBOT_TEAMS_TENANT_IDS",
        "Teams: comma-separated tenant ids served",
    ),
    (
        "OTPBOT_TEAMS_APP_TENANT_ID",
        "Teams: the tenant the bot is registered in (default: the first served tenant)",
    ),
    (
        "OTPBOT_TEAMS_CLIENT_SECRET",
        "Teams: the bot's client secret (or _FILE; on AWS from OTPBOT_TEAMS_CLIENT_SECRET_PARAM)",
    ),
    (
        "OTPBOT_TEAMS_CLIENT_SECRET_PARAM",
        "aws: SSM parameter with the Teams client secret (default {prefix}/teams/client-secret)",
    ),
    (
        "OTPBOT_TEAMS_OPENID_URL",
        "Teams: Bot Framework OpenID metadata URL (default the public one)",
    ),
    (
        "OTPBOT_TEAMS_LOGIN_URL",
        "Teams: login authority for bot tokens (default https://login.microsoftonline.com)",
    ),
    (
        "OTPBOT_TEAMS_PLAYGROUND",
        "Teams: `true` to serve the local Microsoft 365 Agents Playground without tokens (loopback only, never on Lambda; same as `otpbot serve --teams-playground`)",
    ),
    (
        "OTPBOT_ADMINS",
        "comma-separated principals that are always admin, e.g. slack:T0123:U0456",
    ),
    (
        "OTPBOT_RATE_PER_TOOL",
        "codes per caller per tool, e.g. 10/10m (default)",
    ),
    (
        "OTPBOT_RATE_PER_CALLER",
        "commands per caller, e.g. 30/10m (default)",
    ),
    (
        "OTPBOT_SLACK_BOT_TOKEN",
        "Slack: bot token (xoxb-…) for posting access requests and issuance notices (or OTPBOT_SLACK_BOT_TOKEN_FILE)",
    ),
    (
        "OTPBOT_SLACK_BOT_TOKEN_PARAM",
        "AWS: SSM parameter holding the Slack bot token (default {prefix}/slack/bot-token)",
    ),
    (
        "OTPBOT_SLACK_API_URL",
        "Slack: Web API base URL (default https://slack.com/api/)",
    ),
    (
        "OTPBOT_RATE_PER_REQUEST",
        "access requests per caller, e.g. 5/1h (default)",
    ),
    (
        "OTPBOT_REQUEST_TTL",
        "how long an access request stays open, e.g. 1h (default)",
    ),
    (
        "OTPBOT_LOG",
        "log filter, e.g. info (default) or otpbot=debug",
    ),
    ("OTPBOT_LOG_FORMAT", "`pretty` (default) or `json`"),
];

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
}

fn invalid(var: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        message: message.into(),
    }
}

/// Which store backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file in the data directory.
    Local,
    /// DynamoDB and SSM Parameter Store.
    Aws,
}

/// Log output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// Reads the sealing settings.
fn seal_settings(vars: &HashMap<String, String>) -> Result<SealSettings, ConfigError> {
    let defaults = SealSettings::default();
    let secs = |var: &str, default: i64| match vars.get(var) {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid(var, format!("`{v}` is not a positive number of seconds"))),
        None => Ok(default),
    };
    Ok(SealSettings {
        bucket: vars.get("OTPBOT_AUDIT_BUCKET").cloned(),
        prefix: vars
            .get("OTPBOT_AUDIT_BUCKET_PREFIX")
            .cloned()
            .unwrap_or(defaults.prefix),
        period_secs: secs("OTPBOT_SEAL_PERIOD_SECS", defaults.period_secs)?,
        grace_secs: secs("OTPBOT_SEAL_GRACE_SECS", defaults.grace_secs)?,
        max_per_run: defaults.max_per_run,
    })
}

/// Reads a secret from `VAR` or from the file named by `VAR_FILE` (not both).
fn secret(vars: &HashMap<String, String>, var: &str) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{var}_FILE");
    match (vars.get(var), vars.get(&file_var)) {
        (Some(_), Some(_)) => Err(invalid(
            var,
            format!("set either {var} or {file_var}, not both"),
        )),
        (Some(value), None) => Ok(Some(value.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| invalid(&file_var, format!("cannot read {path}: {e}"))),
        (None, None) => Ok(None),
    }
}

fn aws_settings(vars: &HashMap<String, String>) -> Result<AwsSettings, ConfigError> {
    let defaults = AwsSettings::default();
    let get = |var: &str, default: String| vars.get(var).cloned().unwrap_or(default);
    let prefix = get("OTPBOT_SSM_PREFIX", defaults.ssm_prefix);
    let valid_prefix = prefix.starts_with('/')
        && prefix.len() <= 200
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if !valid_prefix {
        return Err(invalid(
            "OTPBOT_SSM_PREFIX",
            format!("`{prefix}` is not a path like /otpbot"),
        ));
    }
    let cache = match vars.get("OTPBOT_SEED_CACHE_SECS") {
        Some(v) => v.parse().map_err(|_| {
            invalid(
                "OTPBOT_SEED_CACHE_SECS",
                format!("`{v}` is not a number of seconds"),
            )
        })?,
        None => defaults.seed_cache_ttl.as_secs(),
    };
    Ok(AwsSettings {
        access_table: get("OTPBOT_ACCESS_TABLE", defaults.access_table),
        audit_table: get("OTPBOT_AUDIT_TABLE", defaults.audit_table),
        ssm_prefix: prefix,
        kms_key_id: vars.get("OTPBOT_KMS_KEY_ID").cloned(),
        seed_cache_ttl: std::time::Duration::from_secs(cache),
    })
}

fn teams_settings(
    vars: &HashMap<String, String>,
    prefix: &str,
) -> Result<Option<TeamsSettings>, ConfigError> {
    let Some(app_id) = vars
        .get("OTPBOT_TEAMS_APP_ID")
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    let tenants: Vec<String> = list(vars.get("OTPBOT_TEAMS_TENANT_IDS"))
        .map(str::to_owned)
        .collect();
    let app_tenant = match vars
        .get("OTPBOT_TEAMS_APP_TENANT_ID")
        .cloned()
        .or_else(|| tenants.first().cloned())
    {
        Some(t) => t,
        None => {
            return Err(invalid(
                "OTPBOT_TEAMS_TENANT_IDS",
                "needs at least one tenant id when OTPBOT_TEAMS_APP_ID is set",
            ))
        }
    };
    Ok(Some(TeamsSettings {
        app_id: app_id.trim().to_owned(),
        tenants: tenants.into_iter().collect(),
        app_tenant,
        client_secret: secret(vars, "OTPBOT_TEAMS_CLIENT_SECRET")?.map(secrecy::SecretString::from),
        client_secret_param: vars
            .get("OTPBOT_TEAMS_CLIENT_SECRET_PARAM")
            .cloned()
            .unwrap_or_else(|| format!("{prefix}/teams/client-secret")),
        openid_url: vars
            .get("OTPBOT_TEAMS_OPENID_URL")
            .cloned()
            .unwrap_or_else(|| crate::teams::auth::DEFAULT_OPENID_URL.into()),
        login_url: vars
            .get("OTPBOT_TEAMS_LOGIN_URL")
            .cloned()
            .unwrap_or_else(|| crate::teams::connector::DEFAULT_LOGIN_URL.into()),
        playground: false,
    }))
}

/// A yes/no variable: `true`/`false` (also `1`/`0`, `yes`/`no`); absent is no.
fn flag(vars: &HashMap<String, String>, var: &str) -> Result<bool, ConfigError> {
    match vars
        .get(var)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(invalid(var, format!("`{other}` is not true or false"))),
    }
}

fn list(value: Option<&String>) -> impl Iterator<Item = &str> {
    value
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(
            std::env::vars()
                .filter(|(k, _)| k.starts_with("OTPBOT_"))
                .collect(),
        )
    }

    /// Reads settings from `vars` (the `OTPBOT_*` variables).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let known = |k: &str| {
            VARIABLES
                .iter()
                .chain(SOCKET_MODE_VARIABLES)
                .any(|(v, _)| k == *v || k.strip_suffix("_FILE") == Some(v))
        };
        let mut unknown: Vec<String> = vars.keys().filter(|k| !known(k)).cloned().collect();
        unknown.sort();
        let backend = match vars.get("OTPBOT_BACKEND").map(String::as_str) {
            None | Some("local") => Backend::Local,
            Some("aws") => Backend::Aws,
            Some(other) => {
                return Err(invalid(
                    "OTPBOT_BACKEND",
                    format!("`{other}` is not `local` or `aws`"),
                ))
            }
        };
        let aws = aws_settings(&vars)?;
        let prefix = aws.ssm_prefix.trim_end_matches('/').to_owned();
        let param = |var: &str, default: String| vars.get(var).cloned().unwrap_or(default);
        let listen = match vars.get("OTPBOT_LISTEN") {
            Some(v) => v
                .parse()
                .map_err(|_| invalid("OTPBOT_LISTEN", format!("`{v}` is not host:port")))?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let admins = list(vars.get("OTPBOT_ADMINS"))
            .map(|p| Principal::parse_input(p).map_err(|e| invalid("OTPBOT_ADMINS", e.to_string())))
            .collect::<Result<_, _>>()?;
        let rate = |var: &str, default: RateLimit| match vars.get(var) {
            Some(v) => {
                RateLimit::parse(v).ok_or_else(|| invalid(var, format!("`{v}` is not like 10/10m")))
            }
            None => Ok(default),
        };
        let defaults = Policy::default();
        let key = |var: &str| -> Result<Option<KeyBytes>, ConfigError> {
            secret(&vars, var)?
                .map(|k| keys::decode_hex_key(&k, var).map_err(|e| invalid(var, e.to_string())))
                .transpose()
        };
        let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        let log_format = match vars.get("OTPBOT_LOG_FORMAT").map(String::as_str) {
            None if on_lambda => LogFormat::Json,
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "OTPBOT_LOG_FORMAT",
                    format!("`{other}` is not pretty or json"),
                ))
            }
        };
        let playground = flag(&vars, "OTPBOT_TEAMS_PLAYGROUND")?;
        if playground && on_lambda {
            return Err(invalid(
                "OTPBOT_TEAMS_PLAYGROUND",
                "the Teams playground is a local try-out and is never available on AWS Lambda",
            ));
        }
        let mut settings = Self {
            seal: seal_settings(&vars)?,
            backend,
            signing_secret_param: param(
                "OTPBOT_SLACK_SIGNING_SECRET_PARAM",
                format!("{prefix}/slack/signing-secret"),
            ),
            audit_key_param: param("OTPBOT_AUDIT_KEY_PARAM", format!("{prefix}/audit/hmac-key")),
            teams: teams_settings(&vars, &prefix)?,
            teams_tenants: list(vars.get("OTPBOT_TEAMS_TENANT_IDS"))
                .map(str::to_owned)
                .collect(),
            aws,
            data_dir: PathBuf::from(
                vars.get("OTPBOT_DATA_DIR")
                    .map_or("otpbot-data", String::as_str),
            ),
            listen,
            admins,
            slack_workspaces: list(vars.get("OTPBOT_SLACK_TEAM_IDS"))
                .map(str::to_owned)
                .collect(),
            slack_signing_secret: secret(&vars, "OTPBOT_SLACK_SIGNING_SECRET")?
                .map(SigningSecret::new),
            master_key: key("OTPBOT_MASTER_KEY")?,
            audit_key: key("OTPBOT_AUDIT_KEY")?,
            rate_per_tool: rate("OTPBOT_RATE_PER_TOOL", defaults.per_tool)?,
            rate_per_caller: rate("OTPBOT_RATE_PER_CALLER", defaults.per_caller)?,
            rate_per_request: rate("OTPBOT_RATE_PER_REQUEST", defaults.per_request)?,
            slack_bot_token: secret(&vars, "OTPBOT_SLACK_BOT_TOKEN")?,
            slack_bot_token_param: param(
                "OTPBOT_SLACK_BOT_TOKEN_PARAM",
                format!("{prefix}/slack/bot-token"),
            ),
            slack_api_url: vars
                .get("OTPBOT_SLACK_API_URL")
                .cloned()
                .unwrap_or_else(|| crate::slack::web::DEFAULT_BASE.into()),
            request_ttl: match vars.get("OTPBOT_REQUEST_TTL") {
                None => GrantDuration::from_secs(defaults.request_ttl_secs)
                    .ok_or_else(|| invalid("OTPBOT_REQUEST_TTL", "bad default"))?,
                Some(text) => GrantDuration::parse(text).ok_or_else(|| {
                    invalid(
                        "OTPBOT_REQUEST_TTL",
                        format!("`{text}` is not like 30m or 1h"),
                    )
                })?,
            },
            log_filter: vars
                .get("OTPBOT_LOG")
                .cloned()
                .unwrap_or_else(|| "info".into()),
            log_format,
            unknown,
        };
        if playground {
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

    /// Path of a generated key file in the data directory.
    pub fn key_path(&self, name: &str) -> PathBuf {
        Path::new(&self.data_dir).join(name)
    }
}

/// The variables of Slack Socket Mode ([`SocketModeSettings`]).
pub const SOCKET_MODE_VARIABLES: &[(&str, &str)] = &[
    (
        "OTPBOT_SLACK_SOCKET_MODE",
        "Slack: `true` to take Slack's requests over a Socket Mode WebSocket that otpbot opens, needing no public endpoint (same as `otpbot serve --slack-socket-mode`; not on Lambda)",
    ),
    (
        "OTPBOT_SLACK_APP_TOKEN",
        "Slack: app-level token (xapp-…, scope connections:write) for Socket Mode (or OTPBOT_SLACK_APP_TOKEN_FILE)",
    ),
];

/// Slack Socket Mode settings, read on their own by `otpbot serve`.
#[derive(Debug)]
pub struct SocketModeSettings {
    /// `OTPBOT_SLACK_SOCKET_MODE`.
    pub enabled: bool,
    /// The app-level token (`OTPBOT_SLACK_APP_TOKEN` or its `_FILE`).
    pub app_token: Option<secrecy::SecretString>,
}

impl SocketModeSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads the settings from `vars`.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: flag(vars, "OTPBOT_SLACK_SOCKET_MODE")?,
            app_token: secret(vars, "OTPBOT_SLACK_APP_TOKEN")?.map(secrecy::SecretString::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_lists() {
        let s = Settings::from_vars(vars(&[
            ("OTPBOT_ADMINS", "slack:T1:U1, slack:T1:U2"),
            ("OTPBOT_SLACK_TEAM_IDS", "T1,E9"),
            ("OTPBOT_RATE_PER_TOOL", "5/1h"),
            ("OTPBOT_TYPO", "x"),
        ]))
        .expect("valid settings");
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(s.admins.len(), 2);
        assert!(s.slack_workspaces.contains("E9"));
        assert_eq!(
            s.rate_per_tool,
            RateLimit {
                limit: 5,
                window_secs: 3600
            }
        );
        assert_eq!(s.unknown, vec!["OTPBOT_TYPO".to_owned()]);
    }

    #[test]
    fn only_the_local_backend_reads_the_demo_signing_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(DEMO_SIGNING_SECRET_FILE), "demo").expect("write");
        let data_dir = dir.path().to_str().expect("utf-8 path");
        let local = Settings::from_vars(vars(&[("OTPBOT_DATA_DIR", data_dir)])).expect("local");
        assert!(
            local.signing_secret().is_some(),
            "the demo's secret, locally"
        );
        let aws = Settings::from_vars(vars(&[
            ("OTPBOT_DATA_DIR", data_dir),
            ("OTPBOT_BACKEND", "aws"),
        ]))
        .expect("aws");
        assert!(
            aws.signing_secret().is_none(),
            "the AWS backend takes its secret from the environment or SSM only"
        );
        assert!(!aws.slack_enabled(), "a leftover demo file enables nothing");
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value) in [
            ("OTPBOT_LISTEN", "nope"),
            ("OTPBOT_ADMINS", "U1"),
            ("OTPBOT_RATE_PER_CALLER", "ten"),
            ("OTPBOT_MASTER_KEY", "abcd"),
            ("OTPBOT_BACKEND", "mongo"),
            ("OTPBOT_SSM_PREFIX", "otpbot/../x"),
            ("OTPBOT_SEED_CACHE_SECS", "1m"),
            ("OTPBOT_LOG_FORMAT", "xml"),
            ("OTPBOT_TEAMS_PLAYGROUND", "maybe"),
        ] {
            let err = Settings::from_vars(vars(&[(var, value)]))
                .expect_err(var)
                .to_string();
            assert!(err.starts_with(var), "{var}: {err}");
            assert!(
                !err.contains("abcd") || var != "OTPBOT_MASTER_KEY",
                "key value echoed: {err}"
            );
        }
    }

    #[test]
    fn access_request_settings() {
        let s = Settings::from_vars(vars(&[
            ("OTPBOT_REQUEST_TTL", "2h"),
            ("OTPBOT_RATE_PER_REQUEST", "3/1d"),
        ]))
        .expect("valid settings");
        assert_eq!(s.policy().request_ttl_secs, 7_200);
        assert_eq!(s.policy().per_request.limit, 3);
        let default = Settings::from_vars(vars(&[])).expect("defaults");
        assert_eq!(default.policy().request_ttl_secs, 3_600);
        assert!(Settings::from_vars(vars(&[("OTPBOT_REQUEST_TTL", "soon")])).is_err());
    }
}
