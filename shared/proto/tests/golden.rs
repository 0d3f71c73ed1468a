//! Golden bytes: the examples of the MQTT 3.1.1 and 5.0 specifications and annotated vectors for every
//! packet type, written out byte by byte so they check our encoder and decoder against the text, not
//! against each other.

#![allow(clippy::field_reassign_with_default)] // building packets field by field reads best in tests

use bytes::{Bytes, BytesMut};
use mq_proto::*;

const V31: ProtocolVersion = ProtocolVersion::V31;
const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// Decodes `wire` (followed by two bytes of a next packet, which must stay in the buffer), checks the
/// packet, then encodes it and checks the bytes are `wire` again.
fn golden(version: ProtocolVersion, wire: &[u8], want: Packet) {
    let mut buf = BytesMut::from(wire);
    buf.extend_from_slice(b"\xde\xad");
    let got = decode(&mut buf, version, MAX_PACKET_SIZE).expect("decodes").expect("complete");
    assert_eq!(got, want, "decoded packet");
    assert_eq!(&buf[..], b"\xde\xad", "framing consumed exactly one packet");
    let mut out = BytesMut::new();
    want.encode(version, &mut out).expect("encodes");
    assert_eq!(&out[..], wire, "encoded bytes");
    assert_eq!(want.encoded_len(version).unwrap(), wire.len());
}

#[test]
fn varint_boundaries() {
    // MQTT 3.1.1 §2.2.3 Table 2.4 and MQTT 5 §1.5.5: the edges of each size.
    let table: [(u32, &[u8]); 8] = [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ];
    for (value, bytes) in table {
        let mut out = BytesMut::new();
        put_varint(&mut out, value);
        assert_eq!(&out[..], bytes, "encode {value}");
        assert_eq!(varint_len(value), bytes.len());
        assert_eq!(peek_varint(bytes), Ok(Some((value, bytes.len()))), "decode {value}");
        // Every strict prefix needs more bytes.
        for cut in 0..bytes.len() {
            assert_eq!(peek_varint(&bytes[..cut]), Ok(None));
        }
    }
    // A fifth byte is rejected.
    assert_eq!(peek_varint(b"\xff\xff\xff\xff\x7f"), Err(DecodeError::VarIntTooLong));
    assert_eq!(peek_varint(b"\x80\x80\x80\x80\x01"), Err(DecodeError::VarIntTooLong));
    // Overlong forms are rejected [MQTT-1.5.5-1].
    assert_eq!(peek_varint(b"\x80\x00"), Err(DecodeError::VarIntOverlong));
    assert_eq!(peek_varint(b"\xff\x80\x00"), Err(DecodeError::VarIntOverlong));
}

