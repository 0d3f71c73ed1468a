//! A session's queue of deliveries not yet sent: bounded by `max_queued_messages` and
//! `max_queued_bytes`, with flow control for QoS 1/2 and the retained messages owed after a SUBSCRIBE
//! kept apart (they are not cut by the limits).
//!
//! Invariants kept here: `bytes` is the payload size of `pending`; `stalled`, `drop_logged` and the
//! congestion record are cleared when `pending` empties; `drained` only grows.

use std::collections::VecDeque;

use mq_proto::QoS;

use crate::message::Delivery;

/// With `max_queued_messages 0` (no limit), publishers are paused from this many
/// queued messages on.
pub(crate) const UNLIMITED_FLOW_MARK: usize = 1000;

/// Queue limits in force for a session (from `max_queued_messages` and friends).
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Most deliveries waiting beyond the in-flight window; 0 = no limit.
    pub max_messages: usize,
    /// Most payload bytes waiting; 0 = no limit.
    pub max_bytes: usize,
    /// Queue QoS 0 messages for a disconnected persistent session.
    pub queue_qos0: bool,
}

impl QueueLimits {
    /// Deliveries a congested client must take from its queue in each wait of a publisher for it to
    /// be worth waiting for: a tenth of its queue limit (of the flow-control mark without a limit).
    pub fn drain_per_wait(&self) -> u64 {
        let limit = if self.max_messages > 0 { self.max_messages } else { UNLIMITED_FLOW_MARK };
        (limit as u64 / 10).max(1)
    }
}

/// What [`Queue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued for sending.
    Queued,
    /// Queued beyond the limit: the client is draining its queue, so the publisher should pause
    /// reading until there is room instead of the message being dropped.
    Congested,
    /// Dropped: the queue is full.
    Dropped,
    /// Dropped, the first time since the queue last drained (the caller logs it once, as Mosquitto).
    FirstDrop,
    /// Not queued: QoS 0 for a disconnected session, or a message the client may not read.
    Skipped,
}

/// What a publisher waiting for a congested queue should do (see [`Queue::judge_pace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Keep waiting, until this broker time at most before judging again.
    Wait(u64),
    /// The client is not keeping up: it is now stalled; stop waiting for it.
    Stalled,
}

/// The deliveries waiting for a session.
#[derive(Debug)]
pub struct Queue {
    /// Deliveries waiting to be sent, oldest first.
    pending: VecDeque<Delivery>,
    /// Payload bytes in `pending`.
    bytes: usize,
    /// Retained messages owed to the client after its SUBSCRIBEs, sent before `pending` and outside
    /// its limits: a subscription to `#` gets every retained message, paced by the in-flight window
    /// like any delivery. Each entry is a reference to a shared message and a few flags.
    retained: VecDeque<Delivery>,
    /// Limits for `pending`.
    limits: QueueLimits,
    /// Deliveries dropped because the queue was full.
    dropped: u64,
    /// Whether a drop was logged since the queue last had room (Mosquitto logs once per episode).
    drop_logged: bool,
    /// The client is not keeping up: publishers no longer wait for it and what overflows is dropped.
    stalled: bool,
    /// Deliveries taken since the session began (progress, for stall detection).
    drained: u64,
    /// While publishers wait for this queue: since when its pace is being judged (broker ms; 0: not)
    /// and `drained` then. Its pace is judged over all the waits, however short each one is.
    congestion: (u64, u64),
}

impl Queue {
    /// An empty queue with `limits`.
    pub const fn new(limits: QueueLimits) -> Queue {
        Queue {
            pending: VecDeque::new(),
            bytes: 0,
            retained: VecDeque::new(),
            limits,
            dropped: 0,
            drop_logged: false,
            stalled: false,
            drained: 0,
            congestion: (0, 0),
        }
    }

    /// Deliveries waiting (retained messages owed included).
    pub fn len(&self) -> usize {
        self.pending.len() + self.retained.len()
    }

    /// Whether nothing waits and no publisher is waiting on the queue's pace.
    pub fn is_idle(&self) -> bool {
        self.is_empty() && !self.stalled && self.congestion == (0, 0)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.retained.is_empty()
    }

    /// Payload bytes waiting in the queue proper.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Deliveries dropped because the queue was full (or unreadable after a takeover).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Deliveries taken from the queue so far.
    pub fn drained(&self) -> u64 {
        self.drained
    }

