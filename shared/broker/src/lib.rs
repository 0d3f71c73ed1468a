//! The `mq` MQTT broker: MQTT 3.1, 3.1.1 and 5.0, configured with mosquitto.conf files.
//!
//! # Layout
//! - [`cli`]: `mq broker` arguments.
//! - [`run`]: configuration, listeners, privileges, runtime, signals, shutdown.
//! - [`listener`]: binding and accepting; [`connection`]: one task per client, ended while the client
//!   idles ([`park`]).
//! - [`broker`]: shared state (sessions, subscriptions, retained messages) and routing.
//! - [`session`], [`subs`], [`retain`], [`message`]: the state's parts.
//! - [`auth`]: anonymous access and password files; [`sys`]: the `$SYS` tree; [`log`]: logging.
//!
//! # The path of a PUBLISH
//! The publisher's connection task decodes it (`mq-proto`), stores it if retained, collects the matching
//! sessions from the subscription trie under a read lock, and pushes one [`message::Delivery`] (a
//! reference to the shared message) into each session's queue, waking that session's connection task.
//! That task moves deliveries into its output buffer within the client's in-flight window, encodes the
//! PUBLISH header per subscriber and writes the shared payload with vectored writes. Each hop is FIFO,
//! so messages from one publisher keep their order. A large PUBLISH is read into pieces of its own and
//! routed once complete ([`large`]).

pub mod access;
pub mod acl;
pub mod auth;
pub mod broker;
pub mod cli;
pub mod connection;
pub mod durable;
pub mod inflight;
pub mod kick;
pub mod listener;
#[macro_use]
pub mod log;
pub mod message;
pub mod outbuf;
pub mod park;
pub mod retain;
pub mod session;
pub mod settings;
pub mod stats;
pub mod stream;
pub mod subs;
pub mod sys;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mq_config::{Config, ConfigError, ConfigErrors};
use parking_lot::RwLock;

pub use cli::BrokerArgs;

use crate::auth::Security;
use crate::broker::Broker;
use crate::listener::BoundSocket;
use crate::settings::{ListenerCtx, Settings};

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
}

impl BrokerError {
    /// The process exit status for this error (Mosquitto exits 3 on configuration errors, 1 otherwise).
    pub fn exit_code(&self) -> u8 {
        match self {
            BrokerError::Config(_) | BrokerError::Unsupported(_) => 3,
            _ => 1,
        }
    }
}

/// Loads the configuration the arguments name (local-only mode without `-c`), with `-p` applied.
fn load_config(args: &BrokerArgs) -> Result<(Config, Vec<mq_config::Warning>), BrokerError> {
    let (mut cfg, warnings) = match &args.config {
        Some(path) => mq_config::load(path).map_err(BrokerError::Config)?,
        None => (Config::local_only(), Vec::new()),
    };
    if !args.port.is_empty() && !cfg.apply_cli_ports(&args.port) {
        log!(Warning, "-p ignored: the configuration file defines listeners.");
    }
    cfg.check_supported().map_err(BrokerError::Unsupported)?;
    Ok((cfg, warnings))
}

/// Security settings of each listener, and the warnings loading them gave.
type LoadedSecurity = (Vec<Arc<RwLock<Arc<Security>>>>, Vec<String>);

/// Builds the security settings of each listener (shared when `per_listener_settings` is off). Password
/// file lines that cannot be used are skipped, as Mosquitto does; they come back as warnings to log.
fn load_security(cfg: &Config) -> Result<LoadedSecurity, BrokerError> {
    let mut shared: Option<Arc<RwLock<Arc<Security>>>> = None;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for l in &cfg.listeners {
        let eff = cfg.security_for(l);
        // Errors name the configuration line that named the file.
        let opts = if *cfg.per_listener_settings { &l.security } else { &cfg.security };
        let mut make = || -> Result<Arc<RwLock<Arc<Security>>>, BrokerError> {
            let (sec, skipped) = Security::load(
                eff.allow_anonymous,
                eff.allow_zero_length_clientid,
                eff.auto_id_prefix,
                eff.password_file,
                eff.acl_file,
            )
            .map_err(|source| {
                let at = match &source {
                    auth::SecurityError::Passwords(_) => opts.password_file.span.clone(),
                    auth::SecurityError::Acl(_) => opts.acl_file.span.clone(),
                };
                BrokerError::Security { at, source }
            })?;
            warnings.extend(skipped);
            Ok(Arc::new(RwLock::new(Arc::new(sec))))
        };
        let sec = if *cfg.per_listener_settings {
            make()?
        } else {
            match &shared {
                Some(s) => s.clone(),
                None => {
                    let s = make()?;
                    shared = Some(s.clone());
                    s
                }
            }
        };
        out.push(sec);
    }
    Ok((out, warnings))
}

