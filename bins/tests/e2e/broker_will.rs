//! `mq broker`: will messages. Published when the connection drops, on keep-alive timeout, on a
//! protocol error, on MQTT 5 DISCONNECT 0x04, and when a takeover with clean start ends the session;
//! not after a normal DISCONNECT. Will QoS, retain and MQTT 5 properties are honoured. MQTT 5 Will Delay
//! Interval: published after the delay (also when the session ended at the disconnection, as in
//! Mosquitto), cancelled by any reconnect in time (clean start included), and published early when a
//! session that outlived its connection ends first.

use std::time::{Duration, Instant};

use mq_proto::QoS;

use crate::broker_util::wire::{Connect, Pub, Will, disconnect, disconnect_v5, prop};
use crate::broker_util::{Raw, V4, V5, broker, tp, tp4, tp5};

/// A subscriber to `will/#` at QoS 2.
fn watcher(port: u16) -> Raw {
    let mut w = Raw::v311(port, "watcher");
    w.subscribe(1, &[("will/#", 2)]);
    w
}

/// Publishes the marker on `will/marker` and returns what `w` received before it.
fn before_marker(port: u16, w: &mut Raw) -> Vec<(String, String)> {
    let mut p = Raw::v311(port, "marker-pub");
    p.publish(&Pub::new("will/marker", "marker").qos(1, 1));
    w.publishes_until(|p| p.payload == "marker").iter().map(tp).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_is_published_when_the_connection_drops() {
    let b = broker("");
    let mut w = V4::new(b.port, "watcher").await;
    w.subscribe("will/#", 1).await;
    let (c, _) = Raw::connect(b.port, &Connect::v311("dies").will(Will::new("will/dies", "gone").qos(1)));
    c.drop_connection();
    let m = w.recv().await;
    assert_eq!((tp4(&m), m.qos as u8), (("will/dies".into(), "gone".into()), 1));
}

#[test]
fn will_is_published_on_keepalive_timeout() {
    let b = broker("");
    let mut w = watcher(b.port);
    let start = Instant::now();
    let (_c, _) =
        Raw::connect(b.port, &Connect::v311("silent").keep_alive(1).will(Will::new("will/silent", "timeout")));
    assert_eq!(tp(&w.recv_publish_ack()), ("will/silent".into(), "timeout".into()));
    assert!(start.elapsed() >= Duration::from_millis(1450), "will after {:?}", start.elapsed());
}

#[test]
fn will_is_published_on_a_protocol_error() {
    let b = broker("");
    let mut w = watcher(b.port);
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("broken").will(Will::new("will/broken", "malformed")));
    c.send(&[0x36, 0x00]); // PUBLISH with QoS 3
    c.expect_closed();
    assert_eq!(tp(&w.recv_publish_ack()).1, "malformed");
}

#[test]
fn will_is_not_published_after_a_normal_disconnect() {
    let b = broker("");
    let mut w = watcher(b.port);
    for c in [Connect::v311("polite3"), Connect::v5("polite5")] {
        let (mut c, _) = Raw::connect(b.port, &c.will(Will::new("will/polite", "must not appear")));
        c.send(&disconnect());
        // The broker closes the socket after it is done with the session.
        c.expect_closed();
    }
    assert_eq!(before_marker(b.port, &mut w), []);
}

#[test]
fn v5_disconnect_with_will_message_publishes_the_will() {
    let b = broker("");
    let mut w = watcher(b.port);
    let (mut c, _) = Raw::connect(b.port, &Connect::v5("leaving").will(Will::new("will/leaving", "asked for")));
    c.send(&disconnect_v5(0x04, &[]));
    c.expect_closed();
    assert_eq!(tp(&w.recv_publish_ack()).1, "asked for");
}

#[test]
fn takeover_with_clean_start_publishes_the_old_will() {
    let b = broker("");
    let mut w = watcher(b.port);
    let (mut old, _) = Raw::connect(b.port, &Connect::v311("twin").will(Will::new("will/twin", "old one")));
    let (_new, _) = Raw::connect(b.port, &Connect::v311("twin"));
    old.expect_closed();
    assert_eq!(tp(&w.recv_publish_ack()).1, "old one");
}

