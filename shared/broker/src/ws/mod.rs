//! WebSocket listeners (`protocol websockets`): the HTTP upgrade, RFC 6455 framing between the socket
//! (or a TLS layer) and MQTT, and static files from `http_dir` on the same port.
//!
//! MQTT bytes are a stream across frames: a packet may be split over several binary frames and a frame
//! may hold several packets. Frames are never held whole: a data frame's payload is unmasked as it
//! arrives and handed to MQTT, so a frame of any length costs nothing beyond MQTT's own packet limits
//! (frames over 4 GiB are refused). What the broker sends goes out as binary frames of at most 64 KiB.
//! Pings are answered, a close is answered and ends the connection, text frames are refused (MQTT over
//! WebSocket is binary) with close code 1003.
//!
//! The request head must fit in `websockets_headers_size` bytes when that is set (4 KiB otherwise);
//! a longer one gets `431 Request Header Fields Too Large`. A request that is not an upgrade gets a file
//! of `http_dir` (or 404), then the connection closes. All of it runs under the CONNECT timeout and
//! within the bytes the broker holds for a client before it has authenticated.

mod http;

use http::head_end;

use std::io::{self, IoSlice, Read};
use std::path::PathBuf;
use std::sync::Arc;

use crate::stream::{Layer, LayerError, Wire};

/// How long a request head may be when `websockets_headers_size` is not set.
pub const DEFAULT_HEAD_LIMIT: usize = 4096;
/// Largest payload of one frame the broker sends.
const FRAME_OUT: usize = 64 * 1024;
/// Largest frame length accepted from a client.
const FRAME_IN_MAX: u64 = 1 << 32;
/// Bytes read from the wire at once ahead of decoding.
const READ_AHEAD: usize = 4096;
/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `websockets_log_level` bits (libwebsockets' levels, which Mosquitto passes on).
const LOG_ERR: i32 = 1;
const LOG_INFO: i32 = 8;

/// A WebSocket listener's options.
#[derive(Debug, Clone)]
pub struct WsOptions {
    /// `http_dir`, resolved at start.
    pub http_dir: Option<PathBuf>,
    /// Longest request head accepted.
    pub head_limit: usize,
    /// `websockets_log_level`: which events go to the log (as `log_type websockets`).
    pub log_level: i32,
}

fn ws_log(opts: &WsOptions, bit: i32, msg: std::fmt::Arguments<'_>) {
    if opts.log_level & bit != 0 {
        log!(Websockets, "{msg}");
    }
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Reading the HTTP request.
    Request,
    /// Upgraded: frames both ways.
    Open,
    /// A close was received or a protocol error sent one: nothing more is read.
    Closed,
    /// An HTTP request was answered; the connection ends once the answer is out.
    Http { path: String, status: u16 },
}

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct FrameIn {
    opcode: u8,
    /// Payload bytes still to come.
    left: u64,
    mask: [u8; 4],
    /// Payload bytes seen so far (the mask position).
    seen: u64,
}

/// One connection's WebSocket state.
pub struct WsLayer {
    opts: Arc<WsOptions>,
    state: State,
    /// Read from the wire and not decoded yet: the request head, then frame headers and payload.
    inbuf: Vec<u8>,
    frame: Option<FrameIn>,
    /// A binary message is open (its continuation frames carry MQTT bytes).
    in_message: bool,
    /// The payload of a control frame being read.
    ctrl: Vec<u8>,
    /// Bytes for the wire from `sent` on.
    out: Vec<u8>,
    sent: usize,
    /// A file of `http_dir` sent after its headers.
    file: Option<std::fs::File>,
}

impl std::fmt::Debug for WsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsLayer").field("state", &self.state).finish_non_exhaustive()
    }
}

fn ws_error(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, LayerError::WebSocket(why.into()))
}

