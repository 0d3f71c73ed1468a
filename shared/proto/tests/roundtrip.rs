//! Property tests: every packet type in every version survives encode → decode; every strict prefix of
//! an encoded packet decodes to "need more"; packets back to back decode one by one; random bytes never
//! make the decoder panic.

#![allow(clippy::field_reassign_with_default)] // building packets field by field reads best in tests

use bytes::{Bytes, BytesMut};
use mq_proto::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V31), Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

fn text() -> impl Strategy<Value = String> {
    // Valid MQTT strings: no U+0000 and no control characters.
    "[^\\p{Cc}]{0,12}"
}

fn topic() -> impl Strategy<Value = String> {
    "[a-z0-9/ é$]{1,16}"
}

fn filter() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z/]{1,12}", Just("#".to_string()), Just("a/+/c".to_string()), Just("$share/g/x/#".to_string())]
}

fn bin() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce), Just(QoS::ExactlyOnce)]
}

fn pid() -> impl Strategy<Value = PacketId> {
    (1u16..).prop_map(|n| PacketId::new(n).unwrap())
}

fn flag() -> impl Strategy<Value = Option<u8>> {
    option::of(0u8..=1)
}

fn users() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((text(), text()), 0..3)
}

fn reason_for(packet: PacketType) -> impl Strategy<Value = ReasonCode> {
    any::<u8>().prop_map(move |c| if ReasonCode(c).is_valid_for(packet) { ReasonCode(c) } else { ReasonCode::SUCCESS })
}

fn ack_props() -> impl Strategy<Value = AckProperties> {
    (option::of(text()), users())
        .prop_map(|(reason_string, user_properties)| AckProperties { reason_string, user_properties })
}

fn publish_props() -> impl Strategy<Value = PublishProperties> {
    (
        flag(),
        option::of(any::<u32>()),
        option::of(1u16..),
        option::of(topic()),
        option::of(bin()),
        users(),
        vec(1u32..=268_435_455, 0..3),
        option::of(text()),
    )
        .prop_map(|(pfi, mei, alias, rt, cd, up, ids, ct)| PublishProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            topic_alias: alias,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
            subscription_identifiers: ids,
            content_type: ct,
        })
}

fn will(v: ProtocolVersion) -> impl Strategy<Value = Will> {
    let props = (
        option::of(any::<u32>()),
        flag(),
        option::of(any::<u32>()),
        option::of(text()),
        option::of(topic()),
        option::of(bin()),
        users(),
    )
        .prop_map(|(d, pfi, mei, ct, rt, cd, up)| WillProperties {
            will_delay_interval: d,
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
        });
    (topic(), bin(), qos(), any::<bool>(), props).prop_map(move |(t, payload, qos, retain, properties)| Will {
        topic: t.into(),
        payload,
        qos,
        retain,
        properties: if v.is_v5() { properties } else { WillProperties::default() },
    })
}

fn connect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let props = (
        option::of(any::<u32>()),
        option::of(1u16..),
        option::of(1u32..),
        option::of(any::<u16>()),
        flag(),
        flag(),
        users(),
        option::of(text()),
        option::of(bin()),
    )
        .prop_map(|(se, rm, mps, tam, rri, rpi, up, am, ad)| ConnectProperties {
            session_expiry_interval: se,
            receive_maximum: rm,
            maximum_packet_size: mps,
            topic_alias_maximum: tam,
            request_response_information: rri,
            request_problem_information: rpi,
            user_properties: up,
            authentication_method: am,
            authentication_data: ad,
        });
    (
        any::<bool>(),
        any::<bool>(),
        any::<u16>(),
        text(),
        option::of(will(v)),
        option::of(text()),
        option::of(bin()),
        props,
    )
        .prop_map(move |(bridge, clean_start, keep_alive, client_id, will, username, password, properties)| {
            // MQTT 3.x forbids a password without a user name.
            let username =
                if password.is_some() && !v.is_v5() && username.is_none() { Some(String::new()) } else { username };
            Packet::Connect(Box::new(Connect {
                protocol: v,
                bridge,
                clean_start,
                keep_alive,
                client_id,
                will,
                username,
                password,
                properties: if v.is_v5() { properties } else { ConnectProperties::default() },
            }))
        })
}

fn connack(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let props = (
        (option::of(any::<u32>()), option::of(1u16..), flag(), flag(), option::of(1u32..), option::of(text())),
        (option::of(any::<u16>()), option::of(text()), users(), flag(), flag(), flag()),
        (option::of(any::<u16>()), option::of(text()), option::of(text()), option::of(text()), option::of(bin())),
    )
        .prop_map(|((se, rm, mq, ra, mps, aci), (tam, rs, up, w, s, sh), (ska, ri, sr, am, ad))| {
            ConnAckProperties {
                session_expiry_interval: se,
                receive_maximum: rm,
                maximum_qos: mq,
                retain_available: ra,
                maximum_packet_size: mps,
                assigned_client_identifier: aci,
                topic_alias_maximum: tam,
                reason_string: rs,
                user_properties: up,
                wildcard_subscription_available: w,
                subscription_identifier_available: s,
                shared_subscription_available: sh,
                server_keep_alive: ska,
                response_information: ri,
                server_reference: sr,
                authentication_method: am,
                authentication_data: ad,
            }
        });
    (any::<bool>(), reason_for(PacketType::ConnAck), 0u8..=5, props).prop_map(move |(sp, rc, v3code, properties)| {
        Packet::ConnAck(match v {
            ProtocolVersion::V5 => ConnAck { session_present: sp, code: rc.0, properties },
            ProtocolVersion::V311 => ConnAck { session_present: sp, code: v3code, ..Default::default() },
            ProtocolVersion::V31 => ConnAck { session_present: false, code: v3code, ..Default::default() },
        })
    })
}

