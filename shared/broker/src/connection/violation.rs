//! Protocol violations by a connected client: each closes the connection, MQTT 5 clients first hearing
//! the reason code in a DISCONNECT. Like [`DecodeError`] for what does not decode, each variant names
//! the rule it breaks.

use mq_proto::topic::TopicError;
use mq_proto::{DecodeError, PacketType, QoS, ReasonCode};

use super::MAX_TOPIC_LEVELS;

/// What a client did wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A packet that does not decode.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// [MQTT-3.1.0-2] a second CONNECT on a connection.
    #[error("second CONNECT")]
    SecondConnect,
    /// MQTT 5 §4.12: AUTH on a connection that did not start extended authentication.
    #[error("AUTH without extended authentication")]
    UnexpectedAuth,
    /// MQTT §2.1.2: a packet only a server sends.
    #[error("{0} from a client")]
    ServerPacket(PacketType),
    /// [MQTT-3.3.2-8], [MQTT-3.3.2-9]: Topic Alias 0, or above the Topic Alias Maximum granted.
    #[error("topic alias {0} out of range")]
    TopicAliasInvalid(u16),
    /// MQTT 5 §3.3.2.3.4: an empty topic with an alias never set on this connection.
    #[error("unknown topic alias {0}")]
    TopicAliasUnknown(u16),
    /// [MQTT-3.3.4-6] a PUBLISH from a client carrying a Subscription Identifier.
    #[error("PUBLISH with a subscription identifier")]
    SubscriptionIdentifier,
    /// More levels than [`MAX_TOPIC_LEVELS`] (Mosquitto's limit, a malformed packet there too).
    #[error("{0} of more than {MAX_TOPIC_LEVELS} levels")]
    TooDeep(&'static str),
    /// MQTT 5 §3.2.2.3.4: a PUBLISH above the Maximum QoS granted.
    #[error("QoS {} PUBLISH", .0.as_u8())]
    QosNotSupported(QoS),
    /// [MQTT-3.2.2-14] a retained PUBLISH where Retain Available is 0.
    #[error("retained PUBLISH")]
    RetainNotSupported,
    /// [MQTT-3.3.4-7] more unacknowledged QoS 2 PUBLISHes than the Receive Maximum granted.
    #[error("receive maximum exceeded")]
    ReceiveMaximumExceeded,
    /// [MQTT-4.7.1-1, -2], [MQTT-4.8.2-1, -2]: a topic filter that is not one, in SUBSCRIBE or
    /// UNSUBSCRIBE.
    #[error("invalid topic filter: {0}")]
    InvalidFilter(TopicError),
    /// [MQTT-3.8.3-4] No Local on a shared subscription.
    #[error("No Local on a shared subscription")]
    NoLocalOnShared,
    /// MQTT §4.3: an acknowledgement that does not fit the exchange in flight with its packet id
    /// (PUBREC or PUBCOMP for a QoS 1 message, PUBACK for a QoS 2 one, PUBCOMP before PUBREC);
    /// Mosquitto closes the connection too.
    #[error("{packet} for packet id {pid}, which awaits {awaited}")]
    WrongAck {
        /// The acknowledgement received.
        packet: PacketType,
        /// Its packet id.
        pid: u16,
        /// The packet the exchange with that id awaits.
        awaited: &'static str,
    },
    /// [MQTT-3.14.2-2] a Session Expiry Interval in DISCONNECT after 0 in CONNECT.
    #[error("session expiry set in DISCONNECT after 0 in CONNECT")]
    SessionExpiryAfterZero,
}

impl Violation {
    /// The reason code an MQTT 5 client is told in DISCONNECT.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Violation::Decode(e) => e.reason_code(),
            Violation::TopicAliasInvalid(_) => ReasonCode::TOPIC_ALIAS_INVALID,
            // As Mosquitto answers: a `$share/` filter without a valid share name and filter breaks a
            // rule; any other invalid filter is malformed.
            Violation::InvalidFilter(TopicError::InvalidShare) => ReasonCode::PROTOCOL_ERROR,
            Violation::TooDeep(_) | Violation::InvalidFilter(_) => ReasonCode::MALFORMED_PACKET,
            Violation::QosNotSupported(_) => ReasonCode::QOS_NOT_SUPPORTED,
            Violation::RetainNotSupported => ReasonCode::RETAIN_NOT_SUPPORTED,
            Violation::ReceiveMaximumExceeded => ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
            Violation::SecondConnect
            | Violation::UnexpectedAuth
            | Violation::ServerPacket(_)
            | Violation::TopicAliasUnknown(_)
            | Violation::SubscriptionIdentifier
            | Violation::NoLocalOnShared
            | Violation::WrongAck { .. }
            | Violation::SessionExpiryAfterZero => ReasonCode::PROTOCOL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes() {
        for (v, code) in [
            (Violation::SecondConnect, 0x82),
            (Violation::TopicAliasInvalid(0), 0x94),
            (Violation::TooDeep("topic"), 0x81),
            (Violation::QosNotSupported(QoS::ExactlyOnce), 0x9B),
            (Violation::RetainNotSupported, 0x9A),
            (Violation::ReceiveMaximumExceeded, 0x93),
            (Violation::Decode(DecodeError::PublishQos3), 0x81),
            (Violation::NoLocalOnShared, 0x82),
            (Violation::InvalidFilter(TopicError::MisplacedWildcard), 0x81),
            (Violation::InvalidFilter(TopicError::InvalidShare), 0x82),
            (Violation::WrongAck { packet: PacketType::PubAck, pid: 1, awaited: "PUBREC" }, 0x82),
        ] {
            assert_eq!(v.reason_code().0, code, "{v}");
        }
        assert_eq!(Violation::TooDeep("topic filter").to_string(), "topic filter of more than 201 levels");
    }
}
