//! `mq-sub --exec`: handlers get the payload on stdin and the metadata in their environment, run in
//! order (or N at once with `--exec-jobs`), failures are reported (or stop the subscriber with
//! `--exec-stop-on-error`), handlers that do not read are fine, and QoS 1/2 messages are acknowledged
//! only after their handler finished, so a subscriber that dies loses nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::client_util::*;
use crate::harness::TIMEOUT;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until `path` exists.
fn wait_file(path: &Path) {
    let deadline = Instant::now() + TIMEOUT;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lines(n: usize, prefix: &str) -> Vec<u8> {
    (0..n).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>().join("\n").into_bytes()
}

#[test]
fn handlers_run_in_order_with_payload_and_metadata() {
    for b in brokers("") {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        // Early messages take longer: only one-at-a-time keeps the order.
        let handler = format!(
            "p=$(cat); case $p in m0|m1|m2) sleep 0.2;; esac; echo \"$MQ_TOPIC|$MQ_QOS|$MQ_RETAIN|$MQ_PAYLOAD_LENGTH|$p\" >> {}",
            out.display()
        );
        let sub = mq_sub(&b, &["-t", "ex/o", "-q", "1", "-C", "10", "--exec", &handler]);
        run_with_input(&mut tool("mq-pub", &b, &["-t", "ex/o", "-q", "1", "-l"]), &lines(10, "m")).ok();
        let r = finish(sub).ok();
        assert!(r.stderr.is_empty(), "{}", r.stderr);
        let expected: String = (0..10).map(|i| format!("ex/o|1|0|{}|m{i}\n", format!("m{i}").len())).collect();
        assert_eq!(read(&out), expected, "{:?}", b.kind);
        // With --exec nothing but the -d lines is printed.
        assert!(strip_debug(&r.stdout).is_empty());
    }
}

#[test]
fn mqtt5_properties_are_in_the_environment() {
    for b in brokers("") {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let handler = format!("env | grep '^MQ_' | sort > {}", out.display());
        let sub = mq_sub(&b, &["-t", "ex/p", "-q", "2", "-V", "5", "-C", "1", "--exec", &handler]);
        mq_pub(
            &b,
            &[
                "-t",
                "ex/p",
                "-q",
                "2",
                "-m",
                "body",
                "-D",
                "publish",
                "content-type",
                "text/plain",
                "-D",
                "publish",
                "response-topic",
                "ex/resp",
                "-D",
                "publish",
                "correlation-data",
                "id-1",
                "-D",
                "publish",
                "user-property",
                "trace-id",
                "abc",
                "-D",
                "publish",
                "user-property",
                "x",
                "\"q\"",
            ],
        );
        finish(sub).ok();
        let env = read(&out);
        for line in [
            "MQ_TOPIC=ex/p",
            "MQ_QOS=2",
            "MQ_RETAIN=0",
            "MQ_PAYLOAD_LENGTH=4",
            "MQ_CONTENT_TYPE=text/plain",
            "MQ_RESPONSE_TOPIC=ex/resp",
            "MQ_CORRELATION_DATA=69642d31",
            r#"MQ_USER_PROPERTIES=[["trace-id","abc"],["x","\"q\""]]"#,
            "MQ_USER_PROPERTY_TRACE_ID=abc",
            "MQ_USER_PROPERTY_X=\"q\"",
        ] {
            assert!(env.lines().any(|l| l == line), "{:?}: {line} missing in\n{env}", b.kind);
        }
    }
}

#[test]
fn failing_handler_is_reported_and_the_subscriber_goes_on() {
    for b in brokers("") {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let handler = format!("p=$(cat); [ \"$p\" != bad ] || exit 3; echo \"$p\" >> {}", out.display());
        let sub = mq_sub(&b, &["-t", "ex/f", "-q", "1", "-C", "3", "--exec", &handler]);
        run_with_input(&mut tool("mq-pub", &b, &["-t", "ex/f", "-q", "1", "-l"]), b"ok1\nbad\nok2").ok();
        let r = finish(sub).ok();
        assert_eq!(r.stderr, "Error: --exec command for topic 'ex/f' exited with status 3.\n", "{:?}", b.kind);
        assert_eq!(read(&out), "ok1\nok2\n");
    }
}

#[test]
fn stop_on_error_leaves_the_message_for_next_time() {
    for b in brokers("") {
        for qos in ["1", "2"] {
            let id = format!("ex-stop-{qos}");
            let session = ["-t", "ex/s", "-q", qos, "-c", "-i", &id];
            let mut args = session.to_vec();
            args.extend(["--exec", "cat >/dev/null; exit 1", "--exec-stop-on-error"]);
            let sub = mq_sub(&b, &args);
            mq_pub(&b, &["-t", "ex/s", "-q", qos, "-m", "precious"]);
            let r = finish(sub);
            assert_eq!(r.code(), 1, "{:?} q{qos}: {r:?}", b.kind);
            assert_eq!(r.stderr, "Error: --exec command for topic 'ex/s' exited with status 1.\n");
            // The broker still has it: the next run of the session gets it.
            let mut again = session.to_vec();
            again.extend(["-C", "1"]);
            let r = run(&mut tool("mq-sub", &b, &again)).ok();
            assert_eq!(r.out(), "precious\n", "{:?} q{qos}", b.kind);
            run(&mut tool("mq-sub", &b, &["-t", "ex/s", "-i", &id, "-E"])).ok();
        }
    }
}

#[test]
fn a_killed_subscriber_loses_nothing() {
    for b in brokers("") {
        for qos in ["1", "2"] {
            let dir = tempfile::tempdir().unwrap();
            let started = dir.path().join("started");
            let id = format!("ex-kill-{qos}");
            // The handler signals that it runs, then waits until the test lets it go.
            let handler = format!("touch {0}; while [ -e {0} ]; do sleep 0.02; done", started.display());
            let mut sub = mq_sub(&b, &["-t", "ex/k", "-q", qos, "-c", "-i", &id, "--exec", &handler]);
            mq_pub(&b, &["-t", "ex/k", "-q", qos, "-m", "in flight"]);
            wait_file(&started);
            sub.child.kill().unwrap();
            let _ = sub.child.wait();
            std::fs::remove_file(&started).unwrap();
            let r = run(&mut tool("mq-sub", &b, &["-t", "ex/k", "-q", qos, "-c", "-i", &id, "-C", "1"])).ok();
            assert_eq!(r.out(), "in flight\n", "{:?} q{qos}", b.kind);
            run(&mut tool("mq-sub", &b, &["-t", "ex/k", "-i", &id, "-E"])).ok();
        }
    }
}

#[test]
fn exec_jobs_run_handlers_at_once() {
    for b in brokers("") {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // Each handler waits until all four have started: that only works if four run at once.
        let handler = format!(
            "touch {d}/$(cat); i=0; while [ $(ls {d} | wc -l) -lt 4 ]; do i=$((i+1)); [ $i -lt 500 ] || exit 1; sleep 0.02; done"
        );
        let sub = mq_sub(&b, &["-t", "ex/j", "-q", "1", "-C", "4", "--exec", &handler, "--exec-jobs", "4"]);
        run_with_input(&mut tool("mq-pub", &b, &["-t", "ex/j", "-q", "1", "-l"]), &lines(4, "j")).ok();
        let r = finish(sub).ok();
        assert!(r.stderr.is_empty(), "{:?}: {}", b.kind, r.stderr);
    }
}

#[test]
fn handlers_that_do_not_read_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big");
    std::fs::write(&file, vec![b'x'; 8 << 20]).unwrap();
    for b in brokers("") {
        let out = dir.path().join(format!("{:?}", b.kind));
        let handler = format!("head -c 3 > {}", out.display());
        let sub = mq_sub(&b, &["-t", "ex/n", "-q", "1", "-C", "2", "--exec", &handler]);
        mq_pub(&b, &["-t", "ex/n", "-q", "1", "-f", file.to_str().unwrap(), "--repeat", "2"]);
        let r = finish(sub).ok();
        assert!(r.stderr.is_empty(), "{:?}: {}", b.kind, r.stderr);
        assert_eq!(read(&out), "xxx");
    }
}

#[test]
fn exec_payload_is_streamed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    let data: Vec<u8> = (0..(3 << 20)).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    for b in brokers("") {
        let out = dir.path().join(format!("{:?}.out", b.kind));
        let sub = mq_sub(&b, &["-t", "ex/w", "-q", "2", "-C", "1", "--exec", &format!("cat > {}", out.display())]);
        mq_pub(&b, &["-t", "ex/w", "-q", "2", "-f", file.to_str().unwrap()]);
        finish(sub).ok();
        assert!(std::fs::read(&out).unwrap() == data, "{:?}", b.kind);
    }
}
