//! Receiving at each QoS, acknowledgements in order, the Receive Maximum, topic aliases, reconnecting.

use super::*;

#[test]
fn receiving_at_each_qos() {
    let mut r = v311();
    r.check(&[
        (incoming("a", 0, 0), &["message 'a' q0"]),
        // Acknowledged first, then handed over.
        (incoming("b", 1, 1), &["PUBACK 1", "message 'b' q1"]),
        (dup(incoming("b", 1, 1)), &["PUBACK 1", "message 'b' q1"]),
        // QoS 2, handed over on PUBREL, exactly once however often it comes.
        (incoming("c", 2, 2), &["PUBREC 2"]),
        (dup(incoming("c", 2, 2)), &["PUBREC 2"]),
        (pubrel(2), &["PUBCOMP 2", "message 'c' q2"]),
        (pubrel(2), &["PUBCOMP 2"]),
        (incoming("d", 2, 2), &["PUBREC 2"]),
        (pubrel(2), &["PUBCOMP 2", "message 'd' q2"]),
    ]);
    // Handed over on PUBLISH instead.
    let options = Options { qos2_delivery: Qos2Delivery::OnPublish, ..Options::default() };
    let mut r = Run::connected(ProtocolVersion::V311, options, ConnAckProperties::default());
    r.check(&[
        (incoming("c", 2, 7), &["PUBREC 7", "message 'c' q2"]),
        (dup(incoming("c", 2, 7)), &["PUBREC 7"]),
        (pubrel(7), &["PUBCOMP 7"]),
    ]);
}

#[test]
fn manual_acknowledgements_go_in_arrival_order() {
    let options = Options { manual_acks: true, qos2_delivery: Qos2Delivery::OnPublish, ..Options::default() };
    let mut r = Run::connected(ProtocolVersion::V311, options, ConnAckProperties::default());
    r.check(&[
        (incoming("a", 1, 1), &["message 'a' q1 (ack later)"]),
        (incoming("b", 2, 2), &["message 'b' q2 (ack later)"]),
        (incoming("c", 0, 0), &["message 'c' q0"]),
        (incoming("d", 1, 3), &["message 'd' q1 (ack later)"]),
        // Still being handled: a resend is ignored.
        (dup(incoming("b", 2, 2)), &[]),
        (Ack(1), &[]),
        (Ack(0), &["PUBACK 1", "PUBREC 2"]),
        (dup(incoming("b", 2, 2)), &["PUBREC 2"]),
        (pubrel(2), &["PUBCOMP 2"]),
        // Abandoned: never acknowledged here, and later ones no longer wait for it.
        (incoming("e", 2, 4), &["message 'e' q2 (ack later)"]),
        (Abandon(2), &[]),
        (Ack(3), &["PUBREC 4"]),
        (pubrel(4), &["PUBCOMP 4"]),
        // An abandoned QoS 2 message is not handed over again on this connection.
        (incoming("f", 2, 5), &["message 'f' q2 (ack later)"]),
        (Abandon(4), &[]),
        (dup(incoming("f", 2, 5)), &[]),
        (pubrel(5), &["error: PUBREL for packet identifier 5 before its PUBREC"]),
    ]);
    assert_eq!(r.s.owed_acks(), 0);
    // Manual acknowledgements with delivery on PUBREL: the PUBREC is the session's, the message comes
    // after PUBCOMP with nothing left to acknowledge.
    let options = Options { manual_acks: true, ..Options::default() };
    let mut r = Run::connected(ProtocolVersion::V311, options, ConnAckProperties::default());
    r.check(&[(incoming("a", 2, 1), &["PUBREC 1"]), (pubrel(1), &["PUBCOMP 1", "message 'a' q2"])]);
}

