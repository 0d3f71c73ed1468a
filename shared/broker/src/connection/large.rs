//! Large PUBLISH payloads: read into pieces as they arrive, routed once complete.
//!
//! A PUBLISH of at least [`LARGE_AT`] bytes is not gathered in the connection's read buffer (which would
//! grow, and be copied, to the size the packet declares). Once its head (topic, packet id, properties)
//! is read, the payload goes into pieces of [`PIECE`] bytes, each mapped when the bytes for it arrive, so
//! the broker holds what the client actually sent and never what it merely declares. When the last byte
//! is in, the message is routed like any other: every subscriber's copy shares the pieces (written with
//! vectored writes, never copied) and they go back to the system when the last copy is gone.
//!
//! Store and forward, as Mosquitto does: subscribers see nothing of a message until all of it is there.
//! A publisher that uploads slowly, stalls or goes away mid-payload therefore costs its subscribers
//! nothing: their other traffic (PINGRESP included) never waits behind a message still arriving, and a
//! message never completed is never delivered to anyone.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use memmap2::{MmapMut, MmapOptions};
use mq_proto::{FixedHeader, Publish};

use super::{Close, Conn};
use crate::message::Pieces;

/// PUBLISH packets at least this large are read into pieces.
pub const LARGE_AT: usize = 1024 * 1024;

/// Size of the pieces a large payload is read into.
pub const PIECE: usize = 1024 * 1024;

/// Pieces kept mapped and populated ahead, for all uploads together.
const PREPARED: usize = 8;
/// The prepared pieces are given back to the system after this long without a large upload.
const PREPARED_IDLE: Duration = Duration::from_secs(5);

/// Pieces mapped and populated ahead by one thread of the broker's (started with the first large
/// upload), so the connections reading large payloads find their pages ready: on a virtual machine a
/// first touch of fresh memory costs about 0.6 ms per MiB, more than reading the bytes into it. At most
/// [`PREPARED`] pieces wait, whatever the number of uploads, and none once uploads stop.
struct Prepared {
    state: Mutex<PreparedState>,
    wake: Condvar,
}

struct PreparedState {
    ready: VecDeque<MmapMut>,
    /// When a piece was last asked for.
    wanted: Option<Instant>,
}

impl Prepared {
    fn get() -> &'static Prepared {
        static PREPARED_POOL: OnceLock<Prepared> = OnceLock::new();
        PREPARED_POOL.get_or_init(|| {
            let pool = Prepared {
                state: Mutex::new(PreparedState { ready: VecDeque::new(), wanted: None }),
                wake: Condvar::new(),
            };
            // Without the thread, connections map their pieces themselves.
            let _ = std::thread::Builder::new().name("mq-pieces".into()).spawn(|| Prepared::get().run());
            pool
        })
    }

    /// A prepared piece, if one is ready; asks for more either way.
    fn take(&self) -> Option<MmapMut> {
        let mut st = self.state.lock().ok()?;
        st.wanted = Some(Instant::now());
        let piece = st.ready.pop_front();
        self.wake.notify_one();
        piece
    }

    fn run(&self) {
        loop {
            let Ok(mut st) = self.state.lock() else { return };
            let busy = st.wanted.is_some_and(|t| t.elapsed() < PREPARED_IDLE);
            if !busy {
                // No large upload lately: give the pieces back, sleep until one comes.
                st.ready.clear();
                st.wanted = None;
                drop(self.wake.wait_while(st, |s| s.wanted.is_none()));
                continue;
            }
            if st.ready.len() >= PREPARED {
                drop(self.wake.wait_timeout(st, PREPARED_IDLE));
                continue;
            }
            drop(st);
            let Ok(piece) = MmapOptions::new().len(PIECE).populate().map_anon() else {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            if let Ok(mut st) = self.state.lock() {
                st.ready.push_back(piece);
            }
        }
    }
}

/// A payload being read.
#[derive(Debug)]
pub struct Assembly {
    /// The pieces filled so far, in order.
    pieces: Vec<Bytes>,
    /// The piece being filled and how much of it is.
    cur: Option<(MmapMut, usize)>,
    /// Bytes still to read.
    missing: usize,
    /// Full length.
    len: usize,
    /// Read and thrown away (a payload over `message_size_limit`): one piece is reused.
    discard: bool,
    /// Pieces mapped so far.
    mapped: usize,
}

impl Assembly {
    /// A payload of `len` bytes of which `first` (possibly empty) has arrived.
    pub fn new(len: usize, first: Bytes, discard: bool) -> Assembly {
        let missing = len.saturating_sub(first.len());
        let pieces = if first.is_empty() || discard { Vec::new() } else { vec![first] };
        Assembly { pieces, cur: None, missing, len, discard, mapped: 0 }
    }

    /// Where the next bytes go: the free part of the current piece, mapped when the bytes for it are
    /// about to arrive. The first piece's pages are touched as bytes land in them, so an upload that
    /// trickles holds what it sent; once a client has filled a piece, the next ones come populated (from
    /// the [`Prepared`] pieces when one is ready, else populated here: half the cost of faulting their
    /// pages in one by one).
    pub fn spare(&mut self) -> io::Result<&mut [u8]> {
        if self.cur.is_none() {
            let n = self.missing.clamp(1, PIECE);
            let prepared = if self.mapped > 0 && n == PIECE { Prepared::get().take() } else { None };
            let map = match prepared {
                Some(map) => map,
                None => {
                    let mut options = MmapOptions::new();
                    options.len(n);
                    if self.mapped > 0 {
                        options.populate();
                    }
                    options.map_anon()?
                }
            };
            self.cur = Some((map, 0));
            self.mapped += 1;
        }
        let want = self.missing;
        match &mut self.cur {
            Some((map, filled)) => {
                let free = map.get_mut(*filled..).unwrap_or_default();
                let n = free.len().min(want);
                Ok(free.get_mut(..n).unwrap_or_default())
            }
            None => Ok(&mut []),
        }
    }

