//! `mq broker`: the CONNECT handshake, byte-exact with a raw client. CONNACK codes per version (3.1
//! `MQIsdp`, 3.1.1, 5), unsupported protocol levels, client identifier rules (empty ids per version,
//! `allow_zero_length_clientid`, `auto_id_prefix`, v5 Assigned Client Identifier, `clientid_prefixes`),
//! a second CONNECT, a first packet that is not CONNECT, keep alive (1.5x, PINGREQ, `max_keepalive` and
//! the v5 Server Keep Alive), the v5 CONNACK properties, and packets sent in the same write as the
//! CONNECT.

use std::time::{Duration, Instant};

use mq_proto::{Packet, ProtocolVersion};

use crate::broker_util::wire::{self, Connect, Pub};
use crate::broker_util::{Next, Raw, broker, tp};

/// A generated id: the prefix and an upper-case UUID (`auto-E90F5C8D-02BA-0987-6174-A1493EF3A750`).
fn assert_generated(id: &str, prefix: &str) {
    let rest = id.strip_prefix(prefix).unwrap_or_else(|| panic!("{id:?} does not start with {prefix:?}"));
    let groups: Vec<&str> = rest.split('-').collect();
    assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id:?}");
    assert!(rest.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{id:?}");
}

#[test]
fn mqtt31_connect_is_accepted_and_works() {
    let b = broker("");
    let mut sub = Raw::open(b.port);
    let ack = sub.handshake(&Connect::v31("old-sub"));
    assert_eq!((ack.code, ack.session_present), (0, false));
    let sa = sub.subscribe(1, &[("v31/t", 2)]);
    assert_eq!(sa.reason_codes.iter().map(|c| c.0).collect::<Vec<_>>(), [2]);
    let (mut publ, _) = Raw::connect(b.port, &Connect::v31("old-pub"));
    publ.publish(&Pub::new("v31/t", "hello").qos(2, 7));
    let p = sub.recv_publish_ack();
    assert_eq!(tp(&p), ("v31/t".into(), "hello".into()));
    assert_eq!(p.qos, mq_proto::QoS::ExactlyOnce);
}

#[test]
fn unsupported_protocol_level_gets_return_code_1_and_close() {
    let b = broker("");
    for level in [2u8, 6, 0x7F] {
        let mut c = Raw::open(b.port);
        c.send(&Connect::level(level, "future").bytes());
        let got = c.expect_closed();
        match got.as_slice() {
            [Packet::ConnAck(a)] => assert_eq!(a.code, 1, "level {level}: {a:?}"),
            other => panic!("level {level}: expected CONNACK 1 then close, got {other:?}"),
        }
    }
}

#[test]
fn mqtt31_empty_client_id_is_refused_with_2() {
    let b = broker("");
    let mut c = Raw::open(b.port);
    let ack = c.handshake(&Connect::v31(""));
    assert_eq!(ack.code, 2);
    c.expect_closed();
}

#[test]
fn mqtt311_empty_client_id_without_clean_session_is_refused_with_2() {
    let b = broker("");
    let mut c = Raw::open(b.port);
    let ack = c.handshake(&Connect::v311("").clean(false));
    assert_eq!(ack.code, 2);
    c.expect_closed();
}

#[test]
fn mqtt311_empty_client_id_with_clean_session_gets_a_generated_id() {
    let b = broker("");
    let (mut c, ack) = Raw::connect(b.port, &Connect::v311(""));
    assert!(!ack.session_present);
    c.ping();
    let log = b.wait_log(" as auto-");
    let line = log.lines().find(|l| l.contains(" as auto-")).expect("connect line");
    let id = line.split(" as ").nth(1).and_then(|r| r.split(' ').next()).expect("id in the log line");
    assert_generated(id, "auto-");
}

#[test]
fn mqtt5_empty_client_id_gets_an_assigned_client_identifier() {
    let b = broker("");
    let (mut c, ack) = Raw::connect(b.port, &Connect::v5(""));
    let id = ack.properties.assigned_client_identifier.clone().expect("Assigned Client Identifier");
    assert_generated(&id, "auto-");
    c.ping();
    // Two clients get two ids.
    let (_c2, ack2) = Raw::connect(b.port, &Connect::v5(""));
    assert_ne!(ack2.properties.assigned_client_identifier, Some(id));
    // A client that chose its id is not told one.
    let (_c3, ack3) = Raw::connect(b.port, &Connect::v5("chosen"));
    assert_eq!(ack3.properties.assigned_client_identifier, None);
}

