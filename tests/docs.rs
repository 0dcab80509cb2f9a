//! The documentation, run: every command shown in `README.md` and `docs/*.md` (pages added
//! later included) is run as a reader would run it, and its output compared with the output
//! shown, so no example can drift from the program.
//!
//! # The convention, for writers of the docs
//!
//! A fenced block's info string is its language, then optional tags: ```` ```console ````,
//! ```` ```sh no-run=aws ````.
//!
//! - `console`: lines starting with `$ ` are commands (a line ending in `\` continues one); the
//!   lines after a command, up to the next, are its output (stdout and stderr, as a terminal
//!   shows them), compared after redaction (below). A command expected to fail ends its output
//!   with a line `[exit status: N]`; any other command must exit 0.
//! - `sh` (or `bash`, `shell`): commands whose output is not shown; the block runs with
//!   `set -e`, so every command in it must succeed.
//! - `no-run=<reason>` on a command block: not run, because it needs what this machine does not
//!   have. The reasons: `slack`, `teams`, `aws`, `terraform` (a workspace, tenant, account or
//!   real deployment), `browser` (an interactive window), `nightly` (the nightly toolchain),
//!   `slow` (minutes of benchmark), `network` (the internet), `test-suite` (the test command
//!   itself). Pages say so in their text too.
//! - `background` on a `console` block with one command: a server that runs until stopped
//!   (the demo). It is started, waited for on its address, left running while every later page
//!   runs (so that no later section may need its port), and stopped at the end with Ctrl-C
//!   (SIGINT), after which it must have exited 0 and printed its shown output.
//! - `json file=<path>` (or `yaml`): a copy of a file of the repository, which it must equal;
//!   any other block that looks like a Slack or Teams app manifest fails, so the manifests in
//!   `manifest/` stay the only source.
//! - Other languages (`text`, `json`, `yaml`, `mermaid`, `hcl`, …) are shown, not run. A block
//!   without a language fails: say what it is.
//!
//! Output comparison: trailing spaces and blank lines at the end are ignored; in the shown and
//! the actual output alike, times (`2026-11-03T10:00:00Z`), 16-hex-digit ids, codes in
//! backticks and `valid for 17 s` counts are redacted, and the `next code:` line a reply adds
//! only in a code's last seconds is left out; `[..]` in the shown output matches any text
//! within a line, and a line `...` any number of lines.
//!
//! # How it runs
//!
//! All pages run in one sandbox directory standing for a fresh clone: it holds the built
//! binary as `target/release/otpbot` (and `otpbot` on `PATH`, as `cargo install` leaves it),
//! the repository's `manifest/`, `scripts/` and `tests/playground/`, and its `.venv` (the AWS
//! emulator). `HOME` is a directory of the sandbox, so nothing is written into the real home
//! directory. `cargo run --release -- ARGS` runs that binary and `cargo build --release` does
//! nothing (the test suite built it); no other cargo command runs. `OTPBOT_LISTEN` is set to a
//! free loopback port, standing for the default `127.0.0.1:3000` a reader's machine has free
//! (and written as that in the output compared). The operator at the terminal is `alice`
//! (`USER`), so the audit log's operator actions show `cli:local:alice`.
//! `README.md` runs first, then `docs/*.md` by name, each page in a shell of its own (a new
//! terminal: exports do not carry over), in the same directory, after one another.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_otpbot");
/// The address `serve` and `demo` listen on by default, which the docs show.
const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

/// Why a block may be left unrun.
const NO_RUN_REASONS: [&str; 9] = [
    "slack",
    "teams",
    "aws",
    "terraform",
    "browser",
    "nightly",
    "slow",
    "network",
    "test-suite",
];

/// One fenced code block of a page.
#[derive(Debug, Clone)]
struct Block {
    page: String,
    line: usize,
    lang: String,
    tags: Vec<String>,
    text: String,
}

impl Block {
    fn tag(&self, name: &str) -> Option<&str> {
        self.tags.iter().find_map(|t| {
            if t == name {
                Some("")
            } else {
                t.strip_prefix(&format!("{name}="))
            }
        })
    }

