//! Hostile clients: what one client sends must never crash the broker, stall other clients or reach
//! what it may not. Each test first does the hostile thing, then proves the broker still serves
//! others ([`assert_healthy`] or a canary client).
//!
//! - Deep topics: names and filters of 65,535 levels on every path (subscribe, `$share`, unsubscribe,
//!   publish, retained, will) are refused as malformed, as Mosquitto refuses anything beyond 200 `/`;
//!   topics at the limit work everywhere, including retained expiry and session cleanup.
//! - Control characters in client ids, topics and filters are refused as malformed packets (Mosquitto's
//!   UTF-8 check), so they never reach a log line.

use std::time::Duration;

use mq_proto::Packet;

use crate::broker_util::wire::{self, Connect, Pub, Will};
use crate::broker_util::{Raw, assert_healthy, broker, tp};

/// 65,535 levels: the longest topic a string field can carry, all separators.
fn deepest() -> String {
    "/".repeat(65_534)
}

/// A topic of `n` levels.
fn levels(n: usize) -> String {
    vec!["l"; n].join("/")
}

/// Connects at `level` (4 or 5), sends `bytes` and checks the connection is closed as malformed:
/// DISCONNECT 0x81 for MQTT 5, a bare close for 3.1.1.
fn refused_as_malformed(port: u16, level: u8, id: &str, bytes: &[u8]) {
    let (mut c, _) = Raw::connect(port, &Connect::level(level, id));
    c.send(bytes);
    c.expect_disconnect((level == 5).then_some(0x81));
}

#[test]
fn topics_deeper_than_the_limit_are_refused_and_crash_nothing() {
    let b = broker("");
    let deep = deepest();
    let shared = format!("$share/g/{}", &deep[..65_000]);
    for level in [4u8, 5] {
        let v5 = level == 5;
        let sub = |filter: &str| wire::subscribe(1, &[(filter, 1)], v5.then_some(&[][..]));
        refused_as_malformed(b.port, level, "deep-sub", &sub(&deep));
        refused_as_malformed(b.port, level, "deep-share", &sub(&shared));
        refused_as_malformed(b.port, level, "deep-hash", &sub(&format!("{}#", "a/".repeat(30_000))));
        refused_as_malformed(b.port, level, "deep-unsub", &wire::unsubscribe(2, &[&deep], v5));
        let publish = Pub::new(&deep, "x").qos(1, 3).retain();
        refused_as_malformed(b.port, level, "deep-pub", &if v5 { publish.v5() } else { publish.v3() });
        let clear = Pub::new(&deep, "").retain();
        refused_as_malformed(b.port, level, "deep-clear", &if v5 { clear.v5() } else { clear.v3() });
        // A will that deep: no session is made (MQTT 5 hears why in its CONNACK).
        let mut c = Raw::open(b.port);
        c.version = if v5 { mq_proto::ProtocolVersion::V5 } else { mq_proto::ProtocolVersion::V311 };
        c.send(&Connect::level(level, "deep-will").will(Will::new(&deep, "w")).bytes());
        let got = c.expect_closed();
        if v5 {
            assert!(matches!(got.as_slice(), [Packet::ConnAck(a)] if a.code == 0x81), "{got:?}");
        } else {
            assert!(got.is_empty(), "{got:?}");
        }
    }
    assert_healthy(b.port);
}

