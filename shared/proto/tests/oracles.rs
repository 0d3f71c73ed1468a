//! Cross-checks against codecs we did not write: rumqttc's MQTT 3.1.1 and 5 codecs, and the
//! `mqtt-protocol` crate for MQTT 3.1 (rumqttc cannot speak 3.1). For each packet: what the other codec
//! encodes, we decode to the packet we expect; what we encode, the other codec decodes to the packet it
//! expects.

#![allow(clippy::field_reassign_with_default)] // building packets field by field reads best in tests

use bytes::{Bytes, BytesMut};
use mq_proto::*;
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;

const V31: ProtocolVersion = ProtocolVersion::V31;
const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const MAX: usize = 268_435_460;

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn ours_decode(v: ProtocolVersion, bytes: &[u8]) -> Packet {
    let mut buf = BytesMut::from(bytes);
    let p = decode(&mut buf, v, MAX_PACKET_SIZE).expect("we decode their bytes").expect("complete");
    assert!(buf.is_empty());
    p
}

fn ours_encode(v: ProtocolVersion, p: &Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    p.encode(v, &mut buf).unwrap();
    buf
}

fn check_v4(ours: Packet, theirs: r4::Packet) {
    let mut tb = BytesMut::new();
    theirs.write(&mut tb, MAX).expect("rumqttc encodes");
    assert_eq!(ours_decode(V311, &tb), ours, "our decode of rumqttc v4 bytes");
    let mut ob = ours_encode(V311, &ours);
    let back = r4::Packet::read(&mut ob, MAX).expect("rumqttc decodes our bytes");
    assert_eq!(back, theirs, "rumqttc v4 decode of our bytes");
}

fn check_v5(ours: Packet, theirs: r5::Packet) {
    let mut tb = BytesMut::new();
    theirs.write(&mut tb, None).expect("rumqttc encodes");
    assert_eq!(ours_decode(V5, &tb), ours, "our decode of rumqttc v5 bytes");
    let mut ob = ours_encode(V5, &ours);
    let back = r5::Packet::read(&mut ob, None).expect("rumqttc decodes our bytes");
    assert_eq!(back, theirs, "rumqttc v5 decode of our bytes");
}

