//! The CONNECT handshake: reading CONNECT within the pre-authentication bounds, deciding it
//! (identifiers, keep alive, will, authentication), attaching the session and answering CONNACK.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use mq_proto::{ConnAck, Connect, ConnectReturnCode, DecodeError, FixedHeader, Packet, ProtocolVersion, ReasonCode};

use crate::broker::{AttachRequest, Broker};
use crate::kick::Kick;
use crate::log;
use crate::outbuf::OutBuf;
use crate::session::SessionAccess;
use crate::settings::{ListenerCtx, Settings};
use crate::stats::Local;
use crate::stream::Stream;

use super::protocol::{Accept, ConnectRules, decide_connect};
use super::{Accepted, Conn, Seat};

/// A client must send CONNECT, and be authenticated, within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// What any connection may buffer before it has authenticated (a CONNECT is rarely over 1 KiB).
pub const PRE_AUTH_FREE: usize = 64 * 1024;
/// What all connections together may buffer beyond [`PRE_AUTH_FREE`] each before they have
/// authenticated, whatever `max_packet_size` allows: a CONNECT with a large will draws on it, and one
/// that would pass it is refused, so unauthenticated clients cannot make the broker hold more than this
/// (plus the free part of each).
pub const PRE_AUTH_BUDGET: usize = 64 * 1024 * 1024;
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
    /// The TLS or WebSocket layer ended the connection (a failed TLS handshake, a broken upgrade, or
    /// an HTTP request answered).
    Layer(io::Error),
}

/// Reads and answers CONNECT: the accepted connection, or `None` when it was refused or broken. Reading
/// CONNECT and deciding it (authentication included) must end within [`CONNECT_TIMEOUT`].
pub(super) async fn handshake(accepted: Box<Accepted>) -> Option<Box<Conn>> {
    let Accepted { broker, listener, stream, peer } = *accepted;
    broker.stats.sockets.fetch_add(1, Ordering::Relaxed);
    let settings = broker.settings();
    if settings.connection_messages {
        match listener.protocol() {
            "mqtt" => log!(Notice, "New connection from {peer} on port {}.", listener.port),
            p => log!(Notice, "New connection from {peer} on port {} ({p}).", listener.port),
        }
    }
    let mut stream = match listener.wrap(stream) {
        Ok(s) => s,
        Err(e) => {
            log!(Error, "Unable to start TLS for {peer}: {e}.");
            return None;
        }
    };
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut rbuf = BytesMut::new();
    let mut local = Local::default();
    let mut pre_auth = PreAuth { broker: broker.clone(), held: 0 };
    let first = tokio::time::timeout_at(
        deadline,
        read_connect(&mut stream, &peer, &mut rbuf, &settings, &mut local, &mut pre_auth),
    )
    .await;
    listener.traffic.add(&local);
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
        Ok(Err(Refused::Layer(e))) => {
            match crate::stream::LayerError::of(&e) {
                // Not an MQTT client: a browser fetching a page of http_dir.
                Some(crate::stream::LayerError::Http { .. }) => {}
                Some(why) => log!(Notice, "Client <unknown> from {peer} disconnected: {why}."),
                None => log!(Notice, "Client <unknown> from {peer} disconnected: {e}."),
            }
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
    stream: &mut Stream,
    peer: &str,
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
                answer_bad_connect(stream, peer, level, &e);
                return Err(Refused::Malformed(e));
            }
        }
        // What a layer owes the client (a TLS handshake, the WebSocket upgrade answer) goes out first.
        let (readable, writable) = std::future::poll_fn(|cx| {
            let w = stream.has_output() && stream.poll_write_ready(cx)?.is_ready();
            let r = stream.poll_read_ready(cx)?.is_ready();
            if r || w { std::task::Poll::Ready(Ok::<_, io::Error>((r, w))) } else { std::task::Poll::Pending }
        })
        .await
        .map_err(|_| Refused::Closed)?;
        if writable && let Err(e) = stream.flush() {
            return Err(Refused::Layer(e));
        }
        if !readable {
            continue;
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
            Err(e) if crate::stream::LayerError::of(&e).is_some() => return Err(Refused::Layer(e)),
            Err(_) => return Err(Refused::Closed),
        }
    }
}

/// Sends the CONNACK a broken CONNECT deserves: MQTT 5 clients get the error's reason code; 3.x clients
/// get return code 1 for an unsupported protocol level and nothing otherwise ([MQTT-3.1.2-2]).
fn answer_bad_connect(stream: &mut Stream, peer: &str, level: Option<u8>, e: &DecodeError) {
    let (packet, version) = match (e, level) {
        (DecodeError::UnsupportedProtocol { .. }, _) => (
            ConnAck { code: ConnectReturnCode::UNACCEPTABLE_PROTOCOL_VERSION.0, ..Default::default() },
            ProtocolVersion::V311,
        ),
        (_, Some(5)) => (ConnAck { code: e.reason_code().0, ..Default::default() }, ProtocolVersion::V5),
        _ => return,
    };
    let mut out = BytesMut::new();
    let code = packet.code;
    if Packet::ConnAck(packet).encode(version, &mut out).is_ok() {
        log!(Debug, "Sending CONNACK to {} (0, {code})", peer_host(peer));
        // Best effort: the connection is closed right after.
        let _ = stream.try_write_vectored(&[io::IoSlice::new(&out)]);
    }
}

/// A peer's address without its port, as Mosquitto names clients without an id.
fn peer_host(peer: &str) -> String {
    crate::auth::peer_ip(peer).map_or_else(|| peer.to_owned(), |ip| ip.to_string())
}

