//! `mq broker`: which reason code closes an MQTT 5 connection for each kind of bad packet, 0x81
//! (malformed) or 0x82 (protocol error), as Mosquitto 2.0.20 chooses them: property errors are judged
//! after the whole property block is read (a truncated or unknown property anywhere makes it
//! malformed), SUBSCRIBE and UNSUBSCRIBE report every property and filter error as malformed, packets
//! only a server sends are protocol errors whatever their body, and so are unknown reason codes in
//! acknowledgements. Invalid topic filters close the connection in every version (3.x: without
//! SUBACK), and PUBREC carries 0x00 where PUBACK says 0x10 (no matching subscribers). Each case runs on
//! its own connection while a bystander keeps working.

use mq_proto::Packet;

use crate::broker_util::wire::{self, Connect, Pub, Will, packet, prop, props, s};
use crate::broker_util::{Raw, broker, tp};

/// Connects at `level`, sends `bytes` and checks the close: DISCONNECT `reason` for MQTT 5 (`Some`),
/// a bare close for 3.x (`None`).
fn closes(port: u16, level: u8, what: &str, bytes: &[u8], reason: Option<u8>) {
    eprintln!("{what}, level {level}");
    let (mut c, _) = Raw::connect(port, &Connect::level(level, "bad"));
    c.send(bytes);
    c.expect_disconnect(reason);
}

/// A subscriber that must keep receiving while the others are thrown out.
fn still_serves(port: u16, n: u16) {
    let mut sub = Raw::v5(port, "bystander");
    sub.subscribe(1, &[("by/t", 1)]);
    let mut publ = Raw::v311(port, "bystander-pub");
    publ.publish(&Pub::new("by/t", n.to_string()).qos(1, 1));
    assert_eq!(tp(&sub.recv_publish_ack()).1, n.to_string());
}

/// A QoS 1 PUBLISH to `a` with the given raw property block.
fn publish_with_props(block: &[u8]) -> Vec<u8> {
    packet(0x32, &[&s("a")[..], &[0x12, 0x34], block, b"x"].concat())
}

#[test]
fn property_errors_are_judged_after_the_whole_block() {
    let b = broker("");
    let session_expiry = prop::u32(prop::SESSION_EXPIRY, 0);
    for (what, bytes, reason) in [
        // A property the packet does not allow, read whole: a protocol error.
        ("PUBLISH with Session Expiry", publish_with_props(&props(std::slice::from_ref(&session_expiry))), 0x82),
        // The same property cut short: malformed.
        ("PUBLISH with a truncated Session Expiry", publish_with_props(&[2, 0x11, 0]), 0x81),
        // Allowed nowhere in PUBACK, then an identifier that does not exist: malformed.
        ("PUBACK with Topic Alias then an unknown identifier", packet(0x40, &[0, 1, 0, 4, 0x23, 0, 1, 0x70]), 0x81),
        ("PUBACK with a Topic Alias without its value", packet(0x40, &[0, 1, 0, 1, 0x23]), 0x81),
        // [MQTT-3.3.2-14] no wildcard in a Response Topic.
        (
            "Response Topic with a wildcard",
            publish_with_props(&props(&[prop::string(prop::RESPONSE_TOPIC, "re/#")])),
            0x82,
        ),
        // SUBSCRIBE and UNSUBSCRIBE: every property error is malformed.
        (
            "SUBSCRIBE with Payload Format Indicator",
            wire::subscribe(1, &[("a", 0)], Some(&[prop::byte(prop::PAYLOAD_FORMAT, 0)])),
            0x81,
        ),
        (
            "SUBSCRIBE with Subscription Identifier 0",
            wire::subscribe(1, &[("a", 0)], Some(&[prop::var(prop::SUBSCRIPTION_ID, 0)])),
            0x81,
        ),
        (
            "UNSUBSCRIBE with Session Expiry",
            packet(0xA2, &[&[0, 1][..], &props(std::slice::from_ref(&session_expiry)), &s("a")].concat()),
            0x81,
        ),
    ] {
        closes(b.port, 5, what, &bytes, Some(reason));
    }
    still_serves(b.port, 1);
}

