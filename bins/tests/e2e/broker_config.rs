//! `mq broker` as a process: configuration errors (`file:line:` on stderr, non-zero exit), options
//! refused as "not supported yet" (TLS, WebSockets, bridge options, persistence), `--test-config`, no
//! configuration (local-only on 127.0.0.1 and ::1 port 1883), `-p`, a Unix-socket listener, two
//! listeners, `include_dir`, `mount_point`, `max_connections`, `pid_file`, `user` (privileges dropped
//! when started as root), SIGHUP reload, SIGUSR2 subscription dump, SIGTERM/SIGINT graceful shutdown
//! (MQTT 5 clients get DISCONNECT 0x8B, wills are published), `connection_messages` and `-v`.

use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use mq_proto::Packet;

use crate::broker_util::wire::{Connect, Pub, Will};
use crate::broker_util::{Raw, assert_healthy, broker, tp};
use crate::harness::{Broker, Proc, free_port, mosquitto_bin, mq};

/// Runs `mq broker args...` in `dir` to its exit; returns (status code, stderr + stdout).
fn run_to_exit(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut p = Proc::spawn(mq("mq").arg("broker").args(args).current_dir(dir).stdin(std::process::Stdio::null()));
    let status = p.wait();
    (status.code(), format!("{}{}", p.stderr.text(), p.stdout.text()))
}

/// Starts `mq broker args...` in `dir` and waits until `port` on 127.0.0.1 accepts connections.
fn start(dir: &Path, args: &[&str], port: u16) -> Proc {
    let p = Proc::spawn(mq("mq").arg("broker").args(args).current_dir(dir).stdin(std::process::Stdio::null()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < deadline, "not listening on {port}: {}", p.stderr.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    p
}

/// Waits until process `pid` catches SIGHUP, SIGINT and SIGTERM (`SigCgt` in `/proc/<pid>/status`):
/// the broker installs its handlers a moment after its listening sockets exist, and a signal before
/// that ends it with the default action.
pub fn wait_signal_handlers(pid: u32) {
    let bit = |sig: u32| 1u64 << (sig - 1);
    let want = bit(1) | bit(2) | bit(15); // SIGHUP, SIGINT, SIGTERM
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        if caught & want == want {
            return;
        }
        assert!(Instant::now() < deadline, "broker {pid} never installed its signal handlers");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().expect("kill");
    assert!(ok.success());
}

#[test]
fn a_bad_line_exits_non_zero_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, line) in [
        ("# comment\nlistener 1883 127.0.0.1\nno_such_option true\n", 3),
        ("max_inflight_messages lots\n", 1),
        ("listener 1883\n\n\nmax_connections -5x\n", 4),
    ] {
        let conf = dir.path().join("bad.conf");
        std::fs::write(&conf, text).expect("write");
        let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8")]);
        assert!(code.is_some_and(|c| c != 0), "exit {code:?} for {text:?}");
        assert!(out.contains(&format!("bad.conf:{line}:")), "no file:line in {out:?}");
    }
}

#[test]
fn a_missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = run_to_exit(dir.path(), &["-c", "/nonexistent/mq.conf"]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}");
    assert!(out.contains("/nonexistent/mq.conf"), "{out}");
}

#[test]
fn features_the_broker_cannot_offer_are_refused_with_the_line_and_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (extra, why) in [
        ("certfile /etc/ssl/server.pem\nkeyfile /etc/ssl/server.key", "unable to read certfile /etc/ssl/server.pem"),
        ("psk_hint hint", "TLS-PSK is not available"),
        ("certfile /c\nkeyfile /k\ntls_engine pkcs11", "OpenSSL engines are not available"),
    ] {
        let conf = dir.path().join("future.conf");
        std::fs::write(&conf, format!("listener {} 127.0.0.1\n{extra}\n", free_port())).expect("write");
        let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8")]);
        assert!(code.is_some_and(|c| c != 0), "exit {code:?} for {extra:?}: {out}");
        assert!(out.contains(why) && out.contains("future.conf:"), "{extra:?}: {out}");
    }
    let conf = dir.path().join("bridge.conf");
    std::fs::write(&conf, "listener 1883\nconnection other\naddress 127.0.0.1:1884\ntopic # out 0\nbridge_psk 0123\n")
        .expect("write");
    let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8")]);
    assert!(
        code.is_some_and(|c| c != 0) && out.contains("bridge.conf:5: bridge_psk: TLS-PSK is not available"),
        "{code:?} {out}"
    );
}

