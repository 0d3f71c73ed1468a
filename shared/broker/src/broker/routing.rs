//! Routing: a message to every matching subscriber's queue (retained first, if flagged), wills, and
//! shared-subscription messages handed to another member.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mq_proto::Will;

use super::Broker;
use crate::durable::Change;
use crate::kick::Kick;
use crate::log;
use crate::message::{Delivery, Message};
use crate::session::{Enqueued, Session};
use crate::settings::Settings;
use crate::stats::Local;
use crate::subs::Hit;

impl Broker {
    /// Stores a retained message (if flagged) and queues the message for every matching subscriber.
    /// Returns how many sessions it was queued for.
    pub fn publish(&self, msg: Arc<Message>, local: &mut Local) -> usize {
        self.publish_flow(msg, &self.settings(), local, None)
    }

    /// Publishes a message the broker makes itself, counting it in the statistics.
    pub fn publish_internal(&self, msg: Message) {
        let mut local = Local::default();
        self.publish(Arc::new(msg), &mut local);
        self.stats.flush(&mut local);
    }

    /// [`Broker::publish`] for connections: with the settings they hold (no lock per message), collecting
    /// congested sessions (see [`Enqueued::Congested`]) for the publisher to wait on.
    pub fn publish_flow(
        &self,
        msg: Arc<Message>,
        settings: &Settings,
        local: &mut Local,
        mut congested: Option<&mut Vec<Arc<Session>>>,
    ) -> usize {
        if msg.retain {
            if self.retained_pending()
                && let Some(touched) = self.retained_loading.lock().as_mut()
            {
                touched.insert(msg.topic.clone());
            }
            // `$SYS` values are the running broker's own: never stored.
            if msg.topic.starts_with("$SYS/") {
            } else if msg.size() == 0 {
                self.durable.record(None, Change::RetainCleared { topic: &msg.topic });
            } else {
                self.durable.record(None, Change::RetainSet { msg: &msg });
            }
            self.retained.write().set(msg.clone());
        }
        let mut wake = Vec::new();
        let mut queued = 0;
        {
            let subs = self.subs.read();
            let mut hits = Vec::new();
            subs.route(&msg.topic, msg.origin, &mut hits);
            for hit in hits {
                let session = congested.is_some().then(|| hit.session.clone());
                match self.deliver(settings, hit, &msg, &mut wake) {
                    Enqueued::Queued => queued += 1,
                    Enqueued::Congested => {
                        queued += 1;
                        if let (Some(list), Some(s)) = (congested.as_deref_mut(), session)
                            && s.id != msg.origin
                            && !list.iter().any(|x| x.id == s.id)
                        {
                            list.push(s);
                        }
                    }
                    Enqueued::Dropped | Enqueued::FirstDrop => local.pub_dropped += 1,
                    Enqueued::Skipped => {}
                }
            }
        }
        wake_all(wake);
        queued
    }

    /// Queues `msg` for one subscriber; a connection to wake goes into `wake`.
    fn deliver(&self, settings: &Settings, hit: Hit<'_>, msg: &Arc<Message>, wake: &mut Vec<Arc<Kick>>) -> Enqueued {
        let qos = if settings.upgrade_outgoing_qos { hit.qos } else { hit.qos.min(msg.qos) };
        let d = Delivery::new(msg.clone(), qos, hit.retain_as_published && msg.retain).routed(hit.sub_ids, hit.shared);
        let (r, kick) = hit.session.enqueue(d, self.rec(hit.session));
        wake.extend(kick);
        if r == Enqueued::FirstDrop {
            log!(Notice, "Outgoing messages are being dropped for client {}.", hit.session.client_id);
            return Enqueued::Dropped;
        }
        r
    }

    /// Sends shared-subscription deliveries taken from session `from` to other members.
    pub(super) fn reassign(&self, from: u64, deliveries: Vec<Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let settings = self.settings();
        let mut wake = Vec::new();
        {
            let subs = self.subs.read();
            for d in deliveries {
                let Some(key) = d.shared().cloned() else { continue };
                if let Some(hit) = subs.reassign(&key, from) {
                    self.deliver(&settings, hit, &d.msg, &mut wake);
                }
            }
        }
        wake_all(wake);
    }

    /// Publishes a will message.
    pub fn publish_will(&self, will: Will) {
        let now = Instant::now();
        let p = will.properties;
        let properties = mq_proto::PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            content_type: p.content_type,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data,
            user_properties: p.user_properties,
            ..Default::default()
        };
        self.publish_internal(
            Message {
                expires_at: p.message_expiry_interval.map(|s| now + Duration::from_secs(s.into())),
                ..Message::from_broker(will.topic, will.payload, will.qos, will.retain)
            }
            .with_properties(properties),
        );
    }
}

/// Wakes connections that have deliveries (after every lock is released: a parked one resumes).
pub(crate) fn wake_all(kicks: Vec<Arc<Kick>>) {
    for k in kicks {
        k.wake();
    }
}
