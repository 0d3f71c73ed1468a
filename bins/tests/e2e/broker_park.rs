//! `mq broker`: idle connections park (their task ends and their socket is watched by the broker's
//! parking epoll; `$SYS/broker/clients/parked` counts them), and whatever would have woken a connection
//! resumes a parked one: bytes from its client, a delivery, keep alive running out (will published), a
//! takeover, shutdown (MQTT 5 DISCONNECT 0x8B). mq-only behaviour: these tests do not run against
//! Mosquitto.

use mq_proto::Packet;

use crate::broker_config::wait_signal_handlers;
use crate::broker_util::wire::{Connect, Pub, Will, prop};
use crate::broker_util::{Raw, sys_value_reaches, tp};
use crate::harness::Broker;

/// Waits until `$SYS/broker/clients/parked` reaches `n` (the watcher itself may be counted too).
fn parked_reaches(port: u16, n: u64) {
    sys_value_reaches(port, "$SYS/broker/clients/parked", |v| v.parse::<u64>().is_ok_and(|p| p >= n));
}

#[test]
fn parked_connections_resume_for_traffic_keep_alive_and_takeover() {
    let b = Broker::mq("sys_interval 1");
    let mut sub = Raw::v5(b.port, "park-sub");
    sub.subscribe(1, &[("park/#", 1)]);
    // Keep alive 2 s: closed after 3 s of silence, parked or not.
    let (_silent, _) =
        Raw::connect(b.port, &Connect::v311("park-silent").keep_alive(2).will(Will::new("park/will", "gone")));
    let mut idle: Vec<Raw> = (0..20).map(|i| Raw::v311(b.port, &format!("park-idle-{i}"))).collect();
    parked_reaches(b.port, 21);

    // The silent client's keep alive ran out while it was parked: closed, will published.
    let will = sub.recv_publish_ack();
    assert_eq!(tp(&will), ("park/will".to_string(), "gone".to_string()));
    b.wait_log("Client park-silent has exceeded timeout, disconnecting.");

    // Bytes from a parked client: answered.
    for c in &mut idle {
        c.ping();
    }
    // A delivery to a parked subscriber: sent (and its acknowledgement handled).
    parked_reaches(b.port, 21);
    let mut p = Raw::v311(b.port, "park-pub");
    assert_eq!(p.publish(&Pub::new("park/x", "to a parked subscriber").qos(1, 1)), 0);
    let got = sub.recv_publish_ack();
    assert_eq!(tp(&got), ("park/x".to_string(), "to a parked subscriber".to_string()));
    sub.ping();

    // A takeover of a parked connection closes the old one.
    parked_reaches(b.port, 21);
    let _new = Raw::v311(b.port, "park-idle-0");
    idle[0].expect_closed();
    // The others are still served.
    idle[1].ping();
}

#[test]
fn shutdown_reaches_parked_connections() {
    let mut b = Broker::mq("sys_interval 1");
    let mut parked = Raw::v5(b.port, "park-v5");
    parked_reaches(b.port, 1);
    wait_signal_handlers(b.pid());
    b.signal("TERM");
    let got = parked.expect_closed();
    assert!(matches!(got.last(), Some(Packet::Disconnect(d)) if d.reason.0 == 0x8B), "{got:?}");
    assert!(b.wait_exit().success());
    b.wait_log("terminating");
}

#[test]
fn a_parked_client_that_closes_its_socket_is_cleaned_up() {
    let b = Broker::mq("sys_interval 1");
    let mut sub = Raw::v311(b.port, "park-watch");
    sub.subscribe(1, &[("gone/#", 0)]);
    let (gone, _) = Raw::connect(b.port, &Connect::v311("park-gone").will(Will::new("gone/x", "closed")));
    parked_reaches(b.port, 2);
    gone.drop_connection();
    assert_eq!(tp(&sub.recv_publish()), ("gone/x".to_string(), "closed".to_string()));
    b.wait_log("Client park-gone closed its connection.");
    sys_value_reaches(b.port, "$SYS/broker/clients/connected", |v| v == "2");
}

