//! `mq broker` logging and observability: Mosquitto's `log_type debug` packet lines (compared line for
//! line with Mosquitto's own for one client script when it is installed), `log_dest topic` payloads
//! with their timestamp, `log_format json`, and the `metrics_listener` Prometheus endpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::broker_util::wire::{self, Connect, Pub, Will};
use crate::broker_util::{Raw, V4};
use crate::harness::{Broker, Kind, Proc, free_port, mq};

/// One client script, written with hand-made packets so both brokers see exactly the same bytes:
/// - a subscriber (3.1.1) on `a/b` (QoS 2) and `c/#` (QoS 1);
/// - a publisher sending QoS 0, 1 and 2 to `a/b`, a retained QoS 1 message to `c/d`, one to `$SYS/x`
///   (denied), 200 bytes to `big/x` and a QoS 2 message twice (DUP) before releasing it, then PINGREQ
///   and DISCONNECT;
/// - the subscriber acknowledging each delivery, unsubscribing from `c/#`, pinging, disconnecting; a
///   later one receiving the retained message;
/// - an MQTT 5 client with a will, taken over by a second connection with its id, which publishes to a
///   topic nobody reads;
/// - a persistent session receiving a message queued while it was away, again with DUP after a
///   connection that did not acknowledge it;
/// - a CONNECT refused for its empty client id.
fn script(port: u16) {
    let mut sub = Raw::v311(port, "sub");
    sub.subscribe(1, &[("a/b", 2), ("c/#", 1)]);

    let mut publisher = Raw::v311(port, "pub");
    publisher.publish(&Pub::new("a/b", "zero"));
    publisher.publish(&Pub::new("a/b", "one").qos(1, 1));
    publisher.publish(&Pub::new("a/b", "two!").qos(2, 2));
    publisher.publish(&Pub::new("c/d", "three").qos(1, 3).retain());
    // Clients may not publish under $SYS: denied, acknowledged all the same.
    publisher.publish(&Pub::new("$SYS/x", "no").qos(1, 4));
    // Nobody reads it; over a `message_size_limit` of 100 it is dropped.
    publisher.publish(&Pub::new("big/x", vec![b'x'; 200]).qos(1, 6));
    // A QoS 2 message sent again (DUP) before its PUBREL: acknowledged again, routed once.
    let twice = Pub::new("d/x", "dupe").qos(2, 7);
    publisher.send(&twice.v3());
    assert!(matches!(publisher.recv(), mq_proto::Packet::PubRec(_)));
    publisher.send(&twice.dup().v3());
    assert!(matches!(publisher.recv(), mq_proto::Packet::PubRec(_)));
    publisher.send(&wire::pubrel(7));
    assert!(matches!(publisher.recv(), mq_proto::Packet::PubComp(_)));
    publisher.ping();
    publisher.send(&wire::disconnect());
    publisher.expect_closed();

    for _ in 0..4 {
        sub.recv_publish_ack();
    }
    let mut late = Raw::v311(port, "late");
    late.subscribe(1, &[("c/d", 1)]);
    assert!(late.recv_publish_ack().retain);
    late.send(&wire::disconnect());
    late.expect_closed();
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
    // MQTT 5: a message nobody subscribed to is acknowledged with 0x10.
    assert_eq!(second.publish(&Pub::new("nobody/here", "x").qos(1, 1)), 0x10);
    second.send(&wire::disconnect_v5(0, &[]));
    second.expect_closed();

    // A persistent session: a message queued while its client is away, sent when it comes back, and
    // sent again with DUP after a connection that did not acknowledge it.
    let (mut keeper, _) = Raw::connect(port, &Connect::v311("keeper").clean(false));
    keeper.subscribe(3, &[("s/#", 1)]);
    keeper.send(&wire::disconnect());
    keeper.expect_closed();
    let mut publisher = Raw::v311(port, "pub");
    publisher.publish(&Pub::new("s/1", "queued").qos(1, 5));
    publisher.send(&wire::disconnect());
    publisher.expect_closed();
    let (mut keeper, ack) = Raw::connect(port, &Connect::v311("keeper").clean(false));
    assert!(ack.session_present);
    keeper.recv_publish();
    keeper.drop_connection();
    let (mut keeper, _) = Raw::connect(port, &Connect::v311("keeper").clean(false));
    let again = keeper.recv_publish_ack();
    assert!(again.dup);
    keeper.send(&wire::disconnect());
    keeper.expect_closed();

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

/// The packet lines of a log: what `log_type debug` (and `subscribe`/`unsubscribe`, whose lines start
/// with one of the client ids `ids`) add.
fn packet_lines(log: &str, ids: &[&str]) -> BTreeSet<String> {
    lines(log)
        .into_iter()
        .filter(|l| {
            ["Received ", "Sending ", "Denied ", "\t", "Will message specified", "No will message"]
                .iter()
                .any(|p| l.starts_with(p))
                || l.split_once(' ').is_some_and(|(first, _)| ids.contains(&first))
        })
        .collect()
}

/// The client ids of [`script`].
const SCRIPT_IDS: &[&str] = &["sub", "pub", "v5", "keeper", "late"];

/// Runs [`script`] against a broker with every log type on and `extra` configuration; returns its
/// packet lines.
fn scripted_lines(kind: Kind, extra: &str) -> Option<BTreeSet<String>> {
    let conf = format!("log_type all\nlog_dest stderr\n{extra}");
    let conf = conf.as_str();
    let b = match kind {
        Kind::Mq => Broker::mq(conf),
        Kind::Mosquitto => Broker::mosquitto(conf)?,
    };
    script(b.port);
    let log = b.wait_log(LAST_LINE);
    Some(packet_lines(&log, SCRIPT_IDS))
}

/// [`script`]'s packet lines from both brokers with `extra` configuration are the same.
fn same_lines_as_mosquitto(extra: &str) {
    let Some(mut theirs) = scripted_lines(Kind::Mosquitto, extra) else { return };
    let ours = scripted_lines(Kind::Mq, extra).expect("mq runs");
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
fn debug_packet_lines_match_mosquitto() {
    same_lines_as_mosquitto("");
}

/// A message over `message_size_limit` is logged as dropped, and its acknowledgement with 0x95.
#[test]
fn debug_packet_lines_match_mosquitto_with_a_size_limit() {
    same_lines_as_mosquitto("message_size_limit 100\n");
}

/// Mosquitto's own clients, each protocol version, against both brokers: the same packet lines.
#[test]
fn debug_packet_lines_of_mosquitto_clients_match_mosquitto() {
    let Some((pubbin, subbin)) = crate::broker_interop::tools() else { return };
    let run = |b: &Broker| {
        let port = b.port_arg();
        let mut sub = Proc::spawn(
            crate::broker_interop::sub_command(&subbin)
                .args(["-p", &port, "-d", "-V", "5", "-i", "tsub", "-q", "2", "-t", "t/#", "-C", "3"]),
        );
        sub.wait_for("received SUBACK");
        for args in [
            ["-V", "5", "-i", "tpub5", "-q", "2", "-t", "t/1", "-m", "a"],
            ["-V", "311", "-i", "tpub3", "-q", "1", "-t", "t/2", "-m", "bb"],
            ["-V", "31", "-i", "tpub31", "-q", "0", "-t", "t/3", "-m", "ccc"],
        ] {
            let mut p = Proc::spawn(crate::harness::command(&pubbin).args(["-p", &port]).args(args));
            assert!(p.wait().success(), "mosquitto_pub {args:?}: {}", p.stderr.text());
        }
        assert!(sub.wait().success(), "mosquitto_sub: {}", sub.stderr.text());
        packet_lines(&b.wait_log("Received DISCONNECT from tsub"), &["tsub"])
    };
    let conf = "log_type all\nlog_dest stderr\n";
    let Some(mosquitto) = Broker::mosquitto(conf) else { return };
    let theirs = run(&mosquitto);
    let ours = run(&Broker::mq(conf));
    assert_eq!(ours, theirs);
    assert!(ours.contains("Sending PUBLISH to tsub (d0, q1, r0, m2, 't/2', ... (2 bytes))"), "{ours:#?}");
}

/// Topics and filters are logged with the listener's mount point where Mosquitto logs them so.
#[test]
fn debug_packet_lines_match_mosquitto_with_a_mount_point() {
    same_lines_as_mosquitto("mount_point mnt/\n");
}

#[test]
fn debug_packet_lines() {
    let got = scripted_lines(Kind::Mq, "").expect("mq runs");
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
        "Sending CONNACK to keeper (1, 0)",
        "Sending PUBLISH to keeper (d0, q1, r0, m1, 's/1', ... (6 bytes))",
        "Sending PUBLISH to keeper (d1, q1, r0, m1, 's/1', ... (6 bytes))",
        "Received PUBACK from keeper (Mid: 1, RC:0)",
        "Denied PUBLISH from pub (d0, q1, r0, m4, '$SYS/x', ... (2 bytes))",
        "Sending PUBACK to pub (m4, rc135)",
        "Received PUBLISH from v5 (d0, q1, r0, m1, 'nobody/here', ... (1 bytes))",
        "Received PUBLISH from pub (d1, q2, r0, m7, 'd/x', ... (4 bytes))",
        "Sending PUBLISH to late (d0, q1, r1, m1, 'c/d', ... (5 bytes))",
        "Sending PUBACK to v5 (m1, rc16)",
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
    let got = packet_lines(&log, SCRIPT_IDS);
    // The `subscribe` lines asked for, not `unsubscribe` ones, and no debug line at all.
    let expected: BTreeSet<String> =
        ["sub 2 a/b", "sub 1 c/#", "late 1 c/d", "keeper 1 s/#"].into_iter().map(String::from).collect();
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

/// A broker with a metrics endpoint; returns it and the endpoint's port.
fn metrics_broker(extra: &str) -> (Broker, u16) {
    let metrics_port = std::sync::Mutex::new(0);
    let b = Broker::mq_conf(|port| {
        let m = std::iter::repeat_with(free_port).find(|&m| m != port).unwrap_or_default();
        *metrics_port.lock().expect("lock") = m;
        format!("listener {port} 127.0.0.1\nallow_anonymous true\nmetrics_listener {m} 127.0.0.1\n{extra}")
    });
    let m = *metrics_port.lock().expect("lock");
    (b, m)
}

/// One HTTP/1.1 request over a plain TCP connection: the status line, the headers (lower-case
/// names) and the body.
fn http(port: u16, request: &str) -> (String, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(request.as_bytes()).expect("write request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read answer (the server closes)");
    let text = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("end of head");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).expect("Content-Length");
    // HEAD: the length of what GET would send, and nothing sent.
    if !request.starts_with("HEAD ") {
        assert_eq!(length, body.len(), "Content-Length");
    }
    (status, headers, body.to_owned())
}

/// Checks `text` is well-formed exposition format 0.0.4 (every sample `name{labels} value`, after the
/// `# HELP` and `# TYPE` lines of its family) and returns the samples: `name{labels}` → value.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    fn is_name(n: &str) -> bool {
        let mut chars = n.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut samples = BTreeMap::new();
    assert!(text.ends_with('\n'), "the text ends with a line break");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name and text");
            assert!(is_name(name) && !help.is_empty(), "{line:?}");
            assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name and type");
            assert!(is_name(name) && ["counter", "gauge"].contains(&kind), "{line:?}");
            assert!(typed.insert(name.to_owned(), kind.to_owned()).is_none(), "TYPE twice for {name}");
        } else {
            let (series, value) = line.rsplit_once(' ').expect("sample: series and value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number in {line:?}"));
            let name = series.split('{').next().unwrap_or_default();
            assert!(is_name(name), "{line:?}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')).expect("{labels}");
                for pair in inner.split(',') {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    assert!(is_name(k) && v.len() >= 2 && v.starts_with('"') && v.ends_with('"'), "{line:?}");
                }
            }
            let kind = typed.get(name).unwrap_or_else(|| panic!("sample before its TYPE: {line:?}"));
            assert!(helped.contains(name), "sample before its HELP: {line:?}");
            if kind == "counter" {
                assert!(name.ends_with("_total") && value >= 0.0, "{line:?}");
            }
            assert!(samples.insert(series.to_owned(), value).is_none(), "series twice: {line:?}");
        }
    }
    samples
}