#[test]
fn topics_at_the_limit_work_on_every_path() {
    let b = broker("");
    // 201 levels (200 separators) is Mosquitto's deepest; one more is refused.
    let at = levels(201);
    let over = levels(202);
    let mut watcher = Raw::v5(b.port, "limit-watch");
    let filter = format!("{}/#", levels(200));
    let ack = watcher.subscribe(1, &[(&filter, 1), (&format!("$share/g/{}/#", levels(198)), 1)]);
    assert_eq!(ack.reason_codes.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 1]);

    let mut p = Raw::v5(b.port, "limit-pub");
    // Retained, with an expiry the broker's sweep has to purge.
    let expiring = levels(200);
    p.publish(&Pub::new(&at, "kept").qos(1, 1).retain());
    p.publish(&Pub::new(&expiring, "brief").qos(1, 2).retain().prop(wire::prop::u32(wire::prop::MESSAGE_EXPIRY, 1)));
    let mut got = (0..4).map(|_| tp(&watcher.recv_publish_ack()).1).collect::<Vec<_>>();
    got.sort();
    // Each reaches both subscriptions (the shared one delivers a copy of its own).
    assert_eq!(got, ["brief", "brief", "kept", "kept"]);
    p.send(&Pub::new(&over, "no").qos(1, 3).v5());
    p.expect_disconnect(Some(0x81));

    // The sweep drops the expired retained message (the broker keeps serving meanwhile).
    std::thread::sleep(Duration::from_millis(2_200));
    let mut late = Raw::v5(b.port, "limit-late");
    late.subscribe(1, &[("l/#", 1)]);
    let m = late.recv_publish_ack();
    assert_eq!(tp(&m), (at.clone(), "kept".into()));
    late.ping();

    // Cleared, unsubscribed, and a session with deep subscriptions ends with its connection.
    let mut p = Raw::v5(b.port, "limit-pub2");
    p.publish(&Pub::new(&at, "").qos(1, 1).retain());
    let mut later = Raw::v5(b.port, "limit-later");
    later.subscribe(1, &[("l/#", 1)]);
    later.ping();
    later.expect_silence();
    // The clearing message reaches the watcher through both subscriptions.
    for _ in 0..2 {
        assert_eq!(tp(&watcher.recv_publish_ack()), (at.clone(), String::new()));
    }
    watcher.send(&wire::unsubscribe(2, &[&filter], true));
    assert!(matches!(watcher.recv(), Packet::UnsubAck(a) if a.reason_codes.first().is_some_and(|r| r.0 == 0)));
    watcher.drop_connection();
    assert_healthy(b.port);
}

#[test]
fn control_characters_are_refused_where_mosquitto_refuses_them() {
    let b = broker("connection_messages true");
    // Client ids: MQTT 5 is told why in a CONNACK (malformed), 3.1.1 is closed without one.
    for (level, id) in [(4u8, "forged\n1700000000: New client connected"), (5, "esc\u{1b}[2J")] {
        let mut c = Raw::open(b.port);
        c.version = if level == 5 { mq_proto::ProtocolVersion::V5 } else { mq_proto::ProtocolVersion::V311 };
        c.send(&Connect::level(level, id).bytes());
        let got = c.expect_closed();
        if level == 5 {
            assert!(matches!(got.as_slice(), [Packet::ConnAck(a)] if a.code == 0x81), "{got:?}");
        } else {
            assert!(got.is_empty(), "{got:?}");
        }
    }
    for level in [4u8, 5] {
        let v5 = level == 5;
        let publish = Pub::new("a/\u{7}bell", "x").qos(1, 1);
        refused_as_malformed(b.port, level, "ctl-pub", &if v5 { publish.v5() } else { publish.v3() });
        let sub = wire::subscribe(1, &[("a/\r/#", 0)], v5.then_some(&[][..]));
        refused_as_malformed(b.port, level, "ctl-sub", &sub);
        let sub = wire::subscribe(1, &[("a/\u{85}", 0)], v5.then_some(&[][..]));
        refused_as_malformed(b.port, level, "ctl-c1", &sub);
    }
    assert_healthy(b.port);
    let log = b.log();
    assert!(!log.contains("forged\n") && !log.contains('\u{1b}') && !log.contains('\u{7}'), "{log}");
}

