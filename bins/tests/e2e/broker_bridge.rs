//! Bridges (`connection` sections): `mq broker` bridged to a real Mosquitto, a Mosquitto bridged to
//! `mq broker`, and `mq broker` to `mq broker`; `in`, `out` and `both` topics with prefixes, QoS 1 and
//! the topic's QoS capping it, retained messages, the notification topic (`1` when up, `0` as the
//! will when the bridge dies), MQTT 3.1.1 and 5, store-and-forward while the remote is down (the
//! remote restarted on the same port), failover to the second address, no loop between two brokers
//! bridged `both` ways, a client announcing itself as a bridge (protocol level 0x84), a PINGREQ from
//! the remote answered (as Mosquitto's bridges do), and bridges over
//! TLS (to Mosquitto and to mq, a client certificate, `bridge_insecure`, ALPN, a CA that does not
//! match: refused, retried, messages queued meanwhile), lazy bridges (`threshold`, `idle_timeout`, QoS 0
//! queued), and a local identity (`local_clientid`, `local_username`/`local_password`: the login refused
//! stops the bridge, the user's ACL filters both directions). The tests with
//! Mosquitto skip when it is not installed (and fail then with `MQ_REQUIRE_INTEROP=1`).

use std::time::{Duration, Instant};

use crate::broker_util::{Raw, sys_value_reaches, tp, wire};
use crate::harness::{Broker, free_port};
use crate::tls_pki::Pki;

/// `listener` and anonymous access on `port`, then `extra`.
fn conf(port: u16, extra: &str) -> String {
    format!("listener {port} 127.0.0.1\nallow_anonymous true\n{extra}\n")
}

/// A bridge section named `b` to `127.0.0.1:remote`, reconnecting after 1 s, with `extra` lines.
fn bridge(remote: u16, extra: &str) -> String {
    format!("connection b\naddress 127.0.0.1:{remote}\nremote_clientid edge\nrestart_timeout 1\n{extra}")
}

const STATE: &str = "$SYS/broker/connection/edge/state";

/// A fresh subscriber (3.1.1) on `port` to `filters` at QoS 1.
fn sub(port: u16, id: &str, filters: &[&str]) -> Raw {
    let mut r = Raw::v311(port, id);
    let f: Vec<(&str, u8)> = filters.iter().map(|f| (*f, 1)).collect();
    r.subscribe(1, &f);
    r
}

/// Publishes one message at `qos` from a fresh client.
fn publish(port: u16, topic: &str, payload: &str, qos: u8, retain: bool) {
    let mut c = Raw::v311(port, "bridge-test-pub");
    let mut p = wire::Pub::new(topic, payload).qos(qos, 1);
    if qos == 0 {
        p = wire::Pub::new(topic, payload);
    }
    if retain {
        p = p.retain();
    }
    c.publish(&p);
    c.ping();
}

/// The message `sub` receives next (acknowledged): topic, payload, QoS.
fn next(sub: &mut Raw) -> (String, String, u8) {
    let p = sub.recv_publish_ack();
    let (t, v) = tp(&p);
    (t, v, p.qos.as_u8())
}

