//! `otpbot slash`: sends a slash command to a running otpbot, signed exactly as Slack signs it,
//! and prints the reply as a person would read it.

use anyhow::{bail, Context};
use clap::Args;

use crate::config::Settings;
use crate::config::DEMO_TEAM;
use crate::domain::{Clock, SystemClock};
use crate::front::client;
use crate::slack::signature::sign;
use crate::startup::HTTPS_SETUP;

/// `otpbot slash`
#[derive(Debug, Args)]
pub struct SlashArgs {
    /// The Slack user id to send as.
    #[arg(long = "as", value_name = "USER")]
    pub user: String,
    /// The Slack team id.
    #[arg(long, default_value = DEMO_TEAM)]
    pub team: String,
    /// The channel id.
    #[arg(long, default_value = "C0DEMO")]
    pub channel: String,
    /// Base URL of the running otpbot [default: http:// and the --listen address
    /// (OTPBOT_LISTEN), so the one setting serves both].
    #[arg(long)]
    pub url: Option<String>,
    /// The command text, e.g. `github` or `grant <@U456> github for 1h`. Options may come
    /// before or after it; words after `--` are all text.
    #[arg(num_args = 0..)]
    pub text: Vec<String>,
}

/// The form body Slack sends for `/otp {text}`.
pub fn slash_form(team: &str, user: &str, channel: &str, text: &str) -> String {
    let trigger = format!("{}.{}", rand::random::<u32>(), rand::random::<u32>());
    serde_urlencoded::to_string([
        ("token", "otpbot-local"),
        ("team_id", team),
        ("team_domain", "local"),
        ("channel_id", channel),
        ("channel_name", "local"),
        ("user_id", user),
        ("user_name", user),
        ("command", "/otp"),
        ("text", text),
        ("api_app_id", "A0LOCAL"),
        ("trigger_id", trigger.as_str()),
    ])
    .unwrap_or_default()
}

/// Renders a Block Kit reply as plain lines.
pub fn readable(body: &serde_json::Value) -> String {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut lines = Vec::new();
    for block in body["blocks"].as_array().into_iter().flatten() {
        if let Some(text) = block["text"]["text"].as_str() {
            lines.push(unescape(text));
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            if let Some(text) = element["text"].as_str() {
                lines.push(format!("({})", unescape(text)));
            }
        }
    }
    if lines.is_empty() {
        lines.push(body["text"].as_str().unwrap_or_default().to_owned());
    }
    lines.join("\n")
}

/// Runs `otpbot slash`.
pub async fn run(settings: Settings, args: SlashArgs) -> anyhow::Result<()> {
    let secret = settings.signing_secret().context(
        "no signing secret to sign with: set OTPBOT_SLACK_SIGNING_SECRET to the server's, or \
         point --data-dir at the directory `otpbot demo` uses",
    )?;
    let body = slash_form(&args.team, &args.user, &args.channel, &args.text.join(" "));
    let timestamp = SystemClock.now().unix();
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.listen));
    let url = format!("{}/slack/commands", base.trim_end_matches('/'));
    let response = client(std::time::Duration::from_secs(10))
        .context(HTTPS_SETUP)?
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            sign(&secret, timestamp, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .with_context(|| {
            format!("cannot reach otpbot at {url}: start `otpbot demo` (or `otpbot serve`) first, or point --url at the one that runs")
        })?;
    let status = response.status();
    let text = response.text().await.context("cannot read the reply")?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        bail!(
            "otpbot at {url} answered {status} ({}): the request was signed with another secret \
             than the server's, or the clocks differ by more than 5 minutes; give `otpbot slash` \
             the server's secret (OTPBOT_SLACK_SIGNING_SECRET, or --data-dir of the demo that \
             answers), or check that --url (or OTPBOT_LISTEN) names the otpbot you mean",
            text.trim()
        );
    }
    if !status.is_success() {
        bail!("otpbot at {url} answered {status}: {}", text.trim());
    }
    let json: serde_json::Value = serde_json::from_str(&text).context("the reply is not JSON")?;
    say!("{}", readable(&json));
    Ok(())
}
