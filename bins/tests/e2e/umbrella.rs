//! The `mq` umbrella: `mq pub`, `mq sub`, `mq rr`, `mq passwd`, `mq bench` behave as the standalone tools,
//! with the subcommand's name in their messages.

use crate::harness::{Broker, Proc, mq};

#[test]
fn mq_pub_and_mq_sub_spellings() {
    let broker = Broker::mq("");
    let port = broker.port_arg();
    let mut sub = Proc::spawn(mq("mq").args(["sub", "-d", "-p", &port, "-t", "um/x", "-C", "1", "-v"]));
    sub.wait_for("received SUBACK");
    let st = mq("mq").args(["pub", "-p", &port, "-t", "um/x", "-m", "via mq pub", "-q", "1"]).status().unwrap();
    assert!(st.success());
    assert!(sub.wait().success());
    assert!(sub.stdout.text().contains("\num/x via mq pub\n"), "{}", sub.stdout.text());
}

#[test]
fn usage_errors_name_the_subcommand() {
    let out = mq("mq").args(["pub", "-t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Use 'mq pub --help' to see usage."), "{err}");
    let out = mq("mq").args(["sub"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mq sub --help"));
}

#[test]
fn help_lists_every_tool() {
    let out = mq("mq").arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["broker", "pub", "sub", "rr", "passwd", "bench"] {
        assert!(text.contains(sub), "mq --help lacks {sub}: {text}");
    }
}

#[test]
fn mq_passwd_writes_a_file_mq_broker_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    let st = mq("mq").args(["passwd", "-c", "-b"]).arg(&pw).args(["u", "p"]).status().unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&pw).unwrap();
    assert!(text.starts_with("u:$7$"), "{text}");
    let broker = Broker::mq_conf(|port| format!("listener {port} 127.0.0.1\npassword_file {}\n", pw.display()));
    let ok =
        mq("mq").args(["pub", "-p", &broker.port_arg(), "-t", "t", "-m", "x", "-u", "u", "-P", "p"]).status().unwrap();
    assert!(ok.success());
    let refused =
        mq("mq").args(["pub", "-p", &broker.port_arg(), "-t", "t", "-m", "x", "-u", "u", "-P", "no"]).status().unwrap();
    assert_eq!(refused.code(), Some(5), "not authorised, as mosquitto_pub exits");
}

#[test]
fn mq_bench_runs_bounded_against_the_broker() {
    let broker = Broker::mq("log_type all\n");
    let port = broker.port_arg();
    let mut sub =
        Proc::spawn(mq("mq").args(["bench", "sub", "-p", &port, "-t", "b/#", "-n", "200", "-D", "20", "--json"]));
    // The subscriber is ready when the broker logs its subscription.
    broker.wait_log("b/#");
    let out = mq("mq")
        .args(["bench", "pub", "-p", &port, "-c", "4", "-t", "b/%i", "-n", "50", "-q", "1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pub_line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(pub_line.contains("\"sent\":200") && pub_line.contains("\"acked\":200"), "{pub_line}");
    assert!(sub.wait().success());
    let sub_line = sub.stdout.text();
    assert!(sub_line.contains("\"received\":200") && sub_line.contains("\"lost\":0"), "{sub_line}");
}

