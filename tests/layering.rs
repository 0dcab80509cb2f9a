//! Imports point one way, and no two files of `src/` take names from each other, directly or
//! through others (STYLE, "Layout shows the architecture"). The layers, top to bottom:
//!
//! ```text
//! cli → startup → telemetry, server → config → slack, teams → front → engine → command
//!     → reply, store → audit → keys → domain
//! ```
//!
//! A module may name modules of lower layers only, never one of its own layer or above; the
//! front ends (`front`, `slack`, `teams`) reach the core through the engine's API alone, never
//! `command`, `store` or `audit` directly, nor the stores through the engine's accessors.
//!
//! This reads every file under `src/` (comments and string literals left out), collects the
//! paths it names — `crate::`, `super::` and `self::` paths in `use` lines, grouped ones such as
//! `use crate::{a, b::{c, d}}` included, the same paths inline without `use`, and paths that
//! start at a module the file declared or imported — and resolves each to the file of the
//! module it names. It fails on an import that runs up a layer, and on any cycle between files,
//! printing the cycle: a parent module's file and its children count like any two files, so
//! what both need lives in a third, below them.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs;
use std::ops::Range;
use std::path::Path;

/// The layers, top to bottom; each a set of top-level modules of `src/`.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["startup"],
    &["telemetry", "server"],
    &["config"],
    &["slack", "teams"],
    &["front"],
    &["engine"],
    &["command"],
    &["reply", "store"],
    &["audit"],
    &["keys"],
    &["domain"],
];

/// The front ends, and the modules below the engine they must not name even so.
const FRONT_ENDS: &[&str] = &["front", "slack", "teams"];
const PAST_THE_ENGINE: &[&str] = &["command", "store", "audit"];

/// A module path below the crate root, e.g. `["slack", "render"]`.
type ModPath = Vec<String>;

/// The dependency graph between files: which files each file takes names from.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// One file of `src/`: its path, the module it is, and its code.
struct Source {
    file: String,
    module: ModPath,
    code: String,
}

/// The source files of the library (`src/main.rs` is another crate: the binary).
fn sources(src: &Path) -> Vec<Source> {
    let mut found = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("read src").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") && path != src.join("main.rs")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(src).expect("under src");
            Source {
                file: format!("src/{}", relative.display()),
                module: module_of(relative),
                code: strip(&fs::read_to_string(&path).expect("read source file")),
            }
        })
        .collect()
}

/// The module a file under `src/` is: `slack/render/mod.rs` and `slack/render.rs` are both
/// `slack::render`, `lib.rs` is the crate root.
fn module_of(relative: &Path) -> ModPath {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// `text` with comments, string and character literals blanked out (their line breaks kept),
/// so that only code is read.
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let end = match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => line_comment_end(&chars, i),
            '/' if chars.get(i + 1) == Some(&'*') => block_comment_end(&chars, i),
            '\'' if is_char_literal(&chars, i) => quoted_end(&chars, i, '\''),
            '"' => quoted_end(&chars, i, '"'),
            _ => raw_string_end(&chars, i).unwrap_or(i),
        };
        if end == i {
            out.push(chars[i]);
            i += 1;
        } else {
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        }
    }
    out
}

fn line_comment_end(chars: &[char], i: usize) -> usize {
    (i..chars.len())
        .find(|&k| chars[k] == '\n')
        .unwrap_or(chars.len())
}

fn block_comment_end(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// Where a literal opened by `quote` at `i` ends (after its closing quote), escapes skipped.
fn quoted_end(chars: &[char], i: usize, quote: char) -> usize {
    let mut k = i + 1;
    while k < chars.len() && chars[k] != quote {
        k += if chars[k] == '\\' { 2 } else { 1 };
    }
    (k + 1).min(chars.len())
}

/// Where a raw (byte) string starting at `i` ends, if one starts there: `r"…"`, `br#"…"#`.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let mut j = i + usize::from(chars.get(i) == Some(&'b'));
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    j += hashes;
    if chars.get(j) != Some(&'"') {
        return None;
    }
    let close: Vec<char> = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    (j + 1..chars.len())
        .find(|&k| chars[k..].starts_with(&close))
        .map(|k| k + close.len())
}

