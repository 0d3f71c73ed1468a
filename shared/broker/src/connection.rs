//! One client connection: the CONNECT handshake, then a loop that reads and handles packets, pulls
//! deliveries from the session into the output buffer, writes, and stops when kicked (takeover,
//! shutdown, keep alive expired: the broker's sweep watches keep alive for every connection). One task
//! per connection does all of it; reads and writes use readiness so a large write to a slow client never
//! stops its acknowledgements from being read.
//!
//! Decode errors close the connection; MQTT 5 clients first get a DISCONNECT (or, during CONNECT, a
//! CONNACK) carrying the reason code from [`mq_proto::DecodeError::reason_code`].

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mq_proto::topic::{check_topic_filter, split_shared};
use mq_proto::{
    Ack, ConnAck, ConnAckProperties, Connect, ConnectReturnCode, DecodeError, Disconnect, FixedHeader, Packet,
    PacketId, ProtocolVersion, Publish, PublishHeader, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck,
    Unsubscribe,
};

use crate::acl::Want;
use crate::auth::Security;
use crate::broker::{AttachRequest, Broker};
use crate::large::{Assembly, LARGE_AT, Pieces};
use crate::log;
use crate::message::{Delivery, Message, Source};
use crate::outbuf::OutBuf;
use crate::session::{Expiry, Inflight, Kick, KickReason, Pace, Parked, Session, SessionAccess, Stage};
use crate::settings::{ListenerCtx, Settings};
use crate::stats::Local;
use crate::stream::Stream;

/// A client must send CONNECT, and be authenticated, within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// What any connection may buffer before it has authenticated (a CONNECT is rarely over 1 KiB).
pub const PRE_AUTH_FREE: usize = 64 * 1024;
/// What all connections together may buffer beyond [`PRE_AUTH_FREE`] each before they have
/// authenticated, whatever `max_packet_size` allows: a CONNECT with a large will draws on it, and one
/// that would pass it is refused, so unauthenticated clients cannot make the broker hold more than this
/// (plus the free part of each).
pub const PRE_AUTH_BUDGET: usize = 64 * 1024 * 1024;
/// Stop pulling deliveries into the output buffer beyond this many bytes.
const HIGH_WATER: usize = 64 * 1024;
/// Stop reading from a client whose own output (acknowledgements) piles up beyond this.
const READ_STOP: usize = 4 * 1024 * 1024;
/// Read at most this much per loop turn, so writes get their turn.
const READ_BUDGET: usize = 4 * 1024 * 1024;
/// Payloads up to this size are copied out of the read buffer, so the buffer can be reused instead of
/// being kept alive by queued messages.
const COPY_PAYLOAD_UP_TO: usize = 1024;
/// A congested subscriber that takes nothing from its queue for this long is stalled: publishers stop
/// waiting for it and its overflow is dropped from then on.
const CONGESTION_WAIT: Duration = Duration::from_millis(100);
/// How long a shutting-down connection may spend flushing.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);
/// Topic names and filters may have at most this many levels (200 separators, Mosquitto's limit). A
/// deeper one is a malformed packet, as in Mosquitto: nothing the broker keeps grows deeper than this.
pub const MAX_TOPIC_LEVELS: usize = 201;

/// Whether a topic or filter from a client is deeper than [`MAX_TOPIC_LEVELS`].
fn too_deep(topic: &str) -> bool {
    mq_proto::topic::exceeds_levels(topic, MAX_TOPIC_LEVELS)
}

/// The close for a topic or filter deeper than [`MAX_TOPIC_LEVELS`].
fn too_deep_close(what: &str) -> Close {
    Close::Protocol(ReasonCode::MALFORMED_PACKET, format!("{what} of more than {MAX_TOPIC_LEVELS} levels"))
}

/// Why a connection ends.
#[derive(Debug)]
enum Close {
    /// The client sent DISCONNECT; `will` says whether to publish the will (reason 0x04).
    Disconnect { will: bool },
    /// The peer closed the socket or it failed.
    Io(Option<io::Error>),
    /// A protocol error: DISCONNECT with this reason to MQTT 5 clients, then close.
    Protocol(ReasonCode, String),
    /// Keep alive expired.
    KeepAlive,
    /// Another connection took the client id.
    TakenOver,
    /// The broker is shutting down.
    Shutdown,
    /// Not a close: the connection is idle and parks (see [`Conn::run`]).
    Idle,
}

impl From<io::Error> for Close {
    fn from(e: io::Error) -> Self {
        Close::Io(Some(e))
    }
}

impl From<DecodeError> for Close {
    fn from(e: DecodeError) -> Self {
        Close::Protocol(e.reason_code(), e.to_string())
    }
}

/// Serves one accepted connection to its end (or until it parks: see [`crate::park`]).
///
/// The handshake runs in a boxed future of its own and the connection state lives in a box: the task
/// itself then holds little more than the loop's state.
///
/// The caller counted the connection in its listener and in the broker; the connection undoes both when
/// it is dropped, this guard if the handshake fails.
pub async fn serve(accepted: Box<Accepted>) {
    /// Uncounts a connection that never got past its handshake.
    struct Counted(Option<(Arc<Broker>, Arc<ListenerCtx>)>);
    impl Drop for Counted {
        fn drop(&mut self) {
            if let Some((broker, listener)) = self.0.take() {
                uncount(&broker, &listener);
            }
        }
    }
    let mut counted = Counted(Some((accepted.broker.clone(), accepted.listener.clone())));
    if let Some(conn) = Box::pin(handshake(accepted)).await {
        counted.0 = None;
        drop(counted);
        conn.run().await;
    }
}

fn uncount(broker: &Broker, listener: &ListenerCtx) {
    listener.connections.fetch_sub(1, Ordering::Relaxed);
    broker.active_connections.fetch_sub(1, Ordering::AcqRel);
}

/// A connection just accepted, boxed so the connection's task does not carry it for its whole life.
pub struct Accepted {
    pub broker: Arc<Broker>,
    pub listener: Arc<ListenerCtx>,
    pub stream: Stream,
    pub peer: String,
}

/// Bytes a connection holds before it has authenticated, drawn from the broker-wide
/// [`PRE_AUTH_BUDGET`] beyond the first [`PRE_AUTH_FREE`]; given back when dropped.
struct PreAuth {
    broker: Arc<Broker>,
    /// Drawn from the budget.
    held: usize,
}

impl PreAuth {
    /// Accounts for `len` bytes buffered; `false` when the budget cannot cover them.
    fn cover(&mut self, len: usize) -> bool {
        let want = len.saturating_sub(PRE_AUTH_FREE);
        if want <= self.held {
            return true;
        }
        let extra = want - self.held;
        let granted = self
            .broker
            .pre_auth_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + extra <= PRE_AUTH_BUDGET).then_some(used + extra)
            })
            .is_ok();
        if granted {
            self.held = want;
        }
        granted
    }
}

