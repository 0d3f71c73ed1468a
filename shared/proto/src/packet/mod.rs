//! The fifteen MQTT control packets, one module each, and the framing that turns bytes into them.
//!
//! Framing: [`FixedHeader::peek`] reads the first byte and the remaining length without consuming
//! anything, so [`decode`] can refuse an oversized packet before a byte of its body is buffered, and can
//! say "need more" (`Ok(None)`) until the whole packet is there. The body is then split off the buffer
//! (`BytesMut::split_to` + `freeze`, no copy) and parsed by the packet's module.

mod ack;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod subscribe;

pub use ack::Ack;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::{Auth, Disconnect};
pub use publish::{Publish, PublishHeader};
pub use subscribe::{SubAck, Subscribe, UnsubAck, Unsubscribe};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::types::{PacketId, PacketType, ProtocolVersion};
use crate::wire::{MAX_VARINT, Reader, peek_varint, put_varint, varint_len};

/// The largest packet MQTT can frame: five header bytes and 268,435,455 bytes of remaining length.
pub const MAX_PACKET_SIZE: usize = 1 + 4 + MAX_VARINT as usize;

/// An MQTT control packet, for any protocol version.
///
/// Properties and reason codes exist only in MQTT 5; under 3.1 and 3.1.1 they are empty / success and
/// are neither read nor written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

/// The fixed header of a packet: type, flag bits and remaining length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// Packet type (high nibble of the first byte).
    pub packet_type: PacketType,
    /// Flag bits (low nibble of the first byte).
    pub flags: u8,
    /// Length of the variable header and payload.
    pub remaining_len: usize,
    /// Length of the fixed header itself (2 to 5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// Reads the fixed header at the front of `src` without consuming it. `Ok(None)`: not all there yet.
    ///
    /// Checks the packet type and the flag bits the type requires, so a broken stream is detected
    /// from its first byte.
    pub fn peek(src: &[u8], version: ProtocolVersion) -> Result<Option<FixedHeader>, DecodeError> {
        let Some(&first) = src.first() else {
            return Ok(None);
        };
        let nibble = first >> 4;
        let packet_type = match PacketType::from_nibble(nibble) {
            Some(PacketType::Auth) if !version.is_v5() => return Err(DecodeError::ReservedPacketType(nibble)),
            Some(t) => t,
            None => return Err(DecodeError::ReservedPacketType(nibble)),
        };
        let flags = first & 0x0F;
        if packet_type != PacketType::Publish && flags != packet_type.required_flags() {
            // MQTT 3.1 let a client set DUP on a resent PUBREL, SUBSCRIBE or UNSUBSCRIBE.
            let v31_dup = version == ProtocolVersion::V31 && flags == packet_type.required_flags() | 0x08;
            if !v31_dup || packet_type.required_flags() == 0 {
                return Err(DecodeError::InvalidFlags { packet: packet_type, flags });
            }
        }
        let Some((remaining, used)) = peek_varint(src.get(1..).unwrap_or_default())? else {
            return Ok(None);
        };
        Ok(Some(FixedHeader { packet_type, flags, remaining_len: remaining as usize, header_len: 1 + used }))
    }

    /// Size of the whole packet.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// The most [`decode`] reserves ahead for a packet that has not fully arrived.
pub const RESERVE_AHEAD: usize = 1024 * 1024;

/// Decodes one packet from the front of `src`.
///
/// - `Ok(None)`: more bytes are needed; `src` is untouched (its capacity may have been reserved for the
///   rest of the packet, up to [`RESERVE_AHEAD`], which is only done once the size has passed
///   `max_packet_size`).
/// - `Ok(Some(packet))`: exactly that packet's bytes were removed from `src`.
/// - `Err(_)`: the stream is corrupt or breaks a rule; close it (after a DISCONNECT/CONNACK carrying
///   [`DecodeError::reason_code`] where the version allows).
///
/// `version` is the connection's negotiated version; a CONNECT carries its own and ignores it.
/// `max_packet_size` bounds the whole packet, fixed header included (MQTT 5 Maximum Packet Size).
pub fn decode(
    src: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some(header) = FixedHeader::peek(src, version)? else {
        return Ok(None);
    };
    let size = header.packet_len();
    if size > max_packet_size {
        return Err(DecodeError::PacketTooLarge { size, max: max_packet_size });
    }
    if src.len() < size {
        // Room for what the header announces, up to a bound: memory follows the bytes that arrive,
        // not a size a peer merely declares.
        src.reserve((size - src.len()).min(RESERVE_AHEAD));
        return Ok(None);
    }
    let mut frame = src.split_to(size).freeze();
    frame.advance(header.header_len);
    decode_body(header, Reader::new(frame, header.packet_type), version).map(Some)
}

