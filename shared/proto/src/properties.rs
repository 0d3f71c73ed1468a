//! MQTT 5 properties (§2.2.2): identifiers, value types, which packet allows which property, and
//! duplicate detection.
//!
//! Each packet type has a struct of its own holding exactly the properties it may carry, so a property
//! on the wrong packet cannot be represented and is rejected while decoding
//! ([`DecodeError::PropertyNotAllowed`]). The structs are declared through one macro that ties every
//! field to its identifier and value type; the value types live in [`kind`].

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::wire::{Reader, field_len, put_prefixed, put_varint, varint_len};

/// Property identifiers (MQTT 5 §2.2.2.2, Table 2-4).
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;

    /// Every identifier the specification defines.
    pub const ALL: [u8; 27] = [
        PAYLOAD_FORMAT_INDICATOR,
        MESSAGE_EXPIRY_INTERVAL,
        CONTENT_TYPE,
        RESPONSE_TOPIC,
        CORRELATION_DATA,
        SUBSCRIPTION_IDENTIFIER,
        SESSION_EXPIRY_INTERVAL,
        ASSIGNED_CLIENT_IDENTIFIER,
        SERVER_KEEP_ALIVE,
        AUTHENTICATION_METHOD,
        AUTHENTICATION_DATA,
        REQUEST_PROBLEM_INFORMATION,
        WILL_DELAY_INTERVAL,
        REQUEST_RESPONSE_INFORMATION,
        RESPONSE_INFORMATION,
        SERVER_REFERENCE,
        REASON_STRING,
        RECEIVE_MAXIMUM,
        TOPIC_ALIAS_MAXIMUM,
        TOPIC_ALIAS,
        MAXIMUM_QOS,
        RETAIN_AVAILABLE,
        USER_PROPERTY,
        MAXIMUM_PACKET_SIZE,
        WILDCARD_SUBSCRIPTION_AVAILABLE,
        SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        SHARED_SUBSCRIPTION_AVAILABLE,
    ];
}

/// Value types. Each module reads a value into its slot (rejecting duplicates and out-of-range values),
/// measures it and writes it.
pub(crate) mod kind {
    use super::*;

    fn dup(id: u8) -> DecodeError {
        DecodeError::DuplicateProperty { id }
    }

    /// A byte that must be 0 or 1 (every byte-valued property in MQTT 5 is such a flag).
    pub mod flag {
        use super::*;
        pub fn merge(slot: &mut Option<u8>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let v = r.u8("property value")?;
            if v > 1 {
                return Err(DecodeError::InvalidPropertyValue { id, value: v.into(), packet: r.packet() });
            }
            if slot.replace(v).is_some() {
                return Err(dup(id));
            }
            Ok(())
        }
        pub fn len(slot: &Option<u8>) -> Result<usize, EncodeError> {
            Ok(if slot.is_some() { 2 } else { 0 })
        }
        pub fn put(slot: &Option<u8>, id: u8, dst: &mut BytesMut) {
            if let Some(v) = slot {
                dst.put_u8(id);
                dst.put_u8(*v);
            }
        }
    }

    /// A two-byte integer.
    pub mod u16 {
        use super::*;
        pub fn merge(slot: &mut Option<u16>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let v = r.u16("property value")?;
            if slot.replace(v).is_some() {
                return Err(dup(id));
            }
            Ok(())
        }
        pub fn len(slot: &Option<u16>) -> Result<usize, EncodeError> {
            Ok(if slot.is_some() { 3 } else { 0 })
        }
        pub fn put(slot: &Option<u16>, id: u8, dst: &mut BytesMut) {
            if let Some(v) = slot {
                dst.put_u8(id);
                dst.put_u16(*v);
            }
        }
    }

    /// A two-byte integer that must not be 0 (Receive Maximum, Topic Alias).
    pub mod nz_u16 {
        use super::*;
        pub fn merge(slot: &mut Option<u16>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            super::u16::merge(slot, id, r)?;
            if *slot == Some(0) {
                return Err(DecodeError::InvalidPropertyValue { id, value: 0, packet: r.packet() });
            }
            Ok(())
        }
        pub use super::u16::{len, put};
    }

