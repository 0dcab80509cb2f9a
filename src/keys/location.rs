//! Where the local store's key files live: in a key directory apart from the data directory
//! (`OTPBOT_KEY_DIR`, by default under the user's configuration directory), so that a copy of
//! the data directory alone (a backup, a snapshot) holds no key and decrypts no seed.
//!
//! [`locate`] is the one function that decides where a key file is; every key (`master.key`,
//! `audit.key`, and any added later) goes through it. Keys an older otpbot left in the data
//! directory are still found there, and [`placement_warnings`] says how to move them.

use std::path::{Path, PathBuf};

/// Where one key file is, or is to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLocation {
    /// The file.
    pub path: PathBuf,
    /// Whether the file sits in the data directory, left there by an older otpbot (or with no
    /// key directory known): a copy of the data directory then holds the key.
    pub beside_data: bool,
}

/// Where the key file `name` is: in `key_dir` when it is there or nowhere yet, else in the
/// data directory where an older otpbot made it. With no key directory known (no
/// `OTPBOT_KEY_DIR`, `XDG_CONFIG_HOME` or `HOME`), the data directory; the store refuses to
/// make a new key there (see the command line's store opening).
pub fn locate(name: &str, key_dir: Option<&Path>, data_dir: &Path) -> KeyLocation {
    let legacy = data_dir.join(name);
    match key_dir {
        Some(dir) if dir.join(name).exists() || !legacy.exists() => KeyLocation {
            path: dir.join(name),
            beside_data: is_within(dir, data_dir),
        },
        _ => KeyLocation {
            path: legacy,
            beside_data: true,
        },
    }
}

/// Whether `inner` is `outer` or a directory inside it (compared as given, and canonically
/// when both exist).
pub fn is_within(inner: &Path, outer: &Path) -> bool {
    if inner.starts_with(outer) {
        return true;
    }
    match (inner.canonicalize(), outer.canonicalize()) {
        (Ok(inner), Ok(outer)) => inner.starts_with(outer),
        _ => false,
    }
}

/// The key files (`*.key`) in `dir`, sorted; none when it cannot be read.
pub fn key_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "key") && path.is_file())
        .collect();
    files.sort();
    files
}

