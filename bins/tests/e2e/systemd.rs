//! Running under systemd: the broker speaks the readiness protocol on `$NOTIFY_SOCKET` (`READY=1` once
//! its port accepts, `RELOADING=1` and `READY=1` around a SIGHUP reload, `STOPPING=1` at shutdown), and
//! the unit file `dist/mq.service` is one systemd accepts (`systemd-analyze verify`, when installed) with
//! an exposure score of at most 3.0 (`systemd-analyze security`).

use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Output, TIMEOUT, bin, free_port, mq};

/// The next datagram on `socket` as text, failing the test after [`TIMEOUT`].
fn next_state(socket: &UnixDatagram, log: &Output) -> String {
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = [0u8; 4096];
    match socket.recv(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) => panic!("no notification from the broker ({e}); its log:\n{}", log.text()),
    }
}

/// Starts `mq broker` on a free port with `NOTIFY_SOCKET=notify_socket` and checks the whole exchange
/// on `socket`.
fn notifications(socket: &UnixDatagram, notify_socket: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("mq.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\n")).unwrap();
    let mut child = mq("mq")
        .args(["broker", "-c"])
        .arg(&conf)
        .env("NOTIFY_SOCKET", notify_socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Output::capture(&mut child);
    let pid = child.id().to_string();
    let mut child = KillOnDrop(child);

    let ready = next_state(socket, &log);
    // Sent once clients are accepted: the port must take a connection at that moment.
    let accepts = TcpStream::connect(("127.0.0.1", port)).is_ok();
    assert!(ready.lines().any(|l| l == "READY=1"), "first notification: {ready:?}");
    assert!(accepts, "READY=1 came before port {port} accepted connections");

    // SIGHUP: RELOADING=1 with the monotonic time (systemd's Type=notify-reload wants it), then READY=1.
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let reloading = next_state(socket, &log);
    assert!(reloading.lines().any(|l| l == "RELOADING=1"), "{reloading:?}");
    let usec: u64 = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC: {reloading:?}"));
    assert!(usec > 0);
    let again = next_state(socket, &log);
    assert!(again.lines().any(|l| l == "READY=1"), "after the reload: {again:?}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());

    // SIGTERM: STOPPING=1, then a clean exit.
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stopping = next_state(socket, &log);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "broker did not exit after SIGTERM:\n{}", log.text());
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}: {}", log.text());
}

/// A child killed if the test fails before it exits.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn readiness_reload_and_stop_are_notified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    notifications(&socket, path.to_str().unwrap());
}

#[test]
fn abstract_notify_socket() {
    use std::os::linux::net::SocketAddrExt as _;
    let name = format!("mq-e2e-notify-{}-{}", std::process::id(), free_port());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    notifications(&socket, &format!("@{name}"));
}

#[test]
fn no_notify_socket_no_notifications() {
    // Without NOTIFY_SOCKET the broker runs as before (what every other test does); with an empty one too.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("mq.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\n")).unwrap();
    let child = mq("mq").args(["broker", "-c"]).arg(&conf).env("NOTIFY_SOCKET", "").stdin(Stdio::null()).spawn();
    let mut child = KillOnDrop(child.unwrap());
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(child.0.try_wait().unwrap().is_none(), "broker exited");
        assert!(Instant::now() < deadline, "broker did not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn unit() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/mq.service")).unwrap()
}

#[test]
fn unit_file_runs_the_broker_as_a_notify_service() {
    let unit = unit();
    for line in [
        "Type=notify",
        "ExecStart=/usr/bin/mq broker -c /etc/mq/mq.conf",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "StateDirectory=mq",
    ] {
        assert!(unit.lines().any(|l| l == line), "dist/mq.service lacks {line:?}");
    }
}

#[test]
fn unit_file_verifies() {
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("skipping: systemd-analyze is not installed");
        return;
    };
    // The unit names /usr/bin/mq, which systemd-analyze wants to exist: check a copy naming the binary
    // just built.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mq.service");
    std::fs::write(&copy, unit().replace("/usr/bin/mq ", &format!("{} ", bin("mq").display()))).unwrap();
    let out = Command::new(analyze).args(["verify", "--man=no"]).arg(&copy).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "systemd-analyze verify: {text}");
    // Unknown or misspelled settings are warnings, not failures: none may be printed.
    assert!(text.trim().is_empty(), "systemd-analyze verify: {text}");

    // The hardening keeps systemd's exposure score at 3.0 or below ("OK"; 2.5 when written).
    let out = Command::new(which("systemd-analyze").unwrap())
        .args(["security", "--offline=true", "--man=no", "--threshold=30"])
        .arg(&copy)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("unrecognized option") {
        eprintln!("skipping the exposure score: this systemd-analyze has no --offline or --threshold");
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let overall = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_default().to_owned();
    assert!(out.status.success(), "systemd-analyze security: {overall}\n{err}");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).ok_or(())
}
