//! The sending side of a session: taking deliveries from the queue within the in-flight window,
//! packet ids, acknowledgements and their stages, and the pace a subscriber keeps.

use super::*;

impl SessionState {
    /// The next delivery that may be sent now: QoS 0 always; QoS 1/2 within the in-flight `window` and
    /// `max_bytes` in flight (0: no limit; a single message larger than the limit still goes out alone).
    /// Taking a QoS 0 delivery is its last change here; a QoS 1/2 one is then either
    /// [`SessionState::sent`] or put back.
    pub(crate) fn next_to_send(&mut self, window: usize, max_bytes: usize, rec: Rec<'_>) -> Option<Delivery> {
        let t = self.traffic.as_deref_mut()?;
        let front = t.queue.front()?;
        if front.qos != QoS::AtMostOnce {
            if t.inflight.len() >= window {
                return None;
            }
            if max_bytes > 0 && !t.inflight.is_empty() && t.inflight.bytes() + front.msg.size() > max_bytes {
                return None;
            }
        }
        let d = t.queue.pop()?;
        if d.qos == QoS::AtMostOnce && d.recorded {
            rec.record(Change::Dequeued { pid: None });
        }
        Some(d)
    }

    /// A QoS 1/2 delivery taken by [`SessionState::next_to_send`] is not sent after all (expired, or
    /// larger than the client accepts): dropped.
    pub(crate) fn not_sent(&mut self, d: &Delivery, rec: Rec<'_>) {
        if d.recorded {
            rec.record(Change::Dequeued { pid: None });
        }
    }

    /// Whether a delivery waits that [`SessionState::next_to_send`] could take with room in `window`.
    pub fn more_to_send(&self, window: usize) -> bool {
        let t = self.tr();
        t.queue.front().is_some_and(|d| d.qos == QoS::AtMostOnce || t.inflight.len() < window)
    }

    /// A packet id for the QoS 1/2 delivery `d` just taken, which is then in flight; `None` (the
    /// delivery is put back) when all 65,535 are in use.
    pub(crate) fn assign_pid(&mut self, d: &Delivery) -> Option<u16> {
        let t = self.tr_mut();
        let pid = t.inflight.next_pid();
        if pid.is_none() {
            t.queue.unpop(d.clone());
        }
        pid
    }

    /// Records a QoS 1/2 delivery as sent with `pid`.
    pub(crate) fn sent(&mut self, pid: u16, delivery: Delivery, rec: Rec<'_>) {
        if delivery.recorded {
            rec.record(Change::Dequeued { pid: Some(pid) });
        } else {
            rec.record(Change::SentDirect { pid, delivery: &delivery });
        }
        self.tr_mut().inflight.push(Inflight { pid, delivery, stage: Stage::Published });
    }

    /// An acknowledgement from the client for the delivery in flight with `pid`, checked against
    /// the flow of that delivery as Mosquitto checks it: PUBACK ends a QoS 1 exchange, PUBREC moves a
    /// QoS 2 one on to PUBREL (again, when it already had), PUBCOMP ends it after PUBREC, a PUBREC
    /// refusing the message ends it before. Any other pairing is [`AckEffect::Wrong`]; an id not in
    /// flight is [`AckEffect::Unknown`].
    pub(crate) fn client_ack(&mut self, ack: ClientAck, pid: u16, rec: Rec<'_>) -> AckEffect {
        let Some(f) = self.tr().inflight.get(pid) else {
            return AckEffect::Unknown;
        };
        let (qos, stage) = (f.delivery.qos, f.stage);
        let awaited = match (qos, stage) {
            (QoS::ExactlyOnce, Stage::Published) => "PUBREC",
            (QoS::ExactlyOnce, Stage::Released) => "PUBCOMP",
            _ => "PUBACK",
        };
        match (ack, qos, stage) {
            (ClientAck::PubAck, QoS::AtLeastOnce, _)
            | (ClientAck::PubRecRefused, QoS::ExactlyOnce, Stage::Published) => {
                self.acknowledged(pid, Stage::Published, rec);
                AckEffect::Ended
            }
            (ClientAck::PubComp, QoS::ExactlyOnce, Stage::Released) => {
                self.acknowledged(pid, Stage::Released, rec);
                AckEffect::Ended
            }
            (ClientAck::PubRec, QoS::ExactlyOnce, Stage::Published) => {
                self.received(pid, rec);
                AckEffect::Released
            }
            // PUBREC again after PUBREL (the client missed it): PUBREL again.
            (ClientAck::PubRec, QoS::ExactlyOnce, Stage::Released) => AckEffect::Released,
            _ => AckEffect::Wrong(awaited),
        }
    }

