//! MQTT 5 reason codes (§2.4) and MQTT 3.x CONNACK return codes (3.1.1 §3.2.2.3).
//!
//! Reason codes are a byte with named constants rather than an enum: the same byte means different things
//! in different packets (0x00 is "Success", "Normal disconnection" or "Granted QoS 0"), and a peer may send
//! codes a packet does not allow, which the decoder must be able to name in its error.

use std::fmt;

use crate::types::PacketType;

/// An MQTT 5 reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReasonCode(pub u8);

macro_rules! reason_codes {
    ($($name:ident = $value:literal, $text:literal, [$($pkt:ident),*];)*) => {
        impl ReasonCode {
            $(
                #[doc = $text]
                pub const $name: ReasonCode = ReasonCode($value);
            )*

            /// The specification's name for this code in the context of `packet`.
            pub fn description(self, packet: PacketType) -> &'static str {
                // 0x00 has three names; choose by packet.
                if self.0 == 0 {
                    return match packet {
                        PacketType::Disconnect => "Normal disconnection",
                        PacketType::SubAck => "Granted QoS 0",
                        _ => "Success",
                    };
                }
                match self.0 {
                    $($value => $text,)*
                    _ => "Unknown reason code",
                }
            }

            /// Whether the specification allows this code in `packet` (MQTT 5 §2.4, Table 2-6).
            pub fn is_valid_for(self, packet: PacketType) -> bool {
                match self.0 {
                    $($value => matches!(packet, $(PacketType::$pkt)|*),)*
                    _ => false,
                }
            }
        }
    };
}

