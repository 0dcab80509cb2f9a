//! otpbot's integration tests, compiled into one test binary (`cargo test --test suite`; one
//! file's tests: `cargo test --test suite render::`). One binary links the library and its
//! dependencies once, where a binary per file linked them forty times over, and compiles the
//! shared helpers (`common`) once. Each file below is a module with its own `//!` account of
//! what it attacks; a test is named by its file and its function, as in
//! `access_requests::a_grid_user_cannot_approve_own_request`.

mod common;

mod access_requests;
mod audit_chain;
mod audit_docs;
mod audit_export;
mod audit_publish;
mod audit_seal;
mod aws_e2e;
mod aws_startup;
mod break_glass;
mod cli;
mod cli_habits;
mod crash;
mod deploy;
mod docs;
mod front_contract;
mod front_door;
mod fuzz_corpus;
mod groups;
mod keys;
mod layering;
mod local_secrets;
mod logging;
mod loopback_guard;
mod one_clock;
mod operator;
mod render;
mod slack_api;
mod slack_interactions;
mod slack_notices;
mod slack_socket;
mod store_aws;
mod store_local;
mod store_opening;
mod sweep;
mod sweep_lambda;
mod teams;
mod teams_approvals;
mod teams_groups;
mod terraform;
mod two_person;

/// A file added to `tests/` runs only once it is declared above: with `autotests = false` Cargo
/// no longer finds it by itself, so one left out would never run.
#[test]
fn every_file_of_tests_is_a_module_of_the_suite() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let declared = include_str!("suite.rs");
    let mut missing: Vec<String> = std::fs::read_dir(&root)
        .expect("tests/")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|name| name.strip_suffix(".rs").map(str::to_owned))
        .filter(|module| module != "suite" && !declared.contains(&format!("\nmod {module};\n")))
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "tests/ files that never run: {missing:?}"
    );
}