#[test]
fn rumqttc_v4_every_packet() {
    // CONNECT with will and login.
    let mut c = Connect::new(V311, "client-1");
    c.keep_alive = 30;
    c.clean_start = false;
    c.username = Some("user".into());
    c.password = Some(Bytes::from_static(b"pass"));
    c.will = Some(Will {
        topic: "will/t".into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
    });
    let mut rc = r4::Connect::new("client-1");
    rc.keep_alive = 30;
    rc.clean_session = false;
    rc.set_login("user", "pass");
    rc.last_will = Some(r4::LastWill::new("will/t", "gone", rumqttc::QoS::AtLeastOnce, true));
    check_v4(Packet::Connect(Box::new(c)), r4::Packet::Connect(rc));

    check_v4(
        Packet::ConnAck(ConnAck { session_present: true, code: 0, ..Default::default() }),
        r4::Packet::ConnAck(r4::ConnAck::new(r4::ConnectReturnCode::Success, true)),
    );
    check_v4(
        Packet::ConnAck(ConnAck { session_present: false, code: 5, ..Default::default() }),
        r4::Packet::ConnAck(r4::ConnAck::new(r4::ConnectReturnCode::NotAuthorized, false)),
    );

    for (qos, rq) in [
        (QoS::AtMostOnce, rumqttc::QoS::AtMostOnce),
        (QoS::AtLeastOnce, rumqttc::QoS::AtLeastOnce),
        (QoS::ExactlyOnce, rumqttc::QoS::ExactlyOnce),
    ] {
        let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut p = Publish::new("a/b/c", qos, payload.clone());
        p.retain = true;
        let mut rp = r4::Publish::new("a/b/c", rq, payload);
        rp.retain = true;
        if qos != QoS::AtMostOnce {
            p.packet_id = Some(pid(77));
            p.dup = true;
            rp.pkid = 77;
            rp.dup = true;
        }
        check_v4(Packet::Publish(p), r4::Packet::Publish(rp));
    }

    check_v4(Packet::PubAck(Ack::new(pid(1))), r4::Packet::PubAck(r4::PubAck::new(1)));
    check_v4(Packet::PubRec(Ack::new(pid(2))), r4::Packet::PubRec(r4::PubRec::new(2)));
    check_v4(Packet::PubRel(Ack::new(pid(3))), r4::Packet::PubRel(r4::PubRel::new(3)));
    check_v4(Packet::PubComp(Ack::new(pid(4))), r4::Packet::PubComp(r4::PubComp::new(4)));

    let opts = |qos| SubscriptionOptions { qos, ..Default::default() };
    let s = Subscribe::new(pid(9), vec![("a/+".into(), opts(QoS::AtLeastOnce)), ("#".into(), opts(QoS::ExactlyOnce))]);
    let rs = r4::Subscribe::new_many(vec![
        r4::SubscribeFilter::new("a/+".into(), rumqttc::QoS::AtLeastOnce),
        r4::SubscribeFilter::new("#".into(), rumqttc::QoS::ExactlyOnce),
    ]);
    let mut rs = rs;
    rs.pkid = 9;
    check_v4(Packet::Subscribe(s), r4::Packet::Subscribe(rs));

    check_v4(
        Packet::SubAck(SubAck {
            packet_id: pid(9),
            reason_codes: vec![ReasonCode(1), ReasonCode(0x80)],
            properties: Default::default(),
        }),
        r4::Packet::SubAck(r4::SubAck::new(
            9,
            vec![r4::SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce), r4::SubscribeReasonCode::Failure],
        )),
    );
    let mut ru = r4::Unsubscribe::new("a/+");
    ru.pkid = 5;
    check_v4(Packet::Unsubscribe(Unsubscribe::new(pid(5), vec!["a/+".into()])), r4::Packet::Unsubscribe(ru));
    check_v4(
        Packet::UnsubAck(UnsubAck { packet_id: pid(5), reason_codes: vec![], properties: Default::default() }),
        r4::Packet::UnsubAck(r4::UnsubAck::new(5)),
    );
    check_v4(Packet::PingReq, r4::Packet::PingReq);
    check_v4(Packet::PingResp, r4::Packet::PingResp);
    check_v4(Packet::Disconnect(Disconnect::default()), r4::Packet::Disconnect);
}