/// The protocol level byte of a CONNECT at the front of `raw`, if it can be found.
fn connect_level(raw: &[u8]) -> Option<u8> {
    let h = FixedHeader::peek(raw, ProtocolVersion::V5).ok()??;
    let body = raw.get(h.header_len..)?;
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    body.get(2 + name_len).map(|l| l & 0x7F)
}

/// A generated client identifier: the prefix and a random UUID, as Mosquitto makes them
/// (`auto-E90F5C8D-02BA-0987-6174-A1493EF3A750`).
fn generate_client_id(prefix: &str) -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    let h = |r: std::ops::Range<usize>| hex.get(r).unwrap_or_default().to_owned();
    format!("{prefix}{}-{}-{}-{}-{}", h(0..8), h(8..12), h(12..16), h(16..20), h(20..32))
}

impl Conn {
    /// Validates and authenticates CONNECT, attaches the session and sends CONNACK. `None` when the
    /// client was refused (the CONNACK saying why has been sent).
    pub(super) async fn accept(
        broker: Arc<Broker>,
        listener: Arc<ListenerCtx>,
        mut stream: Stream,
        peer: String,
        connect: Box<Connect>,
        rbuf: BytesMut,
        settings: Arc<Settings>,
    ) -> Option<Conn> {
        let mut c = *connect;
        let v = c.protocol;
        let security = listener.security.read().clone();
        let log_id = if c.client_id.is_empty() { "<unknown>".to_owned() } else { c.client_id.clone() };
        let refuse = |stream: &mut Stream, code: Option<ReasonCode>, why: &str| {
            let packet = code.map(|code| {
                if v.is_v5() {
                    ConnAck { code: code.0, ..Default::default() }
                } else {
                    ConnAck { code: ConnectReturnCode::from_reason(code).0, ..Default::default() }
                }
            });
            let mut out = BytesMut::new();
            if let Some(p) = packet
                && let code = p.code
                && Packet::ConnAck(p).encode(v, &mut out).is_ok()
            {
                // As Mosquitto, named by address: the client is not known by its id.
                log!(Debug, "Sending CONNACK to {} (0, {code})", peer_host(&peer));
                let _ = stream.try_write_vectored(&[io::IoSlice::new(&out)]);
            }
            log!(Notice, client = log_id, "Client {log_id} disconnected, {why}.");
        };
        // A listener taking user names from client certificates uses no password (Mosquitto's order:
        // the certificate decides, the password file is not consulted).
        let cert_user = match listener.tls.as_ref().map(|t| t.identity) {
            Some(identity) if identity != crate::tls::Identity::None => {
                match stream.peer_certificate().and_then(|cert| crate::tls::cert_username(cert, identity)) {
                    Some(u) => Some(u),
                    None => {
                        refuse(&mut stream, Some(ReasonCode::NOT_AUTHORIZED), "no client certificate with a name");
                        return None;
                    }
                }
            }
            _ => None,
        };
        if let Some(u) = &cert_user {
            c.username = Some(u.clone());
            c.password = None;
        }
        let rules = ConnectRules {
            max_qos: listener.max_qos,
            max_topic_alias: listener.max_topic_alias,
            mount_point: listener.mount_point.as_deref(),
            use_username_as_clientid: listener.use_username_as_clientid,
            allow_zero_length_clientid: security.allow_zero_length_clientid,
            auto_id_prefix: &security.auto_id_prefix,
        };
        let accept = match decide_connect(&c, &settings, &rules, generate_client_id) {
            Ok(a) => a,
            Err(r) => {
                refuse(&mut stream, r.code, r.why);
                return None;
            }
        };
        if cert_user.is_none() {
            let peer_ip = crate::auth::peer_ip(&peer);
            if security.authenticate(c.username.as_deref(), c.password.as_deref(), peer_ip).await.is_err() {
                refuse(&mut stream, Some(ReasonCode::NOT_AUTHORIZED), "not authorised");
                return None;
            }
        }
        let Accept { client_id, keep_alive, expiry, will, connack: props, protocol } = accept;
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
            queue_qos0: listener.queue_qos0,
        });
        broker.stats.connections.fetch_add(1, Ordering::Relaxed);
        broker.stats.connected.fetch_add(1, Ordering::Relaxed);

        if settings.connection_messages {
            let u = c.username.as_deref().map(|u| format!(", u'{u}'")).unwrap_or_default();
            log!(
                Notice,
                client = client_id,
                "New client connected from {peer} as {client_id} ({}, c{}, k{}{u}).",
                v.log_tag(),
                u8::from(c.clean_start),
                c.keep_alive
            );
            match &c.will {
                Some(w) => {
                    log!(
                        Debug,
                        client = client_id,
                        "Will message specified ({} bytes) (r{}, q{}).",
                        w.payload.len(),
                        u8::from(w.retain),
                        w.qos.as_u8()
                    );
                    let mount = listener.mount_point.as_deref().unwrap_or_default();
                    log!(Debug, client = client_id, "\t{mount}{}", w.topic);
                }
                None => log!(Debug, client = client_id, "No will message specified."),
            }
        }

        let mut conn = Conn {
            seat: Seat { broker, listener },
            settings,
            stream,
            rbuf,
            out: OutBuf::default(),
            proto: protocol,
            session: attached.session,
            id,
            kick,
            client_id,
            username,
            security,
            generation,
            local: Local::default(),
            congested: Vec::new(),
            inbound: None,
            durable_at: Default::default(),
            retained_lookups: Vec::new(),
            park_at_once: true,
            served_parked_at: None,
        };
        if conn.session.is_persistent() {
            // CONNACK of a session to keep goes out once the session is stored.
            conn.note_durable();
        }
        conn.send(Packet::ConnAck(ConnAck { session_present: attached.present, code: 0, properties: props }));
        if attached.present {
            conn.resend_inflight();
        }
        Some(conn)
    }
}