fn publish(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (any::<bool>(), qos(), any::<bool>(), topic(), pid(), publish_props(), bin()).prop_map(
        move |(dup, qos, retain, topic, id, properties, payload)| {
            let qos0 = qos == QoS::AtMostOnce;
            Packet::Publish(Publish {
                dup: dup && !qos0,
                qos,
                retain,
                topic: topic.into(),
                packet_id: if qos0 { None } else { Some(id) },
                properties: if v.is_v5() { properties } else { PublishProperties::default() },
                payload,
            })
        },
    )
}

fn ack(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let kinds = prop_oneof![
        Just(PacketType::PubAck),
        Just(PacketType::PubRec),
        Just(PacketType::PubRel),
        Just(PacketType::PubComp)
    ];
    kinds.prop_flat_map(move |kind| {
        (pid(), reason_for(kind), ack_props()).prop_map(move |(packet_id, reason, properties)| {
            let a = if v.is_v5() { Ack { packet_id, reason, properties } } else { Ack::new(packet_id) };
            match kind {
                PacketType::PubAck => Packet::PubAck(a),
                PacketType::PubRec => Packet::PubRec(a),
                PacketType::PubRel => Packet::PubRel(a),
                _ => Packet::PubComp(a),
            }
        })
    })
}

fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let opts = (qos(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(move |(qos, nl, rap, rh)| {
        if v.is_v5() {
            SubscriptionOptions {
                qos,
                no_local: nl,
                retain_as_published: rap,
                retain_handling: match rh {
                    0 => RetainHandling::SendAtSubscribe,
                    1 => RetainHandling::SendIfNew,
                    _ => RetainHandling::DoNotSend,
                },
            }
        } else {
            SubscriptionOptions { qos, ..Default::default() }
        }
    });
    (pid(), vec((filter(), opts), 1..4), option::of(1u32..=268_435_455), users()).prop_map(
        move |(id, filters, si, up)| {
            let mut s = Subscribe::new(id, filters);
            if v.is_v5() {
                s.properties = SubscribeProperties { subscription_identifier: si, user_properties: up };
            }
            Packet::Subscribe(s)
        },
    )
}

fn suback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (pid(), vec(any::<u8>(), 0..5), ack_props()).prop_map(move |(packet_id, raw, properties)| {
        let reason_codes = raw
            .into_iter()
            .map(|c| match v {
                ProtocolVersion::V5 if ReasonCode(c).is_valid_for(PacketType::SubAck) => ReasonCode(c),
                ProtocolVersion::V311 if c == 0x80 => ReasonCode(c),
                _ => ReasonCode(c % 3),
            })
            .collect();
        Packet::SubAck(SubAck {
            packet_id,
            reason_codes,
            properties: if v.is_v5() { properties } else { AckProperties::default() },
        })
    })
}

fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (pid(), vec(filter(), 1..4), users()).prop_map(move |(id, filters, up)| {
        let mut u = Unsubscribe::new(id, filters);
        if v.is_v5() {
            u.properties.user_properties = up;
        }
        Packet::Unsubscribe(u)
    })
}

fn unsuback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (pid(), vec(reason_for(PacketType::UnsubAck), 0..4), ack_props()).prop_map(move |(packet_id, codes, properties)| {
        Packet::UnsubAck(if v.is_v5() {
            UnsubAck { packet_id, reason_codes: codes, properties }
        } else {
            UnsubAck { packet_id, reason_codes: vec![], properties: AckProperties::default() }
        })
    })
}

fn disconnect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (reason_for(PacketType::Disconnect), option::of(any::<u32>()), option::of(text()), users(), option::of(text()))
        .prop_map(move |(reason, se, rs, up, sr)| {
            Packet::Disconnect(if v.is_v5() {
                Disconnect {
                    reason,
                    properties: DisconnectProperties {
                        session_expiry_interval: se,
                        reason_string: rs,
                        user_properties: up,
                        server_reference: sr,
                    },
                }
            } else {
                Disconnect::default()
            })
        })
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason_for(PacketType::Auth), option::of(text()), option::of(bin()), option::of(text()), users()).prop_map(
        |(reason, am, ad, rs, up)| {
            Packet::Auth(Auth {
                reason,
                properties: AuthProperties {
                    authentication_method: am,
                    authentication_data: ad,
                    reason_string: rs,
                    user_properties: up,
                },
            })
        },
    )
}

