//! `mq broker`: quality of service. The QoS 0/1/2 flows in both directions (publisher to broker, broker
//! to subscriber), delivered QoS = min(publish, subscription) and `upgrade_outgoing_qos`, QoS 2
//! exactly-once on a resent PUBLISH and packet id reuse, per-publisher order, the outgoing in-flight
//! window (`max_inflight_messages`, MQTT 5 Receive Maximum, `max_inflight_bytes`) with clients that do
//! not acknowledge,
//! `max_queued_messages` and `max_queued_bytes` with their drops counted in `$SYS/broker/publish/messages/dropped`, and DUP
//! redelivery of unacknowledged QoS 1 and 2 messages (and PUBREL) when a persistent session
//! reconnects.

use mq_proto::{Packet, QoS};

use crate::broker_util::wire::{self, Connect, Pub};
use crate::broker_util::{Next, QUIET, Raw, V4, V5, broker, sys_value_reaches, tp, tp4, tp5, v4_options, v5_options};

#[test]
fn publisher_side_flows_for_each_qos_and_version() {
    let b = broker("");
    for c in [Connect::v31("p31"), Connect::v311("p311"), Connect::v5("p5")] {
        let (mut p, _) = Raw::connect(b.port, &c);
        p.publish(&Pub::new("flow/t", "q0"));
        p.publish(&Pub::new("flow/t", "q1").qos(1, 10)); // PUBACK 10
        p.publish(&Pub::new("flow/t", "q2").qos(2, 11)); // PUBREC 11, PUBREL, PUBCOMP 11
        p.ping();
    }
}