/// A frame header for `len` payload bytes, unmasked (server to client).
fn frame_header(opcode: u8, len: usize, out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// The length of the frame header at the front of `buf`, if all of it is there.
fn header_len(buf: &[u8]) -> Option<usize> {
    let b1 = *buf.get(1)?;
    let ext = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let n = 2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 };
    (buf.len() >= n).then_some(n)
}

impl WsLayer {
    /// A connection that has sent nothing yet.
    pub fn new(opts: Arc<WsOptions>) -> WsLayer {
        WsLayer {
            opts,
            state: State::Request,
            inbuf: Vec::new(),
            frame: None,
            in_message: false,
            ctrl: Vec::new(),
            out: Vec::new(),
            sent: 0,
            file: None,
        }
    }

    /// Reads what the wire has (up to `max` bytes) onto `inbuf`; `Ok(0)` at its end.
    fn read_more(&mut self, wire: &mut dyn Wire, max: usize) -> io::Result<usize> {
        let mut chunk = [0u8; READ_AHEAD];
        let room = max.clamp(1, READ_AHEAD);
        let n = wire.read(chunk.get_mut(..room).unwrap_or_default())?;
        self.inbuf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(n)
    }

    /// Drops `n` decoded bytes from the front of `inbuf` (and its memory once empty).
    fn consume(&mut self, n: usize) {
        self.inbuf.drain(..n.min(self.inbuf.len()));
        if self.inbuf.is_empty() {
            self.inbuf = Vec::new();
        }
    }

    /// Queues a close frame with `code` and stops reading.
    fn send_close(&mut self, code: u16) {
        frame_header(0x8, 2, &mut self.out);
        self.out.extend_from_slice(&code.to_be_bytes());
        self.state = State::Closed;
    }

    /// Writes what is queued (and the file being served), ignoring a full socket.
    fn push_out(&mut self, wire: &mut dyn Wire) -> io::Result<()> {
        match Layer::flush(self, wire) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// A complete frame header at the front of `inbuf`, checked and taken.
    fn take_header(&mut self, len: usize) -> io::Result<()> {
        let h = self.inbuf.get(..len).unwrap_or_default();
        let (b0, b1) = (h.first().copied().unwrap_or(0), h.get(1).copied().unwrap_or(0));
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        let mut payload = u64::from(b1 & 0x7F);
        let mut at = 2;
        if payload == 126 {
            payload = u64::from(u16::from_be_bytes([h.get(2).copied().unwrap_or(0), h.get(3).copied().unwrap_or(0)]));
            at = 4;
        } else if payload == 127 {
            let mut b = [0u8; 8];
            b.copy_from_slice(h.get(2..10).unwrap_or(&[0; 8]));
            payload = u64::from_be_bytes(b);
            at = 10;
        }
        let mut mask = [0u8; 4];
        mask.copy_from_slice(h.get(at..at + 4).unwrap_or(&[0; 4]));
        let fail = |me: &mut Self, code: u16, why: String| {
            me.send_close(code);
            ws_log(&me.opts, LOG_ERR, format_args!("WebSocket protocol error: {why}."));
            Err(ws_error(why))
        };
        if b0 & 0x70 != 0 {
            return fail(self, 1002, "reserved bits set, and no extension was agreed".into());
        }
        if b1 & 0x80 == 0 {
            return fail(self, 1002, "an unmasked frame from the client (RFC 6455 5.1)".into());
        }
        match opcode {
            0x0 if !self.in_message => return fail(self, 1002, "a continuation frame without a message".into()),
            0x2 if self.in_message => return fail(self, 1002, "a new message before the last one ended".into()),
            0x1 => return fail(self, 1003, "a text frame (MQTT over WebSocket is binary)".into()),
            0x0 | 0x2 => self.in_message = !fin,
            0x8..=0xA if payload > 125 || !fin => {
                return fail(self, 1002, "a fragmented or long control frame".into());
            }
            0x8..=0xA => {}
            other => return fail(self, 1002, format!("unknown opcode {other}")),
        }
        if payload > FRAME_IN_MAX {
            return fail(self, 1009, format!("a frame of {payload} bytes"));
        }
        self.consume(len);
        self.frame = Some(FrameIn { opcode, left: payload, mask, seen: 0 });
        Ok(())
    }

    /// Handles a control frame whose payload is complete.
    fn control(&mut self, opcode: u8) {
        let payload = std::mem::take(&mut self.ctrl);
        match opcode {
            0x9 => {
                frame_header(0xA, payload.len(), &mut self.out);
                self.out.extend_from_slice(&payload);
            }
            0x8 => {
                // The status code is echoed; the connection ends.
                let code = payload.get(..2).map_or(1000, |c| u16::from_be_bytes([c[0], c[1]]));
                self.send_close(code);
            }
            _ => {}
        }
    }
}

/// Unmasks `data`, the payload bytes from position `seen` on.
fn unmask(data: &mut [u8], mask: [u8; 4], seen: u64) {
    let off = (seen % 4) as usize;
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[(off + i) & 3];
    }
}