/// `mq broker` bridged to a remote on `remote_port` (any broker): `out` with prefixes, `in` with
/// prefixes, `both`, the QoS of the topic capping the message's, retained messages forwarded, the
/// notification topic on both sides, `0` on the remote when the local broker dies.
fn mq_bridged_to(remote: &mut Broker, version: &str) {
    let r = remote.port;
    let mut local = Broker::mq_conf(|port| {
        conf(
            port,
            &bridge(
                r,
                &format!(
                    "bridge_protocol_version {version}\ntopic out/# out 1 site/ cloud/site/\n\
                     topic cmd/# in 1 local/ cloud/\ntopic both/# both 1\ntopic q0/# out 0\n"
                ),
            ),
        )
    });
    let l = local.port;
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "1"), "1");
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "1"), "1");

    // out, prefixes swapped, QoS 1; and capped at the topic's QoS 0.
    let mut rsub = sub(r, "remote-sub", &["cloud/site/out/#", "q0/#", "both/#"]);
    publish(l, "site/out/a", "o1", 1, false);
    assert_eq!(next(&mut rsub), ("cloud/site/out/a".into(), "o1".into(), 1));
    publish(l, "out/not-prefixed", "x", 1, false);
    publish(l, "q0/a", "down", 1, false);
    assert_eq!(next(&mut rsub), ("q0/a".into(), "down".into(), 0), "not-prefixed is not forwarded");

    // in, prefixes swapped.
    let mut lsub = sub(l, "local-sub", &["local/cmd/#", "both/#"]);
    publish(r, "cloud/cmd/reboot", "i1", 1, false);
    assert_eq!(next(&mut lsub), ("local/cmd/reboot".into(), "i1".into(), 1));

    // both: each side's message reaches the other once, and never comes back.
    publish(l, "both/from-local", "bl", 1, false);
    assert_eq!(next(&mut rsub), ("both/from-local".into(), "bl".into(), 1));
    publish(r, "both/from-remote", "br", 1, false);
    let before = lsub.publishes_until(|p| &*p.topic == "both/from-remote");
    assert_eq!(before.iter().map(|p| tp(p).0).collect::<Vec<_>>(), ["both/from-local"]);
    publish(l, "both/end", "e", 1, false);
    let before = rsub.publishes_until(|p| &*p.topic == "both/end");
    assert_eq!(before.iter().map(|p| tp(p).0).collect::<Vec<_>>(), ["both/from-remote"], "no loop");

    // Retained: stored retained on the remote.
    publish(l, "site/out/kept", "r1", 1, true);
    assert_eq!(next(&mut rsub).1, "r1");
    let mut late = Raw::v311(r, "late-sub");
    late.subscribe(1, &[("cloud/site/out/kept", 1)]);
    let p = late.recv_publish_ack();
    assert!(p.retain && &p.payload[..] == b"r1", "{p:?}");

    // The local broker dies: the remote publishes the bridge's will.
    local.stop();
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "0"), "0");
}

#[test]
fn mq_bridged_to_mosquitto_v311() {
    let Some(mut remote) = Broker::mosquitto_conf(|port| conf(port, "")) else { return };
    mq_bridged_to(&mut remote, "mqttv311");
}

#[test]
fn mq_bridged_to_mosquitto_v5() {
    let Some(mut remote) = Broker::mosquitto_conf(|port| conf(port, "")) else { return };
    mq_bridged_to(&mut remote, "mqttv50");
}

#[test]
fn mq_bridged_to_mq_v311_and_v5() {
    for version in ["mqttv311", "mqttv50"] {
        let mut remote = Broker::mq_conf(|port| conf(port, ""));
        mq_bridged_to(&mut remote, version);
    }
}

/// A Mosquitto bridged to `mq broker`: mq accepts the bridge (protocol level with 0x80, its state
/// topic under `$SYS`), does not send it back what it forwards (no loop on `both`), and keeps the
/// retain flag of what it sends it (a retained message stays retained on Mosquitto's side).
fn mosquitto_bridged_to_mq(version: &str) {
    let mq = Broker::mq_conf(|port| conf(port, ""));
    let m = mq.port;
    let Some(mosq) = Broker::mosquitto_conf(|port| {
        conf(
            port,
            &bridge(
                m,
                &format!(
                    "bridge_protocol_version {version}\ntopic up/# out 1\ntopic down/# in 1\ntopic loop/# both 1\n"
                ),
            ),
        )
    }) else {
        return;
    };
    let q = mosq.port;
    assert_eq!(sys_value_reaches(m, STATE, |v| v == "1"), "1");

    let mut msub = sub(m, "mq-sub", &["up/#", "loop/#"]);
    publish(q, "up/a", "u1", 1, false);
    assert_eq!(next(&mut msub), ("up/a".into(), "u1".into(), 1));

    let mut qsub = sub(q, "mosq-sub", &["down/#", "loop/#"]);
    publish(m, "down/b", "d1", 1, false);
    assert_eq!(next(&mut qsub), ("down/b".into(), "d1".into(), 1));

    // both: once on each side, nothing echoed back by mq.
    publish(q, "loop/x", "lx", 1, false);
    assert_eq!(next(&mut msub), ("loop/x".into(), "lx".into(), 1));
    publish(m, "loop/end", "e", 1, false);
    let before = qsub.publishes_until(|p| &*p.topic == "loop/end");
    assert_eq!(before.iter().map(|p| tp(p).0).collect::<Vec<_>>(), ["loop/x"], "mq echoed the bridge's message");

    // Retained on mq, forwarded with its retain flag: retained on Mosquitto too.
    publish(m, "down/kept", "k", 1, true);
    assert_eq!(next(&mut qsub).1, "k");
    let mut late = Raw::v311(q, "late-sub");
    late.subscribe(1, &[("down/kept", 1)]);
    let p = late.recv_publish_ack();
    assert!(p.retain && &p.payload[..] == b"k", "{p:?}");
}

