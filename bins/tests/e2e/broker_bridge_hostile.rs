//! Bridges to hostile remotes: fake remotes written here (a TCP listener and a few hand-made packets)
//! that refuse the CONNECT (3.1.1 return code 5, MQTT 5 reason 0x87), accept it then close in the middle
//! of a packet, answer with garbage, or accept everything and never acknowledge a QoS 1 PUBLISH. In each
//! case the local broker keeps serving its own clients (a `rumqttc` round trip while the remote is
//! retried), the bridge retries at the pace `restart_timeout` sets (attempts counted by the fake), and
//! the broker does not crash; messages the remote never acknowledged reach a good remote afterwards.

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