impl Drop for PreAuth {
    fn drop(&mut self) {
        self.broker.pre_auth_bytes.fetch_sub(self.held, Ordering::AcqRel);
    }
}

/// Why a handshake ended without a connection.
enum Refused {
    /// The CONNECT would not fit what the broker holds for unauthenticated clients.
    TooLarge,
    /// Closed, or the first packet was not CONNECT.
    Closed,
    /// A CONNECT that does not decode.
    Malformed(DecodeError),
}

/// Reads and answers CONNECT: the accepted connection, or `None` when it was refused or broken. Reading
/// CONNECT and deciding it (authentication included) must end within [`CONNECT_TIMEOUT`].
async fn handshake(accepted: Box<Accepted>) -> Option<Box<Conn>> {
    let Accepted { broker, listener, stream, peer } = *accepted;
    broker.stats.sockets.fetch_add(1, Ordering::Relaxed);
    let settings = broker.settings();
    if settings.connection_messages {
        log!(Notice, "New connection from {peer} on port {}.", listener.port);
    }
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut rbuf = BytesMut::new();
    let mut local = Local::default();
    let mut pre_auth = PreAuth { broker: broker.clone(), held: 0 };
    let first =
        tokio::time::timeout_at(deadline, read_connect(&stream, &mut rbuf, &settings, &mut local, &mut pre_auth)).await;
    broker.stats.flush(&mut local);
    let connect = match first {
        Ok(Ok(c)) => c,
        Ok(Err(Refused::Closed)) => {
            log!(Notice, "Client <unknown> disconnected due to protocol error.");
            return None;
        }
        Ok(Err(Refused::Malformed(e))) => {
            log!(Notice, "Client <unknown> disconnected due to protocol error: {e}.");
            return None;
        }
        Ok(Err(Refused::TooLarge)) => {
            log!(
                Notice,
                "Client <unknown> from {peer} disconnected: its CONNECT is larger than the broker holds for \
                 clients not yet authenticated."
            );
            return None;
        }
        Err(_) => {
            log!(Notice, "Client <unknown> has exceeded timeout, disconnecting.");
            return None;
        }
    };
    let accepted =
        tokio::time::timeout_at(deadline, Conn::accept(broker, listener, stream, peer, connect, rbuf, settings));
    let conn = match accepted.await {
        Ok(conn) => conn,
        Err(_) => {
            log!(Notice, "Client <unknown> has exceeded timeout (waiting for authentication), disconnecting.");
            None
        }
    };
    drop(pre_auth);
    conn.map(Box::new)
}

/// Reads until the first packet is complete: it must be CONNECT ([MQTT-3.1.0-1]). Decode errors of a
/// CONNECT are answered with a CONNACK where the version allows.
async fn read_connect(
    stream: &Stream,
    rbuf: &mut BytesMut,
    settings: &Settings,
    local: &mut Local,
    pre_auth: &mut PreAuth,
) -> Result<Box<Connect>, Refused> {
    let limit = settings.incoming_packet_limit();
    loop {
        // The protocol level decides how a broken CONNECT is answered; read it before decoding
        // consumes the packet.
        let level = connect_level(rbuf);
        match mq_proto::decode(rbuf, ProtocolVersion::V5, limit) {
            Ok(Some(Packet::Connect(c))) => {
                local.msgs_received += 1;
                return Ok(c);
            }
            Ok(Some(_)) => return Err(Refused::Closed),
            Ok(None) => {}
            Err(e) => {
                answer_bad_connect(stream, level, &e);
                return Err(Refused::Malformed(e));
            }
        }
        if stream.readable().await.is_err() {
            return Err(Refused::Closed);
        }
        // CONNECT packets are small: a small buffer keeps a burst of handshakes from leaving memory
        // fragmented (larger packets reserve more when their header is seen).
        if rbuf.capacity() - rbuf.len() < 128 {
            rbuf.reserve(512);
        }
        // What is read beyond the free allowance must fit the broker's pre-authentication budget.
        let room = (rbuf.capacity() - rbuf.len()).min(PRE_AUTH_FREE);
        if !pre_auth.cover(rbuf.len() + room) {
            return Err(Refused::TooLarge);
        }
        let mut limited = (&mut *rbuf).limit(room);
        match stream.try_read_buf(&mut limited) {
            Ok(0) => return Err(Refused::Closed),
            Ok(n) => local.bytes_received += n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Err(Refused::Closed),
        }
    }
}

/// Sends the CONNACK a broken CONNECT deserves: MQTT 5 clients get the error's reason code; 3.x clients
/// get return code 1 for an unsupported protocol level and nothing otherwise ([MQTT-3.1.2-2]).
fn answer_bad_connect(stream: &Stream, level: Option<u8>, e: &DecodeError) {
    let (packet, version) = match (e, level) {
        (DecodeError::UnsupportedProtocol { .. }, _) => (
            ConnAck { code: ConnectReturnCode::UNACCEPTABLE_PROTOCOL_VERSION.0, ..Default::default() },
            ProtocolVersion::V311,
        ),
        (_, Some(5)) => (ConnAck { code: e.reason_code().0, ..Default::default() }, ProtocolVersion::V5),
        _ => return,
    };
    let mut out = BytesMut::new();
    if Packet::ConnAck(packet).encode(version, &mut out).is_ok() {
        // Best effort: the connection is closed right after.
        let _ = stream.try_write_vectored(&[io::IoSlice::new(&out)]);
    }
}

/// The protocol level byte of a CONNECT at the front of `raw`, if it can be found.
fn connect_level(raw: &[u8]) -> Option<u8> {
    let h = FixedHeader::peek(raw, ProtocolVersion::V5).ok()??;
    let body = raw.get(h.header_len..)?;
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    body.get(2 + name_len).map(|l| l & 0x7F)
}

/// A PUBLISH as Mosquitto's log lines describe it: `(d0, q1, r0, m1, 'a/b', ... (5 bytes))`.
struct PublishSummary<'a>(&'a Publish, usize);

impl std::fmt::Display for PublishSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.0;
        write!(
            f,
            "(d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
            u8::from(p.dup),
            p.qos.as_u8(),
            u8::from(p.retain),
            p.packet_id.map_or(0, PacketId::get),
            p.topic,
            self.1
        )
    }
}

/// A generated client identifier: the prefix and a random UUID, as Mosquitto makes them
/// (`auto-E90F5C8D-02BA-0987-6174-A1493EF3A750`).
fn generate_client_id(prefix: &str) -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    let h = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default().to_owned();
    format!("{prefix}{}-{}-{}-{}-{}", h(0..8), h(8..12), h(12..16), h(16..20), h(20..32))
}

