//! The `otpbot` command line: the server, the operator's tools (enrol seeds, grant, audit), and
//! `otpbot slash`, which signs a request exactly as Slack does. Argument parsing is here; the
//! work is done by the library: start-up (`crate::startup`) builds and serves the application,
//! and the operator's commands run through the same engine as chat. Seeds are read from stdin
//! or a hidden prompt, never from argv.

#[macro_use]
mod terminal;

mod admin;
mod args;
mod audit;
mod aws;
#[cfg(feature = "local")]
mod demo;
mod help;
mod operator;
#[cfg(feature = "qr")]
mod qr;
mod secret;
mod serve;
mod slash;
mod sweep;
mod tool;

use anyhow::Context;
use clap::FromArgMatches;

pub use self::args::{Cli, CliCommand, SecretCommand};
pub use self::terminal::is_closed_pipe;
use crate::config::Settings;

impl Cli {
    /// Parses the command line and the environment. Exits as clap does on usage errors and
    /// help; a bad value of a setting that came from its variable is told with the variable's
    /// name, and a secret given on the command line is refused.
    pub fn parse_or_exit() -> Self {
        let mut command = help::command();
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let result = command.try_get_matches_from_mut(&argv).and_then(|matches| {
            refuse_secret_arguments(&matches)?;
            Self::from_arg_matches(&matches)
        });
        match result {
            Ok(cli) => cli,
            Err(err) => {
                if let Some((long, error)) = crate::config::explain(&err, &command) {
                    let flag = format!("--{long}");
                    let given = argv.iter().filter_map(|a| a.to_str()).any(|a| {
                        a == flag || a.strip_prefix(&flag).is_some_and(|r| r.starts_with('='))
                    });
                    if !given {
                        use std::io::Write;
                        let _ =
                            writeln!(std::io::stderr(), "error: invalid configuration: {error}");
                        std::process::exit(2);
                    }
                }
                err.exit()
            }
        }
    }
}

/// Secret values come from the environment or a file: on the command line `ps` and shell
/// history would show them.
fn refuse_secret_arguments(matches: &clap::ArgMatches) -> Result<(), clap::Error> {
    for id in crate::config::SECRET_IDS {
        if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
            let flag = format!("--{}", id.replace('_', "-"));
            return Err(help::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{flag} takes its value from OTPBOT_{0} or a file named in \
                     OTPBOT_{0}_FILE (or {flag}-file), never from the command line, where `ps` \
                     and shell history would show it",
                    id.to_uppercase()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether this process is a Lambda function's: the Lambda service starts it with no command
/// line and sets `AWS_LAMBDA_RUNTIME_API`
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>). Its settings
/// come from the environment alone, so it need not build the command line's definition (every
/// command and option) before its first request.
pub fn is_lambda_function() -> bool {
    std::env::args_os().len() == 1 && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Serves as a Lambda function (see [`is_lambda_function`]).
pub async fn lambda() -> anyhow::Result<()> {
    crate::startup::lambda::lambda().await
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return lambda().await;
        }
        anyhow::bail!("no command given; see `otpbot --help` (try `otpbot demo`)");
    };
    match &command {
        CliCommand::Help(args) => return help::help(&args.topic),
        CliCommand::Completions(args) => return help::completions(args),
        _ => {}
    }
    let settings = Settings::from_args(cli.settings).context("invalid configuration")?;
    let log_filter = match &command {
        CliCommand::Serve(_) | CliCommand::Demo(_) => settings.log_filter.clone(),
        // The SDK's own warnings (each failed credential or region source, with a Debug dump)
        // would bury the one line an operator command prints when it fails.
        _ => "warn,aws_config=error".to_owned(),
    };
    crate::telemetry::init(&log_filter, settings.log_format);
    for var in &settings.unknown {
        tracing::warn!(variable = %var, "unknown OTPBOT_ variable ignored; check for a typo");
    }
    #[cfg(feature = "local")]
    {
        let (store_use, name) = command.store_use();
        crate::startup::local::check_data_dir(&settings, store_use, name)?;
    }
    match command {
        CliCommand::Serve(args) => serve::serve(settings, args).await,
        CliCommand::Demo(args) => serve::demo(settings, args).await,
        CliCommand::Tool(cmd) => tool::run(settings, cmd).await,
        CliCommand::Grant(args) => admin::grant(settings, args).await,
        CliCommand::Revoke(args) => admin::revoke(settings, args).await,
        CliCommand::Role(args) => admin::role(settings, args).await,
        CliCommand::Audit(args) => audit::run(settings, args).await,
        CliCommand::Slash(args) => slash::run(settings, args).await,
        CliCommand::Sweep(args) => sweep::run(settings, args).await,
        CliCommand::Secret(SecretCommand::Set(args)) => secret::set(settings, args).await,
        CliCommand::Aws(cmd) => aws::run(settings, cmd).await,
        CliCommand::Help(_) | CliCommand::Completions(_) => Ok(()),
    }
}
