//! A lean MQTT connection for load generation, on `mq-proto`: CONNECT/CONNACK, then non-blocking reads
//! and writes driven by readiness, with batched output.

use std::io;
use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use mq_proto::{ConnAck, Connect, FixedHeader, MAX_PACKET_SIZE, Packet, PacketType, ProtocolVersion, Publish};
use tokio::net::TcpStream;

use crate::BenchError;
use crate::args::Common;
use crate::stamp::STAMP_LEN;

/// PUBLISH packets at least this large are counted as they arrive, not kept: only the stamp at the
/// front of the payload is (a load generator measures the broker, not its own memory).
const KEEP_UP_TO: usize = 1 << 20;
/// Most bytes one [`Conn::read_ready`] call reads.
const READ_CHUNK: usize = 1 << 20;

/// One benchmark client's socket and buffers.
pub struct Conn {
    pub stream: TcpStream,
    pub rbuf: BytesMut,
    pub wbuf: BytesMut,
    pub version: ProtocolVersion,
    /// The broker's Receive Maximum (MQTT 5), else 65535.
    pub receive_maximum: u16,
    /// A large PUBLISH being received: the packet with the stamp as its payload, and the payload
    /// bytes still to come.
    skipping: Option<(Box<Publish>, usize)>,
}

impl Conn {
    /// Connects and completes the MQTT handshake as client number `index` (for `%i` and `%c` in the
    /// user name and password).
    pub async fn open(addr: SocketAddr, client_id: &str, index: u32, common: &Common) -> Result<Conn, BenchError> {
        let stream = TcpStream::connect(addr).await.map_err(BenchError::Connect)?;
        let _ = stream.set_nodelay(true);
        let version: ProtocolVersion = common.version.into();
        let mut connect = Connect::new(version, client_id);
        connect.keep_alive = common.keepalive;
        if common.persistent {
            connect.clean_start = false;
            if version == ProtocolVersion::V5 {
                connect.properties.session_expiry_interval = Some(u32::MAX);
            }
        }
        connect.username = common.username.as_deref().map(|u| crate::expand(u, index, client_id));
        connect.password = common.password.as_deref().map(|p| Bytes::from(crate::expand(p, index, client_id)));
        let mut conn = Conn {
            stream,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: BytesMut::new(),
            version,
            receive_maximum: u16::MAX,
            skipping: None,
        };
        Packet::Connect(Box::new(connect)).encode(version, &mut conn.wbuf).map_err(BenchError::Encode)?;
        conn.flush_all().await?;
        match conn.next().await? {
            Packet::ConnAck(ConnAck { code: 0, properties, .. }) => {
                conn.receive_maximum = properties.receive_maximum.unwrap_or(u16::MAX);
                Ok(conn)
            }
            Packet::ConnAck(ack) => Err(BenchError::Refused(ack.code)),
            other => Err(BenchError::Unexpected(other.packet_type().name())),
        }
    }

    /// Reads what is available. `Ok(false)` when the broker closed the connection.
    pub fn read_ready(&mut self) -> Result<bool, BenchError> {
        let start = self.rbuf.len();
        while self.rbuf.len() - start < READ_CHUNK {
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(64 * 1024);
            }
            match self.stream.try_read_buf(&mut self.rbuf) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(BenchError::Io(e)),
            }
        }
        // More may be waiting: the socket stays readable.
        Ok(true)
    }

    /// The next complete packet in the read buffer, if any.
    pub fn decode(&mut self) -> Result<Option<Packet>, BenchError> {
        if let Some((_, left)) = &mut self.skipping {
            let take = (*left).min(self.rbuf.len());
            self.rbuf.advance(take);
            *left -= take;
            if *left > 0 {
                return Ok(None);
            }
            return Ok(self.skipping.take().map(|(p, _)| Packet::Publish(*p)));
        }
        if let Ok(Some(h)) = FixedHeader::peek(&self.rbuf, self.version)
            && h.packet_type == PacketType::Publish
            && h.packet_len() >= KEEP_UP_TO
            && self.rbuf.len() < h.packet_len()
        {
            let head =
                mq_proto::decode_publish_head(&self.rbuf, self.version, MAX_PACKET_SIZE).map_err(BenchError::Decode)?;
            let Some((mut publish, head_len, payload_len)) = head else { return Ok(None) };
            let keep = STAMP_LEN.min(payload_len);
            if self.rbuf.len() < head_len + keep {
                return Ok(None);
            }
            self.rbuf.advance(head_len);
            publish.payload = self.rbuf.split_to(keep).freeze();
            self.skipping = Some((Box::new(publish), payload_len - keep));
            return self.decode();
        }
        mq_proto::decode(&mut self.rbuf, self.version, MAX_PACKET_SIZE).map_err(BenchError::Decode)
    }

    /// Writes what the socket takes now.
    pub fn flush(&mut self) -> Result<(), BenchError> {
        while !self.wbuf.is_empty() {
            match self.stream.try_write(&self.wbuf) {
                Ok(n) => {
                    let _ = self.wbuf.split_to(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(BenchError::Io(e)),
            }
        }
        if self.wbuf.is_empty() {
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Writes everything, waiting as needed.
    pub async fn flush_all(&mut self) -> Result<(), BenchError> {
        loop {
            self.flush()?;
            if self.wbuf.is_empty() {
                return Ok(());
            }
            self.stream.writable().await.map_err(BenchError::Io)?;
        }
    }

    /// Writes `data` to the socket, waiting as needed (after everything buffered was written).
    pub async fn write_direct(&mut self, mut data: &[u8]) -> Result<(), BenchError> {
        use tokio::io::AsyncWriteExt;
        debug_assert!(self.wbuf.is_empty());
        while !data.is_empty() {
            let n = self.stream.write(data).await.map_err(BenchError::Io)?;
            if n == 0 {
                return Err(BenchError::Closed);
            }
            data = data.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Waits for the next packet.
    pub async fn next(&mut self) -> Result<Packet, BenchError> {
        loop {
            if let Some(p) = self.decode()? {
                return Ok(p);
            }
            self.stream.readable().await.map_err(BenchError::Io)?;
            if !self.read_ready()? {
                return Err(BenchError::Closed);
            }
        }
    }
}
