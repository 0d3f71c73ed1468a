//! Malformed and rule-breaking input: what each decodes to, and the reason code a broker answers with.

#![allow(clippy::field_reassign_with_default)] // building packets field by field reads best in tests

use bytes::BytesMut;
use mq_proto::*;

const V31: ProtocolVersion = ProtocolVersion::V31;
const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn decode_err(v: ProtocolVersion, wire: &[u8]) -> DecodeError {
    let mut buf = BytesMut::from(wire);
    match decode(&mut buf, v, MAX_PACKET_SIZE) {
        Err(e) => e,
        Ok(p) => panic!("{wire:02x?} decoded to {p:?}"),
    }
}

#[test]
fn table() {
    use DecodeError as E;
    let cases: Vec<(ProtocolVersion, &[u8], DecodeError, u8)> = vec![
        // Fixed header.
        (V311, b"\x00\x00", E::ReservedPacketType(0), 0x82),
        (V311, b"\xf0\x00", E::ReservedPacketType(15), 0x82),
        (V311, b"\xc1\x00", E::InvalidFlags { packet: PacketType::PingReq, flags: 1 }, 0x81),
        (V311, b"\x60\x02\x00\x01", E::InvalidFlags { packet: PacketType::PubRel, flags: 0 }, 0x81),
        (V311, b"\x80\x05\x00\x01\x00\x01a", E::InvalidFlags { packet: PacketType::Subscribe, flags: 0 }, 0x81),
        (V311, b"\xa0\x05\x00\x01\x00\x01a", E::InvalidFlags { packet: PacketType::Unsubscribe, flags: 0 }, 0x81),
        (V311, b"\x11\x00", E::InvalidFlags { packet: PacketType::Connect, flags: 1 }, 0x81),
        (V311, b"\x6a\x02\x00\x01", E::InvalidFlags { packet: PacketType::PubRel, flags: 0xa }, 0x81),
        (V311, b"\x30\xff\xff\xff\xff\x7f", E::VarIntTooLong, 0x81),
        (V311, b"\x30\x80\x00", E::VarIntOverlong, 0x81),
        // PUBLISH.
        (V311, b"\x36\x03\x00\x01a", E::PublishQos3, 0x81),
        (V311, b"\x38\x03\x00\x01a", E::DupAtQos0, 0x81),
        (V311, b"\x32\x05\x00\x01a\x00\x00", E::ZeroPacketId { packet: PacketType::Publish }, 0x82),
        (V311, b"\x30\x03\x00\x01+", E::TopicNameWildcard, 0x81),
        (V311, b"\x30\x05\x00\x03a/#", E::TopicNameWildcard, 0x81),
        (V311, b"\x30\x02\x00\x00", E::EmptyTopicName, 0x81),
        (V5, b"\x30\x03\x00\x00\x00", E::EmptyTopicName, 0x81),
        (V311, b"\x30\x03\x00\x01\xff", E::InvalidUtf8 { field: "topic name" }, 0x81),
        (V311, b"\x30\x04\x00\x02\xed\xa0", E::InvalidUtf8 { field: "topic name" }, 0x81), // a surrogate half
        (V311, b"\x30\x04\x00\x02a\x00", E::NullCharacter { field: "topic name" }, 0x81),
        (V311, b"\x30\x04\x00\x02a\n", E::ControlCharacter { field: "topic name" }, 0x81),
        (V311, b"\x30\x04\x00\x02\x1b[", E::ControlCharacter { field: "topic name" }, 0x81),
        (V311, b"\x30\x04\x00\x02a\x7f", E::ControlCharacter { field: "topic name" }, 0x81),
        (V311, b"\x30\x04\x00\x02\xc2\x85", E::ControlCharacter { field: "topic name" }, 0x81), // NEL, a C1 control
        (V311, b"\x30\x03\x00\x05a", E::UnexpectedEnd { packet: PacketType::Publish, field: "topic name" }, 0x81),
        (
            V311,
            b"\x32\x04\x00\x01a\x00",
            E::UnexpectedEnd { packet: PacketType::Publish, field: "packet identifier" },
            0x81,
        ),
        // MQTT 5 properties.
        (
            V5,
            b"\x30\x07\x00\x01a\x03\x23\x00\x00",
            E::InvalidPropertyValue { id: 0x23, value: 0, packet: PacketType::Publish },
            0x82,
        ),
        (V5, b"\x30\x08\x00\x01a\x04\x01\x01\x01\x01", E::DuplicateProperty { id: 0x01 }, 0x82),
        (
            V5,
            b"\x30\x06\x00\x01a\x02\x01\x02",
            E::InvalidPropertyValue { id: 0x01, value: 2, packet: PacketType::Publish },
            0x82,
        ),
        (
            V5,
            b"\x30\x09\x00\x01a\x05\x11\x00\x00\x00\x00",
            E::PropertyNotAllowed { id: 0x11, packet: PacketType::Publish },
            0x82,
        ),
        // A property the packet does not allow is read whole first: cut short, it is malformed, and
        // so is the block when a malformed property follows it (Mosquitto checks rules after reading).
        (
            V5,
            b"\x30\x06\x00\x01a\x02\x11\x00",
            E::UnexpectedEnd { packet: PacketType::Publish, field: "property value" },
            0x81,
        ),
        (V5, b"\x30\x0b\x00\x01a\x07\x11\x00\x00\x00\x00\x70\x00", E::UnknownProperty { id: 0x70 }, 0x81),
        // [MQTT-3.3.2-14] no wildcard in a Response Topic.
        (V5, b"\x30\x09\x00\x01a\x05\x08\x00\x02a#", E::ResponseTopicWildcard, 0x82),
        // Mosquitto calls property errors in SUBSCRIBE and UNSUBSCRIBE malformed.
        (
            V5,
            b"\x82\x09\x00\x01\x02\x01\x00\x00\x01a\x00",
            E::PropertyNotAllowed { id: 0x01, packet: PacketType::Subscribe },
            0x81,
        ),
        (
            V5,
            b"\x82\x09\x00\x01\x02\x0b\x00\x00\x01a\x00",
            E::InvalidPropertyValue { id: 0x0b, value: 0, packet: PacketType::Subscribe },
            0x81,
        ),
        (V5, b"\x30\x06\x00\x01a\x02\x7f\x00", E::UnknownProperty { id: 0x7f }, 0x81),
        (
            V5,
            b"\x30\x06\x00\x01a\x03\x02\x00",
            E::UnexpectedEnd { packet: PacketType::Publish, field: "properties" },
            0x81,
        ),
        (
            V5,
            b"\x30\x07\x00\x01a\x03\x02\x00\x00",
            E::UnexpectedEnd { packet: PacketType::Publish, field: "property value" },
            0x81,
        ),
        (
            V5,
            b"\x30\x06\x00\x01a\x02\x0b\x00",
            E::InvalidPropertyValue { id: 0x0b, value: 0, packet: PacketType::Publish },
            0x82,
        ),
        (
            V5,
            b"\x40\x06\x00\x01\x00\x02\x26\x00",
            E::UnexpectedEnd { packet: PacketType::PubAck, field: "user property name" },
            0x81,
        ),
        (V5, b"\x40\x06\x00\x01\x00\x02\x01\x00", E::PropertyNotAllowed { id: 0x01, packet: PacketType::PubAck }, 0x82),
        // Reason codes a packet does not allow.
        (V5, b"\x40\x03\x00\x01\x11", E::InvalidReasonCode { packet: PacketType::PubAck, code: 0x11 }, 0x82),
        (V5, b"\xe0\x01\x01", E::InvalidReasonCode { packet: PacketType::Disconnect, code: 0x01 }, 0x82),
        // Acknowledgements.
        (V311, b"\x40\x02\x00\x00", E::ZeroPacketId { packet: PacketType::PubAck }, 0x82),
        (V311, b"\x40\x03\x00\x01\x00", E::TrailingBytes { packet: PacketType::PubAck, extra: 1 }, 0x81),
        (V311, b"\xc0\x01\x00", E::TrailingBytes { packet: PacketType::PingReq, extra: 1 }, 0x81),
        (V311, b"\xe0\x01\x00", E::TrailingBytes { packet: PacketType::Disconnect, extra: 1 }, 0x81),
        // SUBSCRIBE / UNSUBSCRIBE.
        (V311, b"\x82\x02\x00\x01", E::NoTopicFilters { packet: PacketType::Subscribe }, 0x81),
        // Packet identifier 0: Mosquitto calls it malformed in SUBSCRIBE and UNSUBSCRIBE.
        (V311, b"\x82\x06\x00\x00\x00\x01a\x00", E::ZeroPacketId { packet: PacketType::Subscribe }, 0x81),
        (V311, b"\xa2\x05\x00\x00\x00\x01a", E::ZeroPacketId { packet: PacketType::Unsubscribe }, 0x81),
        (V311, b"\xa2\x02\x00\x01", E::NoTopicFilters { packet: PacketType::Unsubscribe }, 0x81),
        (V311, b"\x82\x06\x00\x01\x00\x01a\x03", E::InvalidSubscriptionOptions(3), 0x81),
        (V311, b"\x82\x06\x00\x01\x00\x01a\x04", E::InvalidSubscriptionOptions(4), 0x81),
        (V5, b"\x82\x07\x00\x01\x00\x00\x01a\x40", E::InvalidSubscriptionOptions(0x40), 0x81),
        (V5, b"\x82\x07\x00\x01\x00\x00\x01a\x30", E::InvalidRetainHandling, 0x81),
        (V311, b"\x82\x05\x00\x01\x00\x00\x00", E::EmptyTopicFilter, 0x81),
        (
            V311,
            b"\x82\x05\x00\x01\x00\x01a",
            E::UnexpectedEnd { packet: PacketType::Subscribe, field: "subscription options" },
            0x81,
        ),
        (V5, b"\x82\x0a\x00\x01\x04\x0b\x01\x0b\x02\x00\x01a\x00", E::DuplicateProperty { id: 0x0b }, 0x82),
        (V311, b"\x90\x03\x00\x01\x03", E::InvalidSubAckCode(3), 0x81),
        (V31, b"\x90\x03\x00\x01\x80", E::InvalidSubAckCode(0x80), 0x81),
        // CONNECT.
        (
            V311,
            b"\x10\x0c\x00\x04MQTT\x06\x02\x00\x3c\x00\x00",
            E::UnsupportedProtocol { name: "MQTT".into(), level: 6 },
            0x84,
        ),
        (
            V311,
            b"\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00",
            E::UnsupportedProtocol { name: "MQTX".into(), level: 4 },
            0x84,
        ),
        (
            V311,
            b"\x10\x0e\x00\x06MQIsdp\x04\x02\x00\x3c\x00\x00",
            E::UnsupportedProtocol { name: "MQIsdp".into(), level: 4 },
            0x84,
        ),
        (V311, b"\x10\x0c\x00\x04MQTT\x04\x03\x00\x3c\x00\x00", E::ConnectReservedFlag, 0x81),
        (V311, b"\x10\x0c\x00\x04MQTT\x04\x08\x00\x3c\x00\x00", E::InvalidWillFlags, 0x81),
        (V311, b"\x10\x0c\x00\x04MQTT\x04\x22\x00\x3c\x00\x00", E::InvalidWillFlags, 0x81),
        (V311, b"\x10\x0c\x00\x04MQTT\x04\x1e\x00\x3c\x00\x00", E::InvalidWillFlags, 0x81),
        (V311, b"\x10\x0c\x00\x04MQTT\x04\x42\x00\x3c\x00\x00", E::PasswordWithoutUsername, 0x82),
        (
            V311,
            b"\x10\x0f\x00\x04MQTT\x04\x06\x00\x3c\x00\x00\x00\x01a",
            E::UnexpectedEnd { packet: PacketType::Connect, field: "will payload" },
            0x81,
        ),
        (V311, b"\x10\x11\x00\x04MQTT\x04\x06\x00\x3c\x00\x00\x00\x01#\x00\x00", E::TopicNameWildcard, 0x81),
        (V311, b"\x10\x10\x00\x04MQTT\x04\x06\x00\x3c\x00\x00\x00\x00\x00\x00", E::EmptyWillTopic, 0x82),
        (
            V5,
            b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x00\x00\x00",
            E::InvalidPropertyValue { id: 0x21, value: 0, packet: PacketType::Connect },
            0x82,
        ),
        (
            V5,
            b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x02\x01\x00\x00\x00",
            E::PropertyNotAllowed { id: 0x01, packet: PacketType::Connect },
            0x82,
        ),
        (
            V5,
            b"\x10\x12\x00\x04MQTT\x05\x02\x00\x3c\x05\x27\x00\x00\x00\x00\x00\x00",
            E::InvalidPropertyValue { id: 0x27, value: 0, packet: PacketType::Connect },
            0x82,
        ),
        (
            V311,
            b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02\xc3\x28",
            E::InvalidUtf8 { field: "client identifier" },
            0x81,
        ),
        // CONNACK.
        (V311, b"\x20\x02\x02\x00", E::InvalidConnAckFlags(2), 0x81),
        (V5, b"\x20\x03\x00\x04\x00", E::InvalidReasonCode { packet: PacketType::ConnAck, code: 4 }, 0x82),
    ];
    for (v, wire, want, reason) in cases {
        let got = decode_err(v, wire);
        assert_eq!(got, want, "{v} {wire:02x?}");
        assert_eq!(got.reason_code(), ReasonCode(reason), "reason code for {got}");
        assert!(!got.to_string().is_empty());
    }
}