impl Layer for WsLayer {
    fn read(&mut self, wire: &mut dyn Wire, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &self.state {
                State::Request => {
                    if let Some(end) = head_end(&self.inbuf) {
                        self.request(end);
                        self.push_out(wire)?;
                        continue;
                    }
                    if self.inbuf.len() >= self.opts.head_limit {
                        ws_log(
                            &self.opts,
                            LOG_ERR,
                            format_args!("HTTP request head over {} bytes.", self.opts.head_limit),
                        );
                        self.answer(431, "?", "");
                        continue;
                    }
                    let room = self.opts.head_limit - self.inbuf.len();
                    if self.read_more(wire, room)? == 0 {
                        return Ok(0);
                    }
                }
                State::Http { path, status } => {
                    let (path, status) = (path.clone(), *status);
                    self.push_out(wire)?;
                    if self.has_output() {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    return Err(io::Error::other(LayerError::Http { path, status }));
                }
                State::Closed => {
                    self.push_out(wire)?;
                    return Ok(0);
                }
                State::Open => {
                    let Some(mut f) = self.frame else {
                        match header_len(&self.inbuf) {
                            Some(len) => {
                                if let Err(e) = self.take_header(len) {
                                    // The close frame saying why goes out first.
                                    let _ = self.push_out(wire);
                                    return Err(e);
                                }
                            }
                            None => {
                                if self.read_more(wire, READ_AHEAD)? == 0 {
                                    return Ok(0);
                                }
                            }
                        }
                        continue;
                    };
                    let data = matches!(f.opcode, 0x0 | 0x2);
                    if f.left == 0 {
                        self.frame = None;
                        if !data {
                            self.control(f.opcode);
                            self.push_out(wire)?;
                        }
                        continue;
                    }
                    let want = usize::try_from(f.left).unwrap_or(usize::MAX);
                    if data && self.inbuf.is_empty() && !buf.is_empty() {
                        // Straight from the wire into the caller's buffer.
                        let room = buf.len().min(want);
                        let dst = buf.get_mut(..room).unwrap_or_default();
                        let n = wire.read(dst)?;
                        if n == 0 {
                            return Ok(0);
                        }
                        unmask(dst.get_mut(..n).unwrap_or_default(), f.mask, f.seen);
                        f.seen += n as u64;
                        f.left -= n as u64;
                        self.frame = Some(f);
                        return Ok(n);
                    }
                    if self.inbuf.is_empty() {
                        if self.read_more(wire, READ_AHEAD)? == 0 {
                            return Ok(0);
                        }
                        continue;
                    }
                    let n = want.min(self.inbuf.len()).min(if data { buf.len() } else { usize::MAX });
                    let mut chunk = self.inbuf.get(..n).unwrap_or_default().to_vec();
                    self.consume(n);
                    unmask(&mut chunk, f.mask, f.seen);
                    f.seen += n as u64;
                    f.left -= n as u64;
                    self.frame = Some(f);
                    if data {
                        if let Some(dst) = buf.get_mut(..n) {
                            dst.copy_from_slice(&chunk);
                        }
                        return Ok(n);
                    }
                    self.ctrl.extend_from_slice(&chunk);
                }
            }
        }
    }

