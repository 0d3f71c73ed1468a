//! DISCONNECT (MQTT 3.1.1 §3.14, 5.0 §3.14) and AUTH (MQTT 5 §3.15).

use bytes::{BufMut, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::properties::{AuthProperties, DisconnectProperties};
use crate::reason::ReasonCode;
use crate::types::{PacketType, ProtocolVersion};
use crate::wire::Reader;

/// The end of a connection, sent by either side (by the server only in MQTT 5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// MQTT 5 reason code (normal disconnection before v5).
    pub reason: ReasonCode,
    /// MQTT 5 properties.
    pub properties: DisconnectProperties,
}

/// MQTT 5 extended authentication exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Success, continue authentication or re-authenticate.
    pub reason: ReasonCode,
    /// Properties (method and data).
    pub properties: AuthProperties,
}

/// Reads the optional reason code of DISCONNECT and AUTH: absent means 0x00 [MQTT-3.14.2.1].
fn optional_reason(r: &mut Reader) -> Result<Option<ReasonCode>, DecodeError> {
    if r.is_empty() {
        return Ok(None);
    }
    let code = r.u8("reason code")?;
    if !ReasonCode(code).is_valid_for(r.packet()) {
        return Err(DecodeError::InvalidReasonCode { packet: r.packet(), code });
    }
    Ok(Some(ReasonCode(code)))
}

impl Disconnect {
    /// A DISCONNECT with a reason code and no properties.
    pub fn new(reason: ReasonCode) -> Self {
        Disconnect { reason, properties: DisconnectProperties::default() }
    }

    pub(crate) fn decode(r: &mut Reader, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut d = Disconnect::default();
        if version.is_v5()
            && let Some(reason) = optional_reason(r)?
        {
            d.reason = reason;
            if !r.is_empty() {
                d.properties = DisconnectProperties::decode(r)?;
            }
        }
        Ok(d)
    }

    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(0);
        }
        Ok(if !self.properties.is_empty() {
            1 + self.properties.wire_len()?
        } else if self.reason != ReasonCode::NORMAL_DISCONNECTION {
            1
        } else {
            0
        })
    }

    pub(crate) fn write_body(&self, version: ProtocolVersion, dst: &mut BytesMut) {
        if version.is_v5() {
            let with_props = !self.properties.is_empty();
            if with_props || self.reason != ReasonCode::NORMAL_DISCONNECTION {
                dst.put_u8(self.reason.0);
            }
            if with_props {
                self.properties.encode(dst);
            }
        }
    }
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        debug_assert_eq!(r.packet(), PacketType::Auth);
        let mut a = Auth::default();
        if let Some(reason) = optional_reason(r)? {
            a.reason = reason;
            if !r.is_empty() {
                a.properties = AuthProperties::decode(r)?;
            }
        }
        Ok(a)
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        Ok(if !self.properties.is_empty() {
            1 + self.properties.wire_len()?
        } else if self.reason != ReasonCode::SUCCESS {
            1
        } else {
            0
        })
    }

    pub(crate) fn write_body(&self, dst: &mut BytesMut) {
        let with_props = !self.properties.is_empty();
        if with_props || self.reason != ReasonCode::SUCCESS {
            dst.put_u8(self.reason.0);
        }
        if with_props {
            self.properties.encode(dst);
        }
    }
}