#[test]
fn mosquitto_bridged_to_mq_v311() {
    mosquitto_bridged_to_mq("mqttv311");
}

#[test]
fn mosquitto_bridged_to_mq_v5() {
    mosquitto_bridged_to_mq("mqttv50");
}

/// The remote goes down; 1,000 QoS 1 messages published locally meanwhile are all delivered, in order,
/// once it is back on the same port (the remote subscriber's session survives there by persistence).
#[test]
fn store_and_forward_while_the_remote_is_down() {
    const N: usize = 1000;
    // The remote's store, writable by the user it runs as once started as root.
    let store = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(store.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let persistence = format!("persistence true\npersistence_location {}/", store.path().display());
    let mut remote = Broker::mq_conf(|port| conf(port, &persistence));
    let r = remote.port;
    let local = Broker::mq_conf(|port| conf(port, &bridge(r, "topic saf/# out 1\n")));
    let l = local.port;
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "1"), "1");
    let subscriber = wire::Connect::v311("saf-sub").clean(false);
    let (mut s, _) = Raw::connect(r, &subscriber);
    s.subscribe(1, &[("saf/#", 1)]);
    drop(s);

    remote.stop();
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "0"), "0");
    let mut p = Raw::v311(l, "saf-pub");
    for i in 0..N {
        p.publish(&wire::Pub::new("saf/m", i.to_string()).qos(1, u16::try_from(i % 60_000 + 1).expect("fits")));
    }
    let back = Instant::now();
    remote.start_again();
    let (mut s, _) = Raw::connect(r, &subscriber);
    let got: Vec<String> = (0..N).map(|_| tp(&s.recv_publish_ack()).1).collect();
    eprintln!("{N} QoS 1 messages delivered {:?} after the remote came back", back.elapsed());
    let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "1"), "1");
}

/// Two mq brokers bridged `both` ways on the same topics (the first address of the bridge is dead:
/// it fails over to the second): a message published on either side arrives once on each side.
#[test]
fn two_mq_brokers_bridged_both_ways_do_not_loop() {
    for version in ["mqttv311", "mqttv50"] {
        let b = Broker::mq_conf(|port| conf(port, ""));
        let bp = b.port;
        let dead = free_port();
        let a = Broker::mq_conf(|port| {
            conf(
                port,
                &format!(
                    "connection b\naddresses 127.0.0.1:{dead} 127.0.0.1:{bp}\nremote_clientid edge\n\
                     restart_timeout 1\nbridge_protocol_version {version}\ntopic loop/# both 1\n"
                ),
            )
        });
        let ap = a.port;
        assert_eq!(sys_value_reaches(bp, STATE, |v| v == "1"), "1");
        let mut asub = sub(ap, "a-sub", &["loop/#"]);
        let mut bsub = sub(bp, "b-sub", &["loop/#"]);
        for reverse in [false, true] {
            let (from, to) = if reverse { (bp, ap) } else { (ap, bp) };
            let (fsub, tsub) = if reverse { (&mut bsub, &mut asub) } else { (&mut asub, &mut bsub) };
            publish(from, "loop/once", "1", 1, false);
            assert_eq!(fsub.recv_publish_ack().topic.as_ref(), "loop/once");
            assert_eq!(tsub.recv_publish_ack().topic.as_ref(), "loop/once", "{version}: crossed");
            // A marker on the same path back: an echo of the message would come before it.
            publish(to, "loop/end", "e", 1, false);
            assert!(tsub.publishes_until(|p| &*p.topic == "loop/end").is_empty(), "{version}");
            assert!(fsub.publishes_until(|p| &*p.topic == "loop/end").is_empty(), "{version}: looped back");
        }
    }
}

/// A client connecting with the bridge bit (0x84) is treated as a bridge: its own messages are not
/// sent back to it, and retained messages reach it with their retain flag.
#[test]
fn a_client_announcing_a_bridge_gets_no_local_and_retain_as_published() {
    let b = Broker::mq_conf(|port| conf(port, ""));
    let (mut bridge, _) = Raw::connect(b.port, &wire::Connect::level(0x84, "a-bridge"));
    bridge.subscribe(1, &[("t/#", 1)]);
    bridge.publish(&wire::Pub::new("t/own", "mine").qos(1, 2));
    publish(b.port, "t/kept", "r", 1, true);
    let p = bridge.recv_publish_ack();
    assert_eq!(tp(&p), ("t/kept".into(), "r".into()), "its own message came back first");
    assert!(p.retain, "retain flag kept as published");
    // A plain 3.1.1 client gets a live message without the retain flag.
    let mut plain = sub(b.port, "plain", &["t/#"]);
    assert!(plain.recv_publish_ack().retain, "the retained message on subscribing");
    publish(b.port, "t/kept", "r2", 1, true);
    let p = plain.recv_publish_ack();
    assert!(tp(&p) == ("t/kept".into(), "r2".into()) && !p.retain, "{p:?}");
}

