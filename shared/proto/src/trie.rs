//! A subscription trie: topic filters stored level by level, so finding every filter that matches a topic
//! walks the topic's levels (plus the `+` branches on the way) instead of testing every filter.
//!
//! The trie is generic over what a filter holds (`T`): the broker keeps its subscribers there, the
//! client tools keep handlers. Shared subscriptions are the caller's business: store `$share/g/f` under
//! `f` with the group in `T`.
//!
//! Each node has its literal children in a hash map, a separate `+` child, and the value of `<node>/#`
//! inline (a `#` is always the last level, so it never has children).

use std::collections::HashMap;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Topic filters mapped to values, searchable by topic name.
#[derive(Debug, Clone)]
pub struct TopicTrie<T> {
    root: Node<T>,
    len: usize,
}

#[derive(Debug, Clone)]
struct Node<T> {
    children: Map<Box<str>, Node<T>>,
    plus: Option<Box<Node<T>>>,
    /// Value of the filter ending in `#` at this node.
    hash: Option<T>,
    /// Value of the filter ending exactly at this node.
    value: Option<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node { children: Map::default(), plus: None, hash: None, value: None }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.plus.is_none() && self.hash.is_none() && self.value.is_none()
    }
}

impl<T> Default for TopicTrie<T> {
    fn default() -> Self {
        TopicTrie { root: Node::default(), len: 0 }
    }
}

impl<T> TopicTrie<T> {
    /// An empty trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of filters holding a value.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no filter holds a value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `filter`, created with `T::default()` if absent. `filter` must be valid.
    pub fn entry(&mut self, filter: &str) -> &mut T
    where
        T: Default,
    {
        let mut node = &mut self.root;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            let last = levels.peek().is_none();
            if level == "#" && last {
                return slot(&mut node.hash, &mut self.len);
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Box::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
        }
        slot(&mut node.value, &mut self.len)
    }

    /// The value of `filter`, if any.
    pub fn get(&self, filter: &str) -> Option<&T> {
        let mut node = &self.root;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                return node.hash.as_ref();
            }
            node = if level == "+" { node.plus.as_deref()? } else { node.children.get(level)? };
        }
        node.value.as_ref()
    }

    /// The value of `filter`, mutably, if any.
    pub fn get_mut(&mut self, filter: &str) -> Option<&mut T> {
        let mut node = &mut self.root;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                return node.hash.as_mut();
            }
            node = if level == "+" { node.plus.as_deref_mut()? } else { node.children.get_mut(level)? };
        }
        node.value.as_mut()
    }

    /// Removes `filter` and returns its value; nodes left empty are freed.
    pub fn remove(&mut self, filter: &str) -> Option<T> {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove_at(&mut self.root, &levels);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Calls `f` with the value of every filter that matches `topic`.
    ///
    /// Topics starting with `$` are not matched by filters starting with a wildcard ([MQTT-4.7.2-1]).
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a T)) {
        let dollar = topic.starts_with('$');
        walk(&self.root, Some(topic), !dollar, &mut f);
    }

    /// Calls `f` with every filter and its value (order unspecified).
    pub fn for_each(&self, mut f: impl FnMut(&str, &T)) {
        let mut path = String::new();
        visit(&self.root, &mut path, true, &mut f);
    }
}

fn slot<'a, T: Default>(slot: &'a mut Option<T>, len: &mut usize) -> &'a mut T {
    if slot.is_none() {
        *len += 1;
    }
    slot.get_or_insert_with(T::default)
}

fn remove_at<T>(node: &mut Node<T>, levels: &[&str]) -> Option<T> {
    let (&level, rest) = levels.split_first()?;
    if level == "#" && rest.is_empty() {
        return node.hash.take();
    }
    if level == "+" {
        let child = node.plus.as_deref_mut()?;
        let removed = if rest.is_empty() { child.value.take() } else { remove_at(child, rest) };
        if child.is_empty() {
            node.plus = None;
        }
        removed
    } else {
        let child = node.children.get_mut(level)?;
        let removed = if rest.is_empty() { child.value.take() } else { remove_at(child, rest) };
        if child.is_empty() {
            node.children.remove(level);
        }
        removed
    }
}

/// Visits `node` having consumed the topic up to `rest` (`None`: every level consumed).
/// `wildcards` is false only at the root of a `$` topic.
fn walk<'a, T>(node: &'a Node<T>, rest: Option<&str>, wildcards: bool, f: &mut impl FnMut(&'a T)) {
    if wildcards {
        // `x/#` matches `x` itself and everything below it.
        if let Some(h) = &node.hash {
            f(h);
        }
    }
    let Some(rest) = rest else {
        if let Some(v) = &node.value {
            f(v);
        }
        return;
    };
    let (level, next) = match rest.split_once('/') {
        Some((level, next)) => (level, Some(next)),
        None => (rest, None),
    };
    if let Some(child) = node.children.get(level) {
        walk(child, next, true, f);
    }
    if wildcards && let Some(plus) = node.plus.as_deref() {
        walk(plus, next, true, f);
    }
}

fn visit<T>(node: &Node<T>, path: &mut String, root: bool, f: &mut impl FnMut(&str, &T)) {
    let base = path.len();
    if let Some(v) = &node.value {
        f(path, v);
    }
    let push = |path: &mut String, level: &str| {
        if !root {
            path.push('/');
        }
        path.push_str(level);
    };
    if let Some(h) = &node.hash {
        push(path, "#");
        f(path, h);
        path.truncate(base);
    }
    if let Some(p) = node.plus.as_deref() {
        push(path, "+");
        visit(p, path, false, f);
        path.truncate(base);
    }
    for (level, child) in &node.children {
        push(path, level);
        visit(child, path, false, f);
        path.truncate(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::matches;

    fn matching(trie: &TopicTrie<String>, topic: &str) -> Vec<String> {
        let mut out = Vec::new();
        trie.for_each_match(topic, |v| out.push(v.clone()));
        out.sort();
        out
    }

    #[test]
    fn insert_match_remove() {
        let filters = ["a/b", "a/+", "a/#", "#", "+/b", "$SYS/#", "a/b/c", "/", "a//b", "+", "a/+/c"];
        let mut trie = TopicTrie::new();
        for f in filters {
            *trie.entry(f) = f.to_string();
        }
        assert_eq!(trie.len(), filters.len());
        for topic in ["a/b", "a", "a/b/c", "$SYS/x", "/", "a//b", "b", "$x", "a/x/c", "/b"] {
            let mut want: Vec<String> = filters.iter().filter(|f| matches(f, topic)).map(|f| f.to_string()).collect();
            want.sort();
            assert_eq!(matching(&trie, topic), want, "topic {topic}");
        }
        assert_eq!(trie.remove("a/+").as_deref(), Some("a/+"));
        assert_eq!(trie.remove("a/+"), None);
        assert_eq!(trie.remove("nope/x"), None);
        assert!(!matching(&trie, "a/z").contains(&"a/+".to_string()));
        for f in filters.iter().filter(|f| **f != "a/+") {
            assert!(trie.remove(f).is_some(), "{f}");
        }
        assert!(trie.is_empty());
        assert!(trie.root.is_empty(), "empty nodes are freed");
    }

    #[test]
    fn for_each_lists_filters() {
        let mut trie = TopicTrie::new();
        for f in ["a/b", "a/#", "+/x", "#"] {
            *trie.entry(f) = 1u8;
        }
        let mut seen = Vec::new();
        trie.for_each(|f, _| seen.push(f.to_string()));
        seen.sort();
        assert_eq!(seen, ["#", "+/x", "a/#", "a/b"]);
    }
}