#[test]
fn will_retain_and_qos_are_honoured() {
    let b = broker("");
    let (c, _) =
        Raw::connect(b.port, &Connect::v311("keeper").will(Will::new("will/kept", "last words").qos(2).retain()));
    let mut w = watcher(b.port);
    c.drop_connection();
    let live = w.recv_publish_ack();
    assert_eq!((tp(&live).1.as_str(), live.qos), ("last words", QoS::ExactlyOnce));
    let mut late = Raw::v311(b.port, "late");
    late.subscribe(1, &[("will/kept", 2)]);
    let m = late.recv_publish_ack();
    assert_eq!((tp(&m).1.as_str(), m.retain, m.qos), ("last words", true, QoS::ExactlyOnce));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_will_properties_are_passed_on() {
    let b = broker("");
    let mut w = V5::new(b.port, "watcher").await;
    w.subscribe("will/#", 1).await;
    let will = Will::new("will/props", "{}")
        .qos(1)
        .prop(prop::byte(prop::PAYLOAD_FORMAT, 1))
        .prop(prop::string(prop::CONTENT_TYPE, "application/json"))
        .prop(prop::string(prop::RESPONSE_TOPIC, "reply/here"))
        .prop(prop::bin(prop::CORRELATION_DATA, b"\x00\x01corr"))
        .prop(prop::user("k", "v1"))
        .prop(prop::user("k", "v2"));
    let (c, _) = Raw::connect(b.port, &Connect::v5("propful").will(will));
    c.drop_connection();
    let m = w.recv().await;
    assert_eq!(tp5(&m), ("will/props".into(), "{}".into()));
    let p = m.properties.expect("properties");
    assert_eq!(p.payload_format_indicator, Some(1));
    assert_eq!(p.content_type.as_deref(), Some("application/json"));
    assert_eq!(p.response_topic.as_deref(), Some("reply/here"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"\x00\x01corr"[..]));
    assert_eq!(p.user_properties, [("k".to_string(), "v1".to_string()), ("k".into(), "v2".into())]);
}

/// A v5 client with a will delayed by `delay` seconds and a session expiry of `expiry` seconds.
fn delayed(port: u16, delay: u32, expiry: u32) -> Raw {
    let will = Will::new("will/delayed", "late").prop(prop::u32(prop::WILL_DELAY, delay));
    Raw::connect(port, &Connect::v5("delayed").clean(false).expiry(expiry).will(will)).0
}

#[test]
fn v5_will_delay_publishes_the_will_after_the_delay() {
    will_arrives_after_its_delay(60);
}

/// A client with a 2 s will delay and `session_expiry` drops its connection: the will arrives after
/// about 2 s.
fn will_arrives_after_its_delay(session_expiry: u32) {
    let b = broker("");
    let mut w = watcher(b.port);
    let c = delayed(b.port, 2, session_expiry);
    let start = Instant::now();
    c.drop_connection();
    assert_eq!(tp(&w.recv_publish_ack()).1, "late");
    let elapsed = start.elapsed();
    assert!((Duration::from_millis(1900)..Duration::from_secs(5)).contains(&elapsed), "will after {elapsed:?}");
}

#[test]
fn v5_will_delay_is_cancelled_by_a_reconnect_in_time() {
    let b = broker("");
    let mut w = watcher(b.port);
    let c = delayed(b.port, 2, 60);
    c.drop_connection();
    let (mut again, ack) = Raw::connect(b.port, &Connect::v5("delayed").clean(false).expiry(60));
    assert!(ack.session_present);
    // Past the delay, the will must still not come.
    std::thread::sleep(Duration::from_millis(3200));
    again.ping();
    assert_eq!(before_marker(b.port, &mut w), []);
}

#[test]
fn v5_will_is_published_when_the_session_ends_before_the_delay() {
    let b = broker("");
    let mut w = watcher(b.port);
    let c = delayed(b.port, 300, 1);
    let start = Instant::now();
    c.drop_connection();
    assert_eq!(tp(&w.recv_publish_ack()).1, "late");
    assert!(start.elapsed() < Duration::from_secs(5), "will only after {:?}", start.elapsed());
}

#[test]
fn a_will_over_message_size_limit_is_refused_at_connect() {
    let b = broker("message_size_limit 1");
    let mut w = watcher(b.port);
    // As Mosquitto answers (07-will-oversize-payload): MQTT 5 CONNACK 0x95, 3.1.1 return code 5.
    for (c, code) in [
        (Connect::v5("big5").expiry(60).will(Will::new("will/big", "AB")), 0x95),
        (Connect::v311("big3").clean(false).will(Will::new("will/big", "AB")), 5),
    ] {
        let mut r = Raw::open(b.port);
        assert_eq!(r.handshake(&c).code, code, "{c:?}");
        r.expect_closed();
    }
    // A will within the limit is accepted, and published.
    let (c, _) = Raw::connect(b.port, &Connect::v5("small").will(Will::new("will/small", "A")));
    c.drop_connection();
    assert_eq!(tp(&w.recv_publish_ack()), ("will/small".to_owned(), "A".to_owned()));
    w.ping();
}

#[test]
fn v5_will_delay_applies_when_the_session_ends_at_the_disconnection() {
    // Session Expiry 0: the session ends with the connection, but the will still waits for its delay,
    // as Mosquitto keeps it (MQTT 5 would allow publishing it at once).
    will_arrives_after_its_delay(0);
}

#[test]
fn v5_will_delay_is_cancelled_by_any_reconnect_in_time() {
    let b = broker("");
    let mut w = watcher(b.port);
    // A clean start ends the old session, and a session that ended at the disconnection is gone: the
    // client is back all the same, so neither delayed will is sent (as in Mosquitto).
    for expiry in [60, 0] {
        let c = delayed(b.port, 2, expiry);
        c.drop_connection();
        let (mut again, ack) = Raw::connect(b.port, &Connect::v5("delayed").clean(true).expiry(60));
        assert!(!ack.session_present);
        std::thread::sleep(Duration::from_millis(3200));
        again.ping();
        assert_eq!(before_marker(b.port, &mut w), [], "session expiry {expiry}");
        drop(again);
    }
}
