//! Static checks of what operators deploy: the Slack and Teams manifests (and, in
//! `terraform.rs`, the Terraform module).

use std::path::PathBuf;

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn json(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Width, height, colour type of a PNG, from its IHDR chunk.
fn png_header(path: &str) -> (u32, u32, u8) {
    let bytes = std::fs::read(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{path} is not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20), bytes[25])
}

#[test]
fn slack_manifest_declares_the_escaped_otp_command_and_only_the_scopes_it_uses() {
    let m = json("manifest/slack/manifest.json");
    let commands = m["features"]["slash_commands"]
        .as_array()
        .expect("slash_commands");
    assert_eq!(commands.len(), 1);
    let otp = &commands[0];
    assert_eq!(otp["command"], "/otp");
    assert_eq!(
        otp["should_escape"], true,
        "mentions must arrive as <@U…> ids"
    );
    assert!(otp["url"]
        .as_str()
        .expect("url")
        .ends_with("/slack/commands"));
    assert!(!otp["usage_hint"].as_str().unwrap_or_default().is_empty());
    assert!(!otp["description"].as_str().unwrap_or_default().is_empty());
    // `commands` for /otp; `chat:write` for chat.postMessage and chat.update; `im:write` for
    // conversations.open of a direct message (Slack method references, "Required scopes":
    // https://docs.slack.dev/reference/methods/chat.postMessage,
    // https://docs.slack.dev/reference/methods/chat.update,
    // https://docs.slack.dev/reference/methods/conversations.open, and the `im:write` scope page
    // https://docs.slack.dev/reference/scopes/im.write); `usergroups:read` for
    // usergroups.users.list, the members of a user group holding a grant or an approver role
    // (https://api.slack.com/methods/usergroups.users.list).
    assert_eq!(
        m["oauth_config"]["scopes"]["bot"],
        serde_json::json!(["commands", "chat:write", "im:write", "usergroups:read"]),
        "no scope beyond what otpbot calls"
    );
    assert!(m["display_information"]["name"].is_string());
    // Buttons post to the interactivity endpoint (Slack app manifest reference,
    // `settings.interactivity.is_enabled` and `.request_url`:
    // https://docs.slack.dev/reference/app-manifest; the official SDK types it as
    // `ManifestSettings.interactivity { is_enabled, request_url }` in @slack/web-api).
    let interactivity = &m["settings"]["interactivity"];
    assert_eq!(interactivity["is_enabled"], true);
    assert!(interactivity["request_url"]
        .as_str()
        .expect("request_url")
        .ends_with("/slack/interactions"));
}

#[test]
fn teams_manifest_is_a_personal_bot_whose_commands_match_the_grammar() {
    let m = json("manifest/teams/manifest.json");
    let version = m["manifestVersion"].as_str().expect("manifestVersion");
    let minor: u32 = version
        .strip_prefix("1.")
        .and_then(|v| v.parse().ok())
        .expect("1.x");
    assert!(minor >= 16, "a current schema version, got {version}");
    assert!(
        m["$schema"]
            .as_str()
            .expect("$schema")
            .contains(&format!("/v{version}/")),
        "schema URL matches the version"
    );
    let bot = &m["bots"][0];
    assert_eq!(
        bot["botId"], m["id"],
        "the bot and the app share the Azure Bot app id"
    );
    // Personal for codes; team and group chat so approval cards can be posted to a tool's
    // approvals channel (codes still only ever go to personal chats: src/teams/mod.rs).
    assert_eq!(
        bot["scopes"],
        serde_json::json!(["personal", "team", "groupChat"]),
    );
    assert_eq!(
        bot["commandLists"][0]["scopes"],
        serde_json::json!(["personal"]),
        "commands are offered in personal chats"
    );
    let commands: Vec<&str> = bot["commandLists"][0]["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .map(|c| c["title"].as_str().expect("title"))
        .collect();
    for word in [
        "help", "list", "done", "grant", "revoke", "role", "who", "tools", "audit", "request",
    ] {
        assert!(commands.contains(&word), "the command list lacks `{word}`");
    }
    for title in &commands {
        assert!(
            otpbot::domain::ToolName::parse(title).is_err(),
            "`{title}` is listed as a command but the parser would read it as a tool name"
        );
    }
    assert!(
        commands.len() <= 10,
        "Teams shows at most 10 commands per list"
    );
    assert_eq!(
        png_header("manifest/teams/color.png"),
        (192, 192, 6),
        "colour icon: 192×192 RGBA"
    );
    assert_eq!(
        png_header("manifest/teams/outline.png"),
        (32, 32, 6),
        "outline icon: 32×32 with transparency"
    );
    assert_eq!(m["icons"]["color"], "color.png");
    assert_eq!(m["icons"]["outline"], "outline.png");
}

#[test]
fn teams_package_script_builds_a_zip_with_the_app_id_filled_in() {
    let out = tempfile::tempdir().expect("dir");
    let zip = out.path().join("teams.zip");
    let app_id = "2b5f6c1e-1111-4a2b-9c3d-0123456789ab";
    let status = std::process::Command::new("bash")
        .arg(repo("scripts/teams-package.sh"))
        .arg(app_id)
        .arg(&zip)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run the packaging script");
    assert!(status.success());
    let bytes = std::fs::read(&zip).expect("zip written");
    assert_eq!(&bytes[..4], b"PK\x03\x04", "a zip archive");
    let listing = std::process::Command::new("python3")
        .args(["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(sorted(z.namelist())); print(z.read('manifest.json').decode())"])
        .arg(&zip)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(
        text.starts_with("['color.png', 'manifest.json', 'outline.png']"),
        "{text}"
    );
    assert!(
        text.contains(app_id) && !text.contains("{{BOT_APP_ID}}"),
        "the app id is filled in"
    );
    let bad = std::process::Command::new("bash")
        .arg(repo("scripts/teams-package.sh"))
        .arg("not-a-guid")
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2), "a malformed app id is refused");
}

