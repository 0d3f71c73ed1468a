//! Listeners: sockets bound from the configuration before the runtime starts (so privileges can be
//! dropped after binding), then accept loops that spawn one connection task per client.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mq_config::{ListenerAddr, SocketDomain};
use socket2::{Domain, Protocol, Socket, Type};

use crate::broker::Broker;
use crate::connection;
use crate::log;
use crate::settings::ListenerCtx;
use crate::stream::Stream;

/// A bound socket waiting for the runtime.
#[derive(Debug)]
pub enum BoundSocket {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, PathBuf),
}

/// Why a listener could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("unable to open listener {what}: {source}")]
pub struct BindError {
    pub what: String,
    #[source]
    pub source: io::Error,
}

/// Binds every socket of one configured listener. A host name resolves to possibly several
/// addresses; without a host, IPv4 and IPv6 wildcards are bound (as restricted by `socket_domain`).
pub fn bind(
    addr: &ListenerAddr,
    domain: Option<SocketDomain>,
    interface: Option<&str>,
    local_only: bool,
) -> Result<Vec<BoundSocket>, BindError> {
    match addr {
        ListenerAddr::Unix { path } => {
            // A stale socket file from an earlier run would make bind fail.
            let _ = std::fs::remove_file(path);
            let l = std::os::unix::net::UnixListener::bind(path)
                .map_err(|source| BindError { what: path.display().to_string(), source })?;
            l.set_nonblocking(true).map_err(|source| BindError { what: path.display().to_string(), source })?;
            Ok(vec![BoundSocket::Unix(l, path.clone())])
        }
        ListenerAddr::Tcp { port, host } => {
            let addrs: Vec<SocketAddr> = match host {
                Some(h) => (h.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|source| BindError { what: format!("{h}:{port}"), source })?
                    .collect(),
                None => vec![SocketAddr::from(([0, 0, 0, 0], *port)), SocketAddr::from(([0u16; 8], *port))],
            };
            let addrs: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match domain {
                    Some(SocketDomain::Ipv4) => a.is_ipv4(),
                    Some(SocketDomain::Ipv6) => a.is_ipv6(),
                    None => true,
                })
                .collect();
            let mut out = Vec::new();
            let mut last_err = None;
            for a in addrs {
                match bind_tcp(a, interface) {
                    Ok(l) => out.push(BoundSocket::Tcp(l)),
                    // In local-only mode a machine without IPv6 still gets its IPv4 loopback listener.
                    Err(e) if local_only && a.is_ipv6() => {
                        log!(Warning, "Unable to open listener on [{}]:{}: {e}.", a.ip(), a.port());
                    }
                    Err(e) => last_err = Some(BindError { what: a.to_string(), source: e }),
                }
            }
            match (out.is_empty(), last_err) {
                (_, Some(e)) => Err(e),
                (true, None) => Err(BindError {
                    what: format!("port {port}"),
                    source: io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to bind"),
                }),
                (false, None) => Ok(out),
            }
        }
    }
}

fn bind_tcp(addr: SocketAddr, interface: Option<&str>) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // IPv4 has its own socket: keep the IPv6 one from claiming IPv4 too.
        socket.set_only_v6(true)?;
    }
    if let Some(dev) = interface {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A listening socket on the runtime.
enum Listening {
    Tcp(tokio::net::TcpListener, bool),
    Unix(tokio::net::UnixListener, PathBuf),
}

impl Listening {
    fn new(socket: BoundSocket, nodelay: bool) -> io::Result<Listening> {
        Ok(match socket {
            BoundSocket::Tcp(l) => Listening::Tcp(tokio::net::TcpListener::from_std(l)?, nodelay),
            BoundSocket::Unix(l, path) => Listening::Unix(tokio::net::UnixListener::from_std(l)?, path),
        })
    }

    /// The next client: its stream and how to name it in logs.
    async fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listening::Tcp(l, nodelay) => {
                let (stream, peer) = l.accept().await?;
                if *nodelay {
                    let _ = stream.set_nodelay(true);
                }
                Ok((Stream::tcp(stream), format!("{}:{}", peer.ip(), peer.port())))
            }
            Listening::Unix(l, path) => Ok((Stream::unix(l.accept().await?.0), path.display().to_string())),
        }
    }
}

