//! Bridges to hostile remotes: fake remotes written here (a TCP listener and a few hand-made packets)
//! that refuse the CONNECT (3.1.1 return code 5, MQTT 5 reason 0x87), accept it then close in the middle
//! of a packet, answer with garbage, or accept everything and never acknowledge a QoS 1 PUBLISH. In each
//! case the local broker keeps serving its own clients (a `rumqttc` round trip while the remote is
//! retried), the bridge retries at the pace `restart_timeout` sets (attempts counted by the fake), and
//! the broker does not crash; messages the remote never acknowledged reach a good remote afterwards.
//! A remote scripted by the test checks what goes again after a reconnect (same packet identifiers,
//! DUP, PUBREL), acknowledgements for identifiers not in flight, and a PUBLISH with a wildcard topic.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::broker_util::{Raw, V4, sys_value_reaches, tp, wire};
use crate::harness::{Broker, TIMEOUT};

/// What a fake remote does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// CONNACK return code 5 (not authorized), then close.
    Refuse,
    /// MQTT 5 CONNACK reason 0x87 (not authorized), then close.
    RefuseV5,
    /// CONNACK accepted; at the next packet, the first bytes of a PUBLISH, then close.
    CloseMidStream,
    /// Answers the CONNECT with bytes that are no MQTT.
    Garbage,
    /// Accepts, acknowledges SUBSCRIBE and PINGREQ, and never acknowledges a PUBLISH.
    NeverAck,
}

/// A fake remote on a free port, stopped on drop.
struct Fake {
    port: u16,
    /// When each CONNECT packet came in.
    connects: Arc<Mutex<Vec<Instant>>>,
    /// PUBLISH packets received (their payloads, in order).
    published: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    fn start(behaviour: Behaviour) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let connects = Arc::new(Mutex::new(Vec::new()));
        let published = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, p, s) = (connects.clone(), published.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (c, p, s) = (c.clone(), p.clone(), s.clone());
                        conns.push(std::thread::spawn(move || serve(stream, behaviour, &c, &p, &s)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            drop(listener);
            for t in conns {
                let _ = t.join();
            }
        });
        Fake { port, connects, published, stop, thread: Some(thread) }
    }

    fn connects(&self) -> usize {
        self.connects.lock().expect("lock").len()
    }

    /// Closes the listener and every connection.
    fn close(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Waits until `n` CONNECTs came in.
    fn wait_connects(&self, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.connects() < n {
            assert!(Instant::now() < deadline, "{} CONNECTs after {TIMEOUT:?}, waiting for {n}", self.connects());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.close();
    }
}

/// One connection to the fake: packets read as they come (the stop flag checked between reads).
fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    connects: &Mutex<Vec<Instant>>,
    published: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut connected = false;
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        while let Some((first, body, used)) = split_packet(&buf) {
            buf.drain(..used);
            let kind = first >> 4;
            let reply: &[u8] = match (kind, behaviour) {
                (1, _) => {
                    connects.lock().expect("lock").push(Instant::now());
                    connected = true;
                    match behaviour {
                        Behaviour::Refuse => &[0x20, 2, 0, 5],
                        Behaviour::RefuseV5 => &[0x20, 3, 0, 0x87, 0],
                        Behaviour::Garbage => b"HTTP/1.1 400 Bad Request\r\n\r\n\xff\xff\xff\xff\xff",
                        Behaviour::CloseMidStream | Behaviour::NeverAck => &[0x20, 2, 0, 0],
                    }
                }
                (_, Behaviour::CloseMidStream) if connected => {
                    // A PUBLISH announcing 32 bytes, 5 of them sent.
                    let _ = stream.write_all(&[0x30, 32, 0, 5, b'a', b'/']);
                    return;
                }
                (3, Behaviour::NeverAck) => {
                    // Topic length, topic, packet id (QoS 1), payload.
                    let tlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
                    let payload = &body[2 + tlen + if first & 0x06 != 0 { 2 } else { 0 }..];
                    published.lock().expect("lock").push(String::from_utf8_lossy(payload).into_owned());
                    &[]
                }
                (8, Behaviour::NeverAck) => {
                    let _ = stream.write_all(&[0x90, 3, body[0], body[1], 1]);
                    &[]
                }
                (10, Behaviour::NeverAck) => {
                    let _ = stream.write_all(&[0xb0, 2, body[0], body[1]]);
                    &[]
                }
                (12, _) => &[0xd0, 0],
                _ => &[],
            };
            if !reply.is_empty() && stream.write_all(reply).is_err() {
                return;
            }
            if matches!(behaviour, Behaviour::Refuse | Behaviour::RefuseV5) && kind == 1 {
                return;
            }
        }
    }
}

