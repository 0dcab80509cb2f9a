//! Running the `otpbot` binary as an operator does, with nothing of this machine's but `PATH`:
//! a cleared environment, stdin closed, and the data and key directories the test gives it.
//! Every test that runs the binary starts from [`Otpbot`], so none reads the real home
//! directory or a stray `OTPBOT_*` variable of the machine that runs the tests.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_otpbot");

/// An `otpbot` command line being put together.
pub struct Otpbot(Command);

impl Otpbot {
    /// `otpbot` with a cleared environment but `PATH`, run by the operator `ops` (`USER`, the
    /// name the command line records as the actor), stdin closed; no data or key directory.
    pub fn new() -> Self {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("USER", "ops")
            .stdin(Stdio::null());
        Self(cmd)
    }

    /// On the store in `data`, with a key directory of that store's own ([`store_key_dir`]).
    pub fn on_store(data: &Path) -> Self {
        Self::new().data_dir(data).key_dir(store_key_dir(data))
    }

    /// In the working directory `dir` as on an operator's machine: the store in `dir/data`,
    /// its keys in `dir/keys`.
    pub fn in_dir(dir: &Path) -> Self {
        Self::new()
            .cwd(dir)
            .data_dir(dir.join("data"))
            .key_dir(dir.join("keys"))
    }

    /// The data directory (`OTPBOT_DATA_DIR`).
    pub fn data_dir(self, dir: impl AsRef<Path>) -> Self {
        self.env("OTPBOT_DATA_DIR", dir.as_ref())
    }

    /// The key directory (`OTPBOT_KEY_DIR`).
    pub fn key_dir(self, dir: impl AsRef<Path>) -> Self {
        self.env("OTPBOT_KEY_DIR", dir.as_ref())
    }

    /// The working directory.
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.0.current_dir(dir);
        self
    }

    /// One more environment variable.
    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.0.env(name, value);
        self
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.0.arg(arg);
        self
    }

    /// More arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.0.args(args);
        self
    }

    /// The command as put together, to spawn or to change further.
    pub fn command(self) -> Command {
        self.0
    }

    /// Runs it to its end.
    pub fn output(mut self) -> Output {
        self.0.output().expect("run otpbot")
    }

    /// Runs it with `input` on its stdin.
    pub fn input(mut self, input: &str) -> Output {
        with_stdin(&mut self.0, input)
    }

    /// Runs it; asserts it succeeded; its stdout.
    pub fn ok(self) -> String {
        ok(self.output())
    }

    /// Runs it; asserts it failed; its stderr.
    pub fn fails(self) -> String {
        fails(self.output())
    }
}

impl Default for Otpbot {
    fn default() -> Self {
        Self::new()
    }
}

/// The key directory of the store in `data`: one per store and apart from its data, under
/// this test binary's key directory ([`super::key_dir`]), named after the store's directory
/// (a temporary directory's unique name), so that each test's store has keys of its own.
pub fn store_key_dir(data: &Path) -> PathBuf {
    super::key_dir().join(data.file_name().expect("a temporary directory's name"))
}

/// Runs `cmd` (an [`Otpbot::command`] changed further) to its end.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run otpbot")
}

/// Runs `cmd` with `input` on its stdin.
pub fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn otpbot");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for otpbot")
}

/// All the command said: its stdout, then its stderr.
pub fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the command succeeded; its stdout.
pub fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Asserts the command succeeded; all it said ([`said`]), for what it warns about on stderr.
pub fn ok_said(output: Output) -> String {
    let all = said(&output);
    assert!(output.status.success(), "failed: {all}");
    all
}

/// Asserts the command failed; its stderr.
pub fn fails(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "succeeded: {}{stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}
