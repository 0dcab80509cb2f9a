//! otpbot hands out TOTP codes for shared company accounts to the people allowed to have them,
//! through Slack slash commands, and records every decision in an append-only audit log.
//!
//! Layout (outside in):
//!
//! - [`http`]: the one `axum::Router` served locally and on Lambda; [`slack`] verifies and
//!   translates Slack slash commands and renders Block Kit replies, and takes the same requests
//!   over a Socket Mode WebSocket ([`slack::socket`]); [`teams`] does the same for
//!   Bot Framework activities and answers through the Bot Connector, in personal chats only.
//! - [`engine`]: the [`engine::Engine`] every front end calls: it admits a request (replay,
//!   per-caller limit), runs its command and audits refusals and failures.
//! - [`command`]: parses the command text into a [`command::Command`] (one file per command) and
//!   applies it against [`command::Core`] (stores, clock, audit key, [`command::Policy`]) through
//!   the request's [`command::Ctx`]: who may do what, rate limits, audit before reveal. It never
//!   imports the engine or a front end.
//! - [`domain`]: checked types (tool names, principals, durations, seeds, codes, audit events) and
//!   the injected [`domain::Clock`].
//! - [`store`]: one small trait per storage role and the backends ([`store::local`]: SQLite;
//!   [`store::aws`]: DynamoDB and SSM Parameter Store). Every request ends in one
//!   [`store::Decision`] that the backend commits in one transaction with its audit record.
//! - [`server`]: the front door of `otpbot serve` (timeouts, size and connection caps,
//!   graceful shutdown).
//! - [`keys`]: secret key material. [`config`], [`telemetry`], [`cli`]: settings, logging, CLI.
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