#[test]
fn test_config_checks_without_starting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("ok.conf");
    std::fs::write(&conf, "listener 1883 127.0.0.1\nmax_queued_messages 10\n").expect("write");
    let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8"), "--test-config"]);
    assert_eq!(code, Some(0), "{out}");
}

/// A local address that is not loopback, if the machine has one.
fn non_loopback_ipv4() -> Option<std::net::IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?; // TEST-NET-1: nothing is sent
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn without_config_it_listens_on_loopback_1883_only() {
    if std::net::TcpListener::bind("127.0.0.1:1883").is_err() {
        eprintln!("skipping: port 1883 is in use on this machine");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Proc::spawn(mq("mq").arg("broker").current_dir(dir.path()).stdin(std::process::Stdio::null()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, 1883)).is_err() {
        if p.child.try_wait().expect("try_wait").is_some() {
            eprintln!("skipping: port 1883 was taken meanwhile: {}", p.stderr.text());
            return;
        }
        assert!(Instant::now() < deadline, "not listening on 1883: {}", p.stderr.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut c = Raw::open(1883);
    if c.handshake(&Connect::v311("local-only")).code != 0 || p.child.try_wait().expect("try_wait").is_some() {
        eprintln!("skipping: another broker answered on 1883: {}", p.stderr.text());
        return;
    }
    c.ping();
    // It was ours that answered.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stderr.text().contains(" as local-only ") {
        assert!(Instant::now() < deadline, "our broker never saw the client: {}", p.stderr.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(ip) = non_loopback_ipv4() {
        assert!(TcpStream::connect((ip, 1883)).is_err(), "reachable on {ip}:1883");
    }
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        assert!(TcpStream::connect("[::1]:1883").is_ok(), "not listening on [::1]:1883");
    }
    wait_signal_handlers(p.child.id());
    signal(p.child.id(), "TERM");
    assert!(p.wait().success());
}

#[test]
fn port_option_listens_on_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _p = start(dir.path(), &["-p", &port.to_string()], port);
    Raw::v311(port, "via-p").ping();
    if let Some(ip) = non_loopback_ipv4() {
        assert!(TcpStream::connect((ip, port)).is_err(), "-p listens beyond loopback on {ip}");
    }
}

#[test]
fn port_option_is_ignored_when_the_file_has_listeners() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, ignored) = (free_port(), free_port());
    let conf = dir.path().join("l.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\n")).expect("write");
    let p = start(dir.path(), &["-c", conf.to_str().expect("utf-8"), "-p", &ignored.to_string()], port);
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, ignored)).is_err());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stderr.text().contains("-p ignored") && !p.stdout.text().contains("-p ignored") {
        assert!(Instant::now() < deadline, "no warning about -p: {}", p.stderr.text());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn unix_socket_listener_works_alongside_tcp() {
    let sockdir = tempfile::tempdir().expect("tempdir");
    let path = sockdir.path().join("mq.sock");
    let b = broker(&format!("listener 0 {}\nallow_anonymous true", path.display()));
    let mut tcp = Raw::v311(b.port, "tcp-sub");
    tcp.subscribe(1, &[("unix/t", 1)]);
    let mut ux = Raw::open_unix(&path);
    assert_eq!(ux.handshake(&Connect::v5("unix-pub")).code, 0);
    ux.publish(&Pub::new("unix/t", "over a unix socket").qos(1, 1));
    assert_eq!(tp(&tcp.recv_publish_ack()).1, "over a unix socket");

    if let Some(pubbin) = mosquitto_bin("mosquitto_pub") {
        let st = std::process::Command::new(pubbin)
            .args(["--unix", path.to_str().expect("utf-8"), "-t", "unix/t", "-m", "from mosquitto_pub", "-q", "1"])
            .status()
            .expect("mosquitto_pub");
        assert!(st.success());
        assert_eq!(tp(&tcp.recv_publish_ack()).1, "from mosquitto_pub");
    }
}

#[test]
fn two_listeners_share_one_broker() {
    let second = free_port();
    let b = broker(&format!("listener {second} 127.0.0.1\nallow_anonymous true"));
    let mut s = Raw::v311(second, "on-second");
    s.subscribe(1, &[("two/t", 1)]);
    let mut p = Raw::v311(b.port, "on-first");
    p.publish(&Pub::new("two/t", "across listeners").qos(1, 1));
    assert_eq!(tp(&s.recv_publish_ack()).1, "across listeners");
}

/// Connects `id`, retrying while the listener is full (a connection closed a moment ago may not have
/// been counted out yet, the harness's readiness probe included).
fn connect_when_free(port: u16, id: &str) -> Raw {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Raw::open(port);
        if c.try_send(&Connect::v311(id).bytes())
            && let crate::broker_util::Next::Packet(Packet::ConnAck(a)) = c.next(Duration::from_secs(2))
        {
            assert_eq!(a.code, 0);
            return c;
        }
        assert!(Instant::now() < deadline, "{id} never got a connection slot");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn max_connections_limits_a_listener() {
    let b = broker("max_connections 2");
    let mut one = connect_when_free(b.port, "one");
    let two = connect_when_free(b.port, "two");
    let mut three = Raw::open(b.port);
    let _ = three.try_send(&Connect::v311("three").bytes());
    let got = three.expect_closed();
    assert!(got.iter().all(|p| !matches!(p, Packet::ConnAck(a) if a.code == 0)), "a third client got in: {got:?}");
    one.ping();
    // A freed slot can be taken again.
    two.drop_connection();
    connect_when_free(b.port, "again").ping();
}

#[test]
fn pid_file_is_written_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Started as root, the broker runs as the `mosquitto` user and removes the file as that user.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let pid_path = dir.path().join("mq.pid");
    let mut b = broker(&format!("pid_file {}", pid_path.display()));
    // Written just after the listeners are bound, so maybe a moment after the port accepts.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        match std::fs::read_to_string(&pid_path) {
            Ok(t) if t.ends_with('\n') => break t,
            _ => assert!(Instant::now() < deadline, "no pid file"),
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(text.trim(), b.pid().to_string());
    wait_signal_handlers(b.pid());
    b.signal("TERM");
    assert!(b.wait_exit().success());
    assert!(!pid_path.exists(), "pid file left behind");
}

#[test]
fn sighup_reloads_limits() {
    let b = broker("message_size_limit 10");
    let mut p = Raw::v5(b.port, "before");
    assert_eq!(p.publish(&Pub::new("hup/t", vec![b'x'; 50]).qos(1, 1)), 0x95, "limit in force before");
    let conf = b.dir().join("broker.conf");
    std::fs::write(&conf, format!("listener {} 127.0.0.1\nallow_anonymous true\nmessage_size_limit 1000\n", b.port))
        .expect("rewrite config");
    wait_signal_handlers(b.pid());
    b.signal("HUP");
    b.wait_log("Reloading config");
    // The new limit applies as soon as the reload is done.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pid = 1;
    loop {
        pid += 1;
        if p.publish(&Pub::new("hup/t", vec![b'x'; 50]).qos(1, pid)) == 0x10 {
            break;
        }
        assert!(Instant::now() < deadline, "message_size_limit was not reloaded");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Listeners are not reloaded: still serving on the same port.
    assert_healthy(b.port);
}

/// Shuts a broker down with `sig` while a v5 client, a v3 client with a will, and a v5 subscriber to
/// the will are connected.
fn graceful(sig: &str) {
    let mut b: Broker = broker("");
    let mut watcher = Raw::v5(b.port, "watcher");
    watcher.subscribe(1, &[("bye/#", 1)]);
    let (mut willing, _) = Raw::connect(b.port, &Connect::v311("willing").will(Will::new("bye/willing", "gone")));
    willing.ping();
    wait_signal_handlers(b.pid());
    b.signal(sig);
    let got = watcher.expect_closed();
    let published: Vec<_> =
        got.iter().filter_map(|p| if let Packet::Publish(p) = p { Some(tp(p)) } else { None }).collect();
    assert_eq!(published, [("bye/willing".to_string(), "gone".to_string())], "{got:?}");
    assert!(matches!(got.last(), Some(Packet::Disconnect(d)) if d.reason.0 == 0x8B), "{got:?}");
    willing.expect_closed();
    assert!(b.wait_exit().success());
    b.wait_log("terminating");
}

#[test]
fn sigterm_shuts_down_gracefully() {
    graceful("TERM");
}

#[test]
fn sigint_shuts_down_gracefully() {
    graceful("INT");
}

#[test]
fn sigterm_right_after_start_is_graceful() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let pid_path = dir.path().join("mq.pid");
    for _ in 0..20 {
        let port = free_port();
        let conf = dir.path().join("early.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\npid_file {}\n", pid_path.display())).expect("write");
        let mut p = Proc::spawn(
            mq("mq").arg("broker").arg("-c").arg(&conf).current_dir(dir.path()).stdin(std::process::Stdio::null()),
        );
        // As soon as the port accepts connections, which is when a service manager may stop it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline && p.child.try_wait().expect("try_wait").is_none(), "did not start");
        }
        signal(p.child.id(), "TERM");
        let status = p.wait();
        assert!(status.success(), "{status:?}: {}", p.stderr.text());
        assert!(!pid_path.exists(), "pid file left behind");
    }
}