#[test]
fn acknowledgements_stay_cheap_with_every_packet_id_in_flight() {
    // No in-flight limit: a 3.1.1 subscriber may hold all 65,535 packet ids unacknowledged.
    let b = broker("max_inflight_messages 0\nmax_queued_messages 0\nupgrade_outgoing_qos true");
    let mut sub = Raw::v311(b.port, "all-ids");
    sub.subscribe(1, &[("ids/t", 1)]);
    let mut p = Raw::v311(b.port, "ids-pub");
    let extra = 200usize;
    let mut bytes = Vec::new();
    for i in 0..65_535 + extra as u32 {
        bytes.extend(Pub::new("ids/t", i.to_be_bytes()).v3());
    }
    p.send(&bytes);
    let mut ids = Vec::with_capacity(65_535);
    for _ in 0..65_535 {
        ids.push(sub.recv_publish().packet_id.expect("QoS 1").get());
    }
    // Every id is taken; each PUBACK frees one, which the next message takes at once. Finding it must
    // not cost a scan of the whole window per candidate id (that took over a second per PUBACK).
    let start = std::time::Instant::now();
    // Acknowledged out of order, so the freed id is rarely the one after the last handed out.
    for k in 0..extra {
        let pid = ids[(k * 7_919) % ids.len()];
        sub.send(&wire::puback(pid));
        let m = sub.recv_publish();
        assert_eq!(m.packet_id.map(|id| id.get()), Some(pid));
    }
    assert!(start.elapsed() < crate::broker_util::WAIT, "{extra} acknowledgements took {:?}", start.elapsed());
    p.ping();
}

#[test]
fn every_retained_message_reaches_a_wildcard_subscriber() {
    // Far more retained topics than `max_queued_messages`: all are delivered, paced by the in-flight
    // window, none cut by the queue limit (Mosquitto delivers them all too).
    let b = broker("max_queued_messages 100\nmax_inflight_messages 20");
    let n = 20_000usize;
    let mut p = Raw::v311(b.port, "retained-flood");
    let mut bytes = Vec::new();
    for i in 0..n {
        bytes.extend(Pub::new(&format!("flood/{i}"), "r").retain().v3());
    }
    p.send(&bytes);
    p.ping();
    let mut sub = Raw::v311(b.port, "retained-all");
    sub.subscribe(1, &[("flood/#", 1)]);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..n {
        let m = sub.recv_publish_ack();
        assert!(m.retain);
        seen.insert(m.topic.to_string());
    }
    assert_eq!(seen.len(), n);
    // And live traffic flows after the burst.
    p.publish(&Pub::new("flood/live", "now").qos(1, 1));
    assert_eq!(tp(&sub.recv_publish_ack()), ("flood/live".into(), "now".into()));
}

#[test]
fn a_session_resumed_by_another_user_gets_only_what_that_user_may_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("passwords");
    for (i, (u, p)) in [("alice", "alice-pw"), ("mallory", "mallory-pw"), ("feed", "feed-pw")].iter().enumerate() {
        let mut cmd = crate::harness::mq("mq-passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        assert!(cmd.arg("-b").arg(&pw).arg(u).arg(p).status().expect("mq-passwd").success());
    }
    let acl = dir.path().join("acl");
    std::fs::write(
        &acl,
        "user alice\ntopic read alice/#\ntopic read shared/#\nuser mallory\ntopic read shared/#\nuser feed\ntopic write #\n",
    )
    .expect("acl");
    let b = broker(&format!("allow_anonymous false\npassword_file {}\nacl_file {}", pw.display(), acl.display()));
    let login = |id: &str, user: &str, pass: &str| {
        let mut c = Connect::v311(id).clean(false);
        c.username = Some(user.into());
        c.password = Some(pass.as_bytes().to_vec());
        c
    };
    let (mut alice, _) = Raw::connect(b.port, &login("shared-id", "alice", "alice-pw"));
    alice.subscribe(1, &[("alice/#", 1), ("shared/#", 1)]);
    alice.drop_connection();
    let (mut feed, _) = Raw::connect(b.port, &login("feed", "feed", "feed-pw"));
    for (i, t) in ["alice/secret-1", "shared/news", "alice/secret-2"].iter().enumerate() {
        feed.publish(&Pub::new(t, format!("queued {i}")).qos(1, i as u16 + 1));
    }
    // Another user takes the session over: of what was queued, only its own topics come.
    let (mut mallory, ack) = Raw::connect(b.port, &login("shared-id", "mallory", "mallory-pw"));
    assert!(ack.session_present);
    feed.publish(&Pub::new("shared/marker", "end").qos(1, 9));
    let got: Vec<_> = mallory.publishes_until(|p| p.payload == "end").iter().map(tp).collect();
    assert_eq!(got, [("shared/news".to_string(), "queued 1".to_string())]);
}

