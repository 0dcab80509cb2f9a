//! No store by accident: a command that reads a store refuses a directory without one and
//! creates nothing; `serve` creates nothing before its settings are valid and its address is
//! free; the demo never writes into a store it did not make; a data directory that is a file,
//! or whose parent is missing, is refused in one line that says what to do.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::cli::Otpbot;

/// A machine of its own: a home directory, a working directory, nothing else.
struct Machine {
    root: tempfile::TempDir,
}

impl Machine {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("home")).expect("home");
        std::fs::create_dir_all(root.path().join("work")).expect("work");
        Self { root }
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// `otpbot` run from the working directory with the default data and key directories.
    fn otpbot(&self) -> Otpbot {
        Otpbot::new().cwd(self.work()).env("HOME", self.home())
    }

    /// Every file and directory under the machine's root, relative to it.
    fn tree(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(root).expect("under root").to_owned());
                if path.is_dir() {
                    walk(&path, root, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root.path(), self.root.path(), &mut out);
        out.sort();
        out
    }

    fn enrol(&self, data_dir: &str, tool: &str) {
        let out = self
            .otpbot()
            .args(["tool", "add", tool, "--data-dir", data_dir])
            .input("JBSWY3DPEHPK3PXP");
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one error line of a command that must fail.
fn one_line_error(out: Output, what: &str) -> String {
    let text = stderr(&out);
    assert!(!out.status.success(), "{what} succeeded: {text}");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line, not {text}");
    lines[0].to_owned()
}

#[test]
fn commands_that_read_refuse_a_directory_without_a_store_and_create_nothing() {
    let machine = Machine::new();
    let before = machine.tree();
    for args in [
        &["audit"][..],
        &["audit", "verify"],
        &["audit", "--format", "csv"],
        &["tool", "list"],
        &["tool", "remove", "github"],
        &["tool", "set", "github", "--notify-channel", "none"],
        &["grant", "slack:T0DEMO:U0456", "github"],
        &["revoke", "slack:T0DEMO:U0456", "github"],
        &["role", "remove", "slack:T0DEMO:U0456", "admin"],
    ] {
        let line = one_line_error(machine.otpbot().args(args).output(), &args.join(" "));
        assert!(
            line.contains("no otpbot store in otpbot-data")
                && line.contains("otpbot tool add")
                && line.contains("--data-dir"),
            "{args:?}: {line}"
        );
        let elsewhere = machine
            .otpbot()
            .args(args)
            .args(["--data-dir", "/nonexistent/dir"])
            .output();
        let line = one_line_error(elsewhere, &args.join(" "));
        assert!(line.contains("/nonexistent/dir"), "{line}");
    }
    assert_eq!(machine.tree(), before, "nothing was created, keys included");
    assert!(!Path::new("/nonexistent/dir").exists());
}

#[test]
fn a_data_directory_that_is_a_file_or_has_no_parent_is_refused_in_one_line() {
    let machine = Machine::new();
    std::fs::write(machine.work().join("notes.txt"), "not a store").expect("file");
    for args in [
        &["tool", "list"][..],
        &["audit"],
        &["role", "add", "slack:T0DEMO:U0456", "admin"],
        &["demo", "--listen", "127.0.0.1:0"],
    ] {
        let out = machine
            .otpbot()
            .args(args)
            .args(["--data-dir", "notes.txt"])
            .output();
        let line = one_line_error(out, &args.join(" "));
        assert!(
            line.contains("notes.txt is a file, not a directory") && line.contains("--data-dir"),
            "{args:?}: {line}"
        );
    }
    let out = machine
        .otpbot()
        .args(["role", "add", "slack:T0DEMO:U0456", "admin"])
        .args(["--data-dir", "missing/parent/data"])
        .output();
    let line = one_line_error(out, "role add into a missing parent");
    assert!(line.contains("missing/parent does not exist"), "{line}");
    assert!(!machine.work().join("missing").exists());
}

#[test]
fn serve_creates_nothing_before_its_settings_are_valid_and_its_address_is_free() {
    let machine = Machine::new();
    let before = machine.tree();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_addr = busy.local_addr().expect("addr").to_string();
    // (variables, arguments, what the one error line says)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], vec![], "neither Slack nor Teams is configured"),
        (
            vec![("OTPBOT_SLACK_TEAM_IDS", "T0123")],
            vec![],
            "otpbot secret set slack-signing-secret",
        ),
        (
            vec![("OTPBOT_SLACK_TEAM_IDS", "bogus")],
            vec![],
            "OTPBOT_SLACK_TEAM_IDS: `bogus` is not a Slack team id",
        ),
        (
            vec![
                ("OTPBOT_SLACK_TEAM_IDS", "T0123"),
                ("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET),
            ],
            vec!["--listen", &busy_addr],
            "is in use",
        ),
    ];
    for (vars, args, says) in cases {
        let cmd = vars
            .iter()
            .fold(machine.otpbot().arg("serve").args(&args), |cmd, (k, v)| {
                cmd.env(k, v)
            });
        let line = one_line_error(cmd.output(), says);
        assert!(line.contains(says), "{vars:?}: {line}");
        assert_eq!(machine.tree(), before, "{vars:?}: nothing was created");
    }
}

#[test]
fn the_busy_port_error_says_what_holds_it_and_how_to_listen_elsewhere() {
    let machine = Machine::new();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr");
    let out = machine
        .otpbot()
        .args(["demo", "--listen", &addr.to_string()])
        .output();
    let line = one_line_error(out, "demo on a busy port");
    assert!(
        line.contains(&format!("cannot listen on {addr}"))
            && line.contains("a demo still running?")
            && line.contains(&format!("--listen 127.0.0.1:{}", addr.port() + 1)),
        "{line}"
    );
    assert!(!machine.work().join("otpbot-data").exists());
}

/// Runs the demo until it prints its banner, then stops it; its output.
fn demo_once(machine: &Machine, data_dir: &str) -> Output {
    use std::io::BufRead;
    let mut child = machine
        .otpbot()
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir", data_dir])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut banner = String::new();
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("audit") && line.trim_start().ends_with(data_dir) {
            break;
        }
    }
    let _ = child.kill();
    let mut out = child.wait_with_output().expect("wait");
    out.stdout = banner.into_bytes();
    out
}

