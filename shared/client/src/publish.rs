//! `mq-pub` (and `mq pub`): publish a message given with `-m`, `-f`, `-s` or `-n`, possibly `--repeat`ed,
//! or one message per line of stdin with `-l`.
//!
//! `-f` streams the file from disk into the socket: the PUBLISH header is encoded for the file's length
//! and the file follows in chunks, so a 256 MiB file costs one chunk of memory, not the file (let alone
//! the file twice). A file too large for MQTT, or for the Maximum Packet Size the broker announced, is
//! refused before a byte of it is sent. On a terminal a progress bar shows on stderr, then a spinner until
//! the broker acknowledges.
//!
//! `-l` keeps up to `-M` QoS 1/2 messages in flight and reconnects (resending what was not acknowledged)
//! if the broker goes away, as `mosquitto_pub -l` does.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mq_proto::{Ack, MAX_PACKET_SIZE, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::args::PubArgs;
use crate::config::{self, Session};
use crate::conn::Conn;
use crate::error::{ClientError, ToolKind, UsageError};

/// Bytes of a file read and written per step.
const CHUNK: usize = 1024 * 1024;

/// How long a large upload may make no progress at all before it is given up.
const MIN_STALL: Duration = Duration::from_secs(60);

/// Where the payload comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// In memory (`-m`, `-n`, `-s`).
    Bytes(Bytes),
    /// Streamed from a file of known length (`-f`).
    File { path: PathBuf, file: File, len: usize },
}

impl Source {
    pub(crate) fn len(&self) -> usize {
        match self {
            Source::Bytes(b) => b.len(),
            Source::File { len, .. } => *len,
        }
    }
}

/// Opens the payload source of `-m`, `-f`, `-s` or `-n` (the caller has checked that exactly one is
/// given).
pub(crate) fn open_source(msg: &crate::args::MessageArgs) -> Result<Option<Source>, ClientError> {
    if let Some(m) = &msg.message {
        return Ok(Some(Source::Bytes(Bytes::from(m.clone()))));
    }
    if msg.null_message {
        return Ok(Some(Source::Bytes(Bytes::new())));
    }
    if let Some(path) = &msg.file {
        let file = File::open(path).map_err(|_| ClientError::FileOpen(path.clone()))?;
        let meta = file.metadata().map_err(|_| ClientError::FileOpen(path.clone()))?;
        if !meta.is_file() {
            return Err(ClientError::FileOpen(path.clone()));
        }
        let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        return Ok(Some(Source::File { path: path.clone(), file, len }));
    }
    if msg.stdin_file {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data).map_err(ClientError::Stdin)?;
        return Ok(Some(Source::Bytes(Bytes::from(data))));
    }
    Ok(None)
}

/// How many of `-m -f -s -n` (and `-l`) were given.
pub(crate) fn message_kinds(msg: &crate::args::MessageArgs, lines: bool) -> usize {
    [msg.message.is_some(), msg.file.is_some(), msg.stdin_file, msg.null_message, lines].iter().filter(|x| **x).count()
}

/// Refuses a payload that cannot fit in one packet of at most `max_packet` bytes.
pub(crate) fn check_size(
    p: &Publish,
    source: &Source,
    version: ProtocolVersion,
    max_packet: usize,
) -> Result<(), ClientError> {
    let limit = p.max_payload(max_packet, version)?;
    if source.len() <= limit {
        return Ok(());
    }
    let what = match source {
        Source::File { path, .. } => format!("File \"{}\"", path.display()),
        Source::Bytes(_) => "The message".to_string(),
    };
    let why = if max_packet >= MAX_PACKET_SIZE {
        "MQTT packets are limited to 268435455 bytes after the fixed header".to_string()
    } else {
        format!("the broker accepts packets of at most {max_packet} bytes (its Maximum Packet Size)")
    };
    Err(ClientError::TooLarge(format!(
        "{what} is {} bytes; {why}, which leaves room for {limit} bytes of payload with this topic and these properties.",
        source.len()
    )))
}

/// Message ids as libmosquitto numbers them: every publish (QoS 0 included) takes the next one, and
/// QoS 1/2 publishes use it as their packet identifier.
#[derive(Debug, Default)]
pub(crate) struct Mids(u16);

impl Mids {
    pub(crate) fn next(&mut self) -> u16 {
        self.0 = if self.0 == u16::MAX { 1 } else { self.0 + 1 };
        self.0
    }
}

