//! `mq bench`: an MQTT load generator. Many clients from one process on a multi-threaded runtime, each a
//! small task on `mq-proto` writing batched packets; subscribers measure throughput, latency (from a send
//! time in the payload), loss and order.
//!
//! Modes: `conn` (connect and hold), `pub` (publish), `sub` (subscribe and measure). A scenario such as
//! fan-in is one `sub` process and one `pub` process; `bench/compare.sh` runs them against `mq broker`
//! and Mosquitto.

pub mod args;
mod conn;
mod stamp;

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BufMut;
use hdrhistogram::Histogram;
use mq_proto::{Ack, Packet, PacketId, PublishHeader, PublishProperties, QoS, Subscribe, SubscriptionOptions};

pub use args::BenchArgs;
use args::{Common, Mode};
use conn::Conn;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("connection failed: {0}")]
    Connect(std::io::Error),
    #[error("connection refused by the broker (CONNACK code {0})")]
    Refused(u8),
    #[error("unexpected {0} from the broker")]
    Unexpected(&'static str),
    #[error("the broker closed the connection")]
    Closed,
    #[error("malformed packet from the broker: {0}")]
    Decode(mq_proto::DecodeError),
    #[error("cannot encode: {0}")]
    Encode(mq_proto::EncodeError),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("no client could connect; first error: {0}")]
    NoClients(String),
    #[error("{count} clients need {count} file descriptors but the limit is {limit}")]
    TooManyClients { count: u32, limit: u64 },
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
struct Live {
    connected: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
    errors: AtomicU64,
}

/// What one subscriber measured.
struct SubResult {
    hist: Histogram<u64>,
    received: u64,
    lost: u64,
    out_of_order: u64,
    first: Option<Instant>,
    last: Option<Instant>,
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
            Mode::Pub(a) => run_pub(a).await,
            Mode::Sub(a) => run_sub(a).await,
        }
    })
}

