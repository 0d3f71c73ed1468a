//! `mq broker`: sessions. Takeover of a client id (old connection closed; MQTT 5 gets DISCONNECT 0x8E),
//! clean session / clean start against persistent sessions and the Session Present flag, MQTT 5
//! session expiry (from CONNECT and changed by DISCONNECT), `persistent_client_expiration`, and
//! offline queueing for persistent sessions (QoS 1/2 kept, QoS 0 only with `queue_qos0_messages`).

use std::time::Duration;

use mq_proto::Packet;

use crate::broker_util::wire::{Connect, Pub, disconnect, disconnect_v5, prop};
use crate::broker_util::{Next, Raw, V4, broker, tp, tp4, v4_options};

#[test]
fn takeover_closes_the_old_v311_connection() {
    let b = broker("");
    let mut old = Raw::v311(b.port, "same");
    let mut new = Raw::v311(b.port, "same");
    old.expect_disconnect(None);
    new.ping();
}

#[test]
fn takeover_sends_session_taken_over_to_v5() {
    let b = broker("");
    let mut old = Raw::v5(b.port, "same5");
    let mut new = Raw::v5(b.port, "same5");
    old.expect_disconnect(Some(0x8E));
    new.ping();
}

#[test]
fn takeover_resumes_a_persistent_session() {
    let b = broker("");
    let (mut old, ack) = Raw::connect(b.port, &Connect::v311("keep").clean(false));
    assert!(!ack.session_present);
    old.subscribe(1, &[("keep/t", 1)]);
    let (mut new, ack) = Raw::connect(b.port, &Connect::v311("keep").clean(false));
    assert!(ack.session_present, "the taken-over session goes on");
    old.expect_closed();
    let mut publ = Raw::v311(b.port, "pub");
    publ.publish(&Pub::new("keep/t", "still here").qos(1, 1));
    assert_eq!(tp(&new.recv_publish_ack()), ("keep/t".into(), "still here".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_session_keeps_subscriptions_across_connections() {
    let b = broker("");
    let mut o = v4_options(b.port, "durable");
    o.set_clean_session(false);
    let (mut c, ack) = V4::connect(o.clone()).await;
    assert!(!ack.session_present);
    c.subscribe("durable/t", 1).await;
    c.disconnect().await;

    let (mut c, ack) = V4::connect(o).await;
    assert!(ack.session_present);
    let mut p = V4::new(b.port, "pub").await;
    p.publish("durable/t", 1, false, "no resubscribe needed").await;
    assert_eq!(tp4(&c.recv().await), ("durable/t".into(), "no resubscribe needed".into()));
}

#[test]
fn clean_session_discards_the_stored_session() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("fresh").clean(false));
    c.subscribe(1, &[("fresh/old", 1)]);
    c.send(&disconnect());
    c.expect_closed();

    let (mut c, ack) = Raw::connect(b.port, &Connect::v311("fresh").clean(true));
    assert!(!ack.session_present, "clean session never resumes");
    c.send(&disconnect());
    c.expect_closed();

    // The clean session ended at its disconnect: nothing is left of the first one.
    let (mut c, ack) = Raw::connect(b.port, &Connect::v311("fresh").clean(false));
    assert!(!ack.session_present);
    c.subscribe(2, &[("fresh/marker", 1)]);
    let mut publ = Raw::v311(b.port, "pub");
    publ.publish(&Pub::new("fresh/old", "gone").qos(1, 1));
    publ.publish(&Pub::new("fresh/marker", "marker").qos(1, 2));
    assert_eq!(tp(&c.recv_publish_ack()).1, "marker", "the old subscription survived a clean session");
}

#[test]
fn v5_session_expiry_zero_ends_the_session_at_disconnect() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v5("short").clean(false));
    c.send(&disconnect());
    c.expect_closed();
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("short").clean(false));
    assert!(!ack.session_present);
}

#[test]
fn v5_session_expiry_keeps_the_session_then_expires_it() {
    let b = broker("");
    let (mut c, ack) = Raw::connect(b.port, &Connect::v5("exp").clean(false).expiry(1));
    assert!(!ack.session_present);
    c.subscribe(1, &[("exp/t", 1)]);
    c.send(&disconnect());
    c.expect_closed();

    // Within the interval the session is there, subscription included.
    let (mut c, ack) = Raw::connect(b.port, &Connect::v5("exp").clean(false).expiry(1));
    assert!(ack.session_present);
    let mut publ = Raw::v5(b.port, "pub");
    publ.publish(&Pub::new("exp/t", "kept").qos(1, 1));
    assert_eq!(tp(&c.recv_publish_ack()).1, "kept");
    c.send(&disconnect());
    c.expect_closed();

    // After it, gone.
    std::thread::sleep(Duration::from_millis(2200));
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("exp").clean(false).expiry(1));
    assert!(!ack.session_present, "the session outlived its 1 s expiry");
}

#[test]
fn v5_clean_start_discards_a_stored_session() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v5("cs").clean(false).expiry(300));
    c.send(&disconnect());
    c.expect_closed();
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("cs").clean(true).expiry(300));
    assert!(!ack.session_present);
}

#[test]
fn v5_disconnect_can_shorten_the_session_expiry() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v5("shorten").clean(false).expiry(300));
    c.send(&disconnect_v5(0, &[prop::u32(prop::SESSION_EXPIRY, 0)]));
    c.expect_closed();
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("shorten").clean(false).expiry(300));
    assert!(!ack.session_present, "DISCONNECT set the expiry to 0");
}

