//! Exit statuses of the tools and the broker for the same failures as Mosquitto 2.0's: every case
//! states Mosquitto's status, our binary must exit with it, and when Mosquitto's tools are installed
//! they are run on the same case and must exit with it too (so the table is checked against the real
//! thing, not against our reading of it).
//!
//! The broker side of a failure (a connection closed at once, a reset after CONNACK, a packet of a
//! reserved type, a DISCONNECT) comes from a scripted TCP peer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{Broker, Proc, mosquitto_bin, mq};

/// What the scripted peer does with each connection after reading the CONNECT.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Closes the connection without answering.
    Close,
    /// Accepts (MQTT 3.1.1 CONNACK 0) and resets the connection.
    AcceptThenReset,
    /// Sends a packet of the reserved type 15.
    Reserved,
    /// Accepts (MQTT 5 CONNACK) and sends DISCONNECT 0x8E (session taken over).
    Disconnect,
}

/// A peer on a free loopback port playing `script` to every connection; returns the port.
fn scripted_peer(script: Script) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || play(conn, script));
        }
    });
    port
}

fn play(mut conn: TcpStream, script: Script) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 1024];
    if !matches!(conn.read(&mut buf), Ok(n) if n > 0) {
        return;
    }
    match script {
        Script::Close => {}
        Script::AcceptThenReset => {
            let _ = conn.write_all(&[0x20, 2, 0, 0]);
            // Whatever the client sends next (its PUBLISH) is left unread: closing then resets.
            std::thread::sleep(Duration::from_millis(200));
            let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
        }
        Script::Reserved => {
            let _ = conn.write_all(&[0xF0, 0]);
            std::thread::sleep(Duration::from_millis(500));
        }
        Script::Disconnect => {
            let _ = conn.write_all(&[0x20, 3, 0, 0, 0]);
            std::thread::sleep(Duration::from_millis(100));
            let _ = conn.write_all(&[0xE0, 2, 0x8E, 0]);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Runs a program with `args` and returns its exit status and stderr.
fn status_of(mut cmd: std::process::Command, args: &[String]) -> (Option<i32>, String) {
    cmd.args(args).stdin(Stdio::null());
    let mut p = Proc::spawn(&mut cmd);
    let status = p.wait();
    (status.code(), p.stderr.text())
}

/// Checks that our `tool` exits with `expected` for `args`, and Mosquitto's counterpart too when installed.
fn check(tool: &str, mosquitto: &str, args: &[String], expected: i32, what: &str) {
    let (ours, err) = status_of(mq(tool), args);
    assert_eq!(ours, Some(expected), "{tool} {args:?} ({what}): stderr {err}");
    if let Some(path) = mosquitto_bin(mosquitto) {
        let (theirs, err) = status_of(crate::harness::command(path), args);
        assert_eq!(theirs, Some(expected), "{mosquitto} {args:?} ({what}): stderr {err}");
    }
}

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

const TOOLS: [(&str, &str, &str); 3] = [
    ("mq-pub", "mosquitto_pub", "-t t -m x -q 1"),
    ("mq-sub", "mosquitto_sub", "-t t"),
    ("mq-rr", "mosquitto_rr", "-t t -e r -m x"),
];

#[test]
fn usage_refused_connections_and_timeouts() {
    let closed = crate::harness::free_port();
    for (tool, mosquitto, rest) in TOOLS {
        check(tool, mosquitto, &args("-z"), 1, "unknown option");
        check(tool, mosquitto, &args(&format!("-p {closed} {rest}")), 1, "nothing listening");
    }
    let broker = Broker::mq("");
    check("mq-sub", "mosquitto_sub", &args(&format!("-p {} -t t -W 1", broker.port)), 27, "-W ran out");
    check("mq-rr", "mosquitto_rr", &args(&format!("-p {} -t t -e r -m x -W 1", broker.port)), 27, "-W ran out");
}

#[test]
fn refused_authentication_exits_with_the_connack_code() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    assert!(mq("mq-passwd").arg("-c").arg("-b").arg(&pw).arg("alice").arg("secret").status().unwrap().success());
    let broker = Broker::mq_conf(|port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", pw.display())
    });
    for (tool, mosquitto, rest) in TOOLS {
        let base = format!("-p {} -u alice -P wrong {rest}", broker.port);
        if tool != "mq-rr" {
            // MQTT 3.1.1: CONNACK return code 5 (not authorised); mq-rr always speaks MQTT 5.
            check(tool, mosquitto, &args(&base), 5, "bad password, 3.1.1");
        }
        check(tool, mosquitto, &args(&format!("{base} -V 5")), 135, "bad password, MQTT 5");
    }
}