#[test]
fn auto_id_prefix_is_used_for_generated_ids() {
    let b = broker("auto_id_prefix gen-");
    let (_c, ack) = Raw::connect(b.port, &Connect::v5(""));
    assert_generated(&ack.properties.assigned_client_identifier.expect("assigned id"), "gen-");
    let (mut c3, _) = Raw::connect(b.port, &Connect::v311(""));
    c3.ping();
    b.wait_log(" as gen-");
}

#[test]
fn zero_length_client_id_is_refused_when_not_allowed() {
    let b = broker("allow_zero_length_clientid false");
    let mut v5 = Raw::open(b.port);
    assert_eq!(v5.handshake(&Connect::v5("")).code, 0x85);
    v5.expect_closed();
    let mut v3 = Raw::open(b.port);
    assert_eq!(v3.handshake(&Connect::v311("")).code, 2);
    v3.expect_closed();
    // Ids still work.
    Raw::v5(b.port, "named").ping();
}

#[test]
fn clientid_prefixes_refuses_other_ids_as_not_authorised() {
    let b = broker("clientid_prefixes good-");
    let mut bad = Raw::open(b.port);
    assert_eq!(bad.handshake(&Connect::v311("evil")).code, 5);
    bad.expect_closed();
    let mut bad5 = Raw::open(b.port);
    assert_eq!(bad5.handshake(&Connect::v5("evil")).code, 0x87);
    bad5.expect_closed();
    Raw::v311(b.port, "good-1").ping();
}

#[test]
fn second_connect_is_a_protocol_error() {
    let b = broker("");
    let mut v3 = Raw::v311(b.port, "twice3");
    v3.send(&Connect::v311("twice3").bytes());
    v3.expect_disconnect(None);
    let mut v5 = Raw::v5(b.port, "twice5");
    v5.send(&Connect::v5("twice5").bytes());
    v5.expect_disconnect(Some(0x82));
}

#[test]
fn first_packet_not_connect_is_closed_without_answer() {
    let b = broker("");
    for first in [vec![0xC0, 0x00], Pub::new("a", "x").v3(), crate::broker_util::wire::subscribe(1, &[("a", 0)], None)]
    {
        let mut c = Raw::open(b.port);
        c.send(&first);
        let got = c.expect_closed();
        assert!(got.is_empty(), "answered {got:?} to {first:02x?}");
    }
    crate::broker_util::assert_healthy(b.port);
}

/// Connects with keep alive 1 s and measures how long the broker waits before closing.
fn keepalive_close(level: u8) -> (Duration, Vec<Packet>) {
    let b = broker("");
    let mut c = Raw::open(b.port);
    let start = Instant::now();
    let ack = c.handshake(&Connect::level(level, "sleepy").keep_alive(1));
    assert_eq!(ack.code, 0);
    let got = c.expect_closed();
    (start.elapsed(), got)
}

#[test]
fn keepalive_expires_after_one_and_a_half_times_v311() {
    let (elapsed, got) = keepalive_close(4);
    assert!(got.is_empty(), "{got:?}");
    assert!(elapsed >= Duration::from_millis(1450), "closed after {elapsed:?}, before 1.5 x keep alive");
    assert!(elapsed <= Duration::from_secs(4), "closed only after {elapsed:?}");
}

#[test]
fn keepalive_expires_with_disconnect_0x8d_v5() {
    let (elapsed, got) = keepalive_close(5);
    match got.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason.0, 0x8D),
        other => panic!("expected DISCONNECT 0x8D, got {other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(1450), "closed after {elapsed:?}, before 1.5 x keep alive");
    assert!(elapsed <= Duration::from_secs(4), "closed only after {elapsed:?}");
}

#[test]
fn pingreq_keeps_the_connection_alive() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("pinger").keep_alive(1));
    // 3 s of pings every 0.5 s: twice the 1.5 s grace, never closed.
    for _ in 0..6 {
        assert!(matches!(c.next(Duration::from_millis(500)), Next::Timeout));
        c.ping();
    }
}

