//! `mq bench`: an MQTT load generator. Many clients from one process on a multi-threaded runtime, each a
//! small task driving its connection with the client tools' driver (`mq_client::driver`, over the
//! sans-IO `mq_proto::client::ClientSession`: the same acknowledgement handling as `mq-pub` and
//! `mq-sub`); subscribers measure throughput, latency (from a send time in the payload), loss and order.
//!
//! Modes: `conn` (connect and hold, here), `pub` (publish, `publisher`), `sub` (subscribe and measure,
//! `subscriber`). A scenario such as fan-in is one `sub` process and one `pub` process;
//! `bench/compare.sh` runs them against `mq broker` and Mosquitto.

pub mod args;
mod publisher;
mod stamp;
mod subscriber;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mq_client::driver::{self, Driver};
use mq_client::{ClientError, Target};
use mq_proto::Connect;
use mq_proto::client::{ClientSession, Options, Qos2Delivery};
use tokio::net::TcpStream;

pub use args::BenchArgs;
use args::{Common, Mode};

/// Received PUBLISH packets at least this large keep only their stamp, not their payload (a load
/// generator measures the broker, not its own memory).
const KEEP_UP_TO: usize = 1 << 20;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("connection failed: {0}")]
    Connect(std::io::Error),
    #[error("connection refused by the broker (CONNACK code {0})")]
    Refused(u8),
    #[error("the broker closed the connection")]
    Closed,
    #[error("{0}")]
    Io(std::io::Error),
    /// Anything else the connection reports (a malformed packet, a protocol violation, ...).
    #[error("{0}")]
    Client(ClientError),
    #[error("no client could connect; first error: {0}")]
    NoClients(String),
    #[error("{count} clients need {count} file descriptors but the limit is {limit}")]
    TooManyClients { count: u32, limit: u64 },
}

impl From<ClientError> for BenchError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Refused { code, .. } => BenchError::Refused(code),
            ClientError::ConnectionLost => BenchError::Closed,
            ClientError::Io(e) => BenchError::Io(e),
            other => BenchError::Client(other),
        }
    }
}

/// `mq bench` failures print `Error: ...` and exit 1.
impl mq_cli::Report for BenchError {
    type Context = ();

    fn failure(&self, _: &()) -> mq_cli::Failure {
        mq_cli::Failure::text(1, &format!("Error: {self}"))
    }
}

/// Counters shared by every client task, read by the progress display.
#[derive(Default)]
pub(crate) struct Live {
    pub(crate) connected: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// Runs `mq bench`; prints the summary and returns.
pub fn run(args: BenchArgs) -> Result<(), BenchError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .map_err(BenchError::Io)?;
    rt.block_on(async move {
        match args.mode {
            Mode::Conn(a) => run_conn(a).await,
            Mode::Pub(a) => publisher::run(a).await,
            Mode::Sub(a) => subscriber::run(a).await,
        }
    })
}

/// The broker (TLS configuration built once for all clients) and its first address.
fn resolve(c: &Common) -> Result<(Target, SocketAddr), BenchError> {
    let target = mq_client::target(c.host.as_deref(), c.port, c.url.as_deref(), &c.tls).map_err(BenchError::Client)?;
    let addr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|_| BenchError::Resolve(target.host.clone()))?
        .next()
        .ok_or_else(|| BenchError::Resolve(target.host.clone()))?;
    Ok((target, addr))
}

/// Raises the open-file limit to its hard limit and checks the clients fit.
fn ensure_fds(count: u32) -> Result<(), BenchError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
        let limit = getrlimit(Resource::RLIMIT_NOFILE).map_or(soft, |(s, _)| s);
        if u64::from(count) + 32 > limit {
            return Err(BenchError::TooManyClients { count, limit });
        }
    }
    Ok(())
}

fn client_id(c: &Common, i: u32) -> String {
    format!("{}-{}-{i}", c.id_prefix, std::process::id())
}

pub(crate) fn expand(template: &str, i: u32, id: &str) -> String {
    template.replace("%i", &i.to_string()).replace("%c", id)
}