/// Whether the `'` at `i` opens a character literal rather than naming a lifetime.
fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// Whether `word` stands at byte `i` of `text` as a whole word.
fn word_at(text: &str, i: usize, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text[i..].starts_with(word)
        && !text[..i].chars().next_back().is_some_and(ident)
        && !text[i + word.len()..].chars().next().is_some_and(ident)
}

/// The inline modules of `source` (`mod tests { … }`), with the byte range of each body.
fn inline_modules(source: &Source) -> Vec<(ModPath, Range<usize>)> {
    let code = &source.code;
    let mut found = Vec::new();
    let mut open: Vec<(ModPath, usize, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending: Option<String> = None;
    for (i, byte) in code.bytes().enumerate() {
        match byte {
            b'{' => {
                depth += 1;
                if let Some(name) = pending.take() {
                    let mut path = open
                        .last()
                        .map_or_else(|| source.module.clone(), |o| o.0.clone());
                    path.push(name);
                    open.push((path, depth, i + 1));
                }
            }
            b'}' => {
                if open.last().is_some_and(|o| o.1 == depth) {
                    let (path, _, start) = open.pop().expect("an open module");
                    found.push((path, start..i));
                }
                depth = depth.saturating_sub(1);
            }
            b';' => pending = None,
            b'm' if word_at(code, i, "mod") => {
                let name: String = code[i + 3..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                pending = Some(name).filter(|n| !n.is_empty());
            }
            _ => {}
        }
    }
    found
}

/// The module the code at byte `at` of `source` is in: its own, or an inline one.
fn module_at(source: &Source, inline: &[(ModPath, Range<usize>)], at: usize) -> ModPath {
    inline
        .iter()
        .filter(|(_, body)| body.contains(&at))
        .max_by_key(|(path, _)| path.len())
        .map_or_else(|| source.module.clone(), |(path, _)| path.clone())
}

/// One path a use tree or an inline path spells out, and the name it is known by afterwards
/// (its last segment, or what `as` renames it to).
#[derive(Debug, PartialEq, Eq)]
struct Named {
    path: Vec<String>,
    alias: Option<String>,
}

/// The paths the tree starting at byte `at` spells out: `a::{b, c::{d as e, self}}` gives
/// `a::b`, `a::c::d` (as `e`) and `a::c`. An inline path followed by `(` or `!` ends in a
/// function or macro, whose name is not a module: it is left out.
fn tree_at(code: &str, at: usize) -> Vec<Named> {
    let mut chars = code[at..].chars().peekable();
    let mut out = Vec::new();
    tree(&mut chars, &mut Vec::new(), &mut out);
    out
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_space(chars: &mut Chars<'_>) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

fn ident(chars: &mut Chars<'_>) -> String {
    std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_' || *c == '$'))
        .collect()
}

fn tree(chars: &mut Chars<'_>, prefix: &mut Vec<String>, out: &mut Vec<Named>) {
    let depth = prefix.len();
    loop {
        skip_space(chars);
        if chars.next_if_eq(&'{').is_some() {
            loop {
                tree(chars, prefix, out);
                skip_space(chars);
                if chars.next_if_eq(&',').is_none() {
                    break;
                }
            }
            chars.next_if_eq(&'}');
            prefix.truncate(depth);
            return;
        }
        if chars.next_if_eq(&'*').is_some() {
            out.push(Named {
                path: prefix.clone(),
                alias: None,
            });
            prefix.truncate(depth);
            return;
        }
        let segment = ident(chars);
        if segment.is_empty() {
            prefix.truncate(depth);
            return;
        }
        if segment != "self" || prefix.is_empty() {
            prefix.push(segment);
        }
        if chars.clone().take(2).eq("::".chars()) {
            chars.nth(1);
            continue;
        }
        break;
    }
    skip_space(chars);
    if chars.peek().is_some_and(|c| matches!(c, '(' | '!')) && prefix.len() > depth + 1 {
        prefix.pop();
    }
    let alias = if chars.clone().take(3).eq("as ".chars()) {
        chars.nth(2);
        skip_space(chars);
        Some(ident(chars))
    } else {
        prefix.last().cloned()
    };
    out.push(Named {
        path: prefix.clone(),
        alias,
    });
    prefix.truncate(depth);
}

/// Where each path of the code begins: a word followed by `::`, not itself after `::`, with
/// the byte offset of its start and the word.
fn path_starts(code: &str) -> Vec<(usize, String)> {
    let bytes = code.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !word(bytes[i]) || (i > 0 && word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let end = (i..bytes.len())
            .find(|&j| !word(bytes[j]))
            .unwrap_or(bytes.len());
        let after_colons = code[..i].trim_end().ends_with("::");
        if !after_colons && code[end..].starts_with("::") {
            found.push((i, code[i..end].to_owned()));
        }
        i = end;
    }
    found
}

/// Where each `use` tree begins (after `use `).
fn use_starts(code: &str) -> Vec<usize> {
    code.match_indices("use ")
        .filter(|(at, _)| word_at(code, *at, "use"))
        .map(|(at, _)| at + 4 + (code[at + 4..].len() - code[at + 4..].trim_start().len()))
        .collect()
}

/// `path`, relative to the module `here`, as a path from the crate root; `None` when it
/// leaves the crate (`std::…`, `axum::…`) or starts at a name `aliases` does not know.
fn absolute(
    path: &[String],
    here: &ModPath,
    aliases: &HashMap<String, ModPath>,
) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    let mut base = match first.as_str() {
        "crate" | "$crate" => Vec::new(),
        "self" => here.clone(),
        "super" => here[..here.len().saturating_sub(1)].to_vec(),
        other => aliases.get(other)?.clone(),
    };
    let mut rest = rest.iter().peekable();
    while rest.next_if(|s| *s == "super").is_some() {
        base.pop();
    }
    base.extend(rest.cloned());
    Some(base)
}

/// The file of the innermost module `path` goes through.
fn file_of<'m>(path: &[String], modules: &'m BTreeMap<ModPath, String>) -> Option<&'m String> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n].to_vec()))
}

/// Every module of the crate, inline ones included, and the file each lives in.
fn modules(sources: &[Source]) -> BTreeMap<ModPath, String> {
    let mut found = BTreeMap::new();
    for source in sources {
        found.insert(source.module.clone(), source.file.clone());
        for (inline, _) in inline_modules(source) {
            found.insert(inline, source.file.clone());
        }
    }
    found
}

/// The names a path of `source` may start at besides `crate`, `super` and `self`: the modules
/// it declares, and the modules it imports (as named, or renamed with `as`).
fn aliases(
    source: &Source,
    inline: &[(ModPath, Range<usize>)],
    modules: &BTreeMap<ModPath, String>,
) -> HashMap<String, ModPath> {
    let mut aliases: HashMap<String, ModPath> = modules
        .keys()
        .filter(|path| path.len() == source.module.len() + 1 && path.starts_with(&source.module))
        .map(|path| (path[path.len() - 1].clone(), path.clone()))
        .collect();
    for at in use_starts(&source.code) {
        let here = module_at(source, inline, at);
        for named in tree_at(&source.code, at) {
            let full = absolute(&named.path, &here, &aliases);
            if let (Some(alias), Some(full)) = (named.alias, full) {
                if modules.contains_key(&full) {
                    aliases.insert(alias, full);
                }
            }
        }
    }
    aliases
}

/// The files each file of `sources` takes names from.
fn graph_of(sources: &[Source]) -> Graph {
    let modules = modules(sources);
    let mut graph = Graph::new();
    for source in sources {
        let inline = inline_modules(source);
        let aliases = aliases(source, &inline, &modules);
        let targets = graph.entry(source.file.clone()).or_default();
        for (at, first) in path_starts(&source.code) {
            let here = module_at(source, &inline, at);
            let rooted = matches!(first.as_str(), "crate" | "$crate" | "super" | "self");
            if !rooted && !aliases.contains_key(&first) {
                continue;
            }
            for named in tree_at(&source.code, at) {
                let Some(full) = absolute(&named.path, &here, &aliases) else {
                    continue;
                };
                if let Some(file) = file_of(&full, &modules).filter(|f| **f != source.file) {
                    targets.insert(file.clone());
                }
            }
        }
    }
    graph
}

fn src_graph() -> Graph {
    graph_of(&sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")))
}

/// The top-level module a file belongs to (`src/slack/render/mod.rs` → `slack`).
fn top_module(file: &str) -> &str {
    let path = file.trim_start_matches("src/");
    path.split('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches(".rs")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The edges that run up a layer or across one, or from a front end past the engine.
fn breaches(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    for (from, targets) in graph {
        let from_module = top_module(from);
        for to in targets {
            let to_module = top_module(to);
            if from_module == to_module {
                continue;
            }
            let why = match (layer_of(from_module), layer_of(to_module)) {
                (Some(a), Some(b)) if a >= b => Some("runs up (or across) a layer"),
                (None, _) | (_, None) if from_module != "lib" => {
                    Some("names a module no layer holds: add it to LAYERS")
                }
                _ if FRONT_ENDS.contains(&from_module) && PAST_THE_ENGINE.contains(&to_module) => {
                    Some("a front end reaches past the engine")
                }
                _ => None,
            };
            if let Some(why) = why {
                found.push(format!("{from} → {to}: {why}"));
            }
        }
    }
    found
}

/// Every cycle of `graph`: for each group of files that reach one another (a strongly
/// connected component), one shortest cycle through it and the files it holds.
fn cycles(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen: BTreeSet<&String> = BTreeSet::new();
    for start in graph.keys() {
        if seen.contains(start) {
            continue;
        }
        let from_start = reachable(graph, start);
        let knot: BTreeSet<&String> = from_start
            .iter()
            .copied()
            .filter(|other| reachable(graph, other).contains(start))
            .collect();
        seen.extend(knot.iter().copied());
        if knot.len() < 2 {
            continue;
        }
        let cycle = shortest_cycle(graph, start, &knot);
        let members: Vec<&str> = knot.iter().map(|f| f.as_str()).collect();
        found.push(format!(
            "{}\n    (the files caught in it: {})",
            cycle.join(" → "),
            members.join(", ")
        ));
    }
    found
}

fn reachable<'g>(graph: &'g Graph, from: &'g String) -> BTreeSet<&'g String> {
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(file) = queue.pop_front() {
        for next in graph.get(file).into_iter().flatten() {
            if seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// The shortest path from `start` back to itself inside `knot`.
fn shortest_cycle(graph: &Graph, start: &String, knot: &BTreeSet<&String>) -> Vec<String> {
    let mut previous: HashMap<&String, &String> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    'search: while let Some(file) = queue.pop_front() {
        for next in graph.get(file).into_iter().flatten() {
            if knot.contains(next) && !previous.contains_key(next) {
                previous.insert(next, file);
                if next == start {
                    break 'search;
                }
                queue.push_back(next);
            }
        }
    }
    let mut cycle = vec![start.clone()];
    let mut at = previous.get(start).copied();
    while let Some(file) = at.filter(|file| *file != start) {
        cycle.push(file.clone());
        at = previous.get(file).copied();
    }
    cycle.push(start.clone());
    cycle.reverse();
    cycle
}

#[test]
fn no_import_runs_up_a_layer() {
    let found = breaches(&src_graph());
    assert!(
        found.is_empty(),
        "imports against the layering:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_two_files_of_src_take_names_from_each_other() {
    let found = cycles(&src_graph());
    assert!(
        found.is_empty(),
        "import cycles between files of src/ (what the files share belongs in a file below \
         them):\n{}",
        found.join("\n")
    );
}

/// The engine's accessors that hand out what lies below it.
const PAST_THE_ENGINE_CALLS: &[&str] = &[".stores()", ".core()"];

/// The calls in front-end files that reach past the engine's API, as `file: call` lines.
fn reaches_past_the_engine(sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .filter(|source| {
            source
                .module
                .first()
                .is_some_and(|top| FRONT_ENDS.contains(&top.as_str()))
        })
        .flat_map(|source| {
            PAST_THE_ENGINE_CALLS
                .iter()
                .filter(|call| source.code.contains(*call))
                .map(|call| format!("{}: {call}", source.file))
        })
        .collect()
}

#[test]
fn front_ends_never_reach_a_store_through_the_engine() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = reaches_past_the_engine(&sources(&src));
    assert!(
        found.is_empty(),
        "front ends reading the stores or the core past the engine's API:\n{}",
        found.join("\n")
    );
}

// The check itself, attacked: each way of naming a module must be seen, and what is not code
// must not be.

/// A crate of the given files (path under `src/`, text), as the graph reads it.
fn graph_of_files(files: &[(&str, &str)]) -> Graph {
    let sources: Vec<Source> = files
        .iter()
        .map(|(path, text)| Source {
            file: format!("src/{path}"),
            module: module_of(Path::new(path)),
            code: strip(text),
        })
        .collect();
    graph_of(&sources)
}

fn edges(graph: &Graph, from: &str) -> Vec<String> {
    graph
        .get(&format!("src/{from}"))
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

#[test]
fn grouped_nested_and_renamed_imports_are_all_read() {
    let graph = graph_of_files(&[
        ("lib.rs", "pub mod a; pub mod b; pub mod c; pub mod d;"),
        ("a/mod.rs", "use crate::{b::{self, x}, c::y as z};\nuse crate::d as dee;\nfn f() { dee::inner::g(); }"),
        ("b.rs", ""),
        ("c.rs", ""),
        ("d/mod.rs", "pub mod inner;"),
        ("d/inner.rs", ""),
    ]);
    assert_eq!(
        edges(&graph, "a/mod.rs"),
        ["src/b.rs", "src/c.rs", "src/d/inner.rs", "src/d/mod.rs"]
    );
}

#[test]
fn inline_paths_and_parents_are_read_but_comments_and_strings_are_not() {
    let graph = graph_of_files(&[
        ("lib.rs", "pub mod p;"),
        ("p/mod.rs", "mod kid; mod other;\nfn f() { kid::go(); }"),
        (
            "p/kid.rs",
            "fn g() { super::h(); }\n// crate::p::other::x\nconst S: &str = \"crate::p::other\";",
        ),
        (
            "p/other.rs",
            "fn h() { let _ = r#\"super::kid\"#; let c = '{'; }",
        ),
    ]);
    assert_eq!(edges(&graph, "p/mod.rs"), ["src/p/kid.rs"]);
    assert_eq!(edges(&graph, "p/kid.rs"), ["src/p/mod.rs"]);
    assert!(edges(&graph, "p/other.rs").is_empty());
}

#[test]
fn a_test_module_inside_a_file_is_that_file() {
    let graph = graph_of_files(&[
        ("lib.rs", "pub mod m;"),
        ("m.rs", "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use self::inner::x;\n    mod inner { pub fn x() {} }\n}"),
    ]);
    assert!(edges(&graph, "m.rs").is_empty());
}

#[test]
fn a_cycle_through_a_parent_is_found_and_printed() {
    let graph = graph_of_files(&[
        ("lib.rs", "pub mod p;"),
        ("p/mod.rs", "mod a; mod b; pub use a::A;"),
        ("p/a.rs", "use super::b::B; pub struct A;"),
        ("p/b.rs", "use crate::p::A; pub struct B;"),
    ]);
    let found = cycles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("src/p/a.rs → src/p/b.rs → src/p/mod.rs → src/p/a.rs"),
        "{}",
        found[0]
    );
}

#[test]
fn an_import_up_a_layer_or_past_the_engine_is_a_breach() {
    let graph = graph_of_files(&[
        (
            "lib.rs",
            "pub mod domain; pub mod engine; pub mod slack; pub mod store;",
        ),
        ("domain.rs", "use crate::engine::Engine;"),
        ("engine.rs", "pub struct Engine;"),
        (
            "slack.rs",
            "use crate::{engine::Engine, store::ReplayMark};",
        ),
        ("store.rs", "pub struct ReplayMark;"),
    ]);
    let found = breaches(&graph);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("src/domain.rs → src/engine.rs: runs up"));
    assert!(found[1].starts_with("src/slack.rs → src/store.rs: a front end reaches past"));
}

// The architecture page says where things are and what a newcomer touches to add a command,
// a platform or a store backend; those steps stay true only if every file and name it gives
// exists.

/// Every `.rs` file under `dir`, with its text.
fn texts_under(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = fs::read_to_string(&path).expect("read source file");
                found.push((path, text));
            }
        }
    }
    found
}

/// Whether `name` is defined in `texts` (an item, a re-export or a module file of that name).
fn defines(texts: &[(std::path::PathBuf, String)], name: &str) -> bool {
    let kinds = [
        "fn",
        "struct",
        "enum",
        "trait",
        "type",
        "const",
        "mod",
        "macro_rules!",
    ];
    texts.iter().any(|(path, text)| {
        path.file_stem().is_some_and(|stem| stem == name)
            || path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|dir| dir == name)
            || text.lines().any(|line| {
                let line = line.trim_start();
                kinds.iter().any(|kind| {
                    line.split(&format!("{kind} {name}"))
                        .skip(1)
                        .any(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
                }) || (line.contains("use ") && line_names(line, name))
            })
    })
}

/// Whether `line` holds `name` as a whole word.
fn line_names(line: &str, name: &str) -> bool {
    line.match_indices(name)
        .any(|(at, _)| word_at(line, at, name))
}

/// What a backticked token of the page names that must exist, or why it is wrong.
fn check_token(root: &Path, token: &str) -> Result<(), String> {
    let src = root.join("src");
    if token.starts_with("src/") || token.starts_with("tests/") {
        if token.contains('<') || token.contains('…') || root.join(token).exists() {
            return Ok(());
        }
        return Err(format!("`{token}`: no such file or folder"));
    }
    if token.ends_with(".rs") && !token.contains('/') {
        let named = |(path, _): &(std::path::PathBuf, String)| path.ends_with(token);
        if texts_under(&src).iter().any(named) {
            return Ok(());
        }
        return Err(format!("`{token}`: no such file under src/"));
    }
    let path = token.split('<').next().unwrap_or(token);
    let segments: Vec<&str> = path.split("::").collect();
    let simple = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if segments.len() < 2 || !segments.iter().all(simple) {
        return Ok(());
    }
    let (first, last) = (segments[0], segments[segments.len() - 1]);
    let module_dir = src.join(first);
    let texts = if module_dir.is_dir() {
        texts_under(&module_dir)
    } else if src.join(format!("{first}.rs")).is_file() {
        let file = src.join(format!("{first}.rs"));
        vec![(file.clone(), fs::read_to_string(file).expect("read"))]
    } else if first.starts_with(char::is_uppercase) {
        texts_under(&src)
    } else {
        return Ok(());
    };
    if defines(&texts, last) {
        Ok(())
    } else {
        Err(format!("`{token}`: `{last}` is not in the code"))
    }
}

#[test]
fn the_architecture_page_names_only_what_the_code_has() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = fs::read_to_string(root.join("docs/architecture.md")).expect("architecture page");
    let wrong: Vec<String> = page
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|token| check_token(root, token).err())
        .collect();
    assert!(
        wrong.is_empty(),
        "docs/architecture.md names what is not there:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_page_check_sees_a_name_that_is_gone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(check_token(root, "front::Deliver").is_ok());
    assert!(check_token(root, "Engine::handle_at").is_ok());
    assert!(check_token(root, "src/startup/router.rs").is_ok());
    assert!(check_token(root, "front::NoSuchTrait").is_err());
    assert!(check_token(root, "Engine::no_such_method").is_err());
    assert!(check_token(root, "src/http.rs").is_err());
    assert!(check_token(root, "platforms.rs").is_ok());
    assert!(check_token(root, "http.rs").is_err());
}

#[test]
fn the_engine_check_sees_a_front_end_reading_a_store() {
    let source = |file: &str, text: &str| Source {
        file: format!("src/{file}"),
        module: module_of(Path::new(file)),
        code: strip(text),
    };
    let found = reaches_past_the_engine(&[
        source(
            "slack/peek.rs",
            "fn f(e: &Engine) { e.stores().access.tool(t); }",
        ),
        source(
            "slack/fine.rs",
            "// e.stores() in a comment\nfn f(e: &Engine) { e.handle_at(r, a); }",
        ),
        source("startup/app.rs", "fn f(e: &Engine) { e.stores(); }"),
    ]);
    assert_eq!(found, ["src/slack/peek.rs: .stores()"]);
}