/// The first complete packet in `buf`: its first byte, its body, and the bytes it takes.
fn split_packet(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let first = *buf.first()?;
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = 1;
    loop {
        let b = *buf.get(i)?;
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return None;
        }
    }
    let end = i + len;
    (buf.len() >= end).then(|| (first, buf[i..end].to_vec(), end))
}

/// A local broker (anonymous) with bridge `b` to `127.0.0.1:remote`, then `extra` lines (`restart_timeout
/// 1` unless they say otherwise).
fn local_bridged_to(remote: u16, extra: &str) -> Broker {
    let restart = if extra.contains("restart_timeout") { "" } else { "restart_timeout 1\n" };
    Broker::mq_conf(|port| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nconnection b\naddress 127.0.0.1:{remote}\n\
             remote_clientid edge\n{restart}{extra}\n"
        )
    })
}

/// A `rumqttc` subscriber and publisher on the local broker: a QoS 1 message makes the round trip.
fn local_round_trip(port: u16, tag: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut s = V4::new(port, &format!("rt-sub-{tag}")).await;
        s.subscribe("local/rt", 1).await;
        let mut p = V4::new(port, &format!("rt-pub-{tag}")).await;
        p.publish("local/rt", 1, false, tag.as_bytes().to_vec()).await;
        let m = s.recv().await;
        assert_eq!((&*m.topic, &m.payload[..]), ("local/rt", tag.as_bytes()));
    });
}

/// While the bridge keeps connecting to `fake`: the local broker serves its clients, the bridge retries
/// (restart_timeout 1: from 2 to 5 attempts in 4 s), and the broker is still up afterwards.
fn retried_at_its_pace_while_serving(local: &Broker, fake: &Fake) {
    fake.wait_connects(1);
    local_round_trip(local.port, "during");
    let (start, before) = (Instant::now(), fake.connects());
    while start.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let attempts = fake.connects() - before;
    assert!((2..=5).contains(&attempts), "{attempts} attempts in 4 s with restart_timeout 1:\n{}", local.log());
    local_round_trip(local.port, "after");
    assert!(!local.log().contains("panicked"), "{}", local.log());
}

#[test]
fn remote_refusing_the_connect_is_retried_at_restart_timeout() {
    let fake = Fake::start(Behaviour::Refuse);
    let local = local_bridged_to(fake.port, "topic x/# both 1");
    retried_at_its_pace_while_serving(&local, &fake);
    local.wait_log("Bridge b refused by 127.0.0.1:");
    assert!(!local.log().contains("Bridge b connected."), "{}", local.log());
}

#[test]
fn remote_refusing_an_mqtt5_connect_is_retried_at_restart_timeout() {
    let fake = Fake::start(Behaviour::RefuseV5);
    let local = local_bridged_to(fake.port, "bridge_protocol_version mqttv50\ntopic x/# both 1");
    retried_at_its_pace_while_serving(&local, &fake);
    local.wait_log("(code 135)");
}

#[test]
fn remote_closing_in_the_middle_of_a_packet_is_retried() {
    let fake = Fake::start(Behaviour::CloseMidStream);
    let local = local_bridged_to(fake.port, "topic x/# both 1");
    retried_at_its_pace_while_serving(&local, &fake);
    local.wait_log("Bridge b disconnected:");
}

#[test]
fn remote_answering_garbage_is_retried() {
    let fake = Fake::start(Behaviour::Garbage);
    let local = local_bridged_to(fake.port, "topic x/# both 1");
    retried_at_its_pace_while_serving(&local, &fake);
    local.wait_log("Bridge b disconnected:");
}

