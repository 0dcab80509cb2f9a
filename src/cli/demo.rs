//! `otpbot demo`: the local store with a demo workspace, tool and admin, and the commands to
//! try printed. The demo makes `<@U123>` an admin and keeps its signing secret in a file, so it
//! must never run on a store that holds anything real: it only writes into a store it created
//! itself (marked by its signing-secret file) whose only tool is its own.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::tool::add as add_tool;
use crate::config::{Settings, DEMO_SIGNING_SECRET_FILE, DEMO_TEAM};
use crate::domain::{GrantDuration, Principal, Seed, Tool, ToolName, ToolRules};
use crate::engine::{ChatRequest, Engine};
use crate::front::Background;
use crate::keys::write_private_file;
use crate::slack::SlackConfig;
use crate::startup::checkpoints::Publisher;
use crate::startup::local::create_data_dir;
use crate::startup::{bind, serve_on, web_api_from_env, App, AppState, Patience};
use crate::store::local::DB_FILE;

/// The demo admin and the tool it holds.
const DEMO_ADMIN: &str = "U123";
const DEMO_TOOL: &str = "github";
/// How the demo tool is shown; a store whose only tool is this one is the demo's.
const DEMO_TOOL_DISPLAY: &str = "GitHub (demo)";

/// The demo on the local store: checked, marked, seeded and served.
pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    check_before_opening(&settings.data_dir)?;
    let listener = bind(settings.listen).await?;
    mark(&settings.data_dir)?;
    let secret = settings
        .signing_secret()
        .context("cannot read the demo signing secret")?;
    let admin = Principal::new(crate::domain::Platform::Slack, DEMO_TEAM, DEMO_ADMIN)?;
    let mut policy = settings.policy();
    policy.bootstrap_admins.insert(admin.clone());
    let app = App::open(&mut settings, policy, Patience::Chat).await?;
    let checkpoints = app.checkpoints.clone();
    let engine = app.engine;
    check_catalog(&engine, &settings.data_dir).await?;
    seed_demo(&engine, &admin).await?;
    settings.slack_workspaces.insert(DEMO_TEAM.to_owned());
    let slack = SlackConfig {
        signing_secret: secret,
        allowed_workspaces: settings.slack_workspaces.clone(),
        web_api: web_api_from_env(&settings)?,
    };
    let data_dir = settings.data_dir.clone();
    let state = AppState {
        engine: Arc::new(engine),
        slack: Some(Arc::new(slack)),
        teams: None,
        background: Background::default(),
    };
    let publisher = Publisher::new(checkpoints, &settings, state.outbox());
    serve_on(
        state,
        listener,
        Some(Box::new(move |addr| banner(&data_dir, addr))),
        Some((publisher, settings.checkpoint_every)),
    )
    .await
}

/// A word of the printed commands: the given value, unless it is the one the command picks
/// up anyway (from its variable in this environment, or the default).
fn unless_default(flag: &str, given: &str, var: &str, default: &str) -> String {
    let assumed = std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned());
    if given == assumed {
        String::new()
    } else {
        format!(" {flag} {given}")
    }
}

/// How to run this binary from here: relative to the working directory when under it
/// (`./target/release/otpbot`), else its full path.
fn this_binary() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "otpbot".into();
    };
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(|p| Path::new(".").join(p)));
    crate::keys::shell_word(relative.as_deref().unwrap_or(&exe))
}

/// What `otpbot demo` prints once it listens: the exact commands to try, and how to stop.
fn banner(data_dir: &Path, addr: SocketAddr) -> String {
    let exe = this_binary();
    let dir = unless_default(
        "--data-dir",
        &crate::keys::shell_word(data_dir),
        "OTPBOT_DATA_DIR",
        "otpbot-data",
    );
    let url = if unless_default("", &addr.to_string(), "OTPBOT_LISTEN", "127.0.0.1:3000").is_empty()
    {
        String::new()
    } else {
        format!(" --url http://{addr}")
    };
    let slash = format!("{exe} slash{dir}{url}");
    format!(
        "otpbot demo is serving on http://{addr} (store: {store}); stop it with Ctrl-C.\n\
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
            display_name: DEMO_TOOL_DISPLAY.into(),
            default_grant: GrantDuration::parse("8h").context("duration")?,
            max_grant: GrantDuration::parse("1w").context("duration")?,
            notify_channel: None,
            approvals_channel: None,
            rules: ToolRules::default(),
        };
        add_tool(engine, &tool, &seed).await?;
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
            name: None,
        };
        let reply = engine.handle(&request).await;
        if reply.tone != crate::reply::Tone::Info {
            bail!("demo setup failed: {}", reply.plain_text());
        }
    }
    Ok(())
}

/// What to do instead, for messages.
fn elsewhere(dir: &Path) -> String {
    format!(
        "the demo makes <@U123> an admin, so it only runs on a store it made itself; run it on \
         a new directory (`otpbot demo --data-dir otpbot-demo`), or move {} away",
        dir.display()
    )
}

/// Refuses a store the demo did not make, before anything is opened or written.
fn check_before_opening(dir: &Path) -> anyhow::Result<()> {
    if dir.join(DB_FILE).exists() && !dir.join(DEMO_SIGNING_SECRET_FILE).is_file() {
        bail!(
            "{} holds an otpbot store that `otpbot demo` did not make: {}",
            dir.display(),
            elsewhere(dir)
        );
    }
    Ok(())
}

/// Marks `dir` as the demo's with its signing secret (made up once, mode 0600), unless marked.
fn mark(dir: &Path) -> anyhow::Result<()> {
    let file = dir.join(DEMO_SIGNING_SECRET_FILE);
    if file.is_file() {
        return Ok(());
    }
    create_data_dir(dir)?;
    let secret = hex::encode(rand::random::<[u8; 16]>());
    write_private_file(&file, secret.as_bytes())
        .with_context(|| format!("cannot write the demo signing secret {}", file.display()))
}

/// Refuses a demo store that has been given other tools since (someone enrolled a real one).
async fn check_catalog(engine: &Engine, dir: &Path) -> anyhow::Result<()> {
    let foreign: Vec<String> = engine
        .stores()
        .access
        .tools()
        .await?
        .into_iter()
        .filter(|t| t.name.as_str() != DEMO_TOOL || t.display_name != DEMO_TOOL_DISPLAY)
        .map(|t| t.name.to_string())
        .collect();
    if !foreign.is_empty() {
        bail!(
            "{} holds tools the demo did not enrol ({}): {}",
            dir.display(),
            foreign.join(", "),
            elsewhere(dir)
        );
    }
    Ok(())
}