    /// The limits in force.
    pub fn limits(&self) -> QueueLimits {
        self.limits
    }

    /// New limits (a reconnect picks up reloaded settings).
    pub fn set_limits(&mut self, limits: QueueLimits) {
        self.limits = limits;
    }

    /// Queues `d` for a client that is `online`, honouring the limits.
    ///
    /// Flow control: when the queue of a connected client that is keeping up is full, a delivery of
    /// any QoS is still queued (up to twice the limit) and [`Enqueued::Congested`] tells the publisher
    /// to pause; a stalled client's overflow (and anything past twice the limit) is dropped, so one
    /// stuck subscriber never holds publishers back for more than a moment.
    pub fn push(&mut self, d: Delivery, online: bool) -> Enqueued {
        self.push_with(d, online, |_| {})
    }

    /// [`Queue::push`], calling `queued` with the delivery if it is queued.
    pub fn push_with(&mut self, d: Delivery, online: bool, queued: impl FnOnce(&Delivery)) -> Enqueued {
        if !online && d.qos == QoS::AtMostOnce && !self.limits.queue_qos0 {
            return Enqueued::Skipped;
        }
        let size = d.msg.size();
        let mut result = Enqueued::Queued;
        // QoS 0 is paced like QoS 1/2 while the client drains (Mosquitto delivers a burst whole, and
        // users count on it); only a stalled client's overflow is dropped.
        let flow = online && !self.stalled;
        if self.over_limit(size) {
            if flow && !self.over_hard_limit(size) {
                result = Enqueued::Congested;
            } else {
                self.dropped += 1;
                if !self.drop_logged {
                    self.drop_logged = true;
                    return Enqueued::FirstDrop;
                }
                return Enqueued::Dropped;
            }
        } else if flow && self.limits.max_messages == 0 && self.pending.len() >= UNLIMITED_FLOW_MARK {
            // Without a queue limit nothing is dropped, but publishers still pace themselves to the
            // subscriber instead of growing its queue without bound.
            result = Enqueued::Congested;
        }
        queued(&d);
        self.bytes += size;
        self.pending.push_back(d);
        result
    }

    /// Adds retained messages owed after a SUBSCRIBE, outside the limits.
    pub fn push_retained(&mut self, deliveries: impl IntoIterator<Item = Delivery>) {
        self.retained.extend(deliveries);
    }

    /// The next delivery to send: retained messages owed first, then the queue.
    pub fn front(&self) -> Option<&Delivery> {
        self.retained.front().or_else(|| self.pending.front())
    }

    /// Takes the delivery [`Queue::front`] shows.
    pub fn pop(&mut self) -> Option<Delivery> {
        if let Some(d) = self.retained.pop_front() {
            self.drained += 1;
            return Some(d);
        }
        let d = self.pending.pop_front()?;
        self.bytes = self.bytes.saturating_sub(d.msg.size());
        self.drained += 1;
        if self.pending.is_empty() {
            self.drop_logged = false;
            self.stalled = false;
            self.congestion = (0, 0);
        }
        Some(d)
    }

    /// Puts back at the front a delivery just taken that could not be sent after all.
    pub fn unpop(&mut self, d: Delivery) {
        self.bytes += d.msg.size();
        self.pending.push_front(d);
    }

    /// Keeps only the deliveries `keep` accepts; returns how many were dropped (counted as drops).
    pub fn retain(&mut self, mut keep: impl FnMut(&Delivery) -> bool) -> usize {
        let before = self.len();
        self.pending.retain(|d| keep(d));
        self.retained.retain(|d| keep(d));
        self.bytes = self.pending.iter().map(|d| d.msg.size()).sum();
        let dropped = before - self.len();
        self.dropped += dropped as u64;
        dropped
    }

    /// Takes the deliveries `take` selects out of the queue proper, in order.
    pub fn take_where(&mut self, mut take: impl FnMut(&Delivery) -> bool) -> Vec<Delivery> {
        if !self.pending.iter().any(&mut take) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut keep = VecDeque::with_capacity(self.pending.len());
        for d in self.pending.drain(..) {
            if take(&d) { out.push(d) } else { keep.push_back(d) }
        }
        self.pending = keep;
        self.bytes = self.pending.iter().map(|d| d.msg.size()).sum();
        out
    }