    fn write(&mut self, wire: &mut dyn Wire, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.state {
            State::Open => {}
            State::Request => return Err(io::ErrorKind::WouldBlock.into()),
            _ => return Err(io::ErrorKind::BrokenPipe.into()),
        }
        self.push_out(wire)?;
        if self.has_output() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let total = bufs.iter().map(|b| b.len()).sum::<usize>().min(FRAME_OUT);
        if total == 0 {
            return Ok(0);
        }
        frame_header(0x2, total, &mut self.out);
        let mut left = total;
        for b in bufs {
            let take = left.min(b.len());
            self.out.extend_from_slice(b.get(..take).unwrap_or_default());
            left -= take;
            if left == 0 {
                break;
            }
        }
        self.push_out(wire)?;
        Ok(total)
    }

    fn flush(&mut self, wire: &mut dyn Wire) -> io::Result<bool> {
        loop {
            while self.sent < self.out.len() {
                let n = wire.write(&[IoSlice::new(self.out.get(self.sent..).unwrap_or_default())])?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                self.sent += n;
            }
            self.out.clear();
            self.sent = 0;
            if self.out.capacity() > 16 * 1024 {
                self.out = Vec::new();
            }
            let Some(file) = &mut self.file else {
                return Ok(true);
            };
            let mut chunk = vec![0u8; 16 * 1024];
            let n = file.read(&mut chunk)?;
            if n == 0 {
                self.file = None;
                return Ok(true);
            }
            chunk.truncate(n);
            self.out = chunk;
        }
    }

    fn has_input(&self) -> bool {
        match &self.state {
            State::Request => head_end(&self.inbuf).is_some() || self.inbuf.len() >= self.opts.head_limit,
            State::Http { .. } | State::Closed => !self.has_output(),
            State::Open => match self.frame {
                Some(f) => f.left == 0 || !self.inbuf.is_empty(),
                None => header_len(&self.inbuf).is_some(),
            },
        }
    }

    fn has_output(&self) -> bool {
        self.sent < self.out.len() || self.file.is_some()
    }

    fn close(&mut self) {
        if self.state == State::Open {
            self.send_close(1000);
        }
    }

    fn shrink(&mut self) {
        if self.inbuf.is_empty() {
            self.inbuf = Vec::new();
        }
        if !self.has_output() {
            self.out = Vec::new();
            self.sent = 0;
        }
        if self.ctrl.is_empty() {
            self.ctrl = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wire with what the client sent and what the broker wrote.
    #[derive(Default)]
    struct Fake {
        input: Vec<u8>,
        output: Vec<u8>,
    }

    impl Wire for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.input.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            Ok(n)
        }
        fn write(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut n = 0;
            for b in bufs {
                self.output.extend_from_slice(b);
                n += b.len();
            }
            Ok(n)
        }
    }

    fn layer() -> WsLayer {
        WsLayer::new(Arc::new(WsOptions { http_dir: None, head_limit: DEFAULT_HEAD_LIMIT, log_level: 0 }))
    }

    const UPGRADE: &[u8] = b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqttv3.1, mqtt\r\n\r\n";

