//! Serving: listeners bound, the `$SYS` tree, the keep-alive and expiry sweeps, the parking thread,
//! then clients until shutdown. [`run`] is `mq broker`: the process, its runtime and signals.
//! [`start`] serves within a runtime of the caller's (tests, embedding), controlled through the
//! [`Running`] handle instead of signals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mq_config::Config;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::auth::Security;
use crate::broker::Broker;
use crate::kick::KickReason;
use crate::listener::{self, BoundSocket};
use crate::persist::{self, Persistence};
use crate::settings::{ListenerCtx, Settings};
use crate::{BrokerArgs, BrokerError, log, message, metrics, setup, sys};

/// What a running broker is asked to do (by signals, or through [`Running`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: reload the configuration and security files.
    Reload,
    /// SIGUSR2: write the subscription table to the log.
    DumpSubscriptions,
    /// SIGINT, SIGTERM: shut down.
    Shutdown,
}

/// Runs the broker until SIGINT or SIGTERM.
pub fn run(args: BrokerArgs) -> Result<(), BrokerError> {
    let result = run_process(args);
    log::logger().flush();
    result
}

fn run_process(args: BrokerArgs) -> Result<(), BrokerError> {
    let (cfg, warnings) = setup::load_config(&args)?;
    for w in &warnings {
        log!(Warning, "{w}");
    }
    let (securities, security_warnings) = setup::load_security(&cfg)?;
    if args.test_config {
        // Certificates, keys and CAs must load as they would at start.
        for l in &cfg.listeners {
            load_tls(l)?;
        }
        // Lines the broker would skip are reported, but the broker would start: the check passes.
        for w in &security_warnings {
            log!(Warning, "{w}");
        }
        setup::check_start_files(&cfg)?;
        println!("Configuration OK");
        return Ok(());
    }
    log::logger().configure(&cfg.log, args.verbose, None)?;
    for w in &security_warnings {
        log!(Warning, "{w}");
    }
    setup::raise_fd_limit();

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
        let control = signals()?;
        // Opened before privileges are dropped.
        let notify = crate::notify::Notifier::from_env();
        let bound = bind_listeners(&cfg, securities)?;
        let metrics = bind_metrics(&cfg)?;
        if let Some(p) = &cfg.pid_file.value {
            setup::write_pid_file(p)?;
        }
        setup::drop_privileges(&cfg)?;
        let (broker, store) = make_broker(&cfg, &bound)?;
        let options = ServeOptions { config_path: args.config.clone(), verbose: args.verbose, metrics, notify };
        let result = serve(broker, cfg, bound, control, options).await;
        if let Some(s) = store {
            s.close();
        }
        result
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The signals the broker acts on, as [`Control`]s.
fn signals() -> Result<mpsc::Receiver<Control>, BrokerError> {
    use tokio::signal::unix::{SignalKind, signal};
    // A write past the file size limit (`ulimit -f`) fails like one to a full disk (the store refuses
    // what it cannot keep and retries) instead of killing the broker: SIGXFSZ is taken and ignored
    // (a handler, once set, stays for the life of the process).
    let _ignored =
        signal(SignalKind::from_raw(nix::sys::signal::Signal::SIGXFSZ as i32)).map_err(BrokerError::Runtime)?;
    // SIGUSR1 makes Mosquitto save its database; here every change is stored already (and the
    // signal's default action would end the process).
    let mut usr1 = signal(SignalKind::user_defined1()).map_err(BrokerError::Runtime)?;
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            log!(Notice, "SIGUSR1: nothing to save, every change is stored as it happens.");
        }
    });
    let (tx, rx) = mpsc::channel(16);
    for (kind, control) in [
        (SignalKind::interrupt(), Control::Shutdown),
        (SignalKind::terminate(), Control::Shutdown),
        (SignalKind::hangup(), Control::Reload),
        (SignalKind::user_defined2(), Control::DumpSubscriptions),
    ] {
        let mut s = signal(kind).map_err(BrokerError::Runtime)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(control).await.is_err() {
                    return;
                }
            }
        });
    }
    Ok(rx)
}

