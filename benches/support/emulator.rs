//! The DynamoDB and SSM emulator (`moto_server`) behind TLS, as AWS is: a certificate authority
//! made for the run issues the emulator's certificate, and clients trust it through a bundle
//! of the system's CA certificates plus that one (`SSL_CERT_FILE` for otpbot, whose HTTPS
//! clients load the platform roots, as on Lambda; `AWS_CA_BUNDLE` for boto3). The emulator
//! runs threaded, so it keeps connections alive as AWS endpoints do and a handshake is paid
//! once per connection.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The system bundle the run's CA is added to (Debian's path; Amazon Linux has its own).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A running `moto_server` on HTTPS; stopped when dropped.
pub struct Emulator {
    /// `https://127.0.0.1:{port}`.
    pub url: String,
    /// The CA bundle clients trust.
    pub bundle: PathBuf,
    /// Where the emulator records requests while recording is on.
    pub recording: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The virtual environment with `moto_server` (and for the Python handler, `awslambdaric`,
/// `pyotp` and `boto3`): `BENCH_VENV`, else the repository's `.venv`.
pub fn venv() -> PathBuf {
    std::env::var_os("BENCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"))
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("OTPBOT_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if repo.exists() {
        return repo;
    }
    venv().join("bin/moto_server")
}

fn write_tls_files(dir: &Path) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "otpbot bench CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params")
        .signed_by(&key, &issuer)
        .expect("server cert");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write key");
    let mut bundle = std::fs::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
    bundle.push_str(&ca_cert.pem());
    let path = dir.join("bundle.pem");
    std::fs::write(&path, bundle).expect("write bundle");
    path
}

impl Emulator {
    /// Starts the emulator on a free port behind a certificate made now.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tls dir");
        let bundle = write_tls_files(dir.path());
        let recording = dir.path().join("recording.jsonl");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .arg("--ssl-cert")
            .arg(dir.path().join("server.pem"))
            .arg("--ssl-key")
            .arg(dir.path().join("server.key"))
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server (see scripts/test.sh for .venv)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            url: format!("https://127.0.0.1:{port}"),
            bundle,
            recording,
            child,
            _dir: dir,
        }
    }

    /// Starts (after clearing) or stops the emulator's request recording.
    pub async fn record(&self, client: &reqwest::Client, on: bool) {
        let steps: &[&str] = if on {
            &["reset-recording", "start-recording"]
        } else {
            &["stop-recording"]
        };
        for step in steps {
            client
                .post(format!("{}/moto-api/recorder/{step}", self.url))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .expect("recorder");
        }
    }

    /// The targets (`X-Amz-Target`, e.g. `AmazonSSM.GetParameters`) of the recorded requests.
    pub fn recorded_targets(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|request| {
                let headers = request.get("headers")?.as_object()?;
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned))
            })
            .collect()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
