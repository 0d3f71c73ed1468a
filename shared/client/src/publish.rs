//! `mq-pub` (and `mq pub`): publish a message given with `-m`, `-f`, `-s` or `-n`, possibly `--repeat`ed,
//! or one message per line of stdin with `-l`.
//!
//! `-f` streams the file from disk into the socket ([`Driver::publish_file`]): the PUBLISH header is
//! encoded for the file's length and the file follows, so a 256 MiB file costs at most one chunk of
//! memory, not the file (let alone the file twice). A file too large for MQTT, or for the Maximum Packet
//! Size the broker announced, is refused before a byte of it is sent. On a terminal a progress bar shows
//! on stderr, then a spinner until the broker acknowledges.
//!
//! `-l` keeps up to `-M` QoS 1/2 messages in flight (fewer if the broker's Receive Maximum says so) and
//! reconnects if the broker goes away, the session sending again what was not acknowledged, as
//! `mosquitto_pub -l` does.

use std::fs::File;
use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mq_proto::client::{ClientSession, Qos2Delivery};
use mq_proto::{MAX_PACKET_SIZE, PacketId, ProtocolVersion, Publish, QoS, ReasonCode};
use tokio::sync::mpsc;
use tokio::time::sleep;

use crate::args::PubArgs;
use crate::config::{self, Session};
use crate::driver::{self, Driver, Event, FilePayload};
use crate::error::{ClientError, ToolKind, UsageError};

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

/// Refuses a payload of `len` bytes that cannot fit with `p`'s topic and properties in one packet of at
/// most `max_packet` bytes; `what` names it (`File "x"`).
fn check_len(
    p: &Publish,
    len: usize,
    what: &str,
    version: ProtocolVersion,
    max_packet: usize,
) -> Result<(), ClientError> {
    // The session sets the packet identifier; its two bytes count.
    let packet_id = (p.qos != QoS::AtMostOnce).then_some(PacketId::MIN);
    let limit = Publish { packet_id, payload: Bytes::new(), ..p.clone() }.max_payload(max_packet, version)?;
    if len <= limit {
        return Ok(());
    }
    let why = if max_packet >= MAX_PACKET_SIZE {
        "MQTT packets are limited to 268435455 bytes after the fixed header".to_string()
    } else {
        format!("the broker accepts packets of at most {max_packet} bytes (its Maximum Packet Size)")
    };
    Err(ClientError::TooLarge(format!(
        "{what} is {len} bytes; {why}, which leaves room for {limit} bytes of payload with this topic and these properties."
    )))
}

/// [`check_len`] for the payload of `source`.
pub(crate) fn check_size(
    p: &Publish,
    source: &Source,
    version: ProtocolVersion,
    max_packet: usize,
) -> Result<(), ClientError> {
    let what = match source {
        Source::File { path, .. } => format!("File \"{}\"", path.display()),
        Source::Bytes(_) => "The message".to_string(),
    };
    check_len(p, source.len(), &what, version, max_packet)
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
    // A topic alias given with -D makes the session send the topic with the first message only.
    let mut template = Publish::new(topic.as_str(), args.qos, Bytes::new());
    template.retain = args.retain;
    template.properties = session.props.publish.clone();
    if args.stdin_line {
        return lines(&session, template).await;
    }
    let mut source = open_source(&args.message)?
        .ok_or_else(|| UsageError::with_usage("Both topic and message must be supplied."))?;
    // Refuse what MQTT cannot carry before connecting (the broker's own limit is checked after CONNACK).
    check_size(&template, &source, session.version(), MAX_PACKET_SIZE)?;

    let options = driver::options(&session, Qos2Delivery::OnRelease, false);
    let mut driver = Driver::connect(&session, options).await?;
    let template = adapt_to_broker(driver.session(), template)?;
    check_size(&template, &source, session.version(), driver.session().max_packet_size())?;
    let repeat = args.repeat.unwrap_or(1);
    let delay = Duration::from_secs_f64(args.repeat_delay.unwrap_or(0.0));
    for i in 0..repeat {
        if i > 0 && !delay.is_zero() {
            sleep(delay).await;
        }
        publish_one(&mut driver, template.clone(), &mut source, session.quiet).await?;
    }
    driver.disconnect(ReasonCode::NORMAL_DISCONNECTION, &session.props.disconnect).await;
    Ok(())
}

