//! `mq broker`: malformed and hostile input from a raw client. Bad fixed-header flags, QoS 3, DUP at
//! QoS 0, a remaining length over the limit (refused from the header alone), an over-long variable
//! byte integer, invalid UTF-8 and U+0000 in topics, wildcards in a PUBLISH topic, packet id 0, trailing
//! bytes, reserved packet types, packets only a server sends, bad CONNECT flags, an empty SUBSCRIBE,
//! reserved subscription option bits, and garbage (and, ignored until fixed, the CONNACK an MQTT 5 CONNECT
//! that fails to decode should get). MQTT 5 clients get a DISCONNECT with the right reason
//! code, 3.x clients a bare close; clients connected alongside keep working throughout. Also: packets
//! that arrive one byte at a time are assembled.

use std::time::{Duration, Instant};

use mq_proto::Packet;

use crate::broker_util::wire::{self, Connect, Pub, Will, packet, prop, s, varint};
use crate::broker_util::{Raw, assert_healthy, broker, tp};

/// A subscriber and a publisher connected for the whole test: every check proves they still work.
struct Bystanders {
    sub: Raw,
    publ: Raw,
    n: u16,
}

impl Bystanders {
    fn new(port: u16) -> Bystanders {
        let mut sub = Raw::v5(port, "bystander-sub");
        sub.subscribe(1, &[("by/t", 1)]);
        Bystanders { sub, publ: Raw::v311(port, "bystander-pub"), n: 0 }
    }

    fn check(&mut self) {
        self.n += 1;
        self.publ.publish(&Pub::new("by/t", self.n.to_string()).qos(1, self.n));
        assert_eq!(tp(&self.sub.recv_publish_ack()).1, self.n.to_string());
    }
}

/// Sends `bytes` after a successful CONNECT at `level` and checks the outcome: MQTT 5 gets DISCONNECT
/// `reason`, 3.x a bare close.
fn refused(port: u16, level: u8, bytes: &[u8], reason: u8) {
    let (mut c, _) = Raw::connect(port, &Connect::level(level, &format!("hostile{level}")));
    c.send(bytes);
    c.expect_disconnect((level == 5).then_some(reason));
}

