//! Start-up, in one place: settings → stores, clients and keys → one application state →
//! the router. `otpbot serve`, the Lambda entry and the tests all build the application here;
//! the command line only parses arguments and calls in.
//!
//! - [`App`] (`app.rs`): the configured backend opened (the local store with its key files, or
//!   DynamoDB and SSM) and the engine built on it; the deployment's secrets ([`SecretName`],
//!   `secrets.rs`) and each chat platform's settings and clients (`platforms.rs`) read from it
//!   once.
//! - [`AppState`] (`state.rs`): the engine, each platform's settings and the follow-ups still
//!   running, handed to the front ends as sub-states; [`router`] mounts the front ends on it.
//! - [`serve`] (`serve.rs`, `socket_mode.rs`, `listen.rs`): `otpbot serve`, over HTTP and with
//!   Slack's Socket Mode; [`lambda`]: the Lambda entry. Both publish signed audit checkpoints
//!   ([`checkpoints`]).
//! - [`sweep_once`], [`sweep_every`] (`sweep.rs`): the sweep (reminders, expired requests,
//!   grant expiry warnings), on `serve`'s schedule, a scheduled Lambda invocation, or
//!   `otpbot sweep`.

mod app;
pub mod checkpoints;
pub mod lambda;
mod listen;
#[cfg(feature = "local")]
pub mod local;
mod platforms;
mod router;
mod secrets;
mod serve;
mod socket_mode;
mod state;
mod sweep;

pub use self::app::{aws_audit_key, aws_config, no_local_store, App, Patience};
pub use self::listen::{bind, serve_on, Banner};
pub use self::platforms::{web_api_from_env, HTTPS_SETUP};
pub use self::router::router;
pub use self::secrets::SecretName;
pub use self::serve::serve;
pub use self::state::{outbox, AppState};
pub use self::sweep::{sweep_every, sweep_once, SweepReport};
