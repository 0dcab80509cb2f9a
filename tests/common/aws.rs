//! A real local emulator of DynamoDB and SSM (`moto_server`, installed by `scripts/test.sh` into
//! `.venv`), started by the tests on a free port and stopped when they end.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use otpbot::store::aws::{AwsSettings, AwsStore};
use otpbot::store::Stores;

/// A running `moto_server`. Dropping it stops it; a watchdog also stops it if the test process
/// dies first.
pub struct Moto {
    pub url: String,
    pub port: u16,
    child: Child,
}

fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OTPBOT_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    panic!(
        "moto_server not found at {}: the AWS tests need the DynamoDB/SSM emulator. Run ./scripts/test.sh \
         (it installs requirements-dev.txt into .venv), or set OTPBOT_MOTO_SERVER to a moto_server binary.",
        venv.display()
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Runs `moto_server` with its HTTP server single-threaded. Threaded, moto checks a condition
/// and writes the item without a lock between them, so two concurrent conditional writes to one
/// item can both succeed, which DynamoDB never allows (conditional writes and transactions are
/// serializable: <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation>).
/// One request at a time restores that guarantee, so concurrency tests judge otpbot, not the
/// emulator. Single-threaded, the server also speaks HTTP/1.0 and closes each connection.
const SERIAL_MOTO: &str = r#"
import sys
import moto.server as server
threaded_run = server.run_simple
def run_serially(*args, **kwargs):
    kwargs["threaded"] = False
    threaded_run(*args, **kwargs)
server.run_simple = run_serially
server.main(sys.argv[1:])
"#;

impl Moto {
    /// Starts a fresh emulator and waits until it accepts connections.
    pub fn start() -> Self {
        let binary = moto_binary();
        let python = binary.with_file_name("python");
        let port = free_port();
        // The shell stops moto when this test process is gone, even if it is killed.
        let script = r#"parent=$1; shift; "$@" & child=$!; trap 'kill $child 2>/dev/null; exit 0' TERM INT EXIT;
            while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done"#;
        let child = Command::new("sh")
            .args(["-c", script, "sh", &std::process::id().to_string()])
            .args(if python.exists() {
                vec![python.into_os_string(), "-c".into(), SERIAL_MOTO.into()]
            } else {
                vec![binary.clone().into_os_string()]
            })
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let moto = Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// One emulator shared by all tests of a test binary; each test uses its own tables.
    pub fn shared() -> Arc<Moto> {
        static SHARED: OnceLock<Arc<Moto>> = OnceLock::new();
        SHARED.get_or_init(|| Arc::new(Moto::start())).clone()
    }

    /// Stops the emulator now (for fault tests).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// AWS SDK configuration pointing at this emulator with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.url).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// AWS SDK configuration for `url` (an emulator or a closed port).
pub async fn sdk_config(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

/// Settings with table names and an SSM prefix no other test uses.
pub fn unique_settings() -> AwsSettings {
    let tag = format!("{:016x}", rand::random::<u64>());
    AwsSettings {
        access_table: format!("access-{tag}"),
        audit_table: format!("audit-{tag}"),
        ssm_prefix: format!("/otpbot-test/{tag}"),
        kms_key_id: None,
        seed_cache_ttl: Duration::from_secs(60),
    }
}

/// A fresh AWS store on `moto` with its own tables, created from the Terraform definitions, so
/// a drift between Terraform and the code fails the AWS tests.
pub async fn store_on(moto: &Moto, settings: AwsSettings) -> Arc<AwsStore> {
    let store = Arc::new(AwsStore::new(&moto.sdk_config().await, settings));
    super::terraform::create_table(store.dynamodb(), "access", &store.settings().access_table)
        .await;
    super::terraform::create_table(store.dynamodb(), "audit", &store.settings().audit_table).await;
    store
}

/// A fresh, empty AWS backend on the shared emulator (for the conformance suite).
pub async fn stores() -> (Stores, Arc<Moto>) {
    let moto = Moto::shared();
    let store = store_on(&moto, unique_settings()).await;
    (Stores::single(store), moto)
}

/// Records the target (`X-Amz-Target`, e.g. `DynamoDB_20120810.BatchGetItem`) of every HTTP
/// request an SDK client sends, retries included: the round trips a request costs.
#[derive(Clone, Debug, Default)]
pub struct CallLog(Arc<std::sync::Mutex<Vec<String>>>);

impl CallLog {
    /// The targets sent so far, oldest first, and forgets them.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("call log"))
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("(no target)")
            .to_owned();
        self.0.lock().expect("call log").push(target);
        Ok(())
    }
}

/// A fresh AWS store on `moto` whose DynamoDB and SSM clients record every call in `log`.
pub async fn counted_store_on(moto: &Moto, settings: AwsSettings, log: &CallLog) -> Arc<AwsStore> {
    let store = counted_store_over(moto, settings, log).await;
    super::terraform::create_table(store.dynamodb(), "access", &store.settings().access_table)
        .await;
    super::terraform::create_table(store.dynamodb(), "audit", &store.settings().audit_table).await;
    log.take();
    store
}

/// Another process's store over the tables of `settings`, which exist: its caches empty, its
/// calls counted in `log`.
pub async fn counted_store_over(
    moto: &Moto,
    settings: AwsSettings,
    log: &CallLog,
) -> Arc<AwsStore> {
    let config = moto.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    Arc::new(AwsStore::with_clients(ddb, ssm, settings))
}

/// Writes the SecureString parameter `name` (a secret the binary reads at start-up).
pub async fn put_secret(store: &AwsStore, name: String, value: &str) {
    store
        .ssm()
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter");
}

/// A TCP relay in front of the emulator that can stop answering, as a DynamoDB endpoint behind
/// a black-holed route does: once silent, connections are accepted and held open, everything
/// sent is read and dropped, and nothing is ever answered or passed on.
pub struct Relay {
    /// The relay's URL, to point an SDK at.
    pub url: String,
    silent: Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    /// Relays `127.0.0.1:{port}` until [`Relay::go_silent`].
    pub async fn start(port: u16) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let quiet = silent.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let quiet = quiet.clone();
                tokio::spawn(async move {
                    if !quiet.load(Ordering::SeqCst) {
                        if let Ok(mut upstream) =
                            tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                        {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                        return;
                    }
                    let _ = tokio::io::copy(&mut client, &mut tokio::io::sink()).await;
                });
            }
        });
        Self { url, silent }
    }

    /// From now on nothing is answered.
    pub fn go_silent(&self) {
        self.silent.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