/// A hostile case: what it is, its bytes for 3.1.1 and for 5 (`None`: the same), the v5 reason code.
type Case = (&'static str, Vec<u8>, Option<Vec<u8>>, u8);

/// Each case for 3.1.1 and 5 against one broker, with bystanders checked after each.
fn each_version(cases: &[Case]) {
    let b = broker("");
    let mut by = Bystanders::new(b.port);
    for (what, v3, v5, reason) in cases {
        for level in [4u8, 5] {
            eprintln!("{what}, level {level}");
            let bytes = if level == 5 { v5.as_ref().unwrap_or(v3) } else { v3 };
            refused(b.port, level, bytes, *reason);
            by.check();
        }
    }
}

/// A QoS 0 PUBLISH with a raw topic field, for both versions.
fn raw_topic(topic: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    (packet(0x30, &[topic, b"x"].concat()), Some(packet(0x30, &[topic, &[0], b"x"].concat())))
}

fn topic_case(what: &'static str, topic: &[u8], reason: u8) -> Case {
    let (v3, v5) = raw_topic(topic);
    (what, v3, v5, reason)
}

#[test]
fn bad_fixed_header_flags_are_malformed() {
    each_version(&[
        (
            "SUBSCRIBE flags 0",
            packet(0x80, &[0, 1, 0, 1, b'a', 0]),
            Some(packet(0x80, &[0, 1, 0, 0, 1, b'a', 0])),
            0x81,
        ),
        ("PUBREL flags 0", packet(0x60, &[0, 1]), None, 0x81),
        ("PINGREQ flags 1", vec![0xC1, 0], None, 0x81),
        ("UNSUBSCRIBE flags 0", packet(0xA0, &[0, 1, 0, 1, b'a']), Some(packet(0xA0, &[0, 1, 0, 0, 1, b'a'])), 0x81),
    ]);
}

#[test]
fn publish_with_qos_3_or_dup_at_qos_0_is_malformed() {
    each_version(&[
        ("QoS 3", packet(0x36, &[&s("a/b")[..], &[0, 1], b"x"].concat()), None, 0x81),
        ("DUP at QoS 0", Pub::new("a/b", "x").dup().v3(), Some(Pub::new("a/b", "x").dup().v5()), 0x81),
    ]);
}

#[test]
fn invalid_topics_in_publish_are_refused() {
    each_version(&[
        topic_case("invalid UTF-8", &[0, 2, 0xC3, 0x28], 0x81),
        topic_case("U+0000", &[0, 3, b'a', 0, b'b'], 0x81),
        topic_case("UTF-16 surrogate", &[0, 3, 0xED, 0xA0, 0x80], 0x81),
        topic_case("+ in topic", &s("a/+/c"), 0x81),
        topic_case("# in topic", &s("a/#"), 0x81),
        topic_case("empty topic", &s(""), 0x81),
    ]);
}

#[test]
fn packet_id_zero_is_refused() {
    let v3 = packet(0x32, &[&s("a")[..], &[0, 0], b"x"].concat());
    let v5 = packet(0x32, &[&s("a")[..], &[0, 0, 0], b"x"].concat());
    each_version(&[("QoS 1 PUBLISH with id 0", v3, Some(v5), 0x82)]);
}

#[test]
fn trailing_bytes_and_server_packets_are_refused() {
    each_version(&[
        ("PINGREQ with a body", vec![0xC0, 1, 0], None, 0x81),
        ("PUBACK with extra bytes", packet(0x40, &[0, 1, 0]), Some(packet(0x40, &[0, 1, 0, 0, 0])), 0x81),
        ("CONNACK from a client", vec![0x20, 2, 0, 0], Some(vec![0x20, 3, 0, 0, 0]), 0x82),
        ("SUBACK from a client", vec![0x90, 3, 0, 1, 0], Some(vec![0x90, 4, 0, 1, 0, 0]), 0x82),
        ("PINGRESP from a client", vec![0xD0, 0], None, 0x82),
        ("reserved type 0", vec![0x00, 0], None, 0x82),
    ]);
}

#[test]
fn bad_subscribe_packets_are_refused() {
    // SUBSCRIBE without filters: 3.1.1 has no property block, 5 has an empty one.
    let b = broker("");
    let mut by = Bystanders::new(b.port);
    refused(b.port, 4, &packet(0x82, &[0, 1]), 0);
    refused(b.port, 5, &packet(0x82, &[0, 1, 0]), 0x81);
    by.check();
    // Reserved option bits.
    refused(b.port, 4, &wire::subscribe(1, &[("a", 0x04)], None), 0);
    refused(b.port, 5, &wire::subscribe(1, &[("a", 0xC0)], Some(&[])), 0x81);
    // Retain Handling 3: malformed, as Mosquitto says.
    refused(b.port, 5, &wire::subscribe(1, &[("a", 0x30)], Some(&[])), 0x81);
    by.check();
}

#[test]
fn auth_is_a_reserved_type_before_mqtt5() {
    let b = broker("");
    refused(b.port, 4, &packet(0xF0, &[0]), 0);
    // MQTT 5 AUTH without extended authentication in progress.
    refused(b.port, 5, &packet(0xF0, &[0x18, 0]), 0x82);
    assert_healthy(b.port);
}

#[test]
fn over_long_remaining_length_is_malformed() {
    each_version(&[("5-byte remaining length", vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], None, 0x81)]);
}

#[test]
fn oversize_remaining_length_is_refused_from_the_header_alone() {
    let b = broker("max_packet_size 1048576");
    let mut by = Bystanders::new(b.port);
    for level in [5u8, 4] {
        let (mut c, _) = Raw::connect(b.port, &Connect::level(level, "huge"));
        // Only the fixed header of a 200 MB PUBLISH: the broker must not wait for the rest.
        let mut header = vec![0x30];
        header.extend(varint(200_000_000));
        let start = Instant::now();
        c.send(&header);
        c.expect_disconnect((level == 5).then_some(0x95));
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        by.check();
    }
    // Without a configured limit the MQTT maximum applies; the header of a packet just over it is
    // over-long (five bytes) and malformed.
    assert_healthy(b.port);
}

