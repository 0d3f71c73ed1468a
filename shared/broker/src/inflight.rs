//! Outgoing QoS 1/2 deliveries in flight for one session, in send order, with the packet identifiers
//! they use. A client may allow all 65,535 at once (`max_inflight_messages 0`): finding a free id and
//! settling an acknowledgement must then not cost a scan of the whole list per id tried, so past a few
//! dozen entries the ids in use are also kept in a bitmap (8 KiB, dropped again when the list empties).

use std::collections::VecDeque;

use crate::message::Delivery;

/// Entries from which the ids in use are indexed; below it a scan of the list is cheaper.
const INDEX_FROM: usize = 32;
/// Words of the bitmap: one bit per packet id.
const WORDS: usize = 65_536 / 64;

/// A QoS 1 or 2 delivery sent and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Inflight {
    /// Packet identifier used for it.
    pub pid: u16,
    /// What was sent.
    pub delivery: Delivery,
    /// Where the exchange stands.
    pub stage: Stage,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Inflight>() == 32);

/// Progress of an outgoing QoS 1/2 exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// PUBLISH sent (or to be resent); waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published,
    /// PUBREL sent; waiting for PUBCOMP.
    Released,
}

/// The deliveries in flight.
#[derive(Debug, Default)]
pub struct Inflights {
    list: VecDeque<Inflight>,
    /// Payload bytes in `list` (for `max_inflight_bytes`).
    bytes: usize,
    /// Packet ids in use, while the list is long.
    used: Option<Box<[u64; WORDS]>>,
    /// Last packet id handed out.
    last_pid: u16,
}

impl Inflights {
    /// None in flight.
    pub const fn new() -> Inflights {
        Inflights { list: VecDeque::new(), bytes: 0, used: None, last_pid: 0 }
    }

    /// Number of deliveries in flight.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Payload bytes in flight.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The deliveries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Inflight> {
        self.list.iter()
    }

    /// Whether `pid` is in use.
    pub fn contains(&self, pid: u16) -> bool {
        match &self.used {
            Some(bits) => bits.get(usize::from(pid) / 64).is_some_and(|w| w & (1 << (pid % 64)) != 0),
            None => self.list.iter().any(|f| f.pid == pid),
        }
    }

    /// The next free packet identifier after the last one handed out, skipping ids still in flight
    /// ([MQTT-2.2.1-3]); `None` when all 65,535 are in use.
    pub fn next_pid(&mut self) -> Option<u16> {
        if self.list.len() >= usize::from(u16::MAX) {
            return None;
        }
        let start = self.last_pid;
        let pid = match &self.used {
            Some(bits) => next_free(bits, start),
            None => {
                // Fewer than INDEX_FROM ids are taken: at most that many candidates are tried.
                let mut p = start;
                loop {
                    p = p.wrapping_add(1).max(1);
                    if !self.list.iter().any(|f| f.pid == p) {
                        break Some(p);
                    }
                    if p == start {
                        break None;
                    }
                }
            }
        }?;
        self.last_pid = pid;
        Some(pid)
    }

    /// Adds a delivery just sent.
    pub fn push(&mut self, f: Inflight) {
        self.bytes += f.delivery.msg.size();
        if let Some(bits) = &mut self.used {
            set(bits, f.pid, true);
        }
        self.list.push_back(f);
        if self.used.is_none() && self.list.len() >= INDEX_FROM {
            self.reindex();
        }
    }

    /// The position of `pid` at `stage`. Acknowledgements mostly come in order: the search starts at the
    /// oldest entry.
    fn position(&self, pid: u16, stage: Stage) -> Option<usize> {
        if self.used.is_some() && !self.contains(pid) {
            return None;
        }
        self.list.iter().position(|f| f.pid == pid && f.stage == stage)
    }

    /// The entry for `pid`, at whichever stage.
    pub fn get(&self, pid: u16) -> Option<&Inflight> {
        if self.used.is_some() && !self.contains(pid) {
            return None;
        }
        self.list.iter().find(|f| f.pid == pid)
    }

    /// Removes the entry for `pid` at `stage`, returning it.
    pub fn take(&mut self, pid: u16, stage: Stage) -> Option<Inflight> {
        let i = self.position(pid, stage)?;
        let f = self.list.remove(i)?;
        self.forget(&f);
        Some(f)
    }

    /// Moves the entry for `pid` from `from` to `to`; whether it was there.
    pub fn advance(&mut self, pid: u16, from: Stage, to: Stage) -> bool {
        match self.position(pid, from).and_then(|i| self.list.get_mut(i)) {
            Some(f) => {
                f.stage = to;
                true
            }
            None => false,
        }
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&Inflight) -> bool) {
        let before = self.list.len();
        self.list.retain(|f| keep(f));
        if self.list.len() != before {
            self.recount();
        }
    }

    /// Takes every entry out.
    pub fn take_all(&mut self) -> VecDeque<Inflight> {
        let list = std::mem::take(&mut self.list);
        self.recount();
        list
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.list.clear();
        self.recount();
    }

    fn forget(&mut self, f: &Inflight) {
        self.bytes = self.bytes.saturating_sub(f.delivery.msg.size());
        if self.list.is_empty() {
            // An idle session keeps no bitmap.
            self.used = None;
        } else if let Some(bits) = &mut self.used {
            set(bits, f.pid, false);
        }
    }

    /// Recomputes the byte count and the bitmap after a bulk change.
    fn recount(&mut self) {
        self.bytes = self.list.iter().map(|f| f.delivery.msg.size()).sum();
        self.used = None;
        if self.list.len() >= INDEX_FROM {
            self.reindex();
        }
    }

    fn reindex(&mut self) {
        let mut bits = Box::new([0u64; WORDS]);
        for f in &self.list {
            set(&mut bits, f.pid, true);
        }
        self.used = Some(bits);
    }
}

