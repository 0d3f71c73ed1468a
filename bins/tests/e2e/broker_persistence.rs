//! `mq broker` with `persistence true`: what it acknowledged survives `kill -9` (retained messages,
//! persistent sessions with their subscriptions and queued messages, QoS 2 exchanges in both
//! directions, delayed wills, expiry counting on), and a damaged store is recovered up to its last
//! good record.

use std::path::Path;
use std::time::{Duration, Instant};

use mq_proto::Packet;

use crate::broker_util::wire::{self, Connect, Pub};
use crate::broker_util::{Next, Raw, WAIT, tp};
use crate::harness::Broker;

/// A broker keeping its store in `dir` (writable by the user it runs as once started as root).
fn persistent(dir: &Path, extra: &str) -> Broker {
    persistent_env(dir, extra, &[])
}

/// [`persistent`] with a test knob: `MQ_TEST_STORE_WRITE_DELAY_MS` makes the store wait before each write,
/// so anything sent before its change is written would be seen.
fn persistent_env(dir: &Path, extra: &str, env: &[(&str, &str)]) -> Broker {
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let store = dir.display().to_string();
    let extra = extra.to_owned();
    Broker::mq_conf_env(
        move |port| {
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {store}\n{extra}\n"
            )
        },
        env,
    )
}

/// Kills the broker without a chance to do anything (SIGKILL).
fn kill(b: &mut Broker) {
    b.signal("KILL");
    b.wait_exit();
}

/// The store directory the broker made in `dir` (`<persistence_file>.mq`).
fn store_dir(dir: &Path) -> std::path::PathBuf {
    let store = std::fs::read_dir(dir).expect("dir").find_map(|e| {
        let p = e.ok()?.path();
        p.extension().is_some_and(|x| x == "mq").then_some(p)
    });
    store.expect("the store directory")
}

/// The newest journal segment of one part of the store (`sessions` or `retained`).
fn newest_journal(part: &Path) -> std::path::PathBuf {
    std::fs::read_dir(part)
        .expect("store")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("journal-")))
        .max()
        .expect("a journal")
}

/// Appends a torn record to a journal, as a write cut short by a crash leaves it.
fn tear(journal: &Path) {
    let mut raw = std::fs::read(journal).expect("read");
    raw.extend_from_slice(&[0x40, 0, 0, 0, 1, 2, 3, 4, 9, 9]);
    std::fs::write(journal, &raw).expect("write");
}

fn keeper(port: u16, id: &str) -> (Raw, bool) {
    let (r, ack) = Raw::connect(port, &Connect::v311(id).clean(false));
    (r, ack.session_present)
}

#[test]
fn what_was_acknowledged_survives_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = persistent(dir.path(), "");
    let (mut s, present) = keeper(b.port, "keep-sub");
    assert!(!present);
    s.subscribe(1, &[("p/#", 1), ("q2/#", 2)]);
    s.drop_connection();
    let mut p = Raw::v311(b.port, "keep-pub");
    for i in 1..=10u16 {
        p.publish(&Pub::new("p/t", format!("m{i}")).qos(1, i));
    }
    p.publish(&Pub::new("q2/t", "exactly once").qos(2, 11));
    p.publish(&Pub::new("r/x", "retained").qos(1, 12).retain());
    kill(&mut b);

    let b = persistent(dir.path(), "");
    b.wait_log("Restored 1 sessions");
    let (mut s, present) = keeper(b.port, "keep-sub");
    assert!(present, "the session is back");
    let mut got: Vec<(String, String)> = (0..11).map(|_| tp(&s.recv_publish_ack())).collect();
    let last = got.pop().expect("eleven");
    assert_eq!(last, ("q2/t".into(), "exactly once".into()));
    assert_eq!(got, (1..=10).map(|i| ("p/t".to_string(), format!("m{i}"))).collect::<Vec<_>>());
    s.ping();
    s.expect_silence();
    let mut late = Raw::v311(b.port, "late");
    late.subscribe(1, &[("r/#", 1)]);
    assert_eq!(tp(&late.recv_publish_ack()), ("r/x".into(), "retained".into()));
}