#[test]
fn bad_connect_packets_are_refused() {
    let b = broker("");
    let mut by = Bystanders::new(b.port);
    // Reserved flag bit 0: 3.x closes without CONNACK, 5 may answer with a CONNACK carrying 0x81.
    for level in [4u8, 5] {
        let mut c = Raw::open(b.port);
        if level == 5 {
            c.version = mq_proto::ProtocolVersion::V5;
        }
        let mut connect = Connect::level(level, "reserved");
        connect.extra_flags = 0x01;
        c.send(&connect.bytes());
        let got = c.expect_closed();
        match (level, got.as_slice()) {
            (4, []) => {}
            (5, []) => {}
            (5, [Packet::ConnAck(a)]) => assert_eq!(a.code, 0x81),
            other => panic!("{other:?}"),
        }
    }
    // Will QoS 3.
    let mut c = Raw::open(b.port);
    let mut connect = Connect::v311("willqos3");
    connect.extra_flags = 0x04 | 0x18;
    c.send(&connect.bytes());
    assert!(c.expect_closed().iter().all(|p| !matches!(p, Packet::ConnAck(a) if a.code == 0)));
    // Password without user name (3.1.1 forbids it).
    let mut c = Raw::open(b.port);
    let mut connect = Connect::v311("pwonly");
    connect.password = Some(b"secret".to_vec());
    c.send(&connect.bytes());
    assert!(c.expect_closed().iter().all(|p| !matches!(p, Packet::ConnAck(a) if a.code == 0)));
    // Wrong protocol name.
    let mut c = Raw::open(b.port);
    c.send(&packet(0x10, &[&s("MQTX")[..], &[4, 2, 0, 60], &s("x")[..]].concat()));
    assert!(c.expect_closed().iter().all(|p| !matches!(p, Packet::ConnAck(a) if a.code == 0)));
    by.check();
}

#[test]
fn v5_connect_decode_errors_are_answered_with_a_connack() {
    let b = broker("");
    let mut reserved = Connect::v5("reserved");
    reserved.extra_flags = 0x01;
    for (what, connect, code) in [
        ("reserved flag", reserved, 0x81),
        ("Receive Maximum 0", Connect::v5("rm0").prop(prop::u16(prop::RECEIVE_MAXIMUM, 0)), 0x82),
        ("Maximum Packet Size 0", Connect::v5("mps0").prop(prop::u32(prop::MAXIMUM_PACKET_SIZE, 0)), 0x82),
        ("will topic with a wildcard", Connect::v5("wild").will(Will::new("a/#", "x")), 0x81),
        ("empty will topic", Connect::v5("nowill").will(Will::new("", "x")), 0x82),
    ] {
        let mut c = Raw::open(b.port);
        c.version = mq_proto::ProtocolVersion::V5;
        c.send(&connect.bytes());
        match c.expect_closed().as_slice() {
            [Packet::ConnAck(a)] => assert_eq!(a.code, code, "{what}"),
            other => panic!("{what}: expected CONNACK 0x{code:02x}, got {other:?}"),
        }
    }
}

#[test]
fn garbage_is_closed_without_harm() {
    let b = broker("");
    let mut by = Bystanders::new(b.port);
    let junk: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for bytes in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &junk, &[0xFF; 64]] {
        let mut c = Raw::open(b.port);
        // The broker may close before everything is written.
        let _ = c.try_send(bytes);
        c.expect_closed();
        by.check();
    }
    // A client that sends half a CONNECT and goes away.
    let mut c = Raw::open(b.port);
    let connect = Connect::v311("half").bytes();
    c.send(&connect[..connect.len() / 2]);
    c.drop_connection();
    by.check();
}

#[test]
fn packets_arriving_one_byte_at_a_time_are_assembled() {
    let b = broker("");
    let mut sub = Raw::v311(b.port, "sub");
    sub.subscribe(1, &[("slow/t", 1)]);
    let mut c = Raw::open(b.port);
    c.version = mq_proto::ProtocolVersion::V5;
    let bytes = [
        Connect::v5("dribble").bytes(),
        Pub::new("slow/t", "byte by byte").qos(1, 1).prop(wire::prop::user("k", "v")).v5(),
    ]
    .concat();
    for byte in bytes {
        c.send(&[byte]);
    }
    assert!(matches!(c.recv(), Packet::ConnAck(a) if a.code == 0));
    assert!(matches!(c.recv(), Packet::PubAck(_)));
    assert_eq!(tp(&sub.recv_publish_ack()).1, "byte by byte");
}
