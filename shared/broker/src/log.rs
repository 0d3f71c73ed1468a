//! Logging in Mosquitto's shape: `log_dest` (stdout, stderr, file, syslog, topic), `log_type`
//! categories, `log_timestamp` / `log_timestamp_format`, `connection_messages`, and `-v` (everything
//! to stdout... as Mosquitto: `-v` turns on all types).
//!
//! Lines look like Mosquitto's: `1764105600: New connection from 127.0.0.1:50000 on port 1883.` The
//! logger is process-wide (one broker per process) and reconfigured on SIGHUP; the file destination is
//! reopened then, so logrotate works.
//!
//! `log_format json` (mq only) writes each line to stdout, stderr and the file as a JSON object
//! instead: `{"timestamp":"2026-12-02T10:00:00.000Z","level":"notice","message":"...","client_id":"..."}`
//! (`client_id` on lines about one client). `log_dest topic` and syslog keep Mosquitto's text.
//!
//! Whether a category is on is one relaxed atomic load ([`Logger::enabled`]), checked by [`log!`]
//! before anything is formatted: with `log_type debug` off, the packet lines cost nothing more.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use mq_config::{LogFormat, LogSettings, LogTypes};
use parking_lot::RwLock;
use tokio::sync::mpsc;

/// A log category (Mosquitto's `log_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
    Information,
    Debug,
    Subscribe,
    Unsubscribe,
    /// `log_type websockets` (what `websockets_log_level` lets through).
    Websockets,
}

impl Level {
    fn bits(self) -> LogTypes {
        match self {
            Level::Error => LogTypes::ERROR,
            Level::Warning => LogTypes::WARNING,
            Level::Notice => LogTypes::NOTICE,
            Level::Information => LogTypes::INFORMATION,
            Level::Debug => LogTypes::DEBUG,
            Level::Subscribe => LogTypes::SUBSCRIBE,
            Level::Unsubscribe => LogTypes::UNSUBSCRIBE,
            Level::Websockets => LogTypes::WEBSOCKETS,
        }
    }

    /// The `$SYS/broker/log/...` topic for `log_dest topic` (debug never goes there).
    pub fn topic(self) -> Option<&'static str> {
        Some(match self {
            Level::Error => "$SYS/broker/log/E",
            Level::Warning => "$SYS/broker/log/W",
            Level::Notice => "$SYS/broker/log/N",
            Level::Information => "$SYS/broker/log/I",
            Level::Subscribe => "$SYS/broker/log/M/subscribe",
            Level::Unsubscribe => "$SYS/broker/log/M/unsubscribe",
            Level::Websockets => "$SYS/broker/log/WS",
            Level::Debug => return None,
        })
    }

    /// The category's `log_type` name (the `level` of JSON lines).
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Information => "information",
            Level::Debug => "debug",
            Level::Subscribe => "subscribe",
            Level::Unsubscribe => "unsubscribe",
            Level::Websockets => "websockets",
        }
    }

    fn syslog_severity(self) -> u8 {
        match self {
            Level::Error => 3,
            Level::Warning => 4,
            Level::Notice => 5,
            Level::Information | Level::Subscribe | Level::Unsubscribe => 6,
            Level::Websockets => 7,
            Level::Debug => 7,
        }
    }
}

struct Sinks {
    types: LogTypes,
    stdout: bool,
    stderr: bool,
    file: Option<(PathBuf, File)>,
    syslog: Option<(UnixDatagram, u8)>,
    topic: Option<mpsc::Sender<(Level, String)>>,
    timestamp: bool,
    timestamp_format: Option<String>,
    format: LogFormat,
}

/// The process-wide logger.
pub struct Logger {
    sinks: RwLock<Sinks>,
    /// The categories on (`LogTypes` bits), read without the lock by [`Logger::enabled`].
    types: AtomicU32,
    /// Lines on their way to the writer thread, once it runs (see [`Logger::start_writer`]).
    queue: OnceLock<SyncSender<Queued>>,
    /// Lines dropped because the queue was full (the writer could not keep up).
    dropped: AtomicU64,
}

/// What the writer thread is handed.
enum Queued {
    /// A line (with its line break), and the message alone for syslog.
    Line { level: Level, line: String, msg: String },
    /// Tells the sender once everything before it is written.
    Flush(std::sync::mpsc::Sender<()>),
}

/// Lines waiting for the writer at most; more are dropped and counted, so a blocked destination (a
/// stdout nobody reads, a slow disk) never holds back the threads that route messages.
const QUEUE_LINES: usize = 16 * 1024;