/// Applies what the broker announced in CONNACK: no retain flag when it has no retained messages (as
/// `mosquitto_pub` 2.0 does), and a clear error when it does not take the QoS asked for.
pub(crate) fn adapt_to_broker(session: &ClientSession, mut p: Publish) -> Result<Publish, ClientError> {
    if !session.retain_available() {
        p.retain = false;
    }
    if p.qos.as_u8() > session.max_qos() {
        return Err(ClientError::QosNotSupported(session.max_qos()));
    }
    Ok(p)
}

/// Publishes one message and waits until it is written (QoS 0) or its QoS flow is complete.
async fn publish_one(driver: &mut Driver, p: Publish, source: &mut Source, quiet: bool) -> Result<(), ClientError> {
    let qos = p.qos;
    let (mid, progress) = send_source(driver, p, source, quiet).await?;
    if let Some(bar) = progress.as_ref().filter(|_| qos != QoS::AtMostOnce) {
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(if qos == QoS::ExactlyOnce { "waiting for PUBCOMP" } else { "waiting for PUBACK" });
        bar.enable_steady_tick(Duration::from_millis(100));
    }
    let result = if qos == QoS::AtMostOnce { driver.flush().await } else { completion(driver, mid, quiet).await };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    result
}

/// Sends `p` with the payload of `source`; for a file, returns its progress bar too (hidden unless
/// stderr is a terminal and not `quiet`).
pub(crate) async fn send_source(
    driver: &mut Driver,
    mut p: Publish,
    source: &mut Source,
    quiet: bool,
) -> Result<(u16, Option<ProgressBar>), ClientError> {
    match source {
        Source::File { path, file, len } => {
            let bar = progress_bar(*len, quiet);
            let progress = |n| bar.inc(n);
            let mid = driver.publish_file(p, FilePayload { file, path, len: *len, progress: &progress }).await?;
            Ok((mid, Some(bar)))
        }
        Source::Bytes(b) => {
            p.payload = b.clone();
            Ok((driver.publish(p)?, None))
        }
    }
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

/// Waits until the QoS 1 or 2 message `mid` is complete (messages of a resumed session meanwhile are
/// acknowledged by the session and not ours to handle).
async fn completion(driver: &mut Driver, mid: u16, quiet: bool) -> Result<(), ClientError> {
    loop {
        if let Event::Published { mid: done, reason } = driver.next().await?
            && done == mid
        {
            warn_failed(mid, reason, quiet);
            return Ok(());
        }
    }
}

/// `mosquitto_pub` prints a warning for a v5 acknowledgement with a failure reason, and exits 0 still.
pub(crate) fn warn_failed(mid: u16, reason: ReasonCode, quiet: bool) {
    if reason.is_error() && !quiet {
        eprintln!("Warning: Publish {mid} failed: {}.", reason.description(mq_proto::PacketType::PubAck));
    }
}

/// `-l`: a message per line of stdin, pipelined within the in-flight window, reconnecting if the broker
/// goes away.
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
    let options = driver::options(session, Qos2Delivery::OnRelease, false);
    let mut driver = Driver::connect(session, options).await?;
    let mut template = adapt_to_broker(driver.session(), template)?;
    let mut eof = false;
    loop {
        if eof && driver.session().in_flight() == 0 && driver.session().queued() == 0 {
            driver.disconnect(ReasonCode::NORMAL_DISCONNECTION, &session.props.disconnect).await;
            return Ok(());
        }
        let room = driver.session().has_room();
        let step: Result<(), ClientError> = tokio::select! {
            line = rx.recv(), if room && !eof => match line {
                None => { eof = true; Ok(()) }
                Some(line) => {
                    let mut p = template.clone();
                    p.payload = Bytes::from(line);
                    let max = driver.session().max_packet_size();
                    check_len(&p, p.payload.len(), "The message", session.version(), max)
                        .and_then(|()| driver.publish(p).map(drop))
                }
            },
            event = driver.next() => match event {
                Ok(Event::Published { mid, reason }) => { warn_failed(mid, reason, session.quiet); Ok(()) }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            },
        };
        match step {
            Ok(()) => {}
            Err(e) if e.is_lost() => {
                reconnect(&mut driver, session).await;
                template = adapt_to_broker(driver.session(), template)?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Connects again after a lost connection, retrying every second (libmosquitto's reconnect delay) until it
/// works.
async fn reconnect(driver: &mut Driver, session: &Session) {
    loop {
        sleep(Duration::from_secs(1)).await;
        if driver.reconnect(&session.endpoint).await.is_ok() {
            return;
        }
    }
}