/// Connects client number `index` as `client_id` (`%i` and `%c` in the user name and password), with
/// up to `max_inflight` messages of its own in flight.
async fn open(
    (target, addr): &(Target, SocketAddr),
    client_id: &str,
    index: u32,
    c: &Common,
    max_inflight: u16,
) -> Result<Driver, BenchError> {
    let stream = match c.bind.get(index as usize % c.bind.len().max(1)) {
        None => TcpStream::connect(addr).await,
        Some(source) => connect_from(*source, *addr).await,
    }
    .map_err(BenchError::Connect)?;
    let _ = stream.set_nodelay(true);
    // The TLS handshake and WebSocket upgrade count in the connection time, as they do for the broker.
    let stream = target.layer(stream).await?;
    let mut connect = Connect::new(c.version.into(), client_id);
    connect.keep_alive = c.keepalive;
    if c.persistent {
        connect.clean_start = false;
        if connect.protocol == mq_proto::ProtocolVersion::V5 {
            connect.properties.session_expiry_interval = Some(u32::MAX);
        }
    }
    let username = c.username.as_deref().or(target.username.as_deref());
    let password = c.password.as_deref().or(target.password.as_deref());
    connect.username = username.map(|u| expand(u, index, client_id));
    connect.password = password.map(|p| Bytes::from(expand(p, index, client_id)));
    // CONNACK may take long in a connect storm: it is waited for as long as it takes.
    let options = Options {
        max_inflight,
        qos2_delivery: Qos2Delivery::OnPublish,
        manual_acks: false,
        connack_timeout: None,
        max_packet_size: None,
        answer_pingreq: false,
        tolerate_unknown_acks: false,
        hold_resend: false,
    };
    let mut driver = Driver::over(stream, ClientSession::new(connect, options)).await?;
    driver.keep_front(KEEP_UP_TO, stamp::STAMP_LEN);
    Ok(driver)
}

/// Connects to `addr` from the source address `source` (a port of the system's choosing).
async fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if source.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// Ends a client's connection with DISCONNECT, giving the broker a second to take it (the run is bounded).
pub(crate) async fn disconnect(driver: &mut Driver) {
    let props = mq_proto::DisconnectProperties::default();
    let bye = driver.disconnect(mq_proto::ReasonCode::NORMAL_DISCONNECTION, &props);
    let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
}

/// Connects `count` clients at the configured rate; each connected client is handed to `body`.
pub(crate) async fn spawn_clients<F, Fut, T>(
    c: &Common,
    max_inflight: u16,
    live: &Arc<Live>,
    body: F,
) -> Result<(Vec<tokio::task::JoinHandle<Option<T>>>, Duration), BenchError>
where
    F: Fn(u32, String, Driver) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    ensure_fds(c.count)?;
    let target = Arc::new(resolve(c)?);
    let body = Arc::new(body);
    let start = Instant::now();
    let first_error = Arc::new(parking_lot_free::Slot::default());
    let mut handles = Vec::with_capacity(c.count as usize);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let handshakes =
        (c.connect_concurrency > 0).then(|| Arc::new(tokio::sync::Semaphore::new(c.connect_concurrency as usize)));
    for i in 0..c.count {
        if c.connect_rate > 0.0 {
            let at = start + Duration::from_secs_f64(f64::from(i) / c.connect_rate);
            tokio::time::sleep_until(at.into()).await;
        }
        let slot = match &handshakes {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        let (common, live, body, ready, first_error, target) =
            (c.clone(), live.clone(), body.clone(), ready_tx.clone(), first_error.clone(), target.clone());
        handles.push(tokio::spawn(async move {
            let id = client_id(&common, i);
            // Count before reporting ready: the spawner reads the counts once every client reported.
            let result = open(&target, &id, i, &common, max_inflight).await;
            drop(slot);
            match result {
                Ok(driver) => {
                    live.connected.fetch_add(1, Ordering::Relaxed);
                    let _ = ready.send(());
                    Some(body(i, id, driver).await)
                }
                Err(e) => {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    first_error.set(e.to_string());
                    let _ = ready.send(());
                    None
                }
            }
        }));
    }
    drop(ready_tx);
    for _ in 0..c.count {
        if ready_rx.recv().await.is_none() {
            break;
        }
    }
    let connect_time = start.elapsed();
    if live.connected.load(Ordering::Relaxed) == 0 {
        return Err(BenchError::NoClients(first_error.get().unwrap_or_default()));
    }
    Ok((handles, connect_time))
}

