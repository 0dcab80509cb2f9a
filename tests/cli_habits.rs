//! The command line keeps the habits of ripgrep, cargo and clap users: each command's `--help`
//! is its own, short, and points to `otpbot help settings` for the settings every command
//! shares; `otpbot completions <shell>` prints a script; output into a closed pipe ends quietly.

use crate::common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::cli::Otpbot;

/// The command names listed under `Commands:` in a help text.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn every_commands_help_is_its_own_short_and_points_to_the_settings() {
    let mut pending: Vec<Vec<String>> = commands(&Otpbot::new().args(["--help"]).ok())
        .into_iter()
        .map(|c| vec![c])
        .collect();
    assert!(pending.len() >= 10, "{pending:?}");
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = Otpbot::new().args(&args).ok();
        let lines = help.lines().count();
        assert!(
            lines <= 60,
            "`otpbot {}` is {lines} lines:\n{help}",
            args.join(" ")
        );
        assert!(
            help.contains("`otpbot help settings`"),
            "`otpbot {}` does not point to the settings:\n{help}",
            args.join(" ")
        );
        assert!(
            !help.contains("--rate-per-tool") && !help.contains("--teams-login-url"),
            "`otpbot {}` repeats the settings:\n{help}",
            args.join(" ")
        );
        // `otpbot help <command>` is the same text.
        let mut help_args = vec!["help"];
        help_args.extend(&args[..args.len() - 1]);
        assert_eq!(Otpbot::new().args(&help_args).ok(), help, "{help_args:?}");
        for sub in commands(&help) {
            let mut deeper = path.clone();
            deeper.push(sub);
            pending.push(deeper);
        }
        seen += 1;
    }
    assert!(seen >= 15, "every command and subcommand: {seen}");
    let unknown = Otpbot::new().args(["help", "frobnicate"]).output();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("otpbot help settings"));
}

#[test]
fn help_settings_lists_every_setting_with_its_variable() {
    let help = Otpbot::new().args(["help", "settings"]).ok();
    for var in otpbot::config::variables() {
        assert!(
            help.contains(&format!("[env: {var}=")) || help.contains(&format!("[env: {var}]")),
            "`otpbot help settings` does not list {var}"
        );
    }
    // Settings are still options of every command, before or after it.
    let out = Otpbot::new()
        .args(["--data-dir", "/nonexistent/a", "tool", "list"])
        .output();
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/a"));
    let out = Otpbot::new()
        .args(["tool", "list", "--data-dir", "/nonexistent/b"])
        .output();
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/b"));
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef otpbot"),
        ("fish", "complete -c otpbot"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = Otpbot::new().args(["completions", shell]).ok();
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["serve", "demo", "audit", "data-dir", "key-dir"] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    // The bash script is valid bash.
    if let Ok(out) = Command::new("bash")
        .args([
            "-n",
            "-c",
            &Otpbot::new().args(["completions", "bash"]).ok(),
        ])
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bad = Otpbot::new().args(["completions", "tcsh"]).output();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bash"));
}

#[test]
fn every_output_survives_a_closed_pipe() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["help", "settings"],
        &["help", "tool", "add"],
        &["audit", "--help"],
        &["completions", "bash"],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["completions", "powershell"],
    ] {
        // `otpbot … | head -0`: the reader is gone before the first line.
        let mut child = Otpbot::new()
            .args(args)
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read");
        let status = child.wait().expect("wait");
        assert!(
            status.success() && stderr.is_empty(),
            "{args:?}: {status:?} {stderr}"
        );
    }
}
