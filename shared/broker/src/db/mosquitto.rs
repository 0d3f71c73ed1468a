//! Mosquitto's persistence file (`mosquitto.db`), read for `mq db import`: format version 6 (Mosquitto
//! 2.0) and version 5 (Mosquitto 1.6, which differs only in its client chunk). Older versions (Mosquitto
//! 1.5 and before) are refused: Mosquitto 2.0 reads them and writes version 6.
//!
//! ```text
//! file       := magic[15] crc:u32 (always 0, not checked) version:u32 chunk*
//! chunk      := type:u32 length:u32 body[length]
//! 1 config   := last_db_id:u64* shutdown:u8 dbid_size:u8 pad[6]
//! 2 message  := store_id:u64* expiry_time:i64* payload_len:u32 source_mid:u16 source_id_len:u16
//!               source_username_len:u16 topic_len:u16 source_port:u16 qos:u8 retain:u8
//!               source_id source_username topic payload properties?
//! 3 client message := store_id:u64* mid:u16 id_len:u16 qos:u8 state:u8 retain_dup:u8 direction:u8
//!               client_id properties?
//! 4 retain   := store_id:u64*
//! 5 sub      := identifier:u32 id_len:u16 topic_len:u16 qos:u8 options:u8 pad[2] client_id topic
//! 6 client   := session_expiry_time:i64* session_expiry_interval:u32 last_mid:u16 id_len:u16
//!               (v6: listener_port:u16 username_len:u16 pad[4]) client_id (v6: username)
//! ```
//!
//! Integers are big-endian but for those marked `*`, which are in the byte order of the machine that
//! wrote the file (its C structs written as they are): read as little-endian unless the configuration
//! chunk, which Mosquitto writes first, reads more plausibly the other way. Properties are MQTT 5
//! PUBLISH properties with their length, filling the rest of the chunk. Times are Unix seconds.
//!
//! Every chunk carries its length, so one that does not read (a bit flipped, a field out of range) is
//! reported and skipped; a chunk that runs past the end of the file (a truncated file) ends the
//! reading, keeping what came before. Nothing here panics on any input.

use mq_proto::{ProtocolVersion, PublishProperties, QoS};

/// The first 15 bytes of every Mosquitto persistence file.
pub const MAGIC: [u8; 15] = *b"\x00\xb5\x00mosquitto db";
/// Bytes before the first chunk: magic, CRC field, version.
pub const HEADER: usize = 23;
/// Bytes of a chunk's header: type and length.
pub const CHUNK_HEADER: usize = 8;
/// The largest payload Mosquitto stores (the MQTT maximum).
const MAX_PAYLOAD: u32 = 268_435_455;

/// Why a file is not read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "not a Mosquitto persistence file (it does not begin with Mosquitto's magic bytes 00 b5 00 \"mosquitto db\")"
    )]
    NotMosquitto,
    #[error("the file ends inside its header ({0} of {HEADER} bytes)")]
    ShortHeader(usize),
    #[error(
        "Mosquitto persistence format version {0} (Mosquitto 1.5 or older) is not read; start Mosquitto 2.0 on \
         it once and stop it, which rewrites it as version 6"
    )]
    TooOld(u32),
    #[error("unknown Mosquitto persistence format version {0} (Mosquitto 2.0 writes version 6, 1.6 version 5)")]
    UnknownVersion(u32),
}

