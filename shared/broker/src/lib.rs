//! The `mq` MQTT broker: MQTT 3.1, 3.1.1 and 5.0, configured with mosquitto.conf files.
//!
//! # Layout
//! - [`cli`]: `mq broker` arguments; [`setup`]: configuration, security files, privileges.
//! - [`server`]: the process ([`run`]) or an in-process broker ([`start`]): listeners, sweeps, shutdown.
//! - [`listener`]: binding and accepting; [`connection`]: one task per client, ended while the client
//!   idles ([`park`], [`kick`]); [`stream`]: the byte streams under a connection, with the [`tls`] and
//!   [`ws`] (WebSocket) layers.
//! - [`broker`]: shared state (sessions, subscriptions, retained messages) and routing.
//! - [`session`], [`inflight`], [`subs`], [`retain`], [`message`]: the state's parts; [`durable`]:
//!   where changes a restart must restore are reported.
//! - [`auth`], [`acl`], [`access`]: authentication and authorisation; [`sys`]: the `$SYS` tree;
//!   [`log`]: logging; [`metrics`]: the Prometheus endpoint.
//!
//! # The path of a PUBLISH
//! The publisher's connection task decodes it (`mq-proto`), stores it if retained, collects the matching
//! sessions from the subscription trie under a read lock, and pushes one [`message::Delivery`] (a
//! reference to the shared message) into each session's queue, waking that session's connection task.
//! That task moves deliveries into its output buffer within the client's in-flight window, encodes the
//! PUBLISH header per subscriber and writes the shared payload with vectored writes. Each hop is FIFO,
//! so messages from one publisher keep their order. A large PUBLISH is read into pieces of its own and
//! routed once complete.

pub mod access;
pub mod acl;
pub mod auth;
pub mod bridge;
pub mod broker;
pub mod cli;
pub mod connection;
pub mod db;
pub mod durable;
pub mod inflight;
pub mod kick;
pub mod listener;
#[macro_use]
pub mod log;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod outbuf;
pub mod park;
pub mod persist;
pub mod retain;
pub mod server;
pub mod session;
pub mod settings;
pub mod setup;
pub mod stats;
pub mod stream;
pub mod subs;
pub mod sys;
pub mod tls;
pub mod ws;

use std::path::PathBuf;

use mq_config::{ConfigError, ConfigErrors};

pub use cli::BrokerArgs;
pub use server::{Control, Running, run, start};

/// Why the broker could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The configuration file has errors (each `path:line: why`).
    #[error("{0}")]
    Config(ConfigErrors),
    /// The configuration asks for features not built yet.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Unsupported(Vec<ConfigError>),
    /// A listener could not be opened.
    #[error(transparent)]
    Bind(#[from] listener::BindError),
    /// The metrics listener could not be opened; `at` is its `metrics_listener` line.
    #[error("{}metrics_listener: {source}", at.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
    Metrics { at: Option<mq_config::Span>, source: listener::BindError },
    /// The log file could not be opened.
    #[error(transparent)]
    Log(#[from] log::LogError),
    /// A password or ACL file could not be read or parsed; `at` is the configuration line naming it.
    #[error("{}{source}", at.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
    Security { at: Option<mq_config::Span>, source: auth::SecurityError },
    /// The pid file could not be written.
    #[error("unable to write pid file {path}: {source}")]
    PidFile { path: PathBuf, source: std::io::Error },
    /// Dropping privileges failed.
    #[error("unable to drop privileges to user {user}: {why}")]
    User { user: String, why: String },
    /// Daemonising failed.
    #[error("unable to run in the background: {0}")]
    Daemon(nix::Error),
    /// The async runtime could not start.
    #[error("unable to start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The persistent store could not be opened.
    #[error(transparent)]
    Store(#[from] mq_store::StoreError),
    /// A TLS listener's certificate, key or CA files could not be used; `at` is its `listener` line.
    #[error("{}{source}", at.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
    Tls { at: Option<mq_config::Span>, source: tls::TlsError },
}

/// What `mq broker` prints when it cannot run, and its exit status (Mosquitto exits 3 on configuration
/// errors, 1 otherwise); each configuration error is on a line of its own.
impl mq_cli::Report for BrokerError {
    type Context = ();

    fn failure(&self, _: &()) -> mq_cli::Failure {
        let code = match self {
            BrokerError::Config(_) | BrokerError::Unsupported(_) => 3,
            _ => 1,
        };
        mq_cli::Failure::text(code, &format!("Error: {self}"))
    }
}
