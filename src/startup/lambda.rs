//! The Lambda entry point, and the internal extension that lets follow-ups finish.
//!
//! HTTP events (API Gateway, function URL) go to the same router as `otpbot serve` through
//! `lambda_http`'s adapter; EventBridge's scheduled event from the sweep's rule runs one sweep
//! ([`is_sweep_event`]), and from the sealing rule seals the closed audit periods. The
//! function has no command line: its settings come from its environment alone (the Terraform
//! module sets them), read through the same declarations as `otpbot serve`'s.
//!
//! Follow-ups (notices, a click's answer, an approval message updated) go out after the
//! answer, on tasks counted in [`Background`]. Lambda freezes the execution environment once
//! the invocation is over, and a frozen task waits, perhaps for good ("Running code after
//! returning a response from an AWS Lambda function", AWS Compute Blog:
//! <https://aws.amazon.com/blogs/compute/running-code-after-returning-a-response-from-an-aws-lambda-function/>).
//! The invocation is over only when the runtime has sent its response *and* every registered
//! extension has asked for its next event (Lambda Extensions API, "Invoke phase":
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html>). So otpbot
//! registers an internal extension at init (`POST /2020-01-01/extension/register` with the
//! `Lambda-Extension-Name` header and `{"events": ["INVOKE"]}`, answered with a
//! `Lambda-Extension-Identifier` header; internal extensions take INVOKE events only) and, for
//! each INVOKE event from `GET /2020-01-01/extension/event/next`, asks for the next one only
//! once the invocation's handler has returned and the follow-ups it started have ended, or
//! shortly before the invocation's `deadlineMs`. The response reaches Slack as soon as the
//! runtime sends it; the extension only keeps the environment awake behind it.
//!
//! The two calls are made with reqwest, already in the tree, rather than the `lambda-extension`
//! crate, which brings `chrono` (and its time-zone crates) for its Logs and Telemetry APIs,
//! none of which otpbot uses. No IAM permission is needed: the Extensions API is local.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Deserialize;
use tokio::sync::watch;

use super::app::{App, Patience};
use super::checkpoints::{Publisher, Sealer};
use super::router::router;
use crate::config::Settings;
use crate::engine::Engine;
use crate::front::{client_builder, Background};

/// The extension's name, unique within the function.
const EXTENSION_NAME: &str = "otpbot-follow-ups";

/// Time left before an invocation's deadline when the extension stops waiting.
const MARGIN: Duration = Duration::from_millis(500);

/// Whether a Lambda event is EventBridge's scheduled event, whose shape is
/// `{"version": "0", "id": …, "detail-type": "Scheduled Event", "source": "aws.events",
/// "account": …, "time": …, "region": …, "resources": [rule ARN], "detail": {}}`
/// (<https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html>, and the
/// `example-eventbridge-schedule.json` fixture of the official Rust runtime's
/// `aws_lambda_events` crate).
pub fn is_scheduled_event(event: &serde_json::Value) -> bool {
    event.get("source").and_then(|v| v.as_str()) == Some("aws.events")
        && event.get("detail-type").and_then(|v| v.as_str()) == Some("Scheduled Event")
}

/// Whether a scheduled event comes from the sweep's own rule: the rule's ARN in `resources`
/// (`arn:aws:events:{region}:{account}:rule/{name}`, or `rule/{bus}/{name}` on a custom bus)
/// names a rule ending in `-sweep`, as `terraform/` names it (`{name}-sweep`); every other
/// scheduled event (the `{name}-seal-audit` rule) seals.
pub fn is_sweep_event(event: &serde_json::Value) -> bool {
    is_scheduled_event(event)
        && event["resources"].as_array().is_some_and(|resources| {
            resources.iter().filter_map(|r| r.as_str()).any(|arn| {
                arn.starts_with("arn:")
                    && arn
                        .split_once(":rule/")
                        .and_then(|(_, rule)| rule.rsplit('/').next())
                        .is_some_and(|name| name.ends_with("-sweep"))
            })
        })
}

/// The Lambda entry point (see the module documentation).
pub async fn lambda() -> anyhow::Result<()> {
    let mut settings = Settings::from_env().context("invalid configuration")?;
    crate::telemetry::init(&settings.log_filter, settings.log_format);
    for var in &settings.unknown {
        tracing::warn!(variable = %var, "unknown OTPBOT_ variable ignored; check for a typo");
    }
    let policy = settings.policy();
    let app = App::open(&mut settings, policy, Patience::Chat).await?;
    let sealer = match (&app.aws, &app.sdk) {
        (Some(store), Some(sdk)) => Some((store.clone(), sdk.clone())),
        _ => None,
    };
    let checkpoints = app.checkpoints.clone();
    let state = app.into_state(&settings).await?;
    let sealer = sealer.map(|(store, sdk)| {
        let publisher = Publisher::new(checkpoints, &settings, state.outbox());
        std::sync::Arc::new(Sealer::new(store, &sdk, &settings, publisher))
    });
    let background = state.background.clone();
    let outbox = state.outbox();
    // Registered before the runtime asks for its first event: that ends the init phase.
    let (finished, handled) = watch::channel(0u64);
    match Extension::register().await {
        Ok(extension) => {
            tokio::spawn(extension.hold(background, handled));
        }
        Err(e) => tracing::warn!(
            error = %e,
            "no Lambda extension: follow-ups may wait for the next invocation"
        ),
    }
    let handler = Handler {
        engine: state.engine.clone(),
        adapter: lambda_http::Adapter::from(router(state)),
        sealer,
        outbox,
        finished,
    };
    tracing::info!(backend = ?settings.backend, "otpbot Lambda handler ready");
    lambda_http::lambda_runtime::run(lambda_http::lambda_runtime::service_fn(move |event| {
        handler.clone().handle(event)
    }))
    .await
    .map_err(|e| anyhow::anyhow!("Lambda runtime failed: {e}"))
}

