//! Table tests of the client session: steps in, actions out, no sockets and no clock but the one the
//! steps move. Each table is a scenario; each row a step and what it must produce, written as text.
//! `outgoing`: connecting, keep alive, publishing, subscribing; `incoming`: receiving, acknowledging,
//! topic aliases, reconnecting.

mod incoming;
mod outgoing;

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::packet::{Ack, SubAck, UnsubAck};
use crate::properties::{AckProperties, ConnAckProperties};

/// One step of a scenario.
enum Step {
    /// A packet from the server.
    In(Packet),
    /// The application publishes.
    Pub(Publish),
    /// The application publishes a payload of this many bytes it writes itself.
    Stream(Publish, usize),
    Sub(&'static [&'static str]),
    Unsub(&'static [&'static str]),
    /// The application is done with the n-th message handed over with a token (counting from 0).
    Ack(usize),
    Abandon(usize),
    /// The clock moves to this second and the session ticks, reading (or not) meanwhile.
    At(u64, bool),
    /// Bytes went out at this second.
    Sent(u64),
    Lost,
    /// A new stream at this second.
    Open(u64),
    /// The application lets what was held after CONNACK go.
    Resume,
    /// The application ends the connection.
    Close,
}

use Step::*;

struct Run {
    s: ClientSession,
    t0: Instant,
    tokens: Vec<AckToken>,
}

impl Run {
    fn new(connect: Connect, options: Options) -> Self {
        Run { s: ClientSession::new(connect, options), t0: Instant::now(), tokens: Vec::new() }
    }

    /// A session connected with MQTT `version` and a CONNACK with `props`.
    fn connected(version: ProtocolVersion, options: Options, props: ConnAckProperties) -> Self {
        let mut r = Run::new(Connect::new(version, "c"), options);
        r.check(&[
            (Open(0), &["CONNECT"]),
            (In(Packet::ConnAck(ConnAck { properties: props, ..ConnAck::default() })), &["connected"]),
        ]);
        r
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    /// Runs one step; returns what came out, errors as `error: ...`.
    fn step(&mut self, step: Step) -> Vec<String> {
        let result = match step {
            In(p) => self.s.handle(p).map_err(|e| e.to_string()),
            Pub(p) => self.s.publish(p).map(drop).map_err(|e| e.to_string()),
            Stream(p, len) => self.s.publish_streamed(p, len).map(drop).map_err(|e| e.to_string()),
            Sub(filters) => {
                let filters = filters.iter().map(|f| (f.to_string(), SubscriptionOptions::default())).collect();
                self.s.subscribe(filters, Default::default()).map(drop).map_err(|e| e.to_string())
            }
            Unsub(filters) => {
                let filters = filters.iter().map(|f| f.to_string()).collect();
                self.s.unsubscribe(filters, Default::default()).map(drop).map_err(|e| e.to_string())
            }
            Ack(n) => {
                self.s.ack(self.tokens[n]);
                Ok(())
            }
            Abandon(n) => {
                self.s.abandon(self.tokens[n]);
                Ok(())
            }
            At(secs, reading) => self.s.tick(self.at(secs), reading).map_err(|e| e.to_string()),
            Sent(secs) => {
                self.s.sent(self.at(secs));
                Ok(())
            }
            Lost => {
                self.s.connection_lost();
                Ok(())
            }
            Open(secs) => {
                self.s.connect(self.at(secs));
                Ok(())
            }
            Resume => {
                self.s.resume();
                Ok(())
            }
            Close => {
                self.s.disconnect(ReasonCode::NORMAL_DISCONNECTION, Default::default());
                Ok(())
            }
        };
        let mut out = Vec::new();
        while let Some(a) = self.s.poll_action() {
            if let Action::Event(Event::Message { ack: Some(t), .. }) = &a {
                self.tokens.push(*t);
            }
            out.push(show(&a));
        }
        if let Err(e) = result {
            out.push(format!("error: {e}"));
        }
        out
    }

    /// Runs the steps of a table, checking each row.
    #[track_caller]
    fn check(&mut self, rows: &[(Step, &[&str])]) {
        // Steps are consumed; the table is borrowed for its readability.
        for (i, (step, want)) in rows.iter().enumerate() {
            let got = self.step(clone_step(step));
            assert_eq!(got, *want, "row {i}");
        }
    }
}

fn clone_step(s: &Step) -> Step {
    match s {
        In(p) => In(p.clone()),
        Pub(p) => Pub(p.clone()),
        Stream(p, n) => Stream(p.clone(), *n),
        Sub(f) => Sub(f),
        Unsub(f) => Unsub(f),
        Ack(n) => Ack(*n),
        Abandon(n) => Abandon(*n),
        At(t, r) => At(*t, *r),
        Sent(t) => Sent(*t),
        Lost => Lost,
        Open(t) => Open(*t),
        Resume => Resume,
        Close => Close,
    }
}

/// An action as text: packets by name and identifier, PUBLISH with its flags, events in words.
fn show(a: &Action) -> String {
    let ack = |name: &str, a: &Ack| match a.reason {
        ReasonCode::SUCCESS => format!("{name} {}", a.packet_id),
        r => format!("{name} {} rc {:#04x}", a.packet_id, r.0),
    };
    match a {
        Action::Send(p) => match p {
            Packet::PubAck(a) => ack("PUBACK", a),
            Packet::PubRec(a) => ack("PUBREC", a),
            Packet::PubRel(a) => ack("PUBREL", a),
            Packet::PubComp(a) => ack("PUBCOMP", a),
            Packet::Subscribe(s) => format!("SUBSCRIBE {}", s.packet_id),
            Packet::Unsubscribe(u) => format!("UNSUBSCRIBE {}", u.packet_id),
            other => other.packet_type().name().to_string(),
        },
        Action::Publish(o) => {
            let p = &o.publish;
            let alias = p.properties.topic_alias.map(|a| format!(" alias {a}")).unwrap_or_default();
            let streamed = o.streamed.map(|n| format!(" +{n}")).unwrap_or_default();
            format!("PUBLISH m{} q{} d{} '{}'{alias}{streamed}", o.mid, p.qos.as_u8(), u8::from(p.dup), p.topic)
        }
        Action::Event(e) => match e {
            Event::Connected { session_present: false } => "connected".into(),
            Event::Connected { session_present: true } => "connected (session present)".into(),
            Event::Refused { code } => format!("refused {code}"),
            Event::Message { publish, ack } => {
                let later = if ack.is_some() { " (ack later)" } else { "" };
                format!("message '{}' q{}{later}", publish.topic, publish.qos.as_u8())
            }
            Event::Published { mid, reason: ReasonCode::SUCCESS } => format!("published m{mid}"),
            Event::Published { mid, reason } => format!("published m{mid} rc {:#04x}", reason.0),
            Event::Subscribed { mid, granted } => {
                format!("subscribed m{mid} {:?}", granted.iter().map(|c| c.0).collect::<Vec<_>>())
            }
            Event::Unsubscribed { mid, reasons } => {
                format!("unsubscribed m{mid} {:?}", reasons.iter().map(|c| c.0).collect::<Vec<_>>())
            }
            Event::Disconnected { reason } => format!("disconnected {:#04x}", reason.0),
            Event::UnknownAck { packet, id } => format!("unknown {} {id}", packet.name()),
        },
    }
}

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap_or(PacketId::MIN)
}