/// Why a chunk was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("the file ends {left} bytes into a chunk header; the rest is unreadable")]
    ShortHeader { left: usize },
    #[error("a chunk of {len} bytes begins with only {left} bytes left in the file; the rest is unreadable")]
    PastEnd { len: u32, left: usize },
    #[error("unknown chunk type {kind} ({len} bytes)")]
    UnknownType { kind: u32, len: u32 },
    #[error("{what} chunk of {len} bytes, where its fields take {need}")]
    Size { what: &'static str, len: u32, need: u64 },
    #[error("{what} chunk: its {field} is not UTF-8")]
    NotUtf8 { what: &'static str, field: &'static str },
    #[error("{what} chunk: its {field} is empty")]
    Empty { what: &'static str, field: &'static str },
    #[error("{what} chunk: its {field} is not valid: {why}")]
    Topic { what: &'static str, field: &'static str, why: mq_proto::TopicError },
    #[error("{what} chunk: QoS {qos}")]
    Qos { what: &'static str, qos: u8 },
    #[error("client message chunk: unknown state {0}")]
    State(u8),
    #[error("client message chunk: unknown direction {0}")]
    Direction(u8),
    #[error("message chunk: a payload of {0} bytes, more than MQTT allows")]
    PayloadTooLarge(u32),
    #[error("{what} chunk: its MQTT 5 properties do not read: {why}")]
    Properties { what: &'static str, why: mq_proto::DecodeError },
    #[error("configuration chunk: message ids of {0} bytes (Mosquitto's are 8)")]
    DbIdSize(u8),
}

impl ChunkError {
    /// Whether nothing after this error can be read.
    pub fn ends_file(&self) -> bool {
        matches!(self, ChunkError::ShortHeader { .. } | ChunkError::PastEnd { .. })
    }
}

/// The byte order of the fields written in the writing machine's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

/// The configuration chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The last message id given out.
    pub last_db_id: u64,
    /// Whether the file was written at shutdown (not by an autosave).
    pub shutdown: bool,
}

/// A message, stored once however many clients and retained topics refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub store_id: u64,
    /// When it expires (Unix seconds; 0: never).
    pub expiry_time: i64,
    /// The client that published it, and its user name.
    pub source_id: Option<&'a str>,
    pub source_username: Option<&'a str>,
    pub topic: &'a str,
    /// QoS it was published with.
    pub qos: QoS,
    pub retain: bool,
    pub payload: &'a [u8],
    /// Its MQTT 5 properties (Message Expiry Interval is in `expiry_time` instead).
    pub properties: PublishProperties,
}

/// Where a client's message stands (Mosquitto's `mosq_ms_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    PublishQos0,
    PublishQos1,
    WaitForPuback,
    PublishQos2,
    WaitForPubrec,
    ResendPubrel,
    WaitForPubrel,
    ResendPubcomp,
    WaitForPubcomp,
    SendPubrec,
    Queued,
}

impl MessageState {
    fn from_u8(b: u8) -> Option<MessageState> {
        use MessageState::*;
        Some(match b {
            1 => PublishQos0,
            2 => PublishQos1,
            3 => WaitForPuback,
            4 => PublishQos2,
            5 => WaitForPubrec,
            6 => ResendPubrel,
            7 => WaitForPubrel,
            8 => ResendPubcomp,
            9 => WaitForPubcomp,
            10 => SendPubrec,
            11 => Queued,
            _ => return None,
        })
    }
}

/// A message queued for a client, in flight to it, or received from it (QoS 2, before PUBREL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage<'a> {
    pub store_id: u64,
    pub client_id: &'a str,
    /// Its packet id (0: none given yet).
    pub mid: u16,
    /// QoS of this delivery.
    pub qos: QoS,
    pub state: MessageState,
    pub retain: bool,
    pub dup: bool,
    /// To the client (else from it).
    pub outgoing: bool,
    /// Properties of this delivery (Subscription Identifiers).
    pub properties: PublishProperties,
}

/// A subscription of a persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription<'a> {
    pub client_id: &'a str,
    pub filter: &'a str,
    pub qos: QoS,
    /// Bit 2: No Local; bit 3: Retain As Published (as in a SUBSCRIBE's options byte).
    pub options: u8,
    /// Subscription identifier (0: none).
    pub identifier: u32,
}

