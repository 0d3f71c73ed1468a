//! The installed Debian package (`cargo deb -p mq`, `dpkg -i`): `.ci/run` installs it and sets
//! `MQ_DEB_INSTALLED=1`; without it this test says so and skips. It checks the files are where Debian
//! puts them, that the packaged configuration passes `--test-config`, and that the installed broker,
//! run with that configuration on a free port, carries a message from the installed mq-pub to the
//! installed mq-sub.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Proc, TIMEOUT, command, free_port};

fn installed() -> bool {
    if std::env::var_os("MQ_DEB_INSTALLED").is_some_and(|v| v == "1") {
        return true;
    }
    eprintln!("skipping: the Debian package is not installed (.ci/run installs it and sets MQ_DEB_INSTALLED=1)");
    false
}

#[test]
fn installed_package_files() {
    if !installed() {
        return;
    }
    for tool in ["mq", "mq-pub", "mq-sub", "mq-rr", "mq-passwd"] {
        let path = Path::new("/usr/bin").join(tool);
        assert!(path.is_file(), "{} missing", path.display());
        let out = Command::new(&path).arg("--version").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{}: {text}", path.display());
    }
    let man = |section: &str, page: &str| {
        let dir = Path::new("/usr/share/man").join(format!("man{section}"));
        let plain = dir.join(format!("{page}.{section}"));
        let gz = dir.join(format!("{page}.{section}.gz"));
        assert!(plain.is_file() || gz.is_file(), "man page {page}({section}) missing in {}", dir.display());
    };
    for page in ["mq", "mq-broker", "mq-pub", "mq-sub", "mq-rr", "mq-passwd"] {
        man("1", page);
    }
    man("5", "mq.conf");
    for tool in ["mq", "mq-pub", "mq-sub", "mq-rr", "mq-passwd"] {
        let bash = Path::new("/usr/share/bash-completion/completions").join(tool);
        assert!(bash.is_file(), "{} missing", bash.display());
        let zsh = Path::new("/usr/share/zsh/vendor-completions").join(format!("_{tool}"));
        assert!(zsh.is_file(), "{} missing", zsh.display());
        let fish = Path::new("/usr/share/fish/vendor_completions.d").join(format!("{tool}.fish"));
        assert!(fish.is_file(), "{} missing", fish.display());
    }
    let unit = ["/lib/systemd/system/mq.service", "/usr/lib/systemd/system/mq.service"]
        .iter()
        .find(|p| Path::new(p).is_file())
        .unwrap_or_else(|| panic!("mq.service missing from /lib/systemd/system and /usr/lib/systemd/system"));
    let text = std::fs::read_to_string(unit).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/mq broker -c /etc/mq/mq.conf"), "{text}");
    // A conffile: dpkg keeps local changes to it across upgrades.
    let conffiles = std::fs::read_to_string("/var/lib/dpkg/info/mq.conffiles").unwrap_or_default();
    assert!(conffiles.lines().any(|l| l == "/etc/mq/mq.conf"), "conffiles: {conffiles:?}");
    // The packaged configuration is good as shipped.
    let out = Command::new("/usr/bin/mq").args(["broker", "--test-config", "-c", "/etc/mq/mq.conf"]).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn installed_broker_round_trip() {
    if !installed() {
        return;
    }
    // The packaged configuration with the port swapped for a free one and persistence off (the
    // package's store in /var/lib/mq belongs to the service).
    let port = free_port();
    let packaged = std::fs::read_to_string("/etc/mq/mq.conf").unwrap();
    assert!(packaged.lines().any(|l| l == "listener 1883 localhost"), "{packaged}");
    let conf = packaged
        .replace("listener 1883 localhost", &format!("listener {port} localhost"))
        .replace("persistence true", "persistence false");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mq.conf");
    std::fs::write(&path, conf).unwrap();
    let mut broker = Proc::spawn(command("/usr/bin/mq").arg("broker").arg("-c").arg(&path).stdin(Stdio::null()));
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(broker.child.try_wait().unwrap().is_none(), "installed broker exited: {}", broker.stderr.text());
        assert!(Instant::now() < deadline, "installed broker did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let p = port.to_string();
    let mut sub = Proc::spawn(command("/usr/bin/mq-sub").args(["-p", &p, "-t", "deb/#", "-v", "-C", "1", "-d"]));
    sub.wait_for("received SUBACK");
    let st = command("/usr/bin/mq-pub").args(["-p", &p, "-t", "deb/x", "-m", "from the package", "-q", "1"]).status();
    assert!(st.unwrap().success());
    assert!(sub.wait().success());
    assert!(sub.stdout.text().contains("deb/x from the package"), "{}", sub.stdout.text());
    assert!(Command::new("kill").args(["-TERM", &broker.child.id().to_string()]).status().unwrap().success());
    assert!(broker.wait().success(), "{}", broker.stderr.text());
}