    /// Empties the queue.
    pub fn clear(&mut self) {
        self.pending.clear();
        self.retained.clear();
        self.bytes = 0;
    }

    /// Whether publishers should wait for this queue: at its limit, or, without a
    /// limit, at the flow-control mark.
    pub fn congested(&self) -> bool {
        self.over_limit(0) || (self.limits.max_messages == 0 && self.pending.len() >= UNLIMITED_FLOW_MARK)
    }

    /// Whether publishers paused by this queue are worth waking: it is below three quarters of the
    /// marks it congests at, so that each wake lets a burst through rather than one message (which
    /// would pause them again at once). Implies not [`Queue::congested`].
    pub fn room_to_resume(&self) -> bool {
        let three_quarters = |limit: usize| limit - limit / 4;
        let count = if self.limits.max_messages > 0 { self.limits.max_messages } else { UNLIMITED_FLOW_MARK };
        self.pending.len() < three_quarters(count)
            && (self.limits.max_bytes == 0 || self.bytes < three_quarters(self.limits.max_bytes))
    }

    /// Whether queueing `extra` more bytes would pass a queue limit.
    fn over_limit(&self, extra: usize) -> bool {
        (self.limits.max_messages > 0 && self.pending.len() >= self.limits.max_messages)
            || (self.limits.max_bytes > 0 && self.bytes + extra > self.limits.max_bytes)
    }

    /// The limit flow control may queue up to: twice the configured one.
    fn over_hard_limit(&self, extra: usize) -> bool {
        (self.limits.max_messages > 0 && self.pending.len() >= 2 * self.limits.max_messages)
            || (self.limits.max_bytes > 0 && self.bytes + extra > 2 * self.limits.max_bytes)
    }

