//! Retained messages (MQTT §3.3.1.3): the last retained message of each topic, found by subscription
//! filter. Stored in a trie of topic levels walked by the filter, so a subscribe to `a/+/c` visits only
//! the `a` subtree.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crate::message::Message;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
struct Node {
    children: Map<Box<str>, Node>,
    msg: Option<Arc<Message>>,
}

impl Node {
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.msg.is_none()
    }
}

/// All retained messages.
#[derive(Debug, Default)]
pub struct RetainStore {
    root: Node,
    count: usize,
    bytes: usize,
    /// The stored messages that expire, by expiry time (and address, to tell them apart): the sweep
    /// takes the due ones from the front instead of walking every retained message.
    expiring: BTreeMap<(Instant, usize), Arc<Message>>,
}

/// A message's key in [`RetainStore::expiring`], when it expires.
fn expiry_key(m: &Arc<Message>) -> Option<(Instant, usize)> {
    m.expires_at.map(|t| (t, Arc::as_ptr(m) as usize))
}

impl RetainStore {
    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Payload bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores `msg` as its topic's retained message, or clears the topic when the payload is empty
    /// ([MQTT-3.3.1-6]).
    pub fn set(&mut self, msg: Arc<Message>) {
        if msg.size() == 0 {
            if let Some(old) = self.remove(&msg.topic, None) {
                self.count -= 1;
                self.bytes -= old.size();
                self.forget_expiry(&old);
            }
            return;
        }
        if let Some(key) = expiry_key(&msg) {
            self.expiring.insert(key, msg.clone());
        }
        let mut node = &mut self.root;
        for level in msg.topic.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        let size = msg.size();
        match node.msg.replace(msg) {
            Some(old) => {
                self.bytes = self.bytes - old.size() + size;
                self.forget_expiry(&old);
            }
            None => {
                self.count += 1;
                self.bytes += size;
            }
        }
    }

    fn forget_expiry(&mut self, m: &Arc<Message>) {
        if let Some(key) = expiry_key(m) {
            self.expiring.remove(&key);
        }
    }

    /// Appends every unexpired retained message matching `filter` to `out`.
    pub fn matching(&self, filter: &str, now: Instant, out: &mut Vec<Arc<Message>>) {
        let levels: Vec<&str> = filter.split('/').collect();
        // (node, index of the filter level to match next). An explicit stack: topics and filters are
        // as deep as clients make them.
        let mut stack: Vec<(&Node, usize)> = vec![(&self.root, 0)];
        while let Some((node, i)) = stack.pop() {
            // At the top level wildcards do not match `$` topics ([MQTT-4.7.2-1]).
            let root = i == 0;
            match levels.get(i).copied() {
                None => push(node, now, out),
                Some("#") => {
                    // `a/#` matches `a` itself and everything below.
                    if !root {
                        push(node, now, out);
                    }
                    for (level, child) in &node.children {
                        if !(root && level.starts_with('$')) {
                            all(child, now, out);
                        }
                    }
                }
                Some("+") => {
                    for (level, child) in &node.children {
                        if !(root && level.starts_with('$')) {
                            stack.push((child, i + 1));
                        }
                    }
                }
                Some(literal) => {
                    if let Some(child) = node.children.get(literal) {
                        stack.push((child, i + 1));
                    }
                }
            }
        }
    }

    /// Drops expired messages; returns how many.
    pub fn purge_expired(&mut self, now: Instant) -> usize {
        let mut expired = Vec::new();
        while let Some(entry) = self.expiring.first_entry() {
            if entry.key().0 > now {
                break;
            }
            expired.push(entry.remove());
        }
        for m in &expired {
            if self.remove(&m.topic, Some(m)).is_some() {
                self.count -= 1;
                self.bytes -= m.size();
            }
        }
        expired.len()
    }

    /// Takes the message stored for `topic` (only if it is `only`, when given) and frees the nodes
    /// left empty, without recursion.
    fn remove(&mut self, topic: &str, only: Option<&Arc<Message>>) -> Option<Arc<Message>> {
        let levels: Vec<&str> = topic.split('/').collect();
        let mut node = &mut self.root;
        for level in &levels {
            node = node.children.get_mut(*level)?;
        }
        if let Some(only) = only
            && !node.msg.as_ref().is_some_and(|m| Arc::ptr_eq(m, only))
        {
            return None;
        }
        let removed = node.msg.take()?;
        // The shallowest node from which on every node along the path holds nothing but the next.
        let mut cut = None;
        let mut node = &self.root;
        for (depth, level) in levels.iter().enumerate() {
            let Some(child) = node.children.get(*level) else { break };
            let only_path = child.msg.is_none()
                && match levels.get(depth + 1) {
                    None => child.children.is_empty(),
                    Some(next) => child.children.len() == 1 && child.children.contains_key(*next),
                };
            if only_path {
                cut.get_or_insert(depth);
            } else {
                cut = None;
            }
            node = child;
        }
        if let Some(depth) = cut {
            let mut parent = &mut self.root;
            for level in &levels[..depth] {
                match parent.children.get_mut(*level) {
                    Some(c) => parent = c,
                    None => return Some(removed),
                }
            }
            parent.children.remove(levels[depth]);
        }
        Some(removed)
    }
}

fn push(node: &Node, now: Instant, out: &mut Vec<Arc<Message>>) {
    if let Some(m) = &node.msg
        && !m.expired(now)
    {
        out.push(m.clone());
    }
}