/// `GET /metrics`, checked and parsed.
fn scrape(port: u16) -> BTreeMap<String, f64> {
    let (status, headers, body) = http(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/plain; version=0.0.4")),
        "{headers:?}"
    );
    parse_exposition(&body)
}

fn sample(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    *m.get(series).unwrap_or_else(|| panic!("no {series} in {m:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_counts_what_happens() {
    let (b, mport) = metrics_broker("");
    let listener = |name: &str| format!("{name}{{port=\"{}\",protocol=\"mqtt\"}}", b.port);
    // The harness's readiness probe may still count as a connection: wait until it is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    let before = loop {
        let m = scrape(mport);
        if sample(&m, &listener("mq_listener_connections")) == 0.0 {
            break m;
        }
        assert!(Instant::now() < deadline, "connections never fell to 0: {m:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(sample(&before, &format!("mq_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"))), 1.0);
    for name in [
        "mq_uptime_seconds",
        "mq_clients_connected",
        "mq_clients_total",
        "mq_clients_maximum",
        "mq_messages_received_total",
        "mq_messages_sent_total",
        "mq_publish_messages_dropped_total",
        "mq_bytes_received_total",
        "mq_bytes_sent_total",
        "mq_retained_messages",
        "mq_subscriptions",
        "mq_store_messages",
        "mq_store_bytes",
    ] {
        sample(&before, name);
    }

    let mut sub = V4::new(b.port, "metrics-sub").await;
    sub.subscribe("m/#", 1).await;
    let mut publisher = V4::new(b.port, "metrics-pub").await;
    for i in 0..5 {
        publisher.publish("m/x", 1, i == 4, vec![b'x'; 100]).await;
    }
    for _ in 0..5 {
        sub.recv().await;
    }
    // What each figure must have grown by at least: 5 messages of 100 bytes in and out; packets in:
    // CONNECT and 5 PUBLISH, CONNECT, SUBSCRIBE and 5 PUBACK.
    let growth = [
        ("mq_publish_messages_received_total".to_owned(), 5.0),
        ("mq_publish_messages_sent_total".to_owned(), 5.0),
        ("mq_publish_bytes_received_total".to_owned(), 500.0),
        ("mq_publish_bytes_sent_total".to_owned(), 500.0),
        ("mq_messages_received_total".to_owned(), 13.0),
        ("mq_messages_sent_total".to_owned(), 13.0),
        ("mq_bytes_received_total".to_owned(), 500.0),
        ("mq_bytes_sent_total".to_owned(), 500.0),
        ("mq_connections_total".to_owned(), 2.0),
        ("mq_retained_messages".to_owned(), 1.0),
        (listener("mq_listener_connections_total"), 2.0),
        (listener("mq_listener_bytes_received_total"), 500.0),
        (listener("mq_listener_bytes_sent_total"), 500.0),
    ];
    let short = |after: &BTreeMap<String, f64>| {
        growth
            .iter()
            .filter(|(name, by)| sample(after, name) < sample(&before, name) + by)
            .map(|(name, by)| format!("{name}: {} -> {}, expected +{by}", sample(&before, name), sample(after, name)))
            .collect::<Vec<_>>()
    };
    // Connections add their counts in batches: wait until they are in.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let m = scrape(mport);
        let missing = short(&m);
        if missing.is_empty() {
            break m;
        }
        assert!(Instant::now() < deadline, "figures did not grow: {missing:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sample(&after, "mq_clients_connected"), 2.0);
    assert_eq!(sample(&after, &listener("mq_listener_connections")), 2.0);
    assert_eq!(sample(&after, "mq_subscriptions"), 1.0);
}

#[test]
fn metrics_endpoint_serves_only_get_metrics() {
    let (_b, mport) = metrics_broker("");
    let (status, _, _) = http(mport, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, headers, _) = http(mport, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert!(headers.contains(&("allow".into(), "GET, HEAD".into())), "{headers:?}");
    let (status, _, body) = http(mport, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", ""));
    let (status, _, _) = http(mport, "\x01\x02 nonsense\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
}

#[test]
fn metrics_listener_errors_name_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, line, why) in [
        ("listener 1883 127.0.0.1\nmetrics_listener\n", 2, "metrics_listener"),
        ("metrics_listener 70000\n", 1, "70000"),
        ("metrics_listener 9100 127.0.0.1 extra\n", 1, "extra"),
        ("log_format yaml\n", 1, "yaml"),
    ] {
        let conf = dir.path().join("bad.conf");
        std::fs::write(&conf, text).expect("write");
        let mut p = Proc::spawn(mq("mq").arg("broker").arg("-c").arg(&conf).stdin(std::process::Stdio::null()));
        let status = p.wait();
        let out = p.stderr.text();
        assert_eq!(status.code(), Some(3), "{text:?}: {out}");
        assert!(out.contains(&format!("bad.conf:{line}: ")) && out.contains(why), "{text:?}: {out}");
    }
    // A port taken: the start fails naming the line.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let conf = dir.path().join("taken.conf");
    let mqtt = free_port();
    std::fs::write(&conf, format!("listener {mqtt} 127.0.0.1\n\nmetrics_listener {port} 127.0.0.1\n")).expect("write");
    let mut p = Proc::spawn(mq("mq").arg("broker").arg("-c").arg(&conf).stdin(std::process::Stdio::null()));
    assert_eq!(p.wait().code(), Some(1));
    let out = p.stderr.text();
    assert!(out.contains("taken.conf:3: metrics_listener: unable to open listener"), "{out}");
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let b = Broker::mq("log_format json\nlog_type all\nlog_dest stderr\n");
    // A client id that needs escaping in JSON.
    let id = "json \"client\" \\ é";
    let mut c = Raw::v311(b.port, id);
    c.subscribe(1, &[("j/#", 1)]);
    c.publish(&Pub::new("j/k", "hello").qos(1, 7));
    c.recv_publish_ack();
    c.send(&wire::disconnect());
    c.expect_closed();
    let log = b.wait_log("disconnected.");

    let mut about_client = Vec::new();
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        let obj = v.as_object().unwrap_or_else(|| panic!("not an object: {line:?}"));
        let stamp = obj.get("timestamp").and_then(|t| t.as_str()).expect("timestamp");
        // RFC 3339, UTC, milliseconds: 2026-12-02T10:00:00.000Z
        let shape: String = stamp.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect();
        assert_eq!(shape, "9999-99-99T99:99:99.999Z", "{line:?}");
        let level = obj.get("level").and_then(|l| l.as_str()).expect("level");
        assert!(
            ["error", "warning", "notice", "information", "debug", "subscribe", "unsubscribe"].contains(&level),
            "{line:?}"
        );
        let message = obj.get("message").and_then(|m| m.as_str()).expect("message");
        match obj.get("client_id") {
            Some(c) => {
                assert_eq!(c.as_str(), Some(id), "{line:?}");
                about_client.push((level.to_owned(), message.to_owned()));
            }
            None => assert!(!message.contains(id), "a line about the client without its id: {line:?}"),
        }
    }
    for (level, message) in [
        ("notice", "New client connected from 127.0.0.1:".to_owned()),
        ("debug", format!("Sending CONNACK to {id} (0, 0)")),
        ("subscribe", format!("{id} 1 j/#")),
        ("debug", format!("Received PUBLISH from {id} (d0, q1, r0, m7, 'j/k', ... (5 bytes))")),
        ("debug", format!("Sending PUBACK to {id} (m7, rc0)")),
        ("debug", format!("Received DISCONNECT from {id}")),
        ("notice", format!("Client {id} disconnected.")),
    ] {
        assert!(
            about_client.iter().any(|(l, m)| *l == level && m.starts_with(&message)),
            "no {level} line {message:?} about the client in {about_client:#?}"
        );
    }
}
