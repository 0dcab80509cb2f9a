//! Where an issued code's work goes, counted in instructions (repeatable on a shared, noisy
//! machine, unlike time): the real `otpbot serve` runs under `valgrind --tool=callgrind` on a
//! data directory with 1,600 granted users, a client in this process sends signed `/otp github`
//! requests one at a time, and the instructions the server spent on them are split by stage
//! (HTTP parsing, signature check, each store step, the chain link, the commit, rendering).
//!
//! `cargo bench --bench code_profile` (needs `valgrind`; `CODES=n` changes how many codes are
//! counted, 400 by default). The callgrind file is kept under `target/` for
//! `callgrind_annotate`. Time spent waiting (the fsync, thread wake-ups) is not an instruction:
//! `cargo bench --bench requests` measures those.

#[path = "support/local.rs"]
mod local;

use std::process::Command;
use std::time::Duration;

/// Stages of a code: each the inclusive instructions of the functions named (for each pattern
/// the largest count of a frame whose name contains it, summed over the patterns). Inlined
/// functions count in their caller; SHA-256 runs in software under valgrind (which hides the
/// CPU's SHA instructions), so HMACs cost more here than natively.
const STAGES: &[(&str, &[&str])] = &[
    (
        "HTTP/1 request parsing and response encoding",
        &[
            "hyper::proto::h1::role::Server as hyper::proto::h1::Http1Transaction>::parse",
            "hyper::proto::h1::role::Server as hyper::proto::h1::Http1Transaction>::encode",
        ],
    ),
    (
        "signature check (HMAC-SHA256)",
        &["otpbot::slack::signature::verify"],
    ),
    ("catalog read (tool)", &["LocalStore>::tool::{{closure}}"]),
    (
        "read-first view (catalog entry, grant; limits where the store needs them)",
        &["LocalStore>::view::{{closure}}"],
    ),
    (
        "read-first seed read and decryption",
        &["LocalStore>::seed::{{closure}}"],
    ),
    ("TOTP code", &["totp_rs::TOTP::generate"]),
    ("audit MACs of the codes", &["otpbot::keys::AuditKey::mac"]),
    (
        "writer thread, all of it",
        &["otpbot::store::local::writer::run"],
    ),
    (
        "  the decision's job",
        &["otpbot::store::local::writer::Job>::run"],
    ),
    (
        "    SQL: replay marker",
        &["otpbot::store::local::counters::mark"],
    ),
    (
        "    SQL: catalog entry and grant of a whole code",
        &["otpbot::store::local::decide::issue_check"],
    ),
    (
        "    seed (read, opened or reused) and the code",
        &["otpbot::store::local::opened_seeds::OpenedSeeds::issue"],
    ),
    (
        "    SQL: rate limits",
        &["otpbot::store::local::rings::take"],
    ),
    (
        "    SQL: grant (view and decision)",
        &["otpbot::store::local::access_rows::grant_on"],
    ),
    (
        "    SQL: audit insert",
        &["otpbot::store::local::audit_rows::insert_event"],
    ),
    ("      chain link (HMAC)", &["otpbot::audit::chain::link"]),
    (
        "      chain hash (SHA-256)",
        &["otpbot::audit::chain::hash_link"],
    ),
    (
        "    SQL: prune sweep",
        &["otpbot::store::local::counters::prune"],
    ),
    (
        "  commit (WAL frames, checksums)",
        &["sqlite3PagerCommitPhaseOne"],
    ),
    ("statement re-preparation (SQLite)", &["sqlite3Reprepare"]),
    (
        "rendering (Block Kit JSON)",
        &[
            "otpbot::slack::render::render",
            "otpbot::slack::commands::Answered::response",
        ],
    ),
    (
        "logging",
        &["as tracing_core::subscriber::Subscriber>::event"],
    ),
];

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench --bench code_profile`");
        return;
    }
    let codes: usize = std::env::var("CODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let out =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/code_profile.callgrind");
    runtime.block_on(async {
        let dir = local::data_dir();
        local::seed(&dir.path(), 1_600);
        let wrapper = [
            "valgrind".to_owned(),
            "--tool=callgrind".to_owned(),
            "--instr-atstart=no".to_owned(),
            format!("--callgrind-out-file={}", out.display()),
        ];
        let mut server = local::Server::start(&dir.path(), &[], &wrapper).await;
        let client = local::Client::new(server.addr);
        // Warm-up: prepared statements, connections, caches, each user's first admission.
        for i in 0..200 {
            client.code(&local::user(i)).await;
        }
        control(server.pid(), &["-i", "on"]);
        for i in 0..codes {
            client.code(&local::user(200 + i % 1_400)).await;
        }
        control(server.pid(), &["--dump=codes"]);
        for _ in 0..codes {
            client.healthz().await;
        }
        control(server.pid(), &["--dump=healthz"]);
        let tasks: Vec<_> = (0..64)
            .map(|c| {
                let client = client.clone();
                tokio::spawn(async move {
                    for i in 0..codes / 64 {
                        client.code(&local::user((c + 64 * i) % 1_600)).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("client");
        }
        control(server.pid(), &["--dump=concurrent"]);
        control(server.pid(), &["-i", "off"]);
        server.stop();
    });
    std::thread::sleep(Duration::from_millis(200));
    let part = |n: u32| std::path::PathBuf::from(format!("{}.{n}", out.display()));
    let healthz = total(&part(2));
    println!(
        "server instructions per GET /healthz, one client: {}",
        healthz / codes as u64
    );
    println!();
    report(&part(1), codes, "one client");
    println!();
    report(&part(3), codes / 64 * 64, "64 clients");
}

fn control(pid: u32, args: &[&str]) {
    let status = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("callgrind_control");
    assert!(status.success(), "callgrind_control {args:?}");
}

/// The instructions a callgrind file counted.
fn total(file: &std::path::Path) -> u64 {
    annotate(file).0
}

/// `callgrind_annotate --inclusive=yes`: the total and each function's inclusive count.
fn annotate(file: &std::path::Path) -> (u64, Vec<(u64, String)>) {
    let output = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100", "--auto=no"])
        .arg(file)
        .output()
        .expect("callgrind_annotate");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut total = 0u64;
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        if rest.contains("PROGRAM TOTALS") {
            total = count;
        } else {
            rows.push((count, rest.to_owned()));
        }
    }
    (total, rows)
}

/// Prints the instructions per code of each stage.
fn report(file: &std::path::Path, codes: usize, clients: &str) {
    let (total, rows) = annotate(file);
    println!("instructions per issued code, server process, {codes} codes at {clients}");
    println!(
        "{:<52} {:>10}",
        "all of the server's instructions",
        total / codes as u64
    );
    for (name, patterns) in STAGES {
        let best: u64 = patterns
            .iter()
            .map(|p| {
                rows.iter()
                    .filter(|(_, frame)| frame.contains(p))
                    .map(|(count, _)| *count)
                    .max()
                    .unwrap_or(0)
            })
            .sum();
        println!("{:<52} {:>10}", name, best / codes as u64);
    }
    println!("callgrind file: {}", file.display());
}
