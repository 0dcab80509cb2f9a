//! `otpbot serve` and `otpbot demo`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;

use super::App;
use crate::config::{Settings, DEMO_SIGNING_SECRET_FILE};
use crate::domain::{GrantDuration, Principal, Seed, Tool, ToolName};
use crate::engine::{ChatRequest, Engine};
use crate::http::{router, AppState};
use crate::keys::{write_private_file, SigningSecret};
use crate::slack::SlackConfig;

/// Options of `serve` and `demo` beyond the settings (`--listen`, `--teams-playground` and
/// the rest are settings: see [`crate::config::SettingsArgs`]).
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// The workspace, admin and tool `otpbot demo` sets up.
pub const DEMO_TEAM: &str = "T0DEMO";
const DEMO_ADMIN: &str = "U123";
const DEMO_TOOL: &str = "github";

/// Serves with the configured settings.
pub async fn serve(mut settings: Settings, _args: ServeArgs) -> anyhow::Result<()> {
    let listen = settings.listen;
    if settings.teams.as_ref().is_some_and(|t| t.playground) {
        check_playground(listen)?;
        tracing::warn!(
            %listen,
            "Teams playground mode: Teams activities are accepted WITHOUT authentication and \
             replies go to the playground's loopback http service URL; for a local try-out only"
        );
    }
    if settings.teams.as_ref().is_some_and(|t| !t.playground) {
        check_trust_store("the Bot Framework")?;
    }
    if settings.slack_socket_mode {
        check_trust_store("Slack (Socket Mode)")?;
    }
    if settings.backend == crate::config::Backend::Local && settings.master_key.is_none() {
        tracing::warn!(
            key = %settings.key_path("master.key").display(),
            "the master key sits in the same directory as the store it protects: a copy of \
             that directory (a backup, a snapshot) is enough to decrypt every seed; keep the \
             key elsewhere and point OTPBOT_MASTER_KEY_FILE at it"
        );
    }
    if settings.slack_socket_mode {
        return super::socket_mode::serve(settings, listen).await;
    }
    let policy = settings.policy();
    let state = App::open(&mut settings, policy, super::Patience::Chat)
        .await?
        .into_state(&settings)
        .await?;
    run_server(state, listen, None).await
}