/// The logger; before [`Logger::configure`] it writes errors, warnings, notices and information to
/// stderr.
pub fn logger() -> &'static Logger {
    static LOGGER: OnceLock<Logger> = OnceLock::new();
    LOGGER.get_or_init(|| Logger {
        types: AtomicU32::new(u32::from(LogTypes::DEFAULT.bits())),
        queue: OnceLock::new(),
        dropped: AtomicU64::new(0),
        sinks: RwLock::new(Sinks {
            types: LogTypes::DEFAULT,
            stdout: false,
            stderr: true,
            file: None,
            syslog: None,
            topic: None,
            timestamp: true,
            timestamp_format: None,
            format: LogFormat::Text,
        }),
    })
}

/// Why a log destination could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("unable to open log file {path}: {source}")]
pub struct LogError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Logger {
    /// Applies the configuration; `verbose` (`-v`) turns on every type. The file is (re)opened for
    /// appending. `topic` receives lines for `log_dest topic`.
    pub fn configure(
        &self,
        cfg: &LogSettings,
        verbose: bool,
        topic: Option<mpsc::Sender<(Level, String)>>,
    ) -> Result<(), LogError> {
        let dest = &cfg.dest.value;
        let file = match &dest.file {
            Some(path) => Some((
                path.clone(),
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| LogError { path: path.clone(), source })?,
            )),
            None => None,
        };
        let syslog = if dest.syslog {
            UnixDatagram::unbound().ok().and_then(|s| s.connect("/dev/log").ok().map(|()| s)).map(|s| {
                // Facility: daemon (3) by default, or local0..local7 (16..23).
                let facility = cfg.facility.value.map_or(3, |n| 16 + n);
                (s, facility)
            })
        } else {
            None
        };
        let mut types = if verbose { LogTypes::ALL } else { cfg.types.value };
        if dest.is_none() {
            types = LogTypes::NONE;
        }
        let mut s = self.sinks.write();
        *s = Sinks {
            types,
            // `-v` also makes sure the lines are seen, as Mosquitto's does.
            stdout: dest.stdout || (verbose && !dest.stderr),
            stderr: dest.stderr,
            file,
            syslog,
            topic: if dest.topic { topic } else { None },
            timestamp: cfg.timestamp.value,
            timestamp_format: cfg.timestamp_format.value.clone(),
            format: cfg.format.value,
        };
        self.types.store(u32::from(types.bits()), Ordering::Relaxed);
        Ok(())
    }

    /// Whether lines of `level` go anywhere (so callers can skip formatting): one relaxed load.
    #[inline]
    pub fn enabled(&self, level: Level) -> bool {
        let bits = u32::from(level.bits().bits());
        self.types.load(Ordering::Relaxed) & bits == bits
    }

    /// Logs one line (about `client`, when given): formatted here, written by the writer thread. Never
    /// blocks: when the writer is behind by [`QUEUE_LINES`], the line is dropped and counted.
    pub fn log(&self, level: Level, client: Option<&str>, args: fmt::Arguments<'_>) {
        let s = self.sinks.read();
        if !s.types.contains(level.bits()) {
            return;
        }
        let msg = escape_controls(args.to_string());
        // Mosquitto's text: the timestamp (when on), ": ", the message. `log_dest topic` payloads carry
        // it too, as Mosquitto's do.
        let text = if s.timestamp {
            let stamp = match &s.timestamp_format {
                Some(f) => jiff::ZonedDateTime::now().strftime(f).to_string(),
                None => jiff::Timestamp::now().as_second().to_string(),
            };
            format!("{stamp}: {msg}")
        } else {
            msg.clone()
        };
        let line = match s.format {
            LogFormat::Text => format!("{text}\n"),
            LogFormat::Json => json_line(jiff::Timestamp::now(), level, &msg, client),
        };
        if let (Some(tx), Some(_)) = (&s.topic, level.topic()) {
            // Never block the logging caller: a full channel drops the line.
            let _ = tx.try_send((level, text));
        }
        drop(s);
        match self.writer() {
            Some(tx) => {
                if tx.try_send(Queued::Line { level, line, msg }).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            // No writer thread: write here.
            None => self.write(level, &line, &msg),
        }
    }

    /// Lines dropped so far because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (at most a second) until every line logged so far is written: before the process exits.
    pub fn flush(&self) {
        if let Some(tx) = self.writer() {
            let (done, wait) = std::sync::mpsc::channel();
            if tx.send(Queued::Flush(done)).is_ok() {
                let _ = wait.recv_timeout(std::time::Duration::from_secs(1));
            }
        }
    }

    /// The writer thread's queue, once it runs.
    fn writer(&self) -> Option<&SyncSender<Queued>> {
        self.queue.get()
    }

    /// Starts the writer thread: from then on lines are written by it, off the threads that log them.
    /// Until then (and if the thread cannot start) they are written where they are logged. Started
    /// after the process has daemonised (a thread does not survive the fork).
    pub fn start_writer(&self) {
        if self.queue.get().is_some() {
            return;
        }
        let (tx, rx) = sync_channel::<Queued>(QUEUE_LINES);
        let started = std::thread::Builder::new().name("mq-log".into()).spawn(move || {
            let logger = logger();
            let mut reported = 0;
            while let Ok(q) = rx.recv() {
                match q {
                    Queued::Line { level, line, msg } => logger.write(level, &line, &msg),
                    Queued::Flush(done) => {
                        let _ = done.send(());
                    }
                }
                let dropped = logger.dropped();
                if dropped != reported {
                    let line = format!("{} log lines dropped: the log could not keep up.", dropped - reported);
                    reported = dropped;
                    logger.write(Level::Warning, &format!("{line}\n"), &line);
                }
            }
        });
        if started.is_ok() {
            let _ = self.queue.set(tx);
        }
    }

    /// Writes one line to the destinations (on the writer thread).
    fn write(&self, level: Level, line: &str, msg: &str) {
        let s = self.sinks.read();
        if s.stdout {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        if s.stderr {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        if let Some((_, f)) = &s.file {
            let mut f: &File = f;
            let _ = f.write_all(line.as_bytes());
        }
        if let Some((sock, facility)) = &s.syslog {
            let pri = u16::from(*facility) * 8 + u16::from(level.syslog_severity());
            let _ = sock.send(format!("<{pri}>mq[{}]: {msg}", std::process::id()).as_bytes());
        }
    }
}

/// One JSON log line (with its line break): timestamp (RFC 3339, UTC, milliseconds), level, message,
/// and the client the line is about.
fn json_line(now: jiff::Timestamp, level: Level, msg: &str, client: Option<&str>) -> String {
    // Strings quoted and escaped by serde_json; the keys in a fixed order.
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let client = client.map(|c| format!(",\"client_id\":{}", q(c))).unwrap_or_default();
    format!("{{\"timestamp\":\"{now:.3}\",\"level\":\"{}\",\"message\":{}{client}}}\n", level.name(), q(msg))
}

/// `line` with every control character but the tab (C0, DEL, C1) written as an escape (`\n`,
/// `\x1b`), so text a client chose (a client id, a topic) can never end a log line early or drive a
/// terminal. Tabs stay: Mosquitto's lines indent filters with one.
pub fn escape_controls(line: String) -> String {
    if !line.chars().any(|c| c.is_control() && c != '\t') {
        return line;
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Logs a formatted line at a level: `log!(Information, "New connection from {peer}.")`, or about
/// one client (JSON lines name it): `log!(Debug, client = id, "Sending PINGRESP to {id}")`. Nothing is
/// formatted unless the level is on.
#[macro_export]
macro_rules! log {
    ($level:ident, client = $client:expr, $($arg:tt)*) => {{
        let l = $crate::log::logger();
        if l.enabled($crate::log::Level::$level) {
            let client: &str = &$client;
            l.log($crate::log::Level::$level, Some(client), format_args!($($arg)*));
        }
    }};
    ($level:ident, $($arg:tt)*) => {{
        let l = $crate::log::logger();
        if l.enabled($crate::log::Level::$level) {
            l.log($crate::log::Level::$level, None, format_args!($($arg)*));
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::{Level, escape_controls, json_line};

    #[test]
    fn json_lines_are_objects() {
        let now: jiff::Timestamp = "2026-12-02T10:00:00.5Z".parse().unwrap();
        assert_eq!(
            json_line(now, Level::Notice, "Client \"a\" disconnected.", Some("a")),
            "{\"timestamp\":\"2026-12-02T10:00:00.500Z\",\"level\":\"notice\",\
             \"message\":\"Client \\\"a\\\" disconnected.\",\"client_id\":\"a\"}\n"
        );
        assert_eq!(
            json_line(now, Level::Debug, "x", None),
            "{\"timestamp\":\"2026-12-02T10:00:00.500Z\",\"level\":\"debug\",\"message\":\"x\"}\n"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("plain id/topic".into()), "plain id/topic");
        assert_eq!(
            escape_controls("x\n1700000000: forged\x1b[2J\r\t\u{7f}\u{85}é".into()),
            "x\\n1700000000: forged\\x1b[2J\\r\t\\x7f\\x85é"
        );
    }
}