#[test]
fn receive_maximum_is_enforced() {
    let mut c = Connect::new(ProtocolVersion::V5, "c");
    c.properties.receive_maximum = Some(2);
    let options = Options { manual_acks: true, ..Options::default() };
    let mut r = Run::new(c, options);
    r.check(&[
        (Open(0), &["CONNECT"]),
        (connack(0, false), &["connected"]),
        (incoming("a", 1, 1), &["message 'a' q1 (ack later)"]),
        // Its PUBREC waits for the PUBACK of the message before it.
        (incoming("b", 2, 2), &[]),
        (incoming("c", 1, 3), &["error: more than 2 QoS 1 and 2 messages in flight (the Receive Maximum)"]),
        (Ack(0), &["PUBACK 1", "PUBREC 2"]),
        (incoming("c", 1, 3), &["message 'c' q1 (ack later)"]),
        // A QoS 2 message counts until PUBREL.
        (incoming("d", 1, 4), &["error: more than 2 QoS 1 and 2 messages in flight (the Receive Maximum)"]),
        (pubrel(2), &["PUBCOMP 2", "message 'b' q2"]),
        (incoming("d", 1, 4), &["message 'd' q1 (ack later)"]),
    ]);
}

#[test]
fn topic_aliases_both_ways() {
    let mut c = Connect::new(ProtocolVersion::V5, "c");
    c.properties.topic_alias_maximum = Some(5);
    let mut r = Run::new(c, Options::default());
    let props = ConnAckProperties { topic_alias_maximum: Some(3), ..Default::default() };
    let incoming_alias = |topic: &str, alias| In(Packet::Publish(with_alias(msg(topic, 0), alias)));
    r.check(&[
        (Open(0), &["CONNECT"]),
        (In(Packet::ConnAck(ConnAck { properties: props, ..ConnAck::default() })), &["connected"]),
        // From the server: set, then used; unknown and out of range are violations.
        (incoming_alias("in/a", 1), &["message 'in/a' q0"]),
        (incoming_alias("", 1), &["message 'in/a' q0"]),
        (incoming_alias("", 2), &["error: topic alias 2 was never set"]),
        (incoming_alias("x", 6), &["error: topic alias 6 is out of range"]),
        (incoming_alias("x", 0), &["error: topic alias 0 is out of range"]),
        // To the server: the topic goes with the alias once, then the alias alone; another topic sets it
        // again; an alias above the server's maximum is left out.
        (Pub(with_alias(msg("out/a", 1), 2)), &["PUBLISH m1 q1 d0 'out/a' alias 2"]),
        (Pub(with_alias(msg("out/a", 0), 2)), &["PUBLISH m2 q0 d0 '' alias 2"]),
        (Pub(with_alias(msg("out/b", 0), 2)), &["PUBLISH m3 q0 d0 'out/b' alias 2"]),
        (Pub(with_alias(msg("out/c", 0), 4)), &["PUBLISH m4 q0 d0 'out/c'"]),
        // Aliases belong to a connection: after a reconnect the resent message carries its topic.
        (Lost, &[]),
        (Open(1), &["CONNECT"]),
        (
            In(Packet::ConnAck(ConnAck { properties: props_alias(3), ..ConnAck::default() })),
            &["connected", "PUBLISH m1 q1 d1 'out/a' alias 2"],
        ),
        (incoming_alias("", 1), &["error: topic alias 1 was never set"]),
    ]);
}

fn props_alias(max: u16) -> ConnAckProperties {
    ConnAckProperties { topic_alias_maximum: Some(max), ..Default::default() }
}

#[test]
fn reconnecting_sends_again_what_was_in_flight() {
    let mut r = v311();
    r.check(&[
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
        (Pub(msg("b", 2)), &["PUBLISH m2 q2 d0 'b'"]),
        (Pub(msg("c", 2)), &["PUBLISH m3 q2 d0 'c'"]),
        (pubrec(3), &["PUBREL 3"]),
        (Sub(&["s"]), &["SUBSCRIBE 4"]),
        (Lost, &[]),
        // Published while disconnected: after what was in flight.
        (Pub(msg("d", 1)), &[]),
        (Open(1), &["CONNECT"]),
        (
            connack(0, true),
            &[
                "connected (session present)",
                "PUBLISH m1 q1 d1 'a'",
                "PUBLISH m2 q2 d1 'b'",
                "PUBREL 3",
                "PUBLISH m5 q1 d0 'd'",
            ],
        ),
        // The SUBSCRIBE of the lost connection is forgotten.
        (In(Packet::SubAck(suback(4, &[0]))), &["error: SUBACK for packet identifier 4, which is not in use"]),
        (puback(1), &["published m1"]),
        (pubcomp(3), &["published m3"]),
        // A new session (not present) gets them again too, as Mosquitto's client library does.
        (Lost, &[]),
        (Open(2), &["CONNECT"]),
        (connack(0, false), &["connected", "PUBLISH m2 q2 d1 'b'", "PUBLISH m5 q1 d1 'd'"]),
    ]);
    // A streamed payload is sent again as streamed: the caller writes it again, or gives up.
    let mut r = v311();
    r.check(&[
        (Stream(msg("f", 1), 5), &["PUBLISH m1 q1 d0 'f' +5"]),
        (Lost, &[]),
        (Open(1), &["CONNECT"]),
        (connack(0, true), &["connected (session present)", "PUBLISH m1 q1 d1 'f' +5"]),
    ]);
}

