//! Large payloads pass through as they arrive (cut-through forwarding).
//!
//! A PUBLISH of at least [`STREAM_AT`] bytes that arrives fast (the connection decides: its first MiB
//! within 50 ms; slower ones are stored whole like any packet) is routed as soon as its head (topic,
//! packet id, properties) is read: subscribers get the PUBLISH header and then the payload piece by
//! piece while the publisher is still sending it, instead of after the broker has stored all of it. A
//! 64 MiB message then takes about one transfer's time to arrive, not two.
//!
//! The payload is read into buffers of [`PIECE`] bytes that a blocking task maps and populates a few
//! ahead of the reader ([`Filler`]): first-touch page faults cost this machine about 0.6 ms per MiB,
//! twice what populating a mapping at once does, and they are then off the reading path. Each buffer
//! full is handed to subscribers as it is (a [`Bytes`] owning the mapping, never copied) and goes back to
//! the system when the last copy of the message is gone. Until the payload is complete:
//! - the publisher's acknowledgement waits (PUBACK/PUBREC go out after the last byte), and a QoS 2
//!   packet id is recorded as received only then;
//! - a retained message is stored only once complete;
//! - a publisher that does not fill a [`PIECE`] within [`STALL_MS`] is disconnected (whatever its
//!   subscribers are sent after this message waits for it);
//! - if the publisher goes away before the end, the message is abandoned: subscribers that were
//!   sending it close their connection (a packet cannot be cut short), queued copies are dropped, and
//!   the publisher's resend (QoS 1 or 2) is routed as a new message.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};

use bytes::Bytes;
use memmap2::{MmapMut, MmapOptions};
use parking_lot::Mutex;

use crate::session::Kick;

/// PUBLISH packets at least this large are passed on while they arrive.
pub const STREAM_AT: usize = 1024 * 1024;

/// Size of the buffers a large payload is read into.
pub const PIECE: usize = 1024 * 1024;
/// A publisher whose large payload is being passed on and that does not fill a [`PIECE`] for this long
/// is disconnected and the message abandoned: its subscribers' other traffic (even PINGRESP) waits
/// behind it.
pub const STALL_MS: u64 = 5000;

/// Buffers prepared ahead of the one being filled.
const AHEAD: usize = 4;

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
        // Once complete, nobody needs waking again.
        let done = st.filled >= self.len;
        wake(&mut st.watchers, done);
    }

    /// The publisher went away: readers stop, and wake to find out.
    pub fn abandon(&self) {
        let mut st = self.state.lock();
        st.abandoned = true;
        // Copies still queued hold nothing.
        st.pieces = Vec::new();
        wake(&mut st.watchers, true);
    }

    /// Whether the publisher went away before the end.
    pub fn is_abandoned(&self) -> bool {
        self.state.lock().abandoned
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

/// Wakes the connections sending a payload (under its lock: a streaming connection is never parked, so
/// a wake is a notification), forgetting them when `last`.
fn wake(watchers: &mut Vec<Arc<Kick>>, last: bool) {
    for w in watchers.iter() {
        w.wake();
    }
    if last {
        *watchers = Vec::new();
    }
}

/// Reads a large payload into buffers prepared ahead, passing each on when full.
#[derive(Debug)]
pub struct Filler {
    payload: Arc<LargePayload>,
    /// Buffers prepared ahead, with their index.
    ready: Receiver<(usize, MmapMut)>,
    /// The buffer being filled and how much of it is.
    cur: Option<(MmapMut, usize)>,
    /// Index of the next buffer to fill.
    next: usize,
    /// Payload bytes not read yet.
    missing: usize,
}

impl Filler {
    /// Reads the `missing` last bytes of `payload`. One blocking task prepares the buffers in order, at
    /// most [`AHEAD`] ahead of the reader (so no more memory is committed than that before its bytes
    /// arrive); it ends with the payload, or when the reader goes.
    pub fn new(payload: Arc<LargePayload>, missing: usize) -> Filler {
        let (tx, ready) = sync_channel(AHEAD);
        let mut left = missing;
        tokio::task::spawn_blocking(move || {
            let mut index = 0;
            while left > 0 {
                let n = left.min(PIECE);
                let Ok(map) = MmapOptions::new().len(n).populate().map_anon() else { return };
                if tx.send((index, map)).is_err() {
                    return;
                }
                index += 1;
                left -= n;
            }
        });
        Filler { payload, ready, cur: None, next: 0, missing }
    }

    /// Where the next bytes go.
    pub fn spare(&mut self) -> io::Result<&mut [u8]> {
        if self.cur.is_none() {
            let n = self.missing.min(PIECE);
            let map = loop {
                match self.ready.try_recv() {
                    Ok((i, map)) if i == self.next => break map,
                    // Made by the reader itself while its task was behind.
                    Ok(_) => continue,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                        break MmapOptions::new().len(n).map_anon()?;
                    }
                }
            };
            self.next += 1;
            self.cur = Some((map, 0));
        }
        match &mut self.cur {
            Some((map, filled)) => Ok(map.get_mut(*filled..).unwrap_or_default()),
            None => Ok(&mut []),
        }
    }

    /// Records `n` bytes read into [`Filler::spare`]; a full buffer goes to the subscribers (and `true`
    /// says so).
    pub fn advance(&mut self, n: usize) -> bool {
        self.missing = self.missing.saturating_sub(n);
        let full = match &mut self.cur {
            Some((map, filled)) => {
                *filled += n;
                *filled >= map.len()
            }
            None => false,
        };
        if full && let Some((map, _)) = self.cur.take() {
            self.payload.push(Bytes::from_owner(map));
            return true;
        }
        false
    }

    /// Whether the whole payload was read.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Payload bytes still to come.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// The payload being filled.
    pub fn payload(&self) -> &Arc<LargePayload> {
        &self.payload
    }
}