#[test]
fn too_large_is_refused_from_the_fixed_header() {
    // Only the first 5 bytes of a 268 MB PUBLISH: refused before any body byte arrives.
    let mut buf = BytesMut::from(&b"\x30\xff\xff\xff\x7f"[..]);
    let err = decode(&mut buf, V311, 1024).unwrap_err();
    assert_eq!(err, DecodeError::PacketTooLarge { size: 5 + 268_435_455, max: 1024 });
    assert_eq!(err.reason_code(), ReasonCode::PACKET_TOO_LARGE);
    assert!(buf.capacity() < 1024, "nothing was reserved for the body");
    // Exactly at the limit passes the check and waits for the body.
    let mut buf = BytesMut::from(&b"\x30\x0a"[..]);
    assert_eq!(decode(&mut buf, V311, 12), Ok(None));
    assert!(matches!(decode(&mut buf, V311, 11), Err(DecodeError::PacketTooLarge { size: 12, max: 11 })));
}

#[test]
fn v31_allows_dup_on_pubrel_and_subscribe() {
    let mut buf = BytesMut::from(&b"\x6a\x02\x00\x01"[..]);
    assert!(matches!(decode(&mut buf, V31, MAX_PACKET_SIZE), Ok(Some(Packet::PubRel(_)))));
    let mut buf = BytesMut::from(&b"\x8a\x06\x00\x01\x00\x01a\x01"[..]);
    assert!(matches!(decode(&mut buf, V31, MAX_PACKET_SIZE), Ok(Some(Packet::Subscribe(_)))));
}