/// What one invocation needs.
#[derive(Clone)]
struct Handler {
    engine: std::sync::Arc<Engine>,
    adapter: lambda_http::Adapter<'static, axum::response::Response, axum::Router>,
    /// Seals closed audit periods, each with its signed checkpoint (AWS backend).
    sealer: Option<std::sync::Arc<Sealer>>,
    /// Where the sweep's messages go.
    outbox: crate::front::Outbox,
    /// Counts invocations whose handler has returned (their follow-ups are all started).
    finished: watch::Sender<u64>,
}

type Event = lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>;
type Outcome = Result<serde_json::Value, lambda_http::lambda_runtime::Error>;

impl Handler {
    /// Runs one invocation, then counts it as finished for the extension.
    async fn handle(mut self, event: Event) -> Outcome {
        let outcome = self.invocation(event).await;
        self.finished.send_modify(|n| *n += 1);
        outcome
    }

    async fn invocation(&mut self, event: Event) -> Outcome {
        use lambda_http::lambda_runtime::{Error, LambdaEvent};
        use lambda_http::Service;
        let LambdaEvent { payload, context } = event;
        if is_sweep_event(&payload) {
            return self.sweep().await;
        }
        if is_scheduled_event(&payload) {
            return self.seal_periods().await;
        }
        let request: lambda_http::request::LambdaRequest = serde_json::from_value(payload)
            .map_err(|e| Error::from(format!("unrecognised event: {e}")))?;
        let response = match self.adapter.call(LambdaEvent::new(request, context)).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        Ok(serde_json::to_value(response)?)
    }

    /// One sweep (the sweep's own EventBridge schedule), its messages sent before it returns.
    async fn sweep(&self) -> Outcome {
        use lambda_http::lambda_runtime::Error;
        let report = super::sweep::sweep_once(&self.engine, &self.outbox)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "sweep failed");
                Error::from(format!("sweep failed: {e}"))
            })?;
        Ok(serde_json::json!({ "swept": report }))
    }

    /// Seals the closed audit periods (EventBridge's schedule).
    async fn seal_periods(&self) -> Outcome {
        use lambda_http::lambda_runtime::Error;
        let Some(sealer) = &self.sealer else {
            return Err(Error::from("sealing needs the AWS backend"));
        };
        let sealed = sealer
            .run(self.engine.audit_key(), self.engine.clock().now())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "sealing audit periods failed");
                Error::from(format!("sealing failed: {e}"))
            })?;
        Ok(serde_json::json!({ "sealed": sealed }))
    }
}

/// An event from `GET /2020-01-01/extension/event/next`: `eventType` (`INVOKE`) and
/// `deadlineMs`, the invocation's deadline in Unix milliseconds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NextEvent {
    event_type: String,
    deadline_ms: u64,
}

/// The internal extension, registered with the Extensions API.
struct Extension {
    http: reqwest::Client,
    base: String,
    id: String,
}

impl Extension {
    /// Registers for INVOKE events with the Extensions API at `AWS_LAMBDA_RUNTIME_API`.
    async fn register() -> anyhow::Result<Self> {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API").context("AWS_LAMBDA_RUNTIME_API")?;
        let base = format!("http://{api}/2020-01-01/extension");
        // No timeout: `event/next` waits for the next invocation, however far off. The API
        // is plain HTTP on the sandbox's loopback, so no CA certificates are loaded for it
        // (that load costs a cold start a millisecond or two).
        let http = client_builder().tls_built_in_root_certs(false).build()?;
        let response = http
            .post(format!("{base}/register"))
            .header("Lambda-Extension-Name", EXTENSION_NAME)
            .json(&serde_json::json!({ "events": ["INVOKE"] }))
            .send()
            .await
            .context("registering the extension")?
            .error_for_status()
            .context("registering the extension")?;
        let id = response
            .headers()
            .get("Lambda-Extension-Identifier")
            .and_then(|v| v.to_str().ok())
            .context("the registration answered no extension identifier")?
            .to_owned();
        Ok(Self { http, base, id })
    }

    async fn next(&self) -> anyhow::Result<NextEvent> {
        let response = self
            .http
            .get(format!("{}/event/next", self.base))
            .header("Lambda-Extension-Identifier", &self.id)
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }

    /// For each invocation: waits until its handler has returned (`handled` counts them) and
    /// the follow-ups have ended, or shortly before its deadline, then asks for the next.
    async fn hold(self, background: Background, mut handled: watch::Receiver<u64>) {
        let mut invocations = 0u64;
        loop {
            // Lambda waits for every registered extension before it starts or ends an
            // invocation, so a failed call is tried again rather than given up.
            let event = match self.next().await {
                Ok(event) => event,
                Err(e) => {
                    tracing::error!(error = %e, "the Lambda extension's next event failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if event.event_type != "INVOKE" {
                continue;
            }
            invocations += 1;
            let wait = async {
                let _ = handled.wait_for(|n| *n >= invocations).await;
                background.idle().await;
            };
            if tokio::time::timeout(until(event.deadline_ms), wait)
                .await
                .is_err()
            {
                tracing::warn!(
                    running = background.running(),
                    "follow-ups not done before the invocation's deadline; they go on when \
                     the environment next runs"
                );
            }
        }
    }
}

/// The time left until `deadline_ms` (Unix milliseconds), less [`MARGIN`].
fn until(deadline_ms: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Duration::from_millis(deadline_ms.saturating_sub(now)).saturating_sub(MARGIN)
}