    fn at(&self) -> String {
        format!("{}:{}", self.page, self.line)
    }

    fn is_commands(&self) -> bool {
        matches!(self.lang.as_str(), "console" | "sh" | "bash" | "shell")
    }
}

/// The fenced code blocks of `text`.
fn blocks(page: &str, text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => "indented".to_owned(),
                };
                let mut words = info.split_whitespace();
                current = Some(Block {
                    page: page.to_owned(),
                    line: text[..range.start].lines().count() + 1,
                    lang: words.next().unwrap_or_default().to_owned(),
                    tags: words.map(str::to_owned).collect(),
                    text: String::new(),
                });
            }
            Event::Text(t) => {
                if let Some(block) = current.as_mut() {
                    block.text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

/// The pages, README first, then docs/ by name.
fn pages() -> Vec<(String, String)> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    names.sort();
    names.insert(0, "README.md".to_owned());
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(Path::new(ROOT).join(&name)).expect("page");
            (name, text)
        })
        .collect()
}

/// A `console` block's commands, each with its shown output and expected exit status.
fn console_commands(block: &Block) -> Vec<(String, Vec<String>, i32)> {
    let mut out: Vec<(String, Vec<String>, i32)> = Vec::new();
    let mut continuing = false;
    for line in block.text.lines() {
        if continuing {
            let command = &mut out.last_mut().expect("a command").0;
            command.push('\n');
            command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            out.push((command.to_owned(), Vec::new(), 0));
            continuing = command.ends_with('\\');
        } else if let Some((_, shown, status)) = out.last_mut() {
            match line
                .strip_prefix("[exit status: ")
                .and_then(|r| r.strip_suffix(']'))
            {
                Some(code) => *status = code.parse().expect("an exit status"),
                None => shown.push(line.to_owned()),
            }
        } else {
            panic!("{}: output before the first `$ ` command", block.at());
        }
    }
    out
}

/// Times, ids, codes and second counts made alike in shown and actual output.
fn redact(text: &str) -> String {
    let rules = [
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]"),
        (r"`\d{6,8}`", "`[CODE]`"),
        (r"\b[0-9a-f]{16}\b", "[ID]"),
        (r"valid( for)? \d+ s", "valid$1 [N] s"),
    ];
    let mut text = text.to_owned();
    for (pattern, with) in rules {
        let re = regex_lite::Regex::new(pattern).expect("pattern");
        text = re.replace_all(&text, with).into_owned();
    }
    text
}

/// Whether `actual` matches the `shown` line, `[..]` standing for any text.
fn line_matches(shown: &str, actual: &str) -> bool {
    let parts: Vec<&str> = shown.split("[..]").collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let mut rest = actual;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// Whether the `actual` lines match the `shown` ones (`...` lines standing for any lines).
fn lines_match(shown: &[String], actual: &[String]) -> bool {
    match shown.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(first, a) && lines_match(rest, more)),
    }
}

