//! `mq broker`: MQTT 5 features. Topic aliases from the client (set, use, remap; above Topic Alias
//! Maximum or 0 → DISCONNECT 0x94; unknown → 0x82), message expiry (queued messages expire, retained
//! ones too, the forwarded interval counts down), subscription identifiers, publication properties
//! passed through unchanged, Maximum Packet Size both ways (`max_packet_size` → DISCONNECT 0x95; a
//! client's own limit is never exceeded), `message_size_limit`, `max_qos`, and protocol errors
//! specific to MQTT 5 (PUBREL for an unknown id, subscription identifiers from a client).

use std::time::Duration;

use mq_proto::Packet;

use crate::broker_util::wire::{self, Connect, Pub, prop};
use crate::broker_util::{Raw, V5, assert_healthy, broker, p5, tp, tp5};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_aliases_from_the_client_are_resolved() {
    let b = broker("");
    let mut s = V5::new(b.port, "sub").await;
    s.subscribe("ta/#", 1).await;
    let mut p = Raw::v5(b.port, "aliaser");
    p.publish(&Pub::new("ta/first", "set").qos(1, 1).prop(prop::u16(prop::TOPIC_ALIAS, 1)));
    p.publish(&Pub::new("", "use").qos(1, 2).prop(prop::u16(prop::TOPIC_ALIAS, 1)));
    p.publish(&Pub::new("ta/second", "remap").qos(1, 3).prop(prop::u16(prop::TOPIC_ALIAS, 1)));
    p.publish(&Pub::new("", "use again").qos(1, 4).prop(prop::u16(prop::TOPIC_ALIAS, 1)));
    p.publish(&Pub::new("ta/max", "highest").qos(1, 5).prop(prop::u16(prop::TOPIC_ALIAS, 10)));
    p.publish(&Pub::new("", "highest again").qos(1, 6).prop(prop::u16(prop::TOPIC_ALIAS, 10)));
    let mut got = Vec::new();
    for _ in 0..6 {
        let m = s.recv().await;
        assert!(m.properties.as_ref().is_none_or(|p| p.topic_alias.is_none()), "the broker sends no aliases");
        got.push(tp5(&m));
    }
    let want = [
        ("ta/first", "set"),
        ("ta/first", "use"),
        ("ta/second", "remap"),
        ("ta/second", "use again"),
        ("ta/max", "highest"),
        ("ta/max", "highest again"),
    ];
    assert_eq!(got, want.map(|(t, p)| (t.to_string(), p.to_string())));
}

#[test]
fn topic_alias_above_the_maximum_is_refused_with_0x94() {
    let b = broker("max_topic_alias 3");
    let mut c = Raw::v5(b.port, "over");
    c.publish(&Pub::new("ta/t", "x").qos(1, 1).prop(prop::u16(prop::TOPIC_ALIAS, 3)));
    c.send(&Pub::new("ta/t", "x").prop(prop::u16(prop::TOPIC_ALIAS, 4)).v5());
    c.expect_disconnect(Some(0x94));
    assert_healthy(b.port);
}

#[test]
fn topic_alias_zero_is_refused() {
    let b = broker("");
    let mut c = Raw::v5(b.port, "zero");
    c.send(&Pub::new("ta/t", "x").prop(prop::u16(prop::TOPIC_ALIAS, 0)).v5());
    // "Topic Alias invalid" or, since a zero alias is a malformed property, "Protocol Error".
    match c.expect_closed().last() {
        Some(Packet::Disconnect(d)) => assert!([0x94, 0x82].contains(&d.reason.0), "{d:?}"),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
}

#[test]
fn an_unknown_topic_alias_is_a_protocol_error() {
    let b = broker("");
    let mut c = Raw::v5(b.port, "unknown");
    c.send(&Pub::new("", "x").prop(prop::u16(prop::TOPIC_ALIAS, 2)).v5());
    c.expect_disconnect(Some(0x82));
}

/// A persistent v5 subscriber to `exp/#`, disconnected.
fn offline_subscriber(port: u16) {
    let (mut c, _) = Raw::connect(port, &Connect::v5("later").clean(false).expiry(300));
    c.subscribe(1, &[("exp/#", 1)]);
    c.send(&wire::disconnect());
    c.expect_closed();
}

fn reconnect(port: u16) -> Raw {
    let (c, ack) = Raw::connect(port, &Connect::v5("later").clean(false).expiry(300));
    assert!(ack.session_present);
    c
}

#[test]
fn expired_queued_messages_are_not_delivered() {
    let b = broker("");
    offline_subscriber(b.port);
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("exp/t", "short-lived").qos(1, 1).prop(prop::u32(prop::MESSAGE_EXPIRY, 1)));
    p.publish(&Pub::new("exp/t", "long-lived").qos(1, 2).prop(prop::u32(prop::MESSAGE_EXPIRY, 300)));
    p.publish(&Pub::new("exp/t", "immortal").qos(1, 3));
    std::thread::sleep(Duration::from_millis(2100));
    let mut c = reconnect(b.port);
    let first = c.recv_publish_ack();
    assert_eq!(tp(&first).1, "long-lived", "an expired message was delivered");
    let left = first.properties.message_expiry_interval.expect("remaining expiry");
    assert!((290..300).contains(&left), "forwarded expiry {left} did not count down");
    let m = c.recv_publish_ack();
    assert_eq!((tp(&m).1.as_str(), m.properties.message_expiry_interval), ("immortal", None));
}