/// A broker serving within the caller's runtime (see [`start`]).
#[derive(Debug)]
pub struct Running {
    /// Its state, to look into.
    pub broker: Arc<Broker>,
    /// The addresses its TCP listeners are bound to.
    pub addrs: Vec<SocketAddr>,
    control: mpsc::Sender<Control>,
    done: tokio::task::JoinHandle<Result<(), BrokerError>>,
}

impl Running {
    /// Asks the broker to do something, as a signal would.
    pub async fn control(&self, c: Control) {
        let _ = self.control.send(c).await;
    }

    /// Shuts the broker down (wills published, connections closed) and waits for it.
    pub async fn shutdown(self) -> Result<(), BrokerError> {
        let _ = self.control.send(Control::Shutdown).await;
        self.done.await.unwrap_or(Ok(()))
    }
}

/// Starts a broker for `cfg` within the current tokio runtime and returns once it accepts clients.
/// `config_path` is what [`Control::Reload`] reads. Privileges, the pid file and signals are the
/// caller's business; the log goes where `cfg` says (process-wide).
pub async fn start(cfg: Config, config_path: Option<PathBuf>) -> Result<Running, BrokerError> {
    cfg.check_supported().map_err(BrokerError::Unsupported)?;
    log::logger().configure(&cfg.log, false, None)?;
    let (securities, warnings) = setup::load_security(&cfg)?;
    for w in &warnings {
        log!(Warning, "{w}");
    }
    let bound = bind_listeners(&cfg, securities)?;
    let metrics = bind_metrics(&cfg)?;
    let addrs = bound
        .iter()
        .flat_map(|(_, sockets)| sockets.iter())
        .filter_map(|s| match s {
            BoundSocket::Tcp(t) => t.local_addr().ok(),
            BoundSocket::Unix(..) => None,
        })
        .collect();
    let (broker, store) = make_broker(&cfg, &bound)?;
    let (tx, rx) = mpsc::channel(16);
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let options = ServeOptions { config_path, verbose: false, metrics, notify: None };
    let b = broker.clone();
    let done = tokio::spawn(async move {
        let result = serve_ready(b, cfg, bound, rx, options, Some(ready_tx)).await;
        if let Some(s) = store {
            s.close();
        }
        result
    });
    let _ = ready.await;
    Ok(Running { broker, addrs, control: tx, done })
}

/// A listener's context and its bound sockets.
type Bound = (Arc<ListenerCtx>, Vec<BoundSocket>);