/// Sleeps until `deadline`, or forever when there is none.
pub(crate) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Runs `mq-pub`.
pub async fn run(args: PubArgs) -> Result<(), ClientError> {
    if message_kinds(&args.message, args.stdin_line) > 1 {
        return Err(UsageError::new("Only one type of message can be sent at once.\n").into());
    }
    let session = config::session(&args.connect, ToolKind::Pub)?;
    let topic = args.topic.clone().or_else(|| session.url_topic.clone());
    let has_message = message_kinds(&args.message, args.stdin_line) == 1;
    let Some(topic) = topic.filter(|_| has_message) else {
        return Err(UsageError::with_usage("Both topic and message must be supplied.").into());
    };
    let mut template = Publish::new(topic.as_str(), args.qos, Bytes::new());
    template.retain = args.retain;
    template.properties = session.props.publish.clone();
    if args.stdin_line {
        return lines(&session, template).await;
    }
    let source = open_source(&args.message)?
        .ok_or_else(|| UsageError::with_usage("Both topic and message must be supplied."))?;
    // Refuse what MQTT cannot carry before connecting (the broker's own limit is checked after CONNACK).
    let mut probe = template.clone();
    probe.packet_id = PacketId::new(1);
    check_size(&probe, &source, session.version(), MAX_PACKET_SIZE)?;

    let mut conn = Conn::connect(&session).await?;
    let template = adapt_to_broker(&conn, template)?;
    check_size(&probe, &source, conn.version(), conn.max_packet_size())?;
    let mut mids = Mids::default();
    let mut source = source;
    let repeat = args.repeat.unwrap_or(1);
    let delay = Duration::from_secs_f64(args.repeat_delay.unwrap_or(0.0));
    let quiet = session.quiet;
    for i in 0..repeat {
        if i > 0 && !delay.is_zero() {
            sleep(delay).await;
        }
        let mid = mids.next();
        let mut p = template.clone();
        // A topic alias given with -D: the first message carries the topic, later ones only the alias.
        if i > 0 && p.properties.topic_alias.is_some() {
            p.topic = "".into();
        }
        if p.qos != QoS::AtMostOnce {
            p.packet_id = PacketId::new(mid);
        }
        publish_one(&mut conn, &mut p, mid, &mut source, quiet).await?;
    }
    conn.disconnect(ReasonCode::NORMAL_DISCONNECTION, &session.props.disconnect).await;
    Ok(())
}

/// Applies what the broker announced in CONNACK: no retain flag when it has no retained messages (as
/// `mosquitto_pub` 2.0 does), and a clear error when it does not take the QoS asked for.
pub(crate) fn adapt_to_broker(conn: &Conn, mut p: Publish) -> Result<Publish, ClientError> {
    if !conn.retain_available() {
        p.retain = false;
    }
    if p.qos.as_u8() > conn.max_qos() {
        return Err(ClientError::QosNotSupported(conn.max_qos()));
    }
    Ok(p)
}

/// Publishes one message and waits until its QoS flow is complete.
pub(crate) async fn publish_one(
    conn: &mut Conn,
    p: &mut Publish,
    mid: u16,
    source: &mut Source,
    quiet: bool,
) -> Result<(), ClientError> {
    let progress = send_source(conn, p, mid, source, quiet).await?;
    if let (Some(bar), Some(_)) = (&progress, p.packet_id) {
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(if p.qos == QoS::ExactlyOnce { "waiting for PUBCOMP" } else { "waiting for PUBACK" });
        bar.enable_steady_tick(Duration::from_millis(100));
    }
    let result = complete(conn, p, mid, quiet).await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    result
}

/// Sends the PUBLISH with the payload of `source`; for a file, returns its progress bar (hidden unless
/// stderr is a terminal).
pub(crate) async fn send_source(
    conn: &mut Conn,
    p: &mut Publish,
    mid: u16,
    source: &mut Source,
    quiet: bool,
) -> Result<Option<ProgressBar>, ClientError> {
    Ok(match source {
        Source::File { path, file, len } => {
            let bar = progress_bar(*len, quiet);
            let len = *len;
            stream_file(conn, p, mid, path, file, len, &bar).await?;
            Some(bar)
        }
        Source::Bytes(b) => {
            p.payload = b.clone();
            let r = conn.send_publish(p, mid).await;
            p.payload = Bytes::new();
            r?;
            None
        }
    })
}

