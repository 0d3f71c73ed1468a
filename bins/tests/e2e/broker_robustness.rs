//! `mq broker` under pressure: a large payload fanned out to several subscribers byte for byte, a
//! subscriber that never reads does not hold up the publisher or the other subscribers (its queue is
//! bounded, the overflow dropped and counted), many clients at once, and a client exceeding the
//! broker's Receive Maximum with unreleased QoS 2 messages (DISCONNECT 0x93), and packets a client
//! sent just before resetting its connection.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::broker_util::wire::{self, Connect, Pub};
use crate::broker_util::{Raw, V4, V5, assert_healthy, broker, sys_value_reaches, tp, tp4, v4_options};

/// A payload whose bytes depend on their position, so a shifted or spliced copy is detected.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_payload_reaches_every_subscriber_intact() {
    let b = broker("");
    let big = pattern(3 * 1024 * 1024 + 17);
    let mut subs = Vec::new();
    for i in 0..3 {
        let mut o = v4_options(b.port, &format!("big{i}"));
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (mut s, _) = V4::connect(o).await;
        s.subscribe("big/t", i % 3).await;
        subs.push(s);
    }
    let mut o = v4_options(b.port, "big-pub");
    o.set_max_packet_size(8 << 20, 8 << 20);
    let (mut p, _) = V4::connect(o).await;
    p.publish("big/t", 1, false, big.clone()).await;
    p.publish("big/t", 1, false, "small after big").await;
    for s in &mut subs {
        let m = s.recv().await;
        assert!(m.payload[..] == big[..], "payload of {} bytes differs", m.payload.len());
        assert_eq!(tp4(&s.recv().await).1, "small after big");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_holds_nobody_up() {
    let b = broker("max_queued_messages 50\nsys_interval 1");
    // Subscribes, then never reads its socket again.
    let mut stuck = TcpStream::connect(("127.0.0.1", b.port)).expect("connect");
    stuck.write_all(&Connect::v311("stuck").bytes()).expect("write");
    stuck.write_all(&wire::subscribe(1, &[("flood/t", 1)], None)).expect("write");
    let mut fine = V4::new(b.port, "fine").await;
    fine.subscribe("flood/t", 1).await;
    let p = V4::new(b.port, "flooder").await;
    let payload = vec![b'x'; 16 * 1024];
    let start = Instant::now();
    // 16 MiB in all: more than the stuck client's socket buffers take.
    for i in 0..1000u32 {
        let mut m = payload.clone();
        m[..4].copy_from_slice(&i.to_be_bytes());
        p.client.publish("flood/t", rumqttc::QoS::AtLeastOnce, false, m).await.expect("publish");
    }
    // The subscriber that reads gets every message, in order.
    for i in 0..1000u32 {
        let m = fine.recv().await;
        assert_eq!(u32::from_be_bytes(m.payload[..4].try_into().expect("4 bytes")), i);
    }
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
    sys_value_reaches(b.port, "$SYS/broker/publish/messages/dropped", |v| v.parse().is_ok_and(|n: u64| n > 0));
    assert_healthy(b.port);
    drop(stuck);
}

#[test]
fn many_clients_at_once() {
    let b = broker("");
    let mut subs: Vec<Raw> = (0..150).map(|i| Raw::v311(b.port, &format!("many{i}"))).collect();
    for (i, s) in subs.iter_mut().enumerate() {
        s.subscribe(1, &[(&format!("many/{}", i % 10), 1), ("many/all", 0)]);
    }
    let mut p = Raw::v5(b.port, "many-pub");
    p.publish(&Pub::new("many/all", "everyone").qos(1, 1));
    for i in 0..10u16 {
        p.publish(&Pub::new(&format!("many/{i}"), format!("group {i}")).qos(1, i + 2));
    }
    for (i, s) in subs.iter_mut().enumerate() {
        assert_eq!(tp(&s.recv_publish_ack()).1, "everyone");
        assert_eq!(tp(&s.recv_publish_ack()).1, format!("group {}", i % 10));
    }
}

#[test]
fn exceeding_receive_maximum_with_qos2_is_refused_with_0x93() {
    let b = broker("max_inflight_messages 5");
    let (mut c, ack) = Raw::connect(b.port, &Connect::v5("greedy"));
    assert_eq!(ack.properties.receive_maximum, Some(5));
    for pid in 1..=5u16 {
        c.send(&Pub::new("rm/t", "x").qos(2, pid).v5());
        assert!(matches!(c.recv(), mq_proto::Packet::PubRec(_)));
    }
    // A sixth unreleased QoS 2 message is one too many.
    c.send(&Pub::new("rm/t", "x").qos(2, 6).v5());
    c.expect_disconnect(Some(0x93));
    // Releasing in time keeps a client within the limit.
    let mut ok = Raw::v5(b.port, "polite");
    for pid in 1..=20u16 {
        ok.publish(&Pub::new("rm/t", "x").qos(2, pid));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_on_both_protocols_reach_one_subscriber_in_order() {
    let b = broker("");
    let mut s = V5::new(b.port, "sink").await;
    s.subscribe("mix/#", 2).await;
    let mut p4 = V4::new(b.port, "p4").await;
    let mut p5 = V5::new(b.port, "p5").await;
    for i in 0..50 {
        p4.publish("mix/4", (i % 3) as u8, false, format!("4-{i}")).await;
        p5.publish("mix/5", (i % 3) as u8, false, format!("5-{i}")).await;
    }
    let (mut n4, mut n5) = (0, 0);
    while n4 + n5 < 100 {
        let m = s.recv().await;
        let (topic, text) = crate::broker_util::tp5(&m);
        if topic == "mix/4" {
            assert_eq!(text, format!("4-{n4}"));
            n4 += 1;
        } else {
            assert_eq!(text, format!("5-{n5}"));
            n5 += 1;
        }
    }
}

/// A client that closes its socket with the broker's bytes still unread resets the connection; what it
/// sent before the reset is still handled (the broker reads those bytes before it sees the reset), as
/// with an orderly close: a message for a subscriber and a retained one.
#[test]
fn packets_sent_just_before_a_reset_are_handled() {
    let b = broker("");
    let mut s = Raw::v311(b.port, "reset-sub");
    s.subscribe(1, &[("reset/#", 0)]);
    for round in 0..5 {
        let mut c = TcpStream::connect(("127.0.0.1", b.port)).expect("connect");
        c.set_nodelay(true).expect("nodelay");
        c.write_all(&Connect::v311(&format!("resetter{round}")).bytes()).expect("write");
        // The CONNACK is in, and stays unread: closing now resets the connection.
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        assert_eq!(c.peek(&mut [0u8; 4]).expect("CONNACK"), 4);
        let mut out = Pub::new("reset/live", format!("{round}")).v3();
        out.extend(Pub::new(&format!("reset/kept{round}"), "kept").retain().v3());
        c.write_all(&out).expect("write");
        drop(c);
        assert_eq!(tp(&s.recv_publish()), ("reset/live".to_string(), format!("{round}")));
        assert_eq!(tp(&s.recv_publish()), (format!("reset/kept{round}"), "kept".to_string()));
    }
    let mut late = Raw::v311(b.port, "reset-late");
    late.subscribe(1, &[("reset/#", 0)]);
    let kept: Vec<_> = (0..5).map(|_| tp(&late.recv_publish()).0).collect();
    assert_eq!(kept.len(), 5, "{kept:?}");
    assert_healthy(b.port);
}
