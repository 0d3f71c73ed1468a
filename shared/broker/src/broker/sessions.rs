//! Sessions' lives: attaching a connection (resume, clean start, takeover), detaching it, ending and
//! expiring sessions, delayed wills, subscriptions. Their durable changes are recorded by the session
//! methods called here (see [`crate::durable`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mq_proto::{ProtocolVersion, SubscriptionOptions, Will};

use super::Broker;
use crate::kick::{Kick, KickReason};
use crate::log;
use crate::session::{Attaching, Attachment, Expiry, QueueLimits, Session, SessionAccess, SubRecord};
use crate::subs::Subscriber;

/// What a connection asks for when it attaches to its session.
#[derive(Debug)]
pub struct AttachRequest {
    pub client_id: Arc<str>,
    pub clean_start: bool,
    pub expiry: Expiry,
    pub version: ProtocolVersion,
    pub access: SessionAccess,
    pub conn: u64,
    pub kick: Arc<Kick>,
    pub will: Option<Will>,
    /// Queue QoS 0 messages while disconnected even without `queue_qos0_messages`.
    pub queue_qos0: bool,
}

/// The result of attaching.
#[derive(Debug)]
pub struct Attached {
    pub session: Arc<Session>,
    /// A stored session was resumed (CONNACK Session Present).
    pub present: bool,
}

impl Broker {
    /// Attaches a connection to the session of its client id: resumes the stored session unless
    /// clean start asks otherwise or it has expired, and takes it over from a connection still attached
    /// (which is told to stop, once the locks are released).
    pub fn attach(&self, req: AttachRequest) -> Attached {
        let settings = self.settings();
        let now = Instant::now();
        let with = Attaching {
            attachment: Attachment { conn: req.conn, kick: req.kick.clone() },
            version: req.version,
            access: req.access.clone(),
            expiry: req.expiry,
            will: req.will.clone(),
            limits: QueueLimits { queue_qos0: settings.queue.queue_qos0 || req.queue_qos0, ..settings.queue },
        };
        // The client is back: a will waiting for its delay after a session that ended is not sent
        // (Mosquitto cancels it on any connection with the client id).
        self.orphan_wills.lock().retain(|(id, _, _)| **id != *req.client_id);
        let mut map = self.sessions.lock();
        let mut old_ended: Option<Arc<Session>> = None;
        let mut taken_over: Option<(Arc<Kick>, bool)> = None;
        let mut resumed = None;
        if let Some(old) = map.get(&req.client_id).cloned() {
            let mut st = old.state.lock();
            let expired = st.expired(now);
            // A connection still attached with a session that ends with it: the session ends now.
            let ends_with_old = st.attached().is_some() && st.expiry() == Expiry::AtDisconnect;
            let resume = !req.clean_start && !expired && !ends_with_old;
            if let Some(a) = st.take_attachment() {
                taken_over = Some((a.kick, !resume));
            }
            if resume {
                // The old connection's will is dropped when its session goes on (as Mosquitto does); if
                // the session ends, `finish_session` publishes it.
                let dropped = st.resume(&old, with.clone(), self.rec(&old));
                if dropped > 0 {
                    log!(
                        Notice,
                        "Client {} resumed a session holding {dropped} messages it may not read; they were dropped.",
                        req.client_id
                    );
                }
                drop(st);
                resumed = Some(old);
            } else {
                // A clean start ends the session, but the client is back: its delayed will is
                // cancelled all the same, as Mosquitto does.
                st.cancel_delayed_wills(self.rec(&old));
                drop(st);
                map.remove(&req.client_id);
                old_ended = Some(old);
            }
        }
        let present = resumed.is_some();
        let session = resumed.unwrap_or_else(|| {
            let s = Arc::new(Session::new(self.next_id(), req.client_id.clone(), req.version, with.limits));
            s.state.lock().start(&s, with, self.rec(&s));
            map.insert(req.client_id.clone(), s.clone());
            s
        });
        let total = map.len() as u64;
        drop(map);
        if let Some((kick, session_ends)) = taken_over {
            kick.kick(KickReason::TakenOver { session_ends });
        }
        self.max_sessions.fetch_max(total, Ordering::Relaxed);
        if let Some(old) = old_ended {
            self.finish_session(&old);
        }
        Attached { session, present }
    }

