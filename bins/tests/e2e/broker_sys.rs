//! `mq broker`: the `$SYS/broker/...` tree. Retained, so a subscriber sees version, uptime, client and
//! message counts, load averages and the rest at once (also through `mosquitto_sub -v -t '$SYS/#'`);
//! counters move with `sys_interval 1` (clients connected/total/disconnected/expired, messages and
//! bytes, retained and subscription counts); clients cannot publish under `$SYS`; `sys_interval 0`
//! publishes nothing; `log_dest topic` publishes log lines under `$SYS/broker/log/`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::broker_util::wire::{Connect, Pub, disconnect};
use crate::broker_util::{Next, Raw, V4, against_mosquitto, broker, sys_value_reaches, tp};
use crate::harness::{Proc, command, mosquitto_bin};

/// Topics every tree must have at once.
const REQUIRED: &[&str] = &[
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/total",
    "$SYS/broker/clients/disconnected",
    "$SYS/broker/clients/maximum",
    "$SYS/broker/clients/expired",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/publish/messages/received",
    "$SYS/broker/publish/messages/sent",
    "$SYS/broker/publish/messages/dropped",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
    "$SYS/broker/retained messages/count",
    "$SYS/broker/subscriptions/count",
    "$SYS/broker/store/messages/count",
    "$SYS/broker/heap/current",
    "$SYS/broker/load/messages/received/1min",
    "$SYS/broker/load/connections/15min",
];

fn number(v: &str) -> u64 {
    v.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("not a number: {v:?}"))
}

