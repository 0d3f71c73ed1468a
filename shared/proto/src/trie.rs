//! A subscription trie: topic filters stored level by level, so finding every filter that matches a topic
//! walks the topic's levels (plus the `+` branches on the way) instead of testing every filter.
//!
//! The trie is generic over what a filter holds (`T`): the broker keeps its subscribers there, the
//! client tools keep handlers. Shared subscriptions are the caller's business: store `$share/g/f` under
//! `f` with the group in `T`.
//!
//! Each node has its literal children in a hash map (boxed, and only once it has some: most nodes are
//! the last level of a filter, and a node is held inline in its parent's map), a separate `+` child,
//! and the value of `<node>/#` inline (a `#` is always the last level, so it never has children).

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
    children: Children<T>,
    plus: Option<Box<Node<T>>>,
    /// Value of the filter ending in `#` at this node.
    hash: Option<T>,
    /// Value of the filter ending exactly at this node.
    value: Option<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node { children: Children(None), plus: None, hash: None, value: None }
    }
}

/// A node's literal children by level: no map at all while there are none.
#[derive(Debug, Clone)]
struct Children<T>(Option<Box<Map<Box<str>, Node<T>>>>);

impl<T> Children<T> {
    fn get(&self, level: &str) -> Option<&Node<T>> {
        self.0.as_ref()?.get(level)
    }

    fn get_mut(&mut self, level: &str) -> Option<&mut Node<T>> {
        self.0.as_mut()?.get_mut(level)
    }

    /// The child for `level`, created empty if absent.
    fn entry(&mut self, level: &str) -> &mut Node<T> {
        self.0.get_or_insert_with(Box::default).entry(level.into()).or_default()
    }

    /// Removes the child for `level`; the map goes with the last one.
    fn remove(&mut self, level: &str) {
        if let Some(map) = &mut self.0 {
            map.remove(level);
            if map.is_empty() {
                self.0 = None;
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.is_empty())
    }

    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    fn contains_key(&self, level: &str) -> bool {
        self.get(level).is_some()
    }

    fn iter(&self) -> impl Iterator<Item = (&Box<str>, &Node<T>)> {
        self.0.iter().flat_map(|m| m.iter())
    }

    /// Takes every child out.
    fn take_all(&mut self) -> impl Iterator<Item = Node<T>> + use<T> {
        self.0.take().into_iter().flat_map(|m| m.into_values())
    }
}

impl<T> Node<T> {
    #[cfg(test)]
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
            node = if level == "+" { node.plus.get_or_insert_with(Box::default) } else { node.children.entry(level) };
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
        let mut levels: Vec<&str> = filter.split('/').collect();
        // `x/#` lives in the `hash` slot of `x`'s node; any other filter in the `value` slot of its own.
        let hash = levels.last() == Some(&"#");
        if hash {
            levels.pop();
        }
        let node = descend_mut(&mut self.root, &levels)?;
        let removed = if hash { node.hash.take() } else { node.value.take() }?;
        self.len -= 1;
        // Free the nodes the removal left empty: the deepest chain of nodes, along the filter's path,
        // that hold nothing but the next node of that chain. Found from the top without recursion (a
        // client chooses how deep a filter goes).
        let mut cut = None;
        let mut node = &self.root;
        for (depth, level) in levels.iter().enumerate() {
            let Some(child) = child(node, level) else { break };
            let only_path = |n: &Node<T>, next: Option<&str>| {
                n.value.is_none()
                    && n.hash.is_none()
                    && match next {
                        None => n.children.is_empty() && n.plus.is_none(),
                        Some("+") => n.children.is_empty(),
                        Some(l) => n.plus.is_none() && n.children.len() == 1 && n.children.contains_key(l),
                    }
            };
            if only_path(child, levels.get(depth + 1).copied()) {
                cut.get_or_insert(depth);
            } else {
                cut = None;
            }
            node = child;
        }
        if let Some(depth) = cut
            && let (Some(path), Some(&level)) = (levels.get(..depth), levels.get(depth))
            && let Some(parent) = descend_mut(&mut self.root, path)
        {
            // Dropping the chain does not recurse either (see `Drop for Node`).
            if level == "+" {
                parent.plus = None;
            } else {
                parent.children.remove(level);
            }
        }
        Some(removed)
    }

    /// Calls `f` with the value of every filter that matches `topic`.
    ///
    /// Topics starting with `$` are not matched by filters starting with a wildcard ([MQTT-4.7.2-1]).
    pub fn for_each_match<'a>(&'a self, topic: &str, mut f: impl FnMut(&'a T)) {
        // (node, the topic's levels not consumed yet (`None`: all consumed), wildcards allowed here).
        // An explicit stack: the topic's depth is the client's choice.
        let mut stack: Vec<(&'a Node<T>, Option<&str>, bool)> =
            vec![(&self.root, Some(topic), !topic.starts_with('$'))];
        while let Some((node, rest, wildcards)) = stack.pop() {
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
                continue;
            };
            let (level, next) = match rest.split_once('/') {
                Some((level, next)) => (level, Some(next)),
                None => (rest, None),
            };
            if wildcards && let Some(plus) = node.plus.as_deref() {
                stack.push((plus, next, true));
            }
            if let Some(child) = node.children.get(level) {
                stack.push((child, next, true));
            }
        }
    }