#[test]
fn server_packets_and_unknown_reason_codes_are_protocol_errors() {
    let b = broker("");
    for (what, bytes, reason) in [
        // Refused for their type, before their body is read.
        ("CONNACK too short to decode", vec![0x20, 0], 0x82),
        ("SUBACK too short to decode", vec![0x90, 0], 0x82),
        ("UNSUBACK too short to decode", vec![0xB0, 0], 0x82),
        ("PINGRESP with flag bits", vec![0xD1, 0], 0x82),
        ("second CONNECT that does not decode", vec![0x10, 0], 0x82),
        ("AUTH with flag bits", vec![0xF1, 0], 0x82),
        ("packet type 0", vec![0x00, 0], 0x82),
        // SUBACK and UNSUBACK with reserved flag bits are malformed first.
        ("SUBACK with flag bits", vec![0x91, 3, 0, 1, 0], 0x81),
        // Reason codes an acknowledgement may not carry.
        ("PUBACK 0xFF", packet(0x40, &[0, 1, 0xFF, 0]), 0x82),
        ("PUBCOMP 0x80", packet(0x70, &[0, 1, 0x80]), 0x82),
        ("PUBREL 0xFF", packet(0x62, &[0, 1, 0xFF, 0]), 0x82),
        // A PUBLISH topic with a wildcard, or empty without an alias: malformed.
        ("PUBLISH to a/+", packet(0x30, &[&s("a/+")[..], &[0], b"x"].concat()), 0x81),
        ("PUBLISH to an empty topic", packet(0x30, &[&s("")[..], &[0], b"x"].concat()), 0x81),
        // SUBSCRIBE without any filter.
        ("SUBSCRIBE without a filter", packet(0x82, &[0, 1, 0]), 0x81),
    ] {
        closes(b.port, 5, what, &bytes, Some(reason));
    }
    still_serves(b.port, 1);
}

#[test]
fn invalid_filters_close_the_connection() {
    let b = broker("");
    for (level, reason) in [(4u8, None), (5, Some(0x81))] {
        let v5 = level == 5;
        let props: Option<&[Vec<u8>]> = if v5 { Some(&[]) } else { None };
        for filter in ["#/x", "a/b+", "a/#/b"] {
            let bytes = wire::subscribe(1, &[("ok/t", 1), (filter, 0)], props);
            closes(b.port, level, &format!("SUBSCRIBE {filter}"), &bytes, reason);
            closes(b.port, level, &format!("UNSUBSCRIBE {filter}"), &wire::unsubscribe(1, &[filter], v5), reason);
        }
        // A shared subscription without a topic is a protocol error.
        for filter in ["$share/g", "$share/g/"] {
            let bytes = wire::subscribe(1, &[(filter, 0)], props);
            closes(b.port, level, &format!("SUBSCRIBE {filter}"), &bytes, v5.then_some(0x82));
        }
    }
    // Valid filters are still granted one by one.
    let mut c = Raw::v5(b.port, "good");
    let ack = c.subscribe(1, &[("a/+/c", 1), ("$share/g/t", 0), ("#", 2)]);
    assert_eq!(ack.reason_codes.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 0, 2]);
    still_serves(b.port, 1);
}

#[test]
fn qos2_without_subscribers_gets_pubrec_0x00_and_qos1_puback_0x10() {
    let b = broker("");
    let mut p = Raw::v5(b.port, "alone");
    assert_eq!(p.publish(&Pub::new("nobody/here", "x").qos(2, 1)), 0x00);
    assert_eq!(p.publish(&Pub::new("nobody/here", "x").qos(1, 2)), 0x10);
}

#[test]
fn an_empty_will_topic_is_refused() {
    let b = broker("");
    // 3.1.1: closed without CONNACK, as Mosquitto does.
    let mut c = Raw::open(b.port);
    c.send(&Connect::v311("nowill").will(Will::new("", "x")).bytes());
    assert_eq!(c.expect_closed(), Vec::<Packet>::new());
    // 5: CONNACK 0x82 (protocol error) before the close.
    let mut c = Raw::open(b.port);
    c.version = mq_proto::ProtocolVersion::V5;
    c.send(&Connect::v5("nowill5").will(Will::new("", "x")).bytes());
    match c.expect_closed().as_slice() {
        [Packet::ConnAck(a)] => assert_eq!(a.code, 0x82),
        other => panic!("expected CONNACK 0x82, got {other:?}"),
    }
    still_serves(b.port, 1);
}
