//! Opening the local store: which commands may create one, the data
//! directory checked before anything is written, and the keys found in the key directory (or
//! where an older otpbot left them) and never made anew over existing data.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::config::{Backend, Settings};
use crate::keys::{AuditKey, KeyBytes};
use crate::store::local::{LocalOptions, LocalStore, MasterKey, DB_FILE};

/// Whether a command may create the local store when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUse {
    /// It sets a store up (`serve`, `demo`, `tool add`, `role`, `secret set`): a missing store
    /// is created, in a data directory whose parent exists.
    MayCreate,
    /// It reads or changes what a store holds (`audit`, `tool list`, `grant`, …): without a
    /// store it stops, naming the directory and the command that creates one, and creates
    /// nothing.
    Existing,
    /// It does not open the local store.
    Unused,
}

/// The data directory is usable for `use_`: a directory (or absent, when the command may
/// create it), holding a store when the command needs one. Creates nothing.
pub fn check_data_dir(settings: &Settings, use_: StoreUse, command: &str) -> anyhow::Result<()> {
    if settings.backend != Backend::Local || use_ == StoreUse::Unused {
        return Ok(());
    }
    let dir = &settings.data_dir;
    if dir.exists() && !dir.is_dir() {
        bail!(
            "the data directory {} is a file, not a directory: point --data-dir \
             (OTPBOT_DATA_DIR) at the directory that holds otpbot.db, or at a new one",
            dir.display()
        );
    }
    if use_ == StoreUse::Existing && !dir.join(DB_FILE).is_file() {
        bail!(
            "no otpbot store in {} (no {DB_FILE}), so `otpbot {command}` has nothing to read: \
             point --data-dir (OTPBOT_DATA_DIR) at your store, or create one with `otpbot tool \
             add <tool>`",
            dir.display()
        );
    }
    Ok(())
}

/// Creates the data directory (mode 0700) if it is missing; its parent must exist, so a typo
/// in `--data-dir` does not silently make a tree of new directories.
pub fn create_data_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "cannot create the data directory {}: {} does not exist; create it first, or \
             point --data-dir (OTPBOT_DATA_DIR) elsewhere",
            dir.display(),
            parent.display()
        );
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// A local key: from the environment (`OTPBOT_{ROLE}_KEY` or its `_FILE`), else the key file
/// [`Settings::key_path`] locates, made on first run only: with a store already there a
/// missing key is an error, never a fresh key that would silently orphan the store's data.
/// Returns the key and where it came from, for messages.
pub fn local_key(
    given: Option<KeyBytes>,
    settings: &Settings,
    role: &str,
    store_exists: bool,
) -> anyhow::Result<(KeyBytes, String)> {
    let var = format!("OTPBOT_{}_KEY", role.to_uppercase());
    if let Some(key) = given {
        return Ok((key, format!("{var} (or {var}_FILE)")));
    }
    let name = format!("{role}.key");
    let path = settings.key_path(&name);
    if !path.exists() {
        let Some(key_dir) = &settings.key_dir else {
            bail!(
                "no directory for the {role} key: set OTPBOT_KEY_DIR (or --key-dir) to a \
                 directory apart from the data; HOME and XDG_CONFIG_HOME are not set"
            );
        };
        if store_exists {
            bail!(
                "{name} is missing: it is neither in the key directory {} nor in the data \
                 directory {}, and the store there needs the {role} key it was created with; \
                 restore {name} from your backup into {} (or set {var}_FILE to where it is \
                 kept). otpbot will not make a new key over existing data; if the store holds \
                 nothing you need, move it away to start afresh.",
                key_dir.display(),
                settings.data_dir.display(),
                key_dir.display()
            );
        }
        crate::keys::create_private_dir(key_dir).with_context(|| {
            format!(
                "cannot create the key directory {} (OTPBOT_KEY_DIR)",
                key_dir.display()
            )
        })?;
    }
    let key = crate::keys::load_or_create_key_file(&path).with_context(|| format!("{role} key"))?;
    Ok((key, path.display().to_string()))
}

/// Warns, once per command, about keys kept with the data, with the command that moves them.
pub fn warn_about_key_placement(settings: &Settings) {
    for warning in crate::keys::placement_warnings(settings.key_dir.as_deref(), &settings.data_dir)
    {
        tracing::warn!("{warning}");
    }
}

/// What a wrong key is told as: which key, from where, and how to put the right one back.
pub fn wrong_key(role: &str, source: &str, db: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "the {role} key from {source} is not the one the store {} was created with ({}); \
         restore the original {role}.key from your backup, or point OTPBOT_{}_KEY_FILE at it",
        db.display(),
        if role == "master" {
            "its seeds are encrypted under it"
        } else {
            "its audit chain and code MACs are keyed with it"
        },
        role.to_uppercase()
    )
}

/// Opens the local store in the data directory (made, with its keys, on first use) and
/// warns about keys kept with the data.
pub fn open_local(settings: &mut Settings) -> anyhow::Result<(Arc<LocalStore>, Arc<AuditKey>)> {
    create_data_dir(&settings.data_dir)?;
    let db = settings.data_dir.join(crate::store::local::DB_FILE);
    let existing = db.exists();
    let (master, master_source) =
        local_key(settings.master_key.take(), settings, "master", existing)?;
    let (audit, audit_source) = local_key(settings.audit_key.take(), settings, "audit", existing)?;
    warn_about_key_placement(settings);
    let audit = Arc::new(AuditKey::new(audit));
    let store = LocalStore::open_chained(
        &settings.data_dir,
        MasterKey::new(master),
        LocalOptions {
            // `OTPBOT_SEED_CACHE_SECS`, one setting for both backends' seeds.
            seed_cache: settings.aws.seed_cache_ttl,
            ..LocalOptions::default()
        },
        Some(audit.clone()),
    )
    .map_err(|e| match e {
        crate::store::StoreError::WrongKey(role) => {
            let source = if role == "master" {
                &master_source
            } else {
                &audit_source
            };
            wrong_key(role, source, &db)
        }
        other => anyhow::Error::new(other).context(format!(
            "cannot open the store in {}",
            settings.data_dir.display()
        )),
    })?;
    Ok((Arc::new(store), audit))
}
