//! CONNECT: MQTT 3.1 §3.1, 3.1.1 §3.1, 5.0 §3.1.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::properties::{ConnectProperties, WillProperties};
use crate::topic::validate_topic_name;
use crate::types::{ProtocolVersion, QoS};
use crate::wire::{Reader, field_len, put_prefixed};

/// A connection request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol the client speaks; it decides how every later packet is read.
    pub protocol: ProtocolVersion,
    /// The protocol level had its high bit set: a bridge announcing itself (Mosquitto's `try_private`).
    pub bridge: bool,
    /// Clean Session (3.x) / Clean Start (5).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// Client identifier; may be empty (the server then assigns one, if it allows).
    pub client_id: String,
    /// The will message.
    pub will: Option<Will>,
    /// User name.
    pub username: Option<String>,
    /// Password (binary data).
    pub password: Option<Bytes>,
    /// MQTT 5 properties.
    pub properties: ConnectProperties,
}

/// A will message, published by the server when the connection ends abnormally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic name.
    pub topic: Arc<str>,
    /// Payload.
    pub payload: Bytes,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// MQTT 5 will properties.
    pub properties: WillProperties,
}

const CLEAN_START: u8 = 0x02;
const WILL: u8 = 0x04;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

impl Connect {
    /// A CONNECT with the given identifier and defaults otherwise (clean start, keep alive 60).
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<String>) -> Self {
        Connect {
            protocol,
            bridge: false,
            clean_start: true,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        let name = r.binary("protocol name")?;
        let raw_level = r.u8("protocol level")?;
        let level = raw_level & 0x7F;
        let protocol = match (&name[..], level) {
            (b"MQIsdp", 3) => ProtocolVersion::V31,
            (b"MQTT", 4) => ProtocolVersion::V311,
            (b"MQTT", 5) => ProtocolVersion::V5,
            _ => {
                return Err(DecodeError::UnsupportedProtocol {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    level: raw_level,
                });
            }
        };
        let flags = r.u8("connect flags")?;
        // [MQTT-3.1.2-3] the reserved bit; MQTT 3.1 did not define it, so only later versions check it.
        if protocol != ProtocolVersion::V31 && flags & 0x01 != 0 {
            return Err(DecodeError::ConnectReservedFlag);
        }
        let will_flag = flags & WILL != 0;
        let will_qos = QoS::from_u8((flags >> 3) & 0x03).ok_or(DecodeError::InvalidWillFlags)?;
        let will_retain = flags & WILL_RETAIN != 0;
        if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
            return Err(DecodeError::InvalidWillFlags);
        }
        let has_password = flags & PASSWORD != 0;
        let has_username = flags & USERNAME != 0;
        if has_password && !has_username && !protocol.is_v5() {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = if protocol.is_v5() { ConnectProperties::decode(r)? } else { ConnectProperties::default() };
        let client_id = r.string("client identifier")?;
        let will = if will_flag {
            let properties = if protocol.is_v5() { WillProperties::decode(r)? } else { WillProperties::default() };
            let topic = r.string("will topic")?;
            if topic.is_empty() {
                return Err(DecodeError::EmptyWillTopic);
            }
            validate_topic_name(&topic)?;
            let payload = r.binary("will payload")?;
            Some(Will { topic: topic.into(), payload, qos: will_qos, retain: will_retain, properties })
        } else {
            None
        };
        let username = if has_username { Some(r.string("user name")?) } else { None };
        let password = if has_password { Some(r.binary("password")?) } else { None };
        Ok(Connect {
            protocol,
            bridge: raw_level & 0x80 != 0,
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        let v5 = self.protocol.is_v5();
        let mut len = field_len(self.protocol.name().len(), "protocol name")? + 1 + 1 + 2;
        if v5 {
            len += self.properties.wire_len()?;
        }
        len += field_len(self.client_id.len(), "client identifier")?;
        if let Some(w) = &self.will {
            if v5 {
                len += w.properties.wire_len()?;
            }
            len += field_len(w.topic.len(), "will topic")? + field_len(w.payload.len(), "will payload")?;
        }
        if let Some(u) = &self.username {
            len += field_len(u.len(), "user name")?;
        }
        if let Some(p) = &self.password {
            len += field_len(p.len(), "password")?;
        }
        Ok(len)
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(w) = &self.will {
            flags |= WILL | w.qos.as_u8() << 3;
            if w.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        flags
    }

    pub(crate) fn write_body(&self, dst: &mut BytesMut) {
        put_prefixed(dst, self.protocol.name().as_bytes());
        dst.put_u8(self.protocol.level() | if self.bridge { 0x80 } else { 0 });
        dst.put_u8(self.flags());
        dst.put_u16(self.keep_alive);
        if self.protocol.is_v5() {
            self.properties.encode(dst);
        }
        put_prefixed(dst, self.client_id.as_bytes());
        if let Some(w) = &self.will {
            if self.protocol.is_v5() {
                w.properties.encode(dst);
            }
            put_prefixed(dst, w.topic.as_bytes());
            put_prefixed(dst, &w.payload);
        }
        if let Some(u) = &self.username {
            put_prefixed(dst, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_prefixed(dst, p);
        }
    }
}