    /// A masked client frame.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [9, 8, 7, 6];
        let mut f = vec![first];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    /// Everything readable now, as MQTT bytes (stops at WouldBlock; errors and the end are returned).
    fn drain(l: &mut WsLayer, wire: &mut Fake) -> (Vec<u8>, Option<io::Result<usize>>) {
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match l.read(wire, &mut buf) {
                Ok(0) => return (got, Some(Ok(0))),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (got, None),
                Err(e) => return (got, Some(Err(e))),
            }
        }
    }

    #[test]
    fn upgrade_then_mqtt_bytes_across_and_within_frames() {
        let mut l = layer();
        let mut wire = Fake::default();
        // The head and the first frames arrive together.
        wire.input.extend_from_slice(UPGRADE);
        wire.input.extend(frame(0x02, b"ab"));
        wire.input.extend(frame(0x00, b"cde"));
        wire.input.extend(frame(0x80, b"f"));
        wire.input.extend(frame(0x82, &[b'g'; 300]));
        let (got, end) = drain(&mut l, &mut wire);
        assert!(end.is_none());
        let answer = String::from_utf8_lossy(&wire.output).into_owned();
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{answer}");
        assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{answer}");
        assert!(answer.contains("Sec-WebSocket-Protocol: mqttv3.1\r\n"), "{answer}");
        assert_eq!(&got[..6], b"abcdef");
        assert_eq!(got.len(), 6 + 300);
        // What the broker writes goes out as one unmasked binary frame.
        wire.output.clear();
        assert_eq!(l.write(&mut wire, &[IoSlice::new(b"xy"), IoSlice::new(b"z")]).expect("write"), 3);
        assert_eq!(wire.output, [0x82, 3, b'x', b'y', b'z']);
    }

    #[test]
    fn ping_is_answered_and_close_ends_the_stream() {
        let mut l = layer();
        let mut wire = Fake::default();
        wire.input.extend_from_slice(UPGRADE);
        drain(&mut l, &mut wire);
        wire.output.clear();
        wire.input.extend(frame(0x89, b"hi"));
        wire.input.extend(frame(0x88, &1001u16.to_be_bytes()));
        let (got, end) = drain(&mut l, &mut wire);
        assert!(got.is_empty());
        assert!(matches!(end, Some(Ok(0))));
        assert_eq!(wire.output, [0x8A, 2, b'h', b'i', 0x88, 2, 0x03, 0xE9]);
    }

    #[test]
    fn rule_breaking_frames_close_with_a_code() {
        for (bad, code) in [
            (vec![0x82, 0x01, b'x'], 1002u16), // not masked
            (frame(0x81, b"text"), 1003),      // text
            (frame(0xC2, b"x"), 1002),         // reserved bit
            (frame(0x00, b"x"), 1002),         // continuation without a message
            (frame(0x09, b"x"), 1002),         // fragmented ping
        ] {
            let mut l = layer();
            let mut wire = Fake::default();
            wire.input.extend_from_slice(UPGRADE);
            drain(&mut l, &mut wire);
            wire.output.clear();
            wire.input.extend(bad);
            let (_, end) = drain(&mut l, &mut wire);
            assert!(matches!(end, Some(Err(_))), "{end:?}");
            assert_eq!(wire.output, [0x88, 2, (code >> 8) as u8, code as u8]);
        }
    }

    #[test]
    fn a_long_head_is_answered_431() {
        let mut l = WsLayer::new(Arc::new(WsOptions { http_dir: None, head_limit: 64, log_level: 0 }));
        let mut wire = Fake::default();
        wire.input.extend_from_slice(UPGRADE);
        let (_, end) = drain(&mut l, &mut wire);
        assert!(
            matches!(end, Some(Err(ref e)) if matches!(LayerError::of(e), Some(LayerError::Http { status: 431, .. })))
        );
        assert!(wire.output.starts_with(b"HTTP/1.1 431 "));
    }

    #[test]
    fn random_bytes_after_the_upgrade_never_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut l = layer();
            let mut wire = Fake::default();
            wire.input.extend_from_slice(UPGRADE);
            let len = (next() % 64) as usize;
            wire.input.extend((0..len).map(|_| next() as u8));
            let _ = drain(&mut l, &mut wire);
            let _ = l.has_input();
            let _ = l.write(&mut wire, &[IoSlice::new(b"after")]);
        }
    }
}
