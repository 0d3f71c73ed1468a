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
            if !ReasonCode(code).is_valid_for(r.packet()) && !mosquitto_too_large(r.packet(), code) {
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

/// Mosquitto answers a PUBLISH over its `message_size_limit` with PUBACK or PUBREC 0x95 (packet too
/// large), a code MQTT 5 lists for CONNACK and DISCONNECT only; mq's broker does the same. Taken as the
/// refusal it means rather than as a malformed packet.
fn mosquitto_too_large(packet: crate::types::PacketType, code: u8) -> bool {
    use crate::types::PacketType;
    code == ReasonCode::PACKET_TOO_LARGE.0 && matches!(packet, PacketType::PubAck | PacketType::PubRec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Packet;

    #[test]
    fn puback_and_pubrec_0x95_decode_as_mosquitto_sends_them() {
        for (bytes, ok) in [
            (&b"\x40\x03\x00\x01\x95"[..], true),
            (b"\x50\x03\x00\x01\x95", true),
            (b"\x70\x03\x00\x01\x95", false),
            (b"\x40\x03\x00\x01\x96", false),
        ] {
            let mut buf = BytesMut::from(bytes);
            let got = crate::decode(&mut buf, ProtocolVersion::V5, 1024);
            match got {
                Ok(Some(Packet::PubAck(a) | Packet::PubRec(a))) => {
                    assert!(ok, "{bytes:02x?}");
                    assert_eq!(a.reason, ReasonCode::PACKET_TOO_LARGE);
                }
                other => assert!(!ok && other.is_err(), "{bytes:02x?}: {other:?}"),
            }
        }
    }
}
