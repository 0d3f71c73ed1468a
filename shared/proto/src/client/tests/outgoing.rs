//! Connecting, keep alive, publishing at each QoS, the window, message ids, subscribing.

use super::*;

#[test]
fn connect_in_each_version() {
    for v in [ProtocolVersion::V31, ProtocolVersion::V311, ProtocolVersion::V5] {
        // Accepted, then refused on another stream; the code is the server's, as sent.
        let mut r = Run::new(Connect::new(v, "c"), Options::default());
        r.check(&[
            (Open(0), &["CONNECT"]),
            (connack(0, false), &["connected"]),
            (Lost, &[]),
            (Open(1), &["CONNECT"]),
            (connack(if v.is_v5() { 0x87 } else { 5 }, false), &[if v.is_v5() { "refused 135" } else { "refused 5" }]),
        ]);
        assert!(!r.s.is_connected(), "{v}");
    }
}

#[test]
fn connack_rules_and_timeout() {
    let mut r = Run::new(Connect::new(ProtocolVersion::V311, "c"), Options::default());
    r.check(&[
        (Sub(&["a"]), &["error: not connected"]),
        (Open(0), &["CONNECT"]),
        (puback(1), &["error: PUBACK before CONNACK"]),
        // The keep alive (60 s) is longer than the 10 s connect timeout: it is waited.
        (At(59, true), &[]),
        (At(60, true), &["error: no CONNACK in time"]),
        (Open(100), &["CONNECT"]),
        (connack(0, false), &["connected"]),
        (connack(0, false), &["error: a second CONNACK"]),
        (In(Packet::PingReq), &["error: PINGREQ, which a server does not send here"]),
        (In(Packet::Disconnect(Disconnect::new(ReasonCode(0x8b)))), &["disconnected 0x8b"]),
    ]);
    // Without a timeout, CONNACK is waited for as long as it takes.
    let options = Options { connack_timeout: None, ..Options::default() };
    let mut r = Run::new(Connect::new(ProtocolVersion::V311, "c"), options);
    r.check(&[(Open(0), &["CONNECT"]), (At(100_000, true), &[])]);
    assert_eq!(r.s.deadline(), None);
}

#[test]
fn keep_alive() {
    let mut r = v311();
    assert_eq!(r.s.deadline(), Some(r.at(60)));
    r.check(&[
        (At(59, true), &[]),
        // Nothing sent for a keep-alive period: PINGREQ.
        (At(60, true), &["PINGREQ"]),
        (Sent(60), &[]),
        (In(Packet::PingResp), &[]),
        (Sent(100), &[]),
        (At(159, true), &[]),
        (At(160, true), &["PINGREQ"]),
        // Unanswered for another period while reading: the server is gone.
        (At(220, true), &["error: no PINGRESP within the keep alive"]),
    ]);
    // Not reading meanwhile, the answer may be waiting unread: another PINGREQ instead.
    let mut r = v311();
    r.check(&[
        (At(60, false), &["PINGREQ"]),
        (At(120, false), &["PINGREQ"]),
        (At(180, true), &["error: no PINGRESP within the keep alive"]),
    ]);
    // The server's keep alive wins over the client's (MQTT 5), and 0 turns it off.
    let props = ConnAckProperties { server_keep_alive: Some(5), ..Default::default() };
    let r = Run::connected(ProtocolVersion::V5, Options::default(), props);
    assert_eq!(r.s.deadline(), Some(r.at(5)));
    let props = ConnAckProperties { server_keep_alive: Some(0), ..Default::default() };
    let r = Run::connected(ProtocolVersion::V5, Options::default(), props);
    assert_eq!(r.s.deadline(), None);
}

