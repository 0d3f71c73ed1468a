//! `mq broker`: retained messages. Set, replace, clear with an empty payload; delivered on subscribe
//! with RETAIN set (at the lower of the two QoS, through wildcards), live messages with RETAIN clear;
//! MQTT 5 Retain Handling 0/1/2 and Retain As Published; `retain_available false` (v5 CONNACK and
//! DISCONNECT 0x9A, 3.x close).

use mq_proto::{Packet, QoS};

use crate::broker_util::wire::{self, Connect, Pub};
use crate::broker_util::{Raw, V4, broker, tp, tp4};

/// Subscription options byte: QoS, No Local, Retain As Published, Retain Handling.
fn opts(qos: u8, no_local: bool, rap: bool, rh: u8) -> u8 {
    qos | u8::from(no_local) << 2 | u8::from(rap) << 3 | rh << 4
}

fn payloads(ps: &[mq_proto::Publish]) -> Vec<String> {
    ps.iter().map(|p| tp(p).1).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_message_is_delivered_on_subscribe_with_retain_set() {
    let b = broker("");
    let mut p = V4::new(b.port, "pub").await;
    p.publish("ret/t", 1, true, "kept").await;
    let mut s = V4::new(b.port, "sub").await;
    s.subscribe("ret/t", 1).await;
    let m = s.recv().await;
    assert_eq!((tp4(&m), m.retain), (("ret/t".into(), "kept".into()), true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_messages_to_existing_subscriptions_have_retain_clear() {
    let b = broker("");
    let mut s = V4::new(b.port, "sub").await;
    s.subscribe("ret/t", 1).await;
    let mut p = V4::new(b.port, "pub").await;
    p.publish("ret/t", 1, true, "live").await;
    let m = s.recv().await;
    assert_eq!((tp4(&m).1.as_str(), m.retain), ("live", false));
    // ... and it was stored all the same.
    let mut late = V4::new(b.port, "late").await;
    late.subscribe("ret/t", 0).await;
    let m = late.recv().await;
    assert_eq!((tp4(&m).1.as_str(), m.retain), ("live", true));
}

#[test]
fn a_new_retained_message_replaces_the_old_one() {
    let b = broker("");
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("ret/a", "first").qos(1, 1).retain());
    p.publish(&Pub::new("ret/a", "second").qos(1, 2).retain());
    p.publish(&Pub::new("ret/marker", "marker").qos(1, 3).retain());
    let mut s = Raw::v311(b.port, "sub");
    s.subscribe(1, &[("ret/a", 1)]);
    s.send(&wire::subscribe(2, &[("ret/marker", 1)], None));
    assert_eq!(payloads(&s.publishes_until(|p| p.payload == "marker")), ["second"]);
}

#[test]
fn an_empty_retained_message_clears_the_topic_and_is_forwarded() {
    let b = broker("");
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("ret/a", "stored").qos(1, 1).retain());
    let mut live = Raw::v311(b.port, "live");
    live.subscribe(1, &[("ret/a", 1)]);
    assert_eq!(tp(&live.recv_publish_ack()).1, "stored");
    p.publish(&Pub::new("ret/a", "").qos(1, 2).retain());
    // Current subscribers get the empty message like any other.
    let cleared = live.recv_publish_ack();
    assert_eq!((cleared.payload.len(), cleared.retain), (0, false));

    p.publish(&Pub::new("ret/marker", "marker").qos(1, 3).retain());
    let mut s = Raw::v311(b.port, "sub");
    s.subscribe(1, &[("ret/a", 1)]);
    s.send(&wire::subscribe(2, &[("ret/marker", 1)], None));
    assert_eq!(payloads(&s.publishes_until(|p| p.payload == "marker")), Vec::<String>::new());
}

#[test]
fn retained_messages_come_at_the_lower_qos() {
    let b = broker("");
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("ret/q2", "two").qos(2, 1).retain());
    p.publish(&Pub::new("ret/q0", "zero").retain());
    p.ping();
    let mut s = Raw::v311(b.port, "sub");
    s.subscribe(1, &[("ret/q2", 1)]);
    let m = s.recv_publish_ack();
    assert_eq!((m.qos, m.retain), (QoS::AtLeastOnce, true));
    s.subscribe(2, &[("ret/q0", 2)]);
    let m = s.recv_publish_ack();
    assert_eq!((m.qos, m.retain), (QoS::AtMostOnce, true));
}

#[test]
fn wildcard_subscriptions_get_every_matching_retained_message() {
    let b = broker("");
    let mut p = Raw::v311(b.port, "pub");
    for t in ["w/a", "w/a/b", "w/c/b", "w", "x/a"] {
        p.publish(&Pub::new(t, t).qos(1, 1).retain());
    }
    for (filter, want) in [
        ("w/#", vec!["w", "w/a", "w/a/b", "w/c/b"]),
        ("w/+/b", vec!["w/a/b", "w/c/b"]),
        ("+/a", vec!["w/a", "x/a"]),
        ("+", vec!["w"]),
    ] {
        let mut s = Raw::v311(b.port, "sub");
        s.subscribe(1, &[(filter, 1)]);
        let mut got: Vec<String> = (0..want.len()).map(|_| tp(&s.recv_publish_ack()).0).collect();
        got.sort();
        assert_eq!(got, want, "{filter}");
        // Nothing more for that filter.
        p.publish(&Pub::new("zz/mk/q", "marker").qos(1, 2).retain());
        s.send(&wire::subscribe(2, &[("zz/mk/q", 1)], None));
        assert_eq!(payloads(&s.publishes_until(|p| p.payload == "marker")), Vec::<String>::new(), "{filter}");
    }
}

/// A v5 subscriber that subscribes `filter` twice with Retain Handling `rh`; returns the payloads
/// received after each SUBSCRIBE.
fn retain_handling(rh: u8) -> (Vec<String>, Vec<String>) {
    let b = broker("");
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("rh/t", "retained").qos(1, 1).retain());
    p.publish(&Pub::new("rh/marker", "marker").qos(1, 2).retain());
    let mut s = Raw::v5(b.port, "sub");
    let mut rounds = Vec::new();
    for pid in [1u16, 3] {
        s.send(&wire::subscribe(pid, &[("rh/t", opts(1, false, false, rh))], Some(&[])));
        s.send(&wire::subscribe(pid + 1, &[("rh/marker", opts(1, false, false, 0))], Some(&[])));
        rounds.push(payloads(&s.publishes_until(|p| p.payload == "marker")));
    }
    let second = rounds.pop().expect("two rounds");
    (rounds.pop().expect("two rounds"), second)
}

