//! Large payloads pass through as they arrive (cut-through forwarding).
//!
//! A PUBLISH of at least [`STREAM_AT`] bytes is routed as soon as its head (topic, packet id,
//! properties) is read: subscribers get the PUBLISH header and then the payload piece by piece while the
//! publisher is still sending it, instead of after the broker has stored all of it. A 64 MiB message
//! then takes about one transfer's time to arrive, not two.
//!
//! The payload is one buffer of its final size, filled by the publisher's connection and handed out
//! in pieces ([`Bytes`] views of that buffer, never copied). Until it is complete:
//! - the publisher's acknowledgement waits (PUBACK/PUBREC go out after the last byte);
//! - a retained message is stored only once complete;
//! - if the publisher goes away before the end, the message is abandoned: subscribers that were
//!   sending it close their connection (a packet cannot be cut short), queued copies are dropped, and a
//!   QoS 2 packet id is forgotten so that the publisher's resend is routed again.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::session::Kick;

/// PUBLISH packets at least this large are passed on while they arrive.
pub const STREAM_AT: usize = 1024 * 1024;

/// A payload that is still arriving.
#[derive(Debug)]
pub struct LargePayload {
    len: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The pieces received so far, in order.
    pieces: Vec<Bytes>,
    /// Bytes in `pieces`.
    filled: usize,
    /// The publisher went away before the end.
    abandoned: bool,
    /// Connections sending this payload, woken when more arrives.
    watchers: Vec<Arc<Kick>>,
}

/// What a reader of the payload can take now.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More pieces may follow.
    Partial,
    /// The payload is complete.
    Complete,
    /// The publisher went away before the end.
    Abandoned,
}

impl LargePayload {
    /// A payload of `len` bytes, none of them there yet.
    pub fn new(len: usize) -> Arc<LargePayload> {
        Arc::new(LargePayload { len, state: Mutex::new(State::default()) })
    }

    /// Its full length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never, for a payload large enough to stream).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the next piece (publisher side) and wakes the connections sending it.
    pub fn push(&self, piece: Bytes) {
        let mut st = self.state.lock();
        st.filled += piece.len();
        st.pieces.push(piece);
        let complete = st.filled >= self.len;
        let watchers = if complete { std::mem::take(&mut st.watchers) } else { st.watchers.clone() };
        drop(st);
        for w in watchers {
            w.wake();
        }
    }

    /// The publisher went away: readers stop, and wake to find out.
    pub fn abandon(&self) {
        let mut st = self.state.lock();
        st.abandoned = true;
        let watchers = std::mem::take(&mut st.watchers);
        drop(st);
        for w in watchers {
            w.wake();
        }
    }

    /// Whether the publisher went away before the end.
    pub fn is_abandoned(&self) -> bool {
        self.state.lock().abandoned
    }

    /// Whether every byte is there.
    pub fn is_complete(&self) -> bool {
        self.state.lock().filled >= self.len
    }

    /// Hands the pieces from index `from` on to `take`, registering `watcher` to be woken when more
    /// arrive if the payload is not complete yet.
    pub fn take_from(&self, from: usize, watcher: &Arc<Kick>, mut take: impl FnMut(&Bytes)) -> Progress {
        let mut st = self.state.lock();
        for p in st.pieces.iter().skip(from) {
            take(p);
        }
        if st.abandoned {
            return Progress::Abandoned;
        }
        if st.filled >= self.len {
            return Progress::Complete;
        }
        if !st.watchers.iter().any(|w| Arc::ptr_eq(w, watcher)) {
            st.watchers.push(watcher.clone());
        }
        Progress::Partial
    }
}
