//! The operator's terminal: lines written to stdout that end the command quietly when the
//! reader has closed the pipe, and secrets read from a hidden prompt or stdin, never from
//! arguments.

use anyhow::Context;

/// `println!` that ends the command instead of panicking when stdout is a closed pipe
/// (`otpbot tool list | head`): the write error goes up, and `main` exits quietly on it.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::terminal::say_line(format_args!($($arg)*))?
    };
}

/// Writes one line to stdout (see `say!`).
pub(crate) fn say_line(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Whether `err` is a write to a closed stdout pipe: the reader has all it wanted.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Reads a secret value from a hidden prompt on a terminal, or from stdin (at most `max` bytes),
/// never from arguments.
pub fn read_secret(prompt: &str, max: u64) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use std::io::{IsTerminal, Read};
    let mut text = zeroize::Zeroizing::new(String::new());
    if std::io::stdin().is_terminal() {
        *text = rpassword::prompt_password(prompt).context("cannot read the value")?;
    } else {
        std::io::stdin()
            .take(max)
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
    }
    Ok(text)
}