/// Re-reads what SIGHUP reloads: limits, logging, password files. A configuration or password file that
/// fails to load keeps the old one, and the reason is logged.
fn reload(args: &BrokerArgs, current: &mut Config, broker: &Broker, listeners: &[Arc<ListenerCtx>]) {
    log!(Notice, "Reloading config.");
    let Some(path) = &args.config else {
        return;
    };
    let new = match mq_config::load(path) {
        Ok((c, _)) => c,
        Err(errors) => {
            log!(Error, "Reload failed, keeping the running configuration:");
            // One line each: log lines never carry a line break.
            for line in errors.to_string().lines() {
                log!(Error, "{line}");
            }
            return;
        }
    };
    let reloaded = current.reload(new);
    for n in &reloaded.not_reloaded {
        log!(Warning, "{n} (needs a restart)");
    }
    let cfg = reloaded.config;
    match load_security(&cfg) {
        Ok((secs, warnings)) => {
            for w in &warnings {
                log!(Warning, "{w}");
            }
            for (ctx, sec) in listeners.iter().zip(secs) {
                let fresh = sec.read().clone();
                *ctx.security.write() = fresh;
            }
        }
        Err(e) => log!(Error, "Reload of security files failed, keeping the old ones: {e}"),
    }
    if let Err(e) = log::logger().configure(&cfg.log, args.verbose, None) {
        log!(Error, "{e}");
    }
    broker.set_settings(Settings::from_config(&cfg));
    *current = cfg;
}

/// Drops root privileges to the configured user after the listeners are bound (and files read), as
/// Mosquitto does: `user` (default `mosquitto`, falling back to `nobody` when that user does not exist).
fn drop_privileges(cfg: &Config) -> Result<(), BrokerError> {
    use nix::unistd::{Uid, User, initgroups, setgid, setuid};
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let name = cfg.effective_user().to_owned();
    if name == "root" {
        return Ok(());
    }
    let err = |why: String| BrokerError::User { user: name.clone(), why };
    let user = match User::from_name(&name).map_err(|e| err(e.to_string()))? {
        Some(u) => u,
        None if !cfg.user.is_set() => {
            User::from_name("nobody").map_err(|e| err(e.to_string()))?.ok_or_else(|| err("no such user".into()))?
        }
        None => return Err(err("no such user".into())),
    };
    let cname = std::ffi::CString::new(user.name.clone()).map_err(|e| err(e.to_string()))?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid).unwrap_or_default();
    let identity = access::Identity {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.iter().map(|g| g.as_raw()).collect(),
    };
    warn_unreadable_after_drop(cfg, &identity, &user.name);
    initgroups(&cname, user.gid).map_err(|e| err(e.to_string()))?;
    setgid(user.gid).map_err(|e| err(e.to_string()))?;
    setuid(user.uid).map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Warns about each password or ACL file the configuration names that `user` (about to be switched to)
/// will not be able to read: the start read it as root, but a reload on SIGHUP would fail.
fn warn_unreadable_after_drop(cfg: &Config, identity: &access::Identity, user: &str) {
    let mut seen = std::collections::HashSet::new();
    for l in &cfg.listeners {
        let eff = cfg.security_for(l);
        for (kind, path) in [("password file", eff.password_file), ("ACL file", eff.acl_file)] {
            let Some(path) = path else { continue };
            if !seen.insert(path.to_owned()) {
                continue;
            }
            if let Some(why) = access::unreadable_reason(path, identity) {
                log!(
                    Warning,
                    "The {kind} {} will not be readable by user {user} once privileges are dropped ({why}); \
                     reloading it on SIGHUP will fail.",
                    path.display()
                );
            }
        }
    }
}

