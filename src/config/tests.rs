//! Settings from variables: defaults, derived values, and errors that name the variable.

use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_and_lists() {
    let s = Settings::from_vars(vars(&[
        ("OTPBOT_ADMINS", "slack:T1:U1, slack:T1:U2"),
        ("OTPBOT_SLACK_TEAM_IDS", "T1,E9"),
        ("OTPBOT_RATE_PER_TOOL", "5/1h"),
        ("OTPBOT_TYPO", "x"),
    ]))
    .expect("valid settings");
    assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(s.admins.len(), 2);
    assert!(s.slack_workspaces.contains("E9"));
    assert_eq!(
        s.rate_per_tool,
        RateLimit {
            limit: 5,
            window_secs: 3600
        }
    );
    assert_eq!(s.unknown, vec!["OTPBOT_TYPO".to_owned()]);
}

#[test]
fn only_the_local_backend_reads_the_demo_signing_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(DEMO_SIGNING_SECRET_FILE), "demo").expect("write");
    let data_dir = dir.path().to_str().expect("utf-8 path");
    let local = Settings::from_vars(vars(&[("OTPBOT_DATA_DIR", data_dir)])).expect("local");
    assert!(
        local.signing_secret().is_some(),
        "the demo's secret, locally"
    );
    let aws = Settings::from_vars(vars(&[
        ("OTPBOT_DATA_DIR", data_dir),
        ("OTPBOT_BACKEND", "aws"),
    ]))
    .expect("aws");
    assert!(
        aws.signing_secret().is_none(),
        "the AWS backend takes its secret from the environment or SSM only"
    );
    assert!(!aws.slack_enabled(), "a leftover demo file enables nothing");
}

#[test]
fn errors_name_the_variable() {
    for (var, value) in [
        ("OTPBOT_LISTEN", "nope"),
        ("OTPBOT_ADMINS", "U1"),
        ("OTPBOT_RATE_PER_CALLER", "ten"),
        ("OTPBOT_MASTER_KEY", "abcd"),
        ("OTPBOT_BACKEND", "mongo"),
        ("OTPBOT_SSM_PREFIX", "otpbot/../x"),
        ("OTPBOT_SEED_CACHE_SECS", "1m"),
        ("OTPBOT_LOG_FORMAT", "xml"),
        ("OTPBOT_TEAMS_PLAYGROUND", "maybe"),
    ] {
        let err = Settings::from_vars(vars(&[(var, value)]))
            .expect_err(var)
            .to_string();
        assert!(err.starts_with(var), "{var}: {err}");
        assert!(
            !err.contains("abcd") || var != "OTPBOT_MASTER_KEY",
            "key value echoed: {err}"
        );
    }
}

#[test]
fn access_request_settings() {
    let s = Settings::from_vars(vars(&[
        ("OTPBOT_REQUEST_TTL", "2h"),
        ("OTPBOT_RATE_PER_REQUEST", "3/1d"),
    ]))
    .expect("valid settings");
    assert_eq!(s.policy().request_ttl_secs, 7_200);
    assert_eq!(s.policy().per_request.limit, 3);
    let default = Settings::from_vars(vars(&[])).expect("defaults");
    assert_eq!(default.policy().request_ttl_secs, 3_600);
    assert!(Settings::from_vars(vars(&[("OTPBOT_REQUEST_TTL", "soon")])).is_err());
}