reason_codes! {
    SUCCESS = 0x00, "Success", [ConnAck, PubAck, PubRec, PubRel, PubComp, UnsubAck, Auth, Disconnect, SubAck];
    GRANTED_QOS_1 = 0x01, "Granted QoS 1", [SubAck];
    GRANTED_QOS_2 = 0x02, "Granted QoS 2", [SubAck];
    DISCONNECT_WITH_WILL = 0x04, "Disconnect with Will Message", [Disconnect];
    NO_MATCHING_SUBSCRIBERS = 0x10, "No matching subscribers", [PubAck, PubRec];
    NO_SUBSCRIPTION_EXISTED = 0x11, "No subscription existed", [UnsubAck];
    CONTINUE_AUTHENTICATION = 0x18, "Continue authentication", [Auth];
    RE_AUTHENTICATE = 0x19, "Re-authenticate", [Auth];
    UNSPECIFIED_ERROR = 0x80, "Unspecified error", [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    MALFORMED_PACKET = 0x81, "Malformed Packet", [ConnAck, Disconnect];
    PROTOCOL_ERROR = 0x82, "Protocol Error", [ConnAck, Disconnect];
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83, "Implementation specific error", [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    UNSUPPORTED_PROTOCOL_VERSION = 0x84, "Unsupported Protocol Version", [ConnAck];
    CLIENT_IDENTIFIER_NOT_VALID = 0x85, "Client Identifier not valid", [ConnAck];
    BAD_USER_NAME_OR_PASSWORD = 0x86, "Bad User Name or Password", [ConnAck];
    NOT_AUTHORIZED = 0x87, "Not authorized", [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    SERVER_UNAVAILABLE = 0x88, "Server unavailable", [ConnAck];
    SERVER_BUSY = 0x89, "Server busy", [ConnAck, Disconnect];
    BANNED = 0x8A, "Banned", [ConnAck];
    SERVER_SHUTTING_DOWN = 0x8B, "Server shutting down", [Disconnect];
    BAD_AUTHENTICATION_METHOD = 0x8C, "Bad authentication method", [ConnAck, Disconnect];
    KEEP_ALIVE_TIMEOUT = 0x8D, "Keep Alive timeout", [Disconnect];
    SESSION_TAKEN_OVER = 0x8E, "Session taken over", [Disconnect];
    TOPIC_FILTER_INVALID = 0x8F, "Topic Filter invalid", [SubAck, UnsubAck, Disconnect];
    TOPIC_NAME_INVALID = 0x90, "Topic Name invalid", [ConnAck, PubAck, PubRec, Disconnect];
    PACKET_IDENTIFIER_IN_USE = 0x91, "Packet Identifier in use", [PubAck, PubRec, SubAck, UnsubAck];
    PACKET_IDENTIFIER_NOT_FOUND = 0x92, "Packet Identifier not found", [PubRel, PubComp];
    RECEIVE_MAXIMUM_EXCEEDED = 0x93, "Receive Maximum exceeded", [Disconnect];
    TOPIC_ALIAS_INVALID = 0x94, "Topic Alias invalid", [Disconnect];
    PACKET_TOO_LARGE = 0x95, "Packet too large", [ConnAck, Disconnect];
    MESSAGE_RATE_TOO_HIGH = 0x96, "Message rate too high", [Disconnect];
    QUOTA_EXCEEDED = 0x97, "Quota exceeded", [ConnAck, PubAck, PubRec, SubAck, Disconnect];
    ADMINISTRATIVE_ACTION = 0x98, "Administrative action", [Disconnect];
    PAYLOAD_FORMAT_INVALID = 0x99, "Payload format invalid", [ConnAck, PubAck, PubRec, Disconnect];
    RETAIN_NOT_SUPPORTED = 0x9A, "Retain not supported", [ConnAck, Disconnect];
    QOS_NOT_SUPPORTED = 0x9B, "QoS not supported", [ConnAck, Disconnect];
    USE_ANOTHER_SERVER = 0x9C, "Use another server", [ConnAck, Disconnect];
    SERVER_MOVED = 0x9D, "Server moved", [ConnAck, Disconnect];
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E, "Shared Subscriptions not supported", [SubAck, Disconnect];
    CONNECTION_RATE_EXCEEDED = 0x9F, "Connection rate exceeded", [ConnAck, Disconnect];
    MAXIMUM_CONNECT_TIME = 0xA0, "Maximum connect time", [Disconnect];
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1, "Subscription Identifiers not supported", [SubAck, Disconnect];
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2, "Wildcard Subscriptions not supported", [SubAck, Disconnect];
}

impl ReasonCode {
    /// Normal disconnection (0x00 in DISCONNECT).
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode(0);
    /// Granted QoS 0 (0x00 in SUBACK).
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode(0);

    /// Codes of 0x80 and above report failure.
    pub const fn is_error(self) -> bool {
        self.0 >= 0x80
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x}", self.0)
    }
}

/// An MQTT 3.1 / 3.1.1 CONNACK return code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnectReturnCode(pub u8);

impl ConnectReturnCode {
    /// Connection accepted.
    pub const ACCEPTED: Self = Self(0);
    /// The server does not support the protocol level requested.
    pub const UNACCEPTABLE_PROTOCOL_VERSION: Self = Self(1);
    /// The client identifier is correct UTF-8 but not allowed by the server.
    pub const IDENTIFIER_REJECTED: Self = Self(2);
    /// The network connection is up but the MQTT service is unavailable.
    pub const SERVER_UNAVAILABLE: Self = Self(3);
    /// The data in the user name or password is malformed.
    pub const BAD_USERNAME_OR_PASSWORD: Self = Self(4);
    /// The client is not authorised to connect.
    pub const NOT_AUTHORIZED: Self = Self(5);

    /// Mosquitto's wording, as printed by its clients ("Connection Refused: not authorised.").
    pub fn description(self) -> &'static str {
        match self.0 {
            0 => "Connection Accepted.",
            1 => "Connection Refused: unacceptable protocol version.",
            2 => "Connection Refused: identifier rejected.",
            3 => "Connection Refused: broker unavailable.",
            4 => "Connection Refused: bad user name or password.",
            5 => "Connection Refused: not authorised.",
            _ => "Connection Refused: unknown reason.",
        }
    }

    /// The v3 return code that says what a v5 reason code says, as Mosquitto maps them.
    pub fn from_reason(code: ReasonCode) -> Self {
        match code {
            ReasonCode::SUCCESS => Self::ACCEPTED,
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION => Self::UNACCEPTABLE_PROTOCOL_VERSION,
            ReasonCode::CLIENT_IDENTIFIER_NOT_VALID => Self::IDENTIFIER_REJECTED,
            ReasonCode::BAD_USER_NAME_OR_PASSWORD => Self::BAD_USERNAME_OR_PASSWORD,
            ReasonCode::NOT_AUTHORIZED | ReasonCode::BANNED => Self::NOT_AUTHORIZED,
            _ => Self::SERVER_UNAVAILABLE,
        }
    }
}
