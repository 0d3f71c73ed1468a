//! The metrics endpoint (`metrics_listener <port> [bind address]`, mq only): `GET /metrics` answers
//! the broker's figures in the Prometheus text exposition format 0.0.4, the `$SYS` counters and
//! gauges plus per-listener figures labelled by port and protocol.
//!
//! The HTTP served is the least a scraper needs: one request per connection (`Connection: close`),
//! `GET` or `HEAD`, a request head of at most [`HEAD_LIMIT`] bytes read within [`REQUEST_TIMEOUT`],
//! at most [`MAX_CONNECTIONS`] connections at once (more are closed at once).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::broker::Broker;
use crate::listener::BoundSocket;
use crate::log;
use crate::settings::ListenerCtx;
use crate::stats::Stats;
use crate::sys::Figures;

/// Largest request head read.
const HEAD_LIMIT: usize = 8 * 1024;
/// A request must arrive, and its answer be written, within this time.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;
/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves the endpoint on `sockets` until shutdown.
pub async fn serve(broker: Arc<Broker>, listeners: Vec<Arc<ListenerCtx>>, sockets: Vec<BoundSocket>) {
    let listeners = Arc::new(listeners);
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    for socket in sockets {
        let BoundSocket::Tcp(std_listener) = socket else { continue };
        let listener = match tokio::net::TcpListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => {
                log!(Error, "Unable to use the metrics listener: {e}.");
                continue;
            }
        };
        let (broker, listeners, permits) = (broker.clone(), listeners.clone(), permits.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = broker.wait_shutdown() => return,
                    r = listener.accept() => r,
                };
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors or similar: the MQTT listeners report it; wait a little.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else { continue };
                let (broker, listeners) = (broker.clone(), listeners.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &broker, &listeners)).await;
                    drop(permit);
                });
            }
        });
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: TcpStream, broker: &Broker, listeners: &[Arc<ListenerCtx>]) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let (status, body, head_only) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                let path = req.path.unwrap_or_default();
                let path = path.split_once('?').map_or(path, |(p, _)| p);
                break match (req.method.unwrap_or_default(), path) {
                    (m @ ("GET" | "HEAD"), "/metrics") => ("200 OK", render(broker, listeners), m == "HEAD"),
                    ("GET" | "HEAD", _) => ("404 Not Found", "Not found: the metrics are at /metrics.\n".into(), false),
                    _ => ("405 Method Not Allowed", "Only GET and HEAD are served.\n".into(), false),
                };
            }
            Ok(httparse::Status::Partial) if head.len() < HEAD_LIMIT => {}
            Ok(httparse::Status::Partial) => {
                break ("431 Request Header Fields Too Large", "Request head too large.\n".into(), false);
            }
            Err(_) => break ("400 Bad Request", "Bad request.\n".into(), false),
        }
    };
    let content_type = if status.starts_with("200") { CONTENT_TYPE } else { "text/plain; charset=utf-8" };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&body);
    }
    stream.write_all(out.as_bytes()).await?;
    stream.shutdown().await
}

/// One metric family: its samples, with their labels.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, u64)>,
}