/// A progress bar on stderr when it is a terminal (indicatif draws nothing otherwise) and not `--quiet`.
fn progress_bar(len: usize, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{binary_bytes}/{binary_total_bytes} {wide_bar} {binary_bytes_per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Writes the PUBLISH header for `len` bytes and then the file: with sendfile(2) where the kernel
/// supports it for this file (no copy through user space), else chunk by chunk.
async fn stream_file(
    conn: &mut Conn,
    p: &Publish,
    mid: u16,
    path: &Path,
    file: &mut File,
    len: usize,
    bar: &ProgressBar,
) -> Result<(), ClientError> {
    let shrank = || ClientError::TooLarge(format!("File \"{}\" shrank while it was being sent.", path.display()));
    let header = conn.publish_header(p, mid, len)?;
    // Only a write that makes no progress at all for this long fails, so slow links can take their time.
    let stall = MIN_STALL;
    let stalled = || ClientError::Io(std::io::ErrorKind::TimedOut.into());
    timeout(stall, conn.stream_mut().write_all(&header)).await.map_err(|_| stalled())??;
    let mut offset: i64 = 0;
    while (offset as usize) < len {
        let want = (len - offset as usize).min(1 << 30);
        match timeout(stall, conn.stream_mut().send_file(file, &mut offset, want)).await {
            Err(_) => return Err(stalled()),
            Ok(Ok(0)) => return Err(shrank()),
            Ok(Ok(n)) => bar.inc(n as u64),
            Ok(Err(e)) if offset == 0 && is_unsupported(&e) => {
                copy_file(conn, path, file, len, bar, stall).await?;
                break;
            }
            Ok(Err(e)) => return Err(e.into()),
        }
    }
    conn.mark_sent();
    Ok(())
}

/// Whether sendfile(2) cannot be used for this file (some file systems, some kernels).
fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if [nix::libc::EINVAL, nix::libc::ENOSYS, nix::libc::EOPNOTSUPP].contains(&code))
}

/// The fallback of [`stream_file`]: read a chunk, write it, repeat.
async fn copy_file(
    conn: &mut Conn,
    path: &Path,
    file: &mut File,
    len: usize,
    bar: &ProgressBar,
    stall: Duration,
) -> Result<(), ClientError> {
    use std::io::Seek as _;
    let unreadable = || ClientError::FileOpen(path.to_path_buf());
    file.seek(std::io::SeekFrom::Start(0)).map_err(|_| unreadable())?;
    let mut buf = vec![0u8; CHUNK.min(len)];
    let mut left = len;
    while left > 0 {
        let want = left.min(buf.len());
        // Reading a regular file blocks only briefly (usually the page cache); this runtime serves one
        // connection, so there is nothing else to starve.
        file.read_exact(&mut buf[..want]).map_err(|_| {
            ClientError::TooLarge(format!("File \"{}\" shrank while it was being sent.", path.display()))
        })?;
        let mut off = 0;
        while off < want {
            let n = timeout(stall, conn.stream_mut().write(&buf[off..want]))
                .await
                .map_err(|_| ClientError::Io(std::io::ErrorKind::TimedOut.into()))??;
            if n == 0 {
                return Err(ClientError::ConnectionLost);
            }
            off += n;
            bar.inc(n as u64);
        }
        left -= want;
    }
    Ok(())
}

/// Waits for the acknowledgements of a QoS 1 or 2 message (nothing to wait for at QoS 0).
async fn complete(conn: &mut Conn, p: &Publish, mid: u16, quiet: bool) -> Result<(), ClientError> {
    let Some(id) = p.packet_id else { return Ok(()) };
    loop {
        let keepalive = conn.keepalive_deadline();
        let packet = tokio::select! {
            r = conn.recv() => r?,
            () = sleep_until_opt(keepalive) => { conn.keepalive().await?; continue; }
        };
        match packet {
            Packet::PubAck(a) if a.packet_id == id => {
                warn_failed(mid, a.reason, quiet);
                return Ok(());
            }
            Packet::PubRec(a) if a.packet_id == id => {
                if a.reason.is_error() {
                    warn_failed(mid, a.reason, quiet);
                    return Ok(());
                }
                conn.send(&Packet::PubRel(Ack::new(id))).await?;
            }
            Packet::PubComp(a) if a.packet_id == id => {
                warn_failed(mid, a.reason, quiet);
                return Ok(());
            }
            // Anything else (a stray acknowledgement, or a message for a subscription of a resumed session) is
            // not ours to handle.
            _ => {}
        }
    }
}

