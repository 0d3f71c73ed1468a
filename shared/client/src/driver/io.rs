//! The driver's two buffers: what arrived and is not decoded yet ([`Input`]), and what is encoded and not
//! written yet ([`Output`]). Both are cancel-safe to fill and drain: a read or write that did not finish
//! changed nothing, one that did is accounted for before the next await.
//!
//! Large payloads: the input buffer grows to the size a packet's fixed header announces (after the size
//! check), and a received payload is split off it without copying; or, for a receiver that only needs its
//! front ([`Input::keep_front`], `mq bench`), the rest of a large one is dropped as it arrives. A payload
//! to send stays where it is: small ones are copied after their header, larger ones are written straight
//! from their own buffer in the same vectored write.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes, BytesMut};
use mq_proto::{EncodeError, FixedHeader, MAX_PACKET_SIZE, Packet, PacketType, ProtocolVersion, Publish};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};

use crate::output::property_order;

/// Payloads up to this size are copied next to their header; larger ones are written from their own
/// buffer.
pub(super) const COPY_LIMIT: usize = 64 * 1024;

/// Read at least this much room at a time.
const READ_ROOM: usize = 64 * 1024;

/// Segments of one vectored write.
const SLICES: usize = 16;

/// Bytes received and not decoded yet.
#[derive(Debug)]
pub(super) struct Input {
    buf: BytesMut,
    version: ProtocolVersion,
    /// A PUBLISH of at least `large` bytes keeps only the first `front` bytes of its payload.
    keep_front: Option<(usize, usize)>,
    /// Such a PUBLISH being received: the packet so far, and how many payload bytes are still to drop.
    skipping: Option<(Publish, usize)>,
}

impl Input {
    pub(super) fn new(version: ProtocolVersion) -> Self {
        Input { buf: BytesMut::with_capacity(8 * 1024), version, keep_front: None, skipping: None }
    }

    /// PUBLISH packets of `large` bytes or more keep only the first `front` bytes of their payload, and
    /// are handed over once their last byte is in (a load generator measures the broker, not its own
    /// memory).
    pub(super) fn keep_front(&mut self, large: usize, front: usize) {
        self.keep_front = Some((large, front));
    }

    /// Forgets everything (a new connection).
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.skipping = None;
    }

    /// Reads what the stream has. `Ok(0)`: it ended.
    pub(super) async fn read<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> io::Result<usize> {
        let want = match &self.skipping {
            Some((_, left)) => (*left).clamp(READ_ROOM, mq_proto::packet::RESERVE_AHEAD),
            None => READ_ROOM,
        };
        if self.buf.capacity() - self.buf.len() < want / 16 {
            self.buf.reserve(want);
        }
        r.read_buf(&mut self.buf).await
    }

    /// Whether a whole packet is in (or the end of one being dropped).
    pub(super) fn has_packet(&self) -> bool {
        match &self.skipping {
            Some((_, left)) => self.buf.len() >= *left,
            None => {
                matches!(FixedHeader::peek(&self.buf, self.version), Ok(Some(h)) if self.buf.len() >= h.packet_len())
            }
        }
    }

    /// The next whole packet, with the identifiers of its MQTT 5 properties in wire order for a PUBLISH
    /// (`%j` prints them in that order; decoding loses it).
    pub(super) fn next(&mut self) -> Result<Option<(Packet, Vec<u8>)>, mq_proto::DecodeError> {
        if let Some((_, left)) = &mut self.skipping {
            let take = (*left).min(self.buf.len());
            self.buf.advance(take);
            *left -= take;
            if *left > 0 {
                return Ok(None);
            }
            return Ok(self.skipping.take().map(|(p, _)| (Packet::Publish(p), Vec::new())));
        }
        let v = self.version;
        let Some(h) = FixedHeader::peek(&self.buf, v)? else { return Ok(None) };
        let publish = h.packet_type == PacketType::Publish;
        if publish
            && let Some((large, front)) = self.keep_front
            && h.packet_len() >= large
            && self.buf.len() < h.packet_len()
        {
            let Some((mut p, head, len)) = mq_proto::decode_publish_head(&self.buf, v, MAX_PACKET_SIZE)? else {
                return Ok(None);
            };
            let keep = front.min(len);
            if self.buf.len() < head + keep {
                return Ok(None);
            }
            self.buf.advance(head);
            p.payload = self.buf.split_to(keep).freeze();
            self.skipping = Some((p, len - keep));
            return self.next();
        }
        let order = match self.buf.get(..h.packet_len()) {
            Some(frame) if publish && v.is_v5() => property_order(frame),
            _ => Vec::new(),
        };
        Ok(mq_proto::decode(&mut self.buf, v, MAX_PACKET_SIZE)?.map(|p| (p, order)))
    }
}

/// Bytes encoded and not written yet: small packets in a buffer, large payloads as their own segments.
#[derive(Debug, Default)]
pub(super) struct Output {
    segments: VecDeque<Bytes>,
    /// Bytes in `segments`.
    queued: usize,
    /// Where packets are encoded, sealed into a segment before writing.
    tail: BytesMut,
}

impl Output {
    /// Bytes not written yet.
    pub(super) fn len(&self) -> usize {
        self.queued + self.tail.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (a new connection).
    pub(super) fn clear(&mut self) {
        self.segments.clear();
        self.queued = 0;
        self.tail.clear();
    }

    /// Encodes a packet; a PUBLISH's payload is copied or queued as it is (see [`COPY_LIMIT`]).
    pub(super) fn packet(&mut self, p: &Packet, version: ProtocolVersion) -> Result<(), EncodeError> {
        match p {
            Packet::Publish(p) => {
                p.encode_header(p.payload.len(), version, &mut self.tail)?;
                if p.payload.len() <= COPY_LIMIT {
                    self.tail.extend_from_slice(&p.payload);
                } else {
                    self.seal();
                    self.queued += p.payload.len();
                    self.segments.push_back(p.payload.clone());
                }
                Ok(())
            }
            other => other.encode(version, &mut self.tail),
        }
    }

    /// Appends raw bytes (a PUBLISH header, or a small payload after it).
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
    }

    /// Where a header can be encoded.
    pub(super) fn tail(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    fn seal(&mut self) {
        if !self.tail.is_empty() {
            let bytes = self.tail.split().freeze();
            self.queued += bytes.len();
            self.segments.push_back(bytes);
        }
    }

    /// Writes what `w` takes of the front, in one vectored write.
    pub(super) fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        self.seal();
        let mut slices = [IoSlice::new(&[]); SLICES];
        let mut count = 0;
        for (slice, segment) in slices.iter_mut().zip(&self.segments) {
            *slice = IoSlice::new(segment);
            count += 1;
        }
        let n = ready!(Pin::new(w).poll_write_vectored(cx, slices.get(..count).unwrap_or_default()))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        self.advance(n);
        Poll::Ready(Ok(n))
    }

    /// [`Output::poll_write`] as a future.
    pub(super) async fn write<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_write(w, cx)).await
    }

    fn advance(&mut self, mut n: usize) {
        self.queued -= n;
        while n > 0 {
            let Some(front) = self.segments.front_mut() else { break };
            if front.len() > n {
                front.advance(n);
                break;
            }
            n -= front.len();
            self.segments.pop_front();
        }
    }
}
