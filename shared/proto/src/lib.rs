//! The MQTT wire format for 3.1, 3.1.1 and 5.0, shared by the `mq` broker and every `mq` client tool.
//!
//! This crate does no I/O: it turns bytes into [`Packet`]s and back, validates topic names and filters,
//! matches topics against filters, and keeps a client's protocol state. The broker, the clients and the tests all use it, so nothing above
//! it parses MQTT bytes again.
//!
//! # Layout
//! - [`types`]: protocol versions, QoS, packet identifiers, subscription options.
//! - [`reason`]: MQTT 5 reason codes and MQTT 3.x CONNACK return codes.
//! - [`error`]: decode and encode errors, and the mapping from each decode error to the reason code a
//!   broker answers with.
//! - `wire`: integers, variable byte integers, strings and binary data (§1.5).
//! - [`properties`]: MQTT 5 properties, one struct per packet type.
//! - [`packet`]: the fifteen packets, one module each; [`decode`] frames and parses, [`Packet::encode`]
//!   writes, [`Publish::encode_header`] writes a PUBLISH without its payload for vectored writes.
//! - [`topic`]: topic name and filter rules, `$share/` parsing, matching.
//! - [`trie`]: a subscription trie that finds matching filters in time proportional to the topic's depth.
//! - [`client`]: the client side of a connection as a state machine without I/O ([`client::ClientSession`]:
//!   CONNECT, publishing and receiving at every QoS, subscriptions, keep alive, reconnecting), for the
//!   client tools, `mq bench` and the broker's bridges.
//!
//! # Decoding
//! ```
//! use bytes::BytesMut;
//! use mq_proto::{decode, Packet, ProtocolVersion, MAX_PACKET_SIZE};
//!
//! let mut buf = BytesMut::from(&b"\xc0\x00\xd0"[..]); // PINGREQ, then the first byte of a PINGRESP
//! let v = ProtocolVersion::V311;
//! assert_eq!(decode(&mut buf, v, MAX_PACKET_SIZE).unwrap(), Some(Packet::PingReq));
//! assert_eq!(decode(&mut buf, v, MAX_PACKET_SIZE).unwrap(), None); // need more bytes
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod client;
pub mod error;
pub mod packet;
pub mod properties;
pub mod reason;
pub mod topic;
pub mod trie;
pub mod types;
mod wire;

pub use error::{DecodeError, EncodeError};
pub use packet::{
    Ack, Auth, ConnAck, Connect, Disconnect, FixedHeader, MAX_PACKET_SIZE, Packet, Publish, PublishHeader, SubAck,
    Subscribe, UnsubAck, Unsubscribe, Will, decode, decode_publish_head,
};
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties, PublishProperties,
    SubscribeProperties, UnsubscribeProperties, WillProperties,
};
pub use reason::{ConnectReturnCode, ReasonCode};
pub use topic::TopicError;
pub use trie::TopicTrie;
pub use types::{PacketId, PacketType, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
pub use wire::{MAX_VARINT, check_utf8, peek_varint, put_varint, varint_len};
