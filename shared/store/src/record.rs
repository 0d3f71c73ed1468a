//! Records: the changes the journal holds, each framed with its length and a CRC-32 of its body, so a
//! torn or damaged record is found when the file is read back.
//!
//! ```text
//! frame := len:u32 crc:u32 body[len]        (little endian; crc = CRC-32 of body)
//! body  := kind:u8 fields...
//! ```
//! Strings are a u16 length and UTF-8 bytes; blobs a u32 length and bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The largest record body accepted when reading (a message of the MQTT maximum, with room to spare).
pub const MAX_BODY: usize = 300 * 1024 * 1024;
/// Bytes of a frame's header.
pub const FRAME_HEAD: usize = 8;

/// A message queued for a session (or in flight to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The message.
    pub msg: u64,
    /// QoS it is delivered with.
    pub qos: u8,
    /// Retain flag as delivered.
    pub retain: bool,
    /// Subscription identifiers.
    pub sub_ids: Vec<u32>,
    /// The shared subscription it came through.
    pub shared: Option<String>,
}

/// Stage of a message in flight: 1 = PUBLISH sent, 2 = PUBREL sent.
pub type Stage = u8;

/// One change. Its strings are `S`: owned as read back, borrowed where a change is written (see
/// [`Framer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<S = String> {
    /// A message, stored once however many sessions and retained slots refer to it.
    Msg { id: u64, blob: Bytes },
    /// A session exists with this lifetime (seconds; 0: ends at disconnect, `u32::MAX`: never),
    /// detached since `detached_at` (unix ms; 0: a connection is attached).
    Session { client: S, expiry: u32, detached_at: u64, version: u8 },
    /// The session ended.
    SessionEnd { client: S },
    /// A subscription (options byte as in SUBSCRIBE; `id` 0: none).
    Sub { client: S, filter: S, opts: u8, id: u32 },
    /// A subscription removed.
    Unsub { client: S, filter: S },
    /// A message queued.
    Queue { client: S, entry: Entry },
    /// The oldest queued message left the queue: in flight with `pid`, or gone (`pid` 0).
    Dequeue { client: S, pid: u16 },
    /// The exchange for `pid` at `stage` ended.
    Ack { client: S, pid: u16, stage: Stage },
    /// PUBREC for `pid`: it waits for PUBCOMP.
    Released { client: S, pid: u16 },
    /// A QoS 2 id received and routed.
    Q2In { client: S, pid: u16 },
    /// A QoS 2 id released (PUBREL).
    Q2Rel { client: S, pid: u16 },
    /// The retained message of a topic.
    RetainSet { topic: S, msg: u64 },
    /// A topic's retained message cleared.
    RetainClear { topic: S },
    /// A will waiting for its delay, published at `at` (unix ms).
    Will { client: S, at: u64, blob: Bytes },
    /// The waiting will is gone (published, or cancelled by a reconnect).
    WillClear { client: S },
    /// Queued messages removed out of order (each id's first occurrence).
    Remove { client: S, msgs: Vec<u64> },
    /// A message in flight (compacted files only: the journal reaches it through Queue and Dequeue).
    Inflight { client: S, pid: u16, stage: Stage, entry: Entry },
    /// A topic's retained message, carried whole (the retained messages' journal).
    Retain { topic: S, blob: Bytes },
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record of {0} bytes is larger than any record written")]
    TooLarge(usize),
    #[error("record checksum does not match")]
    Checksum,
    #[error("record ends early")]
    Truncated,
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("record holds a string that is not UTF-8")]
    Utf8,
}

impl<S> Record<S> {
    fn kind(&self) -> u8 {
        match self {
            Record::Msg { .. } => 1,
            Record::Session { .. } => 2,
            Record::SessionEnd { .. } => 3,
            Record::Sub { .. } => 4,
            Record::Unsub { .. } => 5,
            Record::Queue { .. } => 6,
            Record::Dequeue { .. } => 7,
            Record::Ack { .. } => 8,
            Record::Released { .. } => 9,
            Record::Q2In { .. } => 10,
            Record::Q2Rel { .. } => 11,
            Record::RetainSet { .. } => 12,
            Record::RetainClear { .. } => 13,
            Record::Will { .. } => 14,
            Record::WillClear { .. } => 15,
            Record::Remove { .. } => 16,
            Record::Inflight { .. } => 17,
            Record::Retain { .. } => 18,
        }
    }
}

