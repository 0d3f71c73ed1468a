//! `mq broker`: a large PUBLISH (1 MiB or more) is passed on to subscribers while its payload is still
//! arriving (subscribers have part of it before the publisher has sent all of it); the publisher's
//! acknowledgement and the retained copy wait for the last byte; a publisher that goes away mid-payload
//! publishes nothing (subscribers that had started receiving it are disconnected, nothing is retained,
//! and a QoS 2 resend is routed); one that stalls mid-payload for 5 s is disconnected; one that arrives
//! slowly from the start is stored whole first and holds none of its subscribers' other traffic back. mq-only behaviour: Mosquitto stores every packet whole first.

use std::time::Duration;

use mq_proto::Packet;

use crate::broker_util::wire::{Connect, Pub};
use crate::broker_util::{Next, Raw, tp};
use crate::harness::Broker;

const MIB: usize = 1024 * 1024;

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn large_payloads_reach_subscribers_while_they_arrive() {
    let b = Broker::mq("");
    let mut s1 = Raw::v311(b.port, "stream-s1");
    s1.subscribe(1, &[("big/#", 1)]);
    let mut s2 = Raw::v5(b.port, "stream-s2");
    s2.subscribe(1, &[("big/#", 0)]);
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("stream-pub"));

    let data = payload(3 * MIB);
    let bytes = Pub::new("big/x", data.clone()).qos(1, 7).retain().v3();
    let (first, rest) = bytes.split_at(2 * MIB);
    p.send(first);
    // Half the payload reached the subscribers while the publisher holds back the rest ...
    assert!(s1.wait_bytes(MIB, Duration::from_secs(10)) >= MIB, "nothing passed on before the end");
    assert!(s2.wait_bytes(MIB, Duration::from_secs(10)) >= MIB, "nothing passed on before the end");
    // ... and the publisher is not acknowledged before its last byte.
    assert!(matches!(p.next(Duration::from_millis(300)), Next::Timeout));
    p.send(rest);
    match p.recv() {
        Packet::PubAck(a) => assert_eq!(a.packet_id.get(), 7),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    let got = s1.recv_publish_ack();
    assert_eq!((got.topic.as_ref(), got.payload.as_ref() == data.as_slice()), ("big/x", true));
    let got = s2.recv_publish();
    assert_eq!((got.topic.as_ref(), got.payload.as_ref() == data.as_slice()), ("big/x", true));
    // Both subscribers keep working afterwards.
    s1.ping();
    s2.ping();

    // Retained once complete.
    let mut late = Raw::v311(b.port, "stream-late");
    late.subscribe(1, &[("big/x", 0)]);
    let got = late.recv_publish();
    assert!(got.retain && got.payload.as_ref() == data.as_slice());
}

#[test]
fn a_publisher_that_leaves_mid_payload_publishes_nothing() {
    let b = Broker::mq("");
    let mut watcher = Raw::v311(b.port, "stream-watch");
    watcher.subscribe(1, &[("big/#", 2)]);
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("stream-leaver").clean(false));
    let data = payload(2 * MIB);
    let bytes = Pub::new("big/y", data.clone()).qos(2, 9).retain().v3();
    p.send(&bytes[..MIB + MIB / 2]);
    assert!(watcher.wait_bytes(MIB / 2, Duration::from_secs(10)) >= MIB / 2);
    p.drop_connection();
    // The watcher had part of a packet that can never be finished: disconnected, nothing delivered.
    let got = watcher.expect_closed();
    assert!(got.is_empty(), "{got:?}");
    b.wait_log("Client stream-leaver went away");

    // Nothing was retained.
    let mut late = Raw::v311(b.port, "stream-late2");
    late.subscribe(1, &[("big/#", 2)]);
    late.expect_silence();

    // The QoS 2 packet id was not kept as received: the resend is routed.
    let (mut again, ack) = Raw::connect(b.port, &Connect::v311("stream-leaver").clean(false));
    assert!(ack.session_present);
    again.send(&Pub::new("big/y", data.clone()).qos(2, 9).retain().dup().v3());
    match again.recv() {
        Packet::PubRec(a) => assert_eq!(a.packet_id.get(), 9),
        other => panic!("expected PUBREC, got {other:?}"),
    }
    let got = late.recv_publish_ack();
    assert_eq!(tp(&got).0, "big/y");
    assert!(got.payload.as_ref() == data.as_slice());
}