    /// Records `n` bytes read into [`Assembly::spare`].
    pub fn advance(&mut self, n: usize) {
        self.missing = self.missing.saturating_sub(n);
        let full = match &mut self.cur {
            Some((map, filled)) => {
                *filled += n;
                *filled >= map.len() || self.missing == 0
            }
            None => false,
        };
        if full && let Some((map, filled)) = self.cur.take() {
            if self.discard {
                // Reused from the start for the next bytes.
                if self.missing > 0 {
                    self.cur = Some((map, 0));
                }
            } else {
                self.pieces.push(Bytes::from_owner(map).slice(..filled));
            }
        }
    }

    /// Whether every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.len - self.missing
    }

    /// Its full length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The complete payload.
    pub fn finish(self) -> Pieces {
        Pieces::new(self.pieces, self.len)
    }
}

/// A large PUBLISH whose payload is being read: routed once complete.
pub(super) struct Inbound {
    /// The packet without its payload.
    pub(super) publish: Publish,
    /// The payload so far.
    pub(super) payload: Assembly,
}

impl Conn {
    /// When the read buffer starts with a large PUBLISH that is not all there but whose head is, takes
    /// the head and reads the payload into pieces of its own from then on (see [`crate::large`]), so the
    /// read buffer never grows to the size a client declares. Returns whether it did.
    pub(super) fn start_inbound(&mut self) -> Result<bool, Close> {
        if self.inbound.is_some() || self.rbuf.first().is_none_or(|b| b >> 4 != 3) {
            return Ok(false);
        }
        let limit = self.settings.incoming_packet_limit();
        match FixedHeader::peek(&self.rbuf, self.proto.version) {
            Ok(Some(h))
                if h.packet_len() >= LARGE_AT && h.packet_len() <= limit && self.rbuf.len() < h.packet_len() => {}
            // Small, complete, too large, or not even a header yet: `decode` handles it (and reports errors).
            _ => return Ok(false),
        }
        // A head that is wrong is reported at once, whatever comes of the payload.
        let Some((publish, head_len, payload_len)) =
            mq_proto::decode_publish_head(&self.rbuf, self.proto.version, limit)?
        else {
            return Ok(false);
        };
        self.rbuf.advance(head_len);
        let first = std::mem::take(&mut self.rbuf).freeze();
        // Over `message_size_limit`: read to keep the stream in step, but keep none of it.
        let discard = self.settings.message_size_limit > 0 && payload_len > self.settings.message_size_limit;
        self.inbound = Some(Box::new(Inbound { publish, payload: Assembly::new(payload_len, first, discard) }));
        if self.inbound.as_ref().is_some_and(|i| i.payload.is_complete()) {
            self.complete_inbound()?;
        }
        Ok(true)
    }

    /// The large payload being read is complete: the PUBLISH is handled like any other.
    pub(super) fn complete_inbound(&mut self) -> Result<(), Close> {
        if let Some(inbound) = self.inbound.take() {
            let Inbound { publish, payload } = *inbound;
            let len = payload.len();
            self.local.msgs_received += 1;
            let pieces = Arc::new(payload.finish());
            if let Some(ack) = self.route_publish(publish, Some((pieces, len)))? {
                self.note_durable();
                self.send(ack);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `data` in reads of at most `chunk` bytes.
    fn feed(a: &mut Assembly, data: &[u8], chunk: usize) {
        let mut at = 0;
        while !a.is_complete() {
            let spare = a.spare().expect("map");
            let n = spare.len().min(chunk).min(data.len() - at);
            spare[..n].copy_from_slice(&data[at..at + n]);
            at += n;
            a.advance(n);
        }
        assert_eq!(at, data.len());
    }

    #[test]
    fn pieces_hold_the_payload_in_order() {
        let data: Vec<u8> = (0..(2 * PIECE + 12_345)).map(|i| (i % 251) as u8).collect();
        for (first, chunk) in [(0, 65_536), (1000, 7), (PIECE + 5, 300_000)] {
            let mut a = Assembly::new(data.len(), Bytes::copy_from_slice(&data[..first]), false);
            assert_eq!(a.received(), first);
            feed(&mut a, &data[first..], chunk);
            let p = a.finish();
            assert_eq!(p.len(), data.len());
            let joined: Vec<u8> = p.pieces().iter().flat_map(|b| b.iter().copied()).collect();
            assert!(joined == data);
            // No piece larger than PIECE is mapped for the rest (the first may be the read buffer).
            assert!(p.pieces().iter().skip(1).all(|b| b.len() <= PIECE));
        }
    }

    #[test]
    fn a_discarded_payload_keeps_one_piece() {
        let data = vec![7u8; 3 * PIECE + 1];
        let mut a = Assembly::new(data.len(), Bytes::new(), true);
        feed(&mut a, &data, 1 << 20);
        assert!(a.is_complete());
        assert!(a.finish().pieces().is_empty());
    }
}