#[test]
fn the_group_cache_is_a_duration_in_seconds_or_more() {
    let default = Settings::from_vars(vars(&[])).expect("defaults");
    assert_eq!(default.policy().group_cache_secs, 60);
    for (given, secs) in [("0s", 0), ("90s", 90), ("5m", 300)] {
        let s = Settings::from_vars(vars(&[("OTPBOT_GROUP_CACHE", given)])).expect(given);
        assert_eq!(s.policy().group_cache_secs, secs, "{given}");
    }
    for bad in ["60", "s", "-5s", "1.5s", "soon"] {
        assert!(
            Settings::from_vars(vars(&[("OTPBOT_GROUP_CACHE", bad)])).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn declared_defaults_are_the_stores_and_the_policys() {
    let s = Settings::from_vars(vars(&[])).expect("defaults");
    let aws = AwsSettings::default();
    let seal = SealSettings::default();
    let policy = Policy::default();
    assert_eq!(s.backend, Backend::Local);
    assert_eq!(s.data_dir, PathBuf::from("otpbot-data"));
    assert_eq!(
        (&s.aws.access_table, &s.aws.audit_table, &s.aws.ssm_prefix),
        (&aws.access_table, &aws.audit_table, &aws.ssm_prefix)
    );
    assert_eq!(s.aws.seed_cache_ttl, aws.seed_cache_ttl);
    assert_eq!(
        (&s.seal.prefix, s.seal.period_secs, s.seal.grace_secs),
        (&seal.prefix, seal.period_secs, seal.grace_secs)
    );
    assert_eq!(s.rate_per_tool, policy.per_tool);
    assert_eq!(s.rate_per_caller, policy.per_caller);
    assert_eq!(s.rate_per_request, policy.per_request);
    assert_eq!(s.request_ttl.secs(), policy.request_ttl_secs);
    assert_eq!(s.signing_secret_param, "/otpbot/slack/signing-secret");
    assert_eq!(s.slack_api_url, crate::slack::web::DEFAULT_BASE);
    assert_eq!(s.log_filter, "info");
    assert!(s.teams.is_none() && s.admins.is_empty() && s.master_key.is_none());
}

const APP: &str = "5e1d2c3b-0000-4000-8000-00000000b07a";
const T1: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const T2: &str = "11111111-2222-3333-4444-555555555555";

#[test]
fn ids_that_cannot_be_right_are_refused_with_the_expected_form() {
    for (var, value, says) in [
        ("OTPBOT_SLACK_TEAM_IDS", "bogus", "T0123ABCD"),
        (
            "OTPBOT_SLACK_TEAM_IDS",
            "T0123,t0456",
            "`t0456` is not a Slack team id",
        ),
        ("OTPBOT_SLACK_TEAM_IDS", "U0123", "enterprise id (E…)"),
        (
            "OTPBOT_TEAMS_TENANT_IDS",
            "contoso.onmicrosoft.com",
            "a GUID like",
        ),
        (
            "OTPBOT_TEAMS_TENANT_IDS",
            "72f988bf-86f1-41af-91ab",
            "Tenant ID",
        ),
        ("OTPBOT_TEAMS_APP_ID", "app", "a GUID like"),
        ("OTPBOT_TEAMS_APP_TENANT_ID", "t1", "a GUID like"),
        ("OTPBOT_SLACK_API_URL", "slack.com/api/", "http(s) URL"),
    ] {
        let err = Settings::from_vars(vars(&[(var, value)]))
            .expect_err(value)
            .to_string();
        assert!(
            err.starts_with(&format!("{var}: ")) && err.contains(says),
            "{var}={value}: {err}"
        );
    }
    let ok = Settings::from_vars(vars(&[
        ("OTPBOT_SLACK_TEAM_IDS", "T0123ABCD, E0ORG"),
        ("OTPBOT_TEAMS_TENANT_IDS", PLAYGROUND_TENANT),
    ]))
    .expect("Slack's and the playground's own forms");
    assert!(ok.slack_workspaces.contains("E0ORG"));
}

#[test]
fn keys_default_to_the_users_configuration_directory() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    assert_eq!(
        default_key_dir(env(&[("XDG_CONFIG_HOME", "/x/cfg"), ("HOME", "/home/a")])),
        Some(PathBuf::from("/x/cfg/otpbot"))
    );
    assert_eq!(
        default_key_dir(env(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/a")])),
        Some(PathBuf::from("/home/a/.config/otpbot")),
        "a relative XDG_CONFIG_HOME is ignored, as the XDG specification says"
    );
    assert_eq!(default_key_dir(env(&[])), None);
    let given =
        Settings::from_vars(vars(&[("OTPBOT_KEY_DIR", "/srv/otpbot-keys")])).expect("key dir");
    assert_eq!(given.key_dir, Some(PathBuf::from("/srv/otpbot-keys")));
    assert_eq!(
        given.key_path("master.key"),
        PathBuf::from("/srv/otpbot-keys/master.key")
    );
}

#[test]
fn parameters_follow_the_prefix_and_teams_needs_a_tenant() {
    let s = Settings::from_vars(vars(&[
        ("OTPBOT_SSM_PREFIX", "/acme/otp/"),
        ("OTPBOT_TEAMS_APP_ID", APP),
        (
            "OTPBOT_TEAMS_TENANT_IDS",
            &format!(" {T1} ,{}", T2.to_uppercase()),
        ),
    ]))
    .expect("valid settings");
    assert_eq!(s.audit_key_param, "/acme/otp/audit/hmac-key");
    assert_eq!(s.slack_bot_token_param, "/acme/otp/slack/bot-token");
    let teams = s.teams.expect("teams on");
    assert_eq!(teams.client_secret_param, "/acme/otp/teams/client-secret");
    assert_eq!(teams.app_tenant, T1, "the first served tenant");
    assert!(
        teams.tenants.contains(T2),
        "tenant ids are lower-cased as Teams sends them"
    );
    assert_eq!(teams.tenants.len(), 2);
    let err = Settings::from_vars(vars(&[("OTPBOT_TEAMS_APP_ID", APP)]))
        .expect_err("no tenant")
        .to_string();
    assert!(err.starts_with("OTPBOT_TEAMS_TENANT_IDS: "), "{err}");
}

#[test]
fn secrets_come_from_the_variable_or_its_file_never_both_and_are_never_echoed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, "xoxb-from-file\n").expect("write");
    let file = file.to_str().expect("utf-8 path");
    let s = Settings::from_vars(vars(&[("OTPBOT_SLACK_BOT_TOKEN_FILE", file)]))
        .expect("token from its file");
    assert_eq!(s.slack_bot_token.as_deref(), Some("xoxb-from-file"));
    let both = Settings::from_vars(vars(&[
        ("OTPBOT_SLACK_BOT_TOKEN", "xoxb-SECRETVALUE"),
        ("OTPBOT_SLACK_BOT_TOKEN_FILE", file),
    ]))
    .expect_err("both given")
    .to_string();
    assert!(
        both.starts_with("OTPBOT_SLACK_BOT_TOKEN: set either") && !both.contains("SECRETVALUE"),
        "{both}"
    );
    let missing = Settings::from_vars(vars(&[("OTPBOT_MASTER_KEY_FILE", "/nonexistent/key")]))
        .expect_err("unreadable")
        .to_string();
    assert!(
        missing.starts_with("OTPBOT_MASTER_KEY_FILE: cannot read"),
        "{missing}"
    );
}

#[test]
fn more_errors_name_the_variable() {
    for (var, value, says) in [
        ("OTPBOT_SEAL_PERIOD_SECS", "0", "positive number of seconds"),
        ("OTPBOT_REQUEST_TTL", "soon", "like 30m or 1h"),
        ("OTPBOT_SLACK_API_URL", "slack.com/api", "http(s) URL"),
        ("OTPBOT_TEAMS_OPENID_URL", "ftp://x/", "http(s) URL"),
        ("OTPBOT_BACKEND", "mongo", "local, aws"),
        ("OTPBOT_ADMINS", "slack:T1:U1,slack:t1:u2", "slack:T…:U…"),
        ("OTPBOT_ADMINS", "slack-group:T1:S1", "admins are people"),
        ("OTPBOT_GROUP_CACHE", "1 minute", "like 60s, 5m or 0s"),
        ("OTPBOT_GRAPH_API_URL", "graph.microsoft.com", "http(s) URL"),
    ] {
        let err = Settings::from_vars(vars(&[(var, value)]))
            .expect_err(var)
            .to_string();
        assert!(
            err.starts_with(&format!("{var}: ")) && err.contains(says),
            "{var}: {err}"
        );
    }
}

#[test]
fn every_setting_has_help_and_a_variable_and_every_secret_hides_its_value() {
    let command = SettingsArgs::command();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
        assert!(env.starts_with("OTPBOT_"), "{id} has no OTPBOT_ variable");
        assert!(arg.get_help().is_some(), "{id} has no help");
        assert!(arg.is_global_set(), "{id} is an option of every command");
        assert_eq!(
            arg.is_hide_env_values_set(),
            SECRET_IDS.contains(&id),
            "{id}: the values of secrets, and only theirs, are hidden"
        );
    }
    for id in SECRET_IDS {
        let file = format!("{id}_file");
        assert!(
            command.get_arguments().any(|a| a.get_id().as_str() == file),
            "{id} can be read from a file"
        );
    }
    assert!(variables().contains(&"OTPBOT_LOG_FORMAT".to_owned()));
}