#[test]
fn a_kill_under_load_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = persistent_env(
        dir.path(),
        "persistence_fsync never\nmax_queued_messages 0",
        &[("MQ_TEST_STORE_WRITE_DELAY_MS", "20")],
    );
    let (mut s, _) = keeper(b.port, "load-sub");
    s.subscribe(1, &[("load/#", 1)]);
    s.drop_connection();
    // A publisher writes QoS 1 messages back to back; the broker is killed at some point.
    let port = b.port;
    let publisher = std::thread::spawn(move || {
        let mut p = Raw::v311(port, "load-pub");
        let mut acked = Vec::new();
        let mut bytes = Vec::new();
        for i in 1..=20_000u32 {
            let pid = (i % 60_000) as u16 + 1;
            bytes.clear();
            bytes.extend(Pub::new("load/t", i.to_be_bytes()).qos(1, pid).v3());
            if !p.try_send(&bytes) {
                break;
            }
            match p.next(Duration::from_secs(5)) {
                Next::Packet(Packet::PubAck(_)) => acked.push(i),
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(500));
    kill(&mut b);
    let acked = publisher.join().expect("publisher");
    // Each write waits 20 ms (the test knob), so a dozen or so are acknowledged before the kill.
    assert!(acked.len() >= 5, "the load did not run ({} acknowledged)", acked.len());

    let b = persistent(dir.path(), "max_queued_messages 0");
    let (mut s, present) = keeper(b.port, "load-sub");
    assert!(present);
    let mut received = std::collections::HashSet::new();
    let deadline = Instant::now() + WAIT;
    // Every acknowledged message comes (others may too), each exactly once for QoS 1 here.
    while acked.iter().any(|i| !received.contains(i)) {
        assert!(Instant::now() < deadline, "{} of {} acknowledged messages came", received.len(), acked.len());
        let m = s.recv_publish_ack();
        received.insert(u32::from_be_bytes(m.payload[..4].try_into().expect("4 bytes")));
    }
}

#[test]
fn qos2_exchanges_complete_exactly_once_across_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = persistent(dir.path(), "");
    let (mut s, _) = keeper(b.port, "q2-sub");
    s.subscribe(1, &[("q2/#", 2)]);
    // The publisher has its PUBREC, then the broker dies before PUBREL.
    let (mut p, _) = Raw::connect(b.port, &Connect::v311("q2-pub").clean(false));
    p.send(&Pub::new("q2/a", "once").qos(2, 7).v3());
    assert!(matches!(p.recv(), Packet::PubRec(a) if a.packet_id.get() == 7));
    // The subscriber has the message and sent PUBREC, but not PUBCOMP yet.
    let m = s.recv_publish();
    let pid = m.packet_id.expect("QoS 2").get();
    s.send(&wire::pubrec(pid));
    assert!(matches!(s.recv(), Packet::PubRel(a) if a.packet_id.get() == pid));
    kill(&mut b);

    let b = persistent(dir.path(), "");
    // The publisher resends: its PUBLISH is known (no second copy), then PUBREL.
    let (mut p, ack) = Raw::connect(b.port, &Connect::v311("q2-pub").clean(false));
    assert!(ack.session_present);
    p.send(&Pub::new("q2/a", "once").qos(2, 7).dup().v3());
    assert!(matches!(p.recv(), Packet::PubRec(a) if a.packet_id.get() == 7));
    p.send(&wire::pubrel(7));
    assert!(matches!(p.recv(), Packet::PubComp(a) if a.packet_id.get() == 7));
    // The subscriber is sent the PUBREL again, never the message.
    let (mut s, present) = keeper(b.port, "q2-sub");
    assert!(present);
    assert!(matches!(s.recv(), Packet::PubRel(a) if a.packet_id.get() == pid), "PUBREL resent");
    s.send(&wire::pubcomp(pid));
    s.ping();
    s.expect_silence();
}

#[test]
fn session_expiry_and_delayed_wills_count_on_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = persistent(dir.path(), "");
    let mut watcher = Raw::connect(b.port, &Connect::v5("expiry-watch").clean(false).expiry(600)).0;
    watcher.subscribe(1, &[("will/#", 1)]);
    watcher.drop_connection();
    // A session that expires 2 s after its disconnect, with a will delayed 1 s.
    let will = wire::Will::new("will/w", "late").qos(1).prop(wire::prop::u32(wire::prop::WILL_DELAY, 1));
    let (c, _) = Raw::connect(b.port, &Connect::v5("expiring").clean(false).expiry(2).will(will));
    c.drop_connection();
    std::thread::sleep(Duration::from_millis(300));
    kill(&mut b);

    let b = persistent(dir.path(), "");
    let (mut watcher, ack) = Raw::connect(b.port, &Connect::v5("expiry-watch").clean(false).expiry(600));
    assert!(ack.session_present);
    // The delayed will is published by the restarted broker.
    assert_eq!(tp(&watcher.recv_publish_ack()), ("will/w".into(), "late".into()));
    // And the session is gone once its 2 s have passed (counted from the disconnect, before the kill).
    std::thread::sleep(Duration::from_millis(2_500));
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("expiring").clean(false).expiry(2));
    assert!(!ack.session_present);
}

