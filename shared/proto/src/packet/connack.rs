//! CONNACK: MQTT 3.1 §3.2, 3.1.1 §3.2, 5.0 §3.2.

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::properties::ConnAckProperties;
use crate::reason::{ConnectReturnCode, ReasonCode};
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::Reader;

/// The server's answer to CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// The server resumed a stored session (not in MQTT 3.1, where the byte is reserved).
    pub session_present: bool,
    /// The v3 return code or the v5 reason code, as sent.
    pub code: u8,
    /// MQTT 5 properties.
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// The code read as an MQTT 5 reason code.
    pub fn reason_code(&self) -> ReasonCode {
        ReasonCode(self.code)
    }

    /// The code read as an MQTT 3.x return code.
    pub fn return_code(&self) -> ConnectReturnCode {
        ConnectReturnCode(self.code)
    }

    /// Whether the connection was accepted (code 0 in every version).
    pub fn is_success(&self) -> bool {
        self.code == 0
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let flags = r.u8("acknowledge flags")?;
        // MQTT 3.1 reserved the whole byte; 3.1.1 and 5 use bit 0 and reserve the rest [MQTT-3.2.2-1].
        let session_present = match version {
            ProtocolVersion::V31 => false,
            _ if flags & 0xFE != 0 => return Err(DecodeError::InvalidConnAckFlags(flags)),
            _ => flags & 1 != 0,
        };
        let code = r.u8("return code")?;
        let properties = if version.is_v5() {
            if !ReasonCode(code).is_valid_for(PacketType::ConnAck) {
                return Err(DecodeError::InvalidReasonCode { packet: PacketType::ConnAck, code });
            }
            ConnAckProperties::decode(r)?
        } else {
            ConnAckProperties::default()
        };
        Ok(ConnAck { session_present, code, properties })
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(2 + if version.is_v5() { self.properties.wire_len()? } else { 0 })
    }

    pub(crate) fn write_body(&self, version: ProtocolVersion, dst: &mut BytesMut) {
        dst.put_u8(u8::from(self.session_present && version != ProtocolVersion::V31));
        dst.put_u8(self.code);
        if version.is_v5() {
            self.properties.encode(dst);
        }
    }
}
