//! Keys apart from data: the local store's keys live in a key directory under the user's
//! configuration directory (or `OTPBOT_KEY_DIR`), never in the data directory, so a copy of the
//! data directory alone (a backup, a snapshot) decrypts no seed. Keys an older otpbot left
//! beside the data are still found, and the exact command that moves them is given.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::cli::{ok_said, Otpbot};

const SEED: &str = "JBSWY3DPEHPK3PXP";

/// `otpbot` in `work` with `vars` as its whole environment (but `PATH` and `USER`).
fn otpbot(work: &Path, vars: &[(&str, &Path)]) -> Otpbot {
    vars.iter()
        .fold(Otpbot::new().cwd(work), |cmd, (name, value)| {
            cmd.env(name, value)
        })
}

fn enrol(cmd: Otpbot) -> Output {
    cmd.args(["tool", "add", "github"]).input(SEED)
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).expect("read")));
        }
    }
    out
}

#[test]
fn a_copy_of_the_data_directory_alone_decrypts_no_seed() {
    let root = tempfile::tempdir().expect("tempdir");
    let (home, work) = (root.path().join("home"), root.path().join("work"));
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&work).expect("work");
    ok_said(enrol(otpbot(&work, &[("HOME", &home)])));
    let key_dir = home.join(".config/otpbot");
    let master_hex = std::fs::read_to_string(key_dir.join("master.key")).expect("master key");
    let master = hex::decode(master_hex.trim()).expect("hex");

    // The backup: the data directory, copied whole, to a machine with another home.
    let stolen = root.path().join("stolen");
    std::fs::create_dir_all(stolen.join("otpbot-data")).expect("dir");
    for (path, bytes) in files(&work.join("otpbot-data")) {
        let name = path.file_name().expect("name");
        std::fs::write(stolen.join("otpbot-data").join(name), bytes).expect("copy");
    }
    for (path, bytes) in files(&stolen) {
        assert!(
            path.extension().is_none_or(|e| e != "key"),
            "a key file in the copy: {}",
            path.display()
        );
        for needle in [master_hex.trim().as_bytes(), &master[..]] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "the master key is in {}",
                path.display()
            );
        }
    }
    let thief_home = root.path().join("thief");
    std::fs::create_dir_all(&thief_home).expect("home");
    let out = otpbot(&stolen, &[("HOME", &thief_home)])
        .args(["tool", "list"])
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("master.key is missing"),
        "{stderr}"
    );
    assert!(
        !thief_home.join(".config/otpbot/master.key").exists(),
        "no key was made up over the copied store"
    );
    // The seed itself is not in the copy either: only its ciphertext.
    for (path, bytes) in files(&stolen) {
        assert!(
            !bytes.windows(SEED.len()).any(|w| w == SEED.as_bytes()),
            "the seed in clear in {}",
            path.display()
        );
    }
}

#[test]
fn new_keys_go_to_the_configuration_directory_and_never_beside_the_data() {
    let root = tempfile::tempdir().expect("tempdir");
    let work = root.path().join("work");
    std::fs::create_dir_all(&work).expect("work");
    let home = root.path().join("home");
    let xdg = root.path().join("xdg");
    let given = root.path().join("given");
    for (vars, expected) in [
        (vec![("HOME", home.as_path())], home.join(".config/otpbot")),
        (
            vec![("HOME", home.as_path()), ("XDG_CONFIG_HOME", xdg.as_path())],
            xdg.join("otpbot"),
        ),
        (
            vec![
                ("HOME", home.as_path()),
                ("XDG_CONFIG_HOME", xdg.as_path()),
                ("OTPBOT_KEY_DIR", given.as_path()),
            ],
            given.clone(),
        ),
    ] {
        let data = tempfile::tempdir_in(&work).expect("data");
        ok_said(enrol(otpbot(&work, &vars).data_dir(data.path())));
        for name in ["master.key", "audit.key"] {
            let key = expected.join(name);
            assert!(key.is_file(), "{vars:?}: {}", key.display());
            assert!(
                !data.path().join(name).exists(),
                "{vars:?}: {name} beside the data"
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", key.display());
                let dir = std::fs::metadata(&expected)
                    .expect("meta")
                    .permissions()
                    .mode();
                assert_eq!(dir & 0o777, 0o700, "{}", expected.display());
            }
        }
    }
    // Without HOME, XDG_CONFIG_HOME or OTPBOT_KEY_DIR there is nowhere apart to put keys: the
    // command says so and makes neither a key nor a store.
    let data = work.join("homeless");
    let out = otpbot(&work, &[("OTPBOT_DATA_DIR", &data)])
        .args(["role", "add", "slack:T0DEMO:U0456", "admin"])
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("set OTPBOT_KEY_DIR"),
        "{stderr}"
    );
    assert!(!data.join("master.key").exists() && !data.join("otpbot.db").exists());
}

#[test]
fn keys_an_older_otpbot_left_beside_the_data_are_found_and_the_move_is_explained() {
    let root = tempfile::tempdir().expect("tempdir");
    let (home, work) = (root.path().join("home"), root.path().join("work"));
    std::fs::create_dir_all(&work).expect("work");
    let vars = [("HOME", home.as_path())];
    ok_said(enrol(otpbot(&work, &vars)));
    // The layout an older otpbot made: the keys in the data directory.
    let key_dir = home.join(".config/otpbot");
    for name in ["master.key", "audit.key"] {
        std::fs::rename(key_dir.join(name), work.join("otpbot-data").join(name)).expect("move");
    }
    let said = ok_said(otpbot(&work, &vars).args(["tool", "list"]).output());
    assert!(
        said.contains("github"),
        "the store opens with the keys where they are: {said}"
    );
    let command = format!(
        "install -d -m 700 {0} && mv otpbot-data/audit.key otpbot-data/master.key {0}/",
        key_dir.display()
    );
    assert!(said.contains(&command), "the exact move: {said}");
    let moved = Command::new("sh")
        .current_dir(&work)
        .args(["-c", &command])
        .status()
        .expect("sh");
    assert!(moved.success());
    let said = ok_said(otpbot(&work, &vars).args(["tool", "list"]).output());
    assert!(said.contains("github") && !said.contains("WARN"), "{said}");
    assert!(!work.join("otpbot-data/master.key").exists());
}

#[test]
fn serve_warns_when_keys_share_a_directory_with_the_database() {
    let root = tempfile::tempdir().expect("tempdir");
    let work = root.path().join("work");
    std::fs::create_dir_all(work.join("otpbot-data")).expect("work");
    // A key directory that is the data directory itself.
    let data = work.join("otpbot-data");
    let vars = [("OTPBOT_KEY_DIR", data.as_path())];
    ok_said(enrol(otpbot(&work, &vars)));
    assert!(data.join("master.key").is_file());
    let mut child = otpbot(&work, &vars)
        .env("OTPBOT_SLACK_SIGNING_SECRET", common::SECRET)
        .env("OTPBOT_SLACK_TEAM_IDS", "T0DEMO")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let stderr = child.stderr.take().expect("stderr");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("otpbot listening") || Instant::now() > deadline {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.contains("is inside the data directory") && seen.contains("OTPBOT_KEY_DIR"),
        "{seen}"
    );
}
