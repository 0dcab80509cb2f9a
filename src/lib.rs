//! otpbot hands out TOTP codes for shared company accounts to the people allowed to have them,
//! through Slack and Microsoft Teams, and records every decision in an append-only audit log.
//!
//! Layout, top to bottom; each module names only those below it (`tests/layering.rs`):
//!
//! - [`cli`]: parses the command line and calls into the library.
//! - [`startup`]: settings → stores, clients and keys → one [`startup::AppState`] → the one
//!   [`startup::router`] served by `otpbot serve`, the Lambda entry ([`startup::lambda`]) and
//!   the tests; the audit checkpoints `serve` publishes.
//! - [`server`]: the front door of `otpbot serve` (timeouts, size and connection caps,
//!   graceful shutdown); [`telemetry`]: logging; [`config`]: every setting, declared once.
//! - [`slack`], [`teams`]: the front ends. Each verifies its platform's arrivals (Slack also
//!   over a Socket Mode WebSocket, [`slack::socket`]), turns them into the engine's
//!   platform-neutral request, renders replies and delivers what follows them.
//! - [`front`]: the contract every front end implements ([`front::Incoming`] in,
//!   [`front::Deliver`] out) and what front ends share.
//! - [`engine`]: the [`engine::Engine`] every front end calls: it admits a request (replay,
//!   per-caller limit), runs its command under one deadline, and audits refusals and failures.
//! - [`command`]: parses the command text into a [`command::Command`] (one file per command)
//!   and applies it in the request's [`command::Ctx`]: who may do what, rate limits, audit
//!   before reveal; a decision's consequences travel in its [`reply::Reply`].
//! - [`reply`]: platform-neutral replies, typed buttons and follow-ups.
//! - [`store`]: one small trait per storage role and the backends ([`store::local`]: SQLite;
//!   [`store::aws`]: DynamoDB and SSM Parameter Store). Every request ends in one
//!   [`store::Decision`] that the backend commits in one transaction with its audit record.
//! - [`audit`]: the audit log's format and checks (chain, seals, signed checkpoints).
//! - [`keys`]: secret key material. [`domain`]: checked types and the injected
//!   [`domain::Clock`].
//!
//! Never: a seed or a code in a log line, an audit record, an error message or a `Debug` output.

pub mod audit;
pub mod cli;
pub mod command;
pub mod config;
pub mod domain;
pub mod engine;
pub mod front;
pub mod keys;
pub mod reply;
pub mod server;
pub mod slack;
pub mod startup;
pub mod store;
pub mod teams;
pub mod telemetry;