#[test]
fn publish_at_each_qos() {
    let mut r = v311();
    r.check(&[
        // QoS 0 takes a message id too (Mosquitto numbers them all) and is done once sent.
        (Pub(msg("a", 0)), &["PUBLISH m1 q0 d0 'a'"]),
        (Pub(msg("b", 1)), &["PUBLISH m2 q1 d0 'b'"]),
        (puback(2), &["published m2"]),
        (Pub(msg("c", 2)), &["PUBLISH m3 q2 d0 'c'"]),
        (pubrec(3), &["PUBREL 3"]),
        // PUBREC again: PUBREL did not arrive, so it goes again.
        (pubrec(3), &["PUBREL 3"]),
        (pubcomp(3), &["published m3"]),
    ]);
    assert_eq!(r.s.in_flight(), 0);
    // MQTT 5: a refusal in PUBACK or PUBREC completes the message as failed (no PUBREL).
    let mut r = Run::connected(ProtocolVersion::V5, Options::default(), ConnAckProperties::default());
    r.check(&[
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
        (with_reason(puback(1), 0x87), &["published m1 rc 0x87"]),
        (Pub(msg("b", 2)), &["PUBLISH m2 q2 d0 'b'"]),
        (with_reason(pubrec(2), 0x97), &["published m2 rc 0x97"]),
    ]);
}

#[test]
fn acknowledgements_that_break_the_rules() {
    let mut r = v311();
    r.check(&[
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
        (Pub(msg("b", 2)), &["PUBLISH m2 q2 d0 'b'"]),
        (puback(9), &["error: PUBACK for packet identifier 9, which is not in use"]),
        (pubcomp(9), &["error: PUBCOMP for packet identifier 9, which is not in use"]),
        (puback(2), &["error: PUBACK for packet identifier 2, a QoS 2 message"]),
        (pubrec(1), &["error: PUBREC for packet identifier 1, a QoS 1 message"]),
        (pubcomp(1), &["error: PUBCOMP for packet identifier 1, a QoS 1 message"]),
        (pubcomp(2), &["error: PUBCOMP for packet identifier 2 before PUBREC"]),
        (In(Packet::SubAck(suback(1, &[0]))), &["error: SUBACK for packet identifier 1, which is not in use"]),
        // None of that changed anything.
        (puback(1), &["published m1"]),
        (pubrec(2), &["PUBREL 2"]),
        (pubcomp(2), &["published m2"]),
    ]);
}

#[test]
fn unknown_acknowledgements_tolerated() {
    let options = Options { tolerate_unknown_acks: true, ..Options::default() };
    let mut r = Run::connected(ProtocolVersion::V311, options, ConnAckProperties::default());
    r.check(&[
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
        // Identifiers of an earlier session: told, PUBREC answered so that the server ends its flow.
        (puback(9), &["unknown PUBACK 9"]),
        (pubrec(10), &["PUBREL 10", "unknown PUBREC 10"]),
        (pubcomp(11), &["unknown PUBCOMP 11"]),
        // The wrong acknowledgement for a message in flight is still an error.
        (pubrec(1), &["error: PUBREC for packet identifier 1, a QoS 1 message"]),
        (puback(1), &["published m1"]),
        (puback(1), &["unknown PUBACK 1"]),
    ]);
}

#[test]
fn in_flight_window_and_queue() {
    let options = Options { max_inflight: 2, ..Options::default() };
    let mut r = Run::connected(ProtocolVersion::V311, options, ConnAckProperties::default());
    r.check(&[
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
        (Pub(msg("b", 2)), &["PUBLISH m2 q2 d0 'b'"]),
        (Pub(msg("c", 1)), &[]),
        // QoS 0 takes no room but keeps its place in line.
        (Pub(msg("d", 0)), &[]),
        (pubrec(2), &["PUBREL 2"]),
        (puback(1), &["published m1", "PUBLISH m3 q1 d0 'c'", "PUBLISH m4 q0 d0 'd'"]),
    ]);
    // A QoS 2 message holds its place until PUBCOMP.
    assert!(!r.s.has_room());
    r.check(&[(pubcomp(2), &["published m2"])]);
    assert!(r.s.has_room());
    // The server's Receive Maximum lowers the window (MQTT 5).
    let props = ConnAckProperties { receive_maximum: Some(1), ..Default::default() };
    let mut r = Run::connected(ProtocolVersion::V5, Options::default(), props);
    r.check(&[(Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]), (Pub(msg("b", 1)), &[])]);
    assert_eq!((r.s.window(), r.s.in_flight(), r.s.queued(), r.s.has_room()), (1, 1, 1, false));
    // A streamed payload goes at once or not at all.
    r.check(&[
        (Stream(msg("s", 0), 10), &["error: no room in the in-flight window"]),
        (puback(1), &["published m1", "PUBLISH m2 q1 d0 'b'"]),
        (puback(2), &["published m2"]),
        (Stream(msg("s", 1), 10), &["PUBLISH m3 q1 d0 's' +10"]),
    ]);
}