#[test]
fn a_damaged_store_is_recovered_up_to_its_last_good_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = persistent(dir.path(), "");
    let (mut s, _) = keeper(b.port, "damage-sub");
    s.subscribe(1, &[("d/#", 1)]);
    s.drop_connection();
    let mut p = Raw::v311(b.port, "damage-pub");
    p.publish(&Pub::new("d/1", "kept").qos(1, 1));
    kill(&mut b);
    // A torn write after the last record.
    let sessions = store_dir(dir.path()).join("sessions");
    tear(&newest_journal(&sessions));

    let b = persistent(dir.path(), "");
    b.wait_log("is damaged at byte");
    let (mut s, present) = keeper(b.port, "damage-sub");
    assert!(present);
    assert_eq!(tp(&s.recv_publish_ack()), ("d/1".into(), "kept".into()));
    assert!(sessions.join("damaged").is_dir());
}

#[test]
fn retained_messages_come_back_while_the_broker_already_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = persistent(dir.path(), "");
    let mut p = Raw::v311(b.port, "ret-pub");
    let mut bytes = Vec::new();
    for i in 0..20_000 {
        bytes.extend(Pub::new(&format!("ret/{i}"), "stored").retain().v3());
    }
    bytes.extend(Pub::new("ret/changed", "old").retain().v3());
    bytes.extend(Pub::new("ret/cleared", "old").retain().v3());
    p.send(&bytes);
    p.ping();
    kill(&mut b);

    let b = persistent(dir.path(), "");
    // Set and cleared again as soon as the broker takes clients: the stored ones do not come back
    // over them; a subscriber gets every stored message besides.
    let mut p = Raw::v311(b.port, "ret-pub2");
    p.publish(&Pub::new("ret/changed", "new").qos(1, 1).retain());
    p.publish(&Pub::new("ret/cleared", "").qos(1, 2).retain());
    let mut s = Raw::v311(b.port, "ret-sub");
    s.subscribe(1, &[("ret/#", 0)]);
    let mut got = std::collections::HashMap::new();
    for _ in 0..20_001 {
        let (t, v) = tp(&s.recv_publish());
        got.insert(t, v);
    }
    assert_eq!(got.get("ret/changed").map(String::as_str), Some("new"));
    assert!(!got.contains_key("ret/cleared"));
    assert_eq!(got.values().filter(|v| *v == "stored").count(), 20_000);
    // Read back: the 20,002 stored (`$SYS` values are not stored).
    b.wait_log("Restored 20002 retained messages");
}

