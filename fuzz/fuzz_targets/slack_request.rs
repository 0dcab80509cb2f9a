//! Fuzz target `slack_request`: what it checks is `checks::slack_request` in `fuzz/checks.rs`, which
//! `tests/fuzz_corpus.rs` also runs over the committed corpus on stable.
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::slack_request(data));