/// Any packet valid in `v`.
fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        connect(v),
        connack(v),
        publish(v),
        ack(v),
        subscribe(v),
        suback(v),
        unsubscribe(v),
        unsuback(v),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(v),
    ];
    if v.is_v5() { prop_oneof![10 => common, 1 => auth()].boxed() } else { common.boxed() }
}

fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| packet(v).prop_map(move |p| (v, p)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn roundtrip_every_packet((v, p) in versioned_packet()) {
        let mut buf = BytesMut::new();
        p.encode(v, &mut buf).unwrap();
        prop_assert_eq!(buf.len(), p.encoded_len(v).unwrap());
        // Every strict prefix is "need more", and leaves the buffer as it was.
        for cut in 0..buf.len() {
            let mut head = BytesMut::from(&buf[..cut]);
            prop_assert_eq!(decode(&mut head, v, MAX_PACKET_SIZE), Ok(None), "prefix of {} bytes", cut);
            prop_assert_eq!(head.len(), cut);
        }
        // A PUBLISH head decodes on its own once it is all there, from every prefix on.
        if let Packet::Publish(publish) = &p {
            let whole = publish.payload.len();
            let head_len = buf.len() - whole;
            for cut in 0..=buf.len() {
                match decode_publish_head(&buf[..cut], v, MAX_PACKET_SIZE) {
                    Ok(None) => prop_assert!(cut < head_len, "head incomplete at {} of {}", cut, head_len),
                    Ok(Some((head, used, payload_len))) => {
                        prop_assert!(cut >= head_len);
                        prop_assert_eq!((used, payload_len), (head_len, whole));
                        let mut expect = publish.clone();
                        expect.payload = Bytes::new();
                        prop_assert_eq!(head, expect);
                    }
                    Err(e) => prop_assert!(false, "{} at {}", e, cut),
                }
            }
            prop_assert!(decode_publish_head(&buf, v, buf.len() - 1).is_err());
        }
        let got = decode(&mut buf, v, MAX_PACKET_SIZE).unwrap();
        prop_assert_eq!(got, Some(p));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn back_to_back((v, a) in versioned_packet(), b in any::<u16>()) {
        let b = if b % 2 == 0 { Packet::PingReq } else { a.clone() };
        let mut buf = BytesMut::new();
        a.encode(v, &mut buf).unwrap();
        b.encode(v, &mut buf).unwrap();
        prop_assert_eq!(decode(&mut buf, v, MAX_PACKET_SIZE).unwrap(), Some(a));
        prop_assert_eq!(decode(&mut buf, v, MAX_PACKET_SIZE).unwrap(), Some(b));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn random_bytes_never_panic(v in version(), bytes in vec(any::<u8>(), 0..64), max in 0usize..80) {
        let _ = decode_publish_head(&bytes, v, max.max(2));
        let mut buf = BytesMut::from(&bytes[..]);
        // Decode until the buffer is exhausted, an error, or "need more"; whatever decodes re-encodes
        // and decodes to itself.
        while let Ok(Some(p)) = decode(&mut buf, v, max.max(2)) {
            let mut out = BytesMut::new();
            if p.encode(v, &mut out).is_ok() {
                prop_assert_eq!(decode(&mut out, v, MAX_PACKET_SIZE).unwrap(), Some(p));
            }
        }
    }

    #[test]
    fn mutated_packets_never_panic((v, p) in versioned_packet(), flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut buf = BytesMut::new();
        p.encode(v, &mut buf).unwrap();
        for (i, x) in flips {
            let i = i.index(buf.len());
            buf[i] ^= x;
        }
        let head = decode_publish_head(&buf, v, MAX_PACKET_SIZE);
        let whole = decode(&mut buf, v, MAX_PACKET_SIZE);
        // A head that decodes agrees with the whole packet, when that is all there.
        if let (Ok(Some((mut head, _, payload_len))), Ok(Some(Packet::Publish(p)))) = (head, whole) {
            prop_assert_eq!(p.payload.len(), payload_len);
            head.payload = p.payload.clone();
            prop_assert_eq!(head, p);
        }
    }

    #[test]
    fn trie_agrees_with_matches(filters in vec("[ab+#/$]{1,6}", 0..30), topics in vec("[ab/$]{1,6}", 1..10)) {
        let valid: Vec<String> = filters.into_iter().filter(|f| topic::check_topic_filter(f).is_ok()).collect();
        let mut trie = TopicTrie::new();
        for f in &valid {
            *trie.entry(f) = f.clone();
        }
        for t in topics.iter().filter(|t| topic::check_topic_name(t).is_ok()) {
            let mut got = Vec::new();
            trie.for_each_match(t, |f| got.push(f.clone()));
            got.sort();
            got.dedup();
            let mut want: Vec<String> = valid.iter().filter(|f| topic::matches(f, t)).cloned().collect();
            want.sort();
            want.dedup();
            prop_assert_eq!(got, want, "topic {}", t);
        }
    }
}