/// The store's files may not grow past 256 KiB (`prlimit --fsize`, as a full disk): QoS 1 messages
/// are refused (MQTT 5: PUBACK 0x97; 3.1.1: disconnected) while QoS 0 flows, the message whose write
/// failed is held unacknowledged, and once there is room again it is written and acknowledged.
/// Nothing acknowledged is lost across a kill.
#[test]
fn a_full_disk_refuses_what_cannot_be_stored_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let store = dir.path().display().to_string();
    let conf = move |port| {
        // `user root`: a test run as root can change the limit of a broker that kept its user.
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {store}\nuser root\n"
        )
    };
    // A soft limit only: raising it back needs no privilege.
    let mut b = Broker::mq_limited(conf.clone(), "--fsize=262144:unlimited");
    let (mut s, _) = keeper(b.port, "full-sub");
    s.subscribe(1, &[("f/#", 1)]);
    s.drop_connection();

    let mut p = Raw::v5(b.port, "full-pub");
    let body = |i: u16| format!("{i:05}{}", "x".repeat(8000));
    let mut acked = Vec::new();
    let mut held = None;
    for i in 1..=100u16 {
        p.send(&Pub::new("f/t", body(i)).qos(1, i).v5());
        match p.next(Duration::from_secs(3)) {
            Next::Packet(Packet::PubAck(a)) => {
                assert_eq!((a.packet_id.get(), a.reason.0), (i, 0), "accepted while there is room");
                acked.push(i);
            }
            Next::Timeout => {
                held = Some(i);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let held = held.expect("the store filled up");
    assert!(acked.len() > 5, "room for a few messages first: {acked:?}");
    b.wait_log("Unable to write to the store");

    // Refused while full: MQTT 5 hears why, 3.1.1 is disconnected; QoS 0 still flows. (On the first
    // connection acknowledgements keep their order: its next one waits for the held message's.)
    let mut other = Raw::v5(b.port, "full-pub2");
    assert_eq!(other.publish(&Pub::new("f/t", "refused").qos(1, 500)), 0x97);
    let mut old = Raw::v311(b.port, "full-v3");
    old.send(&Pub::new("f/t", "refused").qos(1, 1).v3());
    old.expect_closed();
    let mut live = Raw::v311(b.port, "full-live");
    live.subscribe(1, &[("z", 0)]);
    other.publish(&Pub::new("z", "still flowing"));
    assert_eq!(tp(&live.recv_publish()), ("z".into(), "still flowing".into()));

    // Room again: the held message is written and acknowledged, new ones are accepted.
    let st = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", b.pid()))
        .arg("--fsize=unlimited:unlimited")
        .output()
        .expect("prlimit");
    assert!(st.status.success(), "prlimit: {}", String::from_utf8_lossy(&st.stderr));
    match p.next(WAIT) {
        Next::Packet(Packet::PubAck(a)) => assert_eq!((a.packet_id.get(), a.reason.0), (held, 0)),
        other => panic!("expected the held message's PUBACK, got {other:?}"),
    }
    b.wait_log("Writing to the store works again.");
    assert_eq!(p.publish(&Pub::new("f/t", body(600)).qos(1, 600)), 0);
    kill(&mut b);

    let b = Broker::mq_limited(conf, "--fsize=unlimited");
    b.wait_log("Restored 1 sessions");
    let (mut s, present) = keeper(b.port, "full-sub");
    assert!(present);
    let want: Vec<u16> = acked.iter().copied().chain([held, 600]).collect();
    let got: Vec<u16> = (0..want.len()).map(|_| tp(&s.recv_publish_ack()).1[..5].parse().expect("numbered")).collect();
    assert_eq!(got, want);
    s.ping();
    s.expect_silence();
}

/// Runs `mq db <action> --store <store>`: (exit code, stdout, stderr).
fn db(action: &str, store: &Path) -> (i32, String, String) {
    let out = crate::harness::mq("mq").args(["db", action, "--store"]).arg(store).output().expect("mq db");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn mq_db_shows_checks_dumps_and_compacts_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = persistent(dir.path(), "");
    let (mut s, _) = keeper(b.port, "db-sub");
    s.subscribe(1, &[("d/#", 1)]);
    s.drop_connection();
    // Offline before the messages come, or one of them could already be in flight to it.
    b.wait_log("Client db-sub closed its connection.");
    let mut p = Raw::v311(b.port, "db-pub");
    for i in 1..=3u16 {
        p.publish(&Pub::new("d/t", format!("q{i}")).qos(1, i));
    }
    p.publish(&Pub::new("r/a", "kept").qos(1, 4).retain());
    let store = store_dir(dir.path());

    // Read beside the running broker.
    let (code, out, _) = db("stats", &store);
    assert_eq!(code, 0);
    for want in ["sessions: 1\n", "subscriptions: 1\n", "queued messages: 3\n", "retained messages: 1 ("] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    let (code, out, _) = db("dump", &store);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines[0]["type"], "retained");
    assert_eq!((&lines[0]["topic"], &lines[0]["payload"]), (&"r/a".into(), &"kept".into()));
    assert_eq!((&lines[1]["type"], &lines[1]["client"]), (&"session".into(), &"db-sub".into()));
    assert_eq!(lines[1]["subscriptions"][0]["filter"], "d/#");
    let queued: Vec<&str> = lines[2..].iter().map(|l| l["payload"].as_str().expect("text")).collect();
    assert_eq!(queued, ["q1", "q2", "q3"]);
    // Compacting needs the store to itself.
    let (code, _, err) = db("compact", &store);
    assert_eq!(code, 1, "compacting under a running broker: {err}");
    kill(&mut b);

    let (code, out, err) = db("compact", &store);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sessions: ") && out.contains("retained: "), "{out}");
    let (code, out, _) = db("check", &store);
    assert_eq!(code, 0);
    assert!(out.contains("sessions: ok") && out.contains("retained: ok"), "{out}");

    // The compacted store serves the same state.
    let mut b = persistent(dir.path(), "");
    let (mut s, present) = keeper(b.port, "db-sub");
    assert!(present);
    let got: Vec<String> = (0..3).map(|_| tp(&s.recv_publish_ack()).1).collect();
    assert_eq!(got, ["q1", "q2", "q3"]);
    let mut late = Raw::v311(b.port, "db-late");
    late.subscribe(1, &[("r/#", 1)]);
    assert_eq!(tp(&late.recv_publish_ack()), ("r/a".into(), "kept".into()));
    kill(&mut b);

    // Damage is reported with where it is, and the exit status says so.
    tear(&newest_journal(&store.join("retained")));
    let (code, out, err) = db("check", &store);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("retained: ") && out.contains("is damaged at byte"), "{out}");
    assert!(err.contains("the store is damaged"), "{err}");
    // Neither a missing nor a wrong store is taken for an empty one.
    let (code, _, err) = db("stats", dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("is not a store directory"), "{err}");
}

