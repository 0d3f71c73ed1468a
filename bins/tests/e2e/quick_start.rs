//! README's quick start, run line by line as it is written there (with port 1883 swapped for a free
//! one: the broker lines and the configuration name it, the client tools get `-p` from their options
//! files): a subscriber sees what is published, then a password file, an ACL file and a configuration
//! naming them, and a restart with it that lets alice write, bob only read, and anonymous clients not in.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Proc, TIMEOUT, bin, free_port};

/// One step of the quick start.
#[derive(Debug)]
enum Step {
    /// `cat > file <<'EOF'` ... `EOF`.
    Write(String, String),
    /// A command line (its comment removed).
    Run(String),
}

/// The steps of README's quick start block.
fn steps() -> Vec<Step> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let section = readme.split("## Quick start").nth(1).expect("README has a Quick start section");
    let block = section.split("```sh\n").nth(1).and_then(|b| b.split("\n```").next()).expect("a sh block");
    let mut steps = Vec::new();
    let mut lines = block.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(file) = line.strip_prefix("cat > ").and_then(|r| r.strip_suffix(" <<'EOF'")) {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "EOF").collect();
            steps.push(Step::Write(file.to_owned(), body.join("\n") + "\n"));
            continue;
        }
        let command = line.find("  #").map_or(line, |i| &line[..i]).trim_end();
        steps.push(Step::Run(command.to_owned()));
    }
    steps
}

/// `bash -c 'exec <line>'` in `dir` with our binaries first on PATH and the options files in `xdg`.
fn shell(line: &str, dir: &Path, xdg: &Path) -> Command {
    let bins = bin("mq").parent().unwrap().to_owned();
    let path = format!("{}:{}", bins.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("exec {line}"))
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", xdg)
        .env("XDG_CONFIG_HOME", xdg)
        .env_remove("MQ_PASSWORD")
        .stdin(Stdio::null());
    c
}

fn wait_port(port: u16, broker: &mut Proc) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(broker.child.try_wait().unwrap().is_none(), "broker exited: {}", broker.stderr.text());
        assert!(Instant::now() < deadline, "broker did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn quick_start() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let port = free_port();
    for tool in ["mq-pub", "mq-sub"] {
        std::fs::write(xdg.path().join(tool), format!("-p {port}\n")).unwrap();
    }
    let steps = steps();
    assert!(steps.len() >= 10, "quick start too short to be the one tested: {steps:?}");

    let mut broker: Option<Proc> = None;
    let mut subs: Vec<Proc> = Vec::new();
    let mut statuses: Vec<(String, Option<i32>, String)> = Vec::new();
    for step in steps {
        match step {
            Step::Write(file, body) => {
                std::fs::write(dir.path().join(file), body.replace("1883", &port.to_string())).unwrap()
            }
            Step::Run(line) if line.starts_with("mq broker") => {
                if let Some(mut old) = broker.take() {
                    // Ctrl-C.
                    let pid = old.child.id().to_string();
                    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
                    assert!(old.wait().success(), "{}", old.stderr.text());
                }
                let line = line.replace("1883", &port.to_string());
                let mut b = Proc::spawn(&mut shell(&line, dir.path(), xdg.path()));
                wait_port(port, &mut b);
                broker = Some(b);
            }
            Step::Run(line) if line.starts_with("mq-sub") => {
                // -d shows when the subscription is in place.
                let sub = Proc::spawn(&mut shell(&format!("{line} -d"), dir.path(), xdg.path()));
                sub.wait_for("received SUBACK");
                subs.push(sub);
            }
            Step::Run(line) => {
                let mut p = Proc::spawn(&mut shell(&line, dir.path(), xdg.path()));
                let status = p.wait();
                statuses.push((line, status.code(), p.stderr.text()));
            }
        }
    }
    assert!(broker.is_some(), "no broker started");
    assert_eq!(subs.len(), 2, "two subscribers in the quick start");

    // The first subscriber got the anonymous message.
    subs[0].wait_for("sensors/temp 21.5");
    // Every command succeeded but the anonymous publish to the secured broker: not authorised, exit 5.
    let (last, rest) = statuses.split_last().unwrap();
    for (line, code, err) in rest {
        assert_eq!(*code, Some(0), "{line}: {err}");
    }
    assert_eq!(last.1, Some(5), "{}: {}", last.0, last.2);
    assert!(last.2.contains("not authorised"), "{}", last.2);
    // bob's subscriber got alice's message, not his own (he may only read): a later message from alice
    // marks the point by which his would have arrived.
    subs[1].wait_for("sensors/temp 22");
    let mut marker = shell("mq-pub -t sensors/temp -m marker -u alice -P secret", dir.path(), xdg.path());
    assert!(marker.status().unwrap().success());
    subs[1].wait_for("sensors/temp marker");
    assert!(!subs[1].stdout.text().contains("sensors/temp 23"), "{}", subs[1].stdout.text());
}