/// Current value of a `$SYS` topic (its retained message).
fn current(port: u16, topic: &str) -> String {
    sys_value_reaches(port, topic, |_| true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_is_there_as_soon_as_one_subscribes() {
    // The default interval (10 s) is longer than this test: the values come from the retained store.
    let b = broker("");
    let mut s = V4::new(b.port, "sys").await;
    s.subscribe("$SYS/#", 0).await;
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while REQUIRED.iter().any(|t| !seen.contains_key(*t)) {
        assert!(
            Instant::now() < deadline,
            "missing {:?}",
            REQUIRED.iter().filter(|t| !seen.contains_key(**t)).collect::<Vec<_>>()
        );
        let m = s.recv().await;
        assert!(m.retain, "{} not retained", m.topic);
        seen.insert(m.topic.clone(), String::from_utf8_lossy(&m.payload).into_owned());
    }
    if !crate::broker_util::against_mosquitto() {
        assert!(seen["$SYS/broker/version"].starts_with("mq version "), "{seen:?}");
    }
    assert!(seen["$SYS/broker/uptime"].ends_with(" seconds"));
    assert!(number(&seen["$SYS/broker/clients/connected"]) <= 1);
    let load = &seen["$SYS/broker/load/messages/received/1min"];
    assert!(load.parse::<f64>().is_ok() && load.split('.').nth(1).is_some_and(|d| d.len() == 2), "{load}");
}

#[test]
fn mosquitto_sub_sees_the_tree() {
    let Some(sub) = mosquitto_bin("mosquitto_sub") else { return };
    let b = broker("");
    // version, uptime, and the clients/... values: total, connected, active, disconnected, inactive,
    // maximum, expired (and mq's parked).
    let count = if against_mosquitto() { 9 } else { 10 };
    let mut p = Proc::spawn(command(sub).args([
        "-p",
        &b.port_arg(),
        "-v",
        "-t",
        "$SYS/broker/version",
        "-t",
        "$SYS/broker/uptime",
        "-t",
        "$SYS/broker/clients/+",
        "-C",
        &count.to_string(),
        "-W",
        "10",
    ]));
    assert!(p.wait().success(), "{}", p.stderr.text());
    let out = p.stdout.text();
    assert_eq!(out.lines().count(), count, "{out}");
    for want in ["$SYS/broker/version mq version ", "$SYS/broker/uptime ", "$SYS/broker/clients/connected "] {
        assert!(out.lines().any(|l| l.starts_with(want)), "no {want:?} in {out}");
    }
}

#[test]
fn client_counts_follow_connections() {
    let b = broker("sys_interval 1");
    let connected = "$SYS/broker/clients/connected";
    sys_value_reaches(b.port, connected, |v| v == "1"); // the watcher itself
    let (mut other, _) = Raw::connect(b.port, &Connect::v311("other").clean(false));
    other.ping();
    sys_value_reaches(b.port, connected, |v| v == "2");
    other.send(&disconnect());
    other.expect_closed();
    // The persistent session stays: disconnected, still in the total.
    sys_value_reaches(b.port, connected, |v| v == "1");
    assert_eq!(sys_value_reaches(b.port, "$SYS/broker/clients/disconnected", |v| v == "1"), "1");
    sys_value_reaches(b.port, "$SYS/broker/clients/total", |v| v == "2");
    assert!(number(&current(b.port, "$SYS/broker/clients/maximum")) >= 2);
}

#[test]
fn expired_sessions_are_counted() {
    let b = broker("sys_interval 1");
    let (mut c, _) = Raw::connect(b.port, &Connect::v5("short").clean(false).expiry(1));
    c.send(&disconnect());
    c.expect_closed();
    sys_value_reaches(b.port, "$SYS/broker/clients/expired", |v| v == "1");
}

#[test]
fn message_counters_move() {
    let b = broker("sys_interval 1");
    let before = number(&current(b.port, "$SYS/broker/publish/messages/received"));
    let bytes_before = number(&current(b.port, "$SYS/broker/bytes/received"));
    let mut s = Raw::v311(b.port, "sub");
    s.subscribe(1, &[("count/t", 1)]);
    let mut p = Raw::v311(b.port, "pub");
    for i in 0..3 {
        p.publish(&Pub::new("count/t", "0123456789").qos(1, i + 1));
        s.recv_publish_ack();
    }
    sys_value_reaches(b.port, "$SYS/broker/publish/messages/received", |v| number(v) >= before + 3);
    sys_value_reaches(b.port, "$SYS/broker/bytes/received", |v| number(v) >= bytes_before + 30);
    sys_value_reaches(b.port, "$SYS/broker/publish/messages/sent", |v| number(v) >= 3);
    sys_value_reaches(b.port, "$SYS/broker/publish/bytes/received", |v| number(v) >= 30);
}

#[test]
fn retained_and_subscription_counts_move() {
    let b = broker("sys_interval 1");
    // After two ticks every `$SYS` topic exists: from then on only our changes move the counts.
    sys_value_reaches(b.port, "$SYS/broker/uptime", |v| number(v) >= 2);
    let retained = "$SYS/broker/retained messages/count";
    let base = number(&current(b.port, retained));
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("rc/a", "1").qos(1, 1).retain());
    p.publish(&Pub::new("rc/b", "2").qos(1, 2).retain());
    sys_value_reaches(b.port, retained, |v| number(v) == base + 2);
    p.publish(&Pub::new("rc/a", "").qos(1, 3).retain());
    sys_value_reaches(b.port, retained, |v| number(v) == base + 1);

    let subs = "$SYS/broker/subscriptions/count";
    let base = number(&current(b.port, subs));
    let mut s = Raw::v311(b.port, "subscriber");
    s.subscribe(1, &[("sc/a", 0), ("sc/b", 0), ("$share/g/sc/c", 0)]);
    sys_value_reaches(b.port, subs, |v| number(v) == base + 3);
    sys_value_reaches(b.port, "$SYS/broker/shared_subscriptions/count", |v| v == "1");
    s.send(&disconnect());
    s.expect_closed();
    sys_value_reaches(b.port, subs, |v| number(v) == base);
}

#[test]
fn clients_cannot_publish_under_sys() {
    let b = broker("");
    let mut s = Raw::v311(b.port, "sub");
    s.subscribe(1, &[("$SYS/broker/fake", 1), ("zz/marker", 1)]);
    let mut v5 = Raw::v5(b.port, "forger5");
    assert_eq!(v5.publish(&Pub::new("$SYS/broker/fake", "forged").qos(1, 1)), 0x87);
    let mut v3 = Raw::v311(b.port, "forger3");
    v3.publish(&Pub::new("$SYS/broker/fake", "forged").qos(1, 1).retain());
    v3.publish(&Pub::new("zz/marker", "marker").qos(1, 2));
    let got: Vec<_> = s.publishes_until(|p| p.payload == "marker").iter().map(tp).collect();
    assert_eq!(got, []);
}

#[test]
fn sys_interval_0_publishes_nothing() {
    let b = broker("sys_interval 0");
    let mut p = Raw::v311(b.port, "pub");
    p.publish(&Pub::new("zz/marker", "marker").qos(1, 1).retain());
    let mut s = Raw::v311(b.port, "sub");
    s.send(&crate::broker_util::wire::subscribe(1, &[("$SYS/#", 0)], None));
    s.send(&crate::broker_util::wire::subscribe(2, &[("zz/marker", 0)], None));
    let got: Vec<_> = s.publishes_until(|p| p.payload == "marker").iter().map(tp).collect();
    assert_eq!(got, []);
    // And nothing later either (a tick would come within a second).
    match s.next(Duration::from_millis(1500)) {
        Next::Timeout => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn log_dest_topic_publishes_log_lines() {
    let b = broker("log_dest topic\nlog_type all");
    let mut s = Raw::v311(b.port, "log-reader");
    s.subscribe(1, &[("$SYS/broker/log/#", 0)]);
    let _c = Raw::v311(b.port, "logged-client");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = s.recv_publish();
        let (topic, line) = tp(&m);
        if topic == "$SYS/broker/log/N" && line.contains("New client connected") && line.contains("logged-client") {
            assert!(!m.retain);
            break;
        }
        assert!(Instant::now() < deadline, "no connect line on $SYS/broker/log/N");
    }
}
