//! Outgoing bytes of one connection: small packets are encoded into one buffer, large payloads are kept
//! as the shared [`Bytes`] they arrived in and written with vectored writes, so fanning a large message
//! out to many subscribers never copies its payload.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};

use crate::large::{LargePayload, Progress};
use crate::session::Kick;
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
    /// A payload still arriving, sent as it does (see [`crate::large`]): its pieces join `chunks` as
    /// they come. What was queued after it waits in `behind` (and `cur`) until its last piece has joined.
    streaming: Option<Box<Streaming>>,
    /// Segments queued behind the streaming payload, in order.
    behind: VecDeque<Behind>,
    /// Bytes in `behind`.
    behind_bytes: usize,
    /// Payload bytes of the streaming payloads not yet moved to `chunks`.
    stream_bytes: usize,
}

#[derive(Debug)]
enum Behind {
    Bytes(Bytes),
    Stream(Box<Streaming>),
}

#[derive(Debug)]
struct Streaming {
    src: Arc<LargePayload>,
    /// Pieces already moved to `chunks`.
    taken: usize,
    /// Woken when more pieces arrive.
    watcher: Arc<Kick>,
}

/// The publisher of a payload being passed on went away before its end.
pub fn abandoned() -> io::Error {
    io::Error::other("the publisher of a large message being sent went away before its end")
}

impl OutBuf {
    /// Bytes waiting, including what is still to arrive of streaming payloads.
    pub fn len(&self) -> usize {
        self.chunk_bytes + self.behind_bytes + self.stream_bytes + self.cur.len()
    }

    /// Whether nothing waits (not even the rest of a payload still arriving).
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.streaming.is_none()
    }

    /// Whether some bytes can be written now.
    pub fn can_write(&self) -> bool {
        self.chunk_bytes > 0 || (self.streaming.is_none() && !self.cur.is_empty())
    }

    /// Appends a payload that may still be arriving, after what was encoded (its PUBLISH header);
    /// `watcher` is woken when more of it arrives. If its publisher goes away before the end, writing
    /// fails with [`abandoned`] once the stream reaches it.
    pub fn stream(&mut self, src: Arc<LargePayload>, watcher: Arc<Kick>) {
        self.close_cur();
        self.stream_bytes += src.len();
        let s = Box::new(Streaming { src, taken: 0, watcher });
        if self.streaming.is_none() {
            self.streaming = Some(s);
        } else {
            self.behind.push_back(Behind::Stream(s));
        }
    }

    /// Moves newly arrived pieces of the streaming payload to the chunks; when it is complete, what
    /// waited behind it follows, up to the next streaming payload.
    fn refresh(&mut self) -> io::Result<()> {
        while let Some(s) = &mut self.streaming {
            let (chunks, chunk_bytes, stream_bytes) = (&mut self.chunks, &mut self.chunk_bytes, &mut self.stream_bytes);
            let mut n = 0;
            let progress = s.src.take_from(s.taken, &s.watcher, |p| {
                *chunk_bytes += p.len();
                *stream_bytes = stream_bytes.saturating_sub(p.len());
                chunks.push_back(p.clone());
                n += 1;
            });
            s.taken += n;
            match progress {
                Progress::Partial => return Ok(()),
                Progress::Abandoned => return Err(abandoned()),
                Progress::Complete => {
                    self.streaming = None;
                    while let Some(b) = self.behind.pop_front() {
                        match b {
                            Behind::Bytes(x) => {
                                self.behind_bytes -= x.len();
                                self.chunk_bytes += x.len();
                                self.chunks.push_back(x);
                            }
                            Behind::Stream(next) => {
                                self.streaming = Some(next);
                                break;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the segment being encoded: it joins the chunks, or waits behind a streaming payload.
    fn close_cur(&mut self) {
        if !self.cur.is_empty() {
            let head = self.cur.split().freeze();
            self.push_segment(head);
        }
    }

    fn push_segment(&mut self, b: Bytes) {
        if self.streaming.is_some() {
            self.behind_bytes += b.len();
            self.behind.push_back(Behind::Bytes(b));
        } else {
            self.chunk_bytes += b.len();
            self.chunks.push_back(b);
        }
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
    pub fn write_to(&mut self, stream: &Stream) -> io::Result<usize> {
        self.refresh()?;
        let mut total = 0;
        while self.can_write() {
            let n = {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let mut count = 0;
                for c in self.chunks.iter().take(MAX_IOVECS - 1) {
                    slices[count] = IoSlice::new(c);
                    count += 1;
                }
                if self.streaming.is_none() && (count < MAX_IOVECS - 1 || self.chunks.len() < MAX_IOVECS) {
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