/// Awaits every task, in order.
pub(crate) async fn futures_join<T>(
    handles: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}

/// A tiny once-set string slot (first error wins) without another dependency.
mod parking_lot_free {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Slot(Mutex<Option<String>>);

    impl Slot {
        pub fn set(&self, s: String) {
            if let Ok(mut g) = self.0.lock()
                && g.is_none()
            {
                *g = Some(s);
            }
        }
        pub fn get(&self) -> Option<String> {
            self.0.lock().ok().and_then(|g| g.clone())
        }
    }
}

/// Shows live counts on a terminal (nothing otherwise) until `stop` is set.
fn progress(live: Arc<Live>, stop: Arc<AtomicBool>, total: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
        let mut last = (Instant::now(), 0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = Instant::now();
            let (sent, recv) = (live.sent.load(Ordering::Relaxed), live.received.load(Ordering::Relaxed));
            let dt = now.duration_since(last.0).as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "connected {}/{total}  out {:.0} msg/s  in {:.0} msg/s  errors {}",
                live.connected.load(Ordering::Relaxed),
                (sent - last.1) as f64 / dt,
                (recv - last.2) as f64 / dt,
                live.errors.load(Ordering::Relaxed)
            ));
            bar.tick();
            last = (now, sent, recv);
        }
        bar.finish_and_clear();
    })
}

async fn run_conn(a: args::ConnArgs) -> Result<(), BenchError> {
    let c = a.common;
    let live = Arc::new(Live::default());
    let stop = Arc::new(AtomicBool::new(false));
    let prog = progress(live.clone(), stop.clone(), c.count);
    let hold = Duration::from_secs_f64(c.duration);
    let release = Arc::new(tokio::sync::Notify::new());
    let r = release.clone();
    let live_sub = live.clone();
    let (topic, subscriptions) = (a.topic.clone(), a.subscriptions);
    let (handles, connect_time) = spawn_clients(&c, u16::MAX, &live, move |i, id, mut driver| {
        let r = r.clone();
        let l = live_sub.clone();
        let filters: Vec<String> = match &topic {
            None => Vec::new(),
            Some(t) if subscriptions == 1 => vec![expand(t, i, &id)],
            Some(t) => (0..subscriptions).map(|k| format!("{}/{k}", expand(t, i, &id))).collect(),
        };
        async move {
            let released = r.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            // Subscribe (one SUBSCRIBE per filter, as separate clients would) and wait for every SUBACK.
            let mut owed = filters.len();
            for f in filters {
                let opts = mq_proto::SubscriptionOptions::default();
                if driver.subscribe(vec![(f, opts)], Default::default()).is_err() {
                    l.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            while owed > 0 {
                tokio::select! {
                    () = &mut released => return,
                    event = driver.next() => match event {
                        Ok(driver::Event::Subscribed { .. }) => owed -= 1,
                        Ok(_) => {}
                        Err(_) => {
                            l.errors.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    },
                }
            }
            // Hold the connection (the driver keeps it alive) until released.
            loop {
                tokio::select! {
                    () = &mut released => break,
                    event = driver.next() => if event.is_err() { break },
                }
            }
        }
    })
    .await?;
    tokio::time::sleep(hold).await;
    release.notify_waiters();
    let connected = live.connected.load(Ordering::Relaxed);
    for h in handles {
        let _ = h.await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = prog.await;
    let rate = connected as f64 / connect_time.as_secs_f64().max(1e-9);
    let errors = live.errors.load(Ordering::Relaxed);
    report(
        &c,
        &format!(
            "{{\"mode\":\"conn\",\"clients\":{},\"connected\":{connected},\"errors\":{errors},\"connect_seconds\":{:.3},\"connect_rate\":{rate:.1}}}",
            c.count,
            connect_time.as_secs_f64()
        ),
        &format!(
            "connected {connected}/{} in {:.3} s ({rate:.0} connections/s), {errors} errors, held {:.1} s",
            c.count,
            connect_time.as_secs_f64(),
            c.duration
        ),
    );
    Ok(())
}

pub(crate) fn report(c: &Common, json: &str, text: &str) {
    if c.json {
        println!("{json}");
    } else {
        println!("{text}");
    }
    if let Some(path) = &c.json_file {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{json}");
        }
    }
}
