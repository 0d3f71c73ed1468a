//! `mq broker` logging and observability: Mosquitto's `log_type debug` packet lines (compared line for
//! line with Mosquitto's own for one client script when it is installed), `log_dest topic` payloads
//! with their timestamp, `log_format json`, and the `metrics_listener` Prometheus endpoint.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::broker_util::wire::{self, Connect, Pub, Will};
use crate::broker_util::{Raw, V4};
use crate::harness::{Broker, Kind};

/// One client script, written with hand-made packets so both brokers see exactly the same bytes:
/// a subscriber (3.1.1) on `a/b` (QoS 2) and `c/#` (QoS 1); a publisher sending QoS 0, 1 and 2 to `a/b`
/// and a retained QoS 1 message to `c/d`, a PINGREQ and DISCONNECT; the subscriber acknowledging each
/// delivery, unsubscribing from `c/#`, pinging and disconnecting; an MQTT 5 client with a will taken
/// over by a second connection with its id; a CONNECT refused for its empty client id.
fn script(port: u16) {
    let mut sub = Raw::v311(port, "sub");
    sub.subscribe(1, &[("a/b", 2), ("c/#", 1)]);

    let mut publisher = Raw::v311(port, "pub");
    publisher.publish(&Pub::new("a/b", "zero"));
    publisher.publish(&Pub::new("a/b", "one").qos(1, 1));
    publisher.publish(&Pub::new("a/b", "two!").qos(2, 2));
    publisher.publish(&Pub::new("c/d", "three").qos(1, 3).retain());
    publisher.ping();
    publisher.send(&wire::disconnect());
    publisher.expect_closed();

    for _ in 0..4 {
        sub.recv_publish_ack();
    }
    sub.send(&wire::unsubscribe(2, &["c/#"], false));
    assert!(matches!(sub.recv(), mq_proto::Packet::UnsubAck(_)));
    sub.ping();
    sub.send(&wire::disconnect());
    sub.expect_closed();

    let (mut first, _) = Raw::connect(port, &Connect::v5("v5").will(Will::new("w/t", "bye").qos(1)));
    let (mut second, _) = Raw::connect(port, &Connect::v5("v5"));
    // DISCONNECT 0x8e (session taken over) first: from Mosquitto 2.0.20 on and mq; 2.0.11 just closes.
    let before_close = first.expect_closed();
    assert!(before_close.iter().all(|p| matches!(p, mq_proto::Packet::Disconnect(_))), "{before_close:?}");
    second.send(&wire::disconnect_v5(0, &[]));
    second.expect_closed();

    let mut refused = Raw::open(port);
    let ack = refused.handshake(&Connect::v311("").clean(false));
    assert_eq!(ack.code, 2, "empty client id without clean session: identifier rejected");
}

/// The last line [`script`] makes the broker log.
const LAST_LINE: &str = "Sending CONNACK to 127.0.0.1 (0, 2)";

/// What the broker logs when [`script`]'s MQTT 5 client is taken over.
const TAKEOVER_LINE: &str = "Sending DISCONNECT to v5 (rc142)";

/// The broker's log lines without their timestamps.
fn lines(log: &str) -> Vec<String> {
    log.lines()
        .map(|l| match l.split_once(": ") {
            Some((stamp, rest)) if !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit()) => rest.to_owned(),
            _ => l.to_owned(),
        })
        .collect()
}