/// `mq bench sub -n` counts what never arrived as lost (the tail of a sequence, not only its gaps), and
/// `--idle-timeout` ends the run once messages stop, long before its duration. A hand-written publisher
/// sends stamped payloads with sequence numbers 0..50 but 10..15: 45 of the 80 expected.
#[test]
fn mq_bench_sub_counts_missing_messages_and_ends_when_idle() {
    use crate::broker_util::{Raw, wire};
    let broker = Broker::mq("log_type all\n");
    let port = broker.port_arg();
    let started = std::time::Instant::now();
    let mut sub = Proc::spawn(mq("mq").args(["bench", "sub", "-p", &port, "-t", "gap/#", "-n", "80"]).args([
        "--idle-timeout",
        "1",
        "-D",
        "60",
        "--json",
    ]));
    broker.wait_log("gap/#");
    let (mut publisher, _) = Raw::connect(broker.port, &wire::Connect::v311("stamped"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    for seq in (0u64..50).filter(|s| !(10..15).contains(s)) {
        // The stamp: send time (ns), publisher number, sequence number, big-endian; then filler.
        let mut payload = now.to_be_bytes().to_vec();
        payload.extend(7u32.to_be_bytes());
        payload.extend(seq.to_be_bytes());
        payload.extend([b'x'; 44]);
        publisher.send(&wire::Pub::new("gap/x", payload).v3());
    }
    publisher.ping();
    assert!(sub.wait().success());
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the idle timeout did not end the run");
    let line = sub.stdout.text();
    assert!(line.contains("\"received\":45") && line.contains("\"lost\":35"), "{line}");
}

/// `mq bench pub --bind` connects from the source address given (the broker logs it) and `--batch`
/// changes only how much is written at once: every message arrives.
#[test]
fn mq_bench_pub_binds_its_source_address_and_batches_writes() {
    let broker = Broker::mq("log_type all\n");
    let port = broker.port_arg();
    let mut sub =
        Proc::spawn(mq("mq").args(["bench", "sub", "-p", &port, "-t", "bind/#", "-n", "300", "-D", "20", "--json"]));
    broker.wait_log("bind/#");
    let out = mq("mq")
        .args(["bench", "pub", "-p", &port, "-c", "2", "-t", "bind/%i", "-n", "150", "--batch", "200"])
        .args(["--bind", "127.0.0.2", "--bind", "127.0.0.3", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(sub.wait().success());
    let line = sub.stdout.text();
    assert!(line.contains("\"received\":300") && line.contains("\"lost\":0"), "{line}");
    broker.wait_log("New connection from 127.0.0.2:");
    broker.wait_log("New connection from 127.0.0.3:");
}

/// `mq bench conn -u user%i -P pw%i` logs each client in as its own user (and `--connect-concurrency`
/// limits the handshakes in progress without losing any).
#[test]
fn mq_bench_logs_each_client_in_as_its_own_user() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    for i in 0..3 {
        let mut cmd = mq("mq-passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let st = cmd.args(["-I", "1", "-b"]).arg(&pw).arg(format!("user{i}")).arg(format!("pw{i}")).status().unwrap();
        assert!(st.success());
    }
    let broker = Broker::mq_conf(|port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", pw.display())
    });
    let out = mq("mq")
        .args(["bench", "conn", "-p", &broker.port_arg(), "-c", "3", "-u", "user%i", "-P", "pw%i", "-D", "0", "--json"])
        // At most two handshakes at once: the third waits for a slot, and gets one.
        .args(["--connect-concurrency", "2"])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{line}{}", String::from_utf8_lossy(&out.stderr));
    assert!(line.contains("\"connected\":3") && line.contains("\"errors\":0"), "{line}");
}

/// `mq bench conn -t 'held/%i' --subscriptions 2` subscribes each held connection to filters of its own
/// (the shape of the memory-per-subscribed-connection benchmark).
#[test]
fn mq_bench_conn_subscribes_each_client() {
    let broker = Broker::mq("sys_interval 1");
    let held = mq("mq")
        .args(["bench", "conn", "-p", &broker.port_arg(), "-c", "3", "-t", "held/%i", "--subscriptions", "2"])
        .args(["-D", "4", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Six subscriptions from the bench, one from the watcher.
    crate::broker_util::sys_value_reaches(broker.port, "$SYS/broker/subscriptions/count", |v| v == "7");
    let out = held.wait_with_output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && line.contains("\"connected\":3") && line.contains("\"errors\":0"), "{line}");
}

/// The README's run command is `cargo run --release -p mq -- broker`; with five binaries in the package
/// that only works while `mq` is its default binary.
#[test]
fn readme_run_command_reaches_the_broker() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    assert!(readme.contains("cargo run --release -p mq -- broker"), "README run command changed");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("default-run = \"mq\""), "bins/Cargo.toml must keep default-run = \"mq\"");
    // And that binary is the umbrella with the broker subcommand.
    let out = mq("mq").args(["broker", "--help"]).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--config-file"));
}
