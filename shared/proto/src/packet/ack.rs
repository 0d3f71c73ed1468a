//! PUBACK, PUBREC, PUBREL and PUBCOMP: MQTT 3.1.1 §3.4-3.7, 5.0 §3.4-3.7. They share one layout.

use bytes::{BufMut, BytesMut};

use super::read_packet_id;
use crate::error::{DecodeError, EncodeError};
use crate::properties::AckProperties;
use crate::reason::ReasonCode;
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::Reader;

/// One step of a QoS 1 or QoS 2 exchange; the [`crate::Packet`] variant says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The PUBLISH this acknowledges.
    pub packet_id: PacketId,
    /// MQTT 5 reason code (success before v5).
    pub reason: ReasonCode,
    /// MQTT 5 properties.
    pub properties: AckProperties,
}

impl Ack {
    /// A successful acknowledgement without properties.
    pub fn new(packet_id: PacketId) -> Self {
        Ack { packet_id, reason: ReasonCode::SUCCESS, properties: AckProperties::default() }
    }

    /// An acknowledgement with a reason code.
    pub fn with_reason(packet_id: PacketId, reason: ReasonCode) -> Self {
        Ack { packet_id, reason, properties: AckProperties::default() }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let mut ack = Ack::new(packet_id);
        // [MQTT-3.4.2.1] in MQTT 5 the reason code and properties may be left out: a remaining length of
        // 2 means success, 3 means no properties.
        if version.is_v5() && !r.is_empty() {
            let code = r.u8("reason code")?;
            if !ReasonCode(code).is_valid_for(r.packet()) {
                return Err(DecodeError::InvalidReasonCode { packet: r.packet(), code });
            }
            ack.reason = ReasonCode(code);
            if !r.is_empty() {
                ack.properties = AckProperties::decode(r)?;
            }
        }
        Ok(ack)
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        if !self.properties.is_empty() {
            Ok(3 + self.properties.wire_len()?)
        } else if self.reason != ReasonCode::SUCCESS {
            Ok(3)
        } else {
            Ok(2)
        }
    }

    pub(crate) fn write_body(&self, version: ProtocolVersion, dst: &mut BytesMut) {
        dst.put_u16(self.packet_id.get());
        if version.is_v5() {
            let with_props = !self.properties.is_empty();
            if with_props || self.reason != ReasonCode::SUCCESS {
                dst.put_u8(self.reason.0);
            }
            if with_props {
                self.properties.encode(dst);
            }
        }
    }
}