/// A large PUBLISH whose payload is being read (see [`crate::large`]): routed once complete.
struct Inbound {
    /// The packet without its payload.
    publish: Publish,
    /// The payload so far.
    payload: Assembly,
}

/// An accepted connection after its CONNACK.
struct Conn {
    broker: Arc<Broker>,
    listener: Arc<ListenerCtx>,
    settings: Arc<Settings>,
    stream: Stream,
    rbuf: BytesMut,
    out: OutBuf,
    version: ProtocolVersion,
    session: Arc<Session>,
    id: u64,
    kick: Arc<Kick>,
    client_id: Arc<str>,
    username: Option<Arc<str>>,
    /// Security in force (refreshed when the broker's generation changes).
    security: Arc<Security>,
    generation: u64,
    /// Topic aliases the client set (index = alias - 1).
    aliases: Vec<Option<Arc<str>>>,
    /// Outgoing in-flight window and largest packet the client accepts.
    window: usize,
    max_out_packet: usize,
    expiry: Expiry,
    connect_expiry_zero: bool,
    local: Local,
    /// Sessions whose queues this connection's publications filled: reading pauses until they drain.
    congested: Vec<Arc<Session>>,
    /// A large PUBLISH whose payload is being read.
    inbound: Option<Box<Inbound>>,
    /// Never parked yet: parks as soon as it is idle (afterwards only when the sweep finds it idle).
    park_at_once: bool,
}

impl Conn {
    /// Validates and authenticates CONNECT, attaches the session and sends CONNACK. `None` when the
    /// client was refused (the CONNACK saying why has been sent).
    async fn accept(
        broker: Arc<Broker>,
        listener: Arc<ListenerCtx>,
        stream: Stream,
        peer: String,
        connect: Box<Connect>,
        rbuf: BytesMut,
        settings: Arc<Settings>,
    ) -> Option<Conn> {
        let c = *connect;
        let v = c.protocol;
        let security = listener.security.read().clone();
        let refuse = |code: ReasonCode, why: &str| {
            let packet = if v.is_v5() {
                ConnAck { code: code.0, ..Default::default() }
            } else {
                ConnAck { code: ConnectReturnCode::from_reason(code).0, ..Default::default() }
            };
            let mut out = BytesMut::new();
            if Packet::ConnAck(packet).encode(v, &mut out).is_ok() {
                let _ = stream.try_write_vectored(&[io::IoSlice::new(&out)]);
            }
            log!(
                Notice,
                "Client {} disconnected, {why}.",
                if c.client_id.is_empty() { "<unknown>" } else { &c.client_id }
            );
        };

        if c.properties.authentication_method.is_some() {
            refuse(ReasonCode::BAD_AUTHENTICATION_METHOD, "extended authentication is not supported");
            return None;
        }
        let mut client_id = c.client_id.clone();
        if listener.use_username_as_clientid {
            match &c.username {
                Some(u) => client_id = u.clone(),
                None => {
                    refuse(ReasonCode::NOT_AUTHORIZED, "not authorised");
                    return None;
                }
            }
        }
        let mut assigned = None;
        if client_id.is_empty() {
            // MQTT 3.1 requires an id; 3.1.1 allows an empty one only with a clean session.
            let allowed =
                security.allow_zero_length_clientid && v != ProtocolVersion::V31 && (v.is_v5() || c.clean_start);
            if !allowed {
                refuse(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID, "client identifier not valid");
                return None;
            }
            client_id = generate_client_id(&security.auto_id_prefix);
            if v.is_v5() {
                assigned = Some(client_id.clone());
            }
        }
        if let Some(prefix) = &settings.clientid_prefixes
            && !client_id.starts_with(prefix.as_str())
        {
            refuse(ReasonCode::NOT_AUTHORIZED, "not authorised");
            return None;
        }
        let mut keep_alive = c.keep_alive;
        let mut server_keep_alive = None;
        if settings.max_keepalive < u16::MAX && (keep_alive > settings.max_keepalive || keep_alive == 0) {
            if v.is_v5() {
                keep_alive = settings.max_keepalive;
                server_keep_alive = Some(keep_alive);
            } else {
                refuse(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID, "keepalive too large");
                return None;
            }
        }
        if let Some(w) = &c.will {
            if too_deep(&w.topic) {
                // Mosquitto closes such a connection without a CONNACK; MQTT 5 clients learn why.
                if v.is_v5() {
                    refuse(ReasonCode::MALFORMED_PACKET, "will topic too deep");
                } else {
                    log!(Notice, "Client {} disconnected, will topic too deep.", c.client_id);
                }
                return None;
            }
            if w.retain && !settings.retain_available {
                refuse(ReasonCode::RETAIN_NOT_SUPPORTED, "will retain not supported");
                return None;
            }
            if w.qos > listener.max_qos {
                refuse(ReasonCode::QOS_NOT_SUPPORTED, "will QoS not supported");
                return None;
            }
        }
        let peer_ip = crate::auth::peer_ip(&peer);
        if security.authenticate(c.username.as_deref(), c.password.as_deref(), peer_ip).await.is_err() {
            refuse(ReasonCode::NOT_AUTHORIZED, "not authorised");
            return None;
        }

        let expiry = if v.is_v5() {
            match c.properties.session_expiry_interval.unwrap_or(0) {
                0 => Expiry::AtDisconnect,
                u32::MAX => Expiry::Never,
                s => Expiry::After(Duration::from_secs(s.into())),
            }
        } else if c.clean_start {
            Expiry::AtDisconnect
        } else {
            settings.persistent_client_expiration.map_or(Expiry::Never, Expiry::After)
        };
        let mut will = c.will.clone();
        if let (Some(w), Some(mount)) = (&mut will, &listener.mount_point) {
            w.topic = format!("{mount}{}", w.topic).into();
        }
        let id = broker.next_id();
        let kick = Kick::new(keep_alive, broker.now_ms());
        let client_id: Arc<str> = client_id.into();
        let username: Option<Arc<str>> = c.username.as_deref().map(Into::into);
        let generation = broker.generation.load(Ordering::Acquire);
        let attached = broker.attach(AttachRequest {
            client_id: client_id.clone(),
            clean_start: c.clean_start,
            expiry,
            version: v,
            access: SessionAccess {
                security: listener.security.clone(),
                acl: security.acl.clone(),
                username: username.clone(),
            },
            conn: id,
            kick: kick.clone(),
            will,
        });
        broker.stats.connections.fetch_add(1, Ordering::Relaxed);
        broker.stats.connected.fetch_add(1, Ordering::Relaxed);

        if settings.connection_messages {
            let u = c.username.as_deref().map(|u| format!(", u'{u}'")).unwrap_or_default();
            log!(
                Notice,
                "New client connected from {peer} as {client_id} ({}, c{}, k{}{u}).",
                v.log_tag(),
                u8::from(c.clean_start),
                c.keep_alive
            );
        }

        let mut props = ConnAckProperties::default();
        if v.is_v5() {
            if settings.max_inflight > 0 {
                props.receive_maximum = Some(settings.max_inflight);
            }
            if listener.max_qos < QoS::ExactlyOnce {
                props.maximum_qos = Some(listener.max_qos.as_u8());
            }
            if !settings.retain_available {
                props.retain_available = Some(0);
            }
            props.maximum_packet_size = settings.max_packet_size;
            if listener.max_topic_alias > 0 {
                props.topic_alias_maximum = Some(listener.max_topic_alias);
            }
            props.server_keep_alive = server_keep_alive;
            props.assigned_client_identifier = assigned;
            // Request/response (MQTT 5 §4.10): a client that asks gets a topic prefix of its own for
            // responses. `$` topics are not matched by `#`, so other clients' wildcards do not see them.
            if c.properties.request_response_information == Some(1) {
                props.response_information = Some(format!("$response/{client_id}/"));
            }
        }
        let receive_maximum = c.properties.receive_maximum.unwrap_or(u16::MAX);
        let mut conn = Conn {
            window: settings.window(receive_maximum),
            max_out_packet: c.properties.maximum_packet_size.map_or(mq_proto::MAX_PACKET_SIZE, |m| m as usize),
            broker,
            listener,
            settings,
            stream,
            rbuf,
            out: OutBuf::default(),
            version: v,
            session: attached.session,
            id,
            kick,
            client_id,
            username,
            security,
            generation,
            aliases: Vec::new(),
            expiry,
            connect_expiry_zero: expiry == Expiry::AtDisconnect && v.is_v5(),
            local: Local::default(),
            congested: Vec::new(),
            inbound: None,
            park_at_once: true,
        };
        conn.send(Packet::ConnAck(ConnAck { session_present: attached.present, code: 0, properties: props }));
        if attached.present {
            conn.resend_inflight();
        }
        Some(conn)
    }

