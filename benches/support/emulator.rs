//! The DynamoDB and SSM emulator (`moto_server`) behind TLS, as AWS is: a certificate authority
//! made for the run issues the certificate of a TLS front the bench serves before the emulator,
//! and clients trust it through a bundle of the system's CA certificates plus that one
//! (`SSL_CERT_FILE` for otpbot, whose HTTPS clients load the platform roots, as on Lambda;
//! `AWS_CA_BUNDLE` for boto3).
//!
//! Why a front rather than `moto_server --ssl-cert`: the emulator's web server (Werkzeug's)
//! answers every request with `Connection: close`, and under TLS 1.3 its answer then waits about
//! 10 ms for the server to close the socket (measured with curl against `moto_server --ssl-cert`:
//! 14 ms to the first byte over TLS 1.3, 4 ms over TLS 1.2, 2 ms over plain HTTP). AWS endpoints
//! keep connections alive, and the SDKs reuse them (HTTP/1.1 persistent connections, RFC 9112
//! §9.3; "Reuse connections with HTTP keep-alive", the AWS SDK developer guides), so a handshake
//! is paid once per connection, not per call. The front does what such an endpoint does: TLS
//! (rustls), HTTP/1.1 keep-alive, `TCP_NODELAY`; it hands each request on to the emulator over
//! plain HTTP on loopback.
//!
//! Each service has its own host, as on AWS (`ssm.{region}.amazonaws.com`,
//! `dynamodb.{region}.amazonaws.com`): SSM and the rest at `https://127.0.0.1:{port}`,
//! DynamoDB at `https://127.0.0.2:{port}` (`AWS_ENDPOINT_URL_DYNAMODB`, the SDKs'
//! service-specific endpoint:
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>), so a client
//! opens one connection per service and does not queue one service's first call behind the
//! other's. The front counts the TLS handshakes it accepts.
#![allow(dead_code)]

use std::future::IntoFuture;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The system bundle the run's CA is added to (Debian's path; Amazon Linux has its own).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A running `moto_server` behind its TLS front; stopped when dropped.
pub struct Emulator {
    /// The front for SSM and every service but DynamoDB: `https://127.0.0.1:{port}`.
    pub url: String,
    /// The front for DynamoDB: `https://127.0.0.2:{port}`.
    pub dynamodb_url: String,
    /// The emulator itself, plain HTTP on loopback: its control API (the recorder).
    control: String,
    /// TLS handshakes the fronts have accepted.
    handshakes: Arc<AtomicUsize>,
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

/// Makes the run's CA and the fronts' certificate; writes the bundle clients trust and returns
/// its path with the fronts' acceptor.
fn write_tls_files(dir: &Path) -> (PathBuf, tokio_rustls::TlsAcceptor) {
    let ca = crate::common::tls::TestCa::for_names(&["127.0.0.1", "127.0.0.2"]);
    let mut bundle = std::fs::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
    bundle.push_str(&ca.ca_pem);
    let path = dir.join("bundle.pem");
    std::fs::write(&path, bundle).expect("write bundle");
    (path, ca.acceptor)
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A TLS listener that counts handshakes and sets `TCP_NODELAY`, as a service endpoint does.
struct Front {
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handshakes: Arc<AtomicUsize>,
}

impl axum::serve::Listener for Front {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let handshake = self.acceptor.accept(tcp);
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), handshake).await {
                self.handshakes.fetch_add(1, Ordering::Relaxed);
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Hands a request on to the emulator at `control` and its answer back, minus the headers
/// that belong to one connection (RFC 9110 §7.6.1).
async fn forward(
    axum::extract::State((http, control)): axum::extract::State<(reqwest::Client, Arc<str>)>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    for name in [HOST, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING] {
        headers.remove(name);
    }
    let answer = http
        .request(parts.method, format!("{control}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match answer {
        Ok(answer) => {
            let status = answer.status();
            let mut headers = answer.headers().clone();
            for name in [CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING] {
                headers.remove(name);
            }
            let body = answer.bytes().await.unwrap_or_default();
            (status, headers, body).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// Serves the fronts on a thread of their own, one per `(ip, port)`, each handing its requests
/// to the emulator at `control`.
fn serve_fronts(
    acceptor: tokio_rustls::TlsAcceptor,
    fronts: Vec<(&'static str, u16)>,
    control: String,
    handshakes: Arc<AtomicUsize>,
) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("front runtime");
        runtime.block_on(async move {
            // The emulator closes every connection after its answer: nothing to keep idle.
            let http = otpbot::front::client_builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client");
            let app = axum::Router::new()
                .fallback(forward)
                .with_state((http, Arc::<str>::from(control)));
            let mut served = Vec::new();
            for (ip, port) in fronts {
                let listener = tokio::net::TcpListener::bind((ip, port))
                    .await
                    .expect("bind the front");
                let front = Front {
                    listener,
                    acceptor: acceptor.clone(),
                    handshakes: handshakes.clone(),
                };
                served.push(tokio::spawn(axum::serve(front, app.clone()).into_future()));
            }
            let _ = ready_tx.send(());
            for front in served {
                let _ = front.await;
            }
        });
    });
    ready_rx.recv().expect("fronts started");
}

impl Emulator {
    /// Starts the emulator on a free loopback port, and its TLS fronts behind a certificate
    /// made now.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tls dir");
        let (bundle, tls) = write_tls_files(dir.path());
        let recording = dir.path().join("recording.jsonl");
        let port = free_port("127.0.0.1");
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
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
        let control = format!("http://127.0.0.1:{port}");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let (front, dynamodb) = (free_port("127.0.0.1"), free_port("127.0.0.2"));
        serve_fronts(
            tls,
            vec![("127.0.0.1", front), ("127.0.0.2", dynamodb)],
            control.clone(),
            handshakes.clone(),
        );
        Self {
            url: format!("https://127.0.0.1:{front}"),
            dynamodb_url: format!("https://127.0.0.2:{dynamodb}"),
            control,
            handshakes,
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
                .post(format!("{}/moto-api/recorder/{step}", self.control))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .expect("recorder");
        }
    }

    /// TLS handshakes the fronts have accepted so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::Relaxed)
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
