//! Printing received messages exactly as `mosquitto_sub` does (through `mq_format`), and the view of a
//! received PUBLISH that printing and `--exec` work from.
//!
//! `mq_proto` decodes MQTT 5 properties into one struct per packet, which loses the order they came in;
//! `%j`/`%J` print them in wire order (as `mosquitto_sub` does), so the order is recovered from the raw
//! packet with [`property_order`] while it is still in the receive buffer.

use std::io::Write as _;

use mq_format::{Message, Printer, Property, Props, WriteError};
use mq_proto::properties::id;
use mq_proto::{Publish, peek_varint};

use crate::error::ClientError;

/// A received message with its properties in wire order.
#[derive(Debug, Clone)]
pub struct Received {
    pub publish: Publish,
    pub props: Props,
}

impl Received {
    /// Pairs a decoded PUBLISH with the property order read from its bytes.
    pub fn new(publish: Publish, order: &[u8]) -> Self {
        let props = props_in_order(&publish, order);
        Received { publish, props }
    }

    /// The formatter's view.
    pub fn message(&self) -> Message<'_> {
        let p = &self.publish;
        Message {
            topic: &p.topic,
            payload: &p.payload,
            qos: p.qos.as_u8(),
            retain: p.retain,
            mid: p.packet_id.map_or(0, |i| i.get()),
            properties: &self.props,
        }
    }
}

/// Builds the formatter's property list from the decoded properties, in the order given by `order`
/// (property identifiers as they appeared on the wire; repeated identifiers take the next value).
fn props_in_order(p: &Publish, order: &[u8]) -> Props {
    let pp = &p.properties;
    let mut users = pp.user_properties.iter();
    let mut subs = pp.subscription_identifiers.iter();
    let mut props = Props::new();
    for &pid in order {
        let prop = match pid {
            id::PAYLOAD_FORMAT_INDICATOR => pp.payload_format_indicator.map(Property::PayloadFormatIndicator),
            id::MESSAGE_EXPIRY_INTERVAL => pp.message_expiry_interval.map(Property::MessageExpiryInterval),
            id::CONTENT_TYPE => pp.content_type.clone().map(Property::ContentType),
            id::RESPONSE_TOPIC => pp.response_topic.clone().map(Property::ResponseTopic),
            id::CORRELATION_DATA => pp.correlation_data.as_ref().map(|d| Property::CorrelationData(d.to_vec())),
            id::SUBSCRIPTION_IDENTIFIER => subs.next().map(|s| Property::SubscriptionIdentifier(*s)),
            id::TOPIC_ALIAS => pp.topic_alias.map(Property::TopicAlias),
            id::USER_PROPERTY => users.next().map(|(k, v)| Property::UserProperty(k.clone(), v.clone())),
            _ => None,
        };
        props.extend(prop);
    }
    props
}

/// The identifiers of the properties of the PUBLISH packet at the front of `frame` (which holds the
/// whole packet), in wire order. Empty when the packet has none or is not as expected; decoding proper
/// is `mq_proto`'s job and has already judged the packet.
pub fn property_order(frame: &[u8]) -> Vec<u8> {
    let mut order = Vec::new();
    let Some(&first) = frame.first() else { return order };
    let qos = (first >> 1) & 3;
    let Ok(Some((_, used))) = peek_varint(frame.get(1..).unwrap_or_default()) else { return order };
    let mut at = 1 + used;
    let u16_at = |at: usize| frame.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let Some(topic_len) = u16_at(at) else { return order };
    at += 2 + topic_len + if qos > 0 { 2 } else { 0 };
    let Ok(Some((len, used))) = peek_varint(frame.get(at..).unwrap_or_default()) else { return order };
    at += used;
    let end = at + len as usize;
    while at < end {
        let Some(&pid) = frame.get(at) else { break };
        at += 1;
        at += match pid {
            id::PAYLOAD_FORMAT_INDICATOR => 1,
            id::TOPIC_ALIAS => 2,
            id::MESSAGE_EXPIRY_INTERVAL => 4,
            id::SUBSCRIPTION_IDENTIFIER => match peek_varint(frame.get(at..).unwrap_or_default()) {
                Ok(Some((_, used))) => used,
                _ => break,
            },
            id::CONTENT_TYPE | id::RESPONSE_TOPIC | id::CORRELATION_DATA => match u16_at(at) {
                Some(n) => 2 + n,
                None => break,
            },
            id::USER_PROPERTY => {
                let Some(k) = u16_at(at) else { break };
                let Some(v) = u16_at(at + 2 + k) else { break };
                4 + k + v
            }
            _ => break,
        };
        order.push(pid);
    }
    order
}

/// Prints one message on stdout with `printer`, and flushes (as `mosquitto_sub` does, so pipes see each
/// message at once). A reader that went away is [`ClientError::Output`] with `BrokenPipe`, which ends the
/// tool quietly.
pub fn print(printer: &Printer, msg: &Received, quiet: bool) -> Result<(), ClientError> {
    let mut out = std::io::stdout().lock();
    match printer.write_now(&msg.message(), &mut out) {
        Ok(()) => {}
        Err(WriteError::Io(e)) => return Err(ClientError::Output(e)),
        Err(e @ WriteError::InvalidJson { occurrences, .. }) => {
            if !quiet {
                for _ in 0..occurrences {
                    eprintln!("{e}");
                }
            }
        }
    }
    out.flush().map_err(ClientError::Output)
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use mq_proto::{Packet, PacketId, ProtocolVersion, QoS};

    use super::*;

    #[test]
    fn property_order_follows_the_wire() {
        let mut p = Publish::new("a/b", QoS::AtLeastOnce, Bytes::from_static(b"x"));
        p.packet_id = PacketId::new(7);
        p.properties.user_properties = vec![("k1".into(), "v1".into()), ("k2".into(), "v2".into())];
        p.properties.content_type = Some("text/plain".into());
        p.properties.message_expiry_interval = Some(30);
        p.properties.subscription_identifiers = vec![3];
        let mut buf = BytesMut::new();
        Packet::Publish(p.clone()).encode(ProtocolVersion::V5, &mut buf).unwrap();
        let order = property_order(&buf);
        // The encoder writes in its own order; whatever it is, the scan must see every property once.
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                id::MESSAGE_EXPIRY_INTERVAL,
                id::CONTENT_TYPE,
                id::SUBSCRIPTION_IDENTIFIER,
                id::USER_PROPERTY,
                id::USER_PROPERTY
            ]
        );
        let r = Received::new(p, &order);
        assert_eq!(r.props.iter().count(), 5);
        let users: Vec<_> = r.props.user_properties().collect();
        assert_eq!(users, [("k1", "v1"), ("k2", "v2")]);
    }

    #[test]
    fn hand_written_order_is_kept() {
        // PUBLISH QoS 0, topic "t", properties: user-property (a, b), then content-type "c".
        let frame = b"\x30\x10\x00\x01t\x0b\x26\x00\x01a\x00\x01b\x03\x00\x01cP";
        assert_eq!(property_order(frame), [id::USER_PROPERTY, id::CONTENT_TYPE]);
    }

    #[test]
    fn garbage_gives_no_order() {
        assert!(property_order(b"").is_empty());
        assert!(property_order(b"\x30").is_empty());
        assert!(property_order(b"\x30\x05\x00\x09").is_empty());
    }
}