/// The exposition text of the broker's figures now.
pub fn render(broker: &Broker, listeners: &[Arc<ListenerCtx>]) -> String {
    let s = &broker.stats;
    let get = |c: &AtomicU64| Stats::get(c);
    let f = Figures::gather(broker);
    let one = |name, kind, help, v: u64| Family { name, kind, help, samples: vec![(String::new(), v)] };
    let n = |v: usize| v as u64;
    let mut families = vec![
        Family {
            name: "mq_info",
            kind: "gauge",
            help: "The broker's version, as a label.",
            samples: vec![(format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1)],
        },
        one("mq_uptime_seconds", "gauge", "Seconds since the broker started.", f.uptime_secs),
        one("mq_clients_connected", "gauge", "Clients connected now.", n(f.connected)),
        one(
            "mq_clients_disconnected",
            "gauge",
            "Persistent sessions of clients not connected now.",
            n(f.total.saturating_sub(f.connected)),
        ),
        one("mq_clients_total", "gauge", "Sessions, of connected and disconnected clients.", n(f.total)),
        one("mq_clients_maximum", "gauge", "Most sessions at once since start.", f.maximum),
        one("mq_clients_parked", "gauge", "Connected clients parked while idle.", n(f.parked)),
        one("mq_clients_expired_total", "counter", "Sessions expired.", get(&s.expired)),
        one("mq_sockets_total", "counter", "Network connections accepted.", get(&s.sockets)),
        one("mq_connections_total", "counter", "CONNECT packets accepted.", get(&s.connections)),
        one("mq_messages_received_total", "counter", "MQTT packets received, of any type.", get(&s.msgs_received)),
        one("mq_messages_sent_total", "counter", "MQTT packets sent, of any type.", get(&s.msgs_sent)),
        one("mq_publish_messages_received_total", "counter", "PUBLISH packets received.", get(&s.pub_received)),
        one("mq_publish_messages_sent_total", "counter", "PUBLISH packets sent.", get(&s.pub_sent)),
        one(
            "mq_publish_messages_dropped_total",
            "counter",
            "Deliveries dropped by queue limits, size limits or expiry.",
            get(&s.pub_dropped),
        ),
        one(
            "mq_publish_bytes_received_total",
            "counter",
            "PUBLISH payload bytes received.",
            get(&s.pub_bytes_received),
        ),
        one("mq_publish_bytes_sent_total", "counter", "PUBLISH payload bytes sent.", get(&s.pub_bytes_sent)),
        one("mq_bytes_received_total", "counter", "Bytes read from client sockets.", get(&s.bytes_received)),
        one("mq_bytes_sent_total", "counter", "Bytes written to client sockets.", get(&s.bytes_sent)),
        one("mq_retained_messages", "gauge", "Retained messages held.", n(f.retained)),
        one("mq_subscriptions", "gauge", "Subscriptions, shared ones included.", n(f.subscriptions)),
        one("mq_shared_subscriptions", "gauge", "Shared subscriptions.", n(f.shared_subscriptions)),
        one(
            "mq_store_messages",
            "gauge",
            "Messages held: queued or in flight for sessions, and retained.",
            n(f.queued + f.retained),
        ),
        one("mq_store_bytes", "gauge", "Payload bytes of the messages held.", n(f.queued_bytes + f.retained_bytes)),
        one("mq_resident_memory_bytes", "gauge", "Resident memory of the broker process.", f.resident),
        one("mq_resident_memory_max_bytes", "gauge", "Peak resident memory of the broker process.", f.resident_peak),
        one(
            "mq_log_lines_dropped_total",
            "counter",
            "Log lines dropped because the log could not keep up.",
            log::logger().dropped(),
        ),
    ];
    // Per listener, by port and protocol (listeners sharing both are added up; Unix sockets left out).
    let mut by_listener: BTreeMap<(u16, &str), [u64; 4]> = BTreeMap::new();
    for l in listeners.iter().filter(|l| l.port != 0) {
        let t = &l.traffic;
        let sums = by_listener.entry((l.port, l.protocol())).or_default();
        sums[0] += u64::from(l.connections.load(Ordering::Relaxed));
        sums[1] += t.accepted.load(Ordering::Relaxed);
        sums[2] += t.bytes_received.load(Ordering::Relaxed);
        sums[3] += t.bytes_sent.load(Ordering::Relaxed);
    }
    let per_listener = [
        ("mq_listener_connections", "gauge", "Connections open now on the listener."),
        ("mq_listener_connections_total", "counter", "Connections accepted by the listener."),
        ("mq_listener_bytes_received_total", "counter", "Bytes read from the listener's clients."),
        ("mq_listener_bytes_sent_total", "counter", "Bytes written to the listener's clients."),
    ];
    for (i, (name, kind, help)) in per_listener.into_iter().enumerate() {
        let samples = by_listener
            .iter()
            .map(|((port, protocol), sums)| {
                (format!("{{port=\"{port}\",protocol=\"{protocol}\"}}"), sums.get(i).copied().unwrap_or(0))
            })
            .collect();
        families.push(Family { name, kind, help, samples });
    }
    let mut out = String::with_capacity(8 * 1024);
    for fam in families {
        let _ = writeln!(out, "# HELP {} {}", fam.name, fam.help);
        let _ = writeln!(out, "# TYPE {} {}", fam.name, fam.kind);
        for (labels, v) in fam.samples {
            let _ = writeln!(out, "{}{labels} {v}", fam.name);
        }
    }
    out
}
