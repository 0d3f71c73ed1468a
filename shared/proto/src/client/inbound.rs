//! Messages the server delivers: topic aliases, the QoS 1 and 2 acknowledgements (sent in the order the
//! messages arrived, [MQTT-4.6.0-2/3], possibly only when the application says so), and QoS 2 exactly
//! once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::{AckToken, Action, Event, Qos2Delivery, Violation};
use crate::packet::{Ack, Packet, Publish};
use crate::types::{PacketType, QoS};

/// One acknowledgement owed to the server, in arrival order.
#[derive(Debug)]
struct Slot {
    token: u64,
    /// PUBACK or PUBREC.
    packet: PacketType,
    ack: Ack,
    /// The application is done with the message (always, unless acknowledgements are manual).
    ready: bool,
}

/// A QoS 2 message between its PUBLISH and its PUBREL.
#[derive(Debug)]
struct Qos2 {
    /// PUBREC has gone out (before that it waits in a [`Slot`]).
    rec_sent: bool,
    /// The message, when it is handed over on PUBREL.
    message: Option<Publish>,
}

/// The server's messages not yet complete.
#[derive(Debug)]
pub(super) struct Inbound {
    /// Topic aliases the server set on this connection.
    aliases: HashMap<u16, Arc<str>>,
    /// The highest alias the client allowed (CONNECT Topic Alias Maximum; 0: none).
    alias_max: u16,
    /// The most unacknowledged QoS 1 and 2 messages the client allowed (CONNECT Receive Maximum).
    receive_max: u16,
    delivery: Qos2Delivery,
    manual: bool,
    qos2: HashMap<u16, Qos2>,
    slots: VecDeque<Slot>,
    next_token: u64,
}

impl Inbound {
    pub(super) fn new(alias_max: u16, receive_max: u16, delivery: Qos2Delivery, manual: bool) -> Self {
        Inbound {
            aliases: HashMap::new(),
            alias_max,
            receive_max,
            delivery,
            manual,
            qos2: HashMap::new(),
            slots: VecDeque::new(),
            next_token: 0,
        }
    }

    /// The limits the client announces in its CONNECT (a new CONNECT for the next connections).
    pub(super) fn set_limits(&mut self, alias_max: u16, receive_max: u16) {
        self.alias_max = alias_max;
        self.receive_max = receive_max;
    }

    /// Acknowledgements owed and not sent yet.
    pub(super) fn owed(&self) -> usize {
        self.slots.len()
    }

    /// Puts the topic back into a PUBLISH that names it by alias, and learns the aliases it sets.
    pub(super) fn resolve(&mut self, p: &mut Publish) -> Result<(), Violation> {
        let Some(alias) = p.properties.topic_alias else { return Ok(()) };
        if alias == 0 || alias > self.alias_max {
            return Err(Violation::TopicAliasInvalid(alias));
        }
        if p.topic.is_empty() {
            p.topic = self.aliases.get(&alias).cloned().ok_or(Violation::TopicAliasUnknown(alias))?;
        } else {
            self.aliases.insert(alias, p.topic.clone());
        }
        Ok(())
    }

    /// A PUBLISH from the server.
    pub(super) fn publish(&mut self, mut p: Publish, actions: &mut VecDeque<Action>) -> Result<(), Violation> {
        self.resolve(&mut p)?;
        let Some(id) = p.packet_id else {
            actions.push_back(Action::Event(Event::Message { publish: p, ack: None }));
            return Ok(());
        };
        if p.qos == QoS::ExactlyOnce
            && let Some(q) = self.qos2.get(&id.get())
        {
            // A message seen before: never handed over twice. If its PUBREC went out, the server did not
            // get it, so it goes again at once (it answers a resend, not a new message); if not, it is
            // still waiting for its turn.
            if q.rec_sent {
                actions.push_back(Action::Send(Packet::PubRec(Ack::new(id))));
            }
            return Ok(());
        }
        if self.in_flight() >= usize::from(self.receive_max) {
            return Err(Violation::ReceiveMaximum(self.receive_max));
        }
        let on_release = p.qos == QoS::ExactlyOnce && self.delivery == Qos2Delivery::OnRelease;
        let ready = !self.manual || on_release;
        let packet = if p.qos == QoS::ExactlyOnce { PacketType::PubRec } else { PacketType::PubAck };
        let token = self.slot(packet, Ack::new(id), ready);
        if p.qos == QoS::ExactlyOnce {
            let message = on_release.then(|| p.clone());
            self.qos2.insert(id.get(), Qos2 { rec_sent: false, message });
        }
        // Acknowledged first, then handed over (as Mosquitto's client library does).
        self.flush(actions);
        if !on_release {
            let ack = (!ready).then_some(AckToken(token));
            actions.push_back(Action::Event(Event::Message { publish: p, ack }));
        }
        Ok(())
    }

