//! `otpbot grant|revoke|role`: the operator acting as an admin, through the same command code
//! and audit path as chat.

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::operator::operator_request;
use crate::config::Settings;
use crate::domain::{GrantDuration, Principal, ToolName};
use crate::reply::Tone;
use crate::startup::{App, Patience};

/// `otpbot grant`
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// Who, as a principal: slack:{team}:{user} or teams:{tenant}:{aad-object-id}; or a group:
    /// slack-group:{team}:{group-id} or entra-group:{tenant}:{group-object-id}.
    pub principal: Principal,
    /// The tool.
    pub tool: ToolName,
    /// How long (30m, 8h, 7d, 2w); the tool's default if absent.
    #[arg(long = "for")]
    pub duration: Option<GrantDuration>,
    /// Why, for the audit log.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `otpbot revoke`
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Whose access, as a principal.
    pub principal: Principal,
    /// The tool.
    pub tool: ToolName,
}

/// Add or remove.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleOp {
    /// Give the role.
    Add,
    /// Take it away.
    Remove,
}

/// The roles.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleName {
    /// Grants, revokes, manages roles.
    Admin,
    /// Reads the audit log.
    Auditor,
    /// Decides access requests for one tool (give the tool as the last argument).
    Approver,
}

/// `otpbot role`
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// add or remove.
    pub op: RoleOp,
    /// Whose role, as a principal.
    pub principal: Principal,
    /// admin, auditor, or approver (then the tool: `role add slack:T1:U2 approver github`).
    pub role: RoleName,
    /// The tool, for the approver role only.
    pub tool: Option<ToolName>,
}

/// Runs `text` as a chat command from the operator, who is an admin here.
async fn as_operator(mut settings: Settings, text: String) -> anyhow::Result<()> {
    let request = operator_request();
    let mut policy = settings.policy();
    policy.bootstrap_admins.insert(request.principal.clone());
    policy.per_caller.limit = u64::MAX / 2;
    let engine = App::open(&mut settings, policy, Patience::Operator)
        .await?
        .engine;
    let request = crate::engine::ChatRequest { text, ..request };
    let reply = engine.handle(&request).await;
    if reply.tone != Tone::Info {
        bail!("{}", reply.plain_text());
    }
    say!("{}", reply.plain_text());
    Ok(())
}

/// Grants access.
pub async fn grant(settings: Settings, args: GrantArgs) -> anyhow::Result<()> {
    let mut text = format!("grant {} {}", args.principal, args.tool);
    if let Some(duration) = args.duration {
        text.push_str(&format!(" for {duration}"));
    }
    if let Some(reason) = args.reason {
        if args.duration.is_none()
            && reason
                .split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("for"))
        {
            bail!("give --for when the reason starts with \"for\"");
        }
        text.push(' ');
        text.push_str(&reason);
    }
    as_operator(settings, text).await
}

/// Revokes access.
pub async fn revoke(settings: Settings, args: RevokeArgs) -> anyhow::Result<()> {
    as_operator(settings, format!("revoke {} {}", args.principal, args.tool)).await
}

/// Changes a role.
pub async fn role(settings: Settings, args: RoleArgs) -> anyhow::Result<()> {
    let op = match args.op {
        RoleOp::Add => "add",
        RoleOp::Remove => "remove",
    };
    let role = match (args.role, &args.tool) {
        (RoleName::Admin, None) => "admin".to_owned(),
        (RoleName::Auditor, None) => "auditor".to_owned(),
        (RoleName::Approver, Some(tool)) => format!("approver {tool}"),
        (RoleName::Approver, None) => {
            bail!("the approver role is per tool: name the tool after it")
        }
        (_, Some(tool)) => bail!("only the approver role takes a tool, not `{tool}`"),
    };
    as_operator(settings, format!("role {op} {} {role}", args.principal)).await
}