fn resolve(c: &Common) -> Result<SocketAddr, BenchError> {
    (c.host.as_str(), c.port)
        .to_socket_addrs()
        .map_err(|_| BenchError::Resolve(c.host.clone()))?
        .next()
        .ok_or_else(|| BenchError::Resolve(c.host.clone()))
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

/// Connects `count` clients at the configured rate; each connected client is handed to `body`.
async fn spawn_clients<F, Fut, T>(
    c: &Common,
    live: &Arc<Live>,
    body: F,
) -> Result<(Vec<tokio::task::JoinHandle<Option<T>>>, Duration), BenchError>
where
    F: Fn(u32, String, Conn) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    ensure_fds(c.count)?;
    let addr = resolve(c)?;
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
        let (common, live, body, ready, first_error) =
            (c.clone(), live.clone(), body.clone(), ready_tx.clone(), first_error.clone());
        handles.push(tokio::spawn(async move {
            let id = client_id(&common, i);
            // Count before reporting ready: the spawner reads the counts once every client reported.
            let result = Conn::open(addr, &id, i, &common).await;
            drop(slot);
            match result {
                Ok(conn) => {
                    live.connected.fetch_add(1, Ordering::Relaxed);
                    let _ = ready.send(());
                    Some(body(i, id, conn).await)
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
async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, tokio::task::JoinError>> {
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
    let keepalive = c.keepalive;
    let (handles, connect_time) = spawn_clients(&c, &live, move |_, _, mut conn| {
        let r = r.clone();
        async move {
            // Hold the connection, answering keep alive, until released.
            let released = r.notified();
            tokio::pin!(released);
            loop {
                let ping = Duration::from_secs(u64::from(keepalive.max(1)));
                tokio::select! {
                    () = &mut released => break,
                    () = tokio::time::sleep(ping), if keepalive > 0 => {
                        let _ = Packet::PingReq.encode(conn.version, &mut conn.wbuf);
                        if conn.flush_all().await.is_err() { break; }
                    }
                    r = conn.stream.readable() => {
                        if r.is_err() || !matches!(conn.read_ready(), Ok(true)) { break; }
                        while let Ok(Some(_)) = conn.decode() {}
                    }
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

fn report(c: &Common, json: &str, text: &str) {
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

async fn run_pub(a: args::PubArgs) -> Result<(), BenchError> {
    let c = a.common.clone();
    let live = Arc::new(Live::default());
    let stop = Arc::new(AtomicBool::new(false));
    let prog = progress(live.clone(), stop.clone(), c.count);
    let go = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(std::sync::OnceLock::<Instant>::new());
    let (l, g, s, pa) = (live.clone(), go.clone(), started.clone(), Arc::new(a.clone()));
    let (handles, connect_time) = spawn_clients(&c, &live, move |i, id, conn| {
        let (l, g, s, pa) = (l.clone(), g.clone(), s.clone(), pa.clone());
        async move {
            let wait = g.notified();
            tokio::pin!(wait);
            wait.as_mut().enable();
            if s.get().is_none() {
                wait.await;
            }
            let begin = *s.get().unwrap_or(&Instant::now());
            publisher(i, &id, conn, &pa, &l, begin).await
        }
    })
    .await?;
    let begin = Instant::now();
    let _ = started.set(begin);
    go.notify_waiters();
    let mut sent = 0u64;
    let mut acked = 0u64;
    for h in handles {
        if let Ok(Some((s, ak))) = h.await {
            sent += s;
            acked += ak;
        }
    }
    let elapsed = begin.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = prog.await;
    let errors = live.errors.load(Ordering::Relaxed);
    let rate = sent as f64 / elapsed.max(1e-9);
    report(
        &c,
        &format!(
            "{{\"mode\":\"pub\",\"clients\":{},\"connected\":{},\"qos\":{},\"size\":{},\"sent\":{sent},\"acked\":{acked},\"seconds\":{elapsed:.3},\"rate\":{rate:.1},\"errors\":{errors},\"connect_seconds\":{:.3}}}",
            c.count,
            live.connected.load(Ordering::Relaxed),
            a.qos,
            a.size,
            connect_time.as_secs_f64()
        ),
        &format!(
            "published {sent} messages ({acked} acknowledged) in {elapsed:.2} s: {rate:.0} msg/s from {} clients, QoS {}, {} bytes, {errors} errors",
            live.connected.load(Ordering::Relaxed),
            a.qos,
            a.size
        ),
    );
    Ok(())
}

/// Payloads larger than this are written straight from their buffer.
const DIRECT_PAYLOAD: usize = 1 << 20;

/// One publisher: publishes until the duration or message count is reached; returns (sent, acked).
async fn publisher(i: u32, id: &str, mut conn: Conn, a: &args::PubArgs, live: &Live, begin: Instant) -> (u64, u64) {
    let topic = expand(&a.topic, i, id);
    let qos = QoS::from_u8(a.qos).unwrap_or_default();
    let deadline = begin + Duration::from_secs_f64(a.common.duration);
    let window = usize::from(a.inflight.min(conn.receive_maximum).max(1));
    let props = PublishProperties::default();
    let mut filler = vec![b'x'; a.size as usize];
    let (mut sent, mut acked, mut seq) = (0u64, 0u64, 0u64);
    let mut inflight: std::collections::HashSet<u16> = std::collections::HashSet::new();
    let mut next_pid: u16 = 0;
    let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / a.rate));
    let mut next_at = begin;
    let mut local_sent = 0u64;
    let batch_bytes = 64 * 1024;
    loop {
        // Readiness does not spend tokio's budget; spend it so busy clients take turns.
        tokio::task::consume_budget().await;
        let now = Instant::now();
        let done = now >= deadline || (a.messages > 0 && sent >= a.messages);
        if done && (qos == QoS::AtMostOnce || inflight.is_empty()) && conn.wbuf.is_empty() {
            break;
        }
        // Queue as many messages as the window, the rate and the batch allow.
        while !done
            && conn.wbuf.len() < batch_bytes
            && (qos == QoS::AtMostOnce || inflight.len() < window)
            && (a.messages == 0 || sent < a.messages)
            && interval.is_none_or(|_| Instant::now() >= next_at)
        {
            let pid = if qos == QoS::AtMostOnce {
                None
            } else {
                loop {
                    next_pid = next_pid.wrapping_add(1).max(1);
                    if !inflight.contains(&next_pid) {
                        break;
                    }
                }
                inflight.insert(next_pid);
                PacketId::new(next_pid)
            };
            let header =
                PublishHeader { dup: false, qos, retain: a.retain, topic: &topic, packet_id: pid, properties: &props };
            let direct = filler.len() > DIRECT_PAYLOAD;
            // Large payloads go from their buffer to the socket, not through the output buffer: the
            // stamp then times the transfer, not a copy.
            if direct && conn.flush_all().await.is_err() {
                live.errors.fetch_add(1, Ordering::Relaxed);
                return (sent, acked);
            }
            stamp::write(&mut filler, stamp::now_nanos(), i, seq);
            seq += 1;
            if header.encode(filler.len(), conn.version, &mut conn.wbuf).is_err() {
                live.errors.fetch_add(1, Ordering::Relaxed);
                return (sent, acked);
            }
            if direct {
                if conn.flush_all().await.is_err() || conn.write_direct(&filler).await.is_err() {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    return (sent, acked);
                }
            } else {
                conn.wbuf.put_slice(&filler);
            }
            sent += 1;
            local_sent += 1;
            if let Some(iv) = interval {
                next_at += iv;
            }
        }
        if local_sent >= 256 || done {
            live.sent.fetch_add(local_sent, Ordering::Relaxed);
            local_sent = 0;
        }
        if conn.flush().is_err() {
            live.errors.fetch_add(1, Ordering::Relaxed);
            return (sent, acked);
        }
        let want_write = !conn.wbuf.is_empty();
        let can_send =
            !done && (qos == QoS::AtMostOnce || inflight.len() < window) && (a.messages == 0 || sent < a.messages);
        if can_send && !want_write && interval.is_none() {
            // The socket took everything and nothing limits us: queue the next batch (after letting other
            // tasks run).
            tokio::task::yield_now().await;
            continue;
        }
        let wake = if done {
            deadline.max(now) + Duration::from_secs(5)
        } else if interval.is_some() {
            next_at.min(deadline)
        } else {
            deadline
        };
        let waiting_for_window = qos != QoS::AtMostOnce && inflight.len() >= window;
        tokio::select! {
            r = conn.stream.readable() => {
                if r.is_err() || !matches!(conn.read_ready(), Ok(true)) {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    return (sent, acked);
                }
                loop {
                    match conn.decode() {
                        Ok(Some(Packet::PubAck(ack))) | Ok(Some(Packet::PubComp(ack))) => {
                            if inflight.remove(&ack.packet_id.get()) {
                                acked += 1;
                            }
                        }
                        Ok(Some(Packet::PubRec(ack))) => {
                            let _ = Packet::PubRel(Ack::new(ack.packet_id)).encode(conn.version, &mut conn.wbuf);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => {
                            live.errors.fetch_add(1, Ordering::Relaxed);
                            return (sent, acked);
                        }
                    }
                }
            }
            r = conn.stream.writable(), if want_write => {
                if r.is_err() {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    return (sent, acked);
                }
            }
            () = tokio::time::sleep_until(wake.into()), if !want_write || interval.is_some() || done || waiting_for_window => {
                if done && Instant::now() >= wake {
                    break; // acknowledgements did not come: stop anyway (the run is bounded)
                }
            }
        }
    }
    let _ = Packet::Disconnect(Default::default()).encode(conn.version, &mut conn.wbuf);
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.flush_all()).await;
    live.sent.fetch_add(local_sent, Ordering::Relaxed);
    (sent, acked)
}

async fn run_sub(a: args::SubArgs) -> Result<(), BenchError> {
    let c = a.common.clone();
    let live = Arc::new(Live::default());
    let stop = Arc::new(AtomicBool::new(false));
    let prog = progress(live.clone(), stop.clone(), c.count);
    let end = Arc::new(tokio::sync::Notify::new());
    let (l, e, sa) = (live.clone(), end.clone(), Arc::new(a.clone()));
    let (handles, connect_time) = spawn_clients(&c, &live, move |i, id, conn| {
        let (l, e, sa) = (l.clone(), e.clone(), sa.clone());
        async move { subscriber(i, &id, conn, &sa, &l, &e).await }
    })
    .await?;
    // Run for the duration, or until every client has its messages (`-n`).
    let all = futures_join(handles);
    tokio::pin!(all);
    let results = tokio::select! {
        r = &mut all => r,
        () = tokio::time::sleep(Duration::from_secs_f64(c.duration)) => {
            end.notify_waiters();
            all.await
        }
    };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|e| BenchError::Io(std::io::Error::other(e.to_string())))?;
    let (mut received, mut lost, mut ooo) = (0u64, 0u64, 0u64);
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for r in results {
        if let Ok(Some(Ok(r))) = r {
            let _ = hist.add(&r.hist);
            received += r.received;
            lost += r.lost;
            ooo += r.out_of_order;
            first = match (first, r.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = last.max(r.last);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = prog.await;
    let span = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    let rate = if span > 0.0 { received as f64 / span } else { 0.0 };
    let q = |p: f64| hist.value_at_quantile(p);
    let errors = live.errors.load(Ordering::Relaxed);
    report(
        &c,
        &format!(
            "{{\"mode\":\"sub\",\"clients\":{},\"connected\":{},\"qos\":{},\"received\":{received},\"seconds\":{span:.3},\"rate\":{rate:.1},\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{}}},\"lost\":{lost},\"out_of_order\":{ooo},\"errors\":{errors},\"connect_seconds\":{:.3}}}",
            c.count,
            live.connected.load(Ordering::Relaxed),
            a.qos,
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            hist.max(),
            connect_time.as_secs_f64()
        ),
        &format!(
            "received {received} messages in {span:.2} s: {rate:.0} msg/s on {} clients\nlatency µs: p50 {} p90 {} p99 {} p99.9 {} max {}\nlost {lost}, out of order {ooo}, errors {errors}",
            live.connected.load(Ordering::Relaxed),
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            hist.max()
        ),
    );
    Ok(())
}

/// One subscriber: subscribes, then counts, times and checks every message until told to end.
async fn subscriber(
    i: u32,
    id: &str,
    mut conn: Conn,
    a: &args::SubArgs,
    live: &Live,
    end: &tokio::sync::Notify,
) -> Result<SubResult, BenchError> {
    let ended = end.notified();
    tokio::pin!(ended);
    ended.as_mut().enable();
    let filter = expand(&a.topic, i, id);
    let qos = QoS::from_u8(a.qos).unwrap_or_default();
    let sub = Subscribe::new(PacketId::MIN, vec![(filter, SubscriptionOptions { qos, ..Default::default() })]);
    Packet::Subscribe(sub).encode(conn.version, &mut conn.wbuf).map_err(BenchError::Encode)?;
    conn.flush_all().await?;
    let mut r = SubResult {
        hist: Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .map_err(|e| BenchError::Io(std::io::Error::other(e.to_string())))?,
        received: 0,
        lost: 0,
        out_of_order: 0,
        first: None,
        last: None,
    };
    let mut expected: HashMap<u32, u64> = HashMap::new();
    loop {
        tokio::task::consume_budget().await;
        let want_write = !conn.wbuf.is_empty();
        tokio::select! {
            () = &mut ended => break,
            res = conn.stream.readable() => {
                if res.is_err() || !conn.read_ready()? {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                let now_ns = stamp::now_nanos();
                let now = Instant::now();
                let mut n = 0u64;
                while let Some(p) = conn.decode()? {
                    match p {
                        Packet::Publish(p) => {
                            n += 1;
                            if let Some((sent, publisher, seq)) = stamp::read(&p.payload) {
                                r.hist.saturating_record(now_ns.saturating_sub(sent) / 1000);
                                let next = expected.entry(publisher).or_insert(0);
                                if seq >= *next {
                                    r.lost += seq - *next;
                                    *next = seq + 1;
                                } else {
                                    r.out_of_order += 1;
                                }
                            }
                            match (p.qos, p.packet_id) {
                                (QoS::AtLeastOnce, Some(id)) => { let _ = Packet::PubAck(Ack::new(id)).encode(conn.version, &mut conn.wbuf); }
                                (QoS::ExactlyOnce, Some(id)) => { let _ = Packet::PubRec(Ack::new(id)).encode(conn.version, &mut conn.wbuf); }
                                _ => {}
                            }
                        }
                        Packet::PubRel(a) => { let _ = Packet::PubComp(Ack::new(a.packet_id)).encode(conn.version, &mut conn.wbuf); }
                        _ => {}
                    }
                }
                if n > 0 {
                    r.received += n;
                    live.received.fetch_add(n, Ordering::Relaxed);
                    r.first.get_or_insert(now);
                    r.last = Some(now);
                }
                conn.flush()?;
                if a.messages > 0 && r.received >= a.messages {
                    break;
                }
            }
            res = conn.stream.writable(), if want_write => {
                res.map_err(BenchError::Io)?;
                conn.flush()?;
            }
        }
    }
    let _ = Packet::Disconnect(Default::default()).encode(conn.version, &mut conn.wbuf);
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.flush_all()).await;
    Ok(r)
}