/// `mosquitto_pub` prints a warning for a v5 acknowledgement with a failure reason, and exits 0 still.
pub(crate) fn warn_failed(mid: u16, reason: ReasonCode, quiet: bool) {
    if reason.is_error() && !quiet {
        eprintln!("Warning: Publish {mid} failed: {}.", reason.description(mq_proto::PacketType::PubAck));
    }
}

/// One message of `-l` in flight.
#[derive(Debug)]
struct Inflight {
    publish: Publish,
    mid: u16,
    /// PUBREC received: only PUBCOMP is missing.
    released: bool,
}

/// `-l`: a message per line of stdin, pipelined up to `-M` QoS 1/2 messages in flight, reconnecting if the
/// broker goes away.
async fn lines(session: &Session, template: Publish) -> Result<(), ClientError> {
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    // Reading stdin blocks; a thread of its own keeps the connection served meanwhile.
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    // The newline is not part of the message; a carriage return is (as in Mosquitto).
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut conn = Conn::connect(session).await?;
    let mut template = adapt_to_broker(&conn, template)?;
    let mut mids = Mids::default();
    let mut inflight: BTreeMap<u16, Inflight> = BTreeMap::new();
    let mut eof = false;
    let mut first = true;
    loop {
        if eof && inflight.is_empty() {
            conn.disconnect(ReasonCode::NORMAL_DISCONNECTION, &session.props.disconnect).await;
            return Ok(());
        }
        let room = inflight.len() < usize::from(session.max_inflight);
        let keepalive = conn.keepalive_deadline();
        let step: Result<(), ClientError> = tokio::select! {
            line = rx.recv(), if room && !eof => match line {
                None => { eof = true; Ok(()) }
                Some(line) => {
                    let mid = mids.next();
                    let mut p = template.clone();
                    p.payload = Bytes::from(line);
                    if !first && p.properties.topic_alias.is_some() {
                        p.topic = "".into();
                    }
                    first = false;
                    if p.qos != QoS::AtMostOnce {
                        p.packet_id = PacketId::new(mid);
                    }
                    check_size(&p, &Source::Bytes(p.payload.clone()), conn.version(), conn.max_packet_size())?;
                    let r = conn.send_publish(&p, mid).await;
                    if p.qos != QoS::AtMostOnce {
                        inflight.insert(mid, Inflight { publish: p, mid, released: false });
                    }
                    r
                }
            },
            r = conn.recv() => match r {
                Ok(packet) => on_ack(&mut conn, &mut inflight, packet, session.quiet).await,
                Err(e) => Err(e),
            },
            () = sleep_until_opt(keepalive) => conn.keepalive().await,
        };
        match step {
            Ok(()) => {}
            Err(ClientError::ConnectionLost | ClientError::Io(_) | ClientError::Disconnected(_)) => {
                conn = reconnect(session).await;
                template = adapt_to_broker(&conn, template)?;
                first = true;
                // Resend what was not acknowledged, in order (MQTT 3.1.1 §4.4).
                for m in inflight.values_mut() {
                    if m.released {
                        conn.send(&Packet::PubRel(Ack::new(m.publish.packet_id.unwrap_or(PacketId::MIN)))).await.ok();
                    } else {
                        m.publish.dup = true;
                        conn.send_publish(&m.publish, m.mid).await.ok();
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

async fn on_ack(
    conn: &mut Conn,
    inflight: &mut BTreeMap<u16, Inflight>,
    packet: Packet,
    quiet: bool,
) -> Result<(), ClientError> {
    match packet {
        Packet::PubAck(a) | Packet::PubComp(a) => {
            if let Some(m) = inflight.remove(&a.packet_id.get()) {
                warn_failed(m.mid, a.reason, quiet);
            }
        }
        Packet::PubRec(a) => {
            if a.reason.is_error() {
                if let Some(m) = inflight.remove(&a.packet_id.get()) {
                    warn_failed(m.mid, a.reason, quiet);
                }
            } else {
                if let Some(m) = inflight.get_mut(&a.packet_id.get()) {
                    m.released = true;
                }
                conn.send(&Packet::PubRel(Ack::new(a.packet_id))).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Connects again after a lost connection, retrying every second (libmosquitto's reconnect delay) until it
/// works.
pub(crate) async fn reconnect(session: &Session) -> Conn {
    loop {
        sleep(Duration::from_secs(1)).await;
        if let Ok(conn) = Conn::connect(session).await {
            return conn;
        }
    }
}
