//! The state the records describe, rebuilt by applying them in order: what a restart restores, and what
//! compaction writes back as the fewest records.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use bytes::Bytes;

use crate::record::{Entry, Record, Stage};

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One session's durable state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// Lifetime in seconds after disconnecting (0: ends at disconnect, `u32::MAX`: never).
    pub expiry: u32,
    /// When its connection went away (unix ms; 0: it was attached when last recorded).
    pub detached_at: u64,
    /// Protocol version of its last connection.
    pub version: u8,
    /// Subscriptions: filter → (options byte, subscription identifier or 0).
    pub subs: BTreeMap<String, (u8, u32)>,
    /// Messages queued, oldest first.
    pub queue: VecDeque<Entry>,
    /// Messages in flight: packet id, stage, what.
    pub inflight: Vec<(u16, Stage, Entry)>,
    /// QoS 2 ids received and not released.
    pub q2in: Vec<u16>,
    /// A will waiting for its delay: when (unix ms) and what.
    pub will: Option<(u64, Bytes)>,
}

/// Everything the store holds.
#[derive(Debug, Default)]
pub struct State {
    /// Messages by id (their bytes as the broker encoded them).
    pub messages: Map<u64, Bytes>,
    /// Retained messages: topic → message id.
    pub retained: Map<String, u64>,
    /// Retained messages carried whole: topic → message.
    pub retained_msgs: Map<String, Bytes>,
    /// Sessions by client id.
    pub sessions: Map<String, Session>,
    /// Records that referred to something missing (a session or message lost to damage).
    pub orphans: u64,
}

impl State {
    /// Applies one record.
    pub fn apply(&mut self, r: Record) {
        match r {
            Record::Msg { id, blob } => {
                // A copy: the file's buffer is not kept alive by one message.
                self.messages.insert(id, Bytes::copy_from_slice(&blob));
            }
            Record::RetainSet { topic, msg } => {
                self.retained.insert(topic, msg);
            }
            Record::RetainClear { topic } => {
                self.retained.remove(&topic);
                self.retained_msgs.remove(&topic);
            }
            Record::Retain { topic, blob } => {
                self.retained_msgs.insert(topic, Bytes::copy_from_slice(&blob));
            }
            Record::Session { client, expiry, detached_at, version } => {
                let s = self.sessions.entry(client).or_default();
                s.expiry = expiry;
                s.detached_at = detached_at;
                // 0: not said (a disconnect): the last connection's stays.
                if version != 0 {
                    s.version = version;
                }
            }
            Record::SessionEnd { client } => {
                self.sessions.remove(&client);
            }
            other => self.apply_to_session(other),
        }
    }

    fn apply_to_session(&mut self, r: Record) {
        let Some(s) = r.client().and_then(|c| self.sessions.get_mut(c)) else {
            self.orphans += 1;
            return;
        };
        match r {
            Record::Sub { filter, opts, id, .. } => {
                s.subs.insert(filter, (opts, id));
            }
            Record::Unsub { filter, .. } => {
                s.subs.remove(&filter);
            }
            Record::Queue { entry, .. } => s.queue.push_back(entry),
            Record::Dequeue { pid, .. } => {
                if let Some(e) = s.queue.pop_front()
                    && pid != 0
                {
                    s.inflight.push((pid, 1, e));
                }
            }
            Record::Inflight { pid, stage, entry, .. } => s.inflight.push((pid, stage, entry)),
            Record::Ack { pid, stage, .. } => {
                if let Some(i) = s.inflight.iter().position(|(p, st, _)| *p == pid && *st == stage) {
                    s.inflight.remove(i);
                }
            }
            Record::Released { pid, .. } => {
                if let Some(f) = s.inflight.iter_mut().find(|(p, st, _)| *p == pid && *st == 1) {
                    f.1 = 2;
                }
            }
            Record::Q2In { pid, .. } => {
                if !s.q2in.contains(&pid) {
                    s.q2in.push(pid);
                }
            }
            Record::Q2Rel { pid, .. } => s.q2in.retain(|p| *p != pid),
            Record::Will { at, blob, .. } => s.will = Some((at, Bytes::copy_from_slice(&blob))),
            Record::WillClear { .. } => s.will = None,
            Record::Remove { msgs, .. } => {
                for m in msgs {
                    if let Some(i) = s.queue.iter().position(|e| e.msg == m) {
                        s.queue.remove(i);
                    } else if let Some(i) = s.inflight.iter().position(|(_, _, e)| e.msg == m) {
                        s.inflight.remove(i);
                    }
                }
            }
            Record::Msg { .. }
            | Record::RetainSet { .. }
            | Record::RetainClear { .. }
            | Record::Retain { .. }
            | Record::Session { .. }
            | Record::SessionEnd { .. } => {}
        }
    }

