//! The subscription table: every filter any session subscribed, in a [`TopicTrie`], with its
//! subscribers and its shared-subscription groups; and routing, which turns a topic into the list of
//! sessions (and options) a message goes to.
//!
//! Routing rules applied here: No Local (MQTT 5 §3.8.3.1), one delivery per client for overlapping
//! subscriptions with the highest QoS and every matching subscription identifier (Mosquitto's default
//! `allow_duplicate_messages false`), and shared subscriptions: each message to one member of a group,
//! round robin among connected members while any is connected (Mosquitto rotates through offline
//! members too and strands messages there).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mq_proto::{QoS, SubscriptionOptions, TopicTrie};
use smallvec::SmallVec;

use crate::session::Session;

/// One session's subscription to one filter.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The subscribing session.
    pub session: Arc<Session>,
    /// Granted options.
    pub opts: SubscriptionOptions,
    /// MQTT 5 subscription identifier.
    pub id: Option<u32>,
}

/// A shared-subscription group on one filter.
#[derive(Debug)]
pub struct SharedGroup {
    /// The full filter as subscribed: `$share/<name>/<filter>`.
    pub key: Arc<str>,
    /// Members in subscription order.
    pub members: SmallVec<[Subscriber; 1]>,
    /// Round-robin position.
    next: AtomicUsize,
}

/// Everything subscribed to one filter.
#[derive(Debug, Default)]
pub struct FilterSubs {
    /// Ordinary subscribers: most filters have one (a device's own topic), held inline.
    pub clients: SmallVec<[Subscriber; 1]>,
    /// Shared-subscription groups.
    pub groups: Vec<SharedGroup>,
}

impl FilterSubs {
    fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.groups.is_empty()
    }
}

/// A session a message goes to, with how. Borrows the session from the table: routing delivers while
/// the table's read lock is held, so no reference count is touched per delivery.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    /// The receiving session.
    pub session: &'a Arc<Session>,
    /// Subscription QoS (the delivery QoS is the minimum of this and the message's).
    pub qos: QoS,
    /// Retain As Published.
    pub retain_as_published: bool,
    /// Subscription identifiers of every matching subscription.
    pub sub_ids: Vec<u32>,
    /// The shared subscription it came through.
    pub shared: Option<Arc<str>>,
}

/// All subscriptions of the broker.
#[derive(Debug, Default)]
pub struct SubTable {
    /// Boxed, so that a trie node costs a pointer for its value: a node per level of every filter, most
    /// of them without subscribers of their own.
    trie: TopicTrie<Box<FilterSubs>>,
    count: usize,
    shared_count: usize,
}

impl SubTable {
    /// Number of subscriptions (ordinary and shared), as `$SYS/broker/subscriptions/count` reports.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Number of shared subscriptions.
    pub fn shared_count(&self) -> usize {
        self.shared_count
    }

    /// Adds or replaces `sub`'s subscription to `filter` (a full filter, possibly `$share/g/f`).
    /// Returns whether the session was already subscribed to it.
    pub fn subscribe(&mut self, filter: &str, sub: Subscriber) -> bool {
        match mq_proto::topic::split_shared(filter) {
            Some(Ok((_, inner))) => {
                let entry = self.trie.entry(inner);
                let group = match entry.groups.iter_mut().position(|g| &*g.key == filter) {
                    Some(i) => &mut entry.groups[i],
                    None => {
                        entry.groups.push(SharedGroup {
                            key: filter.into(),
                            members: SmallVec::new(),
                            next: AtomicUsize::new(0),
                        });
                        let last = entry.groups.len() - 1;
                        &mut entry.groups[last]
                    }
                };
                let existed = replace_or_push(&mut group.members, sub);
                if !existed {
                    self.count += 1;
                    self.shared_count += 1;
                }
                existed
            }
            _ => {
                let existed = replace_or_push(&mut self.trie.entry(filter).clients, sub);
                if !existed {
                    self.count += 1;
                }
                existed
            }
        }
    }