#[test]
fn unauthenticated_clients_cannot_make_the_broker_hold_much() {
    let b = broker("");
    let pid = b.pid();
    Raw::v311(b.port, "pre-auth-warmup").ping();
    let rss_before = crate::broker_util::proc_status(pid, "VmRSS");
    // Six CONNECTs declaring 256 MB each (a will that large is allowed by the packet size limit), each
    // sending 24 MiB of it and then waiting.
    let mut head = vec![0x10];
    head.extend(wire::varint(268_000_000));
    head.extend(wire::s("MQTT"));
    head.extend([4, 0x06, 0, 60]); // level 4, clean session + will, keep alive 60
    head.extend(wire::s("pre-auth"));
    head.extend(wire::s("will/topic"));
    head.extend(267_000_000u32.to_be_bytes()[2..].iter()); // a will length field (the rest follows)
    let chunk = vec![0u8; 1024 * 1024];
    let mut open = Vec::new();
    for _ in 0..6 {
        let mut c = Raw::open(b.port);
        let mut alive = c.try_send(&head);
        for _ in 0..24 {
            alive = alive && c.try_send(&chunk);
        }
        open.push((c, alive));
    }
    // A client that authenticates is served all the while.
    Raw::v311(b.port, "pre-auth-valid").ping();
    let grown_kib = crate::broker_util::proc_status(pid, "VmRSS").saturating_sub(rss_before);
    // 144 MiB sent; the broker holds at most its 64 MiB budget (and 64 KiB per connection).
    assert!(grown_kib < 80 * 1024, "unauthenticated clients made the broker hold {grown_kib} KiB");
    assert!(open.iter().any(|(_, alive)| !alive), "no oversized CONNECT was refused");
    b.wait_log("larger than the broker holds for clients not yet authenticated");
}