/// Lines of output, redacted, trailing spaces and trailing blank lines dropped. The next code,
/// which a reply adds only in a code's last seconds, is left out.
fn normalize(lines: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = lines
        .into_iter()
        .filter(|l| !l.starts_with("next code: "))
        .map(|l| redact(l.trim_end()))
        .collect();
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// The sandbox: a directory standing for a fresh clone, and the environment every page's shell
/// starts from.
struct Sandbox {
    dir: tempfile::TempDir,
    listen: String,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("otpbot-docs-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("sandbox");
        let root = dir.path();
        std::fs::create_dir_all(root.join("target/release")).expect("target");
        std::fs::create_dir_all(root.join("bin")).expect("bin");
        std::fs::create_dir_all(root.join("home")).expect("home");
        // A copy, not a link: the demo prints how to run the binary it runs, relative to here.
        for at in ["target/release/otpbot", "bin/otpbot"] {
            if std::fs::hard_link(BIN, root.join(at)).is_err() {
                std::fs::copy(BIN, root.join(at)).expect("copy the binary");
            }
        }
        for shared in ["manifest", "scripts", "tests", "terraform", ".venv"] {
            let from = Path::new(ROOT).join(shared);
            if from.exists() {
                std::os::unix::fs::symlink(&from, root.join(shared)).expect("link");
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self {
            dir,
            listen: format!("127.0.0.1:{port}"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A line of output as a reader's machine would print it: the free port stands for the
    /// default address.
    fn as_reader_sees(&self, line: &str) -> String {
        line.replace(&self.listen, DEFAULT_LISTEN)
    }

    /// A shell in the sandbox with nothing of this process's environment but what a reader's
    /// terminal would have.
    fn shell(&self) -> Command {
        let mut cmd = Command::new("bash");
        let path = format!(
            "{}:{}",
            self.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.path().join("home"))
            .env("USER", "alice")
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb")
            .env("OTPBOT_LISTEN", &self.listen)
            .stdin(Stdio::null());
        cmd
    }
}

/// What every page's shell defines first: the `cargo` a reader has, narrowed to the binary the
/// test suite built.
const PRELUDE: &str = r#"
cargo() {
  if [ "$1 $2 $3" = "run --release --" ]; then shift 3; ./target/release/otpbot "$@"; return; fi
  if [ "$*" = "build --release" ]; then return 0; fi
  echo "the docs test runs no cargo command but run and build --release: cargo $*" >&2
  return 127
}
"#;

/// One command of a page's script and what was shown for it.
struct Step {
    block: Block,
    command: String,
    shown: Option<Vec<String>>,
    status: i32,
}

const MARK: &str = "@@otpbot-docs-step";

/// The script of one page: its runnable blocks, each command between markers.
fn script(steps: &[Step]) -> String {
    let mut out = String::from(PRELUDE);
    out.push_str("exec 2>&1\n");
    for (i, step) in steps.iter().enumerate() {
        out.push_str(&format!("printf '\\n{MARK} {i} start\\n'\n"));
        if step.shown.is_some() {
            out.push_str(&step.command);
            out.push('\n');
        } else {
            out.push_str("set -e\n");
            out.push_str(&step.command);
            out.push_str("\nset +e\n");
        }
        out.push_str(&format!("printf '\\n{MARK} {i} status %d\\n' $?\n"));
    }
    out
}

/// Runs `steps` in a fresh shell in the sandbox; a failure message for each mismatch.
fn run_page(sandbox: &Sandbox, page: &str, steps: &[Step]) -> Vec<String> {
    if steps.is_empty() {
        return Vec::new();
    }
    let mut child = sandbox
        .shell()
        .args(["-c", &script(steps)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("bash");
    let output = wait_with_timeout(&mut child, Duration::from_secs(240));
    // Whatever the page left running (it should have stopped it) goes with its shell.
    kill_group(&child, "KILL");
    let Some(output) = output else {
        return vec![format!("{page}: timed out after 240 s")];
    };
    let mut results: BTreeMap<usize, (Vec<String>, Option<i32>)> = BTreeMap::new();
    let mut current: Option<usize> = None;
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix(MARK) {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let index: usize = words[0].parse().expect("step");
            if words[1] == "start" {
                current = Some(index);
                results.entry(index).or_default();
            } else {
                let status = words[2].parse().expect("status");
                results.entry(index).or_default().1 = Some(status);
                current = None;
            }
        } else if let Some(index) = current {
            results.entry(index).or_default().0.push(line.to_owned());
        }
    }
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let (mut lines, status) = results.remove(&i).unwrap_or_default();
        // The marker starts on a line of its own: drop the blank line before it.
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let actual = normalize(lines.into_iter().map(|l| sandbox.as_reader_sees(&l)));
        let Some(status) = status else {
            failures.push(format!(
                "{}: `{}` did not finish (a command before it failed, or it never ended); \
                 its output:\n{}",
                step.block.at(),
                step.command,
                actual.join("\n")
            ));
            break;
        };
        if status != step.status {
            failures.push(format!(
                "{}: `{}` exited {status}, expected {}; its output:\n{}",
                step.block.at(),
                step.command,
                step.status,
                actual.join("\n")
            ));
            continue;
        }
        if let Some(shown) = &step.shown {
            let shown = normalize(shown.iter().cloned());
            if !lines_match(&shown, &actual) {
                failures.push(format!(
                    "{}: the output of `{}` differs from the docs.\n--- shown\n{}\n--- actual\n{}",
                    step.block.at(),
                    step.command,
                    shown.join("\n"),
                    actual.join("\n")
                ));
            }
        }
    }
    failures
}

/// Sends `signal` to the child's process group.
fn kill_group(child: &Child, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
}

/// The child's stdout once it exits, or `None` after `limit` (when it is killed).
fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<String> {
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            kill_group(child, "KILL");
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Background jobs of the page may hold stdout open: give them a moment, then stop them.
    std::thread::sleep(Duration::from_millis(200));
    kill_group(child, "KILL");
    reader.join().ok()
}

/// A background block's server, running while the later pages run.
struct Background {
    block: Block,
    child: Child,
    shown: Vec<String>,
    listen: String,
}

impl Background {
    fn start(sandbox: &Sandbox, block: &Block) -> Self {
        let commands = console_commands(block);
        assert_eq!(
            commands.len(),
            1,
            "{}: one command in a background block",
            block.at()
        );
        let (command, shown, _) = commands.into_iter().next().expect("command");
        let mut child = sandbox
            .shell()
            .args(["-c", &format!("{PRELUDE}\n{command}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("bash");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(&sandbox.listen).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{}: `{command}` exited {status} instead of serving",
                    block.at()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: `{command}` did not listen on {}",
                block.at(),
                sandbox.listen
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            block: block.clone(),
            child,
            shown,
            listen: sandbox.listen.clone(),
        }
    }

    /// Stops it as a reader does, with Ctrl-C; failures if it did not exit 0 or printed other
    /// than shown.
    fn stop(mut self) -> Vec<String> {
        kill_group(&self.child, "INT");
        let output = wait_with_timeout(&mut self.child, Duration::from_secs(40));
        let status = self.child.wait().expect("wait");
        let mut failures = Vec::new();
        if !status.success() {
            failures.push(format!(
                "{}: Ctrl-C did not stop it cleanly: {status}",
                self.block.at()
            ));
        }
        let actual = normalize(
            output
                .unwrap_or_default()
                .lines()
                .map(|l| l.replace(&self.listen, DEFAULT_LISTEN)),
        );
        let shown = normalize(self.shown.clone());
        if !lines_match(&shown, &actual) {
            failures.push(format!(
                "{}: what it printed differs from the docs.\n--- shown\n{}\n--- actual\n{}",
                self.block.at(),
                shown.join("\n"),
                actual.join("\n")
            ));
        }
        failures
    }
}

/// The blocks of every page that are not commands, checked where they must equal a file.
fn check_copies(all: &[Block]) -> Vec<String> {
    let mut failures = Vec::new();
    for block in all.iter().filter(|b| !b.is_commands()) {
        if let Some(file) = block.tag("file") {
            match std::fs::read_to_string(Path::new(ROOT).join(file)) {
                Ok(content) if content.trim_end() == block.text.trim_end() => {}
                Ok(_) => failures.push(format!(
                    "{}: the copy of {file} differs from the file; show the file as it is",
                    block.at()
                )),
                Err(e) => failures.push(format!("{}: {file}: {e}", block.at())),
            }
        } else if block.text.contains("\"slash_commands\"")
            || block.text.contains("slash_commands:")
            || block.text.contains("\"manifestVersion\"")
        {
            failures.push(format!(
                "{}: a copy of an app manifest: link the file in manifest/ instead (or tag the \
                 block file=manifest/…)",
                block.at()
            ));
        }
    }
    failures
}

#[test]
fn every_command_in_the_docs_runs_as_shown() {
    let pages = pages();
    let all: Vec<Block> = pages
        .iter()
        .flat_map(|(name, text)| blocks(name, text))
        .collect();
    let mut failures = check_copies(&all);
    for block in &all {
        if block.lang.is_empty() || block.lang == "indented" {
            failures.push(format!(
                "{}: a code block without a language; say what it is (console, sh, text, …)",
                block.at()
            ));
        }
        for tag in &block.tags {
            let known = tag == "background"
                || tag.starts_with("file=")
                || tag
                    .strip_prefix("no-run=")
                    .is_some_and(|r| NO_RUN_REASONS.contains(&r));
            if !known {
                failures.push(format!("{}: unknown tag `{tag}`", block.at()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    let sandbox = Sandbox::new();
    let mut servers = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut ran = 0;
    for (page, _) in &pages {
        let mut steps = Vec::new();
        for block in all.iter().filter(|b| &b.page == page && b.is_commands()) {
            if let Some(reason) = block.tag("no-run") {
                *skipped.entry(reason.to_owned()).or_default() += 1;
                continue;
            }
            if block.tag("background").is_some() {
                // Started where it stands; the page's later commands run in its shell after.
                failures.extend(run_page(&sandbox, page, &steps));
                steps.clear();
                servers.push(Background::start(&sandbox, block));
                ran += 1;
                continue;
            }
            if block.lang == "console" {
                for (command, shown, status) in console_commands(block) {
                    steps.push(Step {
                        block: block.clone(),
                        command,
                        shown: Some(shown),
                        status,
                    });
                }
            } else {
                steps.push(Step {
                    block: block.clone(),
                    command: block.text.clone(),
                    shown: None,
                    status: 0,
                });
            }
            ran += 1;
        }
        failures.extend(run_page(&sandbox, page, &steps));
    }
    for server in servers {
        failures.extend(server.stop());
    }
    eprintln!("docs: ran {ran} command blocks; not run here: {skipped:?}");
    assert!(ran >= 10, "the docs' commands ran: {ran}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_comparison_tells_a_drifted_example_from_a_redacted_one() {
    let shown = normalize(
        [
            "`492039`  valid for 17 s",
            "Your access ends at 2026-11-03T18:00:00Z.",
            "(request id `9f2c41d07ab3e5c8`)",
            "...",
            "total: [..] tools",
        ]
        .map(String::from),
    );
    let actual = |code: &str| {
        normalize(
            [
                code,
                "Your access ends at 2030-01-01T00:00:00Z.",
                "(request id `0123456789abcdef`)",
                "one more line",
                "total: 3 tools",
            ]
            .map(String::from),
        )
    };
    assert!(lines_match(&shown, &actual("`120033`  valid for 3 s")));
    assert!(!lines_match(&shown, &actual("`120033`  expired")));
    assert!(!lines_match(
        &normalize(["No tools.".to_owned()]),
        &normalize(["no tools".to_owned()])
    ));
}

/// Every docs page is linked from the README, which stays short, and every relative link of
/// every page leads to a file of the repository.
#[test]
fn every_page_is_linked_and_every_link_leads_somewhere() {
    let pages = pages();
    let readme = &pages[0].1;
    for (page, _) in pages.iter().skip(1) {
        assert!(
            readme.contains(&format!("({page})")),
            "README.md links {page}"
        );
    }
    let lines = readme.lines().count();
    assert!(lines <= 260, "README.md is short: {lines} lines");
    let link = regex_lite::Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").expect("pattern");
    let mut broken = Vec::new();
    for (page, text) in &pages {
        let dir = Path::new(page).parent().unwrap_or(Path::new(""));
        for found in link.captures_iter(text) {
            let target = &found[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let path: PathBuf = dir.join(target);
            let normal: PathBuf = path.components().fold(PathBuf::new(), |mut acc, c| {
                match c {
                    std::path::Component::ParentDir => {
                        acc.pop();
                    }
                    other => acc.push(other),
                }
                acc
            });
            if !Path::new(ROOT).join(&normal).exists() {
                broken.push(format!("{page}: ({target})"));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing: {broken:#?}");
}

/// Every test a page names exists, so the way to run one guarantee's test stays true when tests
/// move: each `cargo test --test <target> [filter]` (the test command's blocks are not run)
/// names a test target of `Cargo.toml`, its filter `file::` a file of `tests/` and `file::test`
/// a test in it; and so does every `file::test` in backticks whose `file` is one of `tests/`
/// and not a module of `src/` that has `test` (a test of the conformance suite is named by the
/// file that instantiates it).
#[test]
fn every_test_a_page_names_exists() {
    let manifest = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).expect("manifest");
    let targets = crate::common::manifest_names(&manifest, "test");
    let source =
        |file: &str| std::fs::read_to_string(Path::new(ROOT).join(format!("tests/{file}.rs")));
    let conformance = std::fs::read_to_string(Path::new(ROOT).join("tests/common/conformance.rs"))
        .expect("conformance suite");
    // Whether `tests/{file}.rs` has the test `name`, written out or instantiated.
    let has_test = |file: &str, name: &str| {
        source(file).is_ok_and(|text| {
            let word = regex_lite::Regex::new(&format!(r"\b{name}\b")).expect("name");
            text.contains(&format!("fn {name}("))
                || (text.contains("conformance_tests!(") && word.is_match(&conformance))
        })
    };
    let command =
        regex_lite::Regex::new(r"cargo test --test ([A-Za-z0-9_]+)(?: ([A-Za-z0-9_:]+))?")
            .expect("pattern");
    let quoted = regex_lite::Regex::new(r"`([a-z0-9_]+)::([A-Za-z0-9_]+)`").expect("pattern");
    let (mut commands, mut names) = (0, 0);
    let mut wrong = Vec::new();
    for (page, text) in pages() {
        for found in command.captures_iter(&text) {
            commands += 1;
            let shown = found[0].to_owned();
            if !targets.iter().any(|t| t == &found[1]) {
                wrong.push(format!("{page}: `{shown}`: no test target {}", &found[1]));
                continue;
            }
            let Some(filter) = found.get(2).map(|m| m.as_str()) else {
                continue;
            };
            let (file, test) = filter.split_once("::").unwrap_or((filter, ""));
            if source(file).is_err() {
                wrong.push(format!("{page}: `{shown}`: no tests/{file}.rs"));
            } else if !test.is_empty() && !has_test(file, test) {
                wrong.push(format!(
                    "{page}: `{shown}`: no test {test} in tests/{file}.rs"
                ));
            }
        }
        for found in quoted.captures_iter(&text) {
            let (file, test) = (&found[1], &found[2]);
            // `keys::locate` is otpbot's own code when `src/keys` has it, not a test of
            // `tests/keys.rs`.
            if source(file).is_err() || names_in_src(file, test) {
                continue;
            }
            names += 1;
            if !has_test(file, test) {
                wrong.push(format!(
                    "{page}: `{file}::{test}`: no such test in tests/{file}.rs"
                ));
            }
        }
    }
    assert!(commands > 0 && names > 0, "the pages name tests");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Whether the module `src/{module}` (a file or a directory) has an item called `name`.
fn names_in_src(module: &str, name: &str) -> bool {
    fn sources(path: &Path) -> Vec<String> {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).into_iter().flatten().flatten();
            entries.flat_map(|e| sources(&e.path())).collect()
        } else {
            std::fs::read_to_string(path).into_iter().collect()
        }
    }
    let src = Path::new(ROOT).join("src");
    let word = regex_lite::Regex::new(&format!(
        r"\b(fn|struct|enum|mod|const|type|trait) {name}\b"
    ))
    .expect("name");
    [src.join(format!("{module}.rs")), src.join(module)]
        .iter()
        .flat_map(|p| sources(p))
        .any(|text| word.is_match(&text))
}