#[test]
fn unsupported_protocol_gets_v3_return_code() {
    let err = decode_err(V311, b"\x10\x0c\x00\x04MQTT\x06\x02\x00\x3c\x00\x00");
    assert_eq!(err.connect_return_code(), Some(ConnectReturnCode::UNACCEPTABLE_PROTOCOL_VERSION));
    assert_eq!(decode_err(V311, b"\x36\x03\x00\x01a").connect_return_code(), None);
}

#[test]
fn encode_errors() {
    let p = Publish::new("t", QoS::AtLeastOnce, &b"x"[..]);
    assert_eq!(Packet::Publish(p).encode(V311, &mut BytesMut::new()), Err(EncodeError::MissingPacketId { qos: 1 }));
    let long = "x".repeat(65_536);
    let p = Publish::new(long.as_str(), QoS::AtMostOnce, &b""[..]);
    let mut out = BytesMut::new();
    assert!(matches!(Packet::Publish(p).encode(V311, &mut out), Err(EncodeError::FieldTooLong { .. })));
    assert!(out.is_empty(), "nothing written on error");
    assert!(matches!(
        Packet::Auth(Auth::default()).encode(V311, &mut out),
        Err(EncodeError::NotInVersion { packet: PacketType::Auth, .. })
    ));
}