/// A descriptor held in reserve for when the process runs out: closing it lets the accept loop take the
/// connections waiting and close them at once, so their clients hear straight away (Mosquitto drops
/// them too) instead of hanging after their CONNECT until a descriptor frees up.
static RESERVE: parking_lot::Mutex<Option<std::fs::File>> = parking_lot::Mutex::new(None);

/// When "too many open files" was last logged (broker ms + 1; 0: never) and connections dropped since.
static FD_LOGGED_AT: AtomicU64 = AtomicU64::new(0);
static FD_DROPPED: AtomicU64 = AtomicU64::new(0);
/// At most one log line about running out of descriptors per this many milliseconds.
const FD_LOG_EVERY_MS: u64 = 10_000;

fn refill_reserve() {
    let mut r = RESERVE.lock();
    if r.is_none() {
        *r = std::fs::File::open("/dev/null").ok();
    }
}

/// Whether an accept failed because the process or the system is out of file descriptors.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == nix::errno::Errno::EMFILE as i32 || code == nix::errno::Errno::ENFILE as i32)
}

/// Out of descriptors: frees the reserve, accepts and closes every connection waiting, takes the
/// reserve back; logs once per [`FD_LOG_EVERY_MS`] with how many were dropped.
async fn shed(broker: &Broker, listening: &Listening, e: &io::Error) {
    drop(RESERVE.lock().take());
    let mut dropped = 0u64;
    // Each poll accepts at once or finds the queue empty (a zero timeout never waits).
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::ZERO, listening.accept()).await {
        dropped += 1;
    }
    refill_reserve();
    let total = FD_DROPPED.fetch_add(dropped, Ordering::Relaxed) + dropped;
    let now = broker.now_ms() + 1;
    let last = FD_LOGGED_AT.load(Ordering::Relaxed);
    if (last == 0 || now >= last + FD_LOG_EVERY_MS)
        && FD_LOGGED_AT.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        FD_DROPPED.store(0, Ordering::Relaxed);
        log!(
            Error,
            "Unable to accept new connection: {e}; closed {total} new connections at once (logged at most every {} s).",
            FD_LOG_EVERY_MS / 1000
        );
    }
    if dropped == 0 {
        // Nothing could be freed (another thread took the descriptor): back off briefly.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Accepts connections on one socket until shutdown.
pub async fn accept_loop(broker: Arc<Broker>, ctx: Arc<ListenerCtx>, socket: BoundSocket) {
    let listening = match Listening::new(socket, broker.settings().set_tcp_nodelay) {
        Ok(l) => l,
        Err(e) => {
            log!(Error, "Unable to use listener: {e}.");
            return;
        }
    };
    refill_reserve();
    loop {
        let accepted = tokio::select! {
            () = broker.wait_shutdown() => break,
            r = listening.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => spawn_connection(&broker, &ctx, stream, peer),
            Err(e) if out_of_descriptors(&e) => shed(&broker, &listening, &e).await,
            Err(e) => accept_error(e).await,
        }
    }
    if let Listening::Unix(_, path) = &listening {
        let _ = std::fs::remove_file(path);
    }
}

/// Other accept failures: log, back off briefly, go on.
async fn accept_error(e: io::Error) {
    log!(Error, "Unable to accept new connection: {e}.");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn spawn_connection(broker: &Arc<Broker>, ctx: &Arc<ListenerCtx>, stream: Stream, peer: String) {
    ctx.traffic.accepted.fetch_add(1, Ordering::Relaxed);
    if let Some(max) = ctx.max_connections
        && ctx.connections.load(Ordering::Relaxed) >= max
    {
        log!(Notice, "Client connection from {peer} denied: max_connections exceeded.");
        return;
    }
    ctx.connections.fetch_add(1, Ordering::Relaxed);
    broker.active_connections.fetch_add(1, Ordering::AcqRel);
    // `serve` undoes the counts itself: a wrapper future would hold a second copy of its arguments
    // for the connection's whole life.
    tokio::spawn(connection::serve(Box::new(connection::Accepted {
        broker: broker.clone(),
        listener: ctx.clone(),
        stream,
        peer,
    })));
}
