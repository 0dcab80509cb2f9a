//! What is wrong with a setting, said with the variable's name.

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value is unusable.
    #[error("{var}: {message}")]
    Invalid {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// The settings could not be read at all (not a value's fault).
    #[error("{0}")]
    Unreadable(String),
}

pub(super) fn invalid(var: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        message: message.into(),
    }
}

/// When `err` is about the value of a setting, the setting's flag (without `--`) and an error
/// that names its variable and says what is wrong (`OTPBOT_RATE_PER_TOOL: \`ten\` is not like
/// 10/10m`). `command` is the one that was parsed. Other errors (usage, help) give `None`.
pub fn explain(err: &clap::Error, command: &clap::Command) -> Option<(String, ConfigError)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.strip_prefix("--")?.split([' ', '=']).next()?;
    let setting = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let var = setting.get_env()?.to_str()?;
    let message = match err.kind() {
        ErrorKind::ValueValidation => std::error::Error::source(err)?.to_string(),
        ErrorKind::InvalidValue => {
            let value = match err.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(value)) => value.as_str(),
                _ => "",
            };
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(valid)) => valid.join(", "),
                _ => String::new(),
            };
            format!("`{value}` is not one of: {valid}")
        }
        _ => return None,
    };
    Some((long.to_owned(), invalid(var, message)))
}

/// A clap error of settings parsed from variables, as a [`ConfigError`].
pub(super) fn config_error(err: &clap::Error, command: &clap::Command) -> ConfigError {
    match explain(err, command) {
        Some((_, error)) => error,
        None => ConfigError::Unreadable(err.to_string()),
    }
}