    /// PUBREL: PUBCOMP, and the message if it is handed over now.
    pub(super) fn release(&mut self, ack: &Ack, actions: &mut VecDeque<Action>) -> Result<(), Violation> {
        let id = ack.packet_id.get();
        if self.qos2.get(&id).is_some_and(|q| !q.rec_sent) {
            return Err(Violation::PubRelBeforePubRec(id));
        }
        // Unknown: completed before, or from a session this client no longer has; PUBCOMP either way.
        let message = self.qos2.remove(&id).and_then(|q| q.message);
        actions.push_back(Action::Send(Packet::PubComp(Ack::new(ack.packet_id))));
        if let Some(publish) = message {
            actions.push_back(Action::Event(Event::Message { publish, ack: None }));
        }
        Ok(())
    }

    /// The application is done with the message of `token`: its acknowledgement goes in its turn.
    pub(super) fn ack(&mut self, token: AckToken, actions: &mut VecDeque<Action>) {
        if let Some(s) = self.slots.iter_mut().find(|s| s.token == token.0) {
            s.ready = true;
            self.flush(actions);
        }
    }

    /// The message of `token` is never to be acknowledged on this connection (the server sends it again
    /// on a resumed session); a resend of a QoS 2 one meanwhile is ignored.
    pub(super) fn abandon(&mut self, token: AckToken, actions: &mut VecDeque<Action>) {
        self.slots.retain(|s| s.token != token.0);
        self.flush(actions);
    }

    /// The connection went away: its aliases and owed acknowledgements with it.
    pub(super) fn connection_lost(&mut self) {
        self.aliases.clear();
        self.slots.clear();
    }

    /// A new connection is up. A resumed session keeps the QoS 2 messages whose PUBREC went out (PUBREL
    /// comes for them); the others the server sends again. A new session keeps nothing.
    pub(super) fn connected(&mut self, session_present: bool) {
        if session_present {
            self.qos2.retain(|_, q| q.rec_sent);
        } else {
            self.qos2.clear();
        }
    }

    /// Unacknowledged QoS 1 and 2 messages, as the server counts them against the Receive Maximum.
    fn in_flight(&self) -> usize {
        self.qos2.len() + self.slots.iter().filter(|s| s.packet == PacketType::PubAck).count()
    }

    fn slot(&mut self, packet: PacketType, ack: Ack, ready: bool) -> u64 {
        self.next_token += 1;
        self.slots.push_back(Slot { token: self.next_token, packet, ack, ready });
        self.next_token
    }

    /// Sends the acknowledgements that are ready, in order.
    fn flush(&mut self, actions: &mut VecDeque<Action>) {
        while self.slots.front().is_some_and(|s| s.ready) {
            let Some(s) = self.slots.pop_front() else { break };
            let packet = if s.packet == PacketType::PubRec {
                if let Some(q) = self.qos2.get_mut(&s.ack.packet_id.get()) {
                    q.rec_sent = true;
                }
                Packet::PubRec(s.ack)
            } else {
                Packet::PubAck(s.ack)
            };
            actions.push_back(Action::Send(packet));
        }
    }
}