#[test]
fn verbose_logs_debug_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let conf = dir.path().join("v.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\n")).expect("write");
    let p = start(dir.path(), &["-c", conf.to_str().expect("utf-8"), "-v"], port);
    let mut c = Raw::v311(port, "chatty");
    c.publish(&Pub::new("v/t", "x").qos(1, 3));
    let deadline = Instant::now() + Duration::from_secs(10);
    let needle = "Received PUBLISH from chatty (d0, q1, r0, m3, 'v/t', ... (1 bytes))";
    while !p.stderr.text().contains(needle) && !p.stdout.text().contains(needle) {
        assert!(Instant::now() < deadline, "no debug line: {}", p.stderr.text());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn include_dir_adds_listeners() {
    let confdir = tempfile::tempdir().expect("tempdir");
    let second = free_port();
    std::fs::write(confdir.path().join("10-second.conf"), format!("listener {second} 127.0.0.1\n")).expect("write");
    std::fs::write(confdir.path().join("ignored.txt"), "this is not a config file\n").expect("write");
    let b = broker(&format!("include_dir {}", confdir.path().display()));
    let mut s = Raw::v311(second, "included");
    s.subscribe(1, &[("inc/t", 1)]);
    let mut p = Raw::v311(b.port, "main");
    p.publish(&Pub::new("inc/t", "through the included listener").qos(1, 1));
    assert_eq!(tp(&s.recv_publish_ack()).1, "through the included listener");
}

#[test]
fn mount_point_prefixes_a_listeners_topics() {
    let tenant = free_port();
    let b = broker(&format!("listener {tenant} 127.0.0.1\nmount_point tenant/"));
    let mut outside = Raw::v311(b.port, "outside");
    outside.subscribe(1, &[("tenant/#", 1)]);
    let mut inside = Raw::v311(tenant, "inside");
    inside.subscribe(1, &[("in/#", 1)]);
    // Published inside: seen outside under the prefix.
    let mut ip = Raw::v311(tenant, "inside-pub");
    ip.publish(&Pub::new("in/a", "from inside").qos(1, 1));
    assert_eq!(tp(&outside.recv_publish_ack()), ("tenant/in/a".into(), "from inside".into()));
    let m = inside.recv_publish_ack();
    assert_eq!(tp(&m), ("in/a".into(), "from inside".into()), "the prefix is stripped on delivery");
    // Published outside under the prefix: seen inside without it.
    let mut op = Raw::v311(b.port, "outside-pub");
    op.publish(&Pub::new("tenant/in/b", "from outside").qos(1, 1));
    assert_eq!(tp(&inside.recv_publish_ack()), ("in/b".into(), "from outside".into()));
    // Outside the prefix: not visible inside.
    op.publish(&Pub::new("in/c", "not for the tenant").qos(1, 2));
    op.publish(&Pub::new("tenant/in/marker", "marker").qos(1, 3));
    let got: Vec<_> = inside.publishes_until(|p| p.payload == "marker").iter().map(tp).collect();
    assert_eq!(got, []);
}

#[test]
fn connection_messages_false_keeps_connections_out_of_the_log() {
    let b = broker("connection_messages false\nlog_type all");
    let mut c = Raw::v311(b.port, "quiet-client");
    c.subscribe(1, &[("q/t", 0)]);
    // The subscribe line proves the log is flowing; no connect line came before it.
    let log = b.wait_log("quiet-client 0 q/t");
    assert!(!log.contains("New client connected"), "{log}");
}

#[test]
fn privileges_are_dropped_when_started_as_root() {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let uid_of = |status: &str| -> Option<u32> {
        status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().nth(1)?.parse().ok()
    };
    if uid_of(&status) != Some(0) {
        eprintln!("skipping: not running as root");
        return;
    }
    let b = broker("");
    // The port accepts as soon as it is bound, before the drop; clients are served only after it.
    Raw::v311(b.port, "still-serving").ping();
    let broker_status = std::fs::read_to_string(format!("/proc/{}/status", b.pid())).expect("broker status");
    assert_ne!(uid_of(&broker_status), Some(0), "the broker still runs as root");
}

#[test]
fn sigusr2_dumps_the_subscriptions() {
    let b = broker("");
    let mut c = Raw::v311(b.port, "dumped");
    c.subscribe(1, &[("dump/+/t", 1), ("$share/g/dump/s", 0)]);
    wait_signal_handlers(b.pid());
    b.signal("USR2");
    let log = b.wait_log("dump/+/t (dumped, 1)");
    assert!(log.contains("$share/g/dump/s (dumped, 0)"), "{log}");
}

#[test]
fn every_configuration_error_is_reported_in_one_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("many.conf");
    let text = format!(
        "max_topic_alias 5\nlistener {} 127.0.0.1\nplugin /p.so\nbogus_option 1\ncafile /ca.pem\n",
        free_port()
    );
    std::fs::write(&conf, text).expect("write");
    let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8")]);
    assert_eq!(code, Some(3), "{out}");
    // Placement, "not available" and unknown-option errors together, in file order, one per line.
    let lines: Vec<usize> = out
        .lines()
        .filter_map(|l| l.split("many.conf:").nth(1))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect();
    assert_eq!(lines, [1, 3, 4, 5], "{out}");
    assert!(out.contains("many.conf:1: max_topic_alias is a listener option"), "{out}");
    assert!(out.contains("many.conf:3: plugin: plugins are not supported"), "{out}");
    assert!(out.contains("many.conf:5: cafile: TLS needs certfile and keyfile"), "{out}");
}