#[test]
fn v5_disconnect_cannot_give_a_lifetime_to_a_session_that_had_none() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v5("nolife").clean(false));
    c.send(&disconnect_v5(0, &[prop::u32(prop::SESSION_EXPIRY, 300)]));
    c.expect_disconnect(Some(0x82));
    let (_c, ack) = Raw::connect(b.port, &Connect::v5("nolife").clean(false));
    assert!(!ack.session_present);
}

#[test]
fn persistent_client_expiration_is_accepted_and_sessions_resume() {
    let b = broker("persistent_client_expiration 1h");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("p311").clean(false));
    c.send(&disconnect());
    c.expect_closed();
    let (_c, ack) = Raw::connect(b.port, &Connect::v311("p311").clean(false));
    assert!(ack.session_present, "an hour has not passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_qos1_and_qos2_messages_are_queued_and_delivered_on_reconnect() {
    let b = broker("");
    let mut o = v4_options(b.port, "offline");
    o.set_clean_session(false);
    let (mut c, _) = V4::connect(o.clone()).await;
    c.subscribe("off/#", 2).await;
    c.disconnect().await;

    let mut p = V4::new(b.port, "pub").await;
    p.publish("off/1", 1, false, "one").await;
    p.publish("off/0", 0, false, "qos0 is not queued").await;
    p.publish("off/2", 2, false, "two").await;
    p.publish("off/3", 1, false, "three").await;

    let (mut c, ack) = V4::connect(o).await;
    assert!(ack.session_present);
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = c.recv().await;
        got.push((tp4(&m).1, m.qos as u8));
    }
    assert_eq!(got, [("one".into(), 1), ("two".into(), 2), ("three".into(), 1)]);
    p.publish("off/marker", 1, false, "marker").await;
    assert_eq!(tp4(&c.recv().await).1, "marker", "a QoS 0 message was queued for an offline session");
}

#[test]
fn queue_qos0_messages_queues_qos0_for_offline_sessions() {
    let b = broker("queue_qos0_messages true");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("q0").clean(false));
    c.subscribe(1, &[("q0/t", 0)]);
    c.send(&disconnect());
    c.expect_closed();
    let mut publ = Raw::v311(b.port, "pub");
    publ.publish(&Pub::new("q0/t", "kept at qos 0"));
    publ.ping();
    let (mut c, ack) = Raw::connect(b.port, &Connect::v311("q0").clean(false));
    assert!(ack.session_present);
    assert_eq!(tp(&c.recv_publish()).1, "kept at qos 0");
}

#[test]
fn unsubscribe_stops_delivery_and_v5_reports_missing_subscriptions() {
    let b = broker("");
    let mut c = Raw::v5(b.port, "unsub");
    c.subscribe(1, &[("u/a", 1), ("u/b", 1)]);
    c.send(&crate::broker_util::wire::unsubscribe(2, &["u/a", "u/none"], true));
    match c.recv() {
        Packet::UnsubAck(a) => assert_eq!(a.reason_codes.iter().map(|r| r.0).collect::<Vec<_>>(), [0x00, 0x11]),
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
    let mut publ = Raw::v5(b.port, "pub");
    publ.publish(&Pub::new("u/a", "unsubscribed").qos(1, 1));
    publ.publish(&Pub::new("u/b", "marker").qos(1, 2));
    assert_eq!(tp(&c.recv_publish_ack()).1, "marker");
    assert!(matches!(c.next(Duration::from_millis(100)), Next::Timeout));
}

#[test]
fn takeover_resends_what_the_old_connection_left_unacknowledged() {
    let b = broker("");
    let (mut old, _) = Raw::connect(b.port, &Connect::v5("handover").clean(false).expiry(60));
    old.subscribe(1, &[("ho/t", 1)]);
    let mut publ = Raw::v5(b.port, "pub");
    publ.publish(&Pub::new("ho/t", "unacknowledged").qos(1, 1));
    let first = old.recv_publish();
    // The new connection arrives while the old one still holds the message.
    let (mut new, ack) = Raw::connect(b.port, &Connect::v5("handover").clean(false).expiry(60));
    assert!(ack.session_present);
    old.expect_disconnect(Some(0x8E));
    let again = new.recv_publish();
    assert_eq!((tp(&again), again.dup, again.packet_id), (tp(&first), true, first.packet_id));
    new.ack(&again);
    new.ping();
}

#[test]
fn a_session_resumes_across_protocol_versions() {
    let b = broker("");
    let (mut c, _) = Raw::connect(b.port, &Connect::v311("shifty").clean(false));
    c.subscribe(1, &[("xv/t", 1)]);
    c.send(&disconnect());
    c.expect_closed();
    let mut publ = Raw::v311(b.port, "pub");
    publ.publish(&Pub::new("xv/t", "queued for 3.1.1, delivered as 5").qos(1, 1));
    let (mut c, ack) = Raw::connect(b.port, &Connect::v5("shifty").clean(false).expiry(60));
    assert!(ack.session_present);
    // Decoded as MQTT 5: a property block is there.
    assert_eq!(tp(&c.recv_publish_ack()).1, "queued for 3.1.1, delivered as 5");
    c.ping();
}