/// With `persistence true` on the local broker, messages queued for a remote that is down survive a
/// `kill -9` of the local broker: all arrive, in order, once both are back.
#[test]
fn store_and_forward_survives_a_local_kill_9() {
    const N: usize = 200;
    let store = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(store.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let persistence = format!("persistence true\npersistence_location {}/\n", store.path().display());
    let mut remote = Broker::mq_conf(|port| conf(port, ""));
    let r = remote.port;
    let mut local = Broker::mq_conf(|port| conf(port, &format!("{persistence}{}", bridge(r, "topic kill/# out 1\n"))));
    let l = local.port;
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "1"), "1");
    remote.stop();
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "0"), "0");
    let mut p = Raw::v311(l, "kill-pub");
    for i in 0..N {
        p.publish(&wire::Pub::new("kill/m", i.to_string()).qos(1, u16::try_from(i + 1).expect("fits")));
    }
    drop(p);
    local.stop();
    remote.start_again();
    // The remote lost its sessions (no persistence there): subscribe before the bridge comes back
    // (the local broker starts again only then, or its bridge could deliver before anyone listens).
    let mut s = sub(r, "kill-sub", &["kill/#"]);
    local.start_again();
    let got: Vec<String> = (0..N).map(|_| tp(&s.recv_publish_ack()).1).collect();
    let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
}

/// SIGHUP applies a changed bridge section (the bridge restarts with its new topics) and a removed
/// one (the bridge stops: the remote publishes its will).
#[test]
fn sighup_applies_changed_and_removed_bridges() {
    let remote = Broker::mq_conf(|port| conf(port, ""));
    let r = remote.port;
    let local = Broker::mq_conf(|port| conf(port, &bridge(r, "topic first/# out 1\n")));
    let l = local.port;
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "1"), "1");
    let mut s = sub(r, "hup-sub", &["first/#", "second/#"]);
    publish(l, "first/a", "1", 1, false);
    assert_eq!(next(&mut s).0, "first/a");

    let path = local.dir().join("broker.conf");
    let text = std::fs::read_to_string(&path).expect("read conf");
    std::fs::write(&path, text.replace("topic first/# out 1", "topic second/# out 1")).expect("write conf");
    local.signal("HUP");
    local.wait_log("Bridge b stopped.");
    let deadline = Instant::now() + crate::harness::TIMEOUT;
    while local.log().matches("Bridge b connected.").count() < 2 {
        assert!(Instant::now() < deadline, "the bridge never came back:\n{}", local.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    publish(l, "first/b", "no longer forwarded", 1, false);
    publish(l, "second/a", "2", 1, false);
    let before = s.publishes_until(|p| &*p.topic == "second/a");
    assert!(before.is_empty(), "{before:?}");

    let text = std::fs::read_to_string(&path).expect("read conf");
    let cut = text.find("connection b").expect("bridge section");
    std::fs::write(&path, &text[..cut]).expect("write conf");
    local.signal("HUP");
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "0"), "0");
}

/// `start_type once`: the bridge is not restarted when its connection ends.
#[test]
fn start_type_once_is_not_restarted() {
    let mut remote = Broker::mq_conf(|port| conf(port, ""));
    let r = remote.port;
    let local = Broker::mq_conf(|port| conf(port, &bridge(r, "start_type once\ntopic x/# out 1\n")));
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "1"), "1");
    remote.stop();
    local.wait_log("Bridge b ended (start_type once: not restarted).");
}

/// A remote with a plain listener on its port (for the tests' clients) and a TLS one on `tls_port`
/// (server certificate from `ca`, client certificates from `ca` required), bound to all addresses.
fn tls_remote_conf(port: u16, tls_port: u16, pki: &Pki) -> String {
    conf(
        port,
        &format!(
            "listener {tls_port} 0.0.0.0\n{}cafile {}\nrequire_certificate true\nallow_anonymous true\n",
            pki.server_lines(),
            pki.p("ca.crt")
        ),
    )
}