    /// A four-byte integer.
    pub mod u32 {
        use super::*;
        pub fn merge(slot: &mut Option<u32>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let v = r.u32("property value")?;
            if slot.replace(v).is_some() {
                return Err(dup(id));
            }
            Ok(())
        }
        pub fn len(slot: &Option<u32>) -> Result<usize, EncodeError> {
            Ok(if slot.is_some() { 5 } else { 0 })
        }
        pub fn put(slot: &Option<u32>, id: u8, dst: &mut BytesMut) {
            if let Some(v) = slot {
                dst.put_u8(id);
                dst.put_u32(*v);
            }
        }
    }

    /// A four-byte integer that must not be 0 (Maximum Packet Size).
    pub mod nz_u32 {
        use super::*;
        pub fn merge(slot: &mut Option<u32>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            super::u32::merge(slot, id, r)?;
            if *slot == Some(0) {
                return Err(DecodeError::InvalidPropertyValue { id, value: 0, packet: r.packet() });
            }
            Ok(())
        }
        pub use super::u32::{len, put};
    }

    fn check_varint(v: u32, field: &'static str) -> Result<(), EncodeError> {
        if v == 0 || v > crate::wire::MAX_VARINT {
            Err(EncodeError::ValueOutOfRange { field, value: v.into() })
        } else {
            Ok(())
        }
    }

    /// A variable byte integer from 1 up (Subscription Identifier in SUBSCRIBE).
    pub mod varint {
        use super::*;
        pub fn merge(slot: &mut Option<u32>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let v = r.varint("property value")?;
            if v == 0 {
                return Err(DecodeError::InvalidPropertyValue { id, value: 0, packet: r.packet() });
            }
            if slot.replace(v).is_some() {
                return Err(dup(id));
            }
            Ok(())
        }
        pub fn len(slot: &Option<u32>) -> Result<usize, EncodeError> {
            match slot {
                Some(v) => {
                    check_varint(*v, "subscription identifier")?;
                    Ok(1 + varint_len(*v))
                }
                None => Ok(0),
            }
        }
        pub fn put(slot: &Option<u32>, id: u8, dst: &mut BytesMut) {
            if let Some(v) = slot {
                dst.put_u8(id);
                put_varint(dst, *v);
            }
        }
    }

    /// Repeated variable byte integers (Subscription Identifiers in PUBLISH, one per matching subscription).
    pub mod varints {
        use super::*;
        pub fn merge(slot: &mut Vec<u32>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let v = r.varint("property value")?;
            if v == 0 {
                return Err(DecodeError::InvalidPropertyValue { id, value: 0, packet: r.packet() });
            }
            slot.push(v);
            Ok(())
        }
        pub fn len(slot: &[u32]) -> Result<usize, EncodeError> {
            slot.iter().try_fold(0, |acc, v| {
                check_varint(*v, "subscription identifier")?;
                Ok(acc + 1 + varint_len(*v))
            })
        }
        pub fn put(slot: &[u32], id: u8, dst: &mut BytesMut) {
            for v in slot {
                dst.put_u8(id);
                put_varint(dst, *v);
            }
        }
    }

    /// A UTF-8 string.
    pub mod string {
        use super::*;
        pub fn merge(slot: &mut Option<String>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let v = r.string("property value")?;
            if slot.replace(v).is_some() {
                return Err(dup(id));
            }
            Ok(())
        }
        pub fn len(slot: &Option<String>) -> Result<usize, EncodeError> {
            match slot {
                Some(s) => Ok(1 + field_len(s.len(), "string property")?),
                None => Ok(0),
            }
        }
        pub fn put(slot: &Option<String>, id: u8, dst: &mut BytesMut) {
            if let Some(s) = slot {
                dst.put_u8(id);
                put_prefixed(dst, s.as_bytes());
            }
        }
    }

    /// A topic name (Response Topic): a string without wildcards ([MQTT-3.3.2-14]).
    pub mod topic {
        use super::*;
        pub fn merge(slot: &mut Option<String>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            super::string::merge(slot, id, r)?;
            if slot.as_deref().is_some_and(|t| t.contains(['+', '#'])) {
                return Err(DecodeError::ResponseTopicWildcard);
            }
            Ok(())
        }
        pub use super::string::{len, put};
    }

