//! `mq db`: the persistent store for operators. `stats` (what it holds), `check` (whether every file
//! reads to its end), `dump` (everything as JSON lines), `compact` (fold the journals into a base while
//! no broker uses the store), `import` (a Mosquitto persistence file's state into the store:
//! [`import`], [`mosquitto`]).
//!
//! The store is named by a broker configuration (`-c mq.conf`: its `persistence_location` and
//! `persistence_file`) or directly (`--store DIR`). `stats`, `check` and `dump` only read, and may run
//! beside a broker (the segment it is writing may end in a record still being written).

use std::io::Write;
use std::path::{Path, PathBuf};

use mq_store::State;
use serde_json::{Value, json};

pub mod import;
pub mod mosquitto;

/// Inspect, check, dump or compact mq's persistent store, or import a Mosquitto persistence file into
/// it.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "mq db", version, long_about = None)]
pub struct DbArgs {
    #[command(subcommand)]
    pub action: DbAction,
    /// The broker configuration naming the store (persistence_location, persistence_file).
    #[arg(short = 'c', long = "config-file", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The store directory itself (`<persistence_location>/<persistence_file>.mq`).
    #[arg(long = "store", value_name = "DIR", global = true, conflicts_with = "config")]
    pub store: Option<PathBuf>,
}

/// What to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DbAction {
    /// Print what the store holds.
    Stats,
    /// Read every file to its end; exit 1 if any is damaged.
    Check,
    /// Print every retained message and session as JSON lines.
    Dump,
    /// Fold the journals into a base (the broker must not be running).
    Compact,
    /// Copy a Mosquitto persistence file (mosquitto.db) into the store (the broker must not be running).
    ///
    /// Retained messages, persistent sessions with their subscriptions, queued and in-flight messages
    /// are imported; what is left out is said. A store that holds state already is refused (see
    /// --merge).
    Import {
        /// The Mosquitto persistence file (format version 6 of Mosquitto 2.0, or 5 of Mosquitto 1.6);
        /// with -c, the one its persistence_location and persistence_file name by default.
        #[arg(value_name = "MOSQUITTO_DB")]
        file: Option<PathBuf>,
        /// Import into a store that holds state already: a retained topic or a session the file also
        /// has is replaced by the file's, the rest is kept.
        #[arg(long)]
        merge: bool,
    },
}

