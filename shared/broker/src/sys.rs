//! The `$SYS/broker/...` tree (Mosquitto's `sys_tree.c`): broker statistics published as retained
//! messages every `sys_interval` seconds, each topic only when its value changed (uptime always), so
//! `mq-sub -v -t '$SYS/#'` shows the whole tree at once.
//!
//! Differences from Mosquitto: the values carry no message expiry (Mosquitto 2.0.11 gave them 60 s, so
//! late subscribers missed unchanged values, a bug fixed in 2.0.16); `heap/current` and
//! `heap/maximum` report the process's resident and peak resident memory, which every build can
//! measure (Mosquitto needs a memory-tracking build).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mq_proto::QoS;

use crate::broker::Broker;
use crate::message::Message;
use crate::settings::ListenerCtx;
use crate::stats::Stats;

/// The version string published once at start.
pub fn version_string() -> String {
    format!("mq version {}", env!("CARGO_PKG_VERSION"))
}

/// Exponentially damped per-minute rates over 1, 5 and 15 minutes, as Mosquitto computes its `load/`
/// values.
struct Load {
    last: u64,
    avg: [f64; 3],
}

impl Load {
    fn update(&mut self, count: u64, dt: f64) -> [f64; 3] {
        let rate = count.saturating_sub(self.last) as f64 * 60.0 / dt;
        self.last = count;
        for (avg, period) in self.avg.iter_mut().zip([60.0, 300.0, 900.0]) {
            *avg = rate + (-dt / period).exp() * (*avg - rate);
        }
        self.avg
    }
}