/// The TLS lines of a bridge trusting `ca` with alice's client certificate, then `extra`.
fn tls_bridge(pki: &Pki, ca: &str, extra: &str) -> String {
    format!(
        "bridge_cafile {}\nbridge_certfile {}\nbridge_keyfile {}\n{extra}topic up/# out 1\ntopic down/# in 1\n",
        pki.p(ca),
        pki.p("alice.crt"),
        pki.p("alice.key")
    )
}

/// `mq broker` bridged over TLS to `remote`'s TLS listener on `tls_port`, with a client certificate
/// (the remote requires one): messages cross both ways.
fn mq_bridged_over_tls(remote: &Broker, tls_port: u16, pki: &Pki, extra: &str) {
    let r = remote.port;
    crate::broker_ws::wait_port(remote, tls_port);
    let lines = tls_bridge(pki, "ca.crt", extra);
    let local = Broker::mq_conf(|port| conf(port, &bridge(tls_port, &lines)));
    let l = local.port;
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "1"), "1", "{}", local.log());
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "1"), "1");
    let mut rsub = sub(r, "tls-remote-sub", &["up/#"]);
    let mut lsub = sub(l, "tls-local-sub", &["down/#"]);
    publish(l, "up/a", "over tls", 1, false);
    assert_eq!(next(&mut rsub), ("up/a".into(), "over tls".into(), 1));
    publish(r, "down/b", "back over tls", 1, false);
    assert_eq!(next(&mut lsub), ("down/b".into(), "back over tls".into(), 1));
}

#[test]
fn mq_bridged_over_tls_to_mosquitto() {
    let pki = Pki::new();
    pki.readable_by_all();
    let tls_port = free_port();
    let Some(remote) = Broker::mosquitto_conf(|port| tls_remote_conf(port, tls_port, &pki)) else { return };
    mq_bridged_over_tls(&remote, tls_port, &pki, "bridge_tls_version tlsv1.2\n");
}

#[test]
fn mq_bridged_over_tls_to_mq() {
    let pki = Pki::new();
    pki.readable_by_all();
    let tls_port = free_port();
    let remote = Broker::mq_conf(|port| tls_remote_conf(port, tls_port, &pki));
    mq_bridged_over_tls(&remote, tls_port, &pki, "bridge_tls_version tlsv1.3\n");
}

/// The remote's certificate names 127.0.0.1 and localhost, not 127.0.0.2: the host name check refuses
/// it, `bridge_insecure true` skips the check (the chain is still verified).
#[test]
fn bridge_insecure_skips_the_host_name_check_only() {
    let pki = Pki::new();
    pki.readable_by_all();
    let tls_port = free_port();
    let remote = Broker::mq_conf(|port| tls_remote_conf(port, tls_port, &pki));
    crate::broker_ws::wait_port(&remote, tls_port);
    let section = |extra: &str| {
        format!(
            "connection b\naddress 127.0.0.2:{tls_port}\nremote_clientid edge\nrestart_timeout 1\n{}",
            tls_bridge(&pki, "ca.crt", extra)
        )
    };
    let strict = Broker::mq_conf(|port| conf(port, &section("")));
    strict.wait_log("invalid peer certificate: certificate not valid for name \"127.0.0.2\"");
    let insecure = Broker::mq_conf(|port| conf(port, &section("bridge_insecure true\n")));
    assert_eq!(sys_value_reaches(insecure.port, STATE, |v| v == "1"), "1", "{}", insecure.log());
    assert!(!strict.log().contains("Bridge b connected."), "{}", strict.log());
}

/// `bridge_alpn`: the protocol is offered in the TLS handshake (seen by `openssl s_server`).
#[test]
fn bridge_alpn_is_offered() {
    let pki = Pki::new();
    pki.readable_by_all();
    let tls_port = free_port();
    let server =
        crate::harness::Proc::spawn(crate::harness::command("openssl").stdin(std::process::Stdio::piped()).args([
            "s_server",
            "-accept",
            &tls_port.to_string(),
            "-cert",
            &pki.p("server.crt"),
            "-key",
            &pki.p("server.key"),
            "-alpn",
            "mqtt",
        ]));
    server.wait_for("ACCEPT");
    let lines = tls_bridge(&pki, "ca.crt", "bridge_alpn mqtt\n");
    let _local = Broker::mq_conf(|port| conf(port, &bridge(tls_port, &lines)));
    server.wait_for("ALPN protocols advertised by the client: mqtt");
}

