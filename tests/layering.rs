//! Imports point one way: front ends → engine → command → store → domain (STYLE, "Layout shows
//! the architecture"). A lower layer that names a higher one brings back an import cycle, so
//! this reads every source file of the lower layers and fails on the first such `crate::` path.

use std::fs;
use std::path::{Path, PathBuf};

/// The modules above every layer that must stay below them.
const FRONT: [&str; 7] = ["http", "front", "slack", "teams", "server", "cli", "config"];

/// Each lower layer (a module, as a file or a folder under `src/`) and the modules it must not
/// import on top of the front ends.
const RULES: &[(&str, &[&str])] = &[
    ("command", &["engine"]),
    ("store", &["engine", "command"]),
    ("audit", &["engine", "command", "store"]),
    ("reply", &["engine", "command", "store"]),
    ("keys", &["engine", "command", "store"]),
    ("domain", &["engine", "command", "store", "audit", "reply"]),
];

fn sources(module: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![src.join(module)];
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        found.push(file);
    }
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.map(|entry| entry.expect("read src").path()) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    found
}

/// Whether `line` names `crate::{module}` as a whole path segment.
fn names(line: &str, module: &str) -> bool {
    let needle = format!("crate::{module}");
    line.match_indices(&needle).any(|(at, _)| {
        !line[at + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let mut breaches = Vec::new();
    for (layer, above) in RULES {
        let files = sources(layer);
        assert!(!files.is_empty(), "no source files found for `{layer}`");
        for file in files {
            let text = fs::read_to_string(&file).expect("read source file");
            for (number, line) in text.lines().enumerate() {
                for module in above.iter().chain(FRONT.iter()) {
                    if names(line, module) || line.contains(&format!("super::super::{module}")) {
                        breaches.push(format!(
                            "{}:{}: {}",
                            file.display(),
                            number + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "imports against the layering:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_of_the_engine() {
    assert!(names("use crate::engine::{Ctx, Draft};", "engine"));
    assert!(names("let e: &crate::engine::Engine;", "engine"));
    assert!(!names("use crate::engines_elsewhere::X;", "engine"));
}