/// Publishes the tree until shutdown; `ready` hears once the first values are in the retained store.
pub async fn run(broker: Arc<Broker>, listeners: Vec<Arc<ListenerCtx>>, ready: tokio::sync::oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let mut last_values: HashMap<String, String> = HashMap::new();
    let mut loads: HashMap<&'static str, Load> = HashMap::new();
    let mut last_tick = Instant::now();
    // Like Mosquitto, `sys_interval 0` publishes nothing at all, the version included.
    let mut version_sent = false;
    loop {
        let interval = broker.settings().sys_interval;
        if interval > 0 {
            if !version_sent {
                publish(&broker, "$SYS/broker/version", version_string());
                version_sent = true;
            }
            let now = Instant::now();
            let dt = now.duration_since(last_tick).as_secs_f64().max(1e-3);
            last_tick = now;
            let mut values = snapshot(&broker, &mut loads, dt);
            values.extend(listener_values(&listeners));
            for (topic, value) in values {
                let changed = last_values.get(&topic) != Some(&value);
                if changed || topic == "$SYS/broker/uptime" {
                    publish(&broker, &topic, value.clone());
                    last_values.insert(topic, value);
                }
            }
        }
        if let Some(r) = ready.take() {
            let _ = r.send(());
        }
        let wait = Duration::from_secs(u64::from(interval.max(1)));
        tokio::select! {
            () = broker.wait_shutdown() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

fn publish(broker: &Broker, topic: &str, value: String) {
    // Mosquitto queues $SYS values at QoS 2; subscribers get min(2, their QoS).
    broker.publish_internal(Message::from_broker(topic, Bytes::from(value), QoS::ExactlyOnce, true));
}

/// Resident and peak resident memory in bytes, from `/proc/self/status`.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// mq's own `$SYS/broker/listeners/<port>/...`: each listener's protocol (`mqtt`, `mqtts`, `ws`,
/// `wss`) and its current connections. Listeners on Unix sockets are left out.
fn listener_values(listeners: &[Arc<ListenerCtx>]) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for l in listeners.iter().filter(|l| l.port != 0) {
        let base = format!("$SYS/broker/listeners/{}", l.port);
        v.push((format!("{base}/protocol"), l.protocol().to_owned()));
        v.push((format!("{base}/connections"), l.connections.load(Ordering::Relaxed).to_string()));
    }
    v
}

/// The broker's figures at one moment, for `$SYS` and the metrics endpoint.
pub struct Figures {
    pub uptime_secs: u64,
    /// Sessions (connected clients and disconnected persistent ones).
    pub total: usize,
    pub connected: usize,
    pub maximum: u64,
    /// Connected clients parked while idle.
    pub parked: usize,
    /// Messages queued for sessions or in flight, and their payload bytes.
    pub queued: usize,
    pub queued_bytes: usize,
    pub retained: usize,
    pub retained_bytes: usize,
    pub subscriptions: usize,
    pub shared_subscriptions: usize,
    /// Resident and peak resident memory in bytes.
    pub resident: u64,
    pub resident_peak: u64,
}

impl Figures {
    /// Gathers the figures (visiting every session for its queue).
    pub fn gather(broker: &Broker) -> Figures {
        let (total, connected) = broker.session_counts();
        let (mut queued, mut queued_bytes) = (0usize, 0usize);
        for session in broker.sessions.lock().values() {
            let st = session.state.lock();
            let (n, bytes) = st.backlog();
            queued += n;
            queued_bytes += bytes;
        }
        let (retained, retained_bytes) = {
            let r = broker.retained.read();
            (r.len(), r.bytes())
        };
        let (subscriptions, shared_subscriptions) = {
            let t = broker.subs.read();
            (t.count(), t.shared_count())
        };
        let (resident, resident_peak) = memory();
        Figures {
            uptime_secs: broker.started.elapsed().as_secs(),
            total,
            connected,
            maximum: broker.max_sessions.load(Ordering::Relaxed),
            parked: broker.lot.as_ref().map_or(0, |l| l.len()),
            queued,
            queued_bytes,
            retained,
            retained_bytes,
            subscriptions,
            shared_subscriptions,
            resident,
            resident_peak,
        }
    }
}

fn snapshot(broker: &Broker, loads: &mut HashMap<&'static str, Load>, dt: f64) -> Vec<(String, String)> {
    let s = &broker.stats;
    let get = |c: &AtomicU64| Stats::get(c);
    let f = Figures::gather(broker);
    let (total, connected) = (f.total, f.connected);
    let mut v: Vec<(String, String)> = vec![
        ("uptime".into(), format!("{} seconds", f.uptime_secs)),
        ("clients/total".into(), total.to_string()),
        ("clients/connected".into(), connected.to_string()),
        ("clients/active".into(), connected.to_string()),
        ("clients/disconnected".into(), (total - connected).to_string()),
        ("clients/inactive".into(), (total - connected).to_string()),
        ("clients/maximum".into(), f.maximum.to_string()),
        ("clients/expired".into(), get(&s.expired).to_string()),
        // Connected clients idle long enough to be parked (mq's own topic; see the broker's `park` module).
        ("clients/parked".into(), f.parked.to_string()),
        ("messages/received".into(), get(&s.msgs_received).to_string()),
        ("messages/sent".into(), get(&s.msgs_sent).to_string()),
        ("messages/stored".into(), (f.queued + f.retained).to_string()),
        ("store/messages/count".into(), (f.queued + f.retained).to_string()),
        ("store/messages/bytes".into(), (f.queued_bytes + f.retained_bytes).to_string()),
        ("publish/messages/received".into(), get(&s.pub_received).to_string()),
        ("publish/messages/sent".into(), get(&s.pub_sent).to_string()),
        ("publish/messages/dropped".into(), get(&s.pub_dropped).to_string()),
        ("publish/bytes/received".into(), get(&s.pub_bytes_received).to_string()),
        ("publish/bytes/sent".into(), get(&s.pub_bytes_sent).to_string()),
        ("bytes/received".into(), get(&s.bytes_received).to_string()),
        ("bytes/sent".into(), get(&s.bytes_sent).to_string()),
        ("retained messages/count".into(), f.retained.to_string()),
        ("subscriptions/count".into(), f.subscriptions.to_string()),
        ("shared_subscriptions/count".into(), f.shared_subscriptions.to_string()),
        ("heap/current".into(), f.resident.to_string()),
        ("heap/maximum".into(), f.resident_peak.to_string()),
    ];
    let counters: [(&'static str, u64); 9] = [
        ("messages/received", get(&s.msgs_received)),
        ("messages/sent", get(&s.msgs_sent)),
        ("publish/received", get(&s.pub_received)),
        ("publish/sent", get(&s.pub_sent)),
        ("publish/dropped", get(&s.pub_dropped)),
        ("bytes/received", get(&s.bytes_received)),
        ("bytes/sent", get(&s.bytes_sent)),
        ("sockets", get(&s.sockets)),
        ("connections", get(&s.connections)),
    ];
    for (name, count) in counters {
        let load = loads.entry(name).or_insert(Load { last: count, avg: [0.0; 3] });
        let avg = load.update(count, dt);
        for (suffix, value) in ["1min", "5min", "15min"].into_iter().zip(avg) {
            v.push((format!("load/{name}/{suffix}"), format!("{value:.2}")));
        }
    }
    v.into_iter().map(|(k, val)| (format!("$SYS/broker/{k}"), val)).collect()
}
