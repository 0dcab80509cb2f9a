//! Help as clap's own users expect it: each command's `--help` shows that command's options,
//! `otpbot help settings` the settings every command shares (each an option and an `OTPBOT_*`
//! variable), and `otpbot completions <shell>` a completion script from the same declaration.

use std::io::Write;

use clap::CommandFactory;

use super::args::{Cli, CompletionArgs};
use crate::config::SettingsArgs;

/// What every command's help ends with.
const SETTINGS_POINTER: &str = "Settings such as --data-dir, --backend and --listen apply to \
    every command, as options or OTPBOT_* variables: see `otpbot help settings`.";

/// The command line as parsed: the settings are options of every command, but only
/// `otpbot help settings` lists them, so each command's help shows its own options.
pub fn command() -> clap::Command {
    Cli::command()
        .mut_args(|arg| arg.hide(true))
        .after_help(SETTINGS_POINTER)
        .mut_subcommands(with_pointer)
}

/// `command` and its subcommands, each ending with the pointer to the settings.
fn with_pointer(command: clap::Command) -> clap::Command {
    command
        .after_help(SETTINGS_POINTER)
        .mut_subcommands(with_pointer)
}

/// The settings reference: every setting with its option, its variable, its default and, but
/// for secrets, the value it has now.
pub fn settings_reference() -> String {
    let mut settings = SettingsArgs::command()
        .name("otpbot")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .about(
            "otpbot settings. Each is an option of every command (before or after it) and an \
             OTPBOT_* variable read when the option is not given. Secret values come only from \
             the environment or a file named in <NAME>_FILE (or --<name>-file), never from the \
             command line.",
        )
        .help_template("{about}\n\n{all-args}\n");
    settings.render_help().to_string()
}

/// Prints the help `topic` names: the same text as the command's own `--help`.
pub fn help(topic: &[String]) -> anyhow::Result<()> {
    if let [one] = topic {
        if one == "settings" {
            return write_out(settings_reference().as_bytes());
        }
    }
    let argv = std::iter::once("otpbot")
        .chain(topic.iter().map(String::as_str))
        .chain(["--help"]);
    match command().try_get_matches_from(argv) {
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            write_out(e.render().to_string().as_bytes())
        }
        _ => anyhow::bail!(
            "no help on `{}`: try `otpbot help` for the commands, or `otpbot help settings`",
            topic.join(" ")
        ),
    }
}

/// Prints a completion script for `shell`, settings included.
pub fn completions(args: &CompletionArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "otpbot", &mut script);
    write_out(&script)
}

/// Writes `bytes` to stdout; a closed pipe ends the command quietly (see `main`).
fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
