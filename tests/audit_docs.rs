//! The audit documentation's examples run as written: the local walkthrough of
//! `docs/audit.md` (its block that starts `# local store, from an empty directory`) is run
//! verbatim by `sh -e` in an empty directory with this build's `otpbot` first on `PATH`, and
//! every `otpbot` subcommand and option the page names exists.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::cli::{Otpbot, BIN};

const MARK: &str = "# local store, from an empty directory";

fn page() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/audit.md")).expect("page")
}

/// The fenced `sh` blocks of `text`.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn the_local_walkthrough_runs_as_written() {
    let page = page();
    let walkthrough = sh_blocks(&page)
        .into_iter()
        .find(|b| b.starts_with(MARK))
        .expect("the walkthrough block");
    let dir = tempfile::tempdir().expect("tempdir");
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let out = Command::new("sh")
        .args(["-e", "-c", &walkthrough])
        .current_dir(dir.path())
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("USER", "auditor")
        // The keys go to the configuration directory under HOME: a directory of the test's.
        .env("HOME", dir.path())
        .output()
        .expect("sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let oks: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok: ")).collect();
    assert_eq!(oks.len(), 2, "{stdout}");
    assert!(
        oks.iter()
            .all(|l| l.contains("extends the checkpoint given")),
        "{stdout}"
    );
}

/// Every `otpbot audit …` line of the page's `sh` blocks parses: its subcommand and options
/// exist (checked with `--help` appended, which clap answers only for a valid line).
#[test]
fn every_audit_command_on_the_page_exists() {
    for block in sh_blocks(&page()) {
        for line in block
            .lines()
            .filter(|l| l.trim_start().starts_with("otpbot audit"))
        {
            let command = line.split(['#', '>', '|']).next().unwrap_or_default();
            let words: Vec<&str> = command.split_whitespace().skip(1).collect();
            let subcommand: Vec<&str> = words
                .iter()
                .copied()
                .take_while(|w| !w.starts_with("--"))
                .collect();
            let out = Otpbot::new().args(&subcommand).arg("--help").output();
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{line}");
            for option in words.iter().filter(|w| w.starts_with("--")) {
                assert!(
                    help.contains(option),
                    "{line}: {option} not in `{subcommand:?} --help`"
                );
            }
        }
    }
}
