//! The values settings take, each checked as it is read, with a message that says what a good
//! one looks like: lists, Slack and Entra ids, durations and rates, addresses, URLs.

use std::net::SocketAddr;

use crate::domain::{GrantDuration, Principal, RateLimit};

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

impl LogFormat {
    /// The style when none is set: JSON on AWS Lambda (CloudWatch reads it), else pretty.
    pub fn default_for(on_lambda: bool) -> Self {
        if on_lambda {
            Self::Json
        } else {
            Self::Pretty
        }
    }
}

/// The tenant id the Microsoft 365 Agents Playground (0.2.28) puts in every activity.
pub const PLAYGROUND_TENANT: &str = "00000000-0000-0000-0000-0000000000001";

/// A comma-separated list setting (`a, b,c`); blank items are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

/// Parses each item of a comma-separated list with `item`.
fn list<T>(text: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<List<T>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(item)
        .collect::<Result<_, _>>()
        .map(List)
}

/// Slack team ids (`T…`) and Enterprise Grid org ids (`E…`), as Slack writes them.
pub(super) fn slack_workspaces(text: &str) -> Result<List<String>, String> {
    list(text, |id| {
        let valid = id.len() >= 2
            && id.len() <= 32
            && matches!(id.as_bytes()[0], b'T' | b'E')
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if valid {
            Ok(id.to_owned())
        } else {
            Err(format!(
                "`{id}` is not a Slack team id (T…) or enterprise id (E…) as Slack writes \
                 them, e.g. T0123ABCD; the team id is in the web app's URL \
                 (app.slack.com/client/T…)"
            ))
        }
    })
}

/// Whether `id` is a GUID such as Entra tenant and app ids (`72f988bf-86f1-41af-…`), or the
/// Microsoft 365 Agents Playground's own tenant id, which is one digit longer.
fn is_guid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    id == PLAYGROUND_TENANT
        || (groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups
                .iter()
                .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// What a GUID setting looks like, for messages.
const GUID_FORM: &str = "a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Entra tenant ids (GUIDs), lower-cased as Teams sends them.
pub(super) fn tenants(text: &str) -> Result<List<String>, String> {
    list(text, |id| {
        if is_guid(id) {
            Ok(id.to_ascii_lowercase())
        } else {
            Err(format!(
                "`{id}` is not a tenant id: {GUID_FORM} (Azure portal → Microsoft Entra ID → \
                 Overview → Tenant ID)"
            ))
        }
    })
}

/// One GUID: the bot's app id, or the tenant of its registration.
pub(super) fn guid(text: &str) -> Result<String, String> {
    let id = text.trim();
    if is_guid(id) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(format!("`{id}` is not {GUID_FORM}"))
    }
}

/// Principals as a person types them, e.g. `slack:T0123:U0456`.
pub(super) fn principals(text: &str) -> Result<List<Principal>, String> {
    list(text, |p| {
        let principal = Principal::parse_input(p).map_err(|e| e.to_string())?;
        if principal.is_group() {
            return Err(format!(
                "`{principal}` is a group: admins are people, named one by one"
            ));
        }
        Ok(principal)
    })
}

/// `<count>/<duration>`, e.g. `10/10m`.
pub(super) fn rate(text: &str) -> Result<RateLimit, String> {
    RateLimit::parse(text).ok_or_else(|| format!("`{text}` is not like 10/10m"))
}

/// A duration such as `30m` or `1h`.
pub(super) fn duration(text: &str) -> Result<GrantDuration, String> {
    GrantDuration::parse(text).ok_or_else(|| format!("`{text}` is not like 30m or 1h"))
}

/// `<n>s` (at most six digits) or a duration such as `5m` or `1h`, in seconds.
fn seconds_or_duration(text: &str) -> Option<u64> {
    match text.trim().strip_suffix('s') {
        Some(n) if !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()) => {
            n.parse().ok()
        }
        _ => GrantDuration::parse(text).and_then(|d| u64::try_from(d.secs()).ok()),
    }
}

/// An interval between runs: `<n>s` or a duration like `1m` or `1h`; at least a second.
pub(super) fn interval(text: &str) -> Result<std::time::Duration, String> {
    seconds_or_duration(text)
        .filter(|secs| *secs >= 1)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is not like 60s, 5m or 1h"))
}

/// How long an answer may be kept: `<n>s` or a duration such as `5m`, `0s` for never.
pub(super) fn cache_age(text: &str) -> Result<u64, String> {
    seconds_or_duration(text).ok_or_else(|| format!("`{text}` is not like 60s, 5m or 0s"))
}

/// `host:port`.
pub(super) fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not host:port"))
}

/// A whole number of seconds, 0 included.
pub(super) fn seconds(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))
}

/// A positive number of seconds.
pub(super) fn positive_seconds(text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a positive number of seconds"))
}

/// A yes/no setting: `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
pub(super) fn yes_no(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" | "off" => Ok(false),
        "true" | "1" | "yes" | "on" => Ok(true),
        _ => Err(format!("`{text}` is not true or false")),
    }
}

/// An SSM parameter path prefix, as SSM allows them: `/`, letters, digits, `-_.`.
pub(super) fn ssm_prefix(text: &str) -> Result<String, String> {
    let valid = text.starts_with('/')
        && text.len() <= 200
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!("`{text}` is not a path like /otpbot"))
    }
}

/// Where audit checkpoints are posted: `slack:C…` (or the bare Slack channel id, as a tool's
/// channels are written) or a Teams conversation id (`19:…@thread.tacv2`). Kept without the
/// `slack:` prefix.
pub(super) fn audit_channel(text: &str) -> Result<String, String> {
    let id = text.trim();
    let bare = id.strip_prefix("slack:").unwrap_or(id);
    let slack = bare.len() >= 2
        && bare.starts_with(['C', 'G'])
        && bare
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if slack || (bare == id && crate::teams::is_conversation_id(id)) {
        Ok(bare.to_owned())
    } else {
        Err(format!(
            "`{text}` is neither a Slack channel (slack:C0123ABCD) nor a Teams conversation id \
             (19:…@thread.tacv2)"
        ))
    }
}

/// An absolute `http` or `https` URL.
pub(super) fn http_url(text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(text.to_owned())
        }
        _ => Err(format!("`{text}` is not an http(s) URL")),
    }
}
