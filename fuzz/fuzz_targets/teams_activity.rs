//! Fuzz target `teams_activity`: what it checks is `checks::teams_activity` in `fuzz/checks.rs`, which
//! `tests/fuzz_corpus.rs` also runs over the committed corpus on stable.
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::teams_activity(data));