impl<S: AsRef<str>> Record<S> {
    /// The client a record belongs to (none for messages and retained slots).
    pub fn client(&self) -> Option<&str> {
        match self {
            Record::Msg { .. } | Record::RetainSet { .. } | Record::RetainClear { .. } | Record::Retain { .. } => None,
            Record::Session { client, .. }
            | Record::SessionEnd { client }
            | Record::Sub { client, .. }
            | Record::Unsub { client, .. }
            | Record::Queue { client, .. }
            | Record::Dequeue { client, .. }
            | Record::Ack { client, .. }
            | Record::Released { client, .. }
            | Record::Q2In { client, .. }
            | Record::Q2Rel { client, .. }
            | Record::Will { client, .. }
            | Record::WillClear { client }
            | Record::Remove { client, .. }
            | Record::Inflight { client, .. } => Some(client.as_ref()),
        }
    }

    /// The framed record: its head (frame header and fields), and a large blob written after it
    /// without being copied (a message's bytes).
    pub fn frame(&self) -> (BytesMut, Option<Bytes>) {
        let mut b = BytesMut::with_capacity(64);
        let tail = self.put(&mut b, |_| true);
        (b, tail)
    }

    /// Frames the record at the end of `b`. A message's blob for which `apart` says so is not copied
    /// but returned, to be written right after `b` (the frame's checksum covers it).
    fn put(&self, b: &mut BytesMut, apart: impl Fn(&Bytes) -> bool) -> Option<Bytes> {
        let start = b.len();
        b.put_slice(&[0; FRAME_HEAD]);
        b.put_u8(self.kind());
        let mut tail = None;
        let mut blob_after = |b: &mut BytesMut, blob: &Bytes| {
            b.put_u32_le(blob.len() as u32);
            if apart(blob) {
                tail = Some(blob.clone());
            } else {
                b.put_slice(blob);
            }
        };
        match self {
            Record::Msg { id, blob } => {
                b.put_u64_le(*id);
                blob_after(b, blob);
            }
            Record::Session { client, expiry, detached_at, version } => {
                put_str(b, client.as_ref());
                b.put_u32_le(*expiry);
                b.put_u64_le(*detached_at);
                b.put_u8(*version);
            }
            Record::SessionEnd { client } | Record::WillClear { client } => put_str(b, client.as_ref()),
            Record::Sub { client, filter, opts, id } => {
                put_str(b, client.as_ref());
                put_str(b, filter.as_ref());
                b.put_u8(*opts);
                b.put_u32_le(*id);
            }
            Record::Unsub { client, filter } => {
                put_str(b, client.as_ref());
                put_str(b, filter.as_ref());
            }
            Record::Queue { client, entry } => {
                put_str(b, client.as_ref());
                put_entry(b, entry);
            }
            Record::Dequeue { client, pid }
            | Record::Released { client, pid }
            | Record::Q2In { client, pid }
            | Record::Q2Rel { client, pid } => {
                put_str(b, client.as_ref());
                b.put_u16_le(*pid);
            }
            Record::Ack { client, pid, stage } => {
                put_str(b, client.as_ref());
                b.put_u16_le(*pid);
                b.put_u8(*stage);
            }
            Record::RetainSet { topic, msg } => {
                put_str(b, topic.as_ref());
                b.put_u64_le(*msg);
            }
            Record::RetainClear { topic } => put_str(b, topic.as_ref()),
            Record::Retain { topic, blob } => {
                put_str(b, topic.as_ref());
                blob_after(b, blob);
            }
            Record::Will { client, at, blob } => {
                put_str(b, client.as_ref());
                b.put_u64_le(*at);
                b.put_u32_le(blob.len() as u32);
                b.put_slice(blob);
            }
            Record::Remove { client, msgs } => {
                put_str(b, client.as_ref());
                b.put_u32_le(msgs.len() as u32);
                for m in msgs {
                    b.put_u64_le(*m);
                }
            }
            Record::Inflight { client, pid, stage, entry } => {
                put_str(b, client.as_ref());
                b.put_u16_le(*pid);
                b.put_u8(*stage);
                put_entry(b, entry);
            }
        }
        seal(b, start, tail.as_ref());
        tail
    }
}

