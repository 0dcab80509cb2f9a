//! `otpbot audit`: read or export the audit log ([`read`]), check it ([`verify`]), and take or
//! check signed checkpoints of it ([`checkpoint`]).

mod args;
mod checkpoint;
mod export;
mod read;
mod verify;
mod when;

pub use self::args::{AuditArgs, AuditCommand};
use crate::config::Settings;

/// Runs `otpbot audit`.
pub async fn run(settings: Settings, args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Verify(verify)) => verify::run(settings, verify).await,
        Some(AuditCommand::Checkpoint) => checkpoint::print(settings).await,
        Some(AuditCommand::PublicKey) => checkpoint::print_public_key(settings).await,
        None => read::read(settings, args).await,
    }
}
