//! The broker in this process ([`mq_broker::start`]), talked to over loopback by `rumqttc`, an
//! independent client: routing, sessions, retained messages, parking and reload, without spawning a
//! process per test. The end-to-end tests in `bins/tests/e2e` run the real binary.

use std::time::Duration;

use mq_broker::{Control, Running};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// A broker on a free loopback port with `extra` configuration lines.
async fn broker(extra: &str) -> (Running, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let text = format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest none\n{extra}\n");
    let (cfg, _) = mq_config::parse_str(&text, "test.conf").expect("config");
    let running = mq_broker::start(cfg, None).await.expect("broker starts");
    (running, port)
}

/// A client whose event loop runs in a task, handing over publications and acknowledgements.
struct Client {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Packet>,
}

async fn client(port: u16, id: &str, clean: bool) -> (Client, bool) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_clean_session(clean);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut el): (AsyncClient, EventLoop) = AsyncClient::new(o, 100);
    let present = loop {
        let ev = tokio::time::timeout(WAIT, el.poll()).await.expect("CONNACK in time").expect("connects");
        if let Event::Incoming(Packet::ConnAck(a)) = ev {
            break a.session_present;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            if let Event::Incoming(p) = ev
                && tx.send(p).is_err()
            {
                return;
            }
        }
    });
    (Client { client, rx }, present)
}

impl Client {
    async fn next(&mut self, what: &str, mut pick: impl FnMut(&Packet) -> bool) -> Packet {
        loop {
            let p = tokio::time::timeout(WAIT, self.rx.recv()).await.unwrap_or_else(|_| panic!("no {what}"));
            let p = p.unwrap_or_else(|| panic!("connection ended waiting for {what}"));
            if pick(&p) {
                return p;
            }
        }
    }

    async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.client.subscribe(filter, qos).await.expect("subscribe");
        self.next("SUBACK", |p| matches!(p, Packet::SubAck(_))).await;
    }

    async fn publish(&self, topic: &str, qos: QoS, retain: bool, payload: &str) {
        self.client.publish(topic, qos, retain, payload.as_bytes().to_vec()).await.expect("publish");
    }

    /// The next PUBLISH, as (topic, payload).
    async fn message(&mut self) -> (String, String) {
        match self.next("PUBLISH", |p| matches!(p, Packet::Publish(_))).await {
            Packet::Publish(p) => (p.topic, String::from_utf8_lossy(&p.payload).into_owned()),
            _ => unreachable!(),
        }
    }
}