/// Why `mq db` failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Config(mq_config::ConfigErrors),
    #[error("name the store: -c mq.conf or --store DIR")]
    NoStore,
    #[error("{0} is not a store directory (it has no sessions/ or retained/)")]
    NotAStore(PathBuf),
    #[error(transparent)]
    Store(#[from] mq_store::StoreError),
    #[error("{0}")]
    Compact(String),
    #[error("the store is damaged")]
    Damaged,
    #[error("name the Mosquitto file: mq db import --store DIR <mosquitto.db> (or -c mq.conf, which names it)")]
    NoFile,
    #[error("unable to read {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("{path}: {why}")]
    Mosquitto { path: PathBuf, why: mosquitto::FileError },
    #[error("unable to give {path} to the broker's user: {source}")]
    Owner { path: PathBuf, source: std::io::Error },
    #[error("the store {0} holds state already; import into an empty store, or add --merge to import on top of it")]
    NotEmpty(PathBuf),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The exit status: 3 for configuration errors (as the broker's), 1 otherwise (damage included).
impl mq_cli::Report for DbError {
    type Context = ();

    fn failure(&self, _: &()) -> mq_cli::Failure {
        let code = match self {
            DbError::Config(_) => 3,
            _ => 1,
        };
        mq_cli::Failure::text(code, &format!("Error: {self}"))
    }
}

/// Runs `mq db`, writing to `out` (and warnings to stderr).
pub fn run(args: DbArgs, out: &mut dyn Write) -> Result<(), DbError> {
    run_with(args, out, &mut std::io::stderr().lock())
}

/// Runs `mq db`, writing to `out` and warnings to `err`.
pub fn run_with(args: DbArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), DbError> {
    let cfg = match (&args.store, &args.config) {
        (None, Some(c)) => Some(mq_config::load(c).map_err(DbError::Config)?.0),
        _ => None,
    };
    let dir = match (&args.store, &cfg) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => c.persistence.store_dir(),
        (None, None) => return Err(DbError::NoStore),
    };
    if let DbAction::Import { file, merge } = &args.action {
        return import::run(&dir, file.as_deref(), *merge, cfg.as_ref(), out, err);
    }
    if !dir.join("sessions").is_dir() && !dir.join("retained").is_dir() {
        return Err(DbError::NotAStore(dir));
    }
    match args.action {
        DbAction::Stats => stats(&dir, out),
        DbAction::Check => check(&dir, out),
        DbAction::Dump => dump(&dir, out),
        DbAction::Compact => compact(&dir, out),
        DbAction::Import { .. } => Ok(()),
    }
}

fn parts(dir: &Path) -> [(&'static str, PathBuf); 2] {
    [("sessions", dir.join("sessions")), ("retained", dir.join("retained"))]
}

fn file_bytes(dir: &Path) -> (usize, u64) {
    let files = mq_store::file::list(dir).unwrap_or_default();
    let bytes = files.iter().map(|(_, _, p)| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
    (files.len(), bytes)
}

fn stats(dir: &Path, out: &mut dyn Write) -> Result<(), DbError> {
    writeln!(out, "store: {}", dir.display())?;
    for (name, part) in parts(dir) {
        let (files, bytes) = file_bytes(&part);
        let (state, damaged, _) = mq_store::inspect(&part)?;
        writeln!(out, "{name}: {files} files, {bytes} bytes{}", if damaged.is_empty() { "" } else { ", damaged" })?;
        if name == "sessions" {
            let subs: usize = state.sessions.values().map(|s| s.subs.len()).sum();
            let queued: usize = state.sessions.values().map(|s| s.queue.len()).sum();
            let inflight: usize = state.sessions.values().map(|s| s.inflight.len()).sum();
            let wills = state.sessions.values().filter(|s| s.will.is_some()).count();
            writeln!(
                out,
                "  sessions: {}\n  subscriptions: {subs}\n  queued messages: {queued}\n  in flight: {inflight}\n  \
                 delayed wills: {wills}\n  stored messages: {}",
                state.sessions.len(),
                state.messages.len()
            )?;
        } else {
            let bytes: usize = state.retained_msgs.values().map(|b| b.len()).sum();
            writeln!(out, "  retained messages: {} ({bytes} bytes stored)", state.retained_msgs.len())?;
        }
    }
    Ok(())
}

fn check(dir: &Path, out: &mut dyn Write) -> Result<(), DbError> {
    let mut bad = false;
    for (name, part) in parts(dir) {
        let (_, damaged, bytes) = mq_store::inspect(&part)?;
        if damaged.is_empty() {
            writeln!(out, "{name}: ok ({bytes} bytes read)")?;
        }
        for d in damaged {
            bad = true;
            writeln!(
                out,
                "{name}: {} is damaged at byte {}: {} ({} bytes unreadable)",
                d.file.display(),
                d.offset,
                d.why,
                d.len
            )?;
        }
    }
    if bad { Err(DbError::Damaged) } else { Ok(()) }
}

/// A stored message as JSON fields: topic, QoS, retain and payload (as text when it is UTF-8, else its
/// length).
fn describe(blob: &bytes::Bytes) -> Value {
    match crate::persist::describe_message(blob) {
        Some((topic, qos, retain, payload)) => {
            let mut v = json!({ "topic": topic, "qos": qos, "retain": retain });
            match std::str::from_utf8(&payload) {
                Ok(text) => v["payload"] = json!(text),
                Err(_) => v["payload_bytes"] = json!(payload.len()),
            }
            v
        }
        None => json!({ "unreadable": true }),
    }
}

/// `fields` with `"type": kind` in front.
fn line(kind: &str, fields: Value, out: &mut dyn Write) -> std::io::Result<()> {
    let mut v = json!({ "type": kind });
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    writeln!(out, "{v}")
}

fn dump(dir: &Path, out: &mut dyn Write) -> Result<(), DbError> {
    let (retained, _, _) = mq_store::inspect(&dir.join("retained"))?;
    let mut topics: Vec<_> = retained.retained_msgs.iter().collect();
    topics.sort_by(|a, b| a.0.cmp(b.0));
    for (_, blob) in topics {
        line("retained", describe(blob), out)?;
    }
    let (sessions, _, _): (State, _, _) = mq_store::inspect(&dir.join("sessions"))?;
    let mut clients: Vec<_> = sessions.sessions.iter().collect();
    clients.sort_by(|a, b| a.0.cmp(b.0));
    for (client, s) in clients {
        let subs: Vec<Value> =
            s.subs.iter().map(|(f, (opts, id))| json!({ "filter": f, "qos": opts & 3, "id": id })).collect();
        let expiry = if s.expiry == u32::MAX { json!("never") } else { json!(s.expiry) };
        let fields = json!({
            "client": client,
            "expiry": expiry,
            "disconnected_at_ms": s.detached_at,
            "subscriptions": subs,
            "queued": s.queue.len(),
            "in_flight": s.inflight.len(),
            "qos2_received": s.q2in.len(),
            "delayed_will": s.will.is_some(),
        });
        line("session", fields, out)?;
        for e in &s.queue {
            if let Some(blob) = sessions.messages.get(&e.msg) {
                let mut fields = describe(blob);
                fields["client"] = json!(client);
                fields["delivery_qos"] = json!(e.qos);
                line("queued", fields, out)?;
            }
        }
    }
    Ok(())
}

fn compact(dir: &Path, out: &mut dyn Write) -> Result<(), DbError> {
    for (name, part) in parts(dir) {
        // Opening takes the store's lock (a running broker holds it) and starts a new segment: the
        // files before it are folded into a base.
        let opened = mq_store::start(&part, mq_store::Fsync::Always)?;
        let before = file_bytes(&part).1;
        let upto = mq_store::file::list(&part)?.iter().map(|(_, s, _)| *s).max().unwrap_or(0);
        opened.journal.close();
        mq_store::journal::compact(&part, upto).map_err(DbError::Compact)?;
        let after = file_bytes(&part).1;
        writeln!(out, "{name}: {before} bytes → {after} bytes")?;
        drop(opened);
    }
    Ok(())
}