    /// PUBACK, PUBCOMP, or a PUBREC refusing the message: the exchange for `pid` at `stage` ends.
    pub(crate) fn acknowledged(&mut self, pid: u16, stage: Stage, rec: Rec<'_>) -> Option<Inflight> {
        let f = self.traffic.as_deref_mut()?.inflight.take(pid, stage)?;
        rec.record(Change::Acknowledged { pid, stage });
        Some(f)
    }

    /// PUBREC: the exchange for `pid` moves on to PUBREL; whether it was in flight.
    pub(crate) fn received(&mut self, pid: u16, rec: Rec<'_>) -> bool {
        let found =
            self.traffic.as_deref_mut().is_some_and(|t| t.inflight.advance(pid, Stage::Published, Stage::Released));
        if found {
            rec.record(Change::Received { pid });
        }
        found
    }

    /// A QoS 2 PUBLISH with `pid` arrived; at most `max` may be unreleased (MQTT 5 only, `None`
    /// otherwise).
    pub(crate) fn receive_qos2(&mut self, pid: u16, max: Option<usize>, rec: Rec<'_>) -> Qos2Receipt {
        if self.tr().incoming_qos2.contains(pid) {
            return Qos2Receipt::Duplicate;
        }
        if max.is_some_and(|m| self.tr().incoming_qos2.len() >= m) {
            return Qos2Receipt::TooMany;
        }
        self.tr_mut().incoming_qos2.insert(pid);
        rec.record(Change::Qos2Recorded { pid });
        Qos2Receipt::New
    }

    /// PUBREL for `pid` (or a QoS 2 message refused after all): whether it was recorded.
    pub(crate) fn release_qos2(&mut self, pid: u16, rec: Rec<'_>) -> bool {
        let found = self.traffic.as_deref_mut().is_some_and(|t| t.incoming_qos2.remove(pid));
        if found {
            rec.record(Change::Qos2Released { pid });
        }
        found
    }

    /// Whether publishers of QoS 1/2 messages should wait for this session's queue.
    pub fn congested(&self) -> bool {
        self.tr().queue.congested()
    }

    /// See [`Queue::room_to_resume`].
    pub fn room_to_resume(&self) -> bool {
        self.tr().queue.room_to_resume()
    }

    /// See [`Queue::judge_pace`].
    pub(crate) fn judge_pace(&mut self, now_ms: u64, window_ms: u64) -> Pace {
        self.tr_mut().queue.judge_pace(now_ms, window_ms)
    }
}

/// An acknowledgement a client sends for a delivery (see [`SessionState::client_ack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAck {
    /// PUBACK.
    PubAck,
    /// PUBREC accepting the message (a reason below 0x80).
    PubRec,
    /// PUBREC refusing it (0x80 or above, MQTT 5).
    PubRecRefused,
    /// PUBCOMP.
    PubComp,
}

/// What an acknowledgement did to the delivery it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckEffect {
    /// The exchange ended.
    Ended,
    /// The QoS 2 exchange awaits PUBCOMP: PUBREL is due.
    Released,
    /// No delivery is in flight with this id.
    Unknown,
    /// The id is in flight in another flow or at another step; the packet it awaits.
    Wrong(&'static str),
}