/// A bridge whose CA did not sign the remote's certificate: refused (the log says why), retried;
/// QoS 1 messages for the remote queue meanwhile and all arrive once SIGHUP gives the right CA.
#[test]
fn a_bridge_with_the_wrong_ca_is_refused_retries_and_queues() {
    let pki = Pki::new();
    pki.readable_by_all();
    let tls_port = free_port();
    let remote = Broker::mq_conf(|port| tls_remote_conf(port, tls_port, &pki));
    crate::broker_ws::wait_port(&remote, tls_port);
    let r = remote.port;
    let lines = tls_bridge(&pki, "other-ca.crt", "");
    let local = Broker::mq_conf(|port| conf(port, &bridge(tls_port, &lines)));
    let l = local.port;
    let deadline = Instant::now() + crate::harness::TIMEOUT;
    while local.log().matches("invalid peer certificate: UnknownIssuer").count() < 2 {
        assert!(Instant::now() < deadline, "the bridge is not retrying:\n{}", local.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!remote.log().contains("edge"), "the remote never saw the bridge's CONNECT:\n{}", remote.log());
    // A persistent subscriber on the remote; messages published locally while the bridge is down.
    let subscriber = wire::Connect::v311("tls-saf-sub").clean(false);
    let (mut s, _) = Raw::connect(r, &subscriber);
    s.subscribe(1, &[("up/#", 1)]);
    drop(s);
    let mut p = Raw::v311(l, "tls-saf-pub");
    for i in 0..20u16 {
        p.publish(&wire::Pub::new("up/m", i.to_string()).qos(1, i + 1));
    }
    let path = local.dir().join("broker.conf");
    let text = std::fs::read_to_string(&path).expect("read conf");
    std::fs::write(&path, text.replace("other-ca.crt", "ca.crt")).expect("write conf");
    local.signal("HUP");
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "1"), "1", "{}", local.log());
    let (mut s, _) = Raw::connect(r, &subscriber);
    let got: Vec<String> = (0..20).map(|_| tp(&s.recv_publish_ack()).1).collect();
    assert_eq!(got, (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
}

/// `bridge_max_packet_size`: a message whose PUBLISH would be larger is not sent to the remote (the log
/// says so); smaller ones after it are.
#[test]
fn bridge_max_packet_size_drops_larger_messages_for_the_remote() {
    let remote = Broker::mq_conf(|port| conf(port, ""));
    let r = remote.port;
    let local = Broker::mq_conf(|port| conf(port, &bridge(r, "bridge_max_packet_size 100\ntopic big/# out 1\n")));
    let l = local.port;
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "1"), "1");
    let mut s = sub(r, "max-sub", &["big/#"]);
    publish(l, "big/a", &"x".repeat(90), 1, false);
    publish(l, "big/b", &"y".repeat(50), 1, false);
    assert_eq!(next(&mut s), ("big/b".into(), "y".repeat(50), 1));
    local.wait_log("Bridge b dropped a message for the remote");
}

/// `bridge_bind_address`: the connection to the remote comes from that address.
#[test]
fn bridge_bind_address_is_the_source_of_the_connection() {
    let remote = Broker::mq_conf(|port| conf(port, ""));
    let r = remote.port;
    let local = Broker::mq_conf(|port| conf(port, &bridge(r, "bridge_bind_address 127.0.0.2\ntopic x/# out 1\n")));
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "1"), "1", "{}", local.log());
    remote.wait_log("New client connected from 127.0.0.2:");
}

/// How many times the bridge `edge` connected to the broker of `log`.
fn bridge_connections(log: &str) -> usize {
    log.matches(" as edge (").count()
}

