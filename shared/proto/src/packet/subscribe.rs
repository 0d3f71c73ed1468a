//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK: MQTT 3.1.1 §3.8-3.11, 5.0 §3.8-3.11.
//!
//! Filters are decoded as UTF-8 strings without judging their wildcards: whether a filter is acceptable
//! is the server's call, answered per filter in SUBACK (0x8F), not a reason to drop the connection.

use bytes::{BufMut, BytesMut};

use super::read_packet_id;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{AckProperties, SubscribeProperties, UnsubscribeProperties};
use crate::reason::ReasonCode;
use crate::types::{PacketId, PacketType, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
use crate::wire::{Reader, field_len, put_prefixed};

/// A subscription request for one or more topic filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier, echoed in SUBACK.
    pub packet_id: PacketId,
    /// Topic filters with their options, in order.
    pub filters: Vec<(String, SubscriptionOptions)>,
    /// MQTT 5 properties.
    pub properties: SubscribeProperties,
}

/// The answer to SUBSCRIBE: one code per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The SUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// Granted QoS (0, 1, 2) or a failure code (0x80; more in MQTT 5).
    pub reason_codes: Vec<ReasonCode>,
    /// MQTT 5 properties.
    pub properties: AckProperties,
}

/// A request to remove subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier, echoed in UNSUBACK.
    pub packet_id: PacketId,
    /// Topic filters, exactly as subscribed.
    pub filters: Vec<String>,
    /// MQTT 5 properties.
    pub properties: UnsubscribeProperties,
}

/// The answer to UNSUBSCRIBE; reason codes exist only in MQTT 5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The UNSUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// One code per filter (MQTT 5); empty before v5.
    pub reason_codes: Vec<ReasonCode>,
    /// MQTT 5 properties.
    pub properties: AckProperties,
}

fn decode_options(byte: u8, version: ProtocolVersion) -> Result<SubscriptionOptions, DecodeError> {
    // [MQTT-3.8.3-4] QoS 3 and reserved bits make the packet malformed.
    let reserved = if version.is_v5() { 0xC0 } else { 0xFC };
    if byte & reserved != 0 {
        return Err(DecodeError::InvalidSubscriptionOptions(byte));
    }
    let qos = QoS::from_u8(byte & 0x03).ok_or(DecodeError::InvalidSubscriptionOptions(byte))?;
    let retain_handling = match (byte >> 4) & 0x03 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(DecodeError::InvalidRetainHandling),
    };
    Ok(SubscriptionOptions { qos, no_local: byte & 0x04 != 0, retain_as_published: byte & 0x08 != 0, retain_handling })
}

fn read_filter(r: &mut Reader) -> Result<String, DecodeError> {
    let filter = r.string("topic filter")?;
    if filter.is_empty() {
        return Err(DecodeError::EmptyTopicFilter);
    }
    Ok(filter)
}

impl Subscribe {
    /// A SUBSCRIBE for the given filters.
    pub fn new(packet_id: PacketId, filters: Vec<(String, SubscriptionOptions)>) -> Self {
        Subscribe { packet_id, filters, properties: SubscribeProperties::default() }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() { SubscribeProperties::decode(r)? } else { SubscribeProperties::default() };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = read_filter(r)?;
            let options = decode_options(r.u8("subscription options")?, version)?;
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters { packet: PacketType::Subscribe });
        }
        Ok(Subscribe { packet_id, filters, properties })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let mut len = 2 + if version.is_v5() { self.properties.wire_len()? } else { 0 };
        for (f, _) in &self.filters {
            len += field_len(f.len(), "topic filter")? + 1;
        }
        Ok(len)
    }

    pub(crate) fn write_body(&self, version: ProtocolVersion, dst: &mut BytesMut) {
        dst.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(dst);
        }
        for (f, o) in &self.filters {
            put_prefixed(dst, f.as_bytes());
            dst.put_u8(o.to_byte(version));
        }
    }
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if version.is_v5() { AckProperties::decode(r)? } else { AckProperties::default() };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = r.u8("return code")?;
            let valid = match version {
                ProtocolVersion::V5 => ReasonCode(code).is_valid_for(PacketType::SubAck),
                // MQTT 3.1 had no failure code; 3.1.1 added 0x80.
                ProtocolVersion::V31 => code <= 2,
                ProtocolVersion::V311 => code <= 2 || code == 0x80,
            };
            if !valid {
                return Err(DecodeError::InvalidSubAckCode(code));
            }
            reason_codes.push(ReasonCode(code));
        }
        Ok(SubAck { packet_id, reason_codes, properties })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(2 + self.reason_codes.len() + if version.is_v5() { self.properties.wire_len()? } else { 0 })
    }

    pub(crate) fn write_body(&self, version: ProtocolVersion, dst: &mut BytesMut) {
        dst.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(dst);
        }
        for c in &self.reason_codes {
            dst.put_u8(c.0);
        }
    }
}

impl Unsubscribe {
    /// An UNSUBSCRIBE for the given filters.
    pub fn new(packet_id: PacketId, filters: Vec<String>) -> Self {
        Unsubscribe { packet_id, filters, properties: UnsubscribeProperties::default() }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties =
            if version.is_v5() { UnsubscribeProperties::decode(r)? } else { UnsubscribeProperties::default() };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(read_filter(r)?);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters { packet: PacketType::Unsubscribe });
        }
        Ok(Unsubscribe { packet_id, filters, properties })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let mut len = 2 + if version.is_v5() { self.properties.wire_len()? } else { 0 };
        for f in &self.filters {
            len += field_len(f.len(), "topic filter")?;
        }
        Ok(len)
    }

    pub(crate) fn write_body(&self, version: ProtocolVersion, dst: &mut BytesMut) {
        dst.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(dst);
        }
        for f in &self.filters {
            put_prefixed(dst, f.as_bytes());
        }
    }
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let mut ack = UnsubAck { packet_id, reason_codes: Vec::new(), properties: AckProperties::default() };
        if version.is_v5() {
            ack.properties = AckProperties::decode(r)?;
            while !r.is_empty() {
                let code = r.u8("reason code")?;
                if !ReasonCode(code).is_valid_for(PacketType::UnsubAck) {
                    return Err(DecodeError::InvalidReasonCode { packet: PacketType::UnsubAck, code });
                }
                ack.reason_codes.push(ReasonCode(code));
            }
        }
        Ok(ack)
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(2 + if version.is_v5() { self.properties.wire_len()? + self.reason_codes.len() } else { 0 })
    }

    pub(crate) fn write_body(&self, version: ProtocolVersion, dst: &mut BytesMut) {
        dst.put_u16(self.packet_id.get());
        if version.is_v5() {
            self.properties.encode(dst);
            for c in &self.reason_codes {
                dst.put_u8(c.0);
            }
        }
    }
}