    /// Judges the pace of a congested client for a publisher about to wait for it, at broker time
    /// `now_ms`, over every wait since its congestion began (each may end as soon as one message is
    /// taken): over each `window_ms` it must take [`QueueLimits::drain_per_wait`] deliveries.
    pub fn judge_pace(&mut self, now_ms: u64, window_ms: u64) -> Pace {
        let (since, drained_then) = self.congestion;
        if since == 0 {
            self.congestion = (now_ms.max(1), self.drained);
            return Pace::Wait(now_ms + window_ms);
        }
        if now_ms < since + window_ms {
            return Pace::Wait(since + window_ms);
        }
        if self.drained.saturating_sub(drained_then) >= self.limits.drain_per_wait() {
            self.congestion = (now_ms.max(1), self.drained);
            return Pace::Wait(now_ms + window_ms);
        }
        self.stalled = true;
        self.congestion = (0, 0);
        Pace::Stalled
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::message::Message;

    fn delivery(qos: QoS, payload: &'static [u8]) -> Delivery {
        let msg = Arc::new(Message::from_broker("t", Bytes::from_static(payload), qos, false));
        Delivery::new(msg, qos, false)
    }

    fn limits(max_messages: usize, max_bytes: usize) -> QueueLimits {
        QueueLimits { max_messages, max_bytes, queue_qos0: false }
    }

    #[test]
    fn limits_flow_control_and_drops() {
        let mut q = Queue::new(limits(2, 0));
        let q1 = QoS::AtLeastOnce;
        // (delivery, online) -> outcome, as a table.
        for (qos, online, want) in [
            (QoS::AtMostOnce, false, Enqueued::Skipped),
            (q1, true, Enqueued::Queued),
            (q1, true, Enqueued::Queued),
            (q1, true, Enqueued::Congested),
            // QoS 0 is paced like the rest while the client drains.
            (QoS::AtMostOnce, true, Enqueued::Congested),
            // At twice the limit everything overflows.
            (q1, true, Enqueued::FirstDrop),
            (QoS::AtMostOnce, true, Enqueued::Dropped),
            (q1, false, Enqueued::Dropped),
        ] {
            assert_eq!(q.push(delivery(qos, b"ab"), online), want, "{qos:?} online {online}");
        }
        assert_eq!((q.len(), q.bytes(), q.dropped()), (4, 8, 3));
        assert!(q.congested());
        while q.pop().is_some() {}
        assert!(!q.congested() && q.bytes() == 0 && q.drained() == 4);
        // After draining, the first drop is logged again.
        let mut q = Queue::new(limits(0, 3));
        assert_eq!(q.push(delivery(QoS::AtMostOnce, b"ab"), true), Enqueued::Queued);
        assert_eq!(q.push(delivery(QoS::AtMostOnce, b"ab"), true), Enqueued::Congested);
        assert_eq!(q.push(delivery(QoS::AtMostOnce, b"ab"), true), Enqueued::Congested);
        assert_eq!(q.push(delivery(QoS::AtMostOnce, b"ab"), true), Enqueued::FirstDrop);
        // A stalled client's overflow is dropped at once, whatever its QoS.
        let mut q = Queue::new(limits(1, 0));
        assert_eq!(q.push(delivery(QoS::AtMostOnce, b"ab"), true), Enqueued::Queued);
        assert_eq!(q.judge_pace(1, 100), Pace::Wait(101));
        assert_eq!(q.judge_pace(200, 100), Pace::Stalled);
        assert_eq!(q.push(delivery(QoS::AtMostOnce, b"ab"), true), Enqueued::FirstDrop);
        assert_eq!(q.push(delivery(QoS::AtLeastOnce, b"ab"), true), Enqueued::Dropped);
    }

    #[test]
    fn paused_publishers_resume_well_below_the_mark() {
        let q1 = QoS::AtLeastOnce;
        // Without a limit: congested at the flow mark, room to resume below three quarters of it.
        let mut q = Queue::new(limits(0, 0));
        for _ in 0..UNLIMITED_FLOW_MARK {
            q.push(delivery(q1, b"ab"), true);
        }
        assert!(q.congested() && !q.room_to_resume());
        let resume = UNLIMITED_FLOW_MARK - UNLIMITED_FLOW_MARK / 4;
        while q.len() >= resume {
            assert!(!q.room_to_resume());
            q.pop();
        }
        assert!(q.room_to_resume() && !q.congested());
        // A limit of one: room once empty.
        let mut q = Queue::new(limits(1, 0));
        q.push(delivery(q1, b"ab"), true);
        assert!(q.congested() && !q.room_to_resume());
        q.pop();
        assert!(q.room_to_resume());
        // A byte limit.
        let mut q = Queue::new(limits(0, 8));
        for _ in 0..4 {
            q.push(delivery(q1, b"ab"), true);
        }
        q.pop();
        assert!(!q.room_to_resume(), "6 bytes of 8");
        q.pop();
        assert!(q.room_to_resume(), "4 bytes of 8");
    }

    #[test]
    fn retained_owed_go_first_and_outside_the_limits() {
        let mut q = Queue::new(limits(1, 0));
        assert_eq!(q.push(delivery(QoS::AtLeastOnce, b"live"), true), Enqueued::Queued);
        q.push_retained((0..5).map(|_| delivery(QoS::AtLeastOnce, b"old")));
        assert_eq!(q.len(), 6);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|d| d.msg.payload.clone()).collect();
        assert_eq!(order.len(), 6);
        assert!(order[..5].iter().all(|p| p == "old") && order[5] == "live");
    }

    #[test]
    fn pace_is_judged_over_every_wait() {
        let mut q = Queue::new(limits(100, 0)); // needs 10 per window
        assert_eq!(q.judge_pace(1_000, 100), Pace::Wait(1_100));
        // Short waits in between do not restart the judgement.
        assert_eq!(q.judge_pace(1_050, 100), Pace::Wait(1_100));
        for _ in 0..10 {
            q.push(delivery(QoS::AtLeastOnce, b"x"), true);
            q.pop();
        }
        // Emptied meanwhile: the judgement starts over.
        for _ in 0..3 {
            q.push(delivery(QoS::AtLeastOnce, b"x"), true);
        }
        q.pop();
        assert_eq!(q.judge_pace(1_120, 100), Pace::Wait(1_220));
        // One taken in the next window: too slow.
        assert_eq!(q.judge_pace(1_230, 100), Pace::Stalled);
        // Stalled: its QoS 1 overflow is dropped instead of pausing publishers (2 are queued).
        for _ in 0..98 {
            q.push(delivery(QoS::AtLeastOnce, b"x"), true);
        }
        assert_eq!(q.push(delivery(QoS::AtLeastOnce, b"x"), true), Enqueued::FirstDrop);
    }
}
