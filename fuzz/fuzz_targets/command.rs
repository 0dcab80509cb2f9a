//! The command grammar: any text after `/otp`, from a Slack or a Teams caller, parses to a
//! command or a usage error, never a panic; whatever parses names its audit action.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otpbot::command::Command;
use otpbot::domain::{Platform, Principal};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let callers = [
        Principal::new(Platform::Slack, "T0TEST", "UCALLER"),
        Principal::new(
            Platform::Teams,
            "11111111-2222-3333-4444-555555555555",
            "aaaaaaaa-0000-0000-0000-000000000001",
        ),
    ];
    for caller in callers.into_iter().flatten() {
        if let Ok(command) = Command::parse(text, &caller) {
            let _ = command.action();
        }
    }
});
