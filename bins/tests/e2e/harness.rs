//! Test harness: spawn `mq broker` or Mosquitto on a free loopback port, spawn client binaries, wait on
//! their output with deadlines (never fixed sleeps), and clean everything up on drop.
//!
//! Every child runs with `HOME` and `XDG_CONFIG_HOME` pointed at an empty directory so options files of
//! the machine cannot leak in.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A port that was free a moment ago (bound to 127.0.0.1:0 and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("local addr").port()
}

/// Path of one of our binaries.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "mq" => PathBuf::from(env!("CARGO_BIN_EXE_mq")),
        "mq-pub" => PathBuf::from(env!("CARGO_BIN_EXE_mq-pub")),
        "mq-sub" => PathBuf::from(env!("CARGO_BIN_EXE_mq-sub")),
        "mq-rr" => PathBuf::from(env!("CARGO_BIN_EXE_mq-rr")),
        "mq-passwd" => PathBuf::from(env!("CARGO_BIN_EXE_mq-passwd")),
        other => panic!("unknown binary {other}"),
    }
}

/// Whether interop tests must run (CI sets `MQ_REQUIRE_INTEROP=1`): then a missing Mosquitto fails.
pub fn interop_required() -> bool {
    std::env::var_os("MQ_REQUIRE_INTEROP").is_some_and(|v| v == "1")
}

/// Path of a Mosquitto program (`mosquitto`, `mosquitto_pub`, ...), or `None` with a note on stderr
/// when it is not installed and interop is not required.
pub fn mosquitto_bin(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    assert!(!interop_required(), "{name} is not installed but MQ_REQUIRE_INTEROP=1");
    eprintln!("skipping: {name} is not installed (set MQ_REQUIRE_INTEROP=1 to make this a failure)");
    None
}

/// A directory that stays empty: HOME and XDG_CONFIG_HOME of every child.
fn empty_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("tempdir")).path()
}

/// A command for `program` with a hermetic environment.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HOME", empty_home()).env("XDG_CONFIG_HOME", empty_home()).env_remove("MQ_PASSWORD");
    cmd
}

/// A command for one of our binaries.
pub fn mq(name: &str) -> Command {
    command(bin(name))
}

/// Which broker a test talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mq,
    Mosquitto,
}

/// A running broker, killed on drop.
pub struct Broker {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    log: Output,
}

impl Broker {
    /// `mq broker` with a listener on a free port, anonymous access, and `extra` config lines.
    pub fn mq(extra: &str) -> Broker {
        Self::start(Kind::Mq, extra).expect("mq broker starts")
    }

    /// Mosquitto with the same kind of config, or `None` when it is not installed (see
    /// [`mosquitto_bin`]).
    pub fn mosquitto(extra: &str) -> Option<Broker> {
        mosquitto_bin("mosquitto")?;
        Some(Self::start(Kind::Mosquitto, extra).expect("mosquitto starts"))
    }

    /// Both brokers when Mosquitto is present, else only ours: for tests that must hold on each.
    pub fn each(extra: &str) -> Vec<Broker> {
        let mut v = vec![Self::mq(extra)];
        v.extend(Self::mosquitto(extra));
        v
    }

    fn start(kind: Kind, extra: &str) -> Result<Broker, String> {
        Self::start_with(kind, &|port| format!("listener {port} 127.0.0.1\nallow_anonymous true\n{extra}\n"))
    }

    /// `mq broker` with a whole configuration written by `conf` for the port it is given (which the
    /// readiness check connects to).
    pub fn mq_conf(conf: impl Fn(u16) -> String) -> Broker {
        Self::start_with(Kind::Mq, &conf).expect("mq broker starts")
    }

    /// [`Broker::mq_conf`] with variables added to the broker's environment.
    pub fn mq_conf_env(conf: impl Fn(u16) -> String, env: &[(&str, &str)]) -> Broker {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self::start_cmd(Kind::Mq, &conf, &|| {
            let mut c = mq("mq");
            c.arg("broker").envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            Ok(c)
        })
        .expect("mq broker starts")
    }

    /// Mosquitto with a whole configuration, or `None` when it is not installed.
    pub fn mosquitto_conf(conf: impl Fn(u16) -> String) -> Option<Broker> {
        mosquitto_bin("mosquitto")?;
        Some(Self::start_with(Kind::Mosquitto, &conf).expect("mosquitto starts"))
    }

    /// `mq broker` with `extra` configuration lines, run with at most `nofile` open files (soft and
    /// hard limit, through `prlimit`).
    pub fn mq_with_nofile(nofile: u64, extra: &str) -> Broker {
        let conf = move |port| format!("listener {port} 127.0.0.1\nallow_anonymous true\n{extra}\n");
        Self::mq_limited(conf, &format!("--nofile={nofile}:{nofile}"))
    }

    /// `mq broker` with a whole configuration, run under a resource limit (a `prlimit` option such as
    /// `--fsize=262144`; [`Broker::pid`] lets a test change it while the broker runs).
    pub fn mq_limited(conf: impl Fn(u16) -> String, limit: &str) -> Broker {
        Self::start_cmd(Kind::Mq, &conf, &|| {
            let mut c = command("prlimit");
            c.arg(limit).arg(bin("mq")).arg("broker");
            Ok(c)
        })
        .expect("mq broker starts")
    }

    fn start_with(kind: Kind, conf: &dyn Fn(u16) -> String) -> Result<Broker, String> {
        Self::start_cmd(kind, conf, &|| match kind {
            Kind::Mq => {
                let mut c = mq("mq");
                c.arg("broker");
                Ok(c)
            }
            Kind::Mosquitto => Ok(command(mosquitto_bin("mosquitto").ok_or("no mosquitto")?)),
        })
    }