#[test]
fn subscriber_side_flows_for_each_qos() {
    let b = broker("");
    let mut sub = Raw::v311(b.port, "sub");
    sub.subscribe(1, &[("flow/t", 2)]);
    let mut publ = Raw::v311(b.port, "pub");
    for q in 0..3u8 {
        publ.publish(&Pub::new("flow/t", format!("q{q}")).qos(q, 1));
    }
    let p0 = sub.recv_publish();
    assert_eq!((p0.qos, p0.packet_id, p0.dup), (QoS::AtMostOnce, None, false));
    let p1 = sub.recv_publish();
    assert_eq!((p1.qos, p1.dup), (QoS::AtLeastOnce, false));
    sub.ack(&p1);
    let p2 = sub.recv_publish();
    assert_eq!((p2.qos, p2.dup), (QoS::ExactlyOnce, false));
    assert_ne!(p1.packet_id, p2.packet_id, "both may be in flight at once");
    sub.send(&wire::pubrec(p2.packet_id.expect("pid").get()));
    match sub.recv() {
        Packet::PubRel(a) => assert_eq!(Some(a.packet_id), p2.packet_id),
        other => panic!("expected PUBREL, got {other:?}"),
    }
    sub.send(&wire::pubcomp(p2.packet_id.expect("pid").get()));
    sub.ping();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_qos_is_the_minimum_of_publish_and_subscription() {
    let b = broker("");
    let mut subs = Vec::new();
    for q in 0..3u8 {
        let mut s = V4::new(b.port, &format!("sub{q}")).await;
        s.subscribe("min/t", q).await;
        subs.push(s);
    }
    let mut p = V4::new(b.port, "pub").await;
    for q in 0..3u8 {
        p.publish("min/t", q, false, format!("{q}")).await;
    }
    for (sq, s) in subs.iter_mut().enumerate() {
        for pq in 0..3u8 {
            let m = s.recv().await;
            assert_eq!(tp4(&m).1, pq.to_string());
            assert_eq!(m.qos as u8, pq.min(sq as u8), "published at {pq}, subscribed at {sq}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_outgoing_qos_delivers_at_the_subscription_qos() {
    let b = broker("upgrade_outgoing_qos true");
    let mut s = V4::new(b.port, "sub").await;
    s.subscribe("up/t", 2).await;
    let mut p = V4::new(b.port, "pub").await;
    p.publish("up/t", 0, false, "was qos 0").await;
    let m = s.recv().await;
    assert_eq!((tp4(&m).1.as_str(), m.qos as u8), ("was qos 0", 2));
}

#[test]
fn resent_qos2_publish_is_delivered_once() {
    let b = broker("");
    let mut sub = Raw::v311(b.port, "sub");
    sub.subscribe(1, &[("once/#", 1)]);
    let mut publ = Raw::v311(b.port, "pub");
    let msg = Pub::new("once/t", "exactly once").qos(2, 5);
    publ.send(&msg.v3());
    assert!(matches!(publ.recv(), Packet::PubRec(a) if a.packet_id.get() == 5));
    publ.send(&msg.clone().dup().v3());
    assert!(matches!(publ.recv(), Packet::PubRec(a) if a.packet_id.get() == 5));
    publ.send(&wire::pubrel(5));
    assert!(matches!(publ.recv(), Packet::PubComp(a) if a.packet_id.get() == 5));
    // The id is free again: a new message with it is a new message.
    publ.publish(&Pub::new("once/t", "same id, new message").qos(2, 5));
    publ.publish(&Pub::new("once/marker", "marker").qos(1, 6));
    let got: Vec<String> = (0..3).map(|_| tp(&sub.recv_publish_ack()).1).collect();
    assert_eq!(got, ["exactly once", "same id, new message", "marker"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_one_publisher_keep_their_order() {
    let b = broker("");
    let mut s = V5::new(b.port, "sub").await;
    s.subscribe("order/#", 1).await;
    let p = V5::new(b.port, "pub").await;
    for i in 0..100 {
        let q = [0u8, 1, 2][i % 3];
        p.client
            .publish(format!("order/{}", i % 7), crate::broker_util::qos5(q), false, i.to_string())
            .await
            .expect("publish");
    }
    for i in 0..100 {
        assert_eq!(tp5(&s.recv().await).1, i.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_inflight_messages_limits_unacknowledged_deliveries() {
    let b = broker("max_inflight_messages 3");
    let mut o = v4_options(b.port, "slow");
    o.set_manual_acks(true);
    let (mut s, _) = V4::connect(o).await;
    s.subscribe("win/t", 1).await;
    let mut p = V4::new(b.port, "pub").await;
    for i in 0..8 {
        p.publish("win/t", 1, false, i.to_string()).await;
    }
    let mut held = Vec::new();
    for i in 0..3 {
        let m = s.recv().await;
        assert_eq!(tp4(&m).1, i.to_string());
        held.push(m);
    }
    let more = s.ev.seen_within(QUIET, |e| matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::Publish(_)))).await;
    assert!(!more, "a fourth message was sent with three unacknowledged");
    // Each acknowledgement lets exactly one more through.
    s.client.ack(&held.remove(0)).await.expect("ack");
    let m = s.recv().await;
    assert_eq!(tp4(&m).1, "3");
    held.push(m);
    let more = s.ev.seen_within(QUIET, |e| matches!(e, rumqttc::Event::Incoming(rumqttc::Packet::Publish(_)))).await;
    assert!(!more, "two messages for one acknowledgement");
    for m in held.drain(..) {
        s.client.ack(&m).await.expect("ack");
    }
    for i in 4..8 {
        let m = s.recv().await;
        assert_eq!(tp4(&m).1, i.to_string());
        s.client.ack(&m).await.expect("ack");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_receive_maximum_limits_unacknowledged_deliveries() {
    let b = broker("");
    window_of_two(b.port, 2, 2, |i| 1 + (i % 2) as u8, "rm/t", "more than Receive Maximum (2) messages in flight")
        .await;
}

/// A Receive Maximum above `max_inflight_messages` does not raise the window (Mosquitto 2.0 lets it
/// replace `max_inflight_messages`: see README, Differences from Mosquitto).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_receive_maximum_does_not_raise_max_inflight_messages() {
    let b = broker("max_inflight_messages 2");
    window_of_two(b.port, 10, 1, |_| 1, "rmw/t", "a Receive Maximum of 10 raised max_inflight_messages 2").await;
}

/// An MQTT 5 subscriber announcing `receive_maximum`, acknowledging by hand, on `topic` at `sub_qos`:
/// of five messages (the i-th at QoS `qos_of(i)`), it must get exactly two before its first
/// acknowledgement (`too_many` otherwise), and the third after it.
async fn window_of_two(
    port: u16,
    receive_maximum: u16,
    sub_qos: u8,
    qos_of: fn(usize) -> u8,
    topic: &str,
    too_many: &str,
) {
    let mut o = v5_options(port, &format!("win5-{receive_maximum}"));
    o.set_manual_acks(true);
    o.set_receive_maximum(Some(receive_maximum));
    let (mut s, _) = V5::connect(o).await;
    s.subscribe(topic, sub_qos).await;
    let mut p = V5::new(port, "pub").await;
    for i in 0..5 {
        p.publish(topic, qos_of(i), false, i.to_string()).await;
    }
    let first = s.recv().await;
    let second = s.recv().await;
    assert_eq!((tp5(&first).1, tp5(&second).1), ("0".into(), "1".into()));
    let more = s
        .ev
        .seen_within(QUIET, |e| matches!(e, rumqttc::v5::Event::Incoming(crate::broker_util::p5::Packet::Publish(_))))
        .await;
    assert!(!more, "{too_many}");
    s.client.ack(&first).await.expect("ack");
    assert_eq!(tp5(&s.recv().await).1, "2");
}

#[test]
fn max_queued_messages_drops_for_offline_sessions_and_counts_drops() {
    let b = broker("max_queued_messages 2\nsys_interval 1");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("offline").clean(false));
    c.subscribe(1, &[("mq/t", 1)]);
    c.send(&wire::disconnect());
    c.expect_closed();
    let mut publ = Raw::v311(b.port, "pub");
    for i in 0..5 {
        publ.publish(&Pub::new("mq/t", format!("m{i}")).qos(1, i + 1));
    }
    let (mut c, ack) = Raw::connect(b.port, &Connect::v311("offline").clean(false));
    assert!(ack.session_present);
    assert_eq!(tp(&c.recv_publish_ack()).1, "m0");
    assert_eq!(tp(&c.recv_publish_ack()).1, "m1");
    publ.publish(&Pub::new("mq/t", "after").qos(1, 9));
    assert_eq!(tp(&c.recv_publish_ack()).1, "after", "more than max_queued_messages were kept");
    sys_value_reaches(b.port, "$SYS/broker/publish/messages/dropped", |v| v == "3");
}

#[test]
fn max_inflight_bytes_limits_unacknowledged_bytes() {
    let b = broker("max_inflight_bytes 10");
    let mut s = Raw::v311(b.port, "slow");
    s.subscribe(1, &[("mib/t", 1)]);
    let mut publ = Raw::v311(b.port, "pub");
    for i in 0..8u16 {
        publ.publish(&Pub::new("mib/t", format!("msg-{i}")).qos(1, i + 1));
    }
    // 5-byte payloads against a 10-byte limit: two in flight, a third at most (one message may pass
    // the limit, as in Mosquitto), never all eight.
    let mut held = Vec::new();
    while let Next::Packet(Packet::Publish(p)) = s.next(QUIET) {
        held.push(p);
    }
    assert!((2..=3).contains(&held.len()), "{} messages in flight", held.len());
    // Acknowledging lets more through.
    s.ack(&held[0]);
    assert_eq!(tp(&s.recv_publish()).1, format!("msg-{}", held.len()));
}

#[test]
fn max_queued_bytes_bounds_the_queue_of_offline_sessions() {
    let b = broker("max_queued_bytes 10\nsys_interval 1");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("bytes").clean(false));
    c.subscribe(1, &[("mqb/t", 1)]);
    c.send(&wire::disconnect());
    c.expect_closed();
    let mut publ = Raw::v311(b.port, "pub");
    for (i, payload) in ["aaaaaa", "bbbbbb", "cccc", "dd"].iter().enumerate() {
        publ.publish(&Pub::new("mqb/t", *payload).qos(1, i as u16 + 1));
    }
    // 6 bytes fit, 6 more would not (12 > 10), then 4 fit (10), then 2 would not.
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("bytes").clean(false));
    assert_eq!(tp(&c.recv_publish_ack()).1, "aaaaaa");
    assert_eq!(tp(&c.recv_publish_ack()).1, "cccc");
    publ.publish(&Pub::new("mqb/t", "after").qos(1, 9));
    assert_eq!(tp(&c.recv_publish_ack()).1, "after");
    sys_value_reaches(b.port, "$SYS/broker/publish/messages/dropped", |v| v == "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_online_client_has_a_bounded_queue_and_does_not_hold_the_publisher_back() {
    let b = broker("max_inflight_messages 1\nmax_queued_messages 2\nsys_interval 1");
    let mut o = v4_options(b.port, "stuck");
    o.set_manual_acks(true);
    let (mut s, _) = V4::connect(o).await;
    s.subscribe("stuck/t", 1).await;
    let mut p = V4::new(b.port, "pub").await;
    // Every publish is acknowledged (within the wait limit) though the subscriber takes nothing.
    for i in 0..10 {
        p.publish("stuck/t", 1, false, i.to_string()).await;
    }
    // One in flight, then the queue: its limit, or at most twice that while the broker waited to see
    // whether the client keeps up. The rest was dropped.
    let mut got = Vec::new();
    while let Some(m) = s.recv_within(QUIET).await {
        got.push(tp4(&m).1.parse::<usize>().expect("number"));
        s.client.ack(&m).await.expect("ack");
    }
    assert!((3..=5).contains(&got.len()), "delivered {got:?}");
    assert_eq!(got, (0..got.len()).collect::<Vec<_>>(), "delivered out of order");
    // The client works again once it acknowledges.
    p.publish("stuck/t", 1, false, "after").await;
    assert_eq!(tp4(&s.recv().await).1, "after");
    let dropped = 10 - got.len();
    sys_value_reaches(b.port, "$SYS/broker/publish/messages/dropped", |v| v.parse().is_ok_and(|n: usize| n >= dropped));
}

/// A persistent 3.1.1 subscriber to `dup/t` at `qos`, and the publisher.
fn dup_setup(qos: u8) -> (crate::harness::Broker, Raw, Raw) {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("redo").clean(false));
    c.subscribe(1, &[("dup/t", qos)]);
    let publ = Raw::v311(b.port, "pub");
    (b, c, publ)
}

#[test]
fn unacknowledged_qos1_is_resent_with_dup_on_reconnect() {
    let (b, mut c, mut publ) = dup_setup(1);
    publ.publish(&Pub::new("dup/t", "ack me").qos(1, 1));
    let first = c.recv_publish();
    assert!(!first.dup);
    c.drop_connection();

    let (mut c, ack) = Raw::connect(b.port, &Connect::v311("redo").clean(false));
    assert!(ack.session_present);
    let again = c.recv_publish();
    assert_eq!(tp(&again), tp(&first));
    assert!(again.dup, "a redelivery has DUP set");
    assert_eq!(again.packet_id, first.packet_id, "a redelivery keeps its packet id");
    c.ack(&again);
    c.send(&wire::disconnect());
    c.expect_closed();

    // Acknowledged: not sent a third time.
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("redo").clean(false));
    publ.publish(&Pub::new("dup/t", "marker").qos(1, 2));
    let next = c.recv_publish();
    assert_eq!((tp(&next).1.as_str(), next.dup), ("marker", false));
}

#[test]
fn unacknowledged_qos2_publish_is_resent_with_dup_on_reconnect() {
    let (b, mut c, mut publ) = dup_setup(2);
    publ.publish(&Pub::new("dup/t", "exactly once").qos(2, 1));
    let first = c.recv_publish();
    assert_eq!((first.qos, first.dup), (QoS::ExactlyOnce, false));
    c.drop_connection();

    let (mut c, _) = Raw::connect(b.port, &Connect::v311("redo").clean(false));
    let again = c.recv_publish();
    assert_eq!((tp(&again), again.dup, again.packet_id), (tp(&first), true, first.packet_id));
    c.ack(&again);
    c.ping();
}

#[test]
fn unfinished_qos2_exchange_resends_pubrel_on_reconnect() {
    let (b, mut c, mut publ) = dup_setup(2);
    publ.publish(&Pub::new("dup/t", "released").qos(2, 1));
    let first = c.recv_publish();
    let pid = first.packet_id.expect("pid");
    c.send(&wire::pubrec(pid.get()));
    assert!(matches!(c.recv(), Packet::PubRel(a) if a.packet_id == pid));
    c.drop_connection();

    // The message is not sent again, but the PUBREL is.
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("redo").clean(false));
    match c.recv() {
        Packet::PubRel(a) => assert_eq!(a.packet_id, pid),
        other => panic!("expected the PUBREL again, got {other:?}"),
    }
    c.send(&wire::pubcomp(pid.get()));
    publ.publish(&Pub::new("dup/t", "marker").qos(2, 2));
    assert_eq!(tp(&c.recv_publish_ack()).1, "marker");
}

#[test]
fn v5_puback_says_no_matching_subscribers() {
    let b = broker("");
    let mut p = Raw::v5(b.port, "lonely");
    assert_eq!(p.publish(&Pub::new("nobody/listens", "x").qos(1, 1)), 0x10);
    // PUBREC says 0x00 as Mosquitto's does (it reports 0x10 in PUBACK only).
    assert_eq!(p.publish(&Pub::new("nobody/listens", "x").qos(2, 2)), 0x00);
    let mut s = Raw::v5(b.port, "listener");
    s.subscribe(1, &[("nobody/listens", 0)]);
    assert_eq!(p.publish(&Pub::new("nobody/listens", "x").qos(1, 3)), 0x00);
}

/// A subscriber at `qos` on `ack/t` (MQTT 5 or 3.1.1) that has just received one message from the
/// broker, not acknowledged yet; returns its packet id.
fn delivered(port: u16, v5: bool, qos: u8, id: &str) -> (Raw, u16) {
    let c = if v5 { Connect::v5(id) } else { Connect::v311(id) };
    let (mut s, _) = Raw::connect(port, &c);
    s.subscribe(1, &[("ack/t", qos)]);
    let mut p = Raw::v311(port, &format!("{id}-pub"));
    p.publish(&Pub::new("ack/t", "m").qos(qos, 1));
    let m = s.recv_publish();
    assert_eq!(m.qos.as_u8(), qos);
    (s, m.packet_id.expect("pid").get())
}

#[test]
fn an_acknowledgement_of_the_wrong_type_closes_the_connection() {
    let b = broker("");
    // (QoS delivered, packets the subscriber sends before the wrong one, the wrong one), as in
    // Mosquitto's 02-subpub-qos1-bad-pubrec/-bad-pubcomp and 02-subpub-qos2-bad-puback-1/-2/-bad-pubcomp.
    type Case = (u8, &'static [fn(u16) -> Vec<u8>], fn(u16) -> Vec<u8>);
    let cases: [Case; 5] = [
        (1, &[], wire::pubrec),
        (1, &[], wire::pubcomp),
        (2, &[], wire::puback),
        (2, &[], wire::pubcomp),
        (2, &[wire::pubrec], wire::puback),
    ];
    for v5 in [false, true] {
        for (i, (qos, before, wrong)) in cases.iter().enumerate() {
            let (mut s, pid) = delivered(b.port, v5, *qos, &format!("bad{i}-{v5}"));
            for send in *before {
                s.send(&send(pid));
                assert!(matches!(s.recv(), Packet::PubRel(a) if a.packet_id.get() == pid));
            }
            s.send(&wrong(pid));
            // MQTT 5: DISCONNECT 0x82 (protocol error) first, as Mosquitto 2.0.20 sends it.
            s.expect_disconnect(v5.then_some(0x82));
        }
    }
    assert!(b.log().contains("for packet id 1, which awaits"), "{}", b.log());
    crate::broker_util::assert_healthy(b.port);
}

#[test]
fn acknowledgements_mosquitto_accepts_keep_the_connection() {
    let b = broker("");
    for v5 in [false, true] {
        // PUBREC again after PUBREL: PUBREL again, then PUBCOMP ends it.
        let (mut s, pid) = delivered(b.port, v5, 2, &format!("again-{v5}"));
        for _ in 0..2 {
            s.send(&wire::pubrec(pid));
            match s.recv() {
                Packet::PubRel(a) => assert_eq!((a.packet_id.get(), a.reason.0), (pid, 0)),
                other => panic!("expected PUBREL, got {other:?}"),
            }
        }
        s.send(&wire::pubcomp(pid));
        // Ids not in flight: PUBACK and PUBCOMP are ignored, PUBREC gets PUBREL (MQTT 5: 0x92).
        s.send(&wire::puback(77));
        s.send(&wire::pubcomp(78));
        s.send(&wire::pubrec(79));
        match s.recv() {
            Packet::PubRel(a) => assert_eq!((a.packet_id.get(), a.reason.0), (79, if v5 { 0x92 } else { 0 })),
            other => panic!("expected PUBREL, got {other:?}"),
        }
        s.ping();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos0_burst_reaches_a_subscriber_that_keeps_reading_whole() {
    // Twenty publishers each write 2,000 QoS 0 messages at once and hang up, faster than the subscriber
    // can read. Flow control paces the publishers (the packets they sent before closing included)
    // instead of dropping what a reading subscriber has not taken yet.
    const PUBLISHERS: usize = 20;
    const EACH: usize = 2_000;
    // A small queue: the burst is 400 times its limit, and the subscriber is judged as moving once it
    // takes 10 messages per 100 ms, which a loaded test machine always manages.
    let b = broker("sys_interval 1\nmax_queued_messages 100");
    let mut s = V4::new(b.port, "burst-sub").await;
    s.subscribe("burst/+", 0).await;
    let port = b.port;
    let writers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Raw::v311(port, &format!("burst-pub-{p}"));
                let topic = format!("burst/{p}");
                let mut all = Vec::new();
                for i in 0..EACH {
                    all.extend(Pub::new(&topic, format!("{i}")).v3());
                }
                all.extend(wire::disconnect());
                c.send(&all);
            })
        })
        .collect();
    let mut next = vec![0usize; PUBLISHERS];
    let mut got = 0;
    while got < PUBLISHERS * EACH {
        let Some(m) = s.recv_within(std::time::Duration::from_secs(10)).await else { break };
        let (topic, payload) = tp4(&m);
        let p: usize = topic.trim_start_matches("burst/").parse().expect("publisher");
        assert_eq!(payload.parse::<usize>().expect("number"), next[p], "publisher {p} out of order or lost");
        next[p] += 1;
        got += 1;
    }
    for w in writers {
        w.join().expect("publisher");
    }
    assert_eq!(got, PUBLISHERS * EACH, "delivered per publisher: {next:?}");
    sys_value_reaches(b.port, "$SYS/broker/publish/messages/dropped", |v| v == "0");
}

#[test]
fn acknowledgements_sent_together_are_each_settled_and_a_wrong_one_among_them_is_a_protocol_error() {
    // A subscriber acknowledges a whole window in one write: each PUBACK frees its slot, so the
    // next window follows; an id not in flight among them is ignored.
    let b = broker("max_inflight_messages 10\nupgrade_outgoing_qos true");
    for level in [4u8, 5] {
        let id = format!("batch{level}");
        let (mut sub, _) = Raw::connect(b.port, &Connect::level(level, &id));
        sub.subscribe(1, &[("acks/q1", 1), ("acks/q2", 2)]);
        let mut publ = Raw::v311(b.port, &format!("{id}-pub"));
        let mut bytes = Vec::new();
        for i in 0..30u32 {
            bytes.extend(Pub::new("acks/q1", i.to_be_bytes()).v3());
        }
        publ.send(&bytes);
        let mut next = 0u32;
        for _ in 0..3 {
            let mut acks = wire::puback(60_000);
            for _ in 0..10 {
                let m = sub.recv_publish();
                assert_eq!(m.payload.as_ref(), next.to_be_bytes(), "in order, none lost");
                next += 1;
                acks.extend(wire::puback(m.packet_id.expect("QoS 1").get()));
            }
            // Nothing beyond the window before the acknowledgements.
            sub.expect_silence();
            sub.send(&acks);
        }
        sub.ping();
        // A PUBACK for a QoS 2 delivery (PUBREC is due), behind a valid one in the same write.
        publ.publish(&Pub::new("acks/q1", "one").qos(1, 1));
        publ.publish(&Pub::new("acks/q2", "two").qos(2, 2));
        let one = sub.recv_publish();
        let two = sub.recv_publish();
        assert_eq!(two.qos, QoS::ExactlyOnce);
        let mut acks = wire::puback(one.packet_id.expect("QoS 1").get());
        acks.extend(wire::puback(two.packet_id.expect("QoS 2").get()));
        sub.send(&acks);
        sub.expect_disconnect((level == 5).then_some(0x82));
    }
}