/// A remote that takes QoS 1 messages and never acknowledges them: the local broker goes on serving,
/// and once that remote is gone every message it held reaches the next address, in order.
#[test]
fn messages_a_remote_never_acknowledged_reach_the_next_remote() {
    const N: usize = 10;
    let mut fake = Fake::start(Behaviour::NeverAck);
    let good = Broker::mq_conf(|port| format!("listener {port} 127.0.0.1\nallow_anonymous true\n"));
    let mut s = Raw::v311(good.port, "good-sub");
    s.subscribe(1, &[("up/#", 1)]);
    let local = Broker::mq_conf(|port| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nconnection b\n\
             addresses 127.0.0.1:{} 127.0.0.1:{}\nremote_clientid edge\nrestart_timeout 1\ntopic up/# out 1\n",
            fake.port, good.port
        )
    });
    sys_value_reaches(local.port, "$SYS/broker/connection/edge/state", |v| v == "1");
    let mut p = Raw::v311(local.port, "never-pub");
    for i in 0..N {
        p.publish(&wire::Pub::new("up/m", i.to_string()).qos(1, u16::try_from(i + 1).expect("fits")));
    }
    let deadline = Instant::now() + TIMEOUT;
    while fake.published.lock().expect("lock").len() < N {
        assert!(Instant::now() < deadline, "the fake got {:?}", fake.published.lock().expect("lock"));
        std::thread::sleep(Duration::from_millis(10));
    }
    local_round_trip(local.port, "unacked");
    fake.close();
    let got: Vec<String> = (0..N).map(|_| tp(&s.recv_publish_ack()).1).collect();
    assert_eq!(got, (0..N).map(|i| i.to_string()).collect::<Vec<_>>());
    local_round_trip(local.port, "moved");
    assert!(!local.log().contains("panicked"), "{}", local.log());
}

/// `restart_timeout 1 3` (Mosquitto's jittered backoff): every wait between two attempts on a remote
/// that keeps refusing is between 1 and 3 s.
#[test]
fn refused_remote_is_retried_with_a_backoff_between_base_and_cap() {
    let fake = Fake::start(Behaviour::Refuse);
    let local = local_bridged_to(fake.port, "topic x/# both 1\nrestart_timeout 1 3");
    fake.wait_connects(5);
    local_round_trip(local.port, "backoff");
    let times = fake.connects.lock().expect("lock").clone();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(950) && *g <= Duration::from_millis(3300)),
        "waits between attempts: {gaps:?}"
    );
}

/// One connection of a remote scripted by the test itself (MQTT 3.1.1): whole packets in, bytes out,
/// SUBSCRIBE, UNSUBSCRIBE and PINGREQ answered on the way.
struct Scripted {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A PUBLISH as the scripted remote sees it: topic, QoS, DUP, packet identifier (0 at QoS 0).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    topic: String,
    qos: u8,
    dup: bool,
    id: u16,
}

/// What the scripted remote read next.
#[derive(Debug, PartialEq, Eq)]
enum In {
    Publish(Seen),
    /// PUBREL and its packet identifier.
    PubRel(u16),
    /// Another packet: its first byte.
    Other(u8),
    /// The bridge closed the connection (orderly: `false`) or reset it (`true`).
    Closed {
        reset: bool,
    },
    /// Nothing for the time given.
    Quiet,
}

impl Scripted {
    /// The bridge's next connection on `listener` (non-blocking), its CONNECT answered with CONNACK
    /// (accepted, no session present).
    fn accept(listener: &TcpListener) -> Scripted {
        let deadline = Instant::now() + TIMEOUT;
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) => {
                    assert!(Instant::now() < deadline, "the bridge did not connect");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        let mut r = Scripted { stream, buf: Vec::new() };
        assert_eq!(r.read(TIMEOUT), In::Other(0x10), "CONNECT first");
        r.send(&[0x20, 2, 0, 0]);
        r
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the bridge");
    }