/// Every message at or below `node`.
fn all(node: &Node, now: Instant, out: &mut Vec<Arc<Message>>) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        push(n, now, out);
        stack.extend(n.children.values());
    }
}

impl Drop for Node {
    /// Frees the subtree without recursion (a topic may be tens of thousands of levels deep).
    fn drop(&mut self) {
        let mut stack: Vec<Node> = self.children.drain().map(|(_, c)| c).collect();
        while let Some(mut n) = stack.pop() {
            stack.extend(n.children.drain().map(|(_, c)| c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mq_proto::QoS;

    fn msg(topic: &str, payload: &'static [u8]) -> Arc<Message> {
        Arc::new(Message::from_broker(topic, Bytes::from_static(payload), QoS::AtMostOnce, true))
    }

    fn topics(store: &RetainStore, filter: &str) -> Vec<String> {
        let mut out = Vec::new();
        store.matching(filter, Instant::now(), &mut out);
        let mut t: Vec<String> = out.iter().map(|m| m.topic.to_string()).collect();
        t.sort();
        t
    }

    #[test]
    fn set_match_clear() {
        let mut s = RetainStore::default();
        for t in ["a", "a/b", "a/b/c", "a/x/c", "$SYS/up", "/lead", "b"] {
            s.set(msg(t, b"v"));
        }
        assert_eq!(s.len(), 7);
        assert_eq!(topics(&s, "#"), ["/lead", "a", "a/b", "a/b/c", "a/x/c", "b"]);
        assert_eq!(topics(&s, "a/#"), ["a", "a/b", "a/b/c", "a/x/c"]);
        assert_eq!(topics(&s, "a/+/c"), ["a/b/c", "a/x/c"]);
        assert_eq!(topics(&s, "+"), ["a", "b"]);
        assert_eq!(topics(&s, "+/lead"), ["/lead"]);
        assert_eq!(topics(&s, "$SYS/#"), ["$SYS/up"]);
        assert_eq!(topics(&s, "a/b"), ["a/b"]);
        s.set(msg("a/b", b""));
        assert_eq!(topics(&s, "a/#"), ["a", "a/b/c", "a/x/c"]);
        assert_eq!(s.len(), 6);
        for t in ["a", "a/b/c", "a/x/c", "$SYS/up", "/lead", "b"] {
            s.set(msg(t, b""));
        }
        assert!(s.is_empty());
        assert!(s.root.is_empty());
        assert_eq!(s.bytes(), 0);
    }

    fn expiring(topic: &str, payload: &'static [u8], at: Instant) -> Arc<Message> {
        let mut m = Message::from_broker(topic, Bytes::from_static(payload), QoS::AtMostOnce, true);
        m.expires_at = Some(at);
        Arc::new(m)
    }

    #[test]
    fn expiry_is_indexed_through_replacement_and_clearing() {
        let mut s = RetainStore::default();
        let t0 = Instant::now();
        let later = |secs| t0 + std::time::Duration::from_secs(secs);
        s.set(expiring("e/1", b"a", later(1)));
        s.set(expiring("e/2", b"b", later(2)));
        s.set(expiring("e/3", b"c", later(3)));
        s.set(msg("keep", b"k"));
        // Replaced by a message that does not expire: its old expiry no longer counts.
        s.set(msg("e/2", b"b2"));
        // Replaced by one that expires later: only the new time counts.
        s.set(expiring("e/3", b"c2", later(10)));
        // Cleared: gone from the index too.
        s.set(expiring("e/4", b"d", later(1)));
        s.set(msg("e/4", b""));
        assert_eq!(s.expiring.len(), 2);
        assert_eq!(s.purge_expired(later(5)), 1);
        assert_eq!(topics(&s, "#"), ["e/2", "e/3", "keep"]);
        assert_eq!(s.purge_expired(later(9)), 0);
        assert_eq!(s.purge_expired(later(10)), 1);
        assert_eq!(topics(&s, "#"), ["e/2", "keep"]);
        assert!(s.expiring.is_empty());
        assert_eq!(s.len(), 2);
        assert_eq!(s.bytes(), 3);
    }

    #[test]
    fn deep_topics_need_no_deep_stack() {
        // 65,535 levels: a recursive walk, removal, purge or drop would overflow a test thread's stack.
        let mut s = RetainStore::default();
        let deep = "/".repeat(65_534);
        let deeper = format!("{}x", "x/".repeat(65_534));
        s.set(msg(&deep, b"v"));
        s.set(msg(&deeper, b"w"));
        s.set(msg("x", b"top"));
        assert_eq!(topics(&s, &deep), std::slice::from_ref(&deep));
        assert_eq!(topics(&s, "#").len(), 3);
        assert_eq!(topics(&s, &format!("{}#", "+/".repeat(100))).len(), 2);
        assert_eq!(s.purge_expired(Instant::now()), 0);
        s.set(msg(&deep, b""));
        assert_eq!(s.len(), 2);
        assert_eq!(topics(&s, "#").len(), 2);
        let mut expiring = Message::from_broker(deep.as_str(), Bytes::from_static(b"e"), QoS::AtMostOnce, true);
        expiring.expires_at = Some(Instant::now());
        s.set(Arc::new(expiring));
        assert_eq!(s.purge_expired(Instant::now() + std::time::Duration::from_secs(1)), 1);
        assert_eq!(s.len(), 2);
        assert!(!s.root.children.contains_key(""));
        drop(s);
    }
}
