//! Outgoing bytes of one connection: small packets are encoded into one buffer, large payloads are kept
//! as the shared [`Bytes`] they arrived in and written with vectored writes, so fanning a large message
//! out to many subscribers never copies its payload.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes, BytesMut};

use crate::message::Pieces;
use crate::stream::Stream;

/// Payloads at least this large are written from their shared buffer instead of being copied.
const SHARE_AT: usize = 2048;
/// Most slices handed to one `writev`.
const MAX_IOVECS: usize = 64;

/// Bytes waiting to be written.
#[derive(Debug, Default)]
pub struct OutBuf {
    /// Earlier segments, in order, written before `cur`.
    chunks: VecDeque<Bytes>,
    /// The segment being encoded into.
    cur: BytesMut,
    /// Bytes in `chunks`.
    chunk_bytes: usize,
}

impl OutBuf {
    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.chunk_bytes + self.cur.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some bytes can be written now.
    pub fn can_write(&self) -> bool {
        !self.is_empty()
    }

    /// Appends a payload held in pieces after what was encoded (its PUBLISH header), sharing them.
    pub fn pieces(&mut self, payload: &Pieces) {
        self.close_cur();
        for p in payload.pieces() {
            self.push_segment(p.clone());
        }
    }

    /// Ends the segment being encoded: it joins the chunks.
    fn close_cur(&mut self) {
        if !self.cur.is_empty() {
            let head = self.cur.split().freeze();
            self.push_segment(head);
        }
    }

    fn push_segment(&mut self, b: Bytes) {
        self.chunk_bytes += b.len();
        self.chunks.push_back(b);
    }

    /// The buffer to encode the next packet (or packet header) into.
    pub fn buf(&mut self) -> &mut BytesMut {
        &mut self.cur
    }

    /// Appends a payload after what was encoded: copied when small, shared when large.
    pub fn payload(&mut self, payload: &Bytes) {
        if payload.len() < SHARE_AT {
            self.cur.extend_from_slice(payload);
        } else {
            self.close_cur();
            self.push_segment(payload.clone());
        }
    }

    /// Writes as much as the socket takes now. Returns the bytes written; `Ok(0)` with data left means
    /// the socket is full (wait for writable).
    pub fn write_to(&mut self, stream: &mut Stream) -> io::Result<usize> {
        let mut total = 0;
        while self.can_write() {
            let n = {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut count = 0;
                for c in self.chunks.iter().take(MAX_IOVECS - 1) {
                    slices[count] = IoSlice::new(c);
                    count += 1;
                }
                if count < MAX_IOVECS - 1 || self.chunks.len() < MAX_IOVECS {
                    slices[count] = IoSlice::new(&self.cur);
                    count += 1;
                }
                match stream.try_write_vectored(&slices[..count]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            };
            self.advance(n);
            total += n;
        }
        if self.is_empty() && self.cur.capacity() > 1024 {
            // Idle connections keep no buffer; the next burst allocates again.
            self.cur = BytesMut::new();
        }
        Ok(total)
    }

    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.chunks.front_mut() {
                Some(front) => {
                    let take = n.min(front.len());
                    front.advance(take);
                    self.chunk_bytes -= take;
                    n -= take;
                    if front.is_empty() {
                        self.chunks.pop_front();
                    }
                }
                None => {
                    self.cur.advance(n);
                    n = 0;
                }
            }
        }
        if self.cur.is_empty() {
            self.cur.clear();
        }
    }
}