    /// Binary data.
    pub mod binary {
        use super::*;
        pub fn merge(slot: &mut Option<Bytes>, id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let v = r.binary("property value")?;
            if slot.replace(v).is_some() {
                return Err(dup(id));
            }
            Ok(())
        }
        pub fn len(slot: &Option<Bytes>) -> Result<usize, EncodeError> {
            match slot {
                Some(b) => Ok(1 + field_len(b.len(), "binary property")?),
                None => Ok(0),
            }
        }
        pub fn put(slot: &Option<Bytes>, id: u8, dst: &mut BytesMut) {
            if let Some(b) = slot {
                dst.put_u8(id);
                put_prefixed(dst, b);
            }
        }
    }

    /// User properties: string pairs, repeatable, order kept ([MQTT-3.3.2-18]).
    pub mod pairs {
        use super::*;
        pub fn merge(slot: &mut Vec<(String, String)>, _id: u8, r: &mut Reader) -> Result<(), DecodeError> {
            let k = r.string("user property name")?;
            let v = r.string("user property value")?;
            slot.push((k, v));
            Ok(())
        }
        pub fn len(slot: &[(String, String)]) -> Result<usize, EncodeError> {
            slot.iter().try_fold(0, |acc, (k, v)| {
                Ok(acc + 1 + field_len(k.len(), "user property name")? + field_len(v.len(), "user property value")?)
            })
        }
        pub fn put(slot: &[(String, String)], id: u8, dst: &mut BytesMut) {
            for (k, v) in slot {
                dst.put_u8(id);
                put_prefixed(dst, k.as_bytes());
                put_prefixed(dst, v.as_bytes());
            }
        }
    }
}

/// Whether `e` is a rule broken by a property that was read whole (its value consumed), rather than
/// a malformed property block: Mosquitto reads the whole block before checking such rules, so a
/// malformed property later in the block decides the answer.
fn breaks_rule(e: &DecodeError) -> bool {
    matches!(
        e,
        DecodeError::PropertyNotAllowed { .. }
            | DecodeError::DuplicateProperty { .. }
            | DecodeError::InvalidPropertyValue { .. }
            | DecodeError::ResponseTopicWildcard
    )
}

/// Reads past the value of a defined property that the packet does not allow, by its type.
fn skip_value(id: u8, r: &mut Reader) -> Result<(), DecodeError> {
    const FIELD: &str = "property value";
    match id {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::REQUEST_PROBLEM_INFORMATION
        | id::REQUEST_RESPONSE_INFORMATION
        | id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUBSCRIPTION_AVAILABLE
        | id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | id::SHARED_SUBSCRIPTION_AVAILABLE => r.u8(FIELD).map(drop),
        id::SERVER_KEEP_ALIVE | id::RECEIVE_MAXIMUM | id::TOPIC_ALIAS_MAXIMUM | id::TOPIC_ALIAS => {
            r.u16(FIELD).map(drop)
        }
        id::MESSAGE_EXPIRY_INTERVAL
        | id::SESSION_EXPIRY_INTERVAL
        | id::WILL_DELAY_INTERVAL
        | id::MAXIMUM_PACKET_SIZE => r.u32(FIELD).map(drop),
        id::SUBSCRIPTION_IDENTIFIER => r.varint(FIELD).map(drop),
        id::CORRELATION_DATA | id::AUTHENTICATION_DATA => r.binary(FIELD).map(drop),
        id::USER_PROPERTY => r.string(FIELD).and_then(|_| r.string(FIELD)).map(drop),
        _ => r.string(FIELD).map(drop),
    }
}

fn unknown_or_not_allowed(id: u32, packet: crate::types::PacketType) -> DecodeError {
    match u8::try_from(id) {
        Ok(id) if id::ALL.contains(&id) => DecodeError::PropertyNotAllowed { id, packet },
        Ok(id) => DecodeError::UnknownProperty { id },
        Err(_) => DecodeError::UnknownProperty { id: u8::MAX },
    }
}