fn puback(n: u16) -> Step {
    In(Packet::PubAck(Ack::new(id(n))))
}

fn pubrec(n: u16) -> Step {
    In(Packet::PubRec(Ack::new(id(n))))
}

fn pubrel(n: u16) -> Step {
    In(Packet::PubRel(Ack::new(id(n))))
}

fn pubcomp(n: u16) -> Step {
    In(Packet::PubComp(Ack::new(id(n))))
}

fn suback(n: u16, codes: &[u8]) -> SubAck {
    let reason_codes = codes.iter().map(|c| ReasonCode(*c)).collect();
    SubAck { packet_id: id(n), reason_codes, properties: AckProperties::default() }
}

fn with_reason(step: Step, reason: u8) -> Step {
    match step {
        In(Packet::PubAck(a)) => In(Packet::PubAck(Ack::with_reason(a.packet_id, ReasonCode(reason)))),
        In(Packet::PubRec(a)) => In(Packet::PubRec(Ack::with_reason(a.packet_id, ReasonCode(reason)))),
        other => other,
    }
}

/// A message of the application's.
fn msg(topic: &str, qos: u8) -> Publish {
    Publish::new(topic, QoS::from_u8(qos).unwrap_or_default(), Bytes::from_static(b"x"))
}

/// A PUBLISH from the server; `n` is its packet identifier at QoS 1 and 2.
fn incoming(topic: &str, qos: u8, n: u16) -> Step {
    let mut p = msg(topic, qos);
    p.packet_id = (qos > 0).then(|| id(n));
    In(Packet::Publish(p))
}

fn with_alias(mut p: Publish, alias: u16) -> Publish {
    p.properties.topic_alias = Some(alias);
    p
}

fn dup(step: Step) -> Step {
    match step {
        In(Packet::Publish(mut p)) => {
            p.dup = true;
            In(Packet::Publish(p))
        }
        other => other,
    }
}

fn v311() -> Run {
    Run::connected(ProtocolVersion::V311, Options::default(), ConnAckProperties::default())
}

fn connack(code: u8, session_present: bool) -> Step {
    In(Packet::ConnAck(ConnAck { session_present, code, properties: ConnAckProperties::default() }))
}