#[test]
fn rumqttc_v5_every_packet() {
    // CONNECT with properties, will with properties, login.
    let mut c = Connect::new(V5, "c5");
    c.keep_alive = 15;
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(b"p"));
    c.properties.session_expiry_interval = Some(3600);
    c.properties.receive_maximum = Some(10);
    c.properties.maximum_packet_size = Some(1 << 20);
    c.properties.topic_alias_maximum = Some(4);
    c.properties.user_properties = vec![("k".into(), "v".into())];
    let mut wp = WillProperties::default();
    wp.will_delay_interval = Some(5);
    wp.content_type = Some("text/plain".into());
    wp.user_properties = vec![("w".into(), "1".into())];
    c.will = Some(Will {
        topic: "w/t".into(),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: wp,
    });
    let rc = r5::Connect {
        keep_alive: 15,
        client_id: "c5".into(),
        clean_start: true,
        properties: Some(r5::ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: Some(10),
            max_packet_size: Some(1 << 20),
            topic_alias_max: Some(4),
            request_response_info: None,
            request_problem_info: None,
            user_properties: vec![("k".into(), "v".into())],
            authentication_method: None,
            authentication_data: None,
        }),
    };
    let rw = r5::LastWill {
        topic: Bytes::from_static(b"w/t"),
        message: Bytes::from_static(b"bye"),
        qos: rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
        retain: false,
        properties: Some(r5::LastWillProperties {
            delay_interval: Some(5),
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: Some("text/plain".into()),
            response_topic: None,
            correlation_data: None,
            user_properties: vec![("w".into(), "1".into())],
        }),
    };
    check_v5(
        Packet::Connect(Box::new(c)),
        r5::Packet::Connect(rc, Some(rw), Some(r5::Login { username: "u".into(), password: "p".into() })),
    );

    // CONNACK with properties.
    let mut ca = ConnAck { session_present: true, code: 0, ..Default::default() };
    ca.properties.receive_maximum = Some(20);
    ca.properties.maximum_qos = Some(1);
    ca.properties.assigned_client_identifier = Some("auto-x".into());
    ca.properties.topic_alias_maximum = Some(10);
    ca.properties.server_keep_alive = Some(60);
    check_v5(
        Packet::ConnAck(ca),
        r5::Packet::ConnAck(r5::ConnAck {
            session_present: true,
            code: r5::ConnectReturnCode::Success,
            properties: Some(r5::ConnAckProperties {
                session_expiry_interval: None,
                receive_max: Some(20),
                max_qos: Some(1),
                retain_available: None,
                max_packet_size: None,
                assigned_client_identifier: Some("auto-x".into()),
                topic_alias_max: Some(10),
                reason_string: None,
                user_properties: vec![],
                wildcard_subscription_available: None,
                subscription_identifiers_available: None,
                shared_subscription_available: None,
                server_keep_alive: Some(60),
                response_information: None,
                server_reference: None,
                authentication_method: None,
                authentication_data: None,
            }),
        }),
    );

    // PUBLISH with every property rumqttc models.
    let mut p = Publish::new("s/1", QoS::AtLeastOnce, Bytes::from_static(b"{\"t\":1}"));
    p.packet_id = Some(pid(300));
    p.properties = PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(60),
        topic_alias: Some(2),
        response_topic: Some("resp".into()),
        correlation_data: Some(Bytes::from_static(b"c1")),
        user_properties: vec![("a".into(), "b".into())],
        subscription_identifiers: vec![7],
        content_type: Some("application/json".into()),
    };
    let mut rp = r5::Publish::new(
        "s/1",
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        Bytes::from_static(b"{\"t\":1}"),
        Some(r5::PublishProperties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(60),
            topic_alias: Some(2),
            response_topic: Some("resp".into()),
            correlation_data: Some(Bytes::from_static(b"c1")),
            user_properties: vec![("a".into(), "b".into())],
            subscription_identifiers: vec![7],
            content_type: Some("application/json".into()),
        }),
    );
    rp.pkid = 300;
    check_v5(Packet::Publish(p), r5::Packet::Publish(rp));

    // PUBACK with a reason code.
    check_v5(
        Packet::PubAck(Ack::with_reason(pid(300), ReasonCode::NO_MATCHING_SUBSCRIBERS)),
        r5::Packet::PubAck(r5::PubAck { pkid: 300, reason: r5::PubAckReason::NoMatchingSubscribers, properties: None }),
    );
    check_v5(
        Packet::PubComp(Ack::new(pid(8))),
        r5::Packet::PubComp(r5::PubComp { pkid: 8, reason: r5::PubCompReason::Success, properties: None }),
    );

    // SUBSCRIBE with options and a subscription identifier.
    let mut s = Subscribe::new(
        pid(4),
        vec![(
            "x/#".into(),
            SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::SendIfNew,
            },
        )],
    );
    s.properties.subscription_identifier = Some(42);
    check_v5(
        Packet::Subscribe(s),
        r5::Packet::Subscribe(r5::Subscribe {
            pkid: 4,
            filters: vec![r5::Filter {
                path: "x/#".into(),
                qos: rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
                nolocal: true,
                preserve_retain: true,
                retain_forward_rule: r5::RetainForwardRule::OnNewSubscribe,
            }],
            properties: Some(r5::SubscribeProperties { id: Some(42), user_properties: vec![] }),
        }),
    );

    check_v5(
        Packet::SubAck(SubAck {
            packet_id: pid(4),
            reason_codes: vec![ReasonCode(2), ReasonCode::NOT_AUTHORIZED],
            properties: Default::default(),
        }),
        r5::Packet::SubAck(r5::SubAck {
            pkid: 4,
            return_codes: vec![
                r5::SubscribeReasonCode::Success(rumqttc::v5::mqttbytes::QoS::ExactlyOnce),
                r5::SubscribeReasonCode::NotAuthorized,
            ],
            properties: None,
        }),
    );

    let mut d = Disconnect::new(ReasonCode::SESSION_TAKEN_OVER);
    d.properties.reason_string = Some("bye".into());
    check_v5(
        Packet::Disconnect(d),
        r5::Packet::Disconnect(r5::Disconnect {
            reason_code: r5::DisconnectReasonCode::SessionTakenOver,
            properties: Some(r5::DisconnectProperties {
                session_expiry_interval: None,
                reason_string: Some("bye".into()),
                user_properties: vec![],
                server_reference: None,
            }),
        }),
    );
    check_v5(Packet::PingReq, r5::Packet::PingReq(r5::PingReq));
}

