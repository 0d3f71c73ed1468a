//! Messages the client publishes: a queue, the in-flight window, the QoS 1 and 2 acknowledgements, topic
//! aliases on the way out, and what is sent again after a reconnect.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::{Action, Event, OutgoingPublish, Violation};
use crate::packet::{Ack, Packet, Publish};
use crate::types::{PacketType, QoS};

/// Packet identifiers are the client's own: a fast hash is enough.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One message of the client's, from `publish` to its completion.
#[derive(Debug)]
struct Message {
    /// Publish order, to send again in the same order.
    seq: u64,
    mid: u16,
    /// With its full topic (an alias is applied per connection when sent) and its packet identifier.
    publish: Publish,
    /// The payload's length when the caller writes it itself.
    streamed: Option<usize>,
    /// PUBREC received and PUBREL sent: only PUBCOMP is missing.
    released: bool,
}

/// The client's messages not yet complete.
#[derive(Debug, Default)]
pub(super) struct Outbound {
    /// Waiting for room in the window (or for a connection).
    queue: VecDeque<Message>,
    /// Sent at QoS 1 or 2, not yet acknowledged, by packet identifier.
    inflight: FastMap<u16, Message>,
    seq: u64,
    /// Topic aliases this connection has set, alias to topic.
    aliases: HashMap<u16, Arc<str>>,
}

impl Outbound {
    /// QoS 1 and 2 messages sent and not complete.
    pub(super) fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Messages waiting to be sent.
    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Whether `id` is the packet identifier of a message not complete.
    pub(super) fn uses(&self, id: u16) -> bool {
        self.inflight.contains_key(&id) || self.queue.iter().any(|m| m.mid == id && m.publish.qos != QoS::AtMostOnce)
    }

    /// Adds a message to the queue (its packet identifier is already set).
    pub(super) fn enqueue(&mut self, mid: u16, publish: Publish, streamed: Option<usize>) {
        self.seq += 1;
        self.queue.push_back(Message { seq: self.seq, mid, publish, streamed, released: false });
    }

    /// Sends queued messages in order while the window has room (QoS 0 messages take none, but keep their
    /// place in line).
    pub(super) fn pump(&mut self, window: usize, alias_max: u16, actions: &mut VecDeque<Action>) {
        while let Some(front) = self.queue.front() {
            if front.publish.qos != QoS::AtMostOnce && self.inflight.len() >= window {
                break;
            }
            let Some(m) = self.queue.pop_front() else { break };
            actions.push_back(Action::Publish(self.wire(&m, alias_max)));
            if let Some(id) = m.publish.packet_id {
                self.inflight.insert(id.get(), m);
            }
        }
    }

    /// The PUBLISH as it goes out on this connection: a topic alias already set for the same topic
    /// replaces the topic; an alias the server does not accept is left out (the full topic goes).
    fn wire(&mut self, m: &Message, alias_max: u16) -> OutgoingPublish {
        let mut publish = m.publish.clone();
        if let Some(alias) = publish.properties.topic_alias {
            if alias == 0 || alias > alias_max {
                publish.properties.topic_alias = None;
            } else if self.aliases.get(&alias) == Some(&publish.topic) {
                publish.topic = "".into();
            } else {
                self.aliases.insert(alias, publish.topic.clone());
            }
        }
        OutgoingPublish { mid: m.mid, publish, streamed: m.streamed }
    }

    /// PUBACK, PUBREC or PUBCOMP from the server: the next step of a message's flow.
    pub(super) fn ack(
        &mut self,
        packet: PacketType,
        ack: Ack,
        actions: &mut VecDeque<Action>,
    ) -> Result<(), Violation> {
        let id = ack.packet_id.get();
        let Some(m) = self.inflight.get_mut(&id) else {
            return Err(Violation::UnknownPacketId { packet, id });
        };
        let qos = m.publish.qos;
        let wrong = Violation::WrongAck { packet, id, qos: qos.as_u8() };
        match packet {
            PacketType::PubAck if qos != QoS::AtLeastOnce => return Err(wrong),
            PacketType::PubRec | PacketType::PubComp if qos != QoS::ExactlyOnce => return Err(wrong),
            PacketType::PubComp if !m.released => return Err(Violation::PubCompBeforePubRec(id)),
            PacketType::PubRec if !ack.reason.is_error() => {
                // Also when PUBREL went out already: the server did not get it, so it goes again.
                m.released = true;
                actions.push_back(Action::Send(Packet::PubRel(Ack::new(ack.packet_id))));
                return Ok(());
            }
            _ => {}
        }
        // PUBACK, PUBCOMP, or a PUBREC refusing the message (MQTT 5): the flow is over.
        let mid = m.mid;
        self.inflight.remove(&id);
        actions.push_back(Action::Event(Event::Published { mid, reason: ack.reason }));
        Ok(())
    }

    /// The connection went away: aliases belong to it.
    pub(super) fn connection_lost(&mut self) {
        self.aliases.clear();
    }

    /// A new connection is up: what was in flight goes again first, in its original order (MQTT 3.1.1
    /// §4.4): PUBREL where PUBREC had come, else the PUBLISH with DUP set. Whether or not the server kept
    /// the session, as Mosquitto's client library does: a message it may not have got is sent again.
    pub(super) fn resend(&mut self, alias_max: u16, actions: &mut VecDeque<Action>) {
        let mut ids: Vec<(u64, u16)> = self.inflight.iter().map(|(id, m)| (m.seq, *id)).collect();
        ids.sort_unstable();
        for (_, id) in ids {
            let Some(mut m) = self.inflight.remove(&id) else { continue };
            if m.released {
                if let Some(pid) = m.publish.packet_id {
                    actions.push_back(Action::Send(Packet::PubRel(Ack::new(pid))));
                }
            } else {
                m.publish.dup = true;
                actions.push_back(Action::Publish(self.wire(&m, alias_max)));
            }
            self.inflight.insert(id, m);
        }
    }
}
