//! Every committed fuzz corpus file, replayed through its target's checks on stable, so each
//! test run covers what the fuzzing campaigns found (`scripts/fuzz.sh` runs the campaigns,
//! nightly and instrumented; `docs/fuzzing.md` has their figures). The checks are the fuzz
//! targets' own: `fuzz/checks.rs`, which each target calls.

use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../fuzz/checks.rs"]
mod checks;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `[[bin]]` names of `fuzz/Cargo.toml`: the fuzz targets.
fn declared_targets() -> Vec<String> {
    let manifest =
        std::fs::read_to_string(Path::new(ROOT).join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut names = crate::common::manifest_names(&manifest, "bin");
    names.sort();
    names
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(ROOT).join("fuzz/corpus").join(target))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
            .map(|entry| entry.expect("entry").path())
            .collect();
    files.sort();
    files
}

#[test]
fn every_fuzz_target_has_its_checks_and_its_corpus_here() {
    let mut checked: Vec<String> = checks::TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    checked.sort();
    assert_eq!(
        declared_targets(),
        checked,
        "fuzz/Cargo.toml and checks::TARGETS"
    );
    let mut corpora: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("fuzz/corpus"))
        .expect("fuzz/corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    corpora.sort();
    assert_eq!(corpora, checked, "a corpus directory per target");
    for (name, _) in checks::TARGETS {
        let source =
            std::fs::read_to_string(Path::new(ROOT).join(format!("fuzz/fuzz_targets/{name}.rs")))
                .expect("target source");
        assert!(
            source.contains(&format!("checks::{name}(data)")),
            "fuzz target {name} runs checks::{name}"
        );
    }
}

#[test]
fn every_committed_corpus_file_passes_its_targets_checks() {
    let mut failures = Vec::new();
    for (name, check) in checks::TARGETS {
        let files = corpus_files(name);
        assert!(!files.is_empty(), "fuzz/corpus/{name} is empty");
        for file in files {
            let input = std::fs::read(&file).expect("corpus file");
            if std::panic::catch_unwind(|| check(&input)).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "corpus files that fail: {failures:#?}");
}

/// A check that cannot fail proves nothing: the render checks are handed what an escaping
/// renderer must never produce, and must refuse it.
#[test]
fn the_checks_catch_what_they_guard_against() {
    for (text, what) in [
        ("<!here> everyone", "a broadcast"),
        ("<https://evil.example|GitHub>", "a link"),
        ("see <@U0OTHER>", "a mention that is not otpbot's"),
        ("\u{202E}moc.buhtig", "a bidirectional override"),
    ] {
        let caught = std::panic::catch_unwind(|| checks::check_slack(text, &[]));
        assert!(caught.is_err(), "Slack: {what} is caught");
    }
    for (text, what) in [
        ("[GitHub](https://evil.example)", "a link"),
        ("**urgent**", "emphasis"),
        ("# heading", "a heading"),
        ("- item", "a list"),
    ] {
        let caught = std::panic::catch_unwind(|| checks::check_teams(text));
        assert!(caught.is_err(), "Teams: {what} is caught");
    }
    checks::check_slack("plain &lt;text&gt; <@U0OWN>", &["<@U0OWN>".to_owned()]);
    checks::check_teams("plain text");
}

/// The fuzz crate builds otpbot with the versions the project ships: every package the two
/// lock files share is at a version the main lock file has.
#[test]
fn the_fuzz_lock_file_pins_the_projects_versions() {
    let packages = |path: &str| -> Vec<(String, String)> {
        let text = std::fs::read_to_string(Path::new(ROOT).join(path)).expect(path);
        text.split("[[package]]")
            .skip(1)
            .filter_map(|p| {
                let field = |key: &str| {
                    p.lines()
                        .find(|l| l.starts_with(&format!("{key} = ")))
                        .and_then(|l| l.split('"').nth(1))
                        .map(str::to_owned)
                };
                Some((field("name")?, field("version")?))
            })
            .collect()
    };
    let main = packages("Cargo.lock");
    let fuzz = packages("fuzz/Cargo.lock");
    let mut drift = Vec::new();
    for (name, version) in &fuzz {
        let shipped: Vec<&String> = main
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .collect();
        if !shipped.is_empty() && !shipped.contains(&version) {
            drift.push(format!("{name} {version} (Cargo.lock: {shipped:?})"));
        }
    }
    assert!(
        drift.is_empty(),
        "fuzz/Cargo.lock drifted from Cargo.lock; refresh it with `cp Cargo.lock fuzz/Cargo.lock \
         && cargo metadata --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null`: {drift:#?}"
    );
    assert!(
        fuzz.iter().any(|(n, _)| n == "otpbot"),
        "fuzz/Cargo.lock builds otpbot"
    );
}