    /// Calls `f` with every filter and its value (order unspecified).
    pub fn for_each(&self, mut f: impl FnMut(&str, &T)) {
        let mut stack: Vec<(&Node<T>, String)> = vec![(&self.root, String::new())];
        while let Some((node, path)) = stack.pop() {
            let join = |level: &str| {
                if path.is_empty() && std::ptr::eq(node, &self.root) {
                    level.to_owned()
                } else {
                    format!("{path}/{level}")
                }
            };
            if let Some(v) = &node.value {
                f(&path, v);
            }
            if let Some(h) = &node.hash {
                f(&join("#"), h);
            }
            if let Some(p) = node.plus.as_deref() {
                stack.push((p, join("+")));
            }
            for (level, child) in node.children.iter() {
                stack.push((child, join(level)));
            }
        }
    }
}

/// The node at the end of `levels` (no `#`), if it exists.
fn descend_mut<'a, T>(mut node: &'a mut Node<T>, levels: &[&str]) -> Option<&'a mut Node<T>> {
    for level in levels {
        node = if *level == "+" { node.plus.as_deref_mut()? } else { node.children.get_mut(level)? };
    }
    Some(node)
}

/// The child of `node` for one filter level.
fn child<'a, T>(node: &'a Node<T>, level: &str) -> Option<&'a Node<T>> {
    if level == "+" { node.plus.as_deref() } else { node.children.get(level) }
}

fn slot<'a, T: Default>(slot: &'a mut Option<T>, len: &mut usize) -> &'a mut T {
    if slot.is_none() {
        *len += 1;
    }
    slot.get_or_insert_with(T::default)
}

impl<T> Drop for Node<T> {
    /// Frees the subtree without recursion: a chain of nodes as deep as a client's filter would
    /// otherwise be dropped one stack frame per level.
    fn drop(&mut self) {
        let mut stack: Vec<Node<T>> = Vec::new();
        let detach = |n: &mut Node<T>, stack: &mut Vec<Node<T>>| {
            stack.extend(n.children.take_all());
            if let Some(p) = n.plus.take() {
                stack.push(*p);
            }
        };
        detach(self, &mut stack);
        while let Some(mut n) = stack.pop() {
            detach(&mut n, &mut stack);
            // `n` drops here with no children left.
        }
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
    fn deep_filters_need_no_deep_stack() {
        // 65,535 levels: a recursive walk, removal or drop would overflow a test thread's stack.
        let deep = "/".repeat(65_534);
        let deep_hash = format!("{}#", "x/".repeat(65_534));
        let deep_plus = format!("{}x", "+/".repeat(65_534));
        let mut trie = TopicTrie::new();
        for f in [deep.as_str(), deep_hash.as_str(), deep_plus.as_str(), "#", "x/#"] {
            *trie.entry(f) = f.to_owned();
        }
        assert_eq!(matching(&trie, &deep), ["#".to_owned(), deep.clone()]);
        let topic = format!("{}x", "x/".repeat(65_534));
        let mut want = vec![deep_hash.clone(), deep_plus.clone(), "#".to_owned(), "x/#".to_owned()];
        want.sort();
        assert_eq!(matching(&trie, &topic), want);
        let mut n = 0;
        trie.for_each(|_, _| n += 1);
        assert_eq!(n, 5);
        assert_eq!(trie.remove(&deep).as_deref(), Some(deep.as_str()));
        assert_eq!(trie.remove(&deep_plus).as_deref(), Some(deep_plus.as_str()));
        assert_eq!(trie.len(), 3);
        assert_eq!(matching(&trie, &deep), ["#"]);
        // Dropped with a deep chain still in it.
        drop(trie);
    }

    #[test]
    fn removal_frees_only_what_it_emptied() {
        let mut trie = TopicTrie::new();
        for f in ["a/b/c/d", "a/b", "a/+/c", "a/b/#"] {
            *trie.entry(f) = 1u8;
        }
        assert_eq!(trie.remove("a/b/c/d"), Some(1));
        // `a/b` keeps its value and its `#`; the `c/d` chain is gone.
        let a = |t: &TopicTrie<u8>| t.root.children.get("a").expect("a").clone();
        let b = a(&trie).children.get("b").expect("b").clone();
        assert!(b.children.is_empty());
        // A node without children keeps no map.
        assert!(b.children.0.is_none());
        assert_eq!(trie.remove("a/b/#"), Some(1));
        assert_eq!(trie.remove("a/b"), Some(1));
        assert!(a(&trie).children.0.is_none());
        assert!(a(&trie).plus.is_some());
        assert_eq!(trie.remove("a/+/c"), Some(1));
        assert!(trie.root.is_empty());
        assert!(trie.root.children.0.is_none());
    }

    #[test]
    fn a_node_is_four_pointers() {
        // A node is held inline in its parent's map: one per level of every filter.
        assert_eq!(std::mem::size_of::<Node<Box<u8>>>(), 4 * std::mem::size_of::<usize>());
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