    /// Encodes a packet into the output buffer.
    fn send(&mut self, p: Packet) {
        if p.encode(self.version, self.out.buf()).is_ok() {
            self.local.msgs_sent += 1;
        }
    }

    /// After a resumed session: resends unacknowledged PUBLISHes with DUP set and PUBRELs, in order
    /// ([MQTT-4.4.0-1]).
    fn resend_inflight(&mut self) {
        let session = self.session.clone();
        let st = session.state.lock();
        let now = Instant::now();
        for f in st.inflight.iter() {
            match f.stage {
                Stage::Published => {
                    let _ = self.encode_delivery(&f.delivery, PacketId::new(f.pid), true, now);
                }
                Stage::Released => {
                    if let Some(pid) = PacketId::new(f.pid) {
                        self.send(Packet::PubRel(Ack::new(pid)));
                    }
                }
            }
        }
    }

    async fn run(mut self: Box<Self>) {
        let close = self.serve_loop().await;
        if matches!(close, Close::Idle) {
            self.park();
            return;
        }
        Box::pin(self.finish(close)).await;
    }

    /// Whether to park now. A new connection with nothing to do parks at once (a client that connects
    /// and waits costs no task from the start); once resumed, a connection parks only when the sweep
    /// finds it idle for [`crate::park::PARK_AFTER_MS`], so steady traffic never parks and resumes it per packet.
    fn should_park(&mut self) -> bool {
        let hinted = self.kick.take_park_hint();
        let idle = self.out.is_empty() && self.rbuf.is_empty() && self.congested.is_empty() && self.inbound.is_none();
        if !idle {
            if hinted {
                // Busy after all: the sweep asks again once it has been idle long enough.
                self.kick.active(self.broker.now_ms());
            }
            return false;
        }
        (hinted || self.park_at_once)
            && !self.broker.shutting_down.load(Ordering::Relaxed)
            && self.broker.lot.as_ref().is_some_and(|l| l.open())
    }

    /// Parks the idle connection: its socket leaves the reactor for the broker's parking epoll, the
    /// state waits in its kick handle, and this task ends (see [`crate::park`]).
    fn park(mut self: Box<Self>) {
        let Some(lot) = self.broker.lot.clone() else {
            tokio::spawn(self.run());
            return;
        };
        // Nothing is buffered (that is what idle means): keep no buffer capacity while parked.
        self.out = OutBuf::default();
        self.rbuf = BytesMut::new();
        self.congested = Vec::new();
        let token = lot.token();
        if let Err(e) = self.stream.park(token) {
            tokio::spawn(Box::pin(self.finish(Close::Io(Some(e)))));
            return;
        }
        let kick = self.kick.clone();
        let watcher = kick.clone();
        if let Err((conn, e)) = kick.park(self, |fd| lot.watch(fd, token, watcher)) {
            if let Some(e) = e {
                log!(Warning, "Unable to park a connection, keeping it active: {e}.");
            }
            conn.resume();
        }
    }

    /// Picks up reloaded settings and security.
    fn refresh(&mut self) {
        let g = self.broker.generation.load(Ordering::Acquire);
        if g != self.generation {
            self.generation = g;
            self.settings = self.broker.settings();
            self.security = self.listener.security.read().clone();
        }
    }