/// The packet lines of a log: what `log_type debug` (and `subscribe`/`unsubscribe`) add for
/// [`script`]'s clients.
fn packet_lines(log: &str) -> BTreeSet<String> {
    lines(log)
        .into_iter()
        .filter(|l| {
            ["Received ", "Sending ", "Denied ", "\t", "Will message specified", "No will message", "sub ", "pub "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

/// Runs [`script`] against a broker with every log type on; returns its packet lines.
fn scripted_lines(kind: Kind) -> Option<BTreeSet<String>> {
    let conf = "log_type all\nlog_dest stderr\n";
    let b = match kind {
        Kind::Mq => Broker::mq(conf),
        Kind::Mosquitto => Broker::mosquitto(conf)?,
    };
    script(b.port);
    let log = b.wait_log(LAST_LINE);
    Some(packet_lines(&log))
}

#[test]
fn debug_packet_lines_match_mosquitto() {
    let Some(mut theirs) = scripted_lines(Kind::Mosquitto) else { return };
    let ours = scripted_lines(Kind::Mq).expect("mq runs");
    // Mosquitto before 2.0.20 sends no DISCONNECT to a client taken over (2.0.20 does, as mq).
    theirs.insert(TAKEOVER_LINE.to_owned());
    let missing: Vec<_> = theirs.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "packet lines differ from Mosquitto's\nonly Mosquitto's: {missing:#?}\nonly ours: {extra:#?}"
    );
    // The comparison means something: the script made plenty of lines.
    assert!(ours.len() > 40, "{ours:#?}");
}

#[test]
fn debug_packet_lines() {
    let got = scripted_lines(Kind::Mq).expect("mq runs");
    for want in [
        "Sending CONNACK to sub (0, 0)",
        "Received SUBSCRIBE from sub",
        "\ta/b (QoS 2)",
        "\tc/# (QoS 1)",
        "sub 2 a/b",
        "sub 1 c/#",
        "Sending SUBACK to sub",
        "No will message specified.",
        "Received PUBLISH from pub (d0, q0, r0, m0, 'a/b', ... (4 bytes))",
        "Sending PUBLISH to sub (d0, q0, r0, m0, 'a/b', ... (4 bytes))",
        "Received PUBLISH from pub (d0, q1, r0, m1, 'a/b', ... (3 bytes))",
        "Sending PUBACK to pub (m1, rc0)",
        "Sending PUBLISH to sub (d0, q1, r0, m1, 'a/b', ... (3 bytes))",
        "Received PUBACK from sub (Mid: 1, RC:0)",
        "Received PUBLISH from pub (d0, q2, r0, m2, 'a/b', ... (4 bytes))",
        "Sending PUBREC to pub (m2, rc0)",
        "Received PUBREL from pub (Mid: 2)",
        "Sending PUBCOMP to pub (m2)",
        "Sending PUBLISH to sub (d0, q2, r0, m2, 'a/b', ... (4 bytes))",
        "Received PUBREC from sub (Mid: 2)",
        "Sending PUBREL to sub (m2)",
        "Received PUBCOMP from sub (Mid: 2, RC:0)",
        "Received PUBLISH from pub (d0, q1, r1, m3, 'c/d', ... (5 bytes))",
        "Sending PUBLISH to sub (d0, q1, r0, m3, 'c/d', ... (5 bytes))",
        "Received PINGREQ from pub",
        "Sending PINGRESP to pub",
        "Received DISCONNECT from pub",
        "Received UNSUBSCRIBE from sub",
        "\tc/#",
        "sub c/#",
        "Sending UNSUBACK to sub",
        "Will message specified (3 bytes) (r0, q1).",
        "\tw/t",
        TAKEOVER_LINE,
        "Received DISCONNECT from v5",
        LAST_LINE,
    ] {
        assert!(got.contains(want), "no line {want:?} in\n{got:#?}");
    }
}

#[test]
fn packet_lines_need_debug() {
    let b = Broker::mq("log_type subscribe\nlog_type notice\nlog_dest stderr\n");
    script(b.port);
    let log = b.wait_log("Client <unknown> disconnected, client identifier not valid.");
    let got = packet_lines(&log);
    // Only the `subscribe` and `unsubscribe` types asked for... and no debug line at all.
    let expected: BTreeSet<String> = ["sub 2 a/b", "sub 1 c/#"].into_iter().map(String::from).collect();
    assert_eq!(got, expected, "{log}");
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The payloads of `$SYS/broker/log/N` a subscriber receives while `client` connects, until the line
/// about it comes.
async fn topic_line_for(port: u16, client: &str) -> (String, rumqttc::QoS) {
    let mut reader = V4::new(port, "log-reader").await;
    reader.subscribe("$SYS/broker/log/N", 2).await;
    let _c = V4::new(port, client).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = reader.recv().await;
        let line = String::from_utf8_lossy(&m.payload).into_owned();
        if line.contains(&format!(" as {client} ")) {
            assert!(!m.retain);
            return (line, m.qos);
        }
        assert!(Instant::now() < deadline, "no connect line for {client}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_dest_topic_lines_carry_the_timestamp() {
    let b = Broker::mq("log_dest topic\n");
    let before = unix_now();
    let (line, qos) = topic_line_for(b.port, "stamped").await;
    let after = unix_now();
    // Mosquitto's payload is the whole line: `<unix seconds>: New client connected ...`, at QoS 2.
    let (stamp, rest) = line.split_once(": ").expect("timestamp separator");
    let stamp: u64 = stamp.parse().unwrap_or_else(|_| panic!("not a Unix time: {line:?}"));
    assert!((before..=after).contains(&stamp), "{stamp} outside {before}..={after}");
    assert!(rest.starts_with("New client connected from 127.0.0.1:"), "{line:?}");
    assert!(rest.ends_with(" as stamped (p2, c1, k30)."), "{line:?}");
    assert_eq!(qos, rumqttc::QoS::ExactlyOnce);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_dest_topic_lines_follow_log_timestamp_options() {
    let b = Broker::mq("log_dest topic\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n");
    let (line, _) = topic_line_for(b.port, "formatted").await;
    let (stamp, _) = line.split_once(": ").expect("timestamp separator");
    // `2026-12-02T10:00:00`
    let shape: String = stamp.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect();
    assert_eq!(shape, "9999-99-99T99:99:99", "{line:?}");

    let b = Broker::mq("log_dest topic\nlog_timestamp false\n");
    let (line, _) = topic_line_for(b.port, "bare").await;
    assert!(line.starts_with("New client connected from "), "{line:?}");
}