#[test]
fn message_ids_skip_those_in_use() {
    let mut r = v311();
    r.check(&[
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
        (Sub(&["x", "y"]), &["SUBSCRIBE 2"]),
        (Unsub(&["z"]), &["UNSUBSCRIBE 3"]),
    ]);
    // The counter wraps past 65535 to 1, which is still in flight.
    r.s.last_mid = u16::MAX - 1;
    r.check(&[(Pub(msg("b", 0)), &["PUBLISH m65535 q0 d0 'b'"]), (Pub(msg("c", 2)), &["PUBLISH m4 q2 d0 'c'"])]);
}

#[test]
fn requests_the_server_cannot_take() {
    let props = ConnAckProperties {
        maximum_qos: Some(1),
        retain_available: Some(0),
        maximum_packet_size: Some(20),
        ..Default::default()
    };
    let mut r = Run::connected(ProtocolVersion::V5, Options::default(), props);
    let retained = Publish { retain: true, ..msg("a", 0) };
    let big = Publish { payload: Bytes::from(vec![0; 20]), ..msg("a", 0) };
    r.check(&[
        (Pub(msg("a", 2)), &["error: the server supports QoS 1 at most"]),
        (Pub(retained), &["error: the server does not support retained messages"]),
        (Pub(big), &["error: a packet of 26 bytes is larger than the server accepts (20 bytes)"]),
        (Pub(msg("a", 1)), &["PUBLISH m1 q1 d0 'a'"]),
    ]);
}

#[test]
fn subscribe_and_unsubscribe() {
    let mut r = Run::connected(ProtocolVersion::V5, Options::default(), ConnAckProperties::default());
    let suback = |n, codes: &[u8]| In(Packet::SubAck(suback(n, codes)));
    let unsuback = |n, codes: &[u8]| {
        let reason_codes = codes.iter().map(|c| ReasonCode(*c)).collect();
        In(Packet::UnsubAck(UnsubAck { packet_id: id(n), reason_codes, properties: AckProperties::default() }))
    };
    r.check(&[
        (Sub(&["a", "b/#"]), &["SUBSCRIBE 1"]),
        (suback(1, &[1, 0x87]), &["subscribed m1 [1, 135]"]),
        (suback(1, &[1]), &["error: SUBACK for packet identifier 1, which is not in use"]),
        (Sub(&["a"]), &["SUBSCRIBE 2"]),
        (suback(2, &[0, 0]), &["error: SUBACK with 2 reason codes for 1 topic filters"]),
        (Unsub(&["a"]), &["UNSUBSCRIBE 3"]),
        (suback(3, &[0]), &["error: SUBACK for packet identifier 3, which is not in use"]),
        (unsuback(3, &[0x11]), &["unsubscribed m3 [17]"]),
    ]);
    // Before MQTT 5, UNSUBACK carries no codes.
    let mut r = v311();
    r.check(&[(Unsub(&["a", "b"]), &["UNSUBSCRIBE 1"]), (unsuback(1, &[]), &["unsubscribed m1 []"])]);
}

#[test]
fn disconnecting() {
    let mut r = v311();
    r.check(&[(Close, &["DISCONNECT"]), (incoming("a", 1, 1), &[]), (At(1000, true), &[])]);
    assert!(!r.s.is_connected());
}
