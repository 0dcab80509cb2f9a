//! The secret settings: each given as its variable or as a file named by `{var}_FILE`, never
//! both, and never echoed; and the SSM parameters that hold them on AWS when the environment
//! does not.

use std::path::PathBuf;

use secrecy::SecretString;

use super::args::SettingsArgs;
use super::error::{invalid, ConfigError};
use crate::keys::{self, KeyBytes, SigningSecret};

/// A secret given as `var` or as the file named by `{var}_FILE` (not both).
pub(super) fn secret(
    var: &str,
    value: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{var}_FILE");
    match (value, file) {
        (Some(_), Some(_)) => Err(invalid(
            var,
            format!("set either {var} or {file_var}, not both"),
        )),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| invalid(&file_var, format!("cannot read {}: {e}", path.display()))),
        (None, None) => Ok(None),
    }
}

/// A 64-hex-character key given as `var` or `{var}_FILE`; the value is never echoed.
fn key(
    var: &str,
    value: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<KeyBytes>, ConfigError> {
    secret(var, value, file)?
        .map(|k| keys::decode_hex_key(&k, var).map_err(|e| invalid(var, e.to_string())))
        .transpose()
}

/// The secrets the environment gives, read (files included) in the order they are declared.
pub(super) struct Given {
    pub slack_signing_secret: Option<SigningSecret>,
    pub master_key: Option<KeyBytes>,
    pub audit_key: Option<KeyBytes>,
    pub slack_bot_token: Option<String>,
    pub slack_app_token: Option<SecretString>,
}

/// Takes the secrets out of `args`, reading the files named.
pub(super) fn given(args: &mut SettingsArgs) -> Result<Given, ConfigError> {
    Ok(Given {
        slack_signing_secret: secret(
            "OTPBOT_SLACK_SIGNING_SECRET",
            args.slack_signing_secret.take(),
            args.slack_signing_secret_file.take(),
        )?
        .map(SigningSecret::new),
        master_key: key(
            "OTPBOT_MASTER_KEY",
            args.master_key.take(),
            args.master_key_file.take(),
        )?,
        audit_key: key(
            "OTPBOT_AUDIT_KEY",
            args.audit_key.take(),
            args.audit_key_file.take(),
        )?,
        slack_bot_token: secret(
            "OTPBOT_SLACK_BOT_TOKEN",
            args.slack_bot_token.take(),
            args.slack_bot_token_file.take(),
        )?,
        slack_app_token: secret(
            "OTPBOT_SLACK_APP_TOKEN",
            args.slack_app_token.take(),
            args.slack_app_token_file.take(),
        )?
        .map(SecretString::from),
    })
}

/// Where a secret lives in SSM: as given, else `{prefix}/{path}`.
pub(super) struct Parameters {
    prefix: String,
}

impl Parameters {
    /// Parameters under `ssm_prefix`.
    pub fn under(ssm_prefix: &str) -> Self {
        Self {
            prefix: ssm_prefix.trim_end_matches('/').to_owned(),
        }
    }

    /// `given`, else `{prefix}/{path}`.
    pub fn name(&self, given: Option<String>, path: &str) -> String {
        given.unwrap_or(format!("{}/{path}", self.prefix))
    }
}
