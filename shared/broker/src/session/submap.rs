//! A session's subscriptions by filter: a short list while there are few (most clients subscribe to a
//! handful of filters, and an idle connection should stay small), a hash map beyond that.

use std::collections::HashMap;

use super::SubRecord;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Entries kept in the list before it becomes a map.
const FEW: usize = 16;

/// Filters as subscribed (including `$share/...`) with their records.
#[derive(Debug)]
pub(crate) enum SubMap {
    /// In subscription order.
    Few(Vec<(Box<str>, SubRecord)>),
    /// Boxed: the map is rare, and the list is what every idle session carries.
    Many(Box<FastMap<Box<str>, SubRecord>>),
}

impl Default for SubMap {
    fn default() -> Self {
        SubMap::Few(Vec::new())
    }
}

impl SubMap {
    /// Sets `filter`'s record; returns the one it replaced.
    pub fn insert(&mut self, filter: &str, record: SubRecord) -> Option<SubRecord> {
        match self {
            SubMap::Few(list) => {
                if let Some((_, r)) = list.iter_mut().find(|(f, _)| &**f == filter) {
                    return Some(std::mem::replace(r, record));
                }
                if list.len() < FEW {
                    if list.capacity() == 0 {
                        // Room for exactly one at first: most sessions never hold more.
                        list.reserve_exact(1);
                    }
                    list.push((filter.into(), record));
                    return None;
                }
                let mut map: Box<FastMap<Box<str>, SubRecord>> = Box::new(list.drain(..).collect());
                map.insert(filter.into(), record);
                *self = SubMap::Many(map);
                None
            }
            SubMap::Many(map) => map.insert(filter.into(), record),
        }
    }

    /// Forgets `filter`; returns its record.
    pub fn remove(&mut self, filter: &str) -> Option<SubRecord> {
        match self {
            SubMap::Few(list) => {
                let i = list.iter().position(|(f, _)| &**f == filter)?;
                Some(list.remove(i).1)
            }
            SubMap::Many(map) => map.remove(filter),
        }
    }

    /// Every filter with its record.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&str, &SubRecord)> + '_> {
        match self {
            SubMap::Few(list) => Box::new(list.iter().map(|(f, r)| (&**f, r))),
            SubMap::Many(map) => Box::new(map.iter().map(|(f, r)| (&**f, r))),
        }
    }

    /// Empties the map, returning its filters.
    pub fn take_filters(&mut self) -> Vec<Box<str>> {
        match std::mem::take(self) {
            SubMap::Few(list) => list.into_iter().map(|(f, _)| f).collect(),
            SubMap::Many(map) => (*map).into_keys().collect(),
        }
    }

    /// Number of filters.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        match self {
            SubMap::Few(list) => list.len(),
            SubMap::Many(map) => map.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_proto::{QoS, SubscriptionOptions};

    fn rec(id: u32) -> SubRecord {
        SubRecord { opts: SubscriptionOptions { qos: QoS::AtLeastOnce, ..Default::default() }, id: Some(id) }
    }

    #[test]
    fn keeps_one_record_per_filter_across_the_switch_to_a_map() {
        let mut m = SubMap::default();
        for i in 0..40u32 {
            assert_eq!(m.insert(&format!("f/{i}"), rec(i)), None);
            assert_eq!(m.insert(&format!("f/{i}"), rec(i + 100)), Some(rec(i)));
            assert_eq!(m.len(), i as usize + 1);
            if i + 1 == FEW as u32 {
                assert!(matches!(m, SubMap::Few(_)));
            }
        }
        assert!(matches!(m, SubMap::Many(_)));
        assert_eq!(m.remove("f/3"), Some(rec(103)));
        assert_eq!(m.remove("f/3"), None);
        let mut seen: Vec<u32> = m.iter().map(|(_, r)| r.id.unwrap() - 100).collect();
        seen.sort();
        assert_eq!(seen, (0..40).filter(|i| *i != 3).collect::<Vec<_>>());
        assert_eq!(m.take_filters().len(), 39);
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn a_short_list_keeps_subscription_order() {
        let mut m = SubMap::default();
        for f in ["c", "a", "b"] {
            m.insert(f, rec(1));
        }
        m.remove("a");
        assert_eq!(m.iter().map(|(f, _)| f).collect::<Vec<_>>(), ["c", "b"]);
    }
}
