//! One MQTT connection: the CONNECT/CONNACK handshake, framing packets in and out over a [`Stream`],
//! keep alive, incoming topic aliases, and the `-d` lines for every packet.
//!
//! Design: the tools are single-task event loops (`tokio::select!` over [`Conn::recv`], timers and their
//! own work), so a connection is a plain struct owned by that loop, not a task of its own. [`Conn::recv`]
//! is cancel-safe: everything read is kept in the receive buffer until a whole packet has arrived, so it
//! can sit in a `select!` next to other branches. Sends are awaited to completion in a branch's body.
//!
//! Large payloads: the receive buffer grows to the size announced in a packet's fixed header (after the
//! size check), and a received payload is split off it without copying. Outgoing payloads are written
//! from where they are: a PUBLISH header is encoded on its own and the payload follows in the same
//! vectored write, or is streamed from a file by the caller ([`Conn::stream_mut`]).

use std::collections::HashMap;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf as _, BytesMut};
use mq_proto::{
    ConnAck, Disconnect, FixedHeader, MAX_PACKET_SIZE, Packet, PacketType, ProtocolVersion, Publish, ReasonCode,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

use crate::config::Session;
use crate::debug::Log;
use crate::error::ClientError;
use crate::transport::{self, Stream};

/// Payloads up to this size are copied next to their header and sent in one write; larger ones are
/// written straight from their own buffer.
const COPY_LIMIT: usize = 64 * 1024;

/// The shortest wait for CONNACK.
const CONNACK_TIMEOUT: Duration = Duration::from_secs(10);

/// An open, accepted MQTT connection.
#[derive(Debug)]
pub struct Conn {
    stream: Stream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    version: ProtocolVersion,
    /// The `-d` logger, which also knows the client identifier.
    pub log: Log,
    /// The broker's answer to CONNECT.
    pub connack: ConnAck,
    keep_alive: Option<Duration>,
    last_sent: Instant,
    ping_sent: Option<Instant>,
    /// Incoming topic aliases (only used when `-D connect topic-alias-maximum` allowed the broker any).
    aliases: HashMap<u16, Arc<str>>,
    /// Property identifiers of the last PUBLISH received, in wire order (MQTT 5).
    order: Vec<u8>,
}

impl Conn {
    /// Opens the transport, sends CONNECT and waits for CONNACK. A refusal is
    /// [`ClientError::Refused`] with the broker's code.
    pub async fn connect(session: &Session) -> Result<Conn, ClientError> {
        let stream = transport::open(&session.endpoint).await?;
        let mut conn = Conn {
            stream,
            rbuf: BytesMut::with_capacity(8 * 1024),
            wbuf: BytesMut::with_capacity(8 * 1024),
            version: session.version(),
            log: Log::new(session.debug, &session.connect.client_id),
            connack: ConnAck::default(),
            keep_alive: None,
            last_sent: Instant::now(),
            ping_sent: None,
            aliases: HashMap::new(),
            order: Vec::new(),
        };
        conn.send(&Packet::Connect(Box::new(session.connect.clone()))).await?;
        // A broker that accepts the connection but never answers is given one keep-alive period (at least
        // CONNACK_TIMEOUT), as a silent broker would be later on.
        let wait = Duration::from_secs(session.connect.keep_alive.into()).max(CONNACK_TIMEOUT);
        let ack = match tokio::time::timeout(wait, conn.recv()).await {
            Ok(Ok(Packet::ConnAck(ack))) => ack,
            Ok(Ok(other)) => return Err(ClientError::Unexpected(other.packet_type())),
            // A broker that does not speak the version asked for may just close the connection.
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(ClientError::ConnectionLost),
        };
        if !ack.is_success() {
            return Err(ClientError::Refused { version: conn.version, code: ack.code });
        }
        if let Some(id) = &ack.properties.assigned_client_identifier {
            conn.log.set_id(id);
        }
        let keep_alive = ack.properties.server_keep_alive.unwrap_or(session.connect.keep_alive);
        conn.keep_alive = (keep_alive > 0).then(|| Duration::from_secs(keep_alive.into()));
        conn.connack = ack;
        Ok(conn)
    }

    /// The protocol version of the connection.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The largest packet the broker accepts (MQTT 5 Maximum Packet Size; else the MQTT limit).
    pub fn max_packet_size(&self) -> usize {
        self.connack.properties.maximum_packet_size.map_or(MAX_PACKET_SIZE, |m| m as usize).min(MAX_PACKET_SIZE)
    }

    /// The highest QoS the broker accepts (MQTT 5 Maximum QoS; else 2).
    pub fn max_qos(&self) -> u8 {
        self.connack.properties.maximum_qos.unwrap_or(2)
    }

    /// Whether the broker accepts retained messages (MQTT 5 Retain Available; else yes).
    pub fn retain_available(&self) -> bool {
        self.connack.properties.retain_available != Some(0)
    }

    /// Waits for the next packet. Cancel-safe. The broker closing the connection is
    /// [`ClientError::ConnectionLost`]; a DISCONNECT from it is [`ClientError::Disconnected`].
    pub async fn recv(&mut self) -> Result<Packet, ClientError> {
        loop {
            if self.version.is_v5()
                && let Ok(Some(h)) = FixedHeader::peek(&self.rbuf, self.version)
                && h.packet_type == PacketType::Publish
                && self.rbuf.len() >= h.packet_len()
            {
                self.order = crate::output::property_order(&self.rbuf[..h.packet_len()]);
            }
            if let Some(packet) = mq_proto::decode(&mut self.rbuf, self.version, MAX_PACKET_SIZE)? {
                let packet = self.on_received(packet)?;
                self.log.received(&packet);
                return match packet {
                    Packet::Disconnect(d) => Err(ClientError::Disconnected(d.reason)),
                    Packet::PingResp => {
                        self.ping_sent = None;
                        continue;
                    }
                    p => Ok(p),
                };
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(64 * 1024);
            }
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ClientError::ConnectionLost);
            }
        }
    }

    /// The property identifiers of the PUBLISH [`Conn::recv`] returned last, in wire order.
    pub fn take_order(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.order)
    }

    /// Resolves incoming topic aliases (MQTT 5 §3.3.2.3.4).
    fn on_received(&mut self, packet: Packet) -> Result<Packet, ClientError> {
        let Packet::Publish(mut p) = packet else { return Ok(packet) };
        if let Some(alias) = p.properties.topic_alias {
            if p.topic.is_empty() {
                match self.aliases.get(&alias) {
                    Some(topic) => p.topic = topic.clone(),
                    None => return Err(ClientError::Unexpected(PacketType::Publish)),
                }
            } else {
                self.aliases.insert(alias, p.topic.clone());
            }
        }
        Ok(Packet::Publish(p))
    }

    /// Sends a packet.
    pub async fn send(&mut self, packet: &Packet) -> Result<(), ClientError> {
        if let Packet::Publish(p) = packet {
            let mid = p.packet_id.map_or(0, |id| id.get());
            return self.send_publish(p, mid).await;
        }
        self.wbuf.clear();
        packet.encode(self.version, &mut self.wbuf)?;
        self.log.sending(packet);
        self.stream.write_all(&self.wbuf).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Sends a PUBLISH whose payload is in memory; `mid` is the message id for the `-d` line.
    pub async fn send_publish(&mut self, p: &Publish, mid: u16) -> Result<(), ClientError> {
        self.wbuf.clear();
        p.encode_header(p.payload.len(), self.version, &mut self.wbuf)?;
        self.log.sending_publish(p, mid, p.payload.len());
        if p.payload.len() <= COPY_LIMIT {
            self.wbuf.extend_from_slice(&p.payload);
            self.stream.write_all(&self.wbuf).await?;
        } else {
            let mut header = &self.wbuf[..];
            let mut payload = &p.payload[..];
            while !header.is_empty() || !payload.is_empty() {
                let n = self.stream.write_vectored(&[IoSlice::new(header), IoSlice::new(payload)]).await?;
                if n == 0 {
                    return Err(ClientError::ConnectionLost);
                }
                let from_header = n.min(header.len());
                header.advance(from_header);
                payload.advance(n - from_header);
            }
        }
        self.last_sent = Instant::now();
        Ok(())
    }

    /// The raw stream, for writing a payload the caller produces itself (a file streamed after a header
    /// from [`Conn::publish_header`]); call [`Conn::mark_sent`] when done.
    pub fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// Encodes and logs the header of a PUBLISH carrying `payload_len` bytes the caller will write.
    pub fn publish_header(&mut self, p: &Publish, mid: u16, payload_len: usize) -> Result<BytesMut, ClientError> {
        let mut header = BytesMut::with_capacity(64 + p.topic.len());
        p.encode_header(payload_len, self.version, &mut header)?;
        self.log.sending_publish(p, mid, payload_len);
        Ok(header)
    }

    /// Records that a packet was just written through [`Conn::stream_mut`].
    pub fn mark_sent(&mut self) {
        self.last_sent = Instant::now();
    }

    /// When the keep-alive machinery needs to act next: send a PINGREQ, or give up on a PINGRESP that
    /// never came. `None` with keep alive off.
    pub fn keepalive_deadline(&self) -> Option<Instant> {
        let k = self.keep_alive?;
        Some(match self.ping_sent {
            Some(sent) => sent + k,
            None => self.last_sent + k,
        })
    }

    /// Acts on [`Conn::keepalive_deadline`]: pings, or reports the connection lost when the previous ping
    /// went unanswered for a whole keep-alive period.
    pub async fn keepalive(&mut self) -> Result<(), ClientError> {
        self.keepalive_while(true).await
    }

    /// [`Conn::keepalive`] for a loop that may have stopped reading for a while (`--exec` waiting for a free
    /// slot): an unanswered ping only counts as a lost connection if the answer could have been read.
    pub async fn keepalive_while(&mut self, reading: bool) -> Result<(), ClientError> {
        if self.ping_sent.is_some() && reading {
            return Err(ClientError::ConnectionLost);
        }
        self.send(&Packet::PingReq).await?;
        self.ping_sent = Some(Instant::now());
        Ok(())
    }

    /// Sends DISCONNECT with `reason` and `props` (MQTT 5), and closes the sending side.
    pub async fn disconnect(&mut self, reason: ReasonCode, props: &mq_proto::DisconnectProperties) {
        let d = Disconnect { reason, properties: props.clone() };
        // The connection is ending either way; a broker that is already gone changes nothing.
        let _ = self.send(&Packet::Disconnect(d)).await;
        let _ = self.stream.shutdown().await;
    }
}