/// A persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client<'a> {
    pub client_id: &'a str,
    /// Its user name (version 6 only).
    pub username: Option<&'a str>,
    /// When it expires (Unix seconds; 0: not counting).
    pub session_expiry_time: i64,
    /// Its session expiry interval (seconds; `u32::MAX`: never, which every 3.x session has).
    pub session_expiry_interval: u32,
    pub last_mid: u16,
    /// Port of the listener it connected to (version 6 only; 0: unknown).
    pub listener_port: u16,
}

/// One chunk read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    Config(Config),
    Message(Message<'a>),
    ClientMessage(ClientMessage<'a>),
    Retain { store_id: u64 },
    Subscription(Subscription<'a>),
    Client(Client<'a>),
}

/// Checks the header of `data`; returns the format version.
pub fn version(data: &[u8]) -> Result<u32, FileError> {
    if data.is_empty() {
        return Err(FileError::Empty);
    }
    let magic_len = data.len().min(MAGIC.len());
    if data.get(..magic_len) != MAGIC.get(..magic_len) {
        return Err(FileError::NotMosquitto);
    }
    let Some(v) = be32(data, 19).filter(|_| data.len() >= HEADER) else {
        return Err(FileError::ShortHeader(data.len()));
    };
    match v {
        v @ (5 | 6) => Ok(v),
        v @ 1..=4 => Err(FileError::TooOld(v)),
        v => Err(FileError::UnknownVersion(v)),
    }
}

/// Reads the chunks of a Mosquitto persistence file: each with its offset, read or not.
pub fn chunks(data: &[u8]) -> Result<Chunks<'_>, FileError> {
    let version = version(data)?;
    Ok(Chunks { data, at: HEADER, version, order: ByteOrder::Little, done: false })
}

/// The chunks of a file, in order.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    data: &'a [u8],
    at: usize,
    version: u32,
    order: ByteOrder,
    done: bool,
}

impl<'a> Chunks<'a> {
    /// The file's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The byte order the host-order fields are read in.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The chunk at `offset` (where [`Iterator::next`] found one) read again, with the byte order the
    /// reading has found.
    pub fn at(&self, offset: u64) -> Option<Result<Chunk<'a>, ChunkError>> {
        let at = usize::try_from(offset).ok()?;
        Chunks { at, done: false, ..self.clone() }.next().map(|(_, c)| c)
    }

    fn chunk(&mut self, kind: u32, body: &'a [u8]) -> Result<Chunk<'a>, ChunkError> {
        let len = body.len() as u32;
        let (what, fixed) = match kind {
            1 => ("configuration", 10),
            2 => ("message", 32),
            3 => ("client message", 16),
            4 => ("retain", 8),
            5 => ("subscription", 12),
            6 if self.version >= 6 => ("client", 24),
            6 => ("client", 16),
            kind => return Err(ChunkError::UnknownType { kind, len }),
        };
        if u64::from(len) < fixed {
            return Err(ChunkError::Size { what, len, need: fixed });
        }
        let mut f = Fields { body, at: 0, order: self.order, what };
        match kind {
            1 => self.config(f),
            2 => message(f),
            3 => client_message(f),
            4 if len == 8 => Ok(Chunk::Retain { store_id: f.u64h()? }),
            4 => Err(ChunkError::Size { what, len, need: 8 }),
            5 => subscription(f),
            _ => client(f, self.version),
        }
    }

    fn config(&mut self, mut f: Fields<'a>) -> Result<Chunk<'a>, ChunkError> {
        // Mosquitto writes it first: it decides the byte order, as the reading with the smaller id.
        let raw: [u8; 8] = f.array()?;
        let (le, be) = (u64::from_le_bytes(raw), u64::from_be_bytes(raw));
        self.order = if be < le { ByteOrder::Big } else { ByteOrder::Little };
        let shutdown = f.u8()? != 0;
        let size = f.u8()?;
        if size != 8 {
            return Err(ChunkError::DbIdSize(size));
        }
        Ok(Chunk::Config(Config { last_db_id: le.min(be), shutdown }))
    }
}

fn message(mut f: Fields<'_>) -> Result<Chunk<'_>, ChunkError> {
    let what = f.what;
    let store_id = f.u64h()?;
    let expiry_time = f.i64h()?;
    let payload_len = f.u32()?;
    let _source_mid = f.u16()?;
    let source_id_len = f.u16()?;
    let source_username_len = f.u16()?;
    let topic_len = f.u16()?;
    let _source_port = f.u16()?;
    let qos = f.u8()?;
    let retain = f.u8()?;
    if payload_len > MAX_PAYLOAD {
        return Err(ChunkError::PayloadTooLarge(payload_len));
    }
    f.need(
        32 + u64::from(source_id_len) + u64::from(source_username_len) + u64::from(topic_len) + u64::from(payload_len),
        false,
    )?;
    // The publisher is only kept for `check_retain_source`: one that does not read is left out.
    let source_id = f.take(source_id_len.into())?;
    let source_username = f.take(source_username_len.into())?;
    let topic = text(what, "topic", f.take(topic_len.into())?)?;
    mq_proto::topic::check_topic_name(topic).map_err(|why| ChunkError::Topic { what, field: "topic", why })?;
    let payload = f.take(payload_len as usize)?;
    let qos = QoS::from_u8(qos).ok_or(ChunkError::Qos { what, qos })?;
    let properties = properties(what, topic, f.rest())?;
    Ok(Chunk::Message(Message {
        store_id,
        expiry_time,
        source_id: source(source_id),
        source_username: source(source_username),
        topic,
        qos,
        retain: retain != 0,
        payload,
        properties,
    }))
}

fn client_message(mut f: Fields<'_>) -> Result<Chunk<'_>, ChunkError> {
    let what = f.what;
    let store_id = f.u64h()?;
    let mid = f.u16()?;
    let id_len = f.u16()?;
    let qos = f.u8()?;
    let state = f.u8()?;
    let retain_dup = f.u8()?;
    let direction = f.u8()?;
    f.need(16 + u64::from(id_len), false)?;
    let client_id = client_id(what, f.take(id_len.into())?)?;
    let qos = QoS::from_u8(qos).ok_or(ChunkError::Qos { what, qos })?;
    let state = MessageState::from_u8(state).ok_or(ChunkError::State(state))?;
    let outgoing = match direction {
        0 => false,
        1 => true,
        d => return Err(ChunkError::Direction(d)),
    };
    // Any topic will do: the properties are read as a PUBLISH head would carry them.
    let properties = properties(what, "t", f.rest())?;
    Ok(Chunk::ClientMessage(ClientMessage {
        store_id,
        client_id,
        mid,
        qos,
        state,
        retain: retain_dup >> 4 != 0,
        dup: retain_dup & 0x0F != 0,
        outgoing,
        properties,
    }))
}

fn subscription(mut f: Fields<'_>) -> Result<Chunk<'_>, ChunkError> {
    let what = f.what;
    let identifier = f.u32()?;
    let id_len = f.u16()?;
    let topic_len = f.u16()?;
    let qos = f.u8()?;
    let options = f.u8()?;
    f.take(2)?;
    f.need(12 + u64::from(id_len) + u64::from(topic_len), true)?;
    let client_id = client_id(what, f.take(id_len.into())?)?;
    let field = "topic filter";
    let filter = text(what, field, f.take(topic_len.into())?)?;
    mq_proto::topic::check_topic_filter(filter).map_err(|why| ChunkError::Topic { what, field, why })?;
    let qos = QoS::from_u8(qos).ok_or(ChunkError::Qos { what, qos })?;
    Ok(Chunk::Subscription(Subscription { client_id, filter, qos, options, identifier }))
}

fn client(mut f: Fields<'_>, version: u32) -> Result<Chunk<'_>, ChunkError> {
    let what = f.what;
    let session_expiry_time = f.i64h()?;
    let session_expiry_interval = f.u32()?;
    let last_mid = f.u16()?;
    let id_len = f.u16()?;
    let (listener_port, username_len, fixed) = if version >= 6 {
        let port = f.u16()?;
        let username_len = f.u16()?;
        f.take(4)?;
        (port, username_len, 24)
    } else {
        (0, 0, 16)
    };
    f.need(fixed + u64::from(id_len) + u64::from(username_len), true)?;
    let client_id = client_id(what, f.take(id_len.into())?)?;
    let username = match username_len {
        0 => None,
        n => Some(text(what, "user name", f.take(n.into())?)?),
    };
    Ok(Chunk::Client(Client {
        client_id,
        username,
        session_expiry_time,
        session_expiry_interval,
        last_mid,
        listener_port,
    }))
}

impl<'a> Iterator for Chunks<'a> {
    type Item = (u64, Result<Chunk<'a>, ChunkError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at >= self.data.len() {
            return None;
        }
        let offset = self.at as u64;
        let rest = self.data.get(self.at..).unwrap_or_default();
        let (Some(kind), Some(len)) = (be32(rest, 0), be32(rest, 4)) else {
            self.done = true;
            return Some((offset, Err(ChunkError::ShortHeader { left: rest.len() })));
        };
        let Some(body) = rest.get(CHUNK_HEADER..).and_then(|b| b.get(..len as usize)) else {
            self.done = true;
            return Some((offset, Err(ChunkError::PastEnd { len, left: rest.len() - CHUNK_HEADER })));
        };
        self.at += CHUNK_HEADER + len as usize;
        Some((offset, self.chunk(kind, body)))
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes)
}

/// A cursor over a chunk's body.
struct Fields<'a> {
    body: &'a [u8],
    at: usize,
    order: ByteOrder,
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn short(&self, need: u64) -> ChunkError {
        ChunkError::Size { what: self.what, len: self.body.len() as u32, need }
    }

    /// Checks that the chunk holds `need` bytes (exactly, or at least).
    fn need(&self, need: u64, exactly: bool) -> Result<(), ChunkError> {
        let len = self.body.len() as u64;
        if len < need || (exactly && len != need) { Err(self.short(need)) } else { Ok(()) }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ChunkError> {
        let end = self.at.saturating_add(n);
        let s = self.body.get(self.at..end).ok_or_else(|| self.short(end as u64))?;
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ChunkError> {
        let s = self.take(N)?;
        s.try_into().map_err(|_| self.short(N as u64))
    }

    fn u8(&mut self) -> Result<u8, ChunkError> {
        self.array().map(u8::from_be_bytes)
    }

    fn u16(&mut self) -> Result<u16, ChunkError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, ChunkError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64h(&mut self) -> Result<u64, ChunkError> {
        let a = self.array()?;
        Ok(match self.order {
            ByteOrder::Little => u64::from_le_bytes(a),
            ByteOrder::Big => u64::from_be_bytes(a),
        })
    }

    fn i64h(&mut self) -> Result<i64, ChunkError> {
        self.u64h().map(|v| v as i64)
    }

    fn rest(&mut self) -> &'a [u8] {
        let r = self.body.get(self.at..).unwrap_or_default();
        self.at = self.body.len();
        r
    }
}

/// A publisher's client id or user name: absent when empty, or not UTF-8.
fn source(raw: &[u8]) -> Option<&str> {
    std::str::from_utf8(raw).ok().filter(|s| !s.is_empty())
}

fn text<'a>(what: &'static str, field: &'static str, raw: &'a [u8]) -> Result<&'a str, ChunkError> {
    std::str::from_utf8(raw).map_err(|_| ChunkError::NotUtf8 { what, field })
}

fn client_id<'a>(what: &'static str, raw: &'a [u8]) -> Result<&'a str, ChunkError> {
    if raw.is_empty() {
        return Err(ChunkError::Empty { what, field: "client id" });
    }
    text(what, "client id", raw)
}

/// MQTT 5 PUBLISH properties (with their length) filling `raw`, read as a PUBLISH head with `topic`
/// would carry them. None at all: no properties.
fn properties(what: &'static str, topic: &str, raw: &[u8]) -> Result<PublishProperties, ChunkError> {
    use mq_proto::{DecodeError, PacketType};
    if raw.is_empty() {
        return Ok(PublishProperties::default());
    }
    let bad = |why| ChunkError::Properties { what, why };
    let cut = |field| bad(DecodeError::UnexpectedEnd { packet: PacketType::Publish, field });
    let (said, used) = mq_proto::peek_varint(raw).map_err(bad)?.ok_or(cut("properties"))?;
    if used + said as usize != raw.len() {
        return Err(cut("properties (their length is not the rest of the chunk)"));
    }
    // A PUBLISH head at QoS 0: fixed header, topic, properties (the payload is not needed).
    let remaining = u32::try_from(2 + topic.len() + raw.len())
        .ok()
        .filter(|r| *r <= mq_proto::MAX_VARINT)
        .ok_or(cut("properties (longer than a packet)"))?;
    let mut head = bytes::BytesMut::with_capacity(remaining as usize + 5);
    head.extend_from_slice(&[0x30]);
    mq_proto::put_varint(&mut head, remaining);
    head.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    head.extend_from_slice(topic.as_bytes());
    head.extend_from_slice(raw);
    match mq_proto::decode_publish_head(&head, ProtocolVersion::V5, usize::MAX) {
        Ok(Some((p, _, _))) => Ok(p.properties),
        Ok(None) => Err(cut("properties")),
        Err(why) => Err(bad(why)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A file Mosquitto 2.0.11 saved at SIGTERM, with the state `bins/tests/e2e/db_import.rs` makes:
    /// retained `r/gone` (expired 1 s after it was published), `r/text`, `r/bin` (binary, MQTT 5
    /// properties, expiry 3600 s); sessions `keeper` (3.1.1; `q/#` QoS 1, `x/+` QoS 2; four messages
    /// queued), `v5keeper` (expiry 3600 s; `v/#` QoS 2 with No Local, Retain As Published, identifier
    /// 7; one message queued), `inflight` (`i/#`; a QoS 1 and a QoS 2 PUBLISH unacknowledged, a PUBREL
    /// uncompleted), `halfpub` (QoS 2 `i/4` retained, id 42, PUBREL never sent) and `short` (MQTT 5,
    /// expiry 0, connected at the save).
    pub(crate) const FIXTURE: &[u8] = include_bytes!("testdata/mosquitto-2.0.11.db");

    /// The chunks of `data` as (type, body).
    pub(crate) fn raw_chunks(data: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = HEADER;
        while at < data.len() {
            let kind = be32(data, at).expect("type");
            let len = be32(data, at + 4).expect("length") as usize;
            out.push((kind, data[at + 8..at + 8 + len].to_vec()));
            at += 8 + len;
        }
        out
    }

    /// A file of `version` made of `chunks`.
    pub(crate) fn file(version: u32, chunks: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.extend([0; 4]);
        f.extend(version.to_be_bytes());
        for (kind, body) in chunks {
            f.extend(kind.to_be_bytes());
            f.extend((body.len() as u32).to_be_bytes());
            f.extend(body);
        }
        f
    }

    fn read(data: &[u8]) -> Vec<Chunk<'_>> {
        chunks(data).expect("a Mosquitto file").map(|(at, c)| c.unwrap_or_else(|e| panic!("{at}: {e}"))).collect()
    }

    #[test]
    fn reads_a_file_mosquitto_2_0_11_wrote() {
        let c = read(FIXTURE);
        assert!(matches!(c[0], Chunk::Config(Config { shutdown: true, .. })));
        let count = |f: fn(&Chunk<'_>) -> bool| c.iter().filter(|c| f(c)).count();
        assert_eq!(count(|c| matches!(c, Chunk::Message(_))), 12);
        assert_eq!(count(|c| matches!(c, Chunk::Client(_))), 5);
        assert_eq!(count(|c| matches!(c, Chunk::ClientMessage(_))), 9);
        assert_eq!(count(|c| matches!(c, Chunk::Subscription(_))), 4);
        assert_eq!(count(|c| matches!(c, Chunk::Retain { .. })), 3);
        let bin = c
            .iter()
            .find_map(|c| match c {
                Chunk::Message(m) if m.topic == "r/bin" => Some(m),
                _ => None,
            })
            .expect("r/bin");
        assert_eq!((bin.payload, bin.qos, bin.retain), (&[0u8, 1, 0xff, 0xfe, 0x80][..], QoS::AtLeastOnce, true));
        assert_eq!(bin.properties.user_properties, [("a".to_owned(), "b".to_owned())]);
        assert_eq!(bin.properties.content_type.as_deref(), Some("application/x-test"));
        assert_eq!(bin.properties.message_expiry_interval, None, "kept as expiry_time");
        assert!(bin.expiry_time > 1_700_000_000, "{}", bin.expiry_time);
        assert_eq!(bin.source_id, Some("pub5"));
        let sub = c
            .iter()
            .find_map(|c| match c {
                Chunk::Subscription(s) if s.client_id == "v5keeper" => Some(s),
                _ => None,
            })
            .expect("v5keeper's subscription");
        assert_eq!((sub.filter, sub.qos, sub.options, sub.identifier), ("v/#", QoS::ExactlyOnce, 0x0C, 7));
        let v5 = c
            .iter()
            .find_map(|c| match c {
                Chunk::Client(c) if c.client_id == "v5keeper" => Some(c),
                _ => None,
            })
            .expect("v5keeper");
        assert_eq!(v5.session_expiry_interval, 3600);
        assert!(v5.session_expiry_time > bin.expiry_time - 3600, "counted from the disconnect");
        let states: Vec<_> = c
            .iter()
            .filter_map(|c| match c {
                Chunk::ClientMessage(m) if m.client_id == "inflight" || m.client_id == "halfpub" => {
                    Some((m.client_id, m.outgoing, m.state, m.mid))
                }
                _ => None,
            })
            .collect();
        assert_eq!(states.len(), 4);
        assert_eq!(states[3], ("halfpub", false, MessageState::WaitForPubrel, 42));
        let out: Vec<_> = states[..3].iter().map(|s| (s.1, s.2)).collect();
        assert_eq!(
            out,
            [
                (true, MessageState::WaitForPuback),
                (true, MessageState::WaitForPubcomp),
                (true, MessageState::WaitForPubrec)
            ]
        );
    }

    #[test]
    fn headers_that_are_not_read() {
        assert_eq!(version(b"").unwrap_err(), FileError::Empty);
        assert_eq!(version(b"SQLite format 3\0").unwrap_err(), FileError::NotMosquitto);
        assert_eq!(version(&MAGIC[..7]).unwrap_err(), FileError::ShortHeader(7));
        assert_eq!(version(&FIXTURE[..22]).unwrap_err(), FileError::ShortHeader(22));
        assert_eq!(version(&file(4, &[])).unwrap_err(), FileError::TooOld(4));
        assert_eq!(version(&file(7, &[])).unwrap_err(), FileError::UnknownVersion(7));
        assert!(FileError::TooOld(3).to_string().contains("start Mosquitto 2.0 on it once"));
        assert_eq!(version(&file(5, &[])), Ok(5));
        assert_eq!(chunks(&file(6, &[])).expect("empty file").count(), 0);
    }

    #[test]
    fn a_version_5_file_of_mosquitto_1_6() {
        // Version 5 differs in the client chunk only: no listener port, user name or padding.
        let v5: Vec<_> = raw_chunks(FIXTURE)
            .into_iter()
            .map(|(kind, body)| match kind {
                6 => (kind, [&body[..16], &body[24..]].concat()),
                _ => (kind, body),
            })
            .collect();
        let data = file(5, &v5);
        let (old, new) = (read(&data), read(FIXTURE));
        assert_eq!(old.len(), new.len());
        for (o, n) in old.iter().zip(&new) {
            match (o, n) {
                (Chunk::Client(o), Chunk::Client(n)) => {
                    assert_eq!(o, &Client { listener_port: 0, username: None, ..n.clone() });
                }
                (o, n) => assert_eq!(o, n),
            }
        }
    }

    #[test]
    fn a_file_from_a_big_endian_machine() {
        // Its ids and times in the other byte order: the configuration chunk tells.
        let swapped: Vec<_> = raw_chunks(FIXTURE)
            .into_iter()
            .map(|(kind, mut body)| {
                let host: &[usize] = match kind {
                    1 | 3 | 4 | 6 => &[0],
                    2 => &[0, 8],
                    _ => &[],
                };
                for at in host {
                    body[*at..*at + 8].reverse();
                }
                (kind, body)
            })
            .collect();
        let data = file(6, &swapped);
        let mut c = chunks(&data).expect("header");
        assert!(c.next().is_some_and(|(_, c)| c.is_ok()));
        assert_eq!(c.byte_order(), ByteOrder::Big);
        assert_eq!(read(&data), read(FIXTURE));
    }

    #[test]
    fn every_cut_keeps_what_came_before_it() {
        let whole = read(FIXTURE);
        for cut in HEADER..FIXTURE.len() {
            let mut good = Vec::new();
            let mut errors = Vec::new();
            for (at, c) in chunks(&FIXTURE[..cut]).expect("header") {
                match c {
                    Ok(c) => good.push(c),
                    Err(e) => errors.push((at, e)),
                }
            }
            assert_eq!(good[..], whole[..good.len()], "cut at {cut}");
            assert!(errors.len() <= 1 && errors.iter().all(|(_, e)| e.ends_file()), "cut at {cut}: {errors:?}");
        }
    }

    #[test]
    fn every_flipped_bit_reads_without_a_panic() {
        let mut data = FIXTURE.to_vec();
        let whole = read(FIXTURE).len();
        for i in 0..data.len() * 8 {
            data[i / 8] ^= 1 << (i % 8);
            if let Ok(c) = chunks(&data) {
                // A flip changes one chunk, or the lengths that follow; never more chunks than bytes.
                assert!(c.count() <= whole + data.len() / CHUNK_HEADER);
            } else {
                assert!(i / 8 < HEADER, "only the header refuses the whole file ({i})");
            }
            data[i / 8] ^= 1 << (i % 8);
        }
    }

    #[test]
    fn chunks_that_do_not_read_are_skipped() {
        let mut chunks_ = raw_chunks(FIXTURE);
        // An unknown type, a retain chunk of the wrong size, a subscription whose filter is not valid.
        chunks_.insert(1, (99, vec![1, 2, 3]));
        chunks_.insert(2, (4, vec![0; 7]));
        let sub = chunks_.iter().position(|(k, _)| *k == 5).expect("a subscription");
        let last = chunks_[sub].1.len() - 1;
        chunks_[sub].1[last] = b'+';
        chunks_[sub].1[last - 1] = b'a';
        let data = file(6, &chunks_);
        let errors: Vec<_> = chunks(&data).expect("header").filter_map(|(at, c)| c.err().map(|e| (at, e))).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0], (HEADER as u64 + 8 + 16, ChunkError::UnknownType { kind: 99, len: 3 }));
        assert_eq!(errors[1].1, ChunkError::Size { what: "retain", len: 7, need: 8 });
        assert!(matches!(errors[2].1, ChunkError::Topic { field: "topic filter", .. }), "{errors:?}");
        assert_eq!(read(FIXTURE).len(), chunks(&data).expect("header").filter(|(_, c)| c.is_ok()).count() + 1);
    }
}