    /// The next packet within `wait` (SUBSCRIBE, UNSUBSCRIBE and PINGREQ answered and skipped).
    fn read(&mut self, wait: Duration) -> In {
        let deadline = Instant::now() + wait;
        loop {
            while let Some((first, body, used)) = split_packet(&self.buf) {
                self.buf.drain(..used);
                let id = || u16::from_be_bytes([body[0], body[1]]);
                match first >> 4 {
                    3 => {
                        let tlen = usize::from(id());
                        let qos = (first >> 1) & 3;
                        let pid = if qos > 0 { u16::from_be_bytes([body[2 + tlen], body[3 + tlen]]) } else { 0 };
                        let topic = String::from_utf8_lossy(&body[2..2 + tlen]).into_owned();
                        return In::Publish(Seen { topic, qos, dup: first & 0x08 != 0, id: pid });
                    }
                    6 => return In::PubRel(id()),
                    8 => self.send(&[0x90, 3, body[0], body[1], 1]),
                    10 => self.send(&[0xb0, 2, body[0], body[1]]),
                    12 => self.send(&[0xd0, 0]),
                    _ => return In::Other(first),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return In::Quiet;
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return In::Closed { reset: false },
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return In::Closed { reset: true },
                Err(e) => panic!("reading from the bridge: {e}"),
            }
        }
    }

    /// The next PUBLISH (nothing else may come first).
    fn publish(&mut self) -> Seen {
        match self.read(TIMEOUT) {
            In::Publish(s) => s,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    fn pubrel(&mut self) -> u16 {
        match self.read(TIMEOUT) {
            In::PubRel(id) => id,
            other => panic!("expected PUBREL, got {other:?}"),
        }
    }
}

/// An acknowledgement packet: `kind` (its first byte) and packet identifier.
fn ack(kind: u8, id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [kind, 2, hi, lo]
}

const PUBACK: u8 = 0x40;
const PUBREC: u8 = 0x50;
const PUBCOMP: u8 = 0x70;

/// `cleansession false`: the remote goes away holding a QoS 1 message and a QoS 2 one unacknowledged
/// and a QoS 2 one it has PUBREC'd. The bridge connects again and sends them again first, with the
/// same packet identifiers and DUP set, and PUBREL for the third; nothing crosses a second time as a
/// new message (the local session's redeliveries wait for the messages in flight), also after
/// another reconnect once they are complete.
#[test]
fn messages_in_flight_go_again_with_their_ids_after_the_remote_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let remote = listener.local_addr().expect("addr").port();
    let local = local_bridged_to(remote, "cleansession false\nnotifications false\ntopic up/# out 2");
    let mut r = Scripted::accept(&listener);
    let mut p = Raw::v311(local.port, "inflight-pub");
    p.publish(&wire::Pub::new("up/a", "1").qos(1, 1));
    p.publish(&wire::Pub::new("up/b", "2").qos(2, 2));
    p.publish(&wire::Pub::new("up/c", "3").qos(2, 3));
    let sent: Vec<Seen> = (0..3).map(|_| r.publish()).collect();
    let topics: Vec<(&str, u8, bool)> = sent.iter().map(|s| (s.topic.as_str(), s.qos, s.dup)).collect();
    assert_eq!(topics, [("up/a", 1, false), ("up/b", 2, false), ("up/c", 2, false)]);
    let (a, b, c) = (sent[0].id, sent[1].id, sent[2].id);
    r.send(&ack(PUBREC, c));
    assert_eq!(r.pubrel(), c);
    drop(r);

    let mut r = Scripted::accept(&listener);
    let again = [r.publish(), r.publish()];
    let want = |s: &Seen| Seen { dup: true, ..s.clone() };
    assert_eq!(again, [want(&sent[0]), want(&sent[1])], "sent again:\n{}", local.log());
    assert_eq!(r.pubrel(), c);
    r.send(&ack(PUBACK, a));
    r.send(&ack(PUBREC, b));
    assert_eq!(r.pubrel(), b);
    r.send(&ack(PUBCOMP, b));
    r.send(&ack(PUBCOMP, c));
    // The next message is the next one published, nothing of the three a second time.
    p.publish(&wire::Pub::new("up/d", "4").qos(1, 4));
    let d = r.publish();
    assert_eq!((d.topic.as_str(), d.dup), ("up/d", false));
    assert!(![a, b, c].contains(&d.id), "{d:?} reuses an id in flight");
    r.send(&ack(PUBACK, d.id));
    drop(r);

    // Complete on both sides: the next connection has nothing to send again.
    let mut r = Scripted::accept(&listener);
    assert_eq!(r.read(Duration::from_secs(1)), In::Quiet, "{}", local.log());
    local_round_trip(local.port, "inflight");
    assert!(!local.log().contains("panicked"), "{}", local.log());
}

/// Acknowledgements for packet identifiers the bridge has not in flight (an earlier session's) are
/// ignored, a PUBREC answered with PUBREL so that the remote can end its flow, and the connection
/// goes on both ways. A PUBLISH whose topic has a wildcard breaks the protocol: not forwarded, the
/// connection reset (as Mosquitto does), and the bridge connects again.
#[test]
fn unknown_acknowledgements_are_ignored_and_a_wildcard_topic_resets_the_link() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let remote = listener.local_addr().expect("addr").port();
    let local = local_bridged_to(remote, "notifications false\ntopic in/# in 1\ntopic up/# out 1");
    let mut s = Raw::v311(local.port, "unknown-sub");
    s.subscribe(1, &[("in/#", 1)]);
    let mut r = Scripted::accept(&listener);
    r.send(&ack(PUBACK, 2000));
    r.send(&ack(PUBREC, 2001));
    assert_eq!(r.pubrel(), 2001);
    r.send(&ack(PUBCOMP, 2002));
    // In: a QoS 1 message, acknowledged once the local broker has it.
    r.send(&wire::Pub::new("in/ok", "fine").qos(1, 7).v3());
    assert_eq!(r.read(TIMEOUT), In::Other(PUBACK), "{}", local.log());
    assert_eq!(tp(&s.recv_publish_ack()), ("in/ok".to_owned(), "fine".to_owned()));
    // Out: the same connection.
    let mut p = Raw::v311(local.port, "unknown-pub");
    p.publish(&wire::Pub::new("up/x", "out").qos(1, 1));
    let x = r.publish();
    assert_eq!(x.topic, "up/x");
    r.send(&ack(PUBACK, x.id));

    let mut wild = wire::Pub::new("in/+", "wild").qos(1, 8).v3();
    wild.extend_from_slice(&wire::pingreq());
    r.send(&wild);
    assert_eq!(r.read(TIMEOUT), In::Closed { reset: true }, "{}", local.log());
    let _again = Scripted::accept(&listener);
    s.expect_silence();
    local_round_trip(local.port, "wildcard");
    assert!(!local.log().contains("panicked"), "{}", local.log());
}

/// `cleansession true` (the local session kept, `local_cleansession false`): each connection starts a
/// new remote session, so a message the remote did not acknowledge crosses again as a new one (the
/// local session delivers it again): DUP not set, a new packet identifier, once.
#[test]
fn with_a_clean_remote_session_unacknowledged_messages_cross_again_as_new() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let remote = listener.local_addr().expect("addr").port();
    let local =
        local_bridged_to(remote, "cleansession true\nlocal_cleansession false\nnotifications false\ntopic up/# out 1");
    let mut r = Scripted::accept(&listener);
    let mut p = Raw::v311(local.port, "clean-pub");
    p.publish(&wire::Pub::new("up/a", "1").qos(1, 1));
    let first = r.publish();
    assert_eq!((first.topic.as_str(), first.dup), ("up/a", false));
    drop(r);

    let mut r = Scripted::accept(&listener);
    let again = r.publish();
    assert_eq!((again.topic.as_str(), again.qos, again.dup), ("up/a", 1, false), "{}", local.log());
    assert_ne!(again.id, first.id, "a new session numbers on");
    r.send(&ack(PUBACK, again.id));
    assert_eq!(r.read(Duration::from_secs(1)), In::Quiet, "{}", local.log());
}