/// The broker for `cfg`: with `persistence true`, its store opened and what it held restored first.
fn make_broker(cfg: &Config, bound: &[Bound]) -> Result<(Arc<Broker>, Option<Arc<Persistence>>), BrokerError> {
    let settings = Settings::from_config(cfg);
    let p = &cfg.persistence;
    if !p.enabled.value {
        return Ok((Arc::new(Broker::new(settings)), None));
    }
    if p.autosave_interval.is_set() || p.autosave_on_changes.is_set() {
        log!(Notice, "autosave_interval and autosave_on_changes have no effect: every change is stored as it happens.");
    }
    let dir = p.store_dir();
    if p.path().is_file() && !dir.join("sessions").exists() {
        log!(
            Warning,
            "{} is Mosquitto's store, which the broker does not read: its retained messages and sessions are \
             not restored. mq keeps its own store in {}; to bring them over, stop the broker and run \
             `mq db import --store {} {}`.",
            p.path().display(),
            dir.display(),
            dir.display(),
            p.path().display()
        );
    }
    let fsync = match p.fsync.value {
        mq_config::Fsync::Always => mq_store::Fsync::Always,
        mq_config::Fsync::Never => mq_store::Fsync::Never,
        mq_config::Fsync::EveryMs(ms) => mq_store::Fsync::Every(Duration::from_millis(ms.into())),
    };
    let started = Instant::now();
    // Sessions are read back before the first client is accepted; retained messages, which may be
    // millions, while the broker serves.
    let sessions = mq_store::open(&dir.join("sessions"), fsync).map_err(BrokerError::Store)?;
    let retained = mq_store::start(&dir.join("retained"), fsync).map_err(BrokerError::Store)?;
    report_damage(&sessions.damaged);
    if sessions.state.orphans > 0 {
        log!(
            Warning,
            "{} stored changes referred to sessions that are gone; they were left out.",
            sessions.state.orphans
        );
    }
    let max_id = sessions.state.max_message_id();
    let retained_journal = retained.journal;
    let earlier = retained.earlier;
    let persistence = Persistence::new(sessions.journal, retained_journal, max_id, vec![sessions.lock, retained.lock]);
    // Tests widen the window between a change and its write, to see that nothing waits on less.
    if let Some(ms) = std::env::var("MQ_TEST_STORE_WRITE_DELAY_MS").ok().and_then(|v| v.parse().ok()) {
        persistence.set_write_delay(Duration::from_millis(ms));
    }
    let broker = Arc::new(Broker::with_store(settings, persistence.clone()));
    // There is always a listener (local-only mode has its own).
    let Some((ctx, _)) = bound.first() else {
        return Ok((broker, Some(persistence)));
    };
    let counts = persist::restore(&broker, sessions.state, &ctx.security);
    log!(
        Notice,
        "Restored {} sessions ({} subscriptions, {} queued messages) from {} in {} ms.",
        counts.sessions,
        counts.subscriptions,
        counts.queued,
        dir.display(),
        started.elapsed().as_millis()
    );
    broker.retained_loading_begins();
    let (b, security, p) = (broker.clone(), ctx.security.clone(), persistence.clone());
    let loader = std::thread::Builder::new().name("mq-restore".into()).spawn(move || {
        let started = Instant::now();
        match persist::load_retained(&b, &earlier, &security) {
            Ok((damaged, n, expired)) => {
                p.allow_retained_compaction();
                report_damage(&damaged);
                log!(
                    Notice,
                    "Restored {n} retained messages ({expired} had expired) in {} ms.",
                    started.elapsed().as_millis()
                );
            }
            Err(e) => {
                b.retained_loaded();
                log!(Error, "Unable to read the stored retained messages: {e}.");
            }
        }
    });
    if let Err(e) = loader {
        broker.retained_loaded();
        log!(Error, "Unable to read the stored retained messages: {e}.");
    }
    Ok((broker, Some(persistence)))
}

/// Logs what opening the store found damaged.
fn report_damage(damaged: &[mq_store::Damaged]) {
    for d in damaged {
        log!(
            Error,
            "Store file {} is damaged at byte {} ({}): the {} bytes from there were set aside in {}; what they held \
             is lost.",
            d.file.display(),
            d.offset,
            d.why,
            d.len,
            d.aside.display()
        );
    }
}

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
        let tls = load_tls(l)?;
        if let Some(t) = &tls {
            for note in t.notes() {
                log!(Notice, "{note}");
            }
        }
        let websockets = (l.protocol.value == mq_config::Protocol::Websockets).then(|| {
            let ws = &cfg.websockets;
            Arc::new(crate::ws::WsOptions {
                // Resolved once, so serving a file can check it stays inside.
                http_dir: l.http_dir.value.as_ref().map(|d| d.canonicalize().unwrap_or_else(|_| d.clone())),
                head_limit: match (ws.headers_size.is_set(), ws.headers_size.value) {
                    (true, n) if n > 0 => usize::from(n),
                    _ => crate::ws::DEFAULT_HEAD_LIMIT,
                },
                log_level: ws.log_level.value,
            })
        });
        let ctx = Arc::new(ListenerCtx {
            index,
            port,
            max_qos: mq_proto::QoS::from_u8(l.max_qos.value).unwrap_or(mq_proto::QoS::ExactlyOnce),
            max_topic_alias: l.max_topic_alias.value,
            mount_point: l.mount_point.value.clone(),
            use_username_as_clientid: l.use_username_as_clientid.value,
            max_connections: l.max_connections.value,
            connections: AtomicU32::new(0),
            traffic: Default::default(),
            security,
            tls,
            websockets,
            queue_qos0: false,
        });
        let kind = match ctx.protocol() {
            "mqtt" => "",
            "mqtts" => " (TLS)",
            "ws" => " (WebSockets)",
            _ => " (WebSockets over TLS)",
        };
        for s in &sockets {
            match s {
                BoundSocket::Tcp(t) => {
                    if let Ok(a) = t.local_addr() {
                        log!(
                            Notice,
                            "Opening ipv{} listen socket on port {}{kind}.",
                            if a.is_ipv4() { 4 } else { 6 },
                            a.port()
                        );
                    }
                }
                BoundSocket::Unix(_, p) => log!(Notice, "Opening unix listen socket on path {}{kind}.", p.display()),
            }
        }
        bound.push((ctx, sockets));
    }
    Ok(bound)
}

