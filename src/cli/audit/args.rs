//! The arguments of `otpbot audit` and its subcommands.

use clap::{Args, Subcommand};

use super::export::Format;
use super::verify::VerifyArgs;
use crate::domain::{Principal, ToolName};

/// `otpbot audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that the audit log is complete, unaltered and extends every checkpoint given
    /// (read-only); or check an exported log with the public key alone.
    Verify(VerifyArgs),
    /// Print a signed checkpoint of the log (one JSON object): its record count and head,
    /// signed with the checkpoint key (on AWS: the newest seal's, signed by KMS).
    Checkpoint,
    /// Print the public key (PEM) that checks the checkpoints' signatures.
    PublicKey,
}

/// `otpbot audit`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// `verify`, `checkpoint` or `public-key`; without one, read or export the log.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only events about this tool.
    #[arg(long)]
    pub tool: Option<ToolName>,
    /// Only events by this principal (slack:{team}:{user}), or about this group
    /// (slack-group:{team}:{group}, entra-group:{tenant}:{group}): its grants and its members'
    /// codes.
    #[arg(long)]
    pub user: Option<Principal>,
    /// Only events since: a duration back from now (7d) or a date/time (2026-11-03, RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before: a duration back from now or a date/time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only issuances of this code (with --tool, or --at): checks whether otpbot issued it,
    /// and to whom.
    #[arg(long)]
    pub code: Option<String>,
    /// With --code: when the code was used (e.g. a sign-in time from the account's own log),
    /// as a date/time or a duration back from now. Answers with a verdict: who otpbot issued
    /// that code to in the minutes before, on every tool unless --tool is given.
    #[arg(long, requires = "code", value_name = "TIME")]
    pub at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Stop after this many events (default: all).
    #[arg(long)]
    pub limit: Option<usize>,
}