#[test]
fn a_parked_connection_keeps_its_protocol_state() {
    let b = Broker::mq("sys_interval 1");
    let mut sub = Raw::v5(b.port, "keep-sub");
    sub.subscribe(1, &[("keep/#", 2)]);
    let mut p = Raw::v5(b.port, "keep-pub");
    // A topic alias set before parking...
    assert_eq!(p.publish(&Pub::new("keep/alias", "set").qos(1, 1).prop(prop::u16(prop::TOPIC_ALIAS, 1))), 0);
    assert_eq!(tp(&sub.recv_publish_ack()), ("keep/alias".to_string(), "set".to_string()));
    // Both parked (and the watcher).
    parked_reaches(b.port, 3);
    // ... still resolves once the publisher is resumed; QoS 2 both ways, through parked connections.
    assert_eq!(p.publish(&Pub::new("", "after").qos(2, 2).prop(prop::u16(prop::TOPIC_ALIAS, 1))), 0);
    let got = sub.recv_publish_ack();
    assert_eq!(tp(&got), ("keep/alias".to_string(), "after".to_string()));
    assert_eq!(got.qos, mq_proto::QoS::ExactlyOnce);
    // Again after parking a second time: QoS 0 and QoS 1.
    parked_reaches(b.port, 3);
    assert_eq!(p.publish(&Pub::new("", "zero").prop(prop::u16(prop::TOPIC_ALIAS, 1))), 0);
    assert_eq!(tp(&sub.recv_publish()), ("keep/alias".to_string(), "zero".to_string()));
    assert_eq!(p.publish(&Pub::new("keep/one", "one").qos(1, 3)), 0);
    assert_eq!(tp(&sub.recv_publish_ack()), ("keep/one".to_string(), "one".to_string()));
    // An unknown alias is still refused: the aliases are the client's own, not a fresh set.
    p.send(&Pub::new("", "unknown").prop(prop::u16(prop::TOPIC_ALIAS, 2)).v5());
    p.expect_disconnect(Some(0x82));
    sub.ping();
}

/// The parking epoll reports bytes once, as they arrive: bytes that reach a parked socket while a task
/// serves the connection on it must still be read. Each round, a broadcast wakes every parked client;
/// each answers it at once with a PUBLISH, and sends nothing after it, so its bytes arrive while the
/// broker is still finishing the serve that wrote the broadcast. Every client must get its PUBACK.
/// Between rounds the clients park again.
#[test]
fn bytes_arriving_while_a_parked_connection_is_served_are_read() {
    let b = Broker::mq("sys_interval 1");
    let n = 40;
    let mut clients: Vec<Raw> = (0..n)
        .map(|i| {
            let mut c = Raw::v311(b.port, &format!("race-{i}"));
            // QoS 0: the broadcast asks nothing of the client, so its PUBLISH is the last thing it sends.
            assert_eq!(c.subscribe(1, &[("race/all", 0)]).reason_codes[0].0, 0);
            c
        })
        .collect();
    let mut hub = Raw::v311(b.port, "race-hub");
    for round in 1..=3u16 {
        // All parked (the clients, the broadcaster and the watcher of `$SYS`); a connection served
        // twice within moments runs again, and parks after 2 s without traffic.
        if round > 1 {
            std::thread::sleep(std::time::Duration::from_millis(2600));
        }
        parked_reaches(b.port, n as u64 + 2);
        std::thread::scope(|s| {
            for (i, c) in clients.iter_mut().enumerate() {
                s.spawn(move || {
                    let p = c.recv_publish();
                    assert_eq!(tp(&p), ("race/all".to_string(), format!("round {round}")), "client {i}");
                    c.send(&Pub::new(&format!("race/own/{i}"), "mine").qos(1, round).v3());
                    match c.recv() {
                        Packet::PubAck(a) => assert_eq!(a.packet_id.get(), round, "client {i}"),
                        other => panic!("client {i}, round {round}: expected PUBACK, got {other:?}"),
                    }
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            hub.send(&Pub::new("race/all", format!("round {round}")).v3());
        });
    }
}

/// A parked client that sends more in one go than its socket holds (5 MiB): the broker empties the
/// socket, more arrives, and each arrival is reported again, up to the QoS 1 PUBLISH at the end.
#[test]
fn a_parked_client_sending_more_than_its_socket_holds_is_read_to_the_end() {
    let b = Broker::mq("sys_interval 1");
    let mut p = Raw::v311(b.port, "burst-pub");
    parked_reaches(b.port, 2);
    let chunk = vec![b'x'; 64 * 1024];
    let mut burst = Vec::new();
    for _ in 0..80 {
        burst.extend(Pub::new("burst/x", chunk.clone()).v3());
    }
    burst.extend(Pub::new("burst/end", "end").qos(1, 7).v3());
    p.send(&burst);
    match p.recv() {
        Packet::PubAck(a) => assert_eq!(a.packet_id.get(), 7),
        other => panic!("expected PUBACK, got {other:?}"),
    }
}