#[test]
fn the_demo_never_writes_into_a_store_it_did_not_make() {
    let machine = Machine::new();
    machine.enrol("real", "aws-root");
    let db = machine.work().join("real/otpbot.db");
    let audit_rows = || {
        rusqlite::Connection::open(&db)
            .expect("db")
            .query_row("SELECT count(*) FROM audit", [], |r| r.get::<_, i64>(0))
            .expect("count")
    };
    let rows = audit_rows();
    let line = one_line_error(demo_once(&machine, "real"), "demo on a real store");
    assert!(
        line.contains("that `otpbot demo` did not make") && line.contains("--data-dir otpbot-demo"),
        "{line}"
    );
    assert_eq!(audit_rows(), rows, "not a record was added");
    assert!(!machine.work().join("real/slack-signing-secret").exists());

    // The demo's own store serves again; once a real tool is enrolled into it, it is refused.
    let first = demo_once(&machine, "demo-data");
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("otpbot demo is serving"),
        "{}",
        stderr(&first)
    );
    let again = demo_once(&machine, "demo-data");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("otpbot demo is serving"),
        "{}",
        stderr(&again)
    );
    machine.enrol("demo-data", "aws-root");
    let line = one_line_error(demo_once(&machine, "demo-data"), "demo over a real tool");
    assert!(
        line.contains("tools the demo did not enrol (aws-root)"),
        "{line}"
    );
    let on_aws = machine
        .otpbot()
        .env("OTPBOT_BACKEND", "aws")
        .args(["demo", "--listen", "127.0.0.1:0"])
        .output();
    let line = one_line_error(on_aws, "demo on AWS");
    assert!(line.contains("local store only"), "{line}");
}