    fn start_cmd(
        kind: Kind,
        conf: &dyn Fn(u16) -> String,
        make: &dyn Fn() -> Result<Command, String>,
    ) -> Result<Broker, String> {
        let mut last = String::new();
        // A port found free can be taken before the broker binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let conf_path = dir.path().join("broker.conf");
            std::fs::write(&conf_path, conf(port)).map_err(|e| e.to_string())?;
            let mut cmd = make()?;
            cmd.arg("-c").arg(&conf_path).current_dir(dir.path());
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("spawn {kind:?}: {e}"))?;
            let log = Output::capture(&mut child);
            let deadline = Instant::now() + TIMEOUT;
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Broker { kind, port, child, dir, log });
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("{kind:?} exited with {status}: {}", log.text());
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    return Err(format!("{kind:?} did not listen on {port}: {}", log.text()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Err(last)
    }

    /// Stops the broker (SIGKILL), keeping its directory and port for [`Broker::start_again`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the broker again after [`Broker::stop`]: the same configuration, directory and port.
    pub fn start_again(&mut self) {
        let mut cmd = match self.kind {
            Kind::Mq => {
                let mut c = mq("mq");
                c.arg("broker");
                c
            }
            Kind::Mosquitto => command(mosquitto_bin("mosquitto").expect("mosquitto ran before")),
        };
        cmd.arg("-c").arg(self.dir.path().join("broker.conf")).current_dir(self.dir.path());
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        self.log = Output::capture(&mut child);
        self.child = child;
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{:?} exited with {status}: {}", self.kind, self.log.text());
            }
            assert!(Instant::now() < deadline, "{:?} did not listen again on {}: {}", self.kind, self.port, self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The port as a string, for command lines.
    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    /// Everything the broker wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// Waits until the broker's log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        self.log
            .wait_for(needle, TIMEOUT)
            .unwrap_or_else(|| panic!("broker log never said {needle:?}:\n{}", self.log()))
    }

    /// The broker's working directory (its config lives there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the broker.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().expect("kill");
        assert!(ok.success());
    }

    /// Waits for the broker to exit (after a signal).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                // Its last lines are in the log once this returns (they are read by threads of their own).
                self.log.wait_closed(TIMEOUT);
                return s;
            }
            assert!(Instant::now() < deadline, "broker did not exit:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Output of a child collected by reader threads, searchable while the child runs.
#[derive(Clone, Default)]
pub struct Output {
    buf: Arc<Mutex<Vec<u8>>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Output {
    /// Collects the child's stdout and stderr (both, interleaved by arrival) if they are piped.
    pub fn capture(child: &mut Child) -> Output {
        let out = Output::default();
        if let Some(s) = child.stdout.take() {
            out.collect(s);
        }
        if let Some(s) = child.stderr.take() {
            out.collect(s);
        }
        out
    }

    /// Collects one stream.
    pub fn collect(&self, mut stream: impl Read + Send + 'static) {
        let buf = self.buf.clone();
        let t = std::thread::spawn(move || {
            let mut chunk = [0u8; 65536];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.lock().expect("lock").extend_from_slice(&chunk[..n]),
                }
            }
        });
        self.threads.lock().expect("lock").push(t);
    }

    /// Collects one stream line by line (for line-oriented tools).
    pub fn collect_lines(&self, stream: impl Read + Send + 'static) {
        let buf = self.buf.clone();
        let t = std::thread::spawn(move || {
            let mut r = BufReader::new(stream);
            let mut line = Vec::new();
            while r.read_until(b'\n', &mut line).map(|n| n > 0).unwrap_or(false) {
                buf.lock().expect("lock").extend_from_slice(&line);
                line.clear();
            }
        });
        self.threads.lock().expect("lock").push(t);
    }

    /// All bytes so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.buf.lock().expect("lock").clone()
    }

    /// All output so far, lossily as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Waits until the output contains `needle`; returns the output, or `None` at the deadline.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text();
            if text.contains(needle) {
                return Some(text);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits, at most `timeout`, until the reader threads have read everything (the child closed its
    /// pipes): output read after that is complete.
    pub fn wait_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && !self.threads.lock().expect("lock").iter().all(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the reader threads to finish (the child closed its pipes).
    pub fn join(&self) {
        let threads: Vec<_> = self.threads.lock().expect("lock").drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

/// A running client process with its stdout and stderr collected separately.
pub struct Proc {
    pub child: Child,
    pub stdout: Output,
    pub stderr: Output,
}

impl Proc {
    /// Spawns `cmd` with piped stdout and stderr (stdin null unless the caller set it).
    pub fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        let stdout = Output::default();
        let stderr = Output::default();
        if let Some(s) = child.stdout.take() {
            stdout.collect(s);
        }
        if let Some(s) = child.stderr.take() {
            stderr.collect(s);
        }
        Proc { child, stdout, stderr }
    }

    /// Waits until stderr or stdout contains `needle` (e.g. "received SUBACK" from `-d`).
    pub fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if self.stdout.text().contains(needle) || self.stderr.text().contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {needle:?}\nstdout: {}\nstderr: {}",
                self.stdout.text(),
                self.stderr.text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for exit (failing the test at the deadline) and returns the status; output is complete after.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                self.stdout.join();
                self.stderr.join();
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("process did not exit\nstdout: {}\nstderr: {}", self.stdout.text(), self.stderr.text());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