/// The head of a PUBLISH at the start of `src`: everything but the payload, for a receiver that passes
/// a large payload on while it arrives. Returns the packet with an empty payload, the bytes its head
/// takes (fixed header included) and the payload's length; `Ok(None)` while the head is incomplete.
/// The head is checked as [`decode`] checks it, including `max_packet_size` for the whole packet; the
/// payload itself is not looked at.
pub fn decode_publish_head(
    src: &[u8],
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<(Publish, usize, usize)>, DecodeError> {
    let Some(header) = FixedHeader::peek(src, version)? else {
        return Ok(None);
    };
    if header.packet_type != PacketType::Publish {
        return Err(DecodeError::UnexpectedEnd { packet: header.packet_type, field: "PUBLISH head" });
    }
    let size = header.packet_len();
    if size > max_packet_size {
        return Err(DecodeError::PacketTooLarge { size, max: max_packet_size });
    }
    let body = src.get(header.header_len..).unwrap_or_default();
    let (Some(&hi), Some(&lo)) = (body.first(), body.get(1)) else {
        return Ok(None);
    };
    let mut head = 2 + usize::from(u16::from_be_bytes([hi, lo]));
    if (header.flags >> 1) & 0x03 != 0 {
        head += 2;
    }
    if version.is_v5() {
        if body.len() < head {
            return Ok(None);
        }
        let Some((props, used)) = peek_varint(body.get(head..).unwrap_or_default())? else {
            return Ok(None);
        };
        head += used + props as usize;
    }
    if head > header.remaining_len {
        // What `decode` reports when a field runs past the end of the packet.
        return Err(DecodeError::UnexpectedEnd { packet: PacketType::Publish, field: "PUBLISH head" });
    }
    let Some(bytes) = body.get(..head) else {
        return Ok(None);
    };
    let fixed = FixedHeader { remaining_len: head, ..header };
    match decode_body(fixed, Reader::new(Bytes::copy_from_slice(bytes), PacketType::Publish), version)? {
        Packet::Publish(p) => Ok(Some((p, header.header_len + head, header.remaining_len - head))),
        other => Err(DecodeError::UnexpectedEnd { packet: other.packet_type(), field: "PUBLISH head" }),
    }
}

fn decode_body(h: FixedHeader, mut r: Reader, version: ProtocolVersion) -> Result<Packet, DecodeError> {
    let packet = match h.packet_type {
        PacketType::Connect => Packet::Connect(Box::new(Connect::decode(&mut r)?)),
        PacketType::ConnAck => Packet::ConnAck(ConnAck::decode(&mut r, version)?),
        PacketType::Publish => Packet::Publish(Publish::decode(h.flags, &mut r, version)?),
        PacketType::PubAck => Packet::PubAck(Ack::decode(&mut r, version)?),
        PacketType::PubRec => Packet::PubRec(Ack::decode(&mut r, version)?),
        PacketType::PubRel => Packet::PubRel(Ack::decode(&mut r, version)?),
        PacketType::PubComp => Packet::PubComp(Ack::decode(&mut r, version)?),
        PacketType::Subscribe => Packet::Subscribe(Subscribe::decode(&mut r, version)?),
        PacketType::SubAck => Packet::SubAck(SubAck::decode(&mut r, version)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::decode(&mut r, version)?),
        PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::decode(&mut r, version)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(Disconnect::decode(&mut r, version)?),
        PacketType::Auth => Packet::Auth(Auth::decode(&mut r)?),
    };
    r.finish()?;
    Ok(packet)
}

/// Reads a packet identifier, refusing 0 ([MQTT-2.2.1-3]).
pub(crate) fn read_packet_id(r: &mut Reader) -> Result<PacketId, DecodeError> {
    let raw = r.u16("packet identifier")?;
    PacketId::new(raw).ok_or(DecodeError::ZeroPacketId { packet: r.packet() })
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    fn first_byte(&self) -> u8 {
        let flags = match self {
            Packet::Publish(p) => p.flags(),
            other => other.packet_type().required_flags(),
        };
        (self.packet_type() as u8) << 4 | flags
    }

    /// Length of the variable header and payload (the remaining length), after checking every field's
    /// limits.
    pub fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let len = match self {
            Packet::Connect(c) => c.body_len()?,
            Packet::ConnAck(c) => c.body_len(version)?,
            Packet::Publish(p) => p.body_len(p.payload.len(), version)?,
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => a.body_len(version)?,
            Packet::Subscribe(s) => s.body_len(version)?,
            Packet::SubAck(s) => s.body_len(version)?,
            Packet::Unsubscribe(u) => u.body_len(version)?,
            Packet::UnsubAck(u) => u.body_len(version)?,
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(d) => d.body_len(version)?,
            Packet::Auth(a) => {
                if !version.is_v5() {
                    return Err(EncodeError::NotInVersion { packet: PacketType::Auth, version });
                }
                a.body_len()?
            }
        };
        if len > MAX_VARINT as usize {
            return Err(EncodeError::PacketTooLarge { size: len });
        }
        Ok(len)
    }

    /// Size of the whole encoded packet.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let remaining = self.remaining_len(version)?;
        Ok(1 + varint_len(remaining as u32) + remaining)
    }

    /// Appends the packet to `dst`. On error nothing is written.
    pub fn encode(&self, version: ProtocolVersion, dst: &mut BytesMut) -> Result<(), EncodeError> {
        if let Packet::Publish(p) = self {
            p.encode_header(p.payload.len(), version, dst)?;
            dst.extend_from_slice(&p.payload);
            return Ok(());
        }
        let remaining = self.remaining_len(version)?;
        dst.reserve(1 + varint_len(remaining as u32) + remaining);
        dst.put_u8(self.first_byte());
        put_varint(dst, remaining as u32);
        match self {
            Packet::Connect(c) => c.write_body(dst),
            Packet::ConnAck(c) => c.write_body(version, dst),
            Packet::Publish(_) => {}
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                a.write_body(version, dst)
            }
            Packet::Subscribe(s) => s.write_body(version, dst),
            Packet::SubAck(s) => s.write_body(version, dst),
            Packet::Unsubscribe(u) => u.write_body(version, dst),
            Packet::UnsubAck(u) => u.write_body(version, dst),
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(d) => d.write_body(version, dst),
            Packet::Auth(a) => a.write_body(dst),
        }
        Ok(())
    }
}

/// Writes the fixed header for a packet of `remaining` bytes (checked by the caller).
pub(crate) fn put_fixed_header(dst: &mut BytesMut, first: u8, remaining: usize) {
    dst.put_u8(first);
    put_varint(dst, remaining as u32);
}