#[test]
fn lost_connections_exit_7() {
    let closing = scripted_peer(Script::Close);
    // mosquitto_sub retries a connection closed before CONNACK forever, silently; mq-sub gives up
    // with the status of a lost connection (README, Differences from Mosquitto).
    check("mq-pub", "mosquitto_pub", &args(&format!("-p {closing} -t t -m x")), 7, "closed before CONNACK");
    check("mq-rr", "mosquitto_rr", &args(&format!("-p {closing} -t t -e r -m x")), 7, "closed before CONNACK");
    let (sub, err) = status_of(mq("mq-sub"), &args(&format!("-p {closing} -t t")));
    assert_eq!(sub, Some(7), "mq-sub, closed before CONNACK: {err}");
    assert!(err.contains("Error: The connection was lost."), "{err}");

    let resetting = scripted_peer(Script::AcceptThenReset);
    check("mq-pub", "mosquitto_pub", &args(&format!("-p {resetting} -t t -m x -q 1")), 7, "reset after CONNACK");
}

#[test]
fn protocol_errors_exit_2() {
    let peer = scripted_peer(Script::Reserved);
    check("mq-pub", "mosquitto_pub", &args(&format!("-p {peer} -t t -m x")), 2, "reserved packet type");
    check("mq-sub", "mosquitto_sub", &args(&format!("-p {peer} -t t")), 2, "reserved packet type");
}

#[test]
fn disconnect_from_the_broker_exits_4() {
    let peer = scripted_peer(Script::Disconnect);
    check("mq-pub", "mosquitto_pub", &args(&format!("-p {peer} -V 5 -t t -m x -q 1")), 4, "DISCONNECT 0x8E");
    // mosquitto_rr exits 0 here, as if it had its answer; mq-rr says what happened and exits 4.
    let (rr, err) = status_of(mq("mq-rr"), &args(&format!("-p {peer} -t t -e r -m x")));
    assert_eq!(rr, Some(4), "mq-rr: {err}");
    assert!(err.contains("Session taken over"), "{err}");
}

#[test]
fn passwd_failures_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    assert!(mq("mq-passwd").arg("-c").arg("-b").arg(&pw).arg("alice").arg("secret").status().unwrap().success());
    let pw = pw.display().to_string();
    let missing = dir.path().join("missing").display().to_string();
    let cases: [(Vec<String>, &str); 4] = [
        (vec![], "no arguments"),
        (vec!["-b".into(), pw.clone(), "u".into()], "-b without a password"),
        (vec!["-D".into(), missing, "u".into()], "no such file"),
        (vec!["-D".into(), pw, "nobody".into()], "no such user"),
    ];
    for (argv, what) in cases {
        check("mq-passwd", "mosquitto_passwd", &argv, 1, what);
    }
}

#[test]
fn broker_usage_and_configuration_errors_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "bogus_option 1\n").unwrap();
    let missing = dir.path().join("missing.conf");
    let cases: [(Vec<String>, &str); 4] = [
        (args("-z"), "unknown option"),
        (args("-p"), "option without its value"),
        (vec!["-c".into(), bad.display().to_string()], "unknown configuration option"),
        (vec!["-c".into(), missing.display().to_string()], "missing configuration file"),
    ];
    for (argv, what) in cases {
        let mut ours = mq("mq");
        ours.arg("broker");
        let (code, err) = status_of(ours, &argv);
        assert_eq!(code, Some(3), "mq broker {argv:?} ({what}): {err}");
        if let Some(path) = mosquitto_bin("mosquitto") {
            let (code, err) = status_of(crate::harness::command(path), &argv);
            assert_eq!(code, Some(3), "mosquitto {argv:?} ({what}): {err}");
        }
    }
}