#[test]
fn a_slowly_arriving_large_payload_is_stored_whole_and_holds_nothing_back() {
    let b = Broker::mq("");
    let mut s = Raw::v311(b.port, "stream-slow-sub");
    s.subscribe(1, &[("big/#", 1), ("small/#", 0)]);
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("stream-slow-pub"));
    let data = payload(2 * MIB);
    let bytes = Pub::new("big/slow", data.clone()).qos(1, 3).v3();
    // More than a MiB, but not within the fast window: stored whole, like any packet.
    p.send(&bytes[..MIB / 2]);
    std::thread::sleep(Duration::from_millis(100));
    p.send(&bytes[MIB / 2..MIB + MIB / 4]);
    std::thread::sleep(Duration::from_millis(100));
    // Meanwhile the subscriber's other traffic flows: a message from someone else, a PINGRESP.
    let (mut q, _) = Raw::connect(b.port, &Connect::v311("stream-slow-other"));
    q.publish(&Pub::new("small/x", "meanwhile"));
    assert_eq!(tp(&s.recv_publish()), ("small/x".to_string(), "meanwhile".to_string()));
    s.ping();
    p.send(&bytes[MIB + MIB / 4..]);
    match p.recv() {
        Packet::PubAck(a) => assert_eq!(a.packet_id.get(), 3),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    let got = s.recv_publish_ack();
    assert!(got.topic.as_ref() == "big/slow" && got.payload.as_ref() == data.as_slice());
}

#[test]
fn a_publisher_that_stalls_mid_payload_is_disconnected() {
    let b = Broker::mq("");
    let mut s = Raw::v311(b.port, "stream-stall-sub");
    s.subscribe(1, &[("big/#", 0)]);
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("stream-staller"));
    let bytes = Pub::new("big/stall", payload(3 * MIB)).v3();
    p.send(&bytes[..2 * MIB]);
    assert!(s.wait_bytes(MIB, Duration::from_secs(10)) >= MIB);
    // Nothing more for five seconds: the publisher goes, and with it the message.
    let got = p.expect_closed_within(Duration::from_secs(10));
    assert!(got.is_empty(), "{got:?}");
    b.wait_log("Client stream-staller stalled in the middle of a large message, disconnecting.");
    assert!(s.expect_closed().is_empty());
}

#[test]
fn a_qos2_resend_after_a_takeover_mid_payload_is_routed() {
    let b = Broker::mq("");
    let mut s = Raw::v311(b.port, "stream-to-sub");
    s.subscribe(1, &[("big/#", 2)]);
    let (mut old, _) = Raw::connect(b.port, &Connect::v311("stream-to").clean(false));
    let data = payload(2 * MIB);
    let bytes = Pub::new("big/to", data.clone()).qos(2, 5).v3();
    old.send(&bytes[..MIB + MIB / 2]);
    assert!(s.wait_bytes(MIB, Duration::from_secs(10)) >= MIB);
    // Subscribed after the first copy was routed: gets only the resend.
    let mut s2 = Raw::v311(b.port, "stream-to-sub2");
    s2.subscribe(1, &[("big/#", 2)]);
    // The client comes back on a new connection and resends the whole message.
    let (mut new, ack) = Raw::connect(b.port, &Connect::v311("stream-to").clean(false));
    assert!(ack.session_present);
    new.send(&Pub::new("big/to", data.clone()).qos(2, 5).dup().v3());
    match new.recv() {
        Packet::PubRec(a) => assert_eq!(a.packet_id.get(), 5),
        other => panic!("expected PUBREC, got {other:?}"),
    }
    old.expect_closed();
    let got = s2.recv_publish_ack();
    assert!(got.topic.as_ref() == "big/to" && got.payload.as_ref() == data.as_slice());
    // The first subscriber's copy was cut short with its connection.
    assert!(s.expect_closed().is_empty());
}