/// Raises the open-file limit to the hard limit: every client costs a descriptor.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
        let now = getrlimit(Resource::RLIMIT_NOFILE).map_or(soft, |(s, _)| s);
        log!(Information, "Open file limit: {now} (about {} clients).", now.saturating_sub(32));
    }
}

fn write_pid_file(path: &Path) -> Result<(), BrokerError> {
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(|source| BrokerError::PidFile { path: path.to_owned(), source })
}

/// Runs the broker until SIGINT or SIGTERM.
pub fn run(args: BrokerArgs) -> Result<(), BrokerError> {
    let result = run_broker(args);
    log::logger().flush();
    result
}

fn run_broker(args: BrokerArgs) -> Result<(), BrokerError> {
    let (cfg, warnings) = load_config(&args)?;
    for w in &warnings {
        log!(Warning, "{w}");
    }
    let (securities, security_warnings) = load_security(&cfg)?;
    if args.test_config {
        // Lines the broker would skip are reported, but the broker would start: the check passes.
        for w in &security_warnings {
            log!(Warning, "{w}");
        }
        println!("Configuration OK");
        return Ok(());
    }
    log::logger().configure(&cfg.log, args.verbose, None)?;
    for w in &security_warnings {
        log!(Warning, "{w}");
    }
    raise_fd_limit();

    // Order: daemonise (fork) before any thread exists; start the runtime and install the signal
    // handlers; only then bind, so a signal sent as soon as the port accepts is handled; write the pid
    // file; drop privileges last (files and sockets are open by then).
    if args.daemon {
        nix::unistd::daemon(true, false).map_err(BrokerError::Daemon)?;
    }
    log::logger().start_writer();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name("mq-broker")
        .enable_all()
        .build()
        .map_err(BrokerError::Runtime)?;
    let result = runtime.block_on(async move {
        let signals = Signals::install()?;
        let bound = bind_listeners(&cfg, securities)?;
        if let Some(p) = &cfg.pid_file.value {
            write_pid_file(p)?;
        }
        drop_privileges(&cfg)?;
        serve(args, cfg, bound, signals).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// A listener's context and its bound sockets.
type Bound = (Arc<ListenerCtx>, Vec<BoundSocket>);

/// Binds every configured listener and builds its context.
fn bind_listeners(cfg: &Config, securities: Vec<Arc<RwLock<Arc<Security>>>>) -> Result<Vec<Bound>, BrokerError> {
    let mut bound: Vec<Bound> = Vec::new();
    for (index, (l, security)) in cfg.listeners.iter().zip(securities).enumerate() {
        let sockets =
            listener::bind(&l.addr.value, l.socket_domain.value, l.bind_interface.value.as_deref(), cfg.local_only)?;
        let port = match &l.addr.value {
            mq_config::ListenerAddr::Tcp { port, .. } => *port,
            mq_config::ListenerAddr::Unix { .. } => 0,
        };
        let ctx = Arc::new(ListenerCtx {
            index,
            port,
            max_qos: mq_proto::QoS::from_u8(l.max_qos.value).unwrap_or(mq_proto::QoS::ExactlyOnce),
            max_topic_alias: l.max_topic_alias.value,
            mount_point: l.mount_point.value.clone(),
            use_username_as_clientid: l.use_username_as_clientid.value,
            max_connections: l.max_connections.value,
            connections: AtomicU32::new(0),
            security,
        });
        for s in &sockets {
            match s {
                BoundSocket::Tcp(t) => {
                    if let Ok(a) = t.local_addr() {
                        log!(
                            Notice,
                            "Opening ipv{} listen socket on port {}.",
                            if a.is_ipv4() { 4 } else { 6 },
                            a.port()
                        );
                    }
                }
                BoundSocket::Unix(_, p) => log!(Notice, "Opening unix listen socket on path {}.", p.display()),
            }
        }
        bound.push((ctx, sockets));
    }
    Ok(bound)
}

/// The signals the broker acts on.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, BrokerError> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |k| signal(k).map_err(BrokerError::Runtime);
        Ok(Signals {
            int: install(SignalKind::interrupt())?,
            term: install(SignalKind::terminate())?,
            hup: install(SignalKind::hangup())?,
            usr2: install(SignalKind::user_defined2())?,
        })
    }
}

async fn serve(args: BrokerArgs, mut cfg: Config, bound: Vec<Bound>, signals: Signals) -> Result<(), BrokerError> {
    let Signals { mut int, mut term, mut hup, mut usr2 } = signals;
    let broker = Arc::new(Broker::new(Settings::from_config(&cfg)));
    log!(Notice, "{} starting", sys::version_string());

    // `log_dest topic`: lines go to $SYS/broker/log/... through a bounded channel.
    let (log_tx, mut log_rx) = tokio::sync::mpsc::channel::<(log::Level, String)>(1024);
    if cfg.log.dest.value.topic {
        log::logger().configure(&cfg.log, args.verbose, Some(log_tx.clone()))?;
        let b = broker.clone();
        tokio::spawn(async move {
            while let Some((level, line)) = log_rx.recv().await {
                if let Some(topic) = level.topic() {
                    b.publish_internal(message::Message {
                        expires_at: Some(Instant::now() + Duration::from_secs(20)),
                        ..message::Message::from_broker(topic, line, mq_proto::QoS::AtMostOnce, false)
                    });
                }
            }
        });
    }

    // The `$SYS` tree is in the retained store before the first client is accepted.
    let (sys_ready, sys_published) = tokio::sync::oneshot::channel();
    tokio::spawn(sys::run(broker.clone(), sys_ready));
    let _ = sys_published.await;
    let mut listeners = Vec::new();
    for (ctx, sockets) in bound {
        for s in sockets {
            tokio::spawn(listener::accept_loop(broker.clone(), ctx.clone(), s));
        }
        listeners.push(ctx);
    }
    if let Some(lot) = &broker.lot {
        lot.start(tokio::runtime::Handle::current());
    }
    {
        let b = broker.clone();
        tokio::spawn(async move {
            // Keep alive is checked four times a second for every connection here, rather than by a
            // timer per connection; sessions and wills once a second.
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0u32;
            loop {
                tokio::select! {
                    () = b.wait_shutdown() => return,
                    _ = tick.tick() => {
                        b.check_keepalive();
                        n = n.wrapping_add(1);
                        if n.is_multiple_of(4) {
                            b.sweep(Instant::now());
                        }
                    }
                }
            }
        });
    }

    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = hup.recv() => {
                reload(&args, &mut cfg, &broker, &listeners);
                if cfg.log.dest.value.topic {
                    let _ = log::logger().configure(&cfg.log, args.verbose, Some(log_tx.clone()));
                }
            }
            _ = usr2.recv() => dump_subscriptions(&broker),
        }
    }

    // Shutdown: wills first (the spec publishes them when connections close without DISCONNECT), then
    // every connection delivers what it has queued and closes with "server shutting down".
    broker.begin_shutdown();
    broker.publish_all_wills();
    for k in broker.attached_kicks() {
        k.kick(kick::KickReason::Shutdown);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while broker.active_connections.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(p) = &cfg.pid_file.value {
        let _ = std::fs::remove_file(p);
    }
    log!(Notice, "{} terminating", sys::version_string());
    Ok(())
}

/// SIGUSR2: writes the subscription table to the log (Mosquitto's debugging aid).
fn dump_subscriptions(broker: &Broker) {
    let mut lines = Vec::new();
    broker
        .subs
        .read()
        .for_each(|filter, s| lines.push(format!("{filter} ({}, {})", s.session.client_id, s.opts.qos.as_u8())));
    lines.sort();
    log!(Notice, "Subscriptions ({}):", lines.len());
    for l in lines {
        log!(Notice, "  {l}");
    }
}