#[test]
fn a_mosquitto_store_in_the_same_place_is_named_with_how_to_import_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mosquitto.db"), b"\0\xb5\x00mosquitto db").expect("write");
    let mut b = persistent(dir.path(), "");
    b.wait_log("mosquitto.db is Mosquitto's store, which the broker does not read");
    let (store, db) = (dir.path().join("mosquitto.db.mq"), dir.path().join("mosquitto.db"));
    b.wait_log(&format!("`mq db import --store {} {}`", store.display(), db.display()));
    kill(&mut b);
    // Once mq has a store of its own, the file beside it is no news.
    let b = persistent(dir.path(), "");
    b.wait_log("Restored 0 sessions");
    assert!(!b.log().contains("Mosquitto's store"), "{}", b.log());
}

#[test]
fn a_qos1_delivery_does_not_wait_for_the_store_but_its_puback_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = persistent_env(dir.path(), "", &[("MQ_TEST_STORE_WRITE_DELAY_MS", "700")]);
    let (mut s, _) = keeper(b.port, "fast-sub");
    s.subscribe(1, &[("fast/#", 1)]);
    let mut p = Raw::v311(b.port, "fast-pub");
    p.send(&Pub::new("fast/t", "now").qos(1, 7).v3());
    // The subscriber has it while the store still holds the publisher's acknowledgement back (a crash
    // now would bring a QoS 1 message again, which QoS 1 allows; losing it would not be allowed).
    assert_eq!(tp(&s.recv_publish_ack()), ("fast/t".into(), "now".into()));
    // Nor does the next delivery wait for the subscriber's PUBACK to be written.
    p.send(&Pub::new("fast/t", "next").qos(1, 8).v3());
    assert_eq!(tp(&s.recv_publish_ack()), ("fast/t".into(), "next".into()));
    assert!(matches!(p.next(Duration::from_millis(50)), Next::Timeout), "PUBACK before the store wrote");
    for want in [7, 8] {
        match p.next(WAIT) {
            Next::Packet(Packet::PubAck(a)) => assert_eq!(a.packet_id.get(), want),
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }
}

/// What a publisher of the crash test had acknowledged, by payload: QoS 1 at PUBACK, QoS 2 at PUBREC.
fn crash_publisher(port: u16, v5: bool, tag: String) -> Vec<(String, u8)> {
    let id = format!("crash-pub-{tag}");
    let mut p = if v5 { Raw::v5(port, &id) } else { Raw::v311(port, &id) };
    let mut acked = Vec::new();
    for i in 0..60_000u32 {
        let qos = 1 + (i % 2) as u8;
        let pid = (i % 65_000) as u16 + 1;
        let payload = format!("{tag}-{i}");
        let m = Pub::new("c/t", payload.clone()).qos(qos, pid);
        if !p.try_send(&if v5 { m.v5() } else { m.v3() }) {
            break;
        }
        match p.next(Duration::from_secs(5)) {
            Next::Packet(Packet::PubAck(_)) => acked.push((payload, 1)),
            Next::Packet(Packet::PubRec(_)) => {
                acked.push((payload, 2));
                if !p.try_send(&wire::pubrel(pid)) || !matches!(p.next(Duration::from_secs(5)), Next::Packet(_)) {
                    break;
                }
            }
            _ => break,
        }
    }
    acked
}

