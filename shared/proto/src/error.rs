//! Decode and encode errors, and the one place that decides which reason code a broker answers each
//! decode error with.
//!
//! "Need more bytes" is not an error: [`crate::decode`] returns `Ok(None)` for it.

use crate::reason::{ConnectReturnCode, ReasonCode};
use crate::types::{PacketType, ProtocolVersion};

/// Why bytes from a peer are not a valid packet. Every variant maps to a reason code with
/// [`DecodeError::reason_code`]; after any of them the stream is out of sync and must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// [MQTT-1.5.5] a variable byte integer longer than four bytes.
    #[error("variable byte integer uses more than four bytes")]
    VarIntTooLong,
    /// [MQTT-1.5.5-1] a variable byte integer not in its shortest form.
    #[error("variable byte integer is not in its shortest form")]
    VarIntOverlong,
    /// Packet type 0 is reserved; type 15 (AUTH) exists only in MQTT 5.
    #[error("reserved packet type {0}")]
    ReservedPacketType(u8),
    /// [MQTT-2.2.2-2] fixed-header flag bits other than those the packet type requires.
    #[error("invalid fixed-header flags {flags:#06b} for {packet}")]
    InvalidFlags { packet: PacketType, flags: u8 },
    /// The packet is larger than the receiver accepts; detected from the fixed header, before buffering.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge { size: usize, max: usize },
    /// A field runs past the end of the packet.
    #[error("{packet} ends inside its {field}")]
    UnexpectedEnd { packet: PacketType, field: &'static str },
    /// Bytes left over after the last field of a packet.
    #[error("{packet} has {extra} bytes after its last field")]
    TrailingBytes { packet: PacketType, extra: usize },
    /// [MQTT-1.5.4-1] a string that is not well-formed UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    /// [MQTT-1.5.4-2] a string containing U+0000.
    #[error("{field} contains the null character U+0000")]
    NullCharacter { field: &'static str },
    /// §1.5.4: a string containing a control character (U+0001..U+001F, U+007F..U+009F), which a receiver
    /// may treat as malformed (Mosquitto does).
    #[error("{field} contains a control character")]
    ControlCharacter { field: &'static str },
    /// [MQTT-3.3.1-4] a PUBLISH with both QoS bits set.
    #[error("PUBLISH with QoS 3")]
    PublishQos3,
    /// [MQTT-3.3.1-2] the DUP flag set on a QoS 0 PUBLISH.
    #[error("PUBLISH with DUP set at QoS 0")]
    DupAtQos0,
    /// [MQTT-2.2.1-3] packet identifier 0.
    #[error("{packet} with packet identifier 0")]
    ZeroPacketId { packet: PacketType },
    /// [MQTT-3.3.2-2] a topic name with a wildcard character.
    #[error("PUBLISH topic name contains a wildcard ('+' or '#')")]
    TopicNameWildcard,
    /// [MQTT-4.7.3-1] an empty topic name (allowed in MQTT 5 only with a Topic Alias).
    #[error("PUBLISH with an empty topic name and no topic alias")]
    EmptyTopicName,
    /// [MQTT-3.1.3-11] the will topic is a topic name: an empty one is a protocol error.
    #[error("CONNECT with an empty will topic")]
    EmptyWillTopic,
    /// CONNECT with a protocol name or level this broker does not speak.
    #[error("unsupported protocol {name:?} level {level}")]
    UnsupportedProtocol { name: String, level: u8 },
    /// [MQTT-3.1.2-3] the reserved CONNECT flag bit set.
    #[error("CONNECT with the reserved flag bit set")]
    ConnectReservedFlag,
    /// [MQTT-3.1.2-11, -13, -15] will QoS or retain set without the will flag, or will QoS 3.
    #[error("CONNECT with inconsistent will flags")]
    InvalidWillFlags,
    /// [MQTT-3.1.2-22] a password without a user name (MQTT 3.1 and 3.1.1).
    #[error("CONNECT with a password but no user name")]
    PasswordWithoutUsername,
    /// A property identifier the specification does not define.
    #[error("unknown property identifier {id:#04x}")]
    UnknownProperty { id: u8 },
    /// [MQTT-2.2.2] a property that the packet type does not allow.
    #[error("property {id:#04x} is not allowed in {packet}")]
    PropertyNotAllowed { id: u8, packet: PacketType },
    /// [MQTT-2.2.2] a property that may appear once, given twice.
    #[error("property {id:#04x} appears more than once")]
    DuplicateProperty { id: u8 },
    /// A property value outside its range (a flag other than 0 or 1, a zero Receive Maximum, ...).
    #[error("property {id:#04x} has the invalid value {value}")]
    InvalidPropertyValue { id: u8, value: u32, packet: PacketType },
    /// [MQTT-3.3.2-14] a Response Topic with a wildcard character.
    #[error("response topic contains a wildcard ('+' or '#')")]
    ResponseTopicWildcard,
    /// A reason code the packet type does not allow.
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode { packet: PacketType, code: u8 },
    /// [MQTT-3.8.3-5] reserved bits set in subscription options.
    #[error("reserved bits set in subscription options {0:#04x}")]
    InvalidSubscriptionOptions(u8),
    /// [MQTT-3.8.3-4] Retain Handling 3.
    #[error("retain handling 3 is reserved")]
    InvalidRetainHandling,
    /// [MQTT-3.8.3-3, 3.10.3-2] SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("{packet} without any topic filter")]
    NoTopicFilters { packet: PacketType },
    /// [MQTT-4.7.3-1] an empty topic filter.
    #[error("empty topic filter")]
    EmptyTopicFilter,
    /// A SUBACK return code that is not a granted QoS or 0x80.
    #[error("invalid SUBACK return code {0:#04x}")]
    InvalidSubAckCode(u8),
    /// A CONNACK acknowledge-flags byte with reserved bits set.
    #[error("invalid CONNACK flags {0:#04x}")]
    InvalidConnAckFlags(u8),
}

impl DecodeError {
    /// The MQTT 5 reason code a broker sends for this error, in CONNACK (during CONNECT) or DISCONNECT.
    ///
    /// This is the single mapping from decode errors to reason codes (Mosquitto keeps its equivalent at
    /// the tail of `read_handle.c`). The choice between 0x81 (malformed) and 0x82 (protocol error) is
    /// Mosquitto 2.0.20's, case by case: broken encodings and what it reads as such (a wildcard or an
    /// empty topic in PUBLISH, a SUBSCRIBE without filters) give 0x81; a rule broken by a well-formed
    /// packet (a property on the wrong packet, a duplicate or out-of-range property, an unknown reason
    /// code, packet type 0) gives 0x82; the rest have codes of their own.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        use PacketType::{Subscribe, Unsubscribe};
        match self {
            PacketTooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            UnsupportedProtocol { .. } => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            // As Mosquitto answers: 0x81 for SUBSCRIBE and UNSUBSCRIBE, where it reports every error in
            // the packet id and the property block as malformed; 0x82 for the rest.
            ZeroPacketId { packet: Subscribe | Unsubscribe }
            | PropertyNotAllowed { packet: Subscribe | Unsubscribe, .. }
            | InvalidPropertyValue { packet: Subscribe | Unsubscribe, .. } => ReasonCode::MALFORMED_PACKET,
            ZeroPacketId { .. }
            | PropertyNotAllowed { .. }
            | DuplicateProperty { .. }
            | InvalidPropertyValue { .. }
            | ResponseTopicWildcard
            | EmptyWillTopic
            | ReservedPacketType(_)
            | InvalidReasonCode { .. }
            | PasswordWithoutUsername => ReasonCode::PROTOCOL_ERROR,
            VarIntTooLong
            | VarIntOverlong
            | InvalidFlags { .. }
            | UnexpectedEnd { .. }
            | TrailingBytes { .. }
            | InvalidUtf8 { .. }
            | NullCharacter { .. }
            | ControlCharacter { .. }
            | PublishQos3
            | DupAtQos0
            | TopicNameWildcard
            | EmptyTopicName
            | NoTopicFilters { .. }
            | ConnectReservedFlag
            | InvalidWillFlags
            | UnknownProperty { .. }
            | InvalidRetainHandling
            | InvalidSubscriptionOptions(_)
            | EmptyTopicFilter
            | InvalidSubAckCode(_)
            | InvalidConnAckFlags(_) => ReasonCode::MALFORMED_PACKET,
        }
    }

    /// The CONNACK return code an MQTT 3.x broker sends when the CONNECT itself failed to decode, or
    /// `None` when the 3.x specifications say to close the connection without a CONNACK.
    pub fn connect_return_code(&self) -> Option<ConnectReturnCode> {
        match self {
            // [MQTT-3.1.2-2] unacceptable protocol level: CONNACK 0x01, then close.
            DecodeError::UnsupportedProtocol { .. } => Some(ConnectReturnCode::UNACCEPTABLE_PROTOCOL_VERSION),
            _ => None,
        }
    }
}

/// Why a packet cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// [MQTT-1.5.4] strings and binary data are limited to 65,535 bytes.
    #[error("{field} is {len} bytes long; the limit is 65535")]
    FieldTooLong { field: &'static str, len: usize },
    /// The remaining length would exceed 268,435,455 bytes.
    #[error("packet of {size} bytes exceeds the MQTT limit of 268435455 bytes of remaining length")]
    PacketTooLarge { size: usize },
    /// The packet type does not exist in this protocol version (AUTH before MQTT 5).
    #[error("{packet} does not exist in {version}")]
    NotInVersion { packet: PacketType, version: ProtocolVersion },
    /// A QoS 1 or 2 PUBLISH without a packet identifier.
    #[error("QoS {qos} PUBLISH without a packet identifier")]
    MissingPacketId { qos: u8 },
    /// A value outside the range the field can carry (a subscription identifier above 268,435,455).
    #[error("{field} value {value} is out of range")]
    ValueOutOfRange { field: &'static str, value: u64 },
}