/// `path` as a shell word: as it is when it holds only safe characters, else single-quoted.
pub fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let safe = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if safe {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// What to tell the operator about keys kept with the data: one warning per problem, each with
/// the exact command that fixes it. Empty when every key is apart from the data.
pub fn placement_warnings(key_dir: Option<&Path>, data_dir: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(dir) = key_dir.filter(|dir| is_within(dir, data_dir)) {
        warnings.push(format!(
            "the key directory {} is inside the data directory {}: a copy of the data (a \
             backup) then holds the keys that decrypt it; point OTPBOT_KEY_DIR elsewhere and \
             move the keys there",
            dir.display(),
            data_dir.display()
        ));
        return warnings;
    }
    let beside: Vec<PathBuf> = key_files_in(data_dir);
    if beside.is_empty() {
        return warnings;
    }
    let names: Vec<String> = beside
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let why = format!(
        "{} sit{} in the data directory {}, so a copy of that directory (a backup, a snapshot) \
         is enough to decrypt every seed",
        names.join(" and "),
        if names.len() == 1 { "s" } else { "" },
        data_dir.display()
    );
    let Some(dir) = key_dir else {
        warnings.push(format!(
            "{why}; move them to a directory of their own and set OTPBOT_KEY_DIR to it"
        ));
        return warnings;
    };
    warnings.push(format!("{why}; {}", move_command(&beside, dir, data_dir)));
    warnings
}

/// The command that moves `files` out of the data directory into `dir`, or, when `dir` already
/// holds a different key of the same name (another store's), into a directory of their own.
fn move_command(files: &[PathBuf], dir: &Path, data_dir: &Path) -> String {
    let clash = files.iter().any(|file| {
        let target = dir.join(file.file_name().unwrap_or_default());
        target.exists() && std::fs::read(&target).ok() != std::fs::read(file).ok()
    });
    let same = files.iter().all(|file| {
        let target = dir.join(file.file_name().unwrap_or_default());
        target.exists() && std::fs::read(&target).ok() == std::fs::read(file).ok()
    });
    let sources: Vec<String> = files.iter().map(|f| shell_word(f)).collect();
    if same {
        return format!(
            "{} already holds the same keys, so remove the copies: rm {}",
            dir.display(),
            sources.join(" ")
        );
    }
    if clash {
        let own = dir.join(
            data_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "store".into()),
        );
        let own_word = shell_word(&own);
        return format!(
            "{} holds other keys of those names (another store's), so give this store a key \
             directory of its own: install -d -m 700 {own_word} && mv {} {own_word}/ and set \
             OTPBOT_KEY_DIR={own_word}",
            dir.display(),
            sources.join(" ")
        );
    }
    let dir_word = shell_word(dir);
    format!(
        "move them to the key directory: install -d -m 700 {dir_word} && mv {} {dir_word}/",
        sources.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_looked_for_in_the_key_directory_then_beside_the_data() {
        let root = tempfile::tempdir().expect("tempdir");
        let (keys, data) = (root.path().join("keys"), root.path().join("data"));
        std::fs::create_dir_all(&data).expect("data dir");
        let fresh = locate("master.key", Some(&keys), &data);
        assert_eq!(fresh.path, keys.join("master.key"), "a new key goes apart");
        assert!(!fresh.beside_data);
        std::fs::write(data.join("master.key"), "x").expect("legacy key");
        let legacy = locate("master.key", Some(&keys), &data);
        assert_eq!(legacy.path, data.join("master.key"), "an old key is found");
        assert!(legacy.beside_data);
        std::fs::create_dir_all(&keys).expect("key dir");
        std::fs::write(keys.join("master.key"), "x").expect("moved key");
        assert_eq!(
            locate("master.key", Some(&keys), &data).path,
            keys.join("master.key"),
            "the key directory wins once the key is there"
        );
        let nowhere = locate("audit.key", None, &data);
        assert!(nowhere.beside_data && nowhere.path == data.join("audit.key"));
        let inside = locate("audit.key", Some(&data.join("keys")), &data);
        assert!(
            inside.beside_data,
            "a key directory inside the data is beside it"
        );
    }

    #[test]
    fn the_warning_gives_the_exact_move_and_never_overwrites_another_stores_key() {
        let root = tempfile::tempdir().expect("tempdir");
        let (keys, data) = (root.path().join("keys"), root.path().join("my data"));
        std::fs::create_dir_all(&data).expect("data dir");
        assert!(placement_warnings(Some(&keys), &data).is_empty());
        std::fs::write(data.join("master.key"), "a").expect("key");
        std::fs::write(data.join("audit.key"), "b").expect("key");
        let warning = placement_warnings(Some(&keys), &data).join("\n");
        let data_word = shell_word(&data);
        assert!(data_word.starts_with('\''), "{data_word}");
        assert!(
            warning.contains(&format!(
                "install -d -m 700 {0} && mv {1}/audit.key' {1}/master.key' {0}/",
                keys.display(),
                data_word.trim_end_matches('\'')
            )),
            "{warning}"
        );
        std::fs::create_dir_all(&keys).expect("key dir");
        std::fs::write(keys.join("master.key"), "other store").expect("key");
        let warning = placement_warnings(Some(&keys), &data).join("\n");
        assert!(
            warning.contains("another store's") && warning.contains("OTPBOT_KEY_DIR="),
            "{warning}"
        );
        std::fs::write(keys.join("master.key"), "a").expect("key");
        std::fs::write(keys.join("audit.key"), "b").expect("key");
        let warning = placement_warnings(Some(&keys), &data).join("\n");
        assert!(warning.contains("remove the copies: rm "), "{warning}");
    }
}