#[test]
fn connect_v311_spec_example() {
    // MQTT 3.1.1 §3.1.2.10, Figure 3.6: protocol name "MQTT", level 4, flags 0xCE (user name, password,
    // will QoS 1, will flag, clean session), keep alive 10; payload fields in the order of §3.1.3.
    let wire = b"\x10\x28\
        \x00\x04MQTT\x04\xce\x00\x0a\
        \x00\x03cid\
        \x00\x03w/t\
        \x00\x04bye!\
        \x00\x04user\
        \x00\x06secret";
    let want = Connect {
        protocol: V311,
        bridge: false,
        clean_start: true,
        keep_alive: 10,
        client_id: "cid".into(),
        will: Some(Will {
            topic: "w/t".into(),
            payload: Bytes::from_static(b"bye!"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        username: Some("user".into()),
        password: Some(Bytes::from_static(b"secret")),
        properties: ConnectProperties::default(),
    };
    golden(V311, wire, Packet::Connect(Box::new(want)));
}

#[test]
fn connect_v5_spec_example() {
    // MQTT 5 §3.1.2.12, Figure 3-7: "MQTT", level 5, flags 0xC2 (user name, password, clean start),
    // keep alive 10, properties length 5: Session Expiry Interval (0x11) = 10.
    let wire = b"\x10\x24\
        \x00\x04MQTT\x05\xc2\x00\x0a\
        \x05\x11\x00\x00\x00\x0a\
        \x00\x02id\
        \x00\x04user\
        \x00\x08password";
    let mut want = Connect::new(V5, "id");
    want.keep_alive = 10;
    want.username = Some("user".into());
    want.password = Some(Bytes::from_static(b"password"));
    want.properties.session_expiry_interval = Some(10);
    golden(V5, wire, Packet::Connect(Box::new(want)));
}

#[test]
fn connect_v31_mqisdp() {
    // MQTT 3.1: protocol name "MQIsdp", level 3, clean session, keep alive 60, client id "mosq".
    let wire = b"\x10\x12\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x04mosq";
    let want = Connect::new(V31, "mosq");
    golden(V31, wire, Packet::Connect(Box::new(want)));
}

#[test]
fn connect_bridge_bit_and_will_properties() {
    // Level 0x85: a v5 bridge. Will flag + will retain + will QoS 2 = 0x34; clean start 0x02.
    // Will properties: Will Delay Interval 5, Content Type "t".
    let wire = b"\x10\x1e\
        \x00\x04MQTT\x85\x36\x00\x00\
        \x00\
        \x00\x01c\
        \x09\x18\x00\x00\x00\x05\x03\x00\x01t\
        \x00\x01w\
        \x00\x01x";
    let mut want = Connect::new(V5, "c");
    want.bridge = true;
    want.keep_alive = 0;
    let mut wp = WillProperties::default();
    wp.will_delay_interval = Some(5);
    wp.content_type = Some("t".into());
    want.will = Some(Will {
        topic: "w".into(),
        payload: Bytes::from_static(b"x"),
        qos: QoS::ExactlyOnce,
        retain: true,
        properties: wp,
    });
    golden(V5, wire, Packet::Connect(Box::new(want)));
}

#[test]
fn connack_each_version() {
    // 3.1.1: session present, return code 0.
    golden(V311, b"\x20\x02\x01\x00", Packet::ConnAck(ConnAck { session_present: true, ..Default::default() }));
    // 3.1.1: refused, not authorised (5).
    golden(V311, b"\x20\x02\x00\x05", Packet::ConnAck(ConnAck { code: 5, ..Default::default() }));
    // 3.1: the first byte is reserved.
    golden(V31, b"\x20\x02\x00\x02", Packet::ConnAck(ConnAck { code: 2, ..Default::default() }));
    // 5: success with Receive Maximum 20, Assigned Client Identifier "auto-1", Topic Alias Maximum 10,
    // in the order Mosquitto writes them.
    let mut p = ConnAckProperties::default();
    p.receive_maximum = Some(20);
    p.assigned_client_identifier = Some("auto-1".into());
    p.topic_alias_maximum = Some(10);
    golden(
        V5,
        b"\x20\x12\x00\x00\x0f\x22\x00\x0a\x12\x00\x06auto-1\x21\x00\x14",
        Packet::ConnAck(ConnAck { session_present: false, code: 0, properties: p }),
    );
    // 5: Bad User Name or Password (0x86), empty properties.
    golden(V5, b"\x20\x03\x00\x86\x00", Packet::ConnAck(ConnAck { code: 0x86, ..Default::default() }));
}

#[test]
fn publish_v311_spec_example() {
    // MQTT 3.1.1 §3.3.2.3, Table 3.3: topic "a/b", packet id 10 (QoS 1), payload f1 f2 f3 f4.
    let wire = b"\x32\x0b\x00\x03a/b\x00\x0a\xf1\xf2\xf3\xf4";
    let mut want = Publish::new("a/b", QoS::AtLeastOnce, Bytes::from_static(b"\xf1\xf2\xf3\xf4"));
    want.packet_id = Some(pid(10));
    golden(V311, wire, Packet::Publish(want));
}

#[test]
fn publish_v5_spec_example() {
    // MQTT 5 §3.3.2.3, Figure 3-9: topic "a/b", packet id 10, property length 0.
    let wire = b"\x32\x0a\x00\x03a/b\x00\x0a\x00hi";
    let mut want = Publish::new("a/b", QoS::AtLeastOnce, Bytes::from_static(b"hi"));
    want.packet_id = Some(pid(10));
    golden(V5, wire, Packet::Publish(want));
}

#[test]
fn publish_flags_and_properties() {
    // DUP + QoS 2 + retain = 0x3d; properties: payload format 1, message expiry 300, topic alias 3,
    // response topic "r", correlation data "c", user property ("k","v"), subscription identifiers 1, 200,
    // content type "ct".
    let wire = b"\x3d\x2d\x00\x01t\x12\x34\
        \x23\
        \x01\x01\
        \x02\x00\x00\x01\x2c\
        \x23\x00\x03\
        \x08\x00\x01r\
        \x09\x00\x01c\
        \x26\x00\x01k\x00\x01v\
        \x0b\x01\
        \x0b\xc8\x01\
        \x03\x00\x02ct\
        data";
    let mut want = Publish::new("t", QoS::ExactlyOnce, Bytes::from_static(b"data"));
    want.dup = true;
    want.retain = true;
    want.packet_id = Some(pid(0x1234));
    let p = &mut want.properties;
    p.payload_format_indicator = Some(1);
    p.message_expiry_interval = Some(300);
    p.topic_alias = Some(3);
    p.response_topic = Some("r".into());
    p.correlation_data = Some(Bytes::from_static(b"c"));
    p.user_properties = vec![("k".into(), "v".into())];
    p.subscription_identifiers = vec![1, 200];
    p.content_type = Some("ct".into());
    golden(V5, wire, Packet::Publish(want));
}

#[test]
fn publish_qos0_and_alias_only_topic() {
    golden(V311, b"\x30\x04\x00\x01aX", Packet::Publish(Publish::new("a", QoS::AtMostOnce, Bytes::from_static(b"X"))));
    // MQTT 5: empty topic with Topic Alias 1.
    let mut want = Publish::new("", QoS::AtMostOnce, Bytes::new());
    want.properties.topic_alias = Some(1);
    golden(V5, b"\x30\x06\x00\x00\x03\x23\x00\x01", Packet::Publish(want));
}

#[test]
fn acks() {
    let id = pid(0x0102);
    for (first, make) in [
        (0x40u8, Packet::PubAck as fn(Ack) -> Packet),
        (0x50, Packet::PubRec),
        (0x62, Packet::PubRel),
        (0x70, Packet::PubComp),
    ] {
        golden(V311, &[first, 2, 1, 2], make(Ack::new(id)));
        golden(V31, &[first, 2, 1, 2], make(Ack::new(id)));
        // MQTT 5: success without properties is the short form.
        golden(V5, &[first, 2, 1, 2], make(Ack::new(id)));
    }
    // MQTT 5 PUBACK "No matching subscribers" (0x10), no properties: remaining length 3.
    golden(V5, b"\x40\x03\x01\x02\x10", Packet::PubAck(Ack::with_reason(id, ReasonCode::NO_MATCHING_SUBSCRIBERS)));
    // MQTT 5 PUBREC with a reason string.
    let mut a = Ack::with_reason(id, ReasonCode::QUOTA_EXCEEDED);
    a.properties.reason_string = Some("full".into());
    golden(V5, b"\x50\x0b\x01\x02\x97\x07\x1f\x00\x04full", Packet::PubRec(a));
    // MQTT 5 PUBREL "Packet Identifier not found".
    golden(V5, b"\x62\x03\x01\x02\x92", Packet::PubRel(Ack::with_reason(id, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)));
    // MQTT 5 PUBACK of length 4: success with an empty property block decodes to the short form.
    let mut buf = BytesMut::from(&b"\x40\x04\x01\x02\x00\x00"[..]);
    assert_eq!(decode(&mut buf, V5, MAX_PACKET_SIZE).unwrap(), Some(Packet::PubAck(Ack::new(id))));
}

#[test]
fn subscribe_and_suback() {
    let opts = |qos| SubscriptionOptions { qos, ..Default::default() };
    // MQTT 3.1.1 §3.8.3, Figure 3.23's filters: "a/b" QoS 1, "c/d" QoS 2; packet id 10.
    golden(
        V311,
        b"\x82\x0e\x00\x0a\x00\x03a/b\x01\x00\x03c/d\x02",
        Packet::Subscribe(Subscribe::new(
            pid(10),
            vec![("a/b".into(), opts(QoS::AtLeastOnce)), ("c/d".into(), opts(QoS::ExactlyOnce))],
        )),
    );
    // MQTT 5: options byte 0x2e = retain handling 2, retain as published, no local, QoS 2;
    // Subscription Identifier 7.
    let mut s = Subscribe::new(
        pid(1),
        vec![(
            "x/#".into(),
            SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            },
        )],
    );
    s.properties.subscription_identifier = Some(7);
    golden(V5, b"\x82\x0b\x00\x01\x02\x0b\x07\x00\x03x/#\x2e", Packet::Subscribe(s));
    // MQTT 3.1.1 §3.9.3, Figure 3.26: granted 0, failure 0x80 (and 1, 2).
    golden(
        V311,
        b"\x90\x06\x00\x0a\x00\x80\x01\x02",
        Packet::SubAck(SubAck {
            packet_id: pid(10),
            reason_codes: vec![ReasonCode(0), ReasonCode(0x80), ReasonCode(1), ReasonCode(2)],
            properties: AckProperties::default(),
        }),
    );
    // MQTT 5 SUBACK: Granted QoS 1, Not authorized (0x87), Topic Filter invalid (0x8f).
    golden(
        V5,
        b"\x90\x06\x00\x01\x00\x01\x87\x8f",
        Packet::SubAck(SubAck {
            packet_id: pid(1),
            reason_codes: vec![ReasonCode(1), ReasonCode::NOT_AUTHORIZED, ReasonCode::TOPIC_FILTER_INVALID],
            properties: AckProperties::default(),
        }),
    );
}

#[test]
fn unsubscribe_and_unsuback() {
    // MQTT 3.1.1 §3.10.3, Figure 3.30: filters "a/b" and "c/d".
    golden(
        V311,
        b"\xa2\x0c\x00\x0a\x00\x03a/b\x00\x03c/d",
        Packet::Unsubscribe(Unsubscribe::new(pid(10), vec!["a/b".into(), "c/d".into()])),
    );
    let mut u = Unsubscribe::new(pid(2), vec!["t".into()]);
    u.properties.user_properties = vec![("a".into(), "b".into())];
    golden(V5, b"\xa2\x0d\x00\x02\x07\x26\x00\x01a\x00\x01b\x00\x01t", Packet::Unsubscribe(u));
    golden(
        V311,
        b"\xb0\x02\x00\x0a",
        Packet::UnsubAck(UnsubAck { packet_id: pid(10), reason_codes: vec![], properties: AckProperties::default() }),
    );
    golden(
        V5,
        b"\xb0\x05\x00\x0a\x00\x00\x11",
        Packet::UnsubAck(UnsubAck {
            packet_id: pid(10),
            reason_codes: vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED],
            properties: AckProperties::default(),
        }),
    );
}

#[test]
fn ping_disconnect_auth() {
    golden(V311, b"\xc0\x00", Packet::PingReq);
    golden(V311, b"\xd0\x00", Packet::PingResp);
    golden(V311, b"\xe0\x00", Packet::Disconnect(Disconnect::default()));
    golden(V5, b"\xe0\x00", Packet::Disconnect(Disconnect::default()));
    golden(V5, b"\xe0\x01\x04", Packet::Disconnect(Disconnect::new(ReasonCode::DISCONNECT_WITH_WILL)));
    let mut d = Disconnect::new(ReasonCode::SESSION_TAKEN_OVER);
    d.properties.reason_string = Some("x".into());
    golden(V5, b"\xe0\x06\x8e\x04\x1f\x00\x01x", Packet::Disconnect(d));
    golden(V5, b"\xf0\x00", Packet::Auth(Auth::default()));
    let mut a = Auth { reason: ReasonCode::CONTINUE_AUTHENTICATION, ..Default::default() };
    a.properties.authentication_method = Some("SCRAM".into());
    a.properties.authentication_data = Some(Bytes::from_static(b"\x01"));
    golden(V5, b"\xf0\x0e\x18\x0c\x15\x00\x05SCRAM\x16\x00\x01\x01", Packet::Auth(a));
}

#[test]
fn connack_properties_all() {
    let mut p = ConnAckProperties::default();
    p.session_expiry_interval = Some(60);
    p.maximum_qos = Some(1);
    p.retain_available = Some(0);
    p.maximum_packet_size = Some(1024);
    p.reason_string = Some("r".into());
    p.user_properties = vec![("k".into(), "v".into())];
    p.wildcard_subscription_available = Some(1);
    p.subscription_identifier_available = Some(0);
    p.shared_subscription_available = Some(1);
    p.server_keep_alive = Some(30);
    p.response_information = Some("ri".into());
    p.server_reference = Some("s".into());
    p.authentication_method = Some("m".into());
    p.authentication_data = Some(Bytes::from_static(b"d"));
    let wire = b"\x20\x36\x01\x00\x33\
        \x13\x00\x1e\
        \x15\x00\x01m\
        \x16\x00\x01d\
        \x25\x00\
        \x27\x00\x00\x04\x00\
        \x24\x01\
        \x11\x00\x00\x00\x3c\
        \x28\x01\
        \x29\x00\
        \x2a\x01\
        \x1a\x00\x02ri\
        \x1c\x00\x01s\
        \x1f\x00\x01r\
        \x26\x00\x01k\x00\x01v";
    golden(V5, wire, Packet::ConnAck(ConnAck { session_present: true, code: 0, properties: p }));
}

#[test]
fn connect_properties_all() {
    let mut c = Connect::new(V5, "");
    let p = &mut c.properties;
    p.session_expiry_interval = Some(u32::MAX);
    p.receive_maximum = Some(100);
    p.maximum_packet_size = Some(268_435_460);
    p.topic_alias_maximum = Some(5);
    p.request_response_information = Some(1);
    p.request_problem_information = Some(0);
    p.user_properties = vec![("a".into(), "1".into()), ("a".into(), "2".into())];
    p.authentication_method = Some("m".into());
    p.authentication_data = Some(Bytes::from_static(b"d"));
    let wire = b"\x10\x37\x00\x04MQTT\x05\x02\x00\x3c\
        \x2a\
        \x11\xff\xff\xff\xff\
        \x21\x00\x64\
        \x27\x10\x00\x00\x04\
        \x22\x00\x05\
        \x19\x01\
        \x17\x00\
        \x26\x00\x01a\x00\x011\
        \x26\x00\x01a\x00\x012\
        \x15\x00\x01m\
        \x16\x00\x01d\
        \x00\x00";
    golden(V5, wire, Packet::Connect(Box::new(c)));
}

#[test]
fn publish_header_without_payload() {
    let mut p = Publish::new("big", QoS::AtLeastOnce, Bytes::new());
    p.packet_id = Some(pid(1));
    let mut out = BytesMut::new();
    p.encode_header(268_435_445, V311, &mut out).unwrap();
    // Remaining length 2+3 + 2 + 268435445 = 268435452 = ff ff ff 7f minus 3 → fc ff ff 7f.
    assert_eq!(&out[..], b"\x32\xfc\xff\xff\x7f\x00\x03big\x00\x01");
    assert_eq!(p.packet_len(268_435_445, V311).unwrap(), 5 + 268_435_452);
    assert!(matches!(p.encode_header(268_435_449, V311, &mut out), Err(EncodeError::PacketTooLarge { .. })));
    assert_eq!(p.max_payload(MAX_PACKET_SIZE, V311).unwrap(), 268_435_448);
    // With a 100-byte packet limit: 1 + 1 + (7 + n) <= 100.
    assert_eq!(p.max_payload(100, V311).unwrap(), 91);
    assert_eq!(p.packet_len(91, V311).unwrap(), 100);
}