/// The bridge connections `remote`'s log shows once it shows `n` (or after 10 s): its lines are read
/// from the broker's output by a thread of their own, so a line can lag behind the traffic it announced.
fn bridge_connections_reach(remote: &Broker, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = bridge_connections(&remote.log());
        if seen >= n || Instant::now() >= deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `start_type lazy`: no connection while fewer than `threshold` messages wait for the remote (the
/// local state is `0`); at the threshold it connects and delivers them all in order; after
/// `idle_timeout` without a message it disconnects (state `0` on both sides), and connects again when
/// the threshold is reached again.
#[test]
fn lazy_bridge_connects_at_the_threshold_and_lets_go_when_idle() {
    lazy_bridge_to(&Broker::mq_conf(|port| conf(port, "")));
}

#[test]
fn lazy_bridge_to_mosquitto() {
    let Some(remote) = Broker::mosquitto_conf(|port| conf(port, "")) else { return };
    lazy_bridge_to(&remote);
}

/// A lazy bridge (`threshold 5`, `idle_timeout 2`) to `remote` (any broker).
fn lazy_bridge_to(remote: &Broker) {
    let r = remote.port;
    let mut s = sub(r, "lazy-sub", &["lazy/#"]);
    let local = Broker::mq_conf(|port| {
        conf(port, &bridge(r, "start_type lazy\nthreshold 5\nidle_timeout 2\ntopic lazy/# out 1\n"))
    });
    let l = local.port;
    assert_eq!(sys_value_reaches(l, STATE, |v| !v.is_empty()), "0");
    let mut p = Raw::v311(l, "lazy-pub");
    let mut pid = 0u16;
    let mut send = |p: &mut Raw, from: usize, to: usize| {
        for i in from..to {
            pid += 1;
            p.publish(&wire::Pub::new("lazy/m", i.to_string()).qos(1, pid));
        }
    };
    send(&mut p, 0, 4);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    s.expect_silence();
    assert_eq!(bridge_connections(&remote.log()), 0, "connected below the threshold:\n{}", remote.log());

    send(&mut p, 4, 5);
    let got: Vec<String> = (0..5).map(|_| tp(&s.recv_publish_ack()).1).collect();
    assert_eq!(got, ["0", "1", "2", "3", "4"]);
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "1"), "1");
    // Traffic keeps it up: a message a second for longer than idle_timeout.
    for i in 5..8 {
        send(&mut p, i, i + 1);
        assert_eq!(tp(&s.recv_publish_ack()).1, i.to_string());
        std::thread::sleep(std::time::Duration::from_millis(1000));
    }
    assert!(!local.log().contains("exceeded idle timeout"), "{}", local.log());

    // Idle: it lets go (the remote publishes its will) and the local state says so.
    let idle_from = Instant::now();
    local.wait_log("Bridge connection local.edge has exceeded idle timeout, disconnecting.");
    let idle_after = idle_from.elapsed();
    assert!(idle_after >= std::time::Duration::from_millis(800), "idle after {idle_after:?}");
    assert_eq!(sys_value_reaches(r, STATE, |v| v == "0"), "0");
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "0"), "0");

    // Below the threshold again: still down; at it, up again and all delivered.
    send(&mut p, 8, 12);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    s.expect_silence();
    assert_eq!(bridge_connections(&remote.log()), 1, "{}", remote.log());
    send(&mut p, 12, 13);
    let got: Vec<String> = (8..13).map(|_| tp(&s.recv_publish_ack()).1).collect();
    assert_eq!(got, ["8", "9", "10", "11", "12"]);
    assert_eq!(bridge_connections_reach(remote, 2), 2, "{}", remote.log());
}

/// A password file with `users` (`mq-passwd -b`) in `dir`.
fn password_file(dir: &std::path::Path, users: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join("passwords");
    for (i, (u, p)) in users.iter().enumerate() {
        let mut cmd = crate::harness::mq("mq-passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        assert!(cmd.arg("-b").arg(&path).arg(u).arg(p).status().expect("mq-passwd runs").success());
    }
    path
}

/// A local broker with a password file and an ACL (anonymous clients may do anything; the user
/// `bridge` may write `in/ok/#` and read `out/ok/#` only), bridged to `remote` as `local_username
/// bridge` with `password`, local client id `edge-local`.
fn local_with_identity(dir: &std::path::Path, remote: u16, password: &str) -> Broker {
    let pw = password_file(dir, &[("bridge", "bridge-pw")]);
    let acl = dir.join("acl");
    std::fs::write(
        &acl,
        "topic readwrite #\ntopic read $SYS/#\n\nuser bridge\ntopic write in/ok/#\ntopic read out/ok/#\n",
    )
    .expect("write acl");
    Broker::mq_conf(|port| {
        conf(
            port,
            &format!(
                "password_file {}\nacl_file {}\n{}",
                pw.display(),
                acl.display(),
                bridge(
                    remote,
                    &format!(
                        "local_clientid edge-local\nlocal_username bridge\nlocal_password {password}\n\
                         topic in/# in 1\ntopic out/# out 1\n"
                    )
                )
            ),
        )
    })
}

/// `local_username`/`local_password`: the bridge logs in to its own broker as that user (with its
/// `local_clientid`), and that user's ACL applies: a message from the remote on a topic it may not
/// write is dropped, a local message on a topic it may not read is not forwarded.
#[test]
fn local_username_acl_applies_to_what_the_bridge_carries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = Broker::mq_conf(|port| conf(port, ""));
    let r = remote.port;
    let local = local_with_identity(dir.path(), r, "bridge-pw");
    let l = local.port;
    assert_eq!(sys_value_reaches(l, STATE, |v| v == "1"), "1", "{}", local.log());
    let line = local.wait_log("as edge-local (");
    assert!(line.lines().any(|l| l.contains("as edge-local (") && l.contains("u'bridge'")), "{line}");

    let mut lsub = sub(l, "acl-local-sub", &["in/#"]);
    publish(r, "in/no/a", "denied", 1, false);
    publish(r, "in/ok/b", "allowed", 1, false);
    let before = lsub.publishes_until(|p| &*p.topic == "in/ok/b");
    assert!(before.is_empty(), "a topic local_username may not write came in: {before:?}");

    let mut rsub = sub(r, "acl-remote-sub", &["out/#"]);
    publish(l, "out/no/c", "denied", 1, false);
    publish(l, "out/ok/d", "allowed", 1, false);
    let before = rsub.publishes_until(|p| &*p.topic == "out/ok/d");
    assert!(before.is_empty(), "a topic local_username may not read went out: {before:?}");
}