fn set(bits: &mut [u64; WORDS], pid: u16, on: bool) {
    if let Some(w) = bits.get_mut(usize::from(pid) / 64) {
        if on {
            *w |= 1 << (pid % 64);
        } else {
            *w &= !(1 << (pid % 64));
        }
    }
}

/// The first clear bit after `after`, wrapping past 65,535 to 1 (id 0 does not exist): a word at a time.
fn next_free(bits: &[u64; WORDS], after: u16) -> Option<u16> {
    let first = u32::from(after) + 1;
    // Two passes over the words: from `first` to the end, then from 1 up to `first`.
    for (from, to) in [(first, 65_536u32), (1, first)] {
        let mut p = from;
        while p < to {
            let w = bits.get(p as usize / 64).copied().unwrap_or(u64::MAX);
            // Ignore the bits below `p` in its word.
            let free = !w & (u64::MAX << (p % 64));
            if free != 0 {
                let found = (p / 64) * 64 + free.trailing_zeros();
                if found < to {
                    return u16::try_from(found).ok();
                }
                break;
            }
            p = (p / 64 + 1) * 64;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use mq_proto::QoS;

    use super::*;
    use crate::message::Message;

    fn entry(pid: u16) -> Inflight {
        let msg = Arc::new(Message::from_broker("t", Bytes::from_static(b"xy"), QoS::AtLeastOnce, false));
        Inflight { pid, delivery: Delivery::new(msg, QoS::AtLeastOnce, false), stage: Stage::Published }
    }

    fn fill(n: usize) -> Inflights {
        let mut f = Inflights::default();
        for _ in 0..n {
            let pid = f.next_pid().expect("a free id");
            f.push(entry(pid));
        }
        f
    }

    #[test]
    fn ids_are_never_reused_while_in_flight() {
        for n in [1, INDEX_FROM - 1, INDEX_FROM, 1000] {
            let mut f = fill(n);
            assert_eq!(f.len(), n);
            assert_eq!(f.bytes(), 2 * n);
            // Settle every other one, then allocate again: the ids handed out are free ones.
            for pid in (1..=n as u16).step_by(2) {
                assert!(f.take(pid, Stage::Published).is_some());
            }
            for _ in 0..n / 2 {
                let pid = f.next_pid().expect("free");
                assert!(!f.contains(pid), "{pid} reused");
                f.push(entry(pid));
            }
            let mut seen: Vec<u16> = f.iter().map(|e| e.pid).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), f.len());
        }
    }

    #[test]
    fn every_id_in_flight_then_one_settled() {
        let mut f = fill(65_535);
        assert_eq!(f.next_pid(), None);
        // Settle one in the middle and one at each end: each is the only free id, found at once.
        for pid in [30_000u16, 1, 65_535, 12_345] {
            assert!(f.take(pid, Stage::Published).is_some());
            assert_eq!(f.next_pid(), Some(pid));
            f.push(entry(pid));
        }
        assert!(f.advance(7, Stage::Published, Stage::Released));
        assert!(f.take(7, Stage::Published).is_none());
        assert!(f.take(7, Stage::Released).is_some());
        f.clear();
        assert!(f.is_empty() && f.used.is_none() && f.bytes() == 0);
    }

    #[test]
    fn wraps_past_the_last_id() {
        let mut f = Inflights { last_pid: 65_534, ..Default::default() };
        assert_eq!(f.next_pid(), Some(65_535));
        assert_eq!(f.next_pid(), Some(1));
        let mut f = fill(40);
        f.last_pid = 65_535;
        assert_eq!(f.next_pid(), Some(41));
        assert_eq!(next_free(&[u64::MAX; WORDS], 5), None);
    }
}