/// Binds the metrics endpoint's sockets (`metrics_listener`), if there is one.
fn bind_metrics(cfg: &Config) -> Result<Vec<BoundSocket>, BrokerError> {
    let Some(m) = &cfg.metrics_listener.value else {
        return Ok(Vec::new());
    };
    let addr = mq_config::ListenerAddr::Tcp { port: m.port, host: m.host.clone() };
    let sockets = listener::bind(&addr, None, None, false)
        .map_err(|source| BrokerError::Metrics { at: cfg.metrics_listener.span.clone(), source })?;
    for s in &sockets {
        if let BoundSocket::Tcp(t) = s
            && let Ok(a) = t.local_addr()
        {
            log!(
                Notice,
                "Opening ipv{} metrics listen socket on port {} (GET /metrics).",
                if a.is_ipv4() { 4 } else { 6 },
                a.port()
            );
        }
    }
    Ok(sockets)
}

/// A listener's TLS configuration, its files read (`None` for a listener without TLS).
fn load_tls(l: &mq_config::Listener) -> Result<Option<crate::tls::ListenerTls>, BrokerError> {
    crate::tls::ListenerTls::new(&l.tls)
        .map_err(|source| BrokerError::Tls { at: tls_span(&l.tls, &source).or(l.addr.span.clone()), source })
}

/// The configuration line a TLS error is about.
fn tls_span(opts: &mq_config::TlsOptions, e: &crate::tls::TlsError) -> Option<mq_config::Span> {
    use crate::tls::TlsError;
    let what = match e {
        TlsError::Read { what, .. } | TlsError::Empty { what, .. } | TlsError::BadCa { what, .. } => *what,
        TlsError::EncryptedKey(_) => "keyfile",
        TlsError::CertV1(_) | TlsError::BadCert { .. } | TlsError::Rustls(_) => "certfile",
    };
    match what {
        "keyfile" => opts.keyfile.span.clone(),
        "cafile" => opts.cafile.span.clone(),
        "capath" => opts.capath.span.clone(),
        "crlfile" => opts.crlfile.span.clone(),
        _ => opts.certfile.span.clone(),
    }
}

/// How a serving broker reloads.
struct ServeOptions {
    /// The configuration file [`Control::Reload`] reads.
    config_path: Option<PathBuf>,
    /// `-v`: every log type.
    verbose: bool,
    /// The metrics endpoint's sockets (none without `metrics_listener`).
    metrics: Vec<BoundSocket>,
    /// systemd's notification socket (`Type=notify`), when the broker runs under it.
    notify: Option<crate::notify::Notifier>,
}

async fn serve(
    broker: Arc<Broker>,
    cfg: Config,
    bound: Vec<Bound>,
    control: mpsc::Receiver<Control>,
    options: ServeOptions,
) -> Result<(), BrokerError> {
    serve_ready(broker, cfg, bound, control, options, None).await
}

