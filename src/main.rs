//! The `otpbot` binary: parse the command line, hand over to the library.

use std::io::Write;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = if otpbot::cli::is_lambda_function() {
        otpbot::cli::lambda().await
    } else {
        otpbot::cli::run(otpbot::cli::Cli::parse_or_exit()).await
    };
    otpbot::telemetry::flush();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `otpbot tool list | head`: the reader closed the pipe; nothing is wrong.
        Err(err) if otpbot::cli::is_closed_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // `eprintln!` would panic on a broken stderr; the exit code still tells.
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The allocator of a build with the local store: the server's request threads and its SQLite
/// writer allocate and free across threads, where glibc's malloc cost an eighth of the CPU at
/// 64 clients. Its `override` feature gives SQLite's allocations to it as well.
#[cfg(feature = "local")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
