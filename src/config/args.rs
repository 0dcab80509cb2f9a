//! Every setting, declared once: its flag, its `OTPBOT_*` variable, its default and its help.
//! `otpbot --help` (and each subcommand's) lists them; the Lambda, which has no command line,
//! parses the same declaration from its environment alone. Secret values are taken from the
//! environment or a file only, and their values are never shown in help or errors.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use super::values::{
    audit_channel, cache_age, duration, guid, http_url, interval, positive_seconds, principals,
    rate, seconds, slack_workspaces, socket_addr, ssm_prefix, tenants, yes_no, Backend, List,
    LogFormat,
};
use crate::domain::{GrantDuration, Principal, RateLimit};

/// The settings as given, before the checks that span several of them (see
/// [`super::Settings`]). Every one is a global option of `otpbot` and reads its variable.
/// `Debug` shows none of them: the secrets are plain strings here.
#[derive(Clone, Parser)]
#[command(name = "otpbot")]
pub struct SettingsArgs {
    /// Store backend.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_BACKEND",
        value_enum,
        default_value = "local",
        help_heading = "Store"
    )]
    pub backend: Backend,
    /// Local store directory (the SQLite store, created with mode 0700).
    #[arg(
        long,
        global = true,
        env = "OTPBOT_DATA_DIR",
        value_name = "DIR",
        default_value = "otpbot-data",
        help_heading = "Store"
    )]
    pub data_dir: PathBuf,
    /// Directory of the local store's key files (master.key, audit.key, …), created with mode
    /// 0700 and kept apart from the data directory, so that a copy of the data (a backup)
    /// holds no key [default: $XDG_CONFIG_HOME/otpbot, else ~/.config/otpbot].
    #[arg(
        long,
        global = true,
        env = "OTPBOT_KEY_DIR",
        value_name = "DIR",
        help_heading = "Store"
    )]
    pub key_dir: Option<PathBuf>,
    /// Seed encryption key of the local store, 64 hex characters; environment only (default:
    /// master.key in the key directory, generated on first run).
    #[arg(
        long,
        global = true,
        env = "OTPBOT_MASTER_KEY",
        value_name = "HEX",
        hide_env_values = true,
        help_heading = "Store"
    )]
    pub master_key: Option<String>,
    /// File holding the master key.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_MASTER_KEY_FILE",
        value_name = "FILE",
        help_heading = "Store"
    )]
    pub master_key_file: Option<PathBuf>,
    /// Audit HMAC key, 64 hex characters; environment only (default: audit.key in the key
    /// directory, generated on first run; on AWS its SSM parameter).
    #[arg(
        long,
        global = true,
        env = "OTPBOT_AUDIT_KEY",
        value_name = "HEX",
        hide_env_values = true,
        help_heading = "Store"
    )]
    pub audit_key: Option<String>,
    /// File holding the audit key.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_AUDIT_KEY_FILE",
        value_name = "FILE",
        help_heading = "Store"
    )]
    pub audit_key_file: Option<PathBuf>,
    /// How often `serve` publishes a signed audit checkpoint (log line, audit channel); it also
    /// publishes one when it stops.
    #[arg(long, global = true, env = "OTPBOT_CHECKPOINT_EVERY", value_name = "DURATION", default_value = "1h", value_parser = duration, help_heading = "Audit")]
    pub checkpoint_every: GrantDuration,
    /// Where checkpoints are also posted: slack:C… or a Teams conversation id (19:…@thread.tacv2).
    #[arg(long, global = true, env = "OTPBOT_AUDIT_CHANNEL", value_name = "CHANNEL", value_parser = audit_channel, help_heading = "Audit")]
    pub audit_channel: Option<String>,
    /// KMS key (id, ARN or alias; ECC_NIST_P256, SIGN_VERIFY) that signs the AWS backend's
    /// checkpoints; without it seals carry none.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_CHECKPOINT_KMS_KEY",
        value_name = "KEY",
        help_heading = "Audit"
    )]
    pub checkpoint_kms_key: Option<String>,

    /// DynamoDB table of tools, grants, roles and counters.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_ACCESS_TABLE",
        value_name = "TABLE",
        default_value = "otpbot-access",
        help_heading = "AWS backend"
    )]
    pub access_table: String,
    /// DynamoDB audit table.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_AUDIT_TABLE",
        value_name = "TABLE",
        default_value = "otpbot-audit",
        help_heading = "AWS backend"
    )]
    pub audit_table: String,
    /// SSM parameter prefix; seeds live at {prefix}/tools/{tool}.
    #[arg(long, global = true, env = "OTPBOT_SSM_PREFIX", value_name = "PATH", default_value = "/otpbot", value_parser = ssm_prefix, help_heading = "AWS backend")]
    pub ssm_prefix: String,
    /// KMS key id, ARN or alias for the SecureString seeds `otpbot tool add` writes (default:
    /// the account's SSM key).
    #[arg(
        long,
        global = true,
        env = "OTPBOT_KMS_KEY_ID",
        value_name = "KEY",
        help_heading = "AWS backend"
    )]
    pub kms_key_id: Option<String>,
    /// Seconds a seed is kept in memory and reused (0 = never): one read from SSM, with its tool's catalog entry, or one the local store decrypted, there only while its stored ciphertext is unchanged.
    #[arg(long, global = true, env = "OTPBOT_SEED_CACHE_SECS", value_name = "SECS", default_value = "60", value_parser = seconds, help_heading = "Store")]
    pub seed_cache_secs: u64,
    /// SSM parameter holding the Slack signing secret [default: {prefix}/slack/signing-secret].
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_SIGNING_SECRET_PARAM",
        value_name = "NAME",
        help_heading = "AWS backend"
    )]
    pub slack_signing_secret_param: Option<String>,
    /// SSM parameter holding the Slack bot token [default: {prefix}/slack/bot-token].
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_BOT_TOKEN_PARAM",
        value_name = "NAME",
        help_heading = "AWS backend"
    )]
    pub slack_bot_token_param: Option<String>,
    /// SSM parameter holding the audit key [default: {prefix}/audit/hmac-key].
    #[arg(
        long,
        global = true,
        env = "OTPBOT_AUDIT_KEY_PARAM",
        value_name = "NAME",
        help_heading = "AWS backend"
    )]
    pub audit_key_param: Option<String>,
    /// SSM parameter holding the Teams client secret [default: {prefix}/teams/client-secret].
    #[arg(
        long,
        global = true,
        env = "OTPBOT_TEAMS_CLIENT_SECRET_PARAM",
        value_name = "NAME",
        help_heading = "AWS backend"
    )]
    pub teams_client_secret_param: Option<String>,
    /// S3 bucket (Object Lock) of the sealed audit periods; needed by the scheduled sealing
    /// run and `otpbot audit verify`.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_AUDIT_BUCKET",
        value_name = "BUCKET",
        help_heading = "AWS backend"
    )]
    pub audit_bucket: Option<String>,
    /// Key prefix of the sealed audit periods in the bucket.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_AUDIT_BUCKET_PREFIX",
        value_name = "PREFIX",
        default_value = "audit/",
        help_heading = "AWS backend"
    )]
    pub audit_bucket_prefix: String,
    /// Length of a sealed audit period in seconds.
    #[arg(long, global = true, env = "OTPBOT_SEAL_PERIOD_SECS", value_name = "SECS", default_value = "300", value_parser = positive_seconds, help_heading = "AWS backend")]
    pub seal_period_secs: i64,
    /// Seconds after its end before a period is sealed; must exceed the function's timeout.
    #[arg(long, global = true, env = "OTPBOT_SEAL_GRACE_SECS", value_name = "SECS", default_value = "120", value_parser = positive_seconds, help_heading = "AWS backend")]
    pub seal_grace_secs: i64,

    /// Address `serve` and `demo` listen on.
    #[arg(long, global = true, env = "OTPBOT_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:3000", value_parser = socket_addr, help_heading = "Serving")]
    pub listen: SocketAddr,
    /// Comma-separated principals that are always admin, e.g. slack:T0123:U0456.
    #[arg(long, global = true, env = "OTPBOT_ADMINS", value_name = "PRINCIPALS", value_parser = principals, help_heading = "Serving")]
    pub admins: Option<List<Principal>>,
    /// Codes per caller per tool: never more in any window of that length.
    #[arg(long, global = true, env = "OTPBOT_RATE_PER_TOOL", value_name = "RATE", default_value = "10/10m", value_parser = rate, help_heading = "Serving")]
    pub rate_per_tool: RateLimit,
    /// Commands per caller, all commands together.
    #[arg(long, global = true, env = "OTPBOT_RATE_PER_CALLER", value_name = "RATE", default_value = "30/10m", value_parser = rate, help_heading = "Serving")]
    pub rate_per_caller: RateLimit,
    /// Access requests (`/otp request`) per caller.
    #[arg(long, global = true, env = "OTPBOT_RATE_PER_REQUEST", value_name = "RATE", default_value = "5/1h", value_parser = rate, help_heading = "Serving")]
    pub rate_per_request: RateLimit,
    /// How long an access request stays open for approvers.
    #[arg(long, global = true, env = "OTPBOT_REQUEST_TTL", value_name = "DURATION", default_value = "1h", value_parser = duration, help_heading = "Serving")]
    pub request_ttl: GrantDuration,
    /// How often `serve` sweeps: reminds approvers of open requests, tells of requests that
    /// expired undecided, warns holders before their grants end.
    #[arg(long, global = true, env = "OTPBOT_SWEEP_EVERY", value_name = "INTERVAL", default_value = "60s", value_parser = interval, help_heading = "Serving")]
    pub sweep_every: std::time::Duration,
    /// How long an access request waits undecided before its approvers are reminded, once.
    #[arg(long, global = true, env = "OTPBOT_REQUEST_REMIND_AFTER", value_name = "DURATION", default_value = "15m", value_parser = duration, help_heading = "Serving")]
    pub request_remind_after: GrantDuration,
    /// How long before a grant ends its holder is warned, once, with a "Request more time"
    /// button.
    #[arg(long, global = true, env = "OTPBOT_GRANT_EXPIRY_NOTICE", value_name = "DURATION", default_value = "1h", value_parser = duration, help_heading = "Serving")]
    pub grant_expiry_notice: GrantDuration,
    /// The period in which one person may break the glass on one tool once.
    #[arg(long, global = true, env = "OTPBOT_BREAK_GLASS_EVERY", value_name = "DURATION", default_value = "24h", value_parser = duration, help_heading = "Serving")]
    pub break_glass_every: GrantDuration,
    /// How long a group's members, as read from Slack or Microsoft Graph, are trusted (0s: read
    /// for every request).
    #[arg(long, global = true, env = "OTPBOT_GROUP_CACHE", value_name = "DURATION", default_value = "60s", value_parser = cache_age, help_heading = "Serving")]
    pub group_cache: u64,

    /// The Slack app's signing secret; environment only. Slack is served when this or
    /// --slack-team-ids is set (default: the one `otpbot demo` made, local store only).
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_SIGNING_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        help_heading = "Slack"
    )]
    pub slack_signing_secret: Option<String>,
    /// File holding the Slack signing secret.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_SIGNING_SECRET_FILE",
        value_name = "FILE",
        help_heading = "Slack"
    )]
    pub slack_signing_secret_file: Option<PathBuf>,
    /// Comma-separated Slack team ids (T…) and enterprise ids (E…) served; none: every
    /// Slack request is refused.
    #[arg(long, global = true, env = "OTPBOT_SLACK_TEAM_IDS", value_name = "IDS", value_parser = slack_workspaces, help_heading = "Slack")]
    pub slack_team_ids: Option<List<String>>,
    /// Slack bot token (xoxb-…) for access-request messages and issuance notices; environment
    /// only. Without it nothing is posted.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_BOT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        help_heading = "Slack"
    )]
    pub slack_bot_token: Option<String>,
    /// File holding the Slack bot token.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_BOT_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Slack"
    )]
    pub slack_bot_token_file: Option<PathBuf>,
    /// Take Slack's requests over a Socket Mode WebSocket that `otpbot serve` opens with the
    /// app-level token: no public endpoint needed. Not on AWS Lambda, which cannot hold a
    /// WebSocket.
    #[arg(long, global = true, env = "OTPBOT_SLACK_SOCKET_MODE", value_name = "BOOL", num_args = 0..=1, default_value = "false", default_missing_value = "true", value_parser = yes_no, help_heading = "Slack")]
    pub slack_socket_mode: bool,
    /// Slack app-level token (xapp-…, scope connections:write) for Socket Mode; environment
    /// only.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_APP_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        help_heading = "Slack"
    )]
    pub slack_app_token: Option<String>,
    /// File holding the Slack app-level token.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_SLACK_APP_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Slack"
    )]
    pub slack_app_token_file: Option<PathBuf>,
    /// Slack Web API base URL.
    #[arg(long, global = true, env = "OTPBOT_SLACK_API_URL", value_name = "URL", default_value = crate::slack::web::DEFAULT_BASE, value_parser = http_url, help_heading = "Slack")]
    pub slack_api_url: String,

    /// The Azure Bot's Microsoft App ID; setting it turns POST /teams/messages on.
    #[arg(long, global = true, env = "OTPBOT_TEAMS_APP_ID", value_name = "ID", value_parser = guid, help_heading = "Teams")]
    pub teams_app_id: Option<String>,
    /// Comma-separated Teams tenant ids served.
    #[arg(long, global = true, env = "OTPBOT_TEAMS_TENANT_IDS", value_name = "IDS", value_parser = tenants, help_heading = "Teams")]
    pub teams_tenant_ids: Option<List<String>>,
    /// The tenant the (single-tenant) bot is registered in [default: the first served tenant].
    #[arg(long, global = true, env = "OTPBOT_TEAMS_APP_TENANT_ID", value_name = "ID", value_parser = guid, help_heading = "Teams")]
    pub teams_app_tenant_id: Option<String>,
    /// The bot's client secret; environment only (on AWS: its SSM parameter).
    #[arg(
        long,
        global = true,
        env = "OTPBOT_TEAMS_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        help_heading = "Teams"
    )]
    pub teams_client_secret: Option<String>,
    /// File holding the Teams client secret.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_TEAMS_CLIENT_SECRET_FILE",
        value_name = "FILE",
        help_heading = "Teams"
    )]
    pub teams_client_secret_file: Option<PathBuf>,
    /// Bot Framework OpenID metadata URL.
    #[arg(long, global = true, env = "OTPBOT_TEAMS_OPENID_URL", value_name = "URL", default_value = crate::teams::auth::DEFAULT_OPENID_URL, value_parser = http_url, help_heading = "Teams")]
    pub teams_openid_url: String,
    /// Login authority for the bot's tokens.
    #[arg(long, global = true, env = "OTPBOT_TEAMS_LOGIN_URL", value_name = "URL", default_value = crate::teams::connector::DEFAULT_LOGIN_URL, value_parser = http_url, help_heading = "Teams")]
    pub teams_login_url: String,
    /// Microsoft Graph base URL, where Entra ID group members are read.
    #[arg(long, global = true, env = "OTPBOT_GRAPH_API_URL", value_name = "URL", default_value = crate::teams::graph::DEFAULT_GRAPH_URL, value_parser = http_url, help_heading = "Teams")]
    pub graph_api_url: String,
    /// Bot Connector service URL for what otpbot sends outside any request (the sweep's direct
    /// messages, the audit channel): the global one, or a government cloud's.
    #[arg(long, global = true, env = "OTPBOT_TEAMS_SERVICE_URL", value_name = "URL", default_value = crate::teams::DEFAULT_SERVICE_URL, value_parser = http_url, help_heading = "Teams")]
    pub teams_service_url: String,
    /// Serve the local Microsoft 365 Agents Playground (a Teams emulator) for `otpbot serve`:
    /// Teams activities are accepted WITHOUT authentication and replies go to its http
    /// service URL. Loopback only, never on Lambda.
    #[arg(long, global = true, env = "OTPBOT_TEAMS_PLAYGROUND", value_name = "BOOL", num_args = 0..=1, default_value = "false", default_missing_value = "true", value_parser = yes_no, help_heading = "Teams")]
    pub teams_playground: bool,

    /// Log filter (tracing syntax), e.g. info or otpbot=debug.
    #[arg(
        long,
        global = true,
        env = "OTPBOT_LOG",
        value_name = "FILTER",
        default_value = "info",
        help_heading = "Logging"
    )]
    pub log: String,
    /// Log style [default: json on AWS Lambda, else pretty].
    #[arg(
        long,
        global = true,
        env = "OTPBOT_LOG_FORMAT",
        value_enum,
        help_heading = "Logging"
    )]
    pub log_format: Option<LogFormat>,
}

/// The ids of the settings whose values are secret: taken from the environment or a file,
/// never from the command line, where `ps` and shell history would show them.
pub const SECRET_IDS: &[&str] = &[
    "master_key",
    "audit_key",
    "slack_signing_secret",
    "slack_bot_token",
    "slack_app_token",
    "teams_client_secret",
];