#[test]
fn keepalive_zero_never_expires() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("forever").keep_alive(0));
    assert!(matches!(c.next(Duration::from_millis(2500)), Next::Timeout));
    c.ping();
}

#[test]
fn max_keepalive_is_sent_as_server_keep_alive_to_v5_clients() {
    let b = broker("max_keepalive 10");
    for (asked, told) in [(60u16, Some(10u16)), (0, Some(10)), (5, None), (10, None)] {
        let (_c, ack) = Raw::connect(b.port, &Connect::v5("ka").keep_alive(asked));
        assert_eq!(ack.properties.server_keep_alive, told, "keep alive {asked}");
    }
}

#[test]
fn server_keep_alive_is_enforced() {
    // 10 s is the smallest `max_keepalive`: this test takes 15 s.
    let b = broker("max_keepalive 10");
    let mut c = Raw::open(b.port);
    let start = Instant::now();
    let ack = c.handshake(&Connect::v5("clamped").keep_alive(0));
    assert_eq!(ack.properties.server_keep_alive, Some(10));
    let got = c.expect_closed_within(Duration::from_secs(25));
    let elapsed = start.elapsed();
    assert!(matches!(got.as_slice(), [Packet::Disconnect(d)] if d.reason.0 == 0x8D), "{got:?}");
    assert!((Duration::from_millis(14_900)..=Duration::from_secs(20)).contains(&elapsed), "closed after {elapsed:?}");
}

#[test]
fn max_keepalive_refuses_larger_keepalive_from_v311_clients() {
    let b = broker("max_keepalive 10");
    let mut c = Raw::open(b.port);
    assert_eq!(c.handshake(&Connect::v311("too-long").keep_alive(60)).code, 2);
    c.expect_closed();
    Raw::connect(b.port, &Connect::v311("fine").keep_alive(10)).0.ping();
}

#[test]
fn connack_v5_properties_default() {
    let b = broker("");
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("props"));
    let p = &ack.properties;
    assert_eq!(p.receive_maximum, Some(20), "max_inflight_messages default");
    assert_eq!(p.topic_alias_maximum, Some(10), "max_topic_alias default");
    assert_eq!(p.maximum_qos, None);
    assert_eq!(p.retain_available, None);
    assert_eq!(p.maximum_packet_size, None);
    assert_eq!(p.server_keep_alive, None);
    assert!(!ack.session_present);
}

#[test]
fn connack_v5_properties_follow_the_configuration() {
    let b =
        broker("max_inflight_messages 5\nmax_packet_size 5000\nretain_available false\nmax_qos 1\nmax_topic_alias 3");
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("props"));
    let p = &ack.properties;
    assert_eq!(p.receive_maximum, Some(5));
    assert_eq!(p.maximum_packet_size, Some(5000));
    assert_eq!(p.retain_available, Some(0));
    assert_eq!(p.maximum_qos, Some(1));
    assert_eq!(p.topic_alias_maximum, Some(3));
}

/// A client that sends its CONNECT and the packets after it in one write, and then waits, gets every
/// answer: what arrived behind the CONNECT is handled without waiting for more bytes (none come).
#[test]
fn packets_sent_with_the_connect_are_handled_without_more_bytes() {
    let b = broker("");
    for (level, id) in [(4u8, "behind-connect-4"), (5, "behind-connect-5")] {
        let v5 = level == 5;
        let mut bytes = Connect::level(level, id).bytes();
        bytes.extend(wire::subscribe(1, &[("behind/t", 1)], v5.then_some(&[][..])));
        let p = Pub::new("behind/t", "own").qos(1, 2);
        bytes.extend(if v5 { p.v5() } else { p.v3() });
        let mut c = Raw::open(b.port);
        c.version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
        c.send(&bytes);
        let got: Vec<Packet> = (0..4).map(|_| c.recv()).collect();
        assert!(matches!(got[0], Packet::ConnAck(_)), "{got:?}");
        assert!(got.iter().any(|p| matches!(p, Packet::SubAck(_))), "{got:?}");
        assert!(got.iter().any(|p| matches!(p, Packet::PubAck(a) if a.packet_id.get() == 2)), "{got:?}");
        assert!(got.iter().any(|p| matches!(p, Packet::Publish(m) if &m.payload[..] == b"own")), "{got:?}");
    }
}