    /// Detaches connection `conn` from its session after the connection closed, publishing its will
    /// (`publish_will`: the close was not a normal DISCONNECT) now or after its delay; `expiry` is the
    /// session expiry in force at the close. Does nothing if another connection took the session over.
    pub fn detach(&self, session: &Arc<Session>, conn: u64, publish_will: bool, expiry: Expiry) {
        let now = Instant::now();
        let mut st = session.state.lock();
        if !st.is_attached_to(conn) {
            return;
        }
        let will = st.detach(session, now, publish_will, expiry, self.rec(session));
        // Messages of shared subscriptions not yet acknowledged go to other members.
        let reassign = st.take_shared(self.rec(session));
        // A session that ends now still lets its will wait for its delay, as in Mosquitto.
        let orphan = if expiry == Expiry::AtDisconnect { st.take_pending_will(self.rec(session)) } else { None };
        drop(st);
        if let Some((w, at)) = orphan {
            self.orphan_wills.lock().push((session.client_id.clone(), at, w));
        }
        self.reassign(session.id, reassign);
        if let Some(w) = will {
            self.publish_will(w);
        }
        if expiry == Expiry::AtDisconnect {
            let mut map = self.sessions.lock();
            if map.get(&session.client_id).is_some_and(|s| Arc::ptr_eq(s, session)) {
                map.remove(&session.client_id);
            }
            drop(map);
            self.finish_session(session);
        }
    }

    /// Cleans up a session that ended and is already out of the session map: its subscriptions, its
    /// shared-subscription messages, and its wills.
    fn finish_session(&self, session: &Arc<Session>) {
        let ended = session.state.lock().end(self.rec(session));
        {
            let mut subs = self.subs.write();
            for f in &ended.filters {
                subs.unsubscribe(f, session.id);
            }
        }
        self.reassign(session.id, ended.shared);
        for w in ended.wills {
            self.publish_will(w);
        }
    }

    /// Records a subscription in the table and the session. Returns whether it replaced one.
    pub fn subscribe(&self, session: &Arc<Session>, filter: &str, opts: SubscriptionOptions, id: Option<u32>) -> bool {
        let existed = self.subs.write().subscribe(filter, Subscriber { session: session.clone(), opts, id });
        session.state.lock().subscribe(filter, SubRecord { opts, id }, self.rec(session));
        existed
    }

    /// Removes a subscription. Returns whether it existed.
    pub fn unsubscribe(&self, session: &Arc<Session>, filter: &str) -> bool {
        let removed = self.subs.write().unsubscribe(filter, session.id);
        session.state.lock().unsubscribe(filter, self.rec(session));
        removed
    }

    /// Publishes delayed wills that are due and ends sessions that expired. Run every second.
    pub fn sweep(&self, now: Instant) {
        for s in self.all_sessions() {
            self.sweep_session(&s, now);
        }
        self.sweep_beyond_sessions(now);
    }

    /// The part of a sweep that is not per session: wills of ended sessions that are due, retained
    /// messages that expired.
    pub(crate) fn sweep_beyond_sessions(&self, now: Instant) {
        self.sweep_orphan_wills(now);
        self.purge_retained(now);
    }

    /// Publishes the due wills of sessions that ended before their delay was over.
    fn sweep_orphan_wills(&self, now: Instant) {
        let due: Vec<mq_proto::Will> = {
            let mut wills = self.orphan_wills.lock();
            if wills.is_empty() {
                return;
            }
            let (due, keep) = std::mem::take(&mut *wills).into_iter().partition(|(_, at, _)| *at <= now);
            *wills = keep;
            due.into_iter().map(|(_, _, w)| w).collect::<Vec<_>>()
        };
        for w in due {
            self.publish_will(w);
        }
    }

    /// Publishes the session's will if its delay is over, and ends the session if it expired.
    pub(super) fn sweep_session(&self, s: &Arc<Session>, now: Instant) {
        let mut st = s.state.lock();
        let will = st.take_due_will(now, self.rec(s));
        let expired = st.expired(now);
        drop(st);
        if let Some(w) = will {
            self.publish_will(w);
        }
        if expired {
            let mut map = self.sessions.lock();
            let still_ours = map.get(&s.client_id).is_some_and(|x| Arc::ptr_eq(x, s));
            // Check again under the map lock: a connect may have resumed it meanwhile.
            if still_ours && s.state.lock().expired(now) {
                map.remove(&s.client_id);
                drop(map);
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
                log!(Notice, "Expiring client {}.", s.client_id);
                self.finish_session(s);
            }
        }
    }

    /// Drops retained messages whose expiry passed.
    fn purge_retained(&self, now: Instant) {
        let purged = self.retained.write().purge_expired(now);
        if purged > 0 {
            log!(Debug, "Removed {purged} expired retained messages.");
        }
    }

    /// Publishes the wills of every connected client and every delayed will (shutdown).
    pub fn publish_all_wills(&self) {
        let orphans = std::mem::take(&mut *self.orphan_wills.lock());
        for (_, _, w) in orphans {
            self.publish_will(w);
        }
        for s in self.all_sessions() {
            let wills = s.state.lock().take_wills();
            for w in wills {
                self.publish_will(w);
            }
        }
    }
}