/// Runs `tests/schemas/validate.py` (the pinned `jsonschema` package in `.venv`) on `documents`
/// against `schema`; the exit status and what it printed.
fn validate(schema: &str, documents: &[PathBuf]) -> (bool, String) {
    let python = repo(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/test.sh once (it installs requirements-dev.txt into .venv)",
        python.display()
    );
    let out = std::process::Command::new(python)
        .arg(repo("tests/schemas/validate.py"))
        .arg(repo(schema))
        .args(documents)
        .output()
        .expect("run validate.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn slack_manifests_validate_against_slacks_published_schema() {
    // Slack's own schema for version-1 manifests (slackapi/manifest-schema; see
    // tests/schemas/README.md), with the interactivity URL and the chat:write/im:write scopes.
    const SCHEMA: &str = "tests/schemas/slack-manifest.schema.1.0.0.json";
    let manifests: Vec<PathBuf> = std::fs::read_dir(repo("manifest/slack"))
        .expect("manifest/slack")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert!(!manifests.is_empty());
    for manifest in &manifests {
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(manifest).expect("read")).expect("json");
        assert_eq!(m["_metadata"]["major_version"], 1, "{}", manifest.display());
    }
    let (ok, text) = validate(SCHEMA, &manifests);
    assert!(ok, "{text}");

    // The same check refuses a manifest Slack would refuse.
    let mut broken = json("manifest/slack/manifest.json");
    broken["settings"]["interactivity"]["is_enabled"] = Value::from("yes");
    broken["oauth_config"]["scopes"]["bot"] = Value::from("commands");
    let dir = std::env::temp_dir().join(format!("otpbot-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("broken.json");
    std::fs::write(&path, broken.to_string()).expect("write");
    let (ok, text) = validate(SCHEMA, &[path]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!ok, "a broken manifest passed: {text}");
    assert!(
        text.contains("/settings/interactivity/is_enabled"),
        "{text}"
    );
    assert!(text.contains("/oauth_config/scopes/bot"), "{text}");
}

#[test]
fn the_teams_manifest_validates_against_microsofts_published_schema() {
    // Microsoft's Teams app manifest schema v1.19 (from the @microsoft/app-manifest package; see
    // tests/schemas/README.md), on the manifest as packaged: the app id filled in as
    // scripts/teams-package.sh does.
    const SCHEMA: &str = "tests/schemas/teams-manifest.schema.v1.19.json";
    let m = json("manifest/teams/manifest.json");
    assert_eq!(
        m["manifestVersion"], "1.19",
        "the vendored schema's version"
    );
    let text = std::fs::read_to_string(repo("manifest/teams/manifest.json")).expect("read");
    let packaged = text.replace("{{BOT_APP_ID}}", "2b5f6c1e-1111-4a2b-9c3d-0123456789ab");
    let dir = std::env::temp_dir().join(format!("otpbot-teams-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("manifest.json");
    std::fs::write(&path, &packaged).expect("write");
    let (ok, report) = validate(SCHEMA, std::slice::from_ref(&path));
    assert!(ok, "{report}");

    // The same check refuses what Teams would refuse: an unknown scope, a placeholder app id.
    let mut broken: Value = serde_json::from_str(&packaged).expect("json");
    broken["bots"][0]["scopes"] = serde_json::json!(["personal", "channel"]);
    std::fs::write(&path, broken.to_string()).expect("write");
    let (ok, report) = validate(SCHEMA, std::slice::from_ref(&path));
    assert!(!ok && report.contains("/bots/0/scopes/1"), "{report}");
    std::fs::write(&path, &text).expect("write");
    let (ok, report) = validate(SCHEMA, std::slice::from_ref(&path));
    assert!(!ok && report.contains("/id"), "{report}");
    std::fs::remove_dir_all(&dir).ok();
}
