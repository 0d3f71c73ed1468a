//! What a broker restart must restore, and where it changes.
//!
//! Durable state is the sessions (their existence and lifetime, subscriptions, queued and in-flight
//! messages, QoS 2 ids received, delayed wills) and the retained messages. Every change to it is made
//! by one of a few methods, each of which reports it here as a [`Change`] to the broker's [`Durable`]
//! store before it takes effect for anyone else:
//! - [`crate::session::SessionState`]'s methods that take a [`Rec`]: a session started, resumed,
//!   detached or ended; a subscription added or removed; a message queued, sent with a packet id,
//!   acknowledged or released; a QoS 2 id recorded or released; a will delayed;
//! - [`crate::broker::Broker::publish_flow`]: a retained message set or cleared.
//!
//! The subscription table and routing are rebuilt from the sessions, so they are not reported. With
//! persistence off the store is [`Volatile`], which keeps nothing.

use std::sync::Arc;
use std::time::Instant;

use mq_proto::{ProtocolVersion, Will};

use crate::message::{Delivery, Message};
use crate::session::{Expiry, Stage, SubRecord};

/// A change to durable state.
#[derive(Debug)]
pub enum Change<'a> {
    /// A session was created for a connection.
    SessionStarted { expiry: Expiry, version: ProtocolVersion },
    /// A connection resumed the session.
    SessionResumed { expiry: Expiry, version: ProtocolVersion },
    /// The connection went away; the session lives on for `expiry`.
    SessionDetached { expiry: Expiry },
    /// The session ended (clean start, expiry, takeover of a session that ends).
    SessionEnded,
    /// A subscription was added or replaced.
    Subscribed { filter: &'a str, record: SubRecord },
    /// A subscription was removed.
    Unsubscribed { filter: &'a str },
    /// A message was queued for the session.
    Queued { delivery: &'a Delivery },
    /// Recorded messages left the queue or the in-flight window out of order: dropped (no longer
    /// readable by the session's identity) or handed to another member of a shared subscription.
    Removed { msgs: &'a [Arc<Message>] },
    /// The oldest recorded message left the queue: in flight with packet id `pid` (QoS 1/2), or gone
    /// (QoS 0 sent, expired, larger than the client accepts).
    Dequeued { pid: Option<u16> },
    /// A message not recorded as queued (a retained message owed after SUBSCRIBE) went in flight.
    SentDirect { pid: u16, delivery: &'a Delivery },
    /// The exchange for `pid` at `stage` ended (PUBACK, PUBCOMP, or a refusing PUBREC).
    Acknowledged { pid: u16, stage: Stage },
    /// PUBREC: the exchange for `pid` waits for PUBCOMP.
    Received { pid: u16 },
    /// A QoS 2 PUBLISH with `pid` was received and routed (its id is kept until PUBREL).
    Qos2Recorded { pid: u16 },
    /// PUBREL for `pid`.
    Qos2Released { pid: u16 },
    /// A will waits for its delay, to be published at `at`.
    WillDelayed { will: &'a Will, at: Instant },
    /// The waiting will is gone (published, or cancelled by a reconnect).
    WillCleared,
    /// A retained message was stored.
    RetainSet { msg: &'a Arc<Message> },
    /// The retained message of a topic was cleared.
    RetainCleared { topic: &'a str },
}

/// Where changes stand in the store: appended or written so far, in its two journals (sessions, and
/// retained messages). `u64::MAX` in both: nothing to wait for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    /// In the sessions' journal.
    pub sessions: u64,
    /// In the retained messages' journal.
    pub retained: u64,
}

impl Pos {
    /// Nothing to wait for.
    pub const ALL: Pos = Pos { sessions: u64::MAX, retained: u64::MAX };

    /// Whether everything up to `other` is within this position.
    pub fn covers(self, other: Pos) -> bool {
        self.sessions >= other.sessions && self.retained >= other.retained
    }
}

/// Where durable changes go: the persistence layer, or nowhere.
///
/// Changes are appended at increasing positions; what depends on a change (an acknowledgement) goes
/// out only once [`Durable::written`] has reached [`Durable::appended`] as it was after the change.
pub trait Durable: Send + Sync + std::fmt::Debug {
    /// Records `change` to the session of `client_id` (`None` for retained messages).
    fn record(&self, client_id: Option<&str>, change: Change<'_>);

    /// Position after the last change appended.
    fn appended(&self) -> Pos {
        Pos::default()
    }

    /// Position up to which changes are stored (a killed broker keeps them).
    fn written(&self) -> Pos {
        Pos::ALL
    }

    /// Notified each time [`Durable::written`] moves (`None`: it never has to be waited for).
    fn written_notify(&self) -> Option<&tokio::sync::Notify> {
        None
    }

    /// Whether changes cannot be stored now (a full disk): new messages needing storage are refused.
    fn is_full(&self) -> bool {
        false
    }
}

/// Persistence off: nothing is kept.
#[derive(Debug, Default)]
pub struct Volatile;

impl Durable for Volatile {
    fn record(&self, _: Option<&str>, _: Change<'_>) {}
}

/// The store and the session a change belongs to, handed to the methods that make changes. Only
/// sessions that outlive their connection are recorded (`on`).
#[derive(Clone, Copy)]
pub struct Rec<'a> {
    store: &'a dyn Durable,
    client_id: &'a str,
    on: bool,
}

impl<'a> Rec<'a> {
    /// Changes to the session of `client_id`, recorded in `store` when `on`.
    pub fn new(store: &'a dyn Durable, client_id: &'a str, on: bool) -> Rec<'a> {
        Rec { store, client_id, on }
    }

    /// The same, recording from now on (a session that has just become one to keep).
    pub fn on(self) -> Rec<'a> {
        Rec { on: true, ..self }
    }

    /// Whether changes are recorded.
    pub fn is_on(self) -> bool {
        self.on
    }

    /// Records one change.
    pub fn record(self, change: Change<'_>) {
        if self.on {
            self.store.record(Some(self.client_id), change);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use mq_proto::{ProtocolVersion, QoS, SubscriptionOptions};
    use parking_lot::{Mutex, RwLock};

    use super::*;
    use crate::auth::Security;
    use crate::broker::{AttachRequest, Broker};
    use crate::kick::Kick;
    use crate::session::{Expiry, SessionAccess};
    use crate::settings::Settings;

    /// A store that remembers what it was told, as text.
    #[derive(Debug, Default)]
    pub(crate) struct Log(pub Mutex<Vec<String>>);

    impl Durable for Log {
        fn record(&self, client_id: Option<&str>, change: Change<'_>) {
            let what = match change {
                Change::Queued { delivery } => format!("Queued {}", delivery.msg.topic),
                Change::RetainSet { msg } => format!("RetainSet {}", msg.topic),
                other => format!("{other:?}"),
            };
            self.0.lock().push(format!("{}: {what}", client_id.unwrap_or("-")));
        }
    }

    #[test]
    fn every_durable_change_is_recorded() {
        let log = Arc::new(Log::default());
        let broker = Broker::with_store(Settings::from_config(&mq_config::Config::local_only()), log.clone());
        let (security, _) = Security::load(true, true, "auto-", None, None).expect("security");
        let access = SessionAccess { security: Arc::new(RwLock::new(Arc::new(security))), acl: None, username: None };
        let attach = |clean| AttachRequest {
            client_id: "c".into(),
            clean_start: clean,
            expiry: Expiry::Never,
            version: ProtocolVersion::V311,
            access: access.clone(),
            conn: broker.next_id(),
            kick: Kick::new(60, 0),
            will: None,
            queue_qos0: false,
        };
        let req = attach(true);
        let conn = req.conn;
        let session = broker.attach(req).session;
        let opts = SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() };
        broker.subscribe(&session, "t/#", opts, None);
        let mut local = crate::stats::Local::default();
        let msg = |retain| Arc::new(Message::from_broker("t/x", Bytes::from_static(b"m"), QoS::AtLeastOnce, retain));
        broker.publish(msg(true), &mut local);
        {
            let rec = broker.rec(&session);
            let mut st = session.state.lock();
            let d = st.next_to_send(10, 0, rec).expect("queued");
            let pid = st.assign_pid(&d).expect("pid");
            st.sent(pid, d, rec);
            assert!(st.acknowledged(pid, crate::session::Stage::Published, rec).is_some());
            assert_eq!(st.receive_qos2(7, None, rec), crate::session::Qos2Receipt::New);
            assert!(st.release_qos2(7, rec));
        }
        broker.unsubscribe(&session, "t/#");
        broker.detach(&session, conn, false, Expiry::Never);
        let again = broker.attach(attach(false));
        assert!(again.present);
        broker.sweep(Instant::now());
        let got = log.0.lock().clone();
        assert_eq!(
            got,
            [
                "c: SessionStarted { expiry: Never, version: V311 }",
                "c: Subscribed { filter: \"t/#\", record: SubRecord { opts: SubscriptionOptions { qos: AtLeastOnce, no_local: false, retain_as_published: false, retain_handling: SendAtSubscribe }, id: None } }",
                "-: RetainSet t/x",
                "c: Queued t/x",
                "c: Dequeued { pid: Some(1) }",
                "c: Acknowledged { pid: 1, stage: Published }",
                "c: Qos2Recorded { pid: 7 }",
                "c: Qos2Released { pid: 7 }",
                "c: Unsubscribed { filter: \"t/#\" }",
                "c: SessionDetached { expiry: Never }",
                "c: SessionResumed { expiry: Never, version: V311 }",
            ]
        );
    }
}