    async fn serve_loop(&mut self) -> Close {
        loop {
            // Socket readiness does not count against tokio's cooperative budget: a publisher whose
            // socket always has data would never yield, and a subscriber it woke (placed in this worker's
            // LIFO slot, which other workers cannot steal) would starve. Spend budget explicitly.
            tokio::task::consume_budget().await;
            self.refresh();
            let more = match self.pull() {
                Ok(more) => more,
                Err(c) => return c,
            };
            if !self.out.is_empty()
                && let Err(e) = self.flush()
            {
                return e.into();
            }
            if more && self.out.len() < HIGH_WATER {
                // The queue holds more than the buffer took and the socket took it all: go again. (No
                // wake-up would come: publishers wake a session only when its queue was empty.)
                continue;
            }
            self.broker.stats.flush(&mut self.local);
            if !self.congested.is_empty() {
                Box::pin(self.wait_for_room()).await;
                // Packets read before the pause are handled now, before reading more.
                if let Err(c) = self.handle_buffered() {
                    return c;
                }
                if !self.congested.is_empty() {
                    continue;
                }
            }

            if let Some(reason) = self.kick.reason() {
                return match reason {
                    KickReason::TakenOver { .. } => Close::TakenOver,
                    KickReason::Shutdown => Close::Shutdown,
                    KickReason::KeepAlive => Close::KeepAlive,
                };
            }
            if self.should_park() {
                return Close::Idle;
            }
            let want_read = self.inbound.is_some() || self.out.len() < READ_STOP;
            let want_write = self.out.can_write();
            // The socket's readiness is polled in place (its wakers live in tokio's registration, not in
            // a future of ours) and one notifier serves deliveries and kicks: an idle connection's task
            // stays small. The notifier is always watched: a kick must be seen even by a connection
            // whose client stopped reading.
            let (readable, writable) = {
                let notified = self.kick.notified();
                tokio::pin!(notified);
                let stream = &self.stream;
                std::future::poll_fn(|cx| {
                    if notified.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Ok((false, false)));
                    }
                    let r = want_read && stream.poll_read_ready(cx)?.is_ready();
                    let w = want_write && stream.poll_write_ready(cx)?.is_ready();
                    if r || w { Poll::Ready(Ok((r, w))) } else { Poll::Pending }
                })
                .await
                .unwrap_or_else(|e: io::Error| {
                    // Reported by the read or write that follows.
                    let _ = e;
                    (want_read, want_write)
                })
            };
            if writable && let Err(e) = self.flush() {
                return e.into();
            }
            if readable && let Err(c) = self.read_and_handle() {
                return c;
            }
        }
    }

    /// Flow control: before reading more from this publisher, waits until the subscribers its messages
    /// congested have room again. A subscriber that does not keep draining at a useful pace is marked
    /// stalled instead: publishers stop waiting for it and its overflow is dropped (and counted), so one
    /// slow subscriber never sets the pace of its publishers, nor delays their PINGRESP, for more than
    /// [`CONGESTION_WAIT`].
    ///
    /// The pace asked for: in every [`CONGESTION_WAIT`], a tenth of its queue limit (so a full queue
    /// within a second). A client that keeps up with the traffic drains far faster; one that takes a
    /// message now and then (acknowledging every 80 ms, say) does not, however steadily it moves.
    async fn wait_for_room(&mut self) {
        let window_ms = u64::try_from(CONGESTION_WAIT.as_millis()).unwrap_or(100);
        for s in std::mem::take(&mut self.congested) {
            loop {
                let notified = self.broker.space.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                // A kick (takeover, shutdown) ends the wait; the pause itself is not the client's
                // silence, so keep alive counts it as heard from.
                if s.has_room() || !s.is_online() || self.kick.reason().is_some() {
                    break;
                }
                let now = self.broker.now_ms();
                self.kick.touch(now);
                let until = match s.state.lock().judge_pace(now, window_ms) {
                    Pace::Wait(until) => until,
                    Pace::Stalled => {
                        log!(Notice, "Client {} is not keeping up; dropping what overflows its queue.", s.client_id);
                        break;
                    }
                };
                let deadline = tokio::time::Instant::now() + Duration::from_millis(until.saturating_sub(now));
                tokio::select! {
                    _ = tokio::time::timeout_at(deadline, notified) => {}
                    () = self.kick.notified() => {}
                }
            }
        }
    }

    /// Writes what the socket takes.
    fn flush(&mut self) -> io::Result<()> {
        let n = self.out.write_to(&self.stream)?;
        if n > 0 {
            self.local.bytes_sent += n as u64;
            self.kick.active(self.broker.now_ms());
        }
        Ok(())
    }

    /// Reads what is available and handles every complete packet.
    fn read_and_handle(&mut self) -> Result<(), Close> {
        let mut total = 0;
        let mut eof = false;
        loop {
            let read = match &mut self.inbound {
                Some(inbound) => match inbound.payload.spare() {
                    Ok(spare) => self.stream.try_read(spare),
                    Err(e) => Err(e),
                },
                None => {
                    // Start small (most reads of an idle client are a PINGREQ); grow while data keeps coming.
                    if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                        self.rbuf.reserve(if total == 0 && self.rbuf.is_empty() { 2048 } else { 16 * 1024 });
                    }
                    self.stream.try_read_buf(&mut self.rbuf)
                }
            };
            match read {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    total += n;
                    match &mut self.inbound {
                        Some(inbound) => {
                            inbound.payload.advance(n);
                            if inbound.payload.is_complete() {
                                self.complete_inbound()?;
                            }
                        }
                        // A large PUBLISH at the front goes to pieces of its own from its head on.
                        None if self.congested.is_empty() => {
                            self.start_inbound()?;
                        }
                        None => {}
                    }
                    if total >= READ_BUDGET || !self.congested.is_empty() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        if total > 0 {
            self.local.bytes_received += total as u64;
            self.kick.touch(self.broker.now_ms());
        }
        self.handle_buffered()?;
        if eof {
            return Err(Close::Io(None));
        }
        Ok(())
    }

    /// When the read buffer starts with a large PUBLISH that is not all there but whose head is, takes
    /// the head and reads the payload into pieces of its own from then on (see [`crate::large`]), so the
    /// read buffer never grows to the size a client declares. Returns whether it did.
    fn start_inbound(&mut self) -> Result<bool, Close> {
        if self.inbound.is_some() || self.rbuf.first().is_none_or(|b| b >> 4 != 3) {
            return Ok(false);
        }
        let limit = self.settings.incoming_packet_limit();
        match FixedHeader::peek(&self.rbuf, self.version) {
            Ok(Some(h))
                if h.packet_len() >= LARGE_AT && h.packet_len() <= limit && self.rbuf.len() < h.packet_len() => {}
            // Small, complete, too large, or not even a header yet: `decode` handles it (and reports errors).
            _ => return Ok(false),
        }
        // A head that is wrong is reported at once, whatever comes of the payload.
        let Some((publish, head_len, payload_len)) = mq_proto::decode_publish_head(&self.rbuf, self.version, limit)?
        else {
            return Ok(false);
        };
        self.rbuf.advance(head_len);
        let first = std::mem::take(&mut self.rbuf).freeze();
        // Over `message_size_limit`: read to keep the stream in step, but keep none of it.
        let discard = self.settings.message_size_limit > 0 && payload_len > self.settings.message_size_limit;
        self.inbound = Some(Box::new(Inbound { publish, payload: Assembly::new(payload_len, first, discard) }));
        if self.inbound.as_ref().is_some_and(|i| i.payload.is_complete()) {
            self.complete_inbound()?;
        }
        Ok(true)
    }

    /// The large payload being read is complete: the PUBLISH is handled like any other.
    fn complete_inbound(&mut self) -> Result<(), Close> {
        if let Some(inbound) = self.inbound.take() {
            let Inbound { publish, payload } = *inbound;
            let len = payload.len();
            self.local.msgs_received += 1;
            let pieces = Arc::new(payload.finish());
            if let Some(ack) = self.route_publish(publish, Some((pieces, len)))? {
                self.send(ack);
            }
        }
        Ok(())
    }

    /// Handles the complete packets in the read buffer, stopping early when a publication congested a
    /// subscriber (flow control: the rest waits until there is room).
    fn handle_buffered(&mut self) -> Result<(), Close> {
        let limit = self.settings.incoming_packet_limit();
        while self.congested.is_empty() && self.inbound.is_none() {
            if self.start_inbound()? {
                break;
            }
            let Some(p) = mq_proto::decode(&mut self.rbuf, self.version, limit)? else {
                break;
            };
            self.local.msgs_received += 1;
            self.handle(p)?;
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            // Idle connections hold no read buffer.
            self.rbuf = BytesMut::new();
        }
        Ok(())
    }

    fn protocol_error(&self, why: impl Into<String>) -> Close {
        Close::Protocol(ReasonCode::PROTOCOL_ERROR, why.into())
    }

    fn handle(&mut self, p: Packet) -> Result<(), Close> {
        match p {
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(a) => {
                self.session.state.lock().inflight.take(a.packet_id.get(), Stage::Published);
                Ok(())
            }
            Packet::PubRec(a) => self.on_pubrec(a),
            Packet::PubRel(a) => {
                let found = self.session.state.lock().incoming_qos2.remove(a.packet_id.get());
                let reason = if found || !self.version.is_v5() {
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
                };
                self.send(Packet::PubComp(Ack::with_reason(a.packet_id, reason)));
                Ok(())
            }
            Packet::PubComp(a) => {
                self.session.state.lock().inflight.take(a.packet_id.get(), Stage::Released);
                Ok(())
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u),
            Packet::PingReq => {
                self.send(Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(d) => self.on_disconnect(d),
            Packet::Connect(_) => Err(self.protocol_error("second CONNECT")),
            Packet::Auth(_) => Err(self.protocol_error("AUTH without extended authentication")),
            other => Err(self.protocol_error(format!("{} from a client", other.packet_type()))),
        }
    }

    fn on_publish(&mut self, p: Publish) -> Result<(), Close> {
        if let Some(ack) = self.route_publish(p, None)? {
            self.send(ack);
        }
        Ok(())
    }

    /// Checks and routes a PUBLISH (whose payload is in `large` pieces, with its length, when it was
    /// read as a large payload) and returns the acknowledgement to send.
    fn route_publish(&mut self, mut p: Publish, large: Option<(Arc<Pieces>, usize)>) -> Result<Option<Packet>, Close> {
        let payload_len = large.as_ref().map_or(p.payload.len(), |(_, len)| *len);
        let v5 = self.version.is_v5();
        if v5 {
            if let Some(alias) = p.properties.topic_alias.take() {
                if alias == 0 || alias > self.listener.max_topic_alias {
                    return Err(Close::Protocol(ReasonCode::TOPIC_ALIAS_INVALID, format!("topic alias {alias}")));
                }
                let i = usize::from(alias - 1);
                if p.topic.is_empty() {
                    match self.aliases.get(i).cloned().flatten() {
                        Some(t) => p.topic = t,
                        None => return Err(self.protocol_error(format!("unknown topic alias {alias}"))),
                    }
                } else {
                    if self.aliases.len() <= i {
                        self.aliases.resize(i + 1, None);
                    }
                    self.aliases[i] = Some(p.topic.clone());
                }
            }
            // [MQTT-3.3.4-6] a client does not send subscription identifiers.
            if !p.properties.subscription_identifiers.is_empty() {
                return Err(self.protocol_error("PUBLISH with a subscription identifier"));
            }
        }
        if too_deep(&p.topic) {
            return Err(too_deep_close("topic"));
        }
        if p.qos > self.listener.max_qos {
            return Err(Close::Protocol(ReasonCode::QOS_NOT_SUPPORTED, format!("QoS {} PUBLISH", p.qos.as_u8())));
        }
        if p.retain && !self.settings.retain_available {
            return Err(Close::Protocol(ReasonCode::RETAIN_NOT_SUPPORTED, "retained PUBLISH".into()));
        }
        self.local.pub_received += 1;
        self.local.pub_bytes_received += payload_len as u64;
        let pid = p.packet_id;
        log!(Debug, "Received PUBLISH from {} {}", self.client_id, PublishSummary(&p, payload_len));

        // QoS 2 received twice before PUBREL (a resend with DUP): acknowledge without routing again.
        if p.qos == QoS::ExactlyOnce
            && let Some(id) = pid
        {
            let mut st = self.session.state.lock();
            if st.incoming_qos2.contains(id.get()) {
                return Ok(Some(Packet::PubRec(Ack::new(id))));
            }
            let max = if self.settings.max_inflight == 0 {
                usize::from(u16::MAX)
            } else {
                usize::from(self.settings.max_inflight)
            };
            if v5 && st.incoming_qos2.len() >= max {
                return Err(Close::Protocol(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED, "receive maximum exceeded".into()));
            }
            st.incoming_qos2.insert(id.get());
        }

        let topic: Arc<str> = match &self.listener.mount_point {
            Some(m) => format!("{m}{}", p.topic).into(),
            None => p.topic.clone(),
        };
        // Clients never publish into $SYS or $share (Mosquitto's rule), nor where the ACL says no.
        let denied = p.topic.starts_with("$SYS/")
            || p.topic.starts_with("$share/")
            || &*p.topic == "$SYS"
            || self
                .security
                .acl
                .as_ref()
                .is_some_and(|acl| !acl.check(Want::Write, self.username.as_deref(), &self.client_id, &topic));
        if denied {
            log!(Debug, "Denied PUBLISH from {} {}", self.client_id, PublishSummary(&p, payload_len));
        }
        let too_big = self.settings.message_size_limit > 0 && payload_len > self.settings.message_size_limit;
        let outcome = if too_big {
            log!(Notice, "Dropped too large PUBLISH from {} ({payload_len} bytes).", self.client_id);
            Some(ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR)
        } else if denied {
            Some(ReasonCode::NOT_AUTHORIZED)
        } else {
            None
        };
        let reason = match outcome {
            Some(r) => r,
            None => {
                let now = Instant::now();
                let expires_at =
                    p.properties.message_expiry_interval.take().map(|s| now + Duration::from_secs(s.into()));
                let payload = if p.payload.len() <= COPY_PAYLOAD_UP_TO {
                    Bytes::copy_from_slice(&p.payload)
                } else {
                    std::mem::take(&mut p.payload)
                };
                let msg = Message {
                    topic,
                    payload,
                    large: large.map(|(pieces, _)| pieces),
                    qos: p.qos,
                    retain: p.retain,
                    properties: std::mem::take(&mut p.properties),
                    expires_at,
                    origin: self.session.id,
                    source: (p.retain && self.settings.check_retain_source).then(|| {
                        Arc::new(Source {
                            security: self.listener.security.clone(),
                            username: self.username.clone(),
                            client_id: self.client_id.clone(),
                        })
                    }),
                };
                let msg = Arc::new(msg);
                let queued = self.broker.publish_flow(msg, &self.settings, &mut self.local, Some(&mut self.congested));
                if queued == 0 { ReasonCode::NO_MATCHING_SUBSCRIBERS } else { ReasonCode::SUCCESS }
            }
        };
        // MQTT 3.x has no way to report these; the acknowledgement is plain (Mosquitto does the same).
        let reason = if v5 { reason } else { ReasonCode::SUCCESS };
        let ack = match (p.qos, pid) {
            (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(Ack::with_reason(id, reason))),
            (QoS::ExactlyOnce, Some(id)) => {
                if reason.is_error() {
                    self.session.state.lock().incoming_qos2.remove(id.get());
                }
                Some(Packet::PubRec(Ack::with_reason(id, reason)))
            }
            _ => None,
        };
        Ok(ack)
    }

    fn on_pubrec(&mut self, a: Ack) -> Result<(), Close> {
        let pid = a.packet_id.get();
        let mut st = self.session.state.lock();
        let found = if a.reason.is_error() {
            // The receiver refused the message: the exchange ends here.
            st.inflight.take(pid, Stage::Published).is_some()
        } else {
            st.inflight.advance(pid, Stage::Published, Stage::Released)
        };
        drop(st);
        if !found {
            if self.version.is_v5() {
                self.send(Packet::PubRel(Ack::with_reason(a.packet_id, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)));
            }
            return Ok(());
        }
        if a.reason.is_error() {
            return Ok(());
        }
        self.send(Packet::PubRel(Ack::new(a.packet_id)));
        Ok(())
    }

    /// A filter as stored: the listener's mount point before it (inside `$share/<group>/`).
    fn mounted_filter(&self, filter: &str) -> String {
        match (&self.listener.mount_point, split_shared(filter).and_then(Result::ok)) {
            (Some(m), Some((group, inner))) => format!("$share/{group}/{m}{inner}"),
            (Some(m), None) => format!("{m}{filter}"),
            (None, _) => filter.to_owned(),
        }
    }

    fn on_subscribe(&mut self, s: Subscribe) -> Result<(), Close> {
        let v = self.version;
        let now = Instant::now();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained: Vec<(Arc<Message>, QoS, Option<u32>)> = Vec::new();
        let sub_id = s.properties.subscription_identifier;
        if s.filters.iter().any(|(f, _)| too_deep(f)) {
            return Err(too_deep_close("topic filter"));
        }
        for (filter, opts) in s.filters {
            if check_topic_filter(&filter).is_err() {
                if v == ProtocolVersion::V31 {
                    return Err(self.protocol_error(format!("invalid topic filter '{filter}'")));
                }
                codes.push(if v.is_v5() { ReasonCode::TOPIC_FILTER_INVALID } else { ReasonCode::UNSPECIFIED_ERROR });
                continue;
            }
            let shared = split_shared(&filter).and_then(Result::ok);
            if shared.is_some() && opts.no_local && v.is_v5() {
                // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
                return Err(self.protocol_error("No Local on a shared subscription"));
            }
            let granted = opts.qos.min(self.listener.max_qos);
            let full = self.mounted_filter(&filter);
            if let Some(acl) = &self.security.acl
                && !acl.may_subscribe(self.username.as_deref(), &self.client_id, &full)
                && v != ProtocolVersion::V31
            {
                log!(Notice, "Denied SUBSCRIBE from {} to '{filter}'.", self.client_id);
                codes.push(if v.is_v5() { ReasonCode::NOT_AUTHORIZED } else { ReasonCode::UNSPECIFIED_ERROR });
                continue;
            }
            let granted_opts = mq_proto::SubscriptionOptions { qos: granted, ..opts };
            let existed = self.broker.subscribe(&self.session, &full, granted_opts, sub_id);
            log!(Subscribe, "{} {} {}", self.client_id, granted.as_u8(), filter);
            codes.push(ReasonCode(granted.as_u8()));
            let send_retained = shared.is_none()
                && match opts.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendIfNew => !existed,
                    RetainHandling::DoNotSend => false,
                };
            if send_retained {
                let mut found = Vec::new();
                self.broker.retained.read().matching(&full, now, &mut found);
                // `check_retain_source`: the publisher must still be allowed to write there.
                found.retain(|m| m.source.as_ref().is_none_or(|s| s.may_write(&m.topic)));
                retained.extend(found.into_iter().map(|m| (m, granted, sub_id)));
            }
        }
        self.send(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            reason_codes: codes,
            properties: Default::default(),
        }));
        // Retained messages follow the SUBACK, all of them, paced by the in-flight window.
        let upgrade = self.settings.upgrade_outgoing_qos;
        self.session.enqueue_retained(retained.into_iter().map(|(msg, granted, id)| {
            let qos = if upgrade { granted } else { granted.min(msg.qos) };
            Delivery { msg, qos, retain: true, sub_ids: id.into_iter().collect(), shared: None }
        }));
        Ok(())
    }

    fn on_unsubscribe(&mut self, u: Unsubscribe) -> Result<(), Close> {
        if u.filters.iter().any(|f| too_deep(f)) {
            return Err(too_deep_close("topic filter"));
        }
        let mut codes = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            if check_topic_filter(filter).is_err() {
                codes.push(ReasonCode::TOPIC_FILTER_INVALID);
                continue;
            }
            let full = self.mounted_filter(filter);
            let existed = self.broker.unsubscribe(&self.session, &full);
            log!(Unsubscribe, "{} {}", self.client_id, filter);
            codes.push(if existed { ReasonCode::SUCCESS } else { ReasonCode::NO_SUBSCRIPTION_EXISTED });
        }
        if !self.version.is_v5() {
            codes.clear();
        }
        self.send(Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            reason_codes: codes,
            properties: Default::default(),
        }));
        Ok(())
    }

    fn on_disconnect(&mut self, d: Disconnect) -> Result<(), Close> {
        if let Some(s) = d.properties.session_expiry_interval {
            // [MQTT-3.14.2-2] a session that ended with the connection cannot be given a lifetime now.
            if self.connect_expiry_zero && s != 0 {
                return Err(self.protocol_error("session expiry set in DISCONNECT after 0 in CONNECT"));
            }
            self.expiry = match s {
                0 => Expiry::AtDisconnect,
                u32::MAX => Expiry::Never,
                s => Expiry::After(Duration::from_secs(s.into())),
            };
        }
        Err(Close::Disconnect { will: d.reason == ReasonCode::DISCONNECT_WITH_WILL })
    }

    /// Moves deliveries from the session into the output buffer, as far as the in-flight window and
    /// the buffer's high-water mark allow. Returns whether it stopped at the high-water mark with
    /// deliveries left; fails when the session was taken over.
    fn pull(&mut self) -> Result<bool, Close> {
        if self.out.len() >= HIGH_WATER {
            return Ok(true);
        }
        let now = Instant::now();
        let session = self.session.clone();
        let mut st = session.state.lock();
        if st.attached.as_ref().is_none_or(|a| a.conn != self.id) {
            return Err(Close::TakenOver);
        }
        let was_over = st.congested();
        while self.out.len() < HIGH_WATER {
            let Some(front) = st.next_delivery() else { break };
            if front.qos != QoS::AtMostOnce {
                if st.inflight.len() >= self.window {
                    break;
                }
                // `max_inflight_bytes`: a single message larger than the limit still goes out alone.
                let limit = self.settings.max_inflight_bytes;
                if limit > 0 && !st.inflight.is_empty() && st.inflight.bytes() + front.msg.size() > limit {
                    break;
                }
            }
            let Some(d) = st.pop_delivery() else { break };
            if d.msg.expired(now) {
                self.local.pub_dropped += 1;
                continue;
            }
            if d.qos == QoS::AtMostOnce {
                if !self.encode_delivery(&d, None, false, now) {
                    self.local.pub_dropped += 1;
                }
                continue;
            }
            let Some(pid) = st.inflight.next_pid() else {
                // Not reached (the window is at most 65,535): put it back all the same.
                st.pending_bytes += d.msg.size();
                st.pending.push_front(d);
                break;
            };
            if self.encode_delivery(&d, PacketId::new(pid), false, now) {
                st.inflight.push(Inflight { pid, delivery: d, stage: Stage::Published });
            } else {
                self.local.pub_dropped += 1;
            }
        }
        let more = self.out.len() >= HIGH_WATER
            && st.next_delivery().is_some_and(|d| d.qos == QoS::AtMostOnce || st.inflight.len() < self.window);
        if was_over && !st.congested() {
            drop(st);
            self.broker.space.notify_waiters();
        }
        Ok(more)
    }

    /// Encodes one delivery as a PUBLISH. `false` if it cannot be sent (larger than the client's
    /// Maximum Packet Size: dropped, as [MQTT-3.1.2-25] requires).
    fn encode_delivery(&mut self, d: &Delivery, pid: Option<PacketId>, dup: bool, now: Instant) -> bool {
        let msg = &d.msg;
        let topic = match &self.listener.mount_point {
            Some(m) => msg.topic.strip_prefix(m.as_str()).unwrap_or(&msg.topic),
            None => &msg.topic,
        };
        let extra = self.version.is_v5() && (msg.expires_at.is_some() || !d.sub_ids.is_empty());
        let owned;
        let properties = if extra {
            let mut p = msg.properties.clone();
            p.message_expiry_interval = msg.remaining_expiry(now);
            p.subscription_identifiers.clone_from(&d.sub_ids);
            owned = p;
            &owned
        } else {
            &msg.properties
        };
        let header = PublishHeader { dup, qos: d.qos, retain: d.retain, topic, packet_id: pid, properties };
        let size = msg.size();
        match header.packet_len(size, self.version) {
            Ok(n) if n <= self.max_out_packet => {}
            _ => return false,
        }
        if header.encode(size, self.version, self.out.buf()).is_err() {
            return false;
        }
        match &msg.large {
            Some(large) => self.out.pieces(large),
            None => self.out.payload(&msg.payload),
        }
        self.local.msgs_sent += 1;
        self.local.pub_sent += 1;
        self.local.pub_bytes_sent += size as u64;
        true
    }

    /// While closing: waits until more can be written (`false` when the socket failed).
    /// (`&mut`: the connection is `Send`, not `Sync`.)
    async fn wait_to_write(&mut self) -> bool {
        self.stream.writable().await.is_ok()
    }

    /// Ends the connection: tells MQTT 5 clients why where the spec allows, flushes, and detaches the
    /// session (publishing the will when the close was not a normal DISCONNECT).
    async fn finish(mut self: Box<Self>, close: Close) {
        if let Some(inbound) = self.inbound.take() {
            // The packet never completed: nothing of it was published.
            log!(
                Notice,
                "Client {} went away {} bytes into a {}-byte message; it is not published.",
                self.client_id,
                inbound.payload.received(),
                inbound.payload.len()
            );
        }
        let (publish_will, reason, log_line) = match &close {
            Close::Disconnect { will } => (*will, None, format!("Client {} disconnected.", self.client_id)),
            Close::Io(None) => (true, None, format!("Client {} closed its connection.", self.client_id)),
            Close::Io(Some(e)) => {
                (true, None, format!("Socket error on client {}, disconnecting: {e}.", self.client_id))
            }
            Close::Protocol(code, why) => {
                (true, Some(*code), format!("Client {} disconnected due to protocol error: {why}.", self.client_id))
            }
            Close::KeepAlive => (
                true,
                Some(ReasonCode::KEEP_ALIVE_TIMEOUT),
                format!("Client {} has exceeded timeout, disconnecting.", self.client_id),
            ),
            Close::TakenOver => (
                false,
                Some(ReasonCode::SESSION_TAKEN_OVER),
                format!("Client {} already connected, closing old connection.", self.client_id),
            ),
            Close::Shutdown => (false, Some(ReasonCode::SERVER_SHUTTING_DOWN), String::new()),
            Close::Idle => (true, None, format!("Client {} closed its connection.", self.client_id)),
        };
        if self.settings.connection_messages && !log_line.is_empty() {
            log!(Notice, "{log_line}");
        }
        if matches!(close, Close::Shutdown) {
            // Deliver what is queued for this client before going.
            let deadline = Instant::now() + SHUTDOWN_FLUSH;
            let _ = tokio::time::timeout_at(deadline.into(), async {
                loop {
                    if self.pull().is_err() {
                        break;
                    }
                    tokio::task::consume_budget().await;
                    if self.out.is_empty() || self.flush().is_err() || !self.wait_to_write().await {
                        break;
                    }
                }
            })
            .await;
        }
        if let (Some(code), true) = (reason, self.version.is_v5()) {
            self.send(Packet::Disconnect(Disconnect::new(code)));
        }
        if !matches!(close, Close::Io(_)) {
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while !self.out.is_empty() {
                    if self.flush().is_err() || !self.wait_to_write().await {
                        break;
                    }
                }
            })
            .await;
        }
        self.broker.detach(&self.session, self.id, publish_will, self.expiry);
        self.broker.stats.connected.fetch_sub(1, Ordering::Relaxed);
        self.broker.stats.flush(&mut self.local);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        uncount(&self.broker, &self.listener);
    }
}

impl Parked for Conn {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.stream.parked().map(|(fd, _)| fd)
    }

    fn resume(mut self: Box<Self>) {
        self.park_at_once = false;
        if let (Some(lot), Some((fd, token))) = (&self.broker.lot, self.stream.parked()) {
            lot.unwatch(fd, token);
        }
        match self.stream.unpark() {
            Ok(()) => {
                tokio::spawn(self.run());
            }
            Err(e) => {
                tokio::spawn(Box::pin(self.finish(Close::Io(Some(e)))));
            }
        }
    }
}