macro_rules! properties {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $pid:ident as $kind:ident, )*
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// Reads a property length and the properties it covers.
            pub(crate) fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
                let len = r.varint("property length")? as usize;
                let mut p = r.sub(len, "properties")?;
                let mut out = Self::default();
                // A rule broken by a well-formed property (see `Rule`) is reported once the whole
                // block has been read, so that a malformed property anywhere in it is what counts.
                let mut broken: Option<DecodeError> = None;
                while !p.is_empty() {
                    // Identifiers are variable byte integers; all defined ones fit in one byte.
                    let pid = p.varint("property identifier")?;
                    let read = match pid {
                        $( v if v == u32::from(id::$pid) => kind::$kind::merge(&mut out.$field, id::$pid, &mut p), )*
                        other => match unknown_or_not_allowed(other, p.packet()) {
                            e @ DecodeError::PropertyNotAllowed { id, .. } => skip_value(id, &mut p).and(Err(e)),
                            e => Err(e),
                        },
                    };
                    if let Err(e) = read {
                        if !breaks_rule(&e) {
                            return Err(e);
                        }
                        broken.get_or_insert(e);
                    }
                }
                match broken {
                    Some(e) => Err(e),
                    None => Ok(out),
                }
            }

            /// Bytes of the properties themselves, without the property length in front.
            pub(crate) fn content_len(&self) -> Result<usize, EncodeError> {
                Ok(0 $( + kind::$kind::len(&self.$field)? )*)
            }

            /// Bytes on the wire, property length included.
            pub(crate) fn wire_len(&self) -> Result<usize, EncodeError> {
                let n = self.content_len()?;
                Ok(varint_len(n as u32) + n)
            }

            /// Writes the property length and the properties. Lengths were validated by `wire_len` when the
            /// packet was measured, which every encode path does first.
            pub(crate) fn encode(&self, dst: &mut BytesMut) {
                put_varint(dst, self.content_len().unwrap_or(0) as u32);
                $( kind::$kind::put(&self.$field, id::$pid, dst); )*
            }

            /// Whether no property is set.
            pub fn is_empty(&self) -> bool {
                *self == Self::default()
            }
        }
    )*};
}