#[test]
fn options_before_any_listener_open_the_default_listener() {
    // With listener sections too: accepted, and a warning says what it does.
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("top.conf");
    std::fs::write(&conf, format!("max_qos 1\nlistener {} 127.0.0.1\n", free_port())).expect("write");
    let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8"), "--test-config"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("top.conf:1: max_qos outside any listener section opens the default listener"), "{out}");

    // Alone: the default listener, port 1883 on every interface, with those options (as Mosquitto).
    if std::net::TcpListener::bind("0.0.0.0:1883").is_err() {
        eprintln!("skipping the rest: port 1883 is in use on this machine");
        return;
    }
    let conf = dir.path().join("default.conf");
    std::fs::write(&conf, "allow_anonymous true\nmax_qos 1\n").expect("write");
    let mut p = Proc::spawn(
        mq("mq").arg("broker").arg("-c").arg(&conf).current_dir(dir.path()).stdin(std::process::Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, 1883)).is_err() {
        if p.child.try_wait().expect("try_wait").is_some() {
            let out = p.stderr.text();
            assert!(out.contains("in use"), "the broker refused the configuration: {out}");
            eprintln!("skipping the rest: port 1883 was taken meanwhile: {out}");
            return;
        }
        assert!(Instant::now() < deadline, "not listening on 1883: {}", p.stderr.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut c = Raw::open(1883);
    let ack = c.handshake(&Connect::v5("default-listener"));
    if !p.stderr.text().contains("default-listener") && p.child.try_wait().expect("try_wait").is_some() {
        eprintln!("skipping the rest: another broker answered on 1883");
        return;
    }
    assert_eq!((ack.code, ack.properties.maximum_qos), (0, Some(1)), "max_qos 1 not applied: {ack:?}");
    c.ping();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stderr.text().contains("as default-listener") {
        assert!(Instant::now() < deadline, "our broker never saw the client: {}", p.stderr.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    // Every interface, as Mosquitto's default listener.
    if let Some(ip) = non_loopback_ipv4() {
        assert!(TcpStream::connect((ip, 1883)).is_ok(), "not listening on {ip}:1883");
    }
    wait_signal_handlers(p.child.id());
    signal(p.child.id(), "TERM");
    assert!(p.wait().success());
}

#[test]
fn test_config_reports_pid_and_log_files_start_up_could_not_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write");
    let conf = dir.path().join("files.conf");
    let port = free_port();
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\npid_file {}/no-such-dir/mq.pid\nlog_dest file {}/mq.log\n",
            dir.path().display(),
            file.display()
        ),
    )
    .expect("write");
    let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8"), "--test-config"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("files.conf:2: pid_file: cannot write"), "{out}");
    assert!(out.contains("files.conf:3: log_dest file: cannot write"), "{out}");
    assert!(!out.contains("Configuration OK"), "{out}");

    // Writable paths pass, and the check creates neither file.
    let (pid, log) = (dir.path().join("mq.pid"), dir.path().join("mq.log"));
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\npid_file {}\nlog_dest file {}\n", pid.display(), log.display()),
    )
    .expect("write");
    let (code, out) = run_to_exit(dir.path(), &["-c", conf.to_str().expect("utf-8"), "--test-config"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Configuration OK"), "{out}");
    assert!(!pid.exists() && !log.exists());
}