/// Fills in the header of the frame begun at `start` of `b` (its body runs to the end of `b`, then
/// `tail`).
fn seal(b: &mut BytesMut, start: usize, tail: Option<&Bytes>) {
    let body = b.get(start + FRAME_HEAD..).unwrap_or_default();
    let body_len = body.len() + tail.map_or(0, Bytes::len);
    let crc = match tail {
        None => crc32fast::hash(body),
        Some(t) => {
            let mut h = crc32fast::Hasher::new();
            h.update(body);
            h.update(t);
            h.finalize()
        }
    };
    if let Some(h) = b.get_mut(start..start + FRAME_HEAD) {
        h[..4].copy_from_slice(&(body_len as u32).to_le_bytes());
        h[4..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Blobs up to this size are copied into a [`Framer`]'s buffer; larger ones are written from where
/// they are.
pub const COPY_BLOB_UP_TO: usize = 16 * 1024;

/// Records framed one after another, for one write: small ones copied into one buffer (no allocation
/// per record once the buffer has grown), large blobs kept apart without being copied.
#[derive(Debug, Default)]
pub struct Framer {
    buf: BytesMut,
    /// Blobs kept apart, each written after the bytes of `buf` up to its offset.
    apart: Vec<(usize, Bytes)>,
    /// Bytes framed.
    len: usize,
}

impl Framer {
    /// Frames `r`.
    pub fn record<S: AsRef<str>>(&mut self, r: &Record<S>) {
        let before = self.buf.len();
        let tail = r.put(&mut self.buf, |blob| blob.len() > COPY_BLOB_UP_TO);
        self.len += self.buf.len() - before;
        if let Some(t) = tail {
            self.len += t.len();
            self.apart.push((self.buf.len(), t));
        }
    }

    /// Frames a message record ([`Record::Msg`]) whose blob `blob` writes in place.
    pub fn msg(&mut self, id: u64, blob: impl FnOnce(&mut BytesMut)) {
        let b = &mut self.buf;
        let start = b.len();
        b.put_slice(&[0; FRAME_HEAD]);
        b.put_u8(Record::<String>::Msg { id, blob: Bytes::new() }.kind());
        b.put_u64_le(id);
        let len_at = b.len();
        b.put_u32_le(0);
        blob(b);
        let n = (b.len() - len_at - 4) as u32;
        if let Some(l) = b.get_mut(len_at..len_at + 4) {
            l.copy_from_slice(&n.to_le_bytes());
        }
        seal(b, start, None);
        self.len += b.len() - start;
    }

    /// Bytes framed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is framed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hands what is framed to `out`, in order: bytes to copy, each time followed by the blob that
    /// comes after them, if any (written from where it is). Empties the framer, keeping a buffer of a
    /// usual size.
    pub fn drain(&mut self, mut out: impl FnMut(&[u8], Option<Bytes>)) {
        let mut at = 0;
        for (end, blob) in self.apart.drain(..) {
            out(self.buf.get(at..end).unwrap_or_default(), Some(blob));
            at = end;
        }
        out(self.buf.get(at..).unwrap_or_default(), None);
        self.buf.clear();
        if self.buf.capacity() > 4 * COPY_BLOB_UP_TO {
            self.buf = BytesMut::new();
        }
        self.len = 0;
    }
}

impl Record {
    /// Reads the record at the front of `src`: the record and the bytes its frame takes, `Ok(None)`
    /// when `src` holds less than a whole frame.
    pub fn read(src: &Bytes) -> Result<Option<(Record, usize)>, RecordError> {
        if src.len() < FRAME_HEAD {
            return Ok(None);
        }
        let len = u32::from_le_bytes([src[0], src[1], src[2], src[3]]) as usize;
        let crc = u32::from_le_bytes([src[4], src[5], src[6], src[7]]);
        if len > MAX_BODY || len == 0 {
            return Err(RecordError::TooLarge(len));
        }
        if src.len() < FRAME_HEAD + len {
            return Ok(None);
        }
        let body = src.slice(FRAME_HEAD..FRAME_HEAD + len);
        if crc32fast::hash(&body) != crc {
            return Err(RecordError::Checksum);
        }
        Ok(Some((decode_body(body)?, FRAME_HEAD + len)))
    }
}

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_u16_le(s.len().min(usize::from(u16::MAX)) as u16);
    b.put_slice(s.as_bytes().get(..s.len().min(usize::from(u16::MAX))).unwrap_or_default());
}

fn put_entry(b: &mut BytesMut, e: &Entry) {
    b.put_u64_le(e.msg);
    b.put_u8(e.qos);
    b.put_u8(u8::from(e.retain));
    b.put_u16_le(e.sub_ids.len() as u16);
    for id in &e.sub_ids {
        b.put_u32_le(*id);
    }
    put_str(b, e.shared.as_deref().unwrap_or(""));
}

/// A cursor over a record's body.
struct Fields(Bytes);

impl Fields {
    fn need(&self, n: usize) -> Result<(), RecordError> {
        if self.0.remaining() < n { Err(RecordError::Truncated) } else { Ok(()) }
    }
    fn u8(&mut self) -> Result<u8, RecordError> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }
    fn u16(&mut self) -> Result<u16, RecordError> {
        self.need(2)?;
        Ok(self.0.get_u16_le())
    }
    fn u32(&mut self) -> Result<u32, RecordError> {
        self.need(4)?;
        Ok(self.0.get_u32_le())
    }
    fn u64(&mut self) -> Result<u64, RecordError> {
        self.need(8)?;
        Ok(self.0.get_u64_le())
    }
    fn bytes(&mut self, n: usize) -> Result<Bytes, RecordError> {
        self.need(n)?;
        Ok(self.0.split_to(n))
    }
    fn string(&mut self) -> Result<String, RecordError> {
        let n = usize::from(self.u16()?);
        let raw = self.bytes(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| RecordError::Utf8)
    }
    fn entry(&mut self) -> Result<Entry, RecordError> {
        let msg = self.u64()?;
        let qos = self.u8()?;
        let retain = self.u8()? != 0;
        let n = usize::from(self.u16()?);
        let mut sub_ids = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            sub_ids.push(self.u32()?);
        }
        let shared = Some(self.string()?).filter(|s| !s.is_empty());
        Ok(Entry { msg, qos, retain, sub_ids, shared })
    }
}