properties! {
    /// CONNECT properties (MQTT 5 §3.1.2.11).
    pub struct ConnectProperties {
        /// Seconds the session lives after the connection closes; 0xFFFFFFFF never expires.
        session_expiry_interval: Option<u32> = SESSION_EXPIRY_INTERVAL as u32,
        /// How many QoS 1 and 2 publications the client processes at once.
        receive_maximum: Option<u16> = RECEIVE_MAXIMUM as nz_u16,
        /// The largest packet the client accepts.
        maximum_packet_size: Option<u32> = MAXIMUM_PACKET_SIZE as nz_u32,
        /// The highest topic alias the client accepts from the server.
        topic_alias_maximum: Option<u16> = TOPIC_ALIAS_MAXIMUM as u16,
        /// Whether the client asks for Response Information in CONNACK.
        request_response_information: Option<u8> = REQUEST_RESPONSE_INFORMATION as flag,
        /// Whether the server may send reason strings and user properties on failures.
        request_problem_information: Option<u8> = REQUEST_PROBLEM_INFORMATION as flag,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
        /// Extended authentication method.
        authentication_method: Option<String> = AUTHENTICATION_METHOD as string,
        /// Extended authentication data.
        authentication_data: Option<Bytes> = AUTHENTICATION_DATA as binary,
    }

    /// Will properties, inside the CONNECT payload (MQTT 5 §3.1.3.2).
    pub struct WillProperties {
        /// Seconds to wait after the connection closes before publishing the will.
        will_delay_interval: Option<u32> = WILL_DELAY_INTERVAL as u32,
        /// 1 when the payload is UTF-8 text.
        payload_format_indicator: Option<u8> = PAYLOAD_FORMAT_INDICATOR as flag,
        /// Lifetime of the will message in seconds.
        message_expiry_interval: Option<u32> = MESSAGE_EXPIRY_INTERVAL as u32,
        /// MIME type of the payload.
        content_type: Option<String> = CONTENT_TYPE as string,
        /// Topic for a response.
        response_topic: Option<String> = RESPONSE_TOPIC as topic,
        /// Data to correlate a response with its request.
        correlation_data: Option<Bytes> = CORRELATION_DATA as binary,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
    }

    /// CONNACK properties (MQTT 5 §3.2.2.3), encoded in the order Mosquitto writes them (clients and
    /// test suites that compare bytes see the same CONNACK).
    pub struct ConnAckProperties {
        /// The keep alive the client must use instead of its own.
        server_keep_alive: Option<u16> = SERVER_KEEP_ALIVE as u16,
        /// The highest topic alias the server accepts.
        topic_alias_maximum: Option<u16> = TOPIC_ALIAS_MAXIMUM as u16,
        /// The client identifier the server assigned to an empty one.
        assigned_client_identifier: Option<String> = ASSIGNED_CLIENT_IDENTIFIER as string,
        /// Extended authentication method.
        authentication_method: Option<String> = AUTHENTICATION_METHOD as string,
        /// Extended authentication data.
        authentication_data: Option<Bytes> = AUTHENTICATION_DATA as binary,
        /// 0 when the server does not support retained messages.
        retain_available: Option<u8> = RETAIN_AVAILABLE as flag,
        /// The largest packet the server accepts.
        maximum_packet_size: Option<u32> = MAXIMUM_PACKET_SIZE as nz_u32,
        /// How many QoS 1 and 2 publications the server processes at once.
        receive_maximum: Option<u16> = RECEIVE_MAXIMUM as nz_u16,
        /// The highest QoS the server supports (0 or 1; absent means 2).
        maximum_qos: Option<u8> = MAXIMUM_QOS as flag,
        /// The session expiry interval the server will use, when it differs from the client's.
        session_expiry_interval: Option<u32> = SESSION_EXPIRY_INTERVAL as u32,
        /// 0 when wildcard subscriptions are not supported.
        wildcard_subscription_available: Option<u8> = WILDCARD_SUBSCRIPTION_AVAILABLE as flag,
        /// 0 when subscription identifiers are not supported.
        subscription_identifier_available: Option<u8> = SUBSCRIPTION_IDENTIFIER_AVAILABLE as flag,
        /// 0 when shared subscriptions are not supported.
        shared_subscription_available: Option<u8> = SHARED_SUBSCRIPTION_AVAILABLE as flag,
        /// Basis for response topics.
        response_information: Option<String> = RESPONSE_INFORMATION as string,
        /// Another server to use.
        server_reference: Option<String> = SERVER_REFERENCE as string,
        /// Human-readable diagnostic.
        reason_string: Option<String> = REASON_STRING as string,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
    }

    /// PUBLISH properties (MQTT 5 §3.3.2.3).
    pub struct PublishProperties {
        /// 1 when the payload is UTF-8 text.
        payload_format_indicator: Option<u8> = PAYLOAD_FORMAT_INDICATOR as flag,
        /// Lifetime of the message in seconds.
        message_expiry_interval: Option<u32> = MESSAGE_EXPIRY_INTERVAL as u32,
        /// Stands for the topic name.
        topic_alias: Option<u16> = TOPIC_ALIAS as nz_u16,
        /// Topic for a response.
        response_topic: Option<String> = RESPONSE_TOPIC as topic,
        /// Data to correlate a response with its request.
        correlation_data: Option<Bytes> = CORRELATION_DATA as binary,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
        /// Identifiers of the subscriptions that matched (server to client only).
        subscription_identifiers: Vec<u32> = SUBSCRIPTION_IDENTIFIER as varints,
        /// MIME type of the payload.
        content_type: Option<String> = CONTENT_TYPE as string,
    }

    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK (MQTT 5 §3.4.2.2 and others).
    pub struct AckProperties {
        /// Human-readable diagnostic.
        reason_string: Option<String> = REASON_STRING as string,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
    }

    /// SUBSCRIBE properties (MQTT 5 §3.8.2.1).
    pub struct SubscribeProperties {
        /// Identifier returned with every message this subscription matches.
        subscription_identifier: Option<u32> = SUBSCRIPTION_IDENTIFIER as varint,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
    }

    /// UNSUBSCRIBE properties (MQTT 5 §3.10.2.1).
    pub struct UnsubscribeProperties {
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
    }

    /// DISCONNECT properties (MQTT 5 §3.14.2.2).
    pub struct DisconnectProperties {
        /// New session expiry interval (client to server only).
        session_expiry_interval: Option<u32> = SESSION_EXPIRY_INTERVAL as u32,
        /// Human-readable diagnostic.
        reason_string: Option<String> = REASON_STRING as string,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
        /// Another server to use.
        server_reference: Option<String> = SERVER_REFERENCE as string,
    }

    /// AUTH properties (MQTT 5 §3.15.2.2).
    pub struct AuthProperties {
        /// Extended authentication method.
        authentication_method: Option<String> = AUTHENTICATION_METHOD as string,
        /// Extended authentication data.
        authentication_data: Option<Bytes> = AUTHENTICATION_DATA as binary,
        /// Human-readable diagnostic.
        reason_string: Option<String> = REASON_STRING as string,
        /// Name/value pairs.
        user_properties: Vec<(String, String)> = USER_PROPERTY as pairs,
    }
}
