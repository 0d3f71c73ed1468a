//! `mq db import`: the real Mosquitto saves its state at SIGTERM (retained messages, persistent
//! sessions with queued, in-flight and half-received QoS 2 messages), `mq db import` copies the file
//! into mq's store, and `mq broker` on that store gives it all back. Also: a file that is not
//! Mosquitto's, a truncated one, and every cut and bit flip of the real file read without a panic.

use std::path::Path;
use std::time::{Duration, Instant};

use mq_proto::{Packet, QoS};

use crate::broker_util::wire::{self, Connect, Pub, prop};
use crate::broker_util::{Raw, tp};
use crate::harness::Broker;

/// Runs `mq db import` with `args`: (exit code, stdout, stderr).
fn import(args: &[&str]) -> (i32, String, String) {
    let out = crate::harness::mq("mq").arg("db").arg("import").args(args).output().expect("mq db import");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn keeper(port: u16, c: Connect) -> (Raw, bool) {
    let (r, ack) = Raw::connect(port, &c.clean(false));
    (r, ack.session_present)
}

/// Makes Mosquitto, persisting into `dir`, hold every kind of state its file can carry, and stops it
/// with SIGTERM so it saves. `None` when Mosquitto is not installed.
fn mosquitto_state(dir: &Path) -> Option<()> {
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let loc = dir.display().to_string();
    let mut m = Broker::mosquitto_conf(move |port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {loc}/\n")
    })?;
    let port = m.port;
    // Retained: one that will have expired by the import, text, binary with MQTT 5 properties.
    let mut p = Raw::v5(port, "pub5");
    p.publish(&Pub::new("r/gone", "old").retain().prop(prop::u32(prop::MESSAGE_EXPIRY, 1)));
    let expiring_since = Instant::now();
    let mut p3 = Raw::v311(port, "pub3");
    p3.publish(&Pub::new("r/text", "hello").qos(1, 1).retain());
    p.publish(
        &Pub::new("r/bin", [0u8, 1, 0xff, 0xfe, 0x80])
            .qos(1, 2)
            .retain()
            .prop(prop::u32(prop::MESSAGE_EXPIRY, 3600))
            .prop(prop::user("a", "b"))
            .prop(prop::string(prop::CONTENT_TYPE, "application/x-test")),
    );
    // A 3.1.1 session with two subscriptions and messages queued while it is away.
    let (mut k, _) = keeper(port, Connect::v311("keeper"));
    k.subscribe(1, &[("q/#", 1), ("x/+", 2)]);
    k.drop_connection();
    // An MQTT 5 session with an expiry, a subscription identifier, No Local and Retain As Published.
    let (mut v, _) = keeper(port, Connect::v5("v5keeper").expiry(3600));
    v.send(&wire::subscribe(1, &[("v/#", 2 | 4 | 8)], Some(&[prop::var(prop::SUBSCRIPTION_ID, 7)])));
    v.suback();
    v.drop_connection();
    for i in 1..=3u16 {
        p3.publish(&Pub::new("q/t", format!("m{i}")).qos(1, 10 + i));
    }
    p3.publish(&Pub::new("x/y", "x2").qos(2, 20));
    p.publish(&Pub::new("v/t", "v5msg").qos(2, 21).prop(prop::user("k", "v")));
    // Messages in flight to a session: a PUBLISH not acknowledged (QoS 1 and 2), a PUBREL not
    // completed.
    let (mut f, _) = keeper(port, Connect::v311("inflight"));
    f.subscribe(1, &[("i/#", 2)]);
    p3.publish(&Pub::new("i/1", "one").qos(1, 31));
    p3.publish(&Pub::new("i/2", "two").qos(2, 32));
    p3.publish(&Pub::new("i/3", "three").qos(2, 33));
    let one = f.recv_publish();
    let two = f.recv_publish();
    let three = f.recv_publish();
    assert_eq!([tp(&one).1, tp(&two).1, tp(&three).1], ["one", "two", "three"]);
    let two_pid = two.packet_id.expect("QoS 2").get();
    f.send(&wire::pubrec(two_pid));
    assert!(matches!(f.recv(), Packet::PubRel(a) if a.packet_id.get() == two_pid));
    f.drop_connection();
    // A QoS 2 message received (PUBREC sent) whose PUBREL never came.
    let (mut h, _) = keeper(port, Connect::v311("halfpub"));
    h.send(&Pub::new("i/4", "four").qos(2, 42).retain().v3());
    assert!(matches!(h.recv(), Packet::PubRec(a) if a.packet_id.get() == 42));
    h.drop_connection();
    // A session that ends at disconnect, connected when Mosquitto stops.
    let (_short, _) = keeper(port, Connect::v5("short"));
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(expiring_since.elapsed()));
    m.signal("TERM");
    m.wait_exit();
    assert!(m.log().contains("Saving in-memory database"), "{}", m.log());
    // Kept for the record: the packet ids Mosquitto gave.
    std::fs::write(
        dir.join("pids"),
        format!("{} {two_pid} {}", one.packet_id.expect("QoS 1").get(), three.packet_id.expect("QoS 2").get()),
    )
    .expect("write");
    Some(())
}