/// Wrong `local_password`: the local broker refuses the bridge's login, the log says so, and the bridge
/// is not started (the remote never sees it).
#[test]
fn wrong_local_password_stops_the_bridge_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = Broker::mq_conf(|port| conf(port, ""));
    let local = local_with_identity(dir.path(), remote.port, "wrong");
    local.wait_log("Bridge b: the local broker refused local_username bridge (");
    local.wait_log("the bridge is not started.");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(bridge_connections(&remote.log()), 0, "{}", remote.log());
    assert!(!local.log().contains("Connecting bridge b"), "{}", local.log());
}

/// A lazy bridge queues QoS 0 messages for the remote too (as Mosquitto does), and they count towards
/// its threshold: three QoS 0 messages start a bridge with `threshold 3`, and all three arrive.
#[test]
fn lazy_bridge_counts_and_delivers_qos0_messages() {
    let remote = Broker::mq_conf(|port| conf(port, ""));
    let r = remote.port;
    let mut s = sub(r, "lazy0-sub", &["lazy0/#"]);
    let local = Broker::mq_conf(|port| conf(port, &bridge(r, "start_type lazy\nthreshold 3\ntopic lazy0/# out 0\n")));
    let l = local.port;
    assert_eq!(sys_value_reaches(l, STATE, |v| !v.is_empty()), "0");
    for i in 0..2 {
        publish(l, "lazy0/m", &i.to_string(), 0, false);
    }
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(bridge_connections(&remote.log()), 0, "connected below the threshold:\n{}", remote.log());
    publish(l, "lazy0/m", "2", 0, false);
    let got: Vec<(String, String, u8)> = (0..3).map(|_| next(&mut s)).collect();
    let want: Vec<(String, String, u8)> = (0..3).map(|i| ("lazy0/m".into(), i.to_string(), 0)).collect();
    assert_eq!(got, want);
}

/// A lazy bridge with a clean local session could never queue enough to start: the log says so.
#[test]
fn lazy_bridge_with_a_clean_local_session_is_warned_about() {
    let remote = Broker::mq_conf(|port| conf(port, ""));
    let local = Broker::mq_conf(|port| {
        conf(port, &bridge(remote.port, "start_type lazy\ncleansession true\ntopic x/# out 1\n"))
    });
    local.wait_log("Bridge b: start_type lazy with a clean local session");
}

/// A remote that sends PINGREQ to the bridge (MQTT has servers never do it) gets PINGRESP, as from a
/// Mosquitto bridge, and the link stays up.
#[test]
fn a_pingreq_from_the_remote_is_answered() {
    use std::io::{Read, Write};
    use std::time::Duration;
    let remote = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let remote_port = remote.local_addr().unwrap().port();
    let _local = Broker::mq_conf(|port| conf(port, &bridge(remote_port, "topic ping/# out 0\n")));
    let (mut s, _) = remote.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = bytes::BytesMut::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    // Reads until a packet `want` accepts arrives.
    let mut wait_for = |s: &mut std::net::TcpStream, want: &dyn Fn(&mq_proto::Packet) -> bool| loop {
        while let Some(p) = mq_proto::decode(&mut buf, mq_proto::ProtocolVersion::V311, usize::MAX).unwrap() {
            if want(&p) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "nothing suitable from the bridge");
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) => panic!("the bridge closed the connection"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    };
    wait_for(&mut s, &|p| matches!(p, mq_proto::Packet::Connect(_)));
    s.write_all(&[0x20, 2, 0, 0]).unwrap();
    s.write_all(&[0xC0, 0]).unwrap();
    wait_for(&mut s, &|p| matches!(p, mq_proto::Packet::PingResp));
}
