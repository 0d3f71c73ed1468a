//! `mq broker`: shared subscriptions `$share/<group>/<filter>`. Each message goes to exactly one member
//! of each group, round robin; ordinary subscribers and other groups get their own copy; only connected
//! members get messages while any member is connected (Mosquitto 2.0 rotates through offline members
//! and strands messages in their queues; we do not); QoS 1 messages a member leaves unacknowledged go to
//! the other members; no retained messages on shared subscriptions; No Local on one is a protocol error
//! (malformed share names: see `broker_reason_codes`).

use std::collections::BTreeSet;

use crate::broker_util::wire::{self, Connect, Pub};
use crate::broker_util::{Raw, V4, against_mosquitto, broker, tp, tp4};

/// Publishes `n` QoS 1 messages `0..n` on `sh/t`.
fn publish_n(port: u16, n: usize) {
    let mut p = Raw::v311(port, "pub");
    for i in 0..n {
        p.publish(&Pub::new("sh/t", i.to_string()).qos(1, i as u16 + 1));
    }
}

fn numbers(c: &mut Raw, n: usize) -> Vec<usize> {
    (0..n).map(|_| tp(&c.recv_publish_ack()).1.parse().expect("number")).collect()
}

#[test]
fn each_message_goes_to_exactly_one_member_in_turn() {
    let b = broker("");
    let mut a = Raw::v311(b.port, "a");
    a.subscribe(1, &[("$share/g/sh/t", 1)]);
    let mut c = Raw::v311(b.port, "c");
    c.subscribe(1, &[("$share/g/sh/#", 1)]);
    // Another filter matching the same topic is another group.
    let mut d = Raw::v311(b.port, "d");
    d.subscribe(1, &[("$share/g/sh/t", 1)]);
    publish_n(b.port, 12);
    let got_a = numbers(&mut a, 6);
    let got_d = numbers(&mut d, 6);
    let got_c = numbers(&mut c, 12);
    assert_eq!(got_c, (0..12).collect::<Vec<_>>(), "a group alone on its filter gets everything");
    let all: BTreeSet<usize> = got_a.iter().chain(&got_d).copied().collect();
    assert_eq!(all.len(), 12, "each message once: {got_a:?} {got_d:?}");
    a.expect_silence();
    d.expect_silence();
    // Round robin: members alternate.
    assert!(got_a.windows(2).all(|w| w[1] == w[0] + 2), "{got_a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_subscribers_and_other_groups_get_their_own_copy() {
    let b = broker("");
    let mut g1a = V4::new(b.port, "g1a").await;
    g1a.subscribe("$share/one/sh/t", 1).await;
    let mut g1b = V4::new(b.port, "g1b").await;
    g1b.subscribe("$share/one/sh/t", 1).await;
    let mut g2 = V4::new(b.port, "g2").await;
    g2.subscribe("$share/two/sh/t", 1).await;
    let mut plain = V4::new(b.port, "plain").await;
    plain.subscribe("sh/t", 1).await;
    let mut p = V4::new(b.port, "pub").await;
    for i in 0..4 {
        p.publish("sh/t", 1, false, i.to_string()).await;
    }
    for i in 0..4 {
        assert_eq!(tp4(&g2.recv().await).1, i.to_string());
        assert_eq!(tp4(&plain.recv().await).1, i.to_string());
    }
    let mut split: Vec<String> = Vec::new();
    for _ in 0..2 {
        split.push(tp4(&g1a.recv().await).1);
        split.push(tp4(&g1b.recv().await).1);
    }
    split.sort();
    assert_eq!(split, ["0", "1", "2", "3"]);
}

#[test]
fn only_connected_members_get_messages_while_one_is_connected() {
    if against_mosquitto() {
        eprintln!("skipping: Mosquitto 2.0 also queues for offline members (#2662)");
        return;
    }
    let b = broker("");
    let (mut away, _) = Raw::connect(b.port, &Connect::v311("away").clean(false));
    away.subscribe(1, &[("$share/g/sh/t", 1), ("zz/marker", 1)]);
    away.send(&wire::disconnect());
    away.expect_closed();
    let mut here = Raw::v311(b.port, "here");
    here.subscribe(1, &[("$share/g/sh/t", 1)]);
    publish_n(b.port, 6);
    assert_eq!(numbers(&mut here, 6), [0, 1, 2, 3, 4, 5]);

    let (mut away, ack) = Raw::connect(b.port, &Connect::v311("away").clean(false));
    assert!(ack.session_present);
    let mut p = Raw::v311(b.port, "marker");
    p.publish(&Pub::new("zz/marker", "marker").qos(1, 1));
    let queued: Vec<(String, String)> = away.publishes_until(|p| p.payload == "marker").iter().map(tp).collect();
    assert_eq!(queued, [], "messages were queued for an offline member while another was connected");
}

#[test]
fn unacknowledged_messages_of_a_leaving_member_go_to_the_others() {
    let b = broker("");
    let mut lazy = Raw::v311(b.port, "lazy");
    lazy.subscribe(1, &[("$share/g/sh/t", 1)]);
    let mut busy = Raw::v311(b.port, "busy");
    busy.subscribe(1, &[("$share/g/sh/t", 1)]);
    publish_n(b.port, 6);
    // The lazy member receives its half and acknowledges nothing.
    let held: Vec<usize> = (0..3).map(|_| tp(&lazy.recv_publish()).1.parse().expect("number")).collect();
    let mut got = numbers(&mut busy, 3);
    lazy.drop_connection();
    got.extend(numbers(&mut busy, 3));
    got.sort();
    assert_eq!(got, [0, 1, 2, 3, 4, 5], "the lazy member held {held:?}");
    busy.expect_silence();
}

#[test]
fn shared_subscriptions_get_no_retained_messages() {
    let b = broker("");
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("sh/t", "retained").qos(1, 1).retain());
    p.publish(&Pub::new("zz/marker", "marker").qos(1, 2).retain());
    let mut s = Raw::v311(b.port, "sub");
    s.send(&wire::subscribe(1, &[("$share/g/sh/t", 1)], None));
    s.send(&wire::subscribe(2, &[("zz/marker", 1)], None));
    let got: Vec<(String, String)> = s.publishes_until(|p| p.payload == "marker").iter().map(tp).collect();
    assert_eq!(got, []);
}

#[test]
fn v5_no_local_on_a_shared_subscription_is_a_protocol_error() {
    let b = broker("");
    let mut c = Raw::v5(b.port, "nl");
    c.send(&wire::subscribe(1, &[("$share/g/sh/t", 0x01 | 0x04)], Some(&[])));
    c.expect_disconnect(Some(0x82));
}

#[test]
fn a_member_that_unsubscribes_leaves_the_group() {
    let b = broker("");
    let mut a = Raw::v311(b.port, "a");
    a.subscribe(1, &[("$share/g/sh/t", 1)]);
    let mut c = Raw::v311(b.port, "c");
    c.subscribe(1, &[("$share/g/sh/t", 1), ("zz/marker", 1)]);
    c.send(&wire::unsubscribe(2, &["$share/g/sh/t"], false));
    assert!(matches!(c.recv(), mq_proto::Packet::UnsubAck(_)));
    publish_n(b.port, 4);
    assert_eq!(numbers(&mut a, 4), [0, 1, 2, 3]);
    let mut p = Raw::v311(b.port, "marker");
    p.publish(&Pub::new("zz/marker", "marker").qos(1, 1));
    let got: Vec<(String, String)> = c.publishes_until(|p| p.payload == "marker").iter().map(tp).collect();
    assert_eq!(got, []);
}
