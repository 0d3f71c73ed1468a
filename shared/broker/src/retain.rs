//! Retained messages (MQTT §3.3.1.3): the last retained message of each topic, found by subscription
//! filter. Stored in a trie of topic levels walked by the filter, so a subscribe to `a/+/c` visits only
//! the `a` subtree.

use std::collections::HashMap;
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
        let topic = msg.topic.clone();
        if msg.size() == 0 {
            let levels: Vec<&str> = topic.split('/').collect();
            if let Some(old) = remove(&mut self.root, &levels) {
                self.count -= 1;
                self.bytes -= old.size();
            }
            return;
        }
        let mut node = &mut self.root;
        for level in topic.split('/') {
            node = node.children.entry(level.into()).or_default();
        }
        let size = msg.size();
        match node.msg.replace(msg) {
            Some(old) => self.bytes = self.bytes - old.size() + size,
            None => {
                self.count += 1;
                self.bytes += size;
            }
        }
    }

    /// Appends every unexpired retained message matching `filter` to `out`.
    pub fn matching(&self, filter: &str, now: Instant, out: &mut Vec<Arc<Message>>) {
        let levels: Vec<&str> = filter.split('/').collect();
        walk(&self.root, &levels, true, now, out);
    }

    /// Drops expired messages; returns how many.
    pub fn purge_expired(&mut self, now: Instant) -> usize {
        let mut removed = Vec::new();
        purge(&mut self.root, now, &mut removed);
        for m in &removed {
            self.count -= 1;
            self.bytes -= m.size();
        }
        removed.len()
    }
}

fn remove(node: &mut Node, levels: &[&str]) -> Option<Arc<Message>> {
    let Some((first, rest)) = levels.split_first() else {
        return node.msg.take();
    };
    let child = node.children.get_mut(*first)?;
    let removed = remove(child, rest);
    if child.is_empty() {
        node.children.remove(*first);
    }
    removed
}

fn push(node: &Node, now: Instant, out: &mut Vec<Arc<Message>>) {
    if let Some(m) = &node.msg
        && !m.expired(now)
    {
        out.push(m.clone());
    }
}

/// `root` is true at the top level, where wildcards do not match `$` topics ([MQTT-4.7.2-1]).
fn walk(node: &Node, levels: &[&str], root: bool, now: Instant, out: &mut Vec<Arc<Message>>) {
    let Some((first, rest)) = levels.split_first() else {
        push(node, now, out);
        return;
    };
    match *first {
        "#" => {
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
        "+" => {
            for (level, child) in &node.children {
                if !(root && level.starts_with('$')) {
                    walk(child, rest, false, now, out);
                }
            }
        }
        literal => {
            if let Some(child) = node.children.get(literal) {
                walk(child, rest, false, now, out);
            }
        }
    }
}

fn all(node: &Node, now: Instant, out: &mut Vec<Arc<Message>>) {
    push(node, now, out);
    for child in node.children.values() {
        all(child, now, out);
    }
}

fn purge(node: &mut Node, now: Instant, removed: &mut Vec<Arc<Message>>) {
    if node.msg.as_ref().is_some_and(|m| m.expired(now))
        && let Some(m) = node.msg.take()
    {
        removed.push(m);
    }
    node.children.retain(|_, child| {
        purge(child, now, removed);
        !child.is_empty()
    });
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
}
