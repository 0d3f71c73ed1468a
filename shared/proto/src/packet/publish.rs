//! PUBLISH: MQTT 3.1.1 §3.3, 5.0 §3.3.
//!
//! The payload is a [`Bytes`] sliced out of the receive buffer, so one received payload is shared by every
//! subscriber it goes to. [`Publish::encode_header`] writes everything but the payload, so a sender can
//! put the payload on the wire from where it already is (a shared `Bytes`, or a file streamed in chunks)
//! with vectored writes instead of copying it into an output buffer.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::{put_fixed_header, read_packet_id};
use crate::error::{DecodeError, EncodeError};
use crate::properties::PublishProperties;
use crate::topic::validate_topic_name;
use crate::types::{PacketId, PacketType, ProtocolVersion, QoS};
use crate::wire::{MAX_VARINT, Reader, field_len, put_prefixed, varint_len};

/// An application message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// Redelivery of an earlier attempt.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// Topic name; empty only in MQTT 5 when a Topic Alias stands for it.
    pub topic: Arc<str>,
    /// Packet identifier; present exactly for QoS 1 and 2.
    pub packet_id: Option<PacketId>,
    /// MQTT 5 properties.
    pub properties: PublishProperties,
    /// Application payload.
    pub payload: Bytes,
}

impl Publish {
    /// A PUBLISH with no properties, DUP and retain clear, and no packet identifier yet.
    pub fn new(topic: impl Into<Arc<str>>, qos: QoS, payload: impl Into<Bytes>) -> Self {
        Publish { topic: topic.into(), qos, payload: payload.into(), ..Publish::default() }
    }

    /// The flag bits of the fixed header.
    pub(crate) fn flags(&self) -> u8 {
        self.header().flags()
    }

    pub(crate) fn decode(flags: u8, r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::PublishQos3)?;
        let dup = flags & 0x08 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupAtQos0);
        }
        let topic = r.shared_string("topic name")?;
        let packet_id = if qos == QoS::AtMostOnce { None } else { Some(read_packet_id(r)?) };
        let properties = if version.is_v5() { PublishProperties::decode(r)? } else { PublishProperties::default() };
        if topic.is_empty() {
            // [MQTT-3.3.2-8] a zero-length topic is allowed only with a Topic Alias (MQTT 5).
            if properties.topic_alias.is_none() {
                return Err(DecodeError::EmptyTopicName);
            }
        } else {
            validate_topic_name(&topic)?;
        }
        Ok(Publish { dup, qos, retain: flags & 0x01 != 0, topic, packet_id, properties, payload: r.rest() })
    }

    /// Remaining length for a payload of `payload_len` bytes.
    pub(crate) fn body_len(&self, payload_len: usize, version: ProtocolVersion) -> Result<usize, EncodeError> {
        self.header().body_len(payload_len, version)
    }

    /// A borrowed view of everything but the payload, for encoding.
    pub fn header(&self) -> PublishHeader<'_> {
        PublishHeader {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: &self.topic,
            packet_id: self.packet_id,
            properties: &self.properties,
        }
    }

    /// Size of the whole packet for a payload of `payload_len` bytes.
    pub fn packet_len(&self, payload_len: usize, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let remaining = self.body_len(payload_len, version)?;
        if remaining > MAX_VARINT as usize {
            return Err(EncodeError::PacketTooLarge { size: remaining });
        }
        Ok(1 + varint_len(remaining as u32) + remaining)
    }

    /// The largest payload that fits in a packet of at most `max_packet_size` bytes with this topic,
    /// packet identifier and properties.
    pub fn max_payload(&self, max_packet_size: usize, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let overhead = self.body_len(0, version)?;
        let budget = max_packet_size.min(super::MAX_PACKET_SIZE).saturating_sub(1);
        // The remaining length's own size depends on its value: try each size and keep the best fit.
        let best = (1..=4usize)
            .map(|header| budget.saturating_sub(header).min(MAX_VARINT as usize))
            .filter(|&remaining| budget >= varint_len(remaining as u32) + remaining)
            .max()
            .unwrap_or(0);
        Ok(best.saturating_sub(overhead))
    }

    /// Writes the fixed header and variable header for a payload of `payload_len` bytes, but not the
    /// payload, which the caller sends next. On error nothing is written.
    pub fn encode_header(
        &self,
        payload_len: usize,
        version: ProtocolVersion,
        dst: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        self.header().encode(payload_len, version, dst)
    }
}

/// Everything of a PUBLISH but its payload, borrowed: a sender that keeps messages in its own shape (a
/// broker fanning one message out to many subscribers) encodes each copy's header from this without
/// building a [`Publish`] per copy.
#[derive(Debug, Clone, Copy)]
pub struct PublishHeader<'a> {
    /// Redelivery of an earlier attempt.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// Topic name.
    pub topic: &'a str,
    /// Packet identifier; present exactly for QoS 1 and 2.
    pub packet_id: Option<PacketId>,
    /// MQTT 5 properties.
    pub properties: &'a PublishProperties,
}

impl PublishHeader<'_> {
    fn flags(&self) -> u8 {
        u8::from(self.dup) << 3 | self.qos.as_u8() << 1 | u8::from(self.retain)
    }

    /// Remaining length for a payload of `payload_len` bytes.
    pub fn body_len(&self, payload_len: usize, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let mut len = field_len(self.topic.len(), "topic name")?;
        if self.qos != QoS::AtMostOnce {
            if self.packet_id.is_none() {
                return Err(EncodeError::MissingPacketId { qos: self.qos.as_u8() });
            }
            len += 2;
        }
        if version.is_v5() {
            len += self.properties.wire_len()?;
        }
        Ok(len + payload_len)
    }

    /// Size of the whole packet for a payload of `payload_len` bytes.
    pub fn packet_len(&self, payload_len: usize, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let remaining = self.body_len(payload_len, version)?;
        if remaining > MAX_VARINT as usize {
            return Err(EncodeError::PacketTooLarge { size: remaining });
        }
        Ok(1 + varint_len(remaining as u32) + remaining)
    }

    /// Writes the fixed header and variable header for a payload of `payload_len` bytes, but not the
    /// payload. On error nothing is written.
    pub fn encode(&self, payload_len: usize, version: ProtocolVersion, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let remaining = self.body_len(payload_len, version)?;
        if remaining > MAX_VARINT as usize {
            return Err(EncodeError::PacketTooLarge { size: remaining });
        }
        dst.reserve(5 + remaining - payload_len);
        put_fixed_header(dst, (PacketType::Publish as u8) << 4 | self.flags(), remaining);
        put_prefixed(dst, self.topic.as_bytes());
        if let (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) = (self.qos, self.packet_id) {
            dst.put_u16(id.get());
        }
        if version.is_v5() {
            self.properties.encode(dst);
        }
        Ok(())
    }
}
