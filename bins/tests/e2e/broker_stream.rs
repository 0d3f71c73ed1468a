//! `mq broker`: a large PUBLISH (1 MiB or more) is passed on to subscribers while its payload is still
//! arriving (subscribers have part of it before the publisher has sent all of it); the publisher's
//! acknowledgement and the retained copy wait for the last byte; a publisher that goes away mid-payload
//! publishes nothing (subscribers that had started receiving it are disconnected, nothing is retained,
//! and a QoS 2 resend is routed). mq-only behaviour: Mosquitto stores the whole packet first.

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
