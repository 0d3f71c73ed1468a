//! `mq broker` and large PUBLISH packets (1 MiB or more), which it reads into pieces of their own and
//! routes once complete (store and forward, as Mosquitto): subscribers get nothing of a message before
//! its last byte, so a publisher that uploads slowly, stalls or goes away costs them nothing (their
//! other traffic and PINGRESP flow, nobody is disconnected); a message never completed is not published
//! (nothing retained, a QoS 2 resend is routed); and what the broker holds for uploads follows the bytes
//! received, not the sizes declared, with no thread per upload.

use std::time::{Duration, Instant};

use mq_proto::Packet;

use crate::broker_util::wire::{Connect, Pub};
use crate::broker_util::{Next, QUIET, Raw, proc_status, tp};
use crate::harness::Broker;

const MIB: usize = 1024 * 1024;

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_large_message_is_delivered_whole_once_its_last_byte_is_in() {
    let b = Broker::mq("");
    let mut s1 = Raw::v311(b.port, "large-s1");
    s1.subscribe(1, &[("big/#", 1), ("small/#", 0)]);
    let mut s2 = Raw::v5(b.port, "large-s2");
    s2.subscribe(1, &[("big/#", 0)]);
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("large-pub"));

    let data = payload(3 * MIB);
    let bytes = Pub::new("big/x", data.clone()).qos(1, 7).retain().v3();
    let (first, rest) = bytes.split_at(2 * MIB);
    p.send(first);
    // Nothing of it reaches the subscribers before the end; their other traffic does.
    let mut q = Raw::v311(b.port, "large-other");
    q.publish(&Pub::new("small/x", "meanwhile"));
    assert_eq!(tp(&s1.recv_publish()), ("small/x".to_string(), "meanwhile".to_string()));
    s1.ping();
    s2.ping();
    // The publisher is not acknowledged before its last byte.
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
    s1.ping();
    s2.ping();

    let mut late = Raw::v311(b.port, "large-late");
    late.subscribe(1, &[("big/x", 0)]);
    let got = late.recv_publish();
    assert!(got.retain && got.payload.as_ref() == data.as_slice());
}

#[test]
fn a_slow_uploader_holds_back_none_of_its_subscribers_traffic() {
    let b = Broker::mq("");
    let mut s = Raw::v311(b.port, "slow-sub");
    s.subscribe(1, &[("big/#", 1), ("small/#", 1)]);
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("slow-pub"));
    // A large message whose first MiB and a half comes at once, then a trickle.
    let bytes = Pub::new("big/slow", payload(50 * MIB)).qos(1, 3).v3();
    p.send(&bytes[..MIB + MIB / 2]);
    let mut q = Raw::v311(b.port, "slow-other");
    let mut at = MIB + MIB / 2;
    for i in 0..10u16 {
        p.send(&bytes[at..at + 32 * 1024]);
        at += 32 * 1024;
        // Every message and PINGRESP of the subscriber comes at once, not after the upload.
        q.publish(&Pub::new("small/x", format!("m{i}")).qos(1, i + 1));
        let started = Instant::now();
        assert_eq!(tp(&s.recv_publish_ack()), ("small/x".to_string(), format!("m{i}")));
        s.ping();
        assert!(started.elapsed() < Duration::from_secs(2), "held back for {:?}", started.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The uploader is not acknowledged, nor is anything of its message delivered.
    assert!(matches!(p.next(QUIET), Next::Timeout));
    s.expect_silence();
}

#[test]
fn an_upload_cut_short_publishes_nothing_and_disconnects_nobody() {
    let b = Broker::mq("");
    let mut watcher = Raw::v311(b.port, "cut-watch");
    watcher.subscribe(1, &[("big/#", 2)]);
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("cut-leaver").clean(false));
    let data = payload(2 * MIB);
    let bytes = Pub::new("big/y", data.clone()).qos(2, 9).retain().v3();
    p.send(&bytes[..MIB + MIB / 2]);
    p.drop_connection();
    b.wait_log("Client cut-leaver went away");
    // The subscriber is still connected and got nothing.
    watcher.ping();
    watcher.expect_silence();
    // Nothing was retained.
    let mut late = Raw::v311(b.port, "cut-late");
    late.subscribe(1, &[("big/#", 2)]);
    late.ping();
    late.expect_silence();
    // The QoS 2 packet id was not kept as received: the resend is routed, once.
    let (mut again, ack) = Raw::connect(b.port, &Connect::v311("cut-leaver").clean(false));
    assert!(ack.session_present);
    again.send(&Pub::new("big/y", data.clone()).qos(2, 9).retain().dup().v3());
    match again.recv() {
        Packet::PubRec(a) => assert_eq!(a.packet_id.get(), 9),
        other => panic!("expected PUBREC, got {other:?}"),
    }
    for s in [&mut watcher, &mut late] {
        let got = s.recv_publish_ack();
        assert!(got.topic.as_ref() == "big/y" && got.payload.as_ref() == data.as_slice());
    }
    watcher.ping();
    watcher.expect_silence();
}

#[test]
fn uploads_hold_the_bytes_received_not_the_sizes_declared() {
    let b = Broker::mq("");
    let pid = b.pid();
    let mut s = Raw::v311(b.port, "mem-sub");
    s.subscribe(1, &[("big/#", 1)]);
    s.ping();
    let rss_before = proc_status(pid, "VmRSS");
    let threads_before = proc_status(pid, "Threads");
    // 40 uploads, each declaring 200 MB and sending 256 KiB of it.
    let n = 40;
    let mut uploads = Vec::new();
    for i in 0..n {
        let (mut c, _) = Raw::connect(b.port, &Connect::v311(&format!("mem-up{i}")));
        let mut bytes = declared_publish_head("big/declared", 200_000_000);
        bytes.extend(std::iter::repeat_n(0x5a, 256 * 1024));
        c.send(&bytes);
        uploads.push(c);
    }
    // Every upload has been read (a round trip through each connection would wait behind its payload,
    // so ask a fresh client, then give the broker a moment to read the rest).
    Raw::v311(b.port, "mem-probe").ping();
    std::thread::sleep(Duration::from_millis(500));
    let rss_kib = proc_status(pid, "VmRSS").saturating_sub(rss_before);
    let threads = proc_status(pid, "Threads").saturating_sub(threads_before);
    // Received: 40 × 256 KiB = 10 MiB (declared: 8 GB).
    assert!(rss_kib < 40 * 1024, "uploads grew the broker by {rss_kib} KiB");
    assert!(threads <= 2, "uploads started {threads} threads");
    s.ping();
    drop(uploads);
}

/// The head of a QoS 1 PUBLISH (packet id 1) declaring a payload of `payload_len` bytes.
fn declared_publish_head(topic: &str, payload_len: usize) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend((topic.len() as u16).to_be_bytes());
    body.extend(topic.as_bytes());
    body.extend(1u16.to_be_bytes());
    let mut out = vec![0x32];
    out.extend(crate::broker_util::wire::varint(body.len() + payload_len));
    out.extend(body);
    out
}
