//! `mq broker`: topic matching. `+` (one level, empty levels included) and `#` (the parent and
//! everything below), topics starting with `$` not matched by leading wildcards (`$SYS` included),
//! overlapping subscriptions delivered once at the highest QoS with every MQTT 5 subscription
//! identifier, No Local, and `max_qos` capping the granted QoS (invalid filters: see
//! `broker_reason_codes`).

use mq_proto::QoS;

use crate::broker_util::wire::{self, Pub, prop};
use crate::broker_util::{Raw, broker, tp};

/// Subscribes a fresh 3.1.1 client to `filter`, publishes each of `topics` then a marker, and returns
/// the topics the subscriber received before the marker.
fn matched(filter: &str, topics: &[&str]) -> Vec<String> {
    let b = broker("");
    let mut s = Raw::v311(b.port, "sub");
    s.subscribe(1, &[(filter, 1), ("zz/marker", 1)]);
    let mut p = Raw::v311(b.port, "pub");
    for (i, t) in topics.iter().enumerate() {
        p.publish(&Pub::new(t, *t).qos(1, i as u16 + 1));
    }
    p.publish(&Pub::new("zz/marker", "marker").qos(1, 999));
    s.publishes_until(|p| p.payload == "marker").iter().map(|p| tp(p).0).collect()
}

#[test]
fn plus_matches_exactly_one_level() {
    assert_eq!(
        matched("a/+/c", &["a/b/c", "a/c", "a/b/b/c", "a//c", "a/b/c/", "A/b/c", "a/xyz/c"]),
        ["a/b/c", "a//c", "a/xyz/c"]
    );
    assert_eq!(matched("+/+", &["x/y", "x", "/y", "x/y/z", "/"]), ["x/y", "/y", "/"]);
}

#[test]
fn hash_matches_the_parent_and_everything_below() {
    assert_eq!(matched("s/#", &["s", "s/x", "s/x/y", "sx", "t/s", "s/"]), ["s", "s/x", "s/x/y", "s/"]);
    assert_eq!(matched("#", &["a", "a/b", "/lead"]), ["a", "a/b", "/lead"]);
}

#[test]
fn leading_wildcards_do_not_match_dollar_topics() {
    let b = broker("sys_interval 1");
    let mut s = Raw::v311(b.port, "sub");
    // `$SYS` values are retained: `#` and `+/...` must not get them, nor `$app/...` messages.
    s.subscribe(1, &[("#", 1), ("+/x", 1), ("+/broker/#", 1)]);
    let mut d = Raw::v311(b.port, "dollar");
    d.subscribe(1, &[("$app/#", 1), ("$SYS/broker/version", 0)]);
    assert!(tp(&d.recv_publish_ack()).0.starts_with("$SYS/broker/version"));
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("$app/x", "dollar").qos(1, 1));
    p.publish(&Pub::new("zz/marker", "marker").qos(1, 2));
    assert_eq!(tp(&d.recv_publish_ack()), ("$app/x".into(), "dollar".into()), "explicit `$` filters match");
    let got: Vec<String> = s.publishes_until(|p| p.payload == "marker").iter().map(|p| tp(p).0).collect();
    assert_eq!(got, Vec::<String>::new());
}

#[test]
fn overlapping_subscriptions_deliver_once_at_the_highest_qos() {
    let b = broker("");
    let mut s = Raw::v311(b.port, "sub");
    let ack = s.subscribe(1, &[("o/#", 0), ("o/t", 2), ("+/t", 1), ("zz/marker", 1)]);
    assert_eq!(ack.reason_codes.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 2, 1, 1]);
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("o/t", "once").qos(2, 1));
    p.publish(&Pub::new("zz/marker", "marker").qos(1, 2));
    let got = s.publishes_until(|p| p.payload == "marker");
    assert_eq!(got.len(), 1, "one copy per client: {got:?}");
    assert_eq!(got[0].qos, QoS::ExactlyOnce);
}

#[test]
fn v5_overlapping_subscriptions_carry_every_subscription_identifier() {
    let b = broker("");
    let mut s = Raw::v5(b.port, "sub");
    s.send(&wire::subscribe(1, &[("ids/#", 1)], Some(&[prop::var(prop::SUBSCRIPTION_ID, 1)])));
    s.suback();
    s.send(&wire::subscribe(2, &[("ids/t", 1)], Some(&[prop::var(prop::SUBSCRIPTION_ID, 200_000)])));
    s.suback();
    s.send(&wire::subscribe(3, &[("+/t", 0)], Some(&[])));
    s.suback();
    let mut p = Raw::v5(b.port, "pub");
    p.publish(&Pub::new("ids/t", "both").qos(1, 1));
    p.publish(&Pub::new("ids/other", "one").qos(1, 2));
    let m = s.recv_publish_ack();
    let mut ids = m.properties.subscription_identifiers.clone();
    ids.sort();
    assert_eq!((tp(&m).1.as_str(), ids), ("both", vec![1, 200_000]));
    let m = s.recv_publish_ack();
    assert_eq!((tp(&m).1.as_str(), m.properties.subscription_identifiers.clone()), ("one", vec![1]));
}

#[test]
fn v5_no_local_skips_the_publishers_own_messages() {
    let b = broker("");
    let mut c = Raw::v5(b.port, "self");
    // Options: QoS 1, No Local.
    c.send(&wire::subscribe(1, &[("nl/t", 0x01 | 0x04), ("nl/marker", 1)], Some(&[])));
    c.suback();
    c.send(&Pub::new("nl/t", "mine").qos(1, 1).v5());
    c.send(&Pub::new("nl/marker", "marker").qos(1, 2).v5());
    let got: Vec<(String, String)> = c.publishes_until(|p| p.payload == "marker").iter().map(tp).collect();
    assert_eq!(got, [], "own message delivered despite No Local");
    let mut other = Raw::v5(b.port, "other");
    other.publish(&Pub::new("nl/t", "theirs").qos(1, 1));
    assert_eq!(c.publishes_until(|p| p.payload == "theirs").len(), 0);
}

#[test]
fn max_qos_caps_the_granted_qos() {
    let b = broker("max_qos 1");
    let mut s = Raw::v311(b.port, "sub");
    let ack = s.subscribe(1, &[("mq/t", 2), ("mq/u", 0)]);
    assert_eq!(ack.reason_codes.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 0]);
}
