//! What can go wrong in a client session: the server breaking a rule ([`Violation`]), the server going
//! quiet ([`Timeout`]), and requests the session cannot take ([`RequestError`]).

use crate::error::EncodeError;
use crate::types::PacketType;

/// A packet from the server that breaks the protocol. The connection cannot go on: close it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// [MQTT-3.2.0-1] the server's first packet must be CONNACK.
    #[error("{0} before CONNACK")]
    BeforeConnAck(PacketType),
    /// [MQTT-3.2.0-2] a server sends CONNACK once.
    #[error("a second CONNACK")]
    SecondConnAck,
    /// A packet only clients send (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ), or an AUTH when no
    /// extended authentication is going on.
    #[error("{0}, which a server does not send here")]
    Unexpected(PacketType),
    /// An acknowledgement for a packet identifier nothing is waiting on.
    #[error("{packet} for packet identifier {id}, which is not in use")]
    UnknownPacketId { packet: PacketType, id: u16 },
    /// The wrong acknowledgement for the message's QoS (PUBACK for QoS 2, PUBREC or PUBCOMP for QoS 1).
    #[error("{packet} for packet identifier {id}, a QoS {qos} message")]
    WrongAck { packet: PacketType, id: u16, qos: u8 },
    /// [MQTT-4.3.3] PUBCOMP answers PUBREL, which only follows PUBREC.
    #[error("PUBCOMP for packet identifier {0} before PUBREC")]
    PubCompBeforePubRec(u16),
    /// PUBREL for a QoS 2 message whose PUBREC was not sent yet.
    #[error("PUBREL for packet identifier {0} before its PUBREC")]
    PubRelBeforePubRec(u16),
    /// [MQTT-3.9.3-1] one reason code per topic filter.
    #[error("{packet} with {got} reason codes for {want} topic filters")]
    ReasonCodeCount { packet: PacketType, got: usize, want: usize },
    /// [MQTT-3.3.2-8, 3.3.2-9] a topic alias of 0, or above the Topic Alias Maximum the client sent.
    #[error("topic alias {0} is out of range")]
    TopicAliasInvalid(u16),
    /// A PUBLISH without a topic whose alias was never set on this connection.
    #[error("topic alias {0} was never set")]
    TopicAliasUnknown(u16),
    /// [MQTT-3.3.4-9] more QoS 1 and 2 messages unacknowledged than the Receive Maximum the client sent.
    #[error("more than {0} QoS 1 and 2 messages in flight (the Receive Maximum)")]
    ReceiveMaximum(u16),
}

/// The server did not answer in time. The connection is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Timeout {
    /// No CONNACK within the connect timeout.
    #[error("no CONNACK in time")]
    ConnAck,
    /// A PINGREQ went unanswered for a whole keep-alive period.
    #[error("no PINGRESP within the keep alive")]
    PingResp,
}

/// A request the session cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Subscribing needs a connection.
    #[error("not connected")]
    NotConnected,
    /// A streamed payload is written by the caller at once, so it needs room in the window now.
    #[error("no room in the in-flight window")]
    WindowFull,
    /// All 65,535 packet identifiers are taken.
    #[error("every packet identifier is in use")]
    NoPacketId,
    /// The server's Maximum QoS is lower (MQTT 5).
    #[error("the server supports QoS {0} at most")]
    QosNotSupported(u8),
    /// The server has no retained messages (MQTT 5 Retain Available 0).
    #[error("the server does not support retained messages")]
    RetainNotSupported,
    /// The packet is larger than the server's Maximum Packet Size (or than MQTT allows).
    #[error("a packet of {size} bytes is larger than the server accepts ({max} bytes)")]
    TooLarge { size: usize, max: usize },
    /// A field is too long for MQTT.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}