#[test]
fn resending_held_until_resume() {
    let options = Options { hold_resend: true, ..Options::default() };
    let mut r = Run::new(Connect::new(ProtocolVersion::V311, "c"), options);
    r.check(&[
        (Open(0), &["CONNECT"]),
        (connack(0, false), &["connected"]),
        (Resume, &[]),
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
        (Pub(msg("b", 2)), &["PUBLISH m2 q2 d0 'b'"]),
        (Pub(msg("c", 2)), &["PUBLISH m3 q2 d0 'c'"]),
        (pubrec(3), &["PUBREL 3"]),
        (Lost, &[]),
        (Open(1), &["CONNECT"]),
        // Subscribing first; what was in flight, then what was published meanwhile, on resume.
        (connack(0, false), &["connected"]),
        (Sub(&["s"]), &["SUBSCRIBE 4"]),
        (Pub(msg("d", 1)), &[]),
        (Resume, &["PUBLISH m1 q1 d1 'a'", "PUBLISH m2 q2 d1 'b'", "PUBREL 3", "PUBLISH m5 q1 d0 'd'"]),
        (Resume, &[]),
        (puback(1), &["published m1"]),
        (pubcomp(3), &["published m3"]),
    ]);
}

#[test]
fn a_resumed_session_keeps_incoming_qos_2_state() {
    let options = Options { manual_acks: true, qos2_delivery: Qos2Delivery::OnPublish, ..Options::default() };
    let mut r = Run::connected(ProtocolVersion::V311, options, ConnAckProperties::default());
    r.check(&[
        (incoming("a", 2, 1), &["message 'a' q2 (ack later)"]),
        (Ack(0), &["PUBREC 1"]),
        (incoming("b", 2, 2), &["message 'b' q2 (ack later)"]),
        (incoming("c", 1, 3), &["message 'c' q1 (ack later)"]),
        (Lost, &[]),
        (Open(1), &["CONNECT"]),
        (connack(0, true), &["connected (session present)"]),
        // Tokens of the lost connection acknowledge nothing on this one.
        (Ack(1), &[]),
        (Ack(2), &[]),
        // PUBREC went out for 1: not handed over again; 2 had none, so it comes again and is handed over.
        (dup(incoming("a", 2, 1)), &["PUBREC 1"]),
        (dup(incoming("b", 2, 2)), &["message 'b' q2 (ack later)"]),
        (pubrel(1), &["PUBCOMP 1"]),
    ]);
    // Delivery on PUBREL: a message whose PUBREC went out is handed over when PUBREL comes after a
    // reconnect; without the session, nothing is kept.
    let mut r = v311();
    r.check(&[
        (incoming("a", 2, 1), &["PUBREC 1"]),
        (Lost, &[]),
        (Open(1), &["CONNECT"]),
        (connack(0, true), &["connected (session present)"]),
        (pubrel(1), &["PUBCOMP 1", "message 'a' q2"]),
        (incoming("b", 2, 2), &["PUBREC 2"]),
        (Lost, &[]),
        (Open(2), &["CONNECT"]),
        (connack(0, false), &["connected"]),
        (pubrel(2), &["PUBCOMP 2"]),
    ]);
}