#[test]
fn v5_retain_handling_0_sends_retained_on_every_subscribe() {
    assert_eq!(retain_handling(0), (vec!["retained".into()], vec!["retained".into()]));
}

#[test]
fn v5_retain_handling_1_sends_retained_only_for_a_new_subscription() {
    assert_eq!(retain_handling(1), (vec!["retained".into()], vec![]));
}

#[test]
fn v5_retain_handling_2_never_sends_retained() {
    assert_eq!(retain_handling(2), (vec![], vec![]));
}

#[test]
fn v5_retain_as_published_keeps_the_flag_on_live_messages() {
    let b = broker("");
    let mut s = Raw::v5(b.port, "sub");
    s.send(&wire::subscribe(
        1,
        &[("rap/keep", opts(1, false, true, 0)), ("rap/clear", opts(1, false, false, 0))],
        Some(&[]),
    ));
    assert!(matches!(s.recv(), Packet::SubAck(_)));
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("rap/keep", "r").qos(1, 1).retain());
    p.publish(&Pub::new("rap/keep", "n").qos(1, 2));
    p.publish(&Pub::new("rap/clear", "r").qos(1, 3).retain());
    let got: Vec<(String, bool)> = (0..3)
        .map(|_| {
            let m = s.recv_publish_ack();
            (format!("{}:{}", tp(&m).0, tp(&m).1), m.retain)
        })
        .collect();
    assert_eq!(got, [("rap/keep:r".into(), true), ("rap/keep:n".into(), false), ("rap/clear:r".into(), false)]);
}

#[test]
fn retain_available_false_refuses_retained_publishes() {
    let b = broker("retain_available false");
    let (mut v5, ack) = Raw::connect(b.port, &Connect::v5("r5"));
    assert_eq!(ack.properties.retain_available, Some(0));
    assert_eq!(v5.publish(&Pub::new("ra/t", "plain").qos(1, 1)), 0x10, "plain messages still work");
    v5.send(&Pub::new("ra/t", "retained").qos(1, 2).retain().v5());
    v5.expect_disconnect(Some(0x9A));

    let mut v3 = Raw::v311(b.port, "r3");
    v3.send(&Pub::new("ra/t", "retained").retain().v3());
    v3.expect_disconnect(None);
    crate::broker_util::assert_healthy(b.port);
}

#[test]
fn retain_available_false_refuses_a_retained_will() {
    let b = broker("retain_available false");
    let mut c = Raw::open(b.port);
    let ack = c.handshake(&Connect::v5("will-r").will(wire::Will::new("ra/will", "x").retain()));
    assert_eq!(ack.code, 0x9A);
    c.expect_closed();
    // A will without retain is fine.
    let (mut ok, _) = Raw::connect(b.port, &Connect::v5("will-plain").will(wire::Will::new("ra/will", "x")));
    ok.ping();
}

#[test]
fn mqtt31_clients_set_and_get_retained_messages() {
    let b = broker("");
    let (mut p, _) = Raw::connect(b.port, &Connect::v31("p31"));
    p.publish(&Pub::new("ret/31", "old protocol").qos(1, 1).retain());
    let (mut s, _) = Raw::connect(b.port, &Connect::v31("s31"));
    s.subscribe(1, &[("ret/31", 1)]);
    let m = s.recv_publish_ack();
    assert_eq!((tp(&m).1.as_str(), m.retain), ("old protocol", true));
}