fn decode_body(body: Bytes) -> Result<Record, RecordError> {
    let mut f = Fields(body);
    let kind = f.u8()?;
    let r = match kind {
        1 => {
            let id = f.u64()?;
            let n = f.u32()? as usize;
            Record::Msg { id, blob: f.bytes(n)? }
        }
        2 => Record::Session { client: f.string()?, expiry: f.u32()?, detached_at: f.u64()?, version: f.u8()? },
        3 => Record::SessionEnd { client: f.string()? },
        4 => Record::Sub { client: f.string()?, filter: f.string()?, opts: f.u8()?, id: f.u32()? },
        5 => Record::Unsub { client: f.string()?, filter: f.string()? },
        6 => Record::Queue { client: f.string()?, entry: f.entry()? },
        7 => Record::Dequeue { client: f.string()?, pid: f.u16()? },
        8 => Record::Ack { client: f.string()?, pid: f.u16()?, stage: f.u8()? },
        9 => Record::Released { client: f.string()?, pid: f.u16()? },
        10 => Record::Q2In { client: f.string()?, pid: f.u16()? },
        11 => Record::Q2Rel { client: f.string()?, pid: f.u16()? },
        12 => Record::RetainSet { topic: f.string()?, msg: f.u64()? },
        13 => Record::RetainClear { topic: f.string()? },
        14 => {
            let client = f.string()?;
            let at = f.u64()?;
            let n = f.u32()? as usize;
            Record::Will { client, at, blob: f.bytes(n)? }
        }
        15 => Record::WillClear { client: f.string()? },
        16 => {
            let client = f.string()?;
            let n = f.u32()? as usize;
            let mut msgs = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                msgs.push(f.u64()?);
            }
            Record::Remove { client, msgs }
        }
        17 => Record::Inflight { client: f.string()?, pid: f.u16()?, stage: f.u8()?, entry: f.entry()? },
        18 => {
            let topic = f.string()?;
            let n = f.u32()? as usize;
            Record::Retain { topic, blob: f.bytes(n)? }
        }
        k => return Err(RecordError::UnknownKind(k)),
    };
    if f.0.has_remaining() {
        return Err(RecordError::Truncated);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn join(r: &Record) -> Bytes {
        let (mut head, tail) = r.frame();
        if let Some(t) = tail {
            head.extend_from_slice(&t);
        }
        head.freeze()
    }

    fn entry() -> impl Strategy<Value = Entry> {
        (
            any::<u64>(),
            0u8..3,
            any::<bool>(),
            proptest::collection::vec(any::<u32>(), 0..3),
            proptest::option::of("[a-z/$]{1,8}"),
        )
            .prop_map(|(msg, qos, retain, sub_ids, shared)| Entry { msg, qos, retain, sub_ids, shared })
    }

    fn record() -> impl Strategy<Value = Record> {
        let s = "[a-zA-Z0-9/+#é]{0,12}";
        prop_oneof![
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64))
                .prop_map(|(id, b)| Record::Msg { id, blob: b.into() }),
            (s, any::<u32>(), any::<u64>(), any::<u8>()).prop_map(|(client, expiry, detached_at, version)| {
                Record::Session { client, expiry, detached_at, version }
            }),
            s.prop_map(|client| Record::SessionEnd { client }),
            (s, s, any::<u8>(), any::<u32>()).prop_map(|(client, filter, opts, id)| Record::Sub {
                client,
                filter,
                opts,
                id
            }),
            (s, entry()).prop_map(|(client, entry)| Record::Queue { client, entry }),
            (s, any::<u16>()).prop_map(|(client, pid)| Record::Dequeue { client, pid }),
            (s, any::<u16>(), 1u8..3).prop_map(|(client, pid, stage)| Record::Ack { client, pid, stage }),
            (s, any::<u64>()).prop_map(|(topic, msg)| Record::RetainSet { topic, msg }),
            (s, proptest::collection::vec(any::<u8>(), 0..32))
                .prop_map(|(topic, b)| Record::Retain { topic, blob: b.into() }),
            (s, any::<u64>(), proptest::collection::vec(any::<u8>(), 0..32)).prop_map(|(client, at, b)| Record::Will {
                client,
                at,
                blob: b.into()
            }),
            (s, proptest::collection::vec(any::<u64>(), 0..5))
                .prop_map(|(client, msgs)| Record::Remove { client, msgs }),
            (s, any::<u16>(), 1u8..3, entry()).prop_map(|(client, pid, stage, entry)| Record::Inflight {
                client,
                pid,
                stage,
                entry
            }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip_and_every_prefix(r in record()) {
            let bytes = join(&r);
            let (back, n) = Record::read(&bytes).expect("valid").expect("whole");
            prop_assert_eq!(&back, &r);
            prop_assert_eq!(n, bytes.len());
            for cut in 0..bytes.len() {
                prop_assert!(matches!(Record::read(&bytes.slice(..cut)), Ok(None) | Err(_)));
            }
        }

        #[test]
        fn a_framer_writes_what_frame_does(rs in proptest::collection::vec(record(), 1..8), big in any::<bool>()) {
            let mut rs = rs;
            if big {
                // A blob the framer keeps apart.
                rs.push(Record::Msg { id: 7, blob: Bytes::from(vec![3u8; COPY_BLOB_UP_TO + 1]) });
                rs.push(Record::Dequeue { client: "c".into(), pid: 1 });
            }
            let mut f = Framer::default();
            for r in &rs {
                f.record(r);
            }
            let mut out = Vec::new();
            let len = f.len();
            f.drain(|bytes, blob| {
                out.extend_from_slice(bytes);
                if let Some(b) = blob {
                    out.extend_from_slice(&b);
                }
            });
            prop_assert!(f.is_empty());
            let want: Vec<u8> = rs.iter().flat_map(|r| join(r).to_vec()).collect();
            prop_assert_eq!(len, want.len());
            prop_assert_eq!(out, want);
        }

        #[test]
        fn a_message_framed_in_place_reads_back(id in any::<u64>(), blob in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut f = Framer::default();
            f.msg(id, |b| b.extend_from_slice(&blob));
            let mut out = BytesMut::new();
            f.drain(|bytes, _| out.extend_from_slice(bytes));
            let want = Record::Msg { id, blob: Bytes::from(blob) };
            prop_assert_eq!(&out[..], &join(&want)[..]);
        }

        #[test]
        fn a_flipped_bit_is_found(r in record(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut bytes = join(&r).to_vec();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let read = Record::read(&Bytes::from(bytes));
            // A flip in the body or its checksum is caught; one in the length either reads short or fails.
            prop_assert!(!matches!(read, Ok(Some((ref back, _))) if back == &r));
        }
    }
}