/// A persistent MQTT 5 subscriber that keeps its side of QoS 2 across reconnects, as a client must for
/// exactly once: a PUBLISH whose packet id waits for PUBREL is the same message again.
struct CrashSub {
    got: std::collections::HashMap<String, u32>,
    awaiting_rel: std::collections::HashSet<u16>,
}

impl CrashSub {
    /// Reads until the connection closes (`until` is None) or every payload of `until` has come.
    fn read(&mut self, s: &mut Raw, until: Option<&[(String, u8)]>) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(want) = until {
                if want.iter().all(|(p, _)| self.got.contains_key(p)) {
                    return;
                }
                let missing = want.iter().filter(|(p, _)| !self.got.contains_key(p)).count();
                assert!(Instant::now() < deadline, "{missing} acknowledged messages never came");
            }
            match s.next(Duration::from_millis(200)) {
                Next::Packet(Packet::Publish(m)) => {
                    let pid = m.packet_id.map(|p| p.get());
                    let payload = String::from_utf8_lossy(&m.payload).into_owned();
                    match (m.qos, pid) {
                        (mq_proto::QoS::ExactlyOnce, Some(pid)) => {
                            if self.awaiting_rel.insert(pid) {
                                *self.got.entry(payload).or_default() += 1;
                            }
                            let _ = s.try_send(&wire::pubrec(pid));
                        }
                        (_, Some(pid)) => {
                            *self.got.entry(payload).or_default() += 1;
                            let _ = s.try_send(&wire::puback(pid));
                        }
                        _ => {}
                    }
                }
                Next::Packet(Packet::PubRel(r)) => {
                    self.awaiting_rel.remove(&r.packet_id.get());
                    let _ = s.try_send(&wire::pubcomp(r.packet_id.get()));
                }
                Next::Packet(_) | Next::Timeout => {}
                Next::Closed => {
                    assert!(until.is_none(), "the restarted broker closed the subscriber");
                    return;
                }
            }
        }
    }
}

/// `kill -9` at a random moment while MQTT 3.1.1 and 5 publishers send QoS 1 and 2 messages to a
/// connected persistent subscriber: after the restart every acknowledged message arrives (before the
/// kill or after), and no QoS 2 message arrives twice. `MQ_CRASH_ROUNDS` rounds (default 2;
/// `bench/crash-loop.sh` runs many).
#[test]
fn a_kill_at_a_random_moment_loses_nothing_acknowledged_and_repeats_no_qos2_message() {
    let rounds: u32 = std::env::var("MQ_CRASH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    for round in 0..rounds {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = persistent(dir.path(), "max_queued_messages 0");
        let connect = Connect::v5("crash-sub").clean(false).expiry(u32::MAX);
        let (mut s, _) = Raw::connect(b.port, &connect);
        s.subscribe(1, &[("c/#", 2)]);
        let port = b.port;
        let reader = std::thread::spawn(move || {
            let mut sub = CrashSub { got: Default::default(), awaiting_rel: Default::default() };
            sub.read(&mut s, None);
            sub
        });
        let pubs: Vec<_> = [(false, "v3"), (true, "v5")]
            .into_iter()
            .map(|(v5, tag)| std::thread::spawn(move || crash_publisher(port, v5, format!("{round}-{tag}"))))
            .collect();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").subsec_nanos();
        std::thread::sleep(Duration::from_millis(50 + u64::from(nanos % 400)));
        kill(&mut b);
        let acked: Vec<(String, u8)> = pubs.into_iter().flat_map(|p| p.join().expect("publisher")).collect();
        let mut sub = reader.join().expect("subscriber");
        assert!(!acked.is_empty(), "round {round}: nothing was acknowledged before the kill");

        let b = persistent(dir.path(), "max_queued_messages 0");
        let (mut s, ack) = Raw::connect(b.port, &connect);
        assert!(ack.session_present, "round {round}: the subscriber's session is back");
        sub.read(&mut s, Some(&acked));
        for (payload, n) in &sub.got {
            let qos2 = payload.rsplit('-').next().and_then(|i| i.parse::<u32>().ok()).is_some_and(|i| i % 2 == 1);
            assert!(!qos2 || *n == 1, "round {round}: QoS 2 message {payload} arrived {n} times");
        }
        eprintln!("round {round}: {} acknowledged, {} received", acked.len(), sub.got.len());
    }
}