/// Serves until [`Control::Shutdown`]; `ready` hears once clients are accepted.
async fn serve_ready(
    broker: Arc<Broker>,
    mut cfg: Config,
    bound: Vec<Bound>,
    mut control: mpsc::Receiver<Control>,
    mut options: ServeOptions,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), BrokerError> {
    log!(Notice, "{} starting", sys::version_string());

    // `log_dest topic`: lines go to $SYS/broker/log/... through a bounded channel.
    let (log_tx, mut log_rx) = mpsc::channel::<(log::Level, String)>(1024);
    if cfg.log.dest.value.topic {
        log::logger().configure(&cfg.log, options.verbose, Some(log_tx.clone()))?;
        let b = broker.clone();
        tokio::spawn(async move {
            while let Some((level, line)) = log_rx.recv().await {
                if let Some(topic) = level.topic() {
                    // As Mosquitto queues them: QoS 2, not retained, expiring after 20 s.
                    b.publish_internal(message::Message {
                        expires_at: Some(Instant::now() + Duration::from_secs(20)),
                        ..message::Message::from_broker(topic, line, mq_proto::QoS::ExactlyOnce, false)
                    });
                }
            }
        });
    }

    // The `$SYS` tree is in the retained store before the first client is accepted.
    let (sys_ready, sys_published) = tokio::sync::oneshot::channel();
    let contexts: Vec<Arc<ListenerCtx>> = bound.iter().map(|(ctx, _)| ctx.clone()).collect();
    tokio::spawn(sys::run(broker.clone(), contexts, sys_ready));
    let _ = sys_published.await;
    let mut listeners = Vec::new();
    for (ctx, sockets) in bound {
        for s in sockets {
            tokio::spawn(listener::accept_loop(broker.clone(), ctx.clone(), s));
        }
        listeners.push(ctx);
    }
    if !options.metrics.is_empty() {
        tokio::spawn(metrics::serve(broker.clone(), listeners.clone(), std::mem::take(&mut options.metrics)));
    }
    if let Some(lot) = &broker.lot {
        lot.start();
    }
    tokio::spawn(sweeps(broker.clone()));
    // Bridges: restarted on SIGHUP when their section changed.
    let security = listeners.first().map(|l| l.security.clone());
    let mut bridges = crate::bridge::Bridges::start(&broker, &cfg.bridges, security);
    if let Some(r) = ready {
        let _ = r.send(());
    }
    // The sockets have listened since they were bound; the accept loops run now.
    if let Some(n) = &options.notify {
        n.ready();
    }

    loop {
        match control.recv().await.unwrap_or(Control::Shutdown) {
            Control::Shutdown => break,
            Control::Reload => {
                if let Some(n) = &options.notify {
                    n.reloading();
                }
                setup::reload(options.config_path.as_deref(), options.verbose, &mut cfg, &broker, &listeners);
                bridges.apply(&broker, &cfg.bridges);
                if cfg.log.dest.value.topic {
                    let _ = log::logger().configure(&cfg.log, options.verbose, Some(log_tx.clone()));
                }
                if let Some(n) = &options.notify {
                    n.ready();
                }
            }
            Control::DumpSubscriptions => dump_subscriptions(&broker),
        }
    }

    if let Some(n) = &options.notify {
        n.stopping();
    }
    // Shutdown: wills first (the spec publishes them when connections close without DISCONNECT), then
    // every connection delivers what it has queued and closes with "server shutting down".
    broker.begin_shutdown();
    broker.publish_all_wills();
    for k in broker.attached_kicks() {
        k.kick(KickReason::Shutdown);
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

/// Keep alive, park hints, delayed wills and session expiry are checked here once a second for every
/// session, rather than by a timer per connection.
async fn sweeps(broker: Arc<Broker>) {
    // Each second's sweep in four parts, 250 ms apart (see `Broker::sweep_part`).
    const PARTS: usize = 4;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / PARTS as u64));
    let mut round = Vec::new();
    let mut part = 0;
    loop {
        tokio::select! {
            () = broker.wait_shutdown() => return,
            _ = tick.tick() => {
                if part == 0 {
                    round = broker.all_sessions();
                }
                let n = round.len();
                broker.sweep_part(&round[n * part / PARTS..n * (part + 1) / PARTS]).await;
                part += 1;
                if part == PARTS {
                    part = 0;
                    // Ended sessions are not held until the next round.
                    round = Vec::new();
                    broker.sweep_beyond_sessions(Instant::now());
                }
            }
        }
    }
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
