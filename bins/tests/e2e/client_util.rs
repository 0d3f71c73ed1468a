//! Helpers for the client-tool tests (`pub_sub`, `clients_cli`, `exec`, `large`): running `mq-pub` /
//! `mq-sub` / `mq-rr` and Mosquitto's clients against a broker, waiting for subscriptions through the `-d`
//! lines (never sleeps), and separating `-d` lines from printed messages.

#![allow(dead_code)] // each test module uses a different part

use std::io::Write as _;
use std::process::{Command, ExitStatus, Stdio};

use crate::harness::{Broker, Kind, Proc, command, mosquitto_bin, mq};

/// The brokers every client scenario runs against: `mq broker`, and Mosquitto when installed.
pub fn brokers(extra: &str) -> Vec<Broker> {
    Broker::each(extra)
}

/// One broker of each kind, each with its own extra configuration (e.g. a unix socket path of its own).
pub fn brokers_each(extra: impl Fn(Kind) -> String) -> Vec<Broker> {
    let mut v = vec![Broker::mq(&extra(Kind::Mq))];
    v.extend(Broker::mosquitto(&extra(Kind::Mosquitto)));
    v
}

/// A finished process.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// The exit code (a signal counts as -1).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// stdout as text.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Fails the test unless the process exited 0.
    pub fn ok(self) -> Run {
        assert!(self.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", self.status, self.out(), self.stderr);
        self
    }
}

/// Runs `cmd` to completion with `input` on stdin (within the harness timeout).
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Run {
    cmd.stdin(Stdio::piped());
    let mut p = Proc::spawn(cmd);
    if let Some(mut stdin) = p.child.stdin.take() {
        // The tool may exit before reading everything; that is its business.
        let _ = stdin.write_all(input);
    }
    let status = p.wait();
    Run { status, stdout: p.stdout.bytes(), stderr: p.stderr.text() }
}

/// Runs `cmd` to completion with stdin closed.
pub fn run(cmd: &mut Command) -> Run {
    cmd.stdin(Stdio::null());
    let mut p = Proc::spawn(cmd);
    let status = p.wait();
    Run { status, stdout: p.stdout.bytes(), stderr: p.stderr.text() }
}

/// `tool` (an mq binary) with `-p <broker port>` and `args`.
pub fn tool(name: &str, broker: &Broker, args: &[&str]) -> Command {
    let mut c = mq(name);
    c.arg("-p").arg(broker.port_arg()).args(args);
    c
}

/// A Mosquitto client (`mosquitto_pub` ...) with `-p <broker port>` and `args`, if installed.
///
/// libmosquitto prints `-d` lines with printf() and flushes stdout only after a message, so on a pipe
/// "received SUBACK" could wait in its buffer: the client runs under `stdbuf -oL` (line-buffered stdout)
/// where available.
pub fn mosquitto_tool(name: &str, broker: &Broker, args: &[&str]) -> Option<Command> {
    let program = mosquitto_bin(name)?;
    let mut c = match ["/usr/bin/stdbuf", "/bin/stdbuf"].iter().find(|p| std::path::Path::new(p).exists()) {
        Some(stdbuf) => {
            let mut c = command(stdbuf);
            c.arg("-oL").arg(program);
            c
        }
        None => command(program),
    };
    c.arg("-p").arg(broker.port_arg()).args(args);
    Some(c)
}

/// Starts a subscriber (`cmd` must include `-d`) and waits until its subscription is acknowledged.
pub fn start_sub(mut cmd: Command) -> Proc {
    cmd.stdin(Stdio::null());
    let p = Proc::spawn(&mut cmd);
    p.wait_for("received SUBACK");
    p
}

/// `mq-sub -d` with `args`, subscribed.
pub fn mq_sub(broker: &Broker, args: &[&str]) -> Proc {
    let mut c = tool("mq-sub", broker, &["-d"]);
    c.args(args);
    start_sub(c)
}

/// `mosquitto_sub -d` with `args`, subscribed, if installed.
pub fn mosquitto_sub(broker: &Broker, args: &[&str]) -> Option<Proc> {
    let mut c = mosquitto_tool("mosquitto_sub", broker, &["-d"])?;
    c.args(args);
    Some(start_sub(c))
}

/// Publishes with `mq-pub` and checks it succeeded.
pub fn mq_pub(broker: &Broker, args: &[&str]) -> Run {
    run(&mut tool("mq-pub", broker, args)).ok()
}

/// Waits for a subscriber to exit and returns its output.
pub fn finish(mut p: Proc) -> Run {
    let status = p.wait();
    Run { status, stdout: p.stdout.bytes(), stderr: p.stderr.text() }
}

/// Whether a stdout line is a `-d` line (libmosquitto's or ours).
fn is_debug_line(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    (text.starts_with("Client ") && (text.contains(" sending ") || text.contains(" received ")))
        || text.starts_with("Subscribed (mid: ")
}

/// stdout without its `-d` lines: what the tool printed for the messages.
pub fn strip_debug(out: &[u8]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(out.len());
    for line in out.split_inclusive(|&b| b == b'\n') {
        if !is_debug_line(line) {
            kept.extend_from_slice(line);
        }
    }
    kept
}

/// The `-d` lines of stdout, with the client identifiers replaced by `<id>` (brokers assign different
/// ones).
pub fn debug_lines(out: &[u8]) -> Vec<String> {
    out.split(|&b| b == b'\n')
        .filter(|l| is_debug_line(l))
        .map(|l| {
            let text = String::from_utf8_lossy(l).into_owned();
            match text.strip_prefix("Client ").and_then(|r| r.split_once(' ')) {
                Some((_, rest)) => format!("Client <id> {rest}"),
                None => text,
            }
        })
        .collect()
}