#[test]
fn a_slow_but_moving_subscriber_does_not_set_the_pace_of_publishers() {
    let b = broker("sys_interval 1");
    // Subscribed to everything at QoS 1, it takes a message every 30 ms: it moves, slowly.
    let mut slow = Raw::v311(b.port, "slow-moving");
    slow.subscribe(1, &[("#", 1)]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let taker = std::thread::spawn(move || {
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            if let crate::broker_util::Next::Packet(Packet::Publish(p)) = slow.next(Duration::from_millis(200)) {
                std::thread::sleep(Duration::from_millis(30));
                slow.ack(&p);
            }
        }
    });
    let mut canary_sub = Raw::v311(b.port, "canary-sub");
    canary_sub.subscribe(1, &[("canary/t", 0)]);
    let mut canary = Raw::v311(b.port, "canary-pub");
    // Paced by the slow subscriber this would take minutes (it drains about 30 messages a second).
    let start = std::time::Instant::now();
    let n = 3_000u16;
    for i in 1..=n {
        canary.publish(&Pub::new("canary/t", "x").qos(1, i));
        if i % 500 == 0 {
            let ping = std::time::Instant::now();
            canary.ping();
            assert!(ping.elapsed() < Duration::from_secs(1), "PINGRESP took {:?}", ping.elapsed());
        }
    }
    assert!(start.elapsed() < crate::broker_util::WAIT, "{n} QoS 1 messages took {:?}", start.elapsed());
    for _ in 0..n {
        canary_sub.recv_publish();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    taker.join().expect("taker");
    crate::broker_util::sys_value_reaches(b.port, "$SYS/broker/publish/messages/dropped", |v| {
        v.parse::<u64>().is_ok_and(|n| n > 0)
    });
}

#[test]
fn out_of_descriptors_new_clients_are_closed_at_once() {
    let b = crate::harness::Broker::mq_with_nofile(64, "");
    // Idle clients until the broker has no descriptor left.
    let mut held = Vec::new();
    loop {
        let mut c = Raw::open(b.port);
        c.send(&Connect::v311(&format!("fd-{}", held.len())).bytes());
        match c.next(Duration::from_secs(3)) {
            crate::broker_util::Next::Packet(Packet::ConnAck(_)) => held.push(c),
            crate::broker_util::Next::Closed => break,
            other => panic!("client {} after CONNECT: {other:?} (it hangs)", held.len()),
        }
        assert!(held.len() < 64, "the limit never bit");
    }
    // Every further client is closed at once, not left hanging; the log says so once.
    for i in 0..20 {
        let mut c = Raw::open(b.port);
        let _ = c.try_send(&Connect::v311(&format!("fd-more-{i}")).bytes());
        c.expect_closed_within(Duration::from_secs(3));
    }
    let log = b.wait_log("Unable to accept new connection");
    assert_eq!(log.matches("Unable to accept new connection").count(), 1, "{log}");
    // Descriptors freed: clients are served again.
    held.truncate(held.len() - 4);
    let deadline = std::time::Instant::now() + crate::broker_util::WAIT;
    loop {
        let mut c = Raw::open(b.port);
        c.send(&Connect::v311("fd-again").bytes());
        if let crate::broker_util::Next::Packet(Packet::ConnAck(a)) = c.next(Duration::from_secs(3)) {
            assert_eq!(a.code, 0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never served again");
    }
}

#[test]
fn a_log_nobody_reads_never_stalls_the_broker() {
    // Every packet is logged to stderr, and nobody reads that pipe: once it is full, writing a line
    // would block. Lines are written by a thread of their own; routing goes on, lines are dropped.
    let dir = tempfile::tempdir().expect("tempdir");
    let port = crate::harness::free_port();
    let conf = dir.path().join("broker.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_type all\n")).expect("conf");
    let mut child = crate::harness::mq("mq")
        .arg("broker")
        .arg("-c")
        .arg(&conf)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let _unread = child.stderr.take();
    let deadline = std::time::Instant::now() + crate::broker_util::WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut sub = Raw::v311(port, "unread-log-sub");
    sub.subscribe(1, &[("log/t", 1)]);
    let mut p = Raw::v311(port, "unread-log-pub");
    // Each message makes a few log lines of ~100 bytes: far more than a pipe holds.
    for i in 1..=3_000u16 {
        p.publish(&Pub::new("log/t", "x").qos(1, i));
        sub.recv_publish_ack();
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_qos0_subscriber_that_stops_reading_does_not_hold_publishers_back() {
    // QoS 0 is paced for subscribers that keep reading; one that stops is judged stalled within moments
    // and its overflow dropped, so the publisher and the other subscribers go on at full pace.
    let b = broker("sys_interval 1");
    let mut stuck = Raw::v311(b.port, "stuck-qos0");
    stuck.subscribe(1, &[("flood/t", 0)]);
    let mut reader = Raw::v311(b.port, "reader-qos0");
    reader.subscribe(1, &[("flood/t", 0)]);
    let port = b.port;
    // 40 MiB: far more than the stuck subscriber's socket buffers and queue hold.
    let n = 40_000usize;
    let publisher = std::thread::spawn(move || {
        let mut p = Raw::v311(port, "flood-pub");
        let payload = "x".repeat(1024);
        let start = std::time::Instant::now();
        for chunk in 0..n / 1000 {
            let mut bytes = Vec::new();
            for _ in 0..1000 {
                bytes.extend(Pub::new("flood/t", payload.as_str()).v3());
            }
            p.send(&bytes);
            if chunk % 10 == 9 {
                let ping = std::time::Instant::now();
                p.ping();
                assert!(ping.elapsed() < Duration::from_secs(1), "PINGRESP took {:?}", ping.elapsed());
            }
        }
        start.elapsed()
    });
    for _ in 0..n {
        reader.recv_publish();
    }
    let took = publisher.join().expect("publisher");
    assert!(took < crate::broker_util::WAIT, "{n} messages took {took:?}");
    crate::broker_util::sys_value_reaches(b.port, "$SYS/broker/publish/messages/dropped", |v| {
        v.parse::<u64>().is_ok_and(|n| n > 0)
    });
    drop(stuck);
}