#[test]
fn mqtt_protocol_v31() {
    use mqtt::packet::{
        ConnectPacket, PublishPacket, QoSWithPacketIdentifier, SubackPacket, SubscribePacket, VariablePacket,
    };
    use mqtt::{Decodable, Encodable, QualityOfService, TopicFilter, TopicName};

    fn theirs_to_bytes(p: &VariablePacket) -> Vec<u8> {
        let mut out = Vec::new();
        p.encode(&mut out).unwrap();
        out
    }

    fn ours_to_theirs(p: &Packet) -> VariablePacket {
        let b = ours_encode(V31, p);
        VariablePacket::decode(&mut &b[..]).expect("mqtt-protocol decodes our bytes")
    }

    // CONNECT: "MQIsdp", level 3, with will and login.
    let mut tc = ConnectPacket::with_level("MQIsdp", "legacy", 3).unwrap();
    tc.set_keep_alive(20);
    tc.set_clean_session(true);
    tc.set_user_name(Some("u".into()));
    tc.set_password(Some("p".into()));
    tc.set_will(Some((TopicName::new("w").unwrap(), b"bye".to_vec())));
    tc.set_will_qos(1);
    let theirs = VariablePacket::new(tc);
    let mut c = Connect::new(V31, "legacy");
    c.keep_alive = 20;
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(b"p"));
    c.will = Some(Will {
        topic: "w".into(),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    let ours = Packet::Connect(Box::new(c));
    assert_eq!(ours_decode(V31, &theirs_to_bytes(&theirs)), ours);
    assert_eq!(ours_to_theirs(&ours), theirs);

    // PUBLISH QoS 2.
    let tp = PublishPacket::new(
        TopicName::new("a/b").unwrap(),
        QoSWithPacketIdentifier::new(QualityOfService::Level2, 12),
        b"hello".to_vec(),
    );
    let theirs = VariablePacket::new(tp);
    let mut p = Publish::new("a/b", QoS::ExactlyOnce, Bytes::from_static(b"hello"));
    p.packet_id = Some(pid(12));
    let ours = Packet::Publish(p);
    assert_eq!(ours_decode(V31, &theirs_to_bytes(&theirs)), ours);
    assert_eq!(ours_to_theirs(&ours), theirs);

    // SUBSCRIBE and SUBACK.
    let ts = SubscribePacket::new(3, vec![(TopicFilter::new("s/#").unwrap(), QualityOfService::Level1)]);
    let theirs = VariablePacket::new(ts);
    let ours = Packet::Subscribe(Subscribe::new(
        pid(3),
        vec![("s/#".into(), SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() })],
    ));
    assert_eq!(ours_decode(V31, &theirs_to_bytes(&theirs)), ours);
    assert_eq!(ours_to_theirs(&ours), theirs);

    let ta = SubackPacket::new(3, vec![mqtt::packet::suback::SubscribeReturnCode::MaximumQoSLevel1]);
    let theirs = VariablePacket::new(ta);
    let ours =
        Packet::SubAck(SubAck { packet_id: pid(3), reason_codes: vec![ReasonCode(1)], properties: Default::default() });
    assert_eq!(ours_decode(V31, &theirs_to_bytes(&theirs)), ours);
    assert_eq!(ours_to_theirs(&ours), theirs);
}