/// Teams needs outbound HTTPS, trusting the platform's CA store or, when either is set, only
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` (what the HTTP client loads): refuse to start with none.
fn check_trust_store(service: &str) -> anyhow::Result<()> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "some trusted CA certificates could not be read");
    }
    if found.certs.is_empty() {
        let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        bail!(
            "no trusted CA certificates found (the platform store, or SSL_CERT_FILE / \
             SSL_CERT_DIR when set), so {service} could not be reached over HTTPS{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            }
        );
    }
    Ok(())
}

/// The playground takes unauthenticated activities, so only this machine may reach otpbot.
fn check_playground(listen: SocketAddr) -> anyhow::Result<()> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        bail!("the Teams playground is a local try-out and is never available on AWS Lambda");
    }
    if !listen.ip().is_loopback() {
        bail!(
            "the Teams playground accepts Teams activities without authentication, so otpbot \
             must listen on a loopback address (e.g. 127.0.0.1:3000), not {listen}"
        );
    }
    Ok(())
}

/// Sets up the demo workspace, tool and admin, prints how to try it, and serves.
pub async fn demo(mut settings: Settings, _args: ServeArgs) -> anyhow::Result<()> {
    if settings.teams.as_ref().is_some_and(|t| t.playground) {
        bail!("--teams-playground (OTPBOT_TEAMS_PLAYGROUND) is for `otpbot serve`; the demo serves Slack only");
    }
    if settings.slack_socket_mode {
        bail!("--slack-socket-mode (OTPBOT_SLACK_SOCKET_MODE) is for `otpbot serve`; the demo serves Slack over HTTP");
    }
    #[cfg(not(feature = "local"))]
    if settings.backend == crate::config::Backend::Local {
        return Err(super::no_local_store());
    }
    let secret = match settings.signing_secret() {
        Some(secret) => secret,
        None => {
            crate::keys::create_private_dir(&settings.data_dir)?;
            let secret = hex::encode(rand::random::<[u8; 16]>());
            write_private_file(
                &settings.data_dir.join(DEMO_SIGNING_SECRET_FILE),
                secret.as_bytes(),
            )
            .context("cannot write the demo signing secret")?;
            SigningSecret::new(secret)
        }
    };
    let admin = Principal::new(crate::domain::Platform::Slack, DEMO_TEAM, DEMO_ADMIN)?;
    let mut policy = settings.policy();
    policy.bootstrap_admins.insert(admin.clone());
    let engine = App::open(&mut settings, policy, super::Patience::Chat)
        .await?
        .engine;
    seed_demo(&engine, &admin).await?;
    settings.slack_workspaces.insert(DEMO_TEAM.to_owned());
    let slack = SlackConfig {
        signing_secret: secret,
        allowed_workspaces: settings.slack_workspaces.clone(),
        web_api: crate::slack::web::WebApi::from_settings(&settings)?,
    };
    let listen = settings.listen;
    let data_dir = settings.data_dir.clone();
    let state = AppState {
        engine: Arc::new(engine),
        slack: Some(Arc::new(slack)),
        teams: None,
        background: crate::front::Background::default(),
    };
    run_server(
        state,
        listen,
        Some(Box::new(move |addr| banner(&data_dir, addr))),
    )
    .await
}

/// What `otpbot demo` prints once it listens: the exact commands to try.
fn banner(data_dir: &std::path::Path, addr: SocketAddr) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "otpbot".into());
    let dir = if data_dir.as_os_str() == "otpbot-data" {
        String::new()
    } else {
        format!(" --data-dir {}", data_dir.display())
    };
    let url = if addr.port() == 3000 && addr.ip().is_loopback() {
        String::new()
    } else {
        format!(" --url http://{addr}")
    };
    let slash = format!("{exe} slash{dir}{url}");
    format!(
        "\notpbot demo is serving on http://{addr} (store: {store}).\n\
         Workspace {DEMO_TEAM}; <@{DEMO_ADMIN}> is admin and holds `{DEMO_TOOL}`. In another terminal, get a code:\n\n\
         \x20   {slash} --as {DEMO_ADMIN} {DEMO_TOOL}\n\n\
         More to try:\n\
         \x20   {slash} --as U456 {DEMO_TOOL}\n\
         \x20   {slash} --as {DEMO_ADMIN} \"grant <@U456> {DEMO_TOOL} for 1h onboarding\"\n\
         \x20   {slash} --as {DEMO_ADMIN} \"audit since 1d\"\n\
         \x20   {exe} audit{dir}\n",
        store = data_dir.display()
    )
}

/// Enrols the demo tool (with a fresh random seed) and grants it to the demo admin.
async fn seed_demo(engine: &Engine, admin: &Principal) -> anyhow::Result<()> {
    let name = ToolName::parse(DEMO_TOOL)?;
    let stores = engine.stores();
    if stores.access.tool(&name).await?.is_none() {
        let secret = totp_rs::Secret::Raw(rand::random::<[u8; 20]>().to_vec())
            .to_encoded()
            .to_string();
        let seed = Seed::parse(&secret).context("demo seed")?;
        let tool = Tool {
            name: name.clone(),
            display_name: "GitHub (demo)".into(),
            default_grant: GrantDuration::parse("8h").context("duration")?,
            max_grant: GrantDuration::parse("1w").context("duration")?,
            notify_channel: None,
            approvals_channel: None,
        };
        super::tool::add(engine, &tool, &seed).await?;
    }
    let active = stores
        .access
        .grant(admin, &name)
        .await?
        .is_some_and(|g| g.is_active(engine.clock().now()));
    if !active {
        let request = ChatRequest {
            request_id: crate::domain::RequestId::new(),
            person: crate::domain::Person::from(admin),
            reaches_others: false,
            principal: admin.clone(),
            channel: Some("demo-setup".into()),
            text: format!("grant {admin} {DEMO_TOOL} for 8h demo"),
            delivery: None,
        };
        let reply = engine.handle(&request).await;
        if reply.tone != crate::reply::Tone::Info {
            bail!("demo setup failed: {}", reply.plain_text());
        }
    }
    Ok(())
}

/// Makes the text to print from the bound address, once listening.
type Banner = Box<dyn FnOnce(SocketAddr) -> String + Send>;

pub(super) async fn run_server(
    state: AppState,
    listen: SocketAddr,
    banner: Option<Banner>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "otpbot listening");
    if let Some(banner) = banner {
        use std::io::Write;
        println!("{}", banner(addr));
        let _ = std::io::stdout().flush();
    }
    let background = state.background.clone();
    crate::server::serve(
        listener,
        router(state),
        crate::server::Limits::default(),
        crate::server::shutdown_signal(),
    )
    .await;
    // Notices of the last requests still on their way are let finish, within reason.
    if !background
        .idle_within(std::time::Duration::from_secs(10))
        .await
    {
        tracing::warn!(
            running = background.running(),
            "follow-ups still running at exit were dropped"
        );
    }
    Ok(())
}