#[test]
fn forwarded_message_expiry_counts_down_while_queued() {
    let b = broker("");
    offline_subscriber(b.port);
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("exp/t", "ten").qos(1, 1).prop(prop::u32(prop::MESSAGE_EXPIRY, 10)));
    std::thread::sleep(Duration::from_millis(2100));
    let mut c = reconnect(b.port);
    let m = c.recv_publish_ack();
    let left = m.properties.message_expiry_interval.expect("remaining expiry");
    assert!((1..=8).contains(&left), "10 s message after 2.1 s queued forwarded with {left} s");
}

#[test]
fn live_messages_carry_their_expiry() {
    let b = broker("");
    let mut s = Raw::v5(b.port, "sub");
    s.subscribe(1, &[("exp/t", 1)]);
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("exp/t", "x").qos(1, 1).prop(prop::u32(prop::MESSAGE_EXPIRY, 60)));
    let left = s.recv_publish_ack().properties.message_expiry_interval.expect("expiry");
    assert!((59..=60).contains(&left), "{left}");
}

#[test]
fn expired_retained_messages_are_not_sent() {
    let b = broker("");
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("exp/r", "short").qos(1, 1).retain().prop(prop::u32(prop::MESSAGE_EXPIRY, 1)));
    p.publish(&Pub::new("exp/long", "long").qos(1, 2).retain().prop(prop::u32(prop::MESSAGE_EXPIRY, 300)));
    std::thread::sleep(Duration::from_millis(2100));
    let mut s = Raw::v5(b.port, "sub");
    s.send(&wire::subscribe(1, &[("exp/r", 1)], Some(&[])));
    s.send(&wire::subscribe(2, &[("exp/long", 1)], Some(&[])));
    let before: Vec<_> = s.publishes_until(|p| p.payload == "long").iter().map(tp).collect();
    assert_eq!(before, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_identifiers_come_with_each_message() {
    let b = broker("");
    let mut s = V5::new(b.port, "sub").await;
    let props = p5::SubscribeProperties { id: Some(42), user_properties: vec![] };
    s.subscribe_with(vec![p5::Filter::new("sid/t", crate::broker_util::qos5(1))], Some(props)).await;
    s.subscribe("sid/plain", 1).await;
    let mut p = V5::new(b.port, "pub").await;
    p.publish("sid/t", 1, false, "with id").await;
    p.publish("sid/plain", 1, false, "without").await;
    let m = s.recv().await;
    assert_eq!(m.properties.expect("properties").subscription_identifiers, [42]);
    let m = s.recv().await;
    assert!(m.properties.is_none_or(|p| p.subscription_identifiers.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publication_properties_pass_through_unchanged() {
    let b = broker("");
    let mut s = Raw::v5(b.port, "sub");
    s.subscribe(1, &[("props/#", 2)]);
    let mut p = V5::new(b.port, "pub").await;
    let user = vec![("b".to_string(), "2".to_string()), ("a".into(), "1".into()), ("b".into(), "again".into())];
    let props = p5::PublishProperties {
        payload_format_indicator: Some(1),
        content_type: Some("text/plain; charset=utf-8".into()),
        response_topic: Some("props/reply".into()),
        correlation_data: Some(bytes::Bytes::from_static(b"\x00\xffid")),
        user_properties: user.clone(),
        ..Default::default()
    };
    p.publish_with("props/t", 2, false, "héllo", Some(props)).await;
    let m = s.recv_publish_ack();
    assert_eq!(tp(&m), ("props/t".into(), "héllo".into()));
    let got = &m.properties;
    assert_eq!(got.payload_format_indicator, Some(1));
    assert_eq!(got.content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(got.response_topic.as_deref(), Some("props/reply"));
    assert_eq!(got.correlation_data.as_deref(), Some(&b"\x00\xffid"[..]));
    assert_eq!(got.user_properties, user, "user properties keep their order and duplicates");
    assert_eq!(got.message_expiry_interval, None);
}

#[test]
fn max_packet_size_disconnects_an_oversize_publisher_with_0x95() {
    let b = broker("max_packet_size 1000");
    let mut watcher = Raw::v5(b.port, "watcher");
    watcher.subscribe(1, &[("big/#", 1)]);
    let mut v5 = Raw::v5(b.port, "big5");
    v5.send(&Pub::new("big/t", vec![b'x'; 2000]).qos(1, 1).v5());
    v5.expect_disconnect(Some(0x95));
    let mut v3 = Raw::v311(b.port, "big3");
    v3.send(&Pub::new("big/t", vec![b'x'; 2000]).v3());
    v3.expect_disconnect(None);
    // A packet just within the limit passes.
    let mut ok = Raw::v5(b.port, "fits");
    let fits = Pub::new("big/t", vec![b'y'; 900]).qos(1, 1);
    assert!(fits.v5().len() <= 1000);
    ok.publish(&fits);
    assert_eq!(watcher.recv_publish_ack().payload.len(), 900);
    watcher.ping();
}

#[test]
fn a_client_never_receives_more_than_its_maximum_packet_size() {
    let b = broker("");
    let (mut s, _) = Raw::connect(b.port, &Connect::v5("small").prop(prop::u32(prop::MAXIMUM_PACKET_SIZE, 100)));
    s.subscribe(1, &[("mps/#", 1)]);
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("mps/t", vec![b'x'; 500]).qos(1, 1));
    p.publish(&Pub::new("mps/t", vec![b'x'; 500]));
    p.publish(&Pub::new("mps/t", "small").qos(1, 2));
    let m = s.recv_publish_ack();
    assert_eq!(tp(&m).1, "small", "a packet larger than the client's Maximum Packet Size was sent");
    s.ping();
}

#[test]
fn message_size_limit_refuses_larger_payloads() {
    let b = broker("message_size_limit 100");
    let mut s = Raw::v311(b.port, "sub");
    s.subscribe(1, &[("msl/#", 1)]);
    let mut v5 = Raw::v5(b.port, "pub5");
    // 0x95 (packet too large), as Mosquitto answers (02-subpub-qos1-oversize-payload).
    let rc = v5.publish(&Pub::new("msl/t", vec![b'x'; 101]).qos(1, 1));
    assert_eq!(rc, 0x95, "PUBACK reason {rc:#x} for an oversize payload");
    let rc = v5.publish(&Pub::new("msl/t", vec![b'x'; 101]).qos(2, 2));
    assert_eq!(rc, 0x95, "PUBREC reason {rc:#x} for an oversize payload");
    v5.ping();
    let mut v3 = Raw::v311(b.port, "pub3");
    v3.publish(&Pub::new("msl/t", vec![b'x'; 101]).qos(1, 1));
    v3.publish(&Pub::new("msl/t", vec![b'x'; 101]));
    v3.publish(&Pub::new("msl/t", vec![b'y'; 100]).qos(1, 2));
    let m = s.recv_publish_ack();
    assert_eq!(m.payload.len(), 100, "an oversize payload was forwarded");
}

#[test]
fn max_qos_disconnects_publishers_above_it_with_0x9b() {
    let b = broker("max_qos 1");
    let mut c = Raw::v5(b.port, "greedy");
    assert_eq!(c.publish(&Pub::new("mq/t", "fine").qos(1, 1)), 0x10);
    c.send(&Pub::new("mq/t", "too much").qos(2, 2).v5());
    c.expect_disconnect(Some(0x9B));
}

#[test]
fn max_qos_refuses_a_will_above_it_with_connack_0x9b() {
    let b = broker("max_qos 1");
    let mut c = Raw::open(b.port);
    let ack = c.handshake(&Connect::v5("will-q2").will(wire::Will::new("mq/will", "x").qos(2)));
    assert_eq!(ack.code, 0x9B);
    c.expect_closed();
    let (mut ok, _) = Raw::connect(b.port, &Connect::v5("will-q1").will(wire::Will::new("mq/will", "x").qos(1)));
    ok.ping();
}

#[test]
fn pubrel_for_an_unknown_packet_id_gets_pubcomp_0x92() {
    let b = broker("");
    let mut c = Raw::v5(b.port, "lost");
    c.send(&wire::pubrel(77));
    match c.recv() {
        Packet::PubComp(a) => assert_eq!((a.packet_id.get(), a.reason.0), (77, 0x92)),
        other => panic!("expected PUBCOMP, got {other:?}"),
    }
}

#[test]
fn a_subscription_identifier_from_a_client_is_a_protocol_error() {
    let b = broker("");
    let mut c = Raw::v5(b.port, "cheat");
    c.send(&Pub::new("sid/t", "x").prop(prop::var(prop::SUBSCRIPTION_ID, 3)).v5());
    c.expect_disconnect(Some(0x82));
}

#[test]
fn request_response_and_problem_information_are_accepted() {
    let b = broker("");
    let c = Connect::v5("curious").prop(prop::byte(0x19, 1)).prop(prop::byte(0x17, 0)).prop(prop::user("who", "me"));
    let (mut c, ack) = Raw::connect(b.port, &c);
    assert_eq!(ack.code, 0);
    c.ping();
}

#[test]
fn resubscribing_without_an_identifier_removes_it() {
    let b = broker("");
    let mut s = Raw::v5(b.port, "sub");
    s.send(&wire::subscribe(1, &[("rs/t", 1)], Some(&[prop::var(prop::SUBSCRIPTION_ID, 9)])));
    s.suback();
    s.send(&wire::subscribe(2, &[("rs/t", 1)], Some(&[])));
    s.suback();
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("rs/t", "x").qos(1, 1));
    assert_eq!(s.recv_publish_ack().properties.subscription_identifiers, Vec::<u32>::new());
}

#[test]
fn retained_messages_carry_the_subscription_identifier() {
    let b = broker("");
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("rid/t", "kept").qos(1, 1).retain());
    let mut s = Raw::v5(b.port, "sub");
    s.send(&wire::subscribe(1, &[("rid/#", 1)], Some(&[prop::var(prop::SUBSCRIPTION_ID, 77)])));
    let m = loop {
        if let Packet::Publish(p) = s.recv() {
            break p;
        }
    };
    assert_eq!((tp(&m).1.as_str(), m.retain, m.properties.subscription_identifiers.clone()), ("kept", true, vec![77]));
}

#[test]
fn topic_aliases_do_not_survive_a_reconnect() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v5("forgetful").clean(false).expiry(60));
    c.publish(&Pub::new("ta/t", "set").qos(1, 1).prop(prop::u16(prop::TOPIC_ALIAS, 1)));
    c.send(&wire::disconnect());
    c.expect_closed();
    let (mut c, ack) = Raw::connect(b.port, &Connect::v5("forgetful").clean(false).expiry(60));
    assert!(ack.session_present, "the session goes on, its aliases do not");
    c.send(&Pub::new("", "use").prop(prop::u16(prop::TOPIC_ALIAS, 1)).v5());
    c.expect_disconnect(Some(0x82));
}

#[test]
fn maximum_packet_size_counts_the_whole_packet() {
    // MQTT 5 §3.1.2.11.4: the Maximum Packet Size is the total packet size, fixed header included.
    // Mosquitto leaves out the first byte (its 12-prop-maximum-packet-size-publish-qos1/qos2 expect a
    // 21-byte PUBLISH to a client that set 20); mq does not send it.
    let b = broker("");
    let (mut s, _) = Raw::connect(b.port, &Connect::v5("exact").prop(prop::u32(prop::MAXIMUM_PACKET_SIZE, 20)));
    s.subscribe(1, &[("test/topic", 1)]);
    let mut p = Raw::v5(b.port, "pub");
    // To the subscriber: 2 (fixed header) + 12 (topic) + 2 (packet id) + 1 (properties) + payload.
    p.publish(&Pub::new("test/topic", "7890").qos(1, 1)); // 21 bytes: not sent
    p.publish(&Pub::new("test/topic", "789").qos(1, 2)); // 20 bytes: sent
    let m = s.recv_publish_ack();
    assert_eq!(tp(&m).1, "789", "a 21-byte PUBLISH went to a client that accepts 20");
    s.ping();
}