#[test]
fn a_mosquitto_store_is_imported_and_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    if mosquitto_state(dir.path()).is_none() {
        return;
    }
    let db = dir.path().join("mosquitto.db");
    let loc = dir.path().display().to_string();
    let conf = move |port: u16| {
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {loc}\n")
    };
    let conf_path = dir.path().join("mq.conf");
    std::fs::write(&conf_path, conf(1883)).expect("write");
    // With -c, the file is the one the configuration names (mosquitto.db beside the store).
    let (code, out, err) = import(&["-c", conf_path.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 3 retained messages, 4 sessions, 6 queued messages"), "{out}{err}");
    for want in [
        "4 subscriptions",
        "2 messages in flight",
        "1 QoS 2 exchanges waiting for PUBCOMP",
        "1 QoS 2 messages received and waiting for PUBREL (1 deliveries queued for them)",
        "1 expired messages",
        "1 sessions that end at disconnect",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    assert!(err.is_empty(), "{err}");
    // A second import would mix two states: refused.
    let (code, _, err) = import(&["-c", conf_path.to_str().expect("utf-8"), db.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(err.contains("holds state already") && err.contains("--merge"), "{err}");

    let b = Broker::mq_conf(conf);
    b.wait_log("Restored 4 sessions (4 subscriptions, 6 queued messages)");
    assert!(!b.log().contains("Mosquitto's store"), "{}", b.log());
    // Retained messages, with their properties, to a new subscriber (the expired one is gone; the
    // half-received one was retained as Mosquitto would on PUBREL).
    let mut s = Raw::v5(b.port, "late");
    s.subscribe(1, &[("r/#", 1), ("i/#", 0)]);
    let mut got: Vec<_> = (0..3).map(|_| s.recv_publish_ack()).collect();
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    assert_eq!(
        got.iter().map(|p| (&*p.topic, p.retain)).collect::<Vec<_>>(),
        [("i/4", true), ("r/bin", true), ("r/text", true)]
    );
    assert_eq!((&got[0].payload[..], &got[2].payload[..]), (&b"four"[..], &b"hello"[..]));
    let bin = &got[1];
    assert_eq!((&bin.payload[..], bin.qos), (&[0u8, 1, 0xff, 0xfe, 0x80][..], QoS::AtLeastOnce));
    assert_eq!(bin.properties.user_properties, [("a".to_owned(), "b".to_owned())]);
    assert_eq!(bin.properties.content_type.as_deref(), Some("application/x-test"));
    assert!(bin.properties.message_expiry_interval.is_some_and(|e| e > 3000 && e <= 3600), "{bin:?}");
    s.ping();
    s.expect_silence();

    // The 3.1.1 session with its queued messages, in order.
    let (mut k, present) = keeper(b.port, Connect::v311("keeper"));
    assert!(present);
    let got: Vec<_> = (0..4).map(|_| k.recv_publish_ack()).map(|p| (tp(&p), p.qos)).collect();
    let want = [("q/t", "m1", 1), ("q/t", "m2", 1), ("q/t", "m3", 1), ("x/y", "x2", 2)];
    let want: Vec<_> =
        want.iter().map(|(t, m, q)| (((*t).into(), (*m).into()), QoS::from_u8(*q).expect("qos"))).collect();
    assert_eq!(got, want);
    k.ping();
    k.expect_silence();

    // The MQTT 5 session: its message with the subscription identifier and the publisher's properties.
    let (mut v, present) = keeper(b.port, Connect::v5("v5keeper").expiry(3600));
    assert!(present);
    let m = v.recv_publish_ack();
    assert_eq!((tp(&m), m.qos), (("v/t".into(), "v5msg".into()), QoS::ExactlyOnce));
    assert_eq!(m.properties.subscription_identifiers, [7]);
    assert_eq!(m.properties.user_properties, [("k".to_owned(), "v".to_owned())]);
    // No Local was kept: its own message does not come back.
    v.publish(&Pub::new("v/own", "mine").qos(1, 1));
    v.ping();
    v.expect_silence();

    // In flight: both PUBLISHes again with their packet ids, the PUBREL again, then the message routed
    // from the half-received QoS 2 exchange.
    let pids = std::fs::read_to_string(dir.path().join("pids")).expect("pids");
    let pids: Vec<u16> = pids.split(' ').map(|p| p.parse().expect("pid")).collect();
    let (mut f, present) = keeper(b.port, Connect::v311("inflight"));
    assert!(present);
    let mut publishes = Vec::new();
    let mut pubrels = Vec::new();
    for _ in 0..4 {
        match f.recv() {
            Packet::Publish(p) => publishes.push(p),
            Packet::PubRel(a) => pubrels.push(a.packet_id.get()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pubrels, [pids[1]]);
    let seen: Vec<_> = publishes.iter().map(|p| (tp(p).1, p.qos, p.packet_id.map(|i| i.get()))).collect();
    assert_eq!(
        &seen[..2],
        [("one".into(), QoS::AtLeastOnce, Some(pids[0])), ("three".into(), QoS::ExactlyOnce, Some(pids[2]))]
    );
    assert_eq!((seen[2].0.as_str(), seen[2].1), ("four", QoS::ExactlyOnce));
    f.send(&wire::pubcomp(pids[1]));
    for p in &publishes {
        f.ack(p);
    }
    f.ping();
    f.expect_silence();

    // The publisher's PUBREL completes its exchange; the message is not delivered a second time.
    let (mut h, present) = keeper(b.port, Connect::v311("halfpub"));
    assert!(present);
    h.send(&wire::pubrel(42));
    assert!(matches!(h.recv(), Packet::PubComp(a) if a.packet_id.get() == 42));
    f.expect_silence();

    // The session that ended at disconnect is not there.
    let (_short, present) = keeper(b.port, Connect::v5("short"));
    assert!(!present);

    // Every cut and every flipped bit of the real file is read without a panic, and a cut keeps what
    // came before it.
    let data = std::fs::read(&db).expect("read");
    fuzz(&data);
}

/// Counts the records [`mq_broker::db::import::plan`] hands over.
#[derive(Default)]
struct Count(usize, usize);

impl mq_broker::db::import::Sink for Count {
    fn session(&mut self, _: mq_broker::db::import::Record) {
        self.0 += 1;
    }
    fn retained(&mut self, _: mq_broker::db::import::Record) {
        self.1 += 1;
    }
}

fn fuzz(data: &[u8]) {
    use mq_broker::db::import::{Options, plan};
    let opts = Options { now_ms: 0, keep_source: true, first_id: 1, existing: None };
    let whole = plan(data, &opts, &mut Count::default()).expect("the whole file").sessions;
    let mut before = 0;
    for cut in 0..=data.len() {
        if let Ok(r) = plan(&data[..cut], &opts, &mut Count::default()) {
            assert!(before <= r.sessions && r.sessions <= whole, "cut at {cut}: {r:?}");
            before = r.sessions;
        }
    }
    assert_eq!(before, whole);
    let mut flipped = data.to_vec();
    for i in 0..flipped.len() * 8 {
        flipped[i / 8] ^= 1 << (i % 8);
        let _ = plan(&flipped, &opts, &mut Count::default());
        flipped[i / 8] ^= 1 << (i % 8);
    }
}

#[test]
fn a_file_that_is_not_mosquittos_or_is_cut_short() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let store_arg = store.to_str().expect("utf-8");
    let not = dir.path().join("not.db");
    std::fs::write(&not, b"SQLite format 3\0 and more").expect("write");
    let (code, _, err) = import(&["--store", store_arg, not.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(err.contains("not a Mosquitto persistence file"), "{err}");
    assert!(!store.exists(), "nothing is written for a file that is not Mosquitto's");
    let (code, _, err) = import(&["--store", store_arg, dir.path().join("missing.db").to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    assert!(err.contains("unable to read"), "{err}");

    // A file Mosquitto wrote, its last chunk (a retained message's) cut short: what came before is
    // imported, the cut is reported where it is.
    let src = tempfile::tempdir().expect("tempdir");
    if mosquitto_state(src.path()).is_none() {
        return;
    }
    let mut data = std::fs::read(src.path().join("mosquitto.db")).expect("read");
    let last = data.len() - 16;
    data.truncate(data.len() - 3);
    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, &data).expect("write");
    let (code, out, err) = import(&["--store", store_arg, cut.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains(&format!("byte {last}: a chunk of 8 bytes begins with only 5 bytes left")), "{err}");
    assert!(out.contains("retained messages, 4 sessions, 6 queued messages"), "{out}");
    assert!(out.contains("1 unreadable or inconsistent parts"), "{out}");
    // The store reads back whole.
    let out = crate::harness::mq("mq").args(["db", "check", "--store", store_arg]).output().expect("check");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