    /// The messages something still refers to.
    pub fn live(&self) -> HashSet<u64> {
        let mut live: HashSet<u64> = self.retained.values().copied().collect();
        for s in self.sessions.values() {
            live.extend(s.queue.iter().map(|e| e.msg));
            live.extend(s.inflight.iter().map(|(_, _, e)| e.msg));
        }
        live
    }

    /// Forgets messages nothing refers to any more, and references to messages that are missing.
    pub fn prune(&mut self) {
        let live = self.live();
        self.messages.retain(|id, _| live.contains(id));
        let messages = &self.messages;
        self.retained.retain(|_, id| messages.contains_key(id));
        for s in self.sessions.values_mut() {
            s.queue.retain(|e| messages.contains_key(&e.msg));
            s.inflight.retain(|(_, stage, e)| *stage == 2 || messages.contains_key(&e.msg));
        }
    }

    /// The largest message id in use (new ids continue after it).
    pub fn max_message_id(&self) -> u64 {
        self.messages.keys().copied().max().unwrap_or(0)
    }

    /// The fewest records that rebuild this state: messages first, then retained slots and sessions.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        let msgs = self.messages.iter().map(|(id, blob)| Record::Msg { id: *id, blob: blob.clone() });
        let retained =
            self.retained.iter().map(|(t, id)| Record::RetainSet { topic: t.clone(), msg: *id }).chain(
                self.retained_msgs.iter().map(|(t, blob)| Record::Retain { topic: t.clone(), blob: blob.clone() }),
            );
        let sessions = self.sessions.iter().flat_map(|(c, s)| {
            let client = || c.clone();
            std::iter::once(Record::Session {
                client: client(),
                expiry: s.expiry,
                detached_at: s.detached_at,
                version: s.version,
            })
            .chain(s.subs.iter().map(move |(f, (opts, id))| Record::Sub {
                client: client(),
                filter: f.clone(),
                opts: *opts,
                id: *id,
            }))
            .chain(s.inflight.iter().map(move |(pid, stage, e)| Record::Inflight {
                client: client(),
                pid: *pid,
                stage: *stage,
                entry: e.clone(),
            }))
            .chain(s.queue.iter().map(move |e| Record::Queue { client: client(), entry: e.clone() }))
            .chain(s.q2in.iter().map(move |pid| Record::Q2In { client: client(), pid: *pid }))
            .chain(s.will.iter().map(move |(at, blob)| Record::Will {
                client: client(),
                at: *at,
                blob: blob.clone(),
            }))
        });
        msgs.chain(retained).chain(sessions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(msg: u64) -> Entry {
        Entry { msg, qos: 1, retain: false, sub_ids: vec![], shared: None }
    }

    #[test]
    fn replay_and_compaction_agree() {
        let c = || "c".to_owned();
        let script = vec![
            Record::Msg { id: 1, blob: Bytes::from_static(b"one") },
            Record::Msg { id: 2, blob: Bytes::from_static(b"two") },
            Record::Msg { id: 3, blob: Bytes::from_static(b"three") },
            Record::RetainSet { topic: "r".into(), msg: 1 },
            Record::Session { client: c(), expiry: 60, detached_at: 0, version: 4 },
            Record::Sub { client: c(), filter: "a/#".into(), opts: 1, id: 0 },
            Record::Queue { client: c(), entry: entry(2) },
            Record::Queue { client: c(), entry: entry(3) },
            Record::Dequeue { client: c(), pid: 5 },
            Record::Released { client: c(), pid: 5 },
            Record::Q2In { client: c(), pid: 9 },
            Record::Q2In { client: c(), pid: 10 },
            Record::Q2Rel { client: c(), pid: 9 },
            Record::Session { client: c(), expiry: 60, detached_at: 1234, version: 4 },
            Record::Queue { client: "nobody".into(), entry: entry(3) },
        ];
        let mut state = State::default();
        for r in script {
            state.apply(r);
        }
        assert_eq!(state.orphans, 1);
        let s = &state.sessions["c"];
        assert_eq!(
            (s.detached_at, s.queue.len(), s.inflight.clone(), s.q2in.clone()),
            (1234, 1, vec![(5, 2, entry(2))], vec![10])
        );
        state.prune();
        assert_eq!(state.messages.len(), 3);
        // Rebuilt from its own records, the state is the same.
        let mut again = State::default();
        for r in state.records() {
            again.apply(r);
        }
        assert_eq!(again.sessions, state.sessions);
        assert_eq!(again.retained, state.retained);
        // Acknowledged and cleared: the messages go.
        again.apply(Record::Ack { client: c(), pid: 5, stage: 2 });
        again.apply(Record::Remove { client: c(), msgs: vec![3] });
        again.apply(Record::RetainClear { topic: "r".into() });
        again.prune();
        assert!(again.messages.is_empty());
    }
}