    /// Removes `session`'s subscription to `filter`; returns whether it existed.
    pub fn unsubscribe(&mut self, filter: &str, session: u64) -> bool {
        let (inner, shared) = match mq_proto::topic::split_shared(filter) {
            Some(Ok((_, inner))) => (inner, true),
            _ => (filter, false),
        };
        let Some(entry) = self.trie.get_mut(inner) else {
            return false;
        };
        let removed = if shared {
            let Some(gi) = entry.groups.iter().position(|g| &*g.key == filter) else {
                return false;
            };
            let group = &mut entry.groups[gi];
            let before = group.members.len();
            group.members.retain(|s| s.session.id != session);
            let removed = group.members.len() != before;
            if group.members.is_empty() {
                entry.groups.swap_remove(gi);
            }
            if removed {
                self.shared_count -= 1;
            }
            removed
        } else {
            let before = entry.clients.len();
            entry.clients.retain(|s| s.session.id != session);
            entry.clients.len() != before
        };
        if entry.is_empty() {
            self.trie.remove(inner);
        }
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// Appends to `out` every session `topic` goes to, for a message published by session `origin`.
    pub fn route<'a>(&'a self, topic: &str, origin: u64, out: &mut Vec<Hit<'a>>) {
        let start = out.len();
        let mut entries = 0usize;
        self.trie.for_each_match(topic, |entry| {
            entries += 1;
            for s in &entry.clients {
                if s.opts.no_local && s.session.id == origin {
                    continue;
                }
                out.push(Hit {
                    session: &s.session,
                    qos: s.opts.qos,
                    retain_as_published: s.opts.retain_as_published,
                    sub_ids: s.id.into_iter().collect(),
                    shared: None,
                });
            }
            for g in &entry.groups {
                if let Some(s) = pick_member(g) {
                    out.push(Hit {
                        session: &s.session,
                        qos: s.opts.qos,
                        retain_as_published: s.opts.retain_as_published,
                        sub_ids: s.id.into_iter().collect(),
                        shared: Some(g.key.clone()),
                    });
                }
            }
        });
        // A client matched by several of its own (non-shared) subscriptions gets one copy. Only possible
        // when more than one filter matched.
        if entries > 1 {
            merge_duplicates(out, start);
        }
    }

    /// Picks a member of the shared group `key` to take over a message, preferring connected members
    /// other than `except`.
    pub fn reassign(&self, key: &str, except: u64) -> Option<Hit<'_>> {
        let (_, inner) = mq_proto::topic::split_shared(key)?.ok()?;
        let entry = self.trie.get(inner)?;
        let g = entry.groups.iter().find(|g| &*g.key == key)?;
        let n = g.members.len();
        let start = g.next.fetch_add(1, Ordering::Relaxed);
        let s = (0..n)
            .map(|i| &g.members[(start + i) % n])
            .find(|s| s.session.id != except && s.session.is_online())
            .or_else(|| g.members.iter().find(|s| s.session.id != except))?;
        Some(Hit {
            session: &s.session,
            qos: s.opts.qos,
            retain_as_published: s.opts.retain_as_published,
            sub_ids: s.id.into_iter().collect(),
            shared: Some(g.key.clone()),
        })
    }

    /// Calls `f` with every filter and its subscribers' client ids (for the SIGUSR2 dump).
    pub fn for_each(&self, mut f: impl FnMut(&str, &Subscriber)) {
        self.trie.for_each(|filter, entry| {
            for s in &entry.clients {
                f(filter, s);
            }
            for g in &entry.groups {
                for s in &g.members {
                    f(&g.key, s);
                }
            }
        });
    }
}

fn replace_or_push<A: smallvec::Array<Item = Subscriber>>(list: &mut SmallVec<A>, sub: Subscriber) -> bool {
    match list.iter_mut().find(|s| s.session.id == sub.session.id) {
        Some(existing) => {
            *existing = sub;
            true
        }
        None => {
            list.push(sub);
            false
        }
    }
}

/// Round robin among connected members; when none is connected, the next member in turn (its
/// persistent session queues the message).
fn pick_member(g: &SharedGroup) -> Option<&Subscriber> {
    let n = g.members.len();
    if n == 0 {
        return None;
    }
    let start = g.next.fetch_add(1, Ordering::Relaxed);
    (0..n).map(|i| &g.members[(start + i) % n]).find(|s| s.session.is_online()).or(g.members.get(start % n))
}

/// Merges hits for the same session (outside shared subscriptions) from `start` on: highest QoS, Retain
/// As Published if any asks for it, every subscription identifier.
fn merge_duplicates(out: &mut Vec<Hit<'_>>, start: usize) {
    let tail = &mut out[start..];
    tail.sort_by_key(|h| (h.shared.is_some(), h.session.id));
    let mut write = start;
    for read in start..out.len() {
        let mergeable = write > start && {
            let (prev, cur) = (&out[write - 1], &out[read]);
            prev.shared.is_none() && cur.shared.is_none() && prev.session.id == cur.session.id
        };
        if mergeable {
            let cur = out[read].clone();
            let prev = &mut out[write - 1];
            prev.qos = prev.qos.max(cur.qos);
            prev.retain_as_published |= cur.retain_as_published;
            prev.sub_ids.extend(cur.sub_ids);
        } else {
            out.swap(write, read);
            write += 1;
        }
    }
    out.truncate(write);
}