fn pair(t: &str, p: &str) -> (String, String) {
    (t.to_owned(), p.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_wildcards_overlaps_and_retained() {
    let (b, port) = broker("").await;
    let (mut s, _) = client(port, "s", true).await;
    s.subscribe("a/+/c", QoS::AtLeastOnce).await;
    s.subscribe("a/#", QoS::AtMostOnce).await;
    let (p, _) = client(port, "p", true).await;
    p.publish("a/b/c", QoS::AtLeastOnce, true, "one").await;
    p.publish("x/y", QoS::AtLeastOnce, false, "not").await;
    p.publish("a/z", QoS::AtLeastOnce, false, "two").await;
    // Overlapping subscriptions deliver one copy; unmatched topics none.
    assert_eq!(s.message().await, pair("a/b/c", "one"));
    assert_eq!(s.message().await, pair("a/z", "two"));
    // A later subscriber gets the retained message.
    let (mut late, _) = client(port, "late", true).await;
    late.subscribe("a/#", QoS::AtLeastOnce).await;
    assert_eq!(late.message().await, pair("a/b/c", "one"));
    let mut retained = Vec::new();
    b.broker.retained.read().matching("a/#", std::time::Instant::now(), &mut retained);
    assert_eq!(retained.len(), 1);
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_session_keeps_what_was_queued() {
    let (b, port) = broker("").await;
    let (mut s, present) = client(port, "keeper", false).await;
    assert!(!present);
    s.subscribe("q/#", QoS::AtLeastOnce).await;
    s.client.disconnect().await.expect("disconnect");
    drop(s);
    let (p, _) = client(port, "feeder", true).await;
    for i in 0..5 {
        p.publish("q/t", QoS::AtLeastOnce, false, &format!("m{i}")).await;
    }
    // Wait until the five are queued for the offline session.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let queued = b.broker.sessions.lock().get("keeper").map(|s| s.state.lock().backlog().0);
        if queued == Some(5) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "queued: {queued:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (mut s, present) = client(port, "keeper", false).await;
    assert!(present);
    for i in 0..5 {
        assert_eq!(s.message().await, pair("q/t", &format!("m{i}")));
    }
    // A clean start drops the session.
    drop(s);
    let (_s, present) = client(port, "keeper", true).await;
    assert!(!present);
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_park_and_still_receive() {
    let (b, port) = broker("").await;
    let (mut s, _) = client(port, "sleeper", true).await;
    s.subscribe("wake/#", QoS::AtLeastOnce).await;
    let lot = b.broker.lot.clone().expect("parking available");
    // Idle for two seconds: the sweep parks it.
    let deadline = tokio::time::Instant::now() + WAIT;
    while lot.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never parked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (p, _) = client(port, "waker", true).await;
    p.publish("wake/up", QoS::AtLeastOnce, false, "now").await;
    assert_eq!(s.message().await, pair("wake/up", "now"));
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_traffic_takes_parked_connections_back_into_the_runtime() {
    let (b, port) = broker("").await;
    let (mut s, _) = client(port, "steady-sub", true).await;
    s.subscribe("steady/#", QoS::AtLeastOnce).await;
    let (p, _) = client(port, "steady-pub", true).await;
    let lot = b.broker.lot.clone().expect("parking available");
    // Both connections had nothing to do: parked at once.
    let deadline = tokio::time::Instant::now() + WAIT;
    while lot.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "never parked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A message every 10 ms: one wake is served on the parked socket, the next ones so soon after it
    // bring both connections back into the runtime, where they stay while the traffic goes on (rather
    // than resuming and parking again for every message).
    for i in 0..30 {
        p.publish("steady/x", QoS::AtLeastOnce, false, &i.to_string()).await;
        assert_eq!(s.message().await, pair("steady/x", &i.to_string()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lot.len(), 0, "connections with steady traffic still parked");
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_new_limits_and_wills_are_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let path = dir.path().join("b.conf");
    let conf = |extra: &str| format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest none\n{extra}\n");
    std::fs::write(&path, conf("")).expect("write");
    let (cfg, _) = mq_config::load(&path).expect("config");
    let b = mq_broker::start(cfg, Some(path.clone())).await.expect("starts");
    assert_eq!(b.broker.settings().queue.max_messages, 1000);
    std::fs::write(&path, conf("max_queued_messages 7")).expect("write");
    let before = b.broker.generation.load(std::sync::atomic::Ordering::Acquire);
    b.control(Control::Reload).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while b.broker.generation.load(std::sync::atomic::Ordering::Acquire) == before {
        assert!(tokio::time::Instant::now() < deadline, "never reloaded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.broker.settings().queue.max_messages, 7);

    // A client going away without DISCONNECT: its will is published.
    let (mut watcher, _) = client(port, "watcher", true).await;
    watcher.subscribe("will/#", QoS::AtLeastOnce).await;
    let mut o = MqttOptions::new("with-will", "127.0.0.1", port);
    o.set_last_will(rumqttc::LastWill::new("will/x", "gone", QoS::AtLeastOnce, false));
    let (_c, mut el) = AsyncClient::new(o, 10);
    while !matches!(el.poll().await, Ok(Event::Incoming(Packet::ConnAck(_)))) {}
    drop(el);
    assert_eq!(watcher.message().await, pair("will/x", "gone"));
    b.shutdown().await.expect("clean shutdown");
}
