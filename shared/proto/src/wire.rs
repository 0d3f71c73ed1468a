//! The data representations of MQTT §1.5: two- and four-byte integers, variable byte integers, UTF-8
//! strings, binary data and string pairs, read from a packet body and written to a buffer.
//!
//! Reading never panics: every read checks the bytes left first and reports [`DecodeError`].

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::types::PacketType;

/// The largest value a variable byte integer holds (four bytes of seven bits).
pub const MAX_VARINT: u32 = 268_435_455;

/// How many bytes `value` takes as a variable byte integer.
pub const fn varint_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` (at most [`MAX_VARINT`]) as a variable byte integer.
pub fn put_varint(dst: &mut BytesMut, mut value: u32) {
    debug_assert!(value <= MAX_VARINT);
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        dst.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Reads a variable byte integer from the front of `src` without consuming it.
///
/// `Ok(None)` means `src` ends before the integer does; otherwise the value and the bytes it used.
pub fn peek_varint(src: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..4 {
        let Some(&byte) = src.get(i) else {
            return Ok(None);
        };
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // [MQTT-1.5.5-1] the shortest encoding: a last byte of zero after others is padding.
            if i > 0 && byte == 0 {
                return Err(DecodeError::VarIntOverlong);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    Err(DecodeError::VarIntTooLong)
}

/// A cursor over one packet's body (everything after the fixed header).
pub(crate) struct Reader {
    buf: Bytes,
    packet: PacketType,
}

impl Reader {
    pub(crate) fn new(buf: Bytes, packet: PacketType) -> Self {
        Reader { buf, packet }
    }

    pub(crate) fn packet(&self) -> PacketType {
        self.packet
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        if self.buf.len() < n { Err(DecodeError::UnexpectedEnd { packet: self.packet, field }) } else { Ok(()) }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.need(1, field)?;
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.need(2, field)?;
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.need(4, field)?;
        Ok(self.buf.get_u32())
    }

    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        match peek_varint(&self.buf)? {
            Some((value, used)) => {
                self.buf.advance(used);
                Ok(value)
            }
            None => Err(DecodeError::UnexpectedEnd { packet: self.packet, field }),
        }
    }

    /// The next `n` bytes, shared with the packet buffer (no copy).
    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, field)?;
        Ok(self.buf.split_to(n))
    }

    /// Binary data: a two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.u16(field)?;
        self.bytes(usize::from(len), field)
    }

    /// A UTF-8 string: a two-byte length, then well-formed UTF-8 without U+0000.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let raw = self.binary(field)?;
        check_utf8(&raw, field).map(str::to_owned)
    }

    /// The same, shared (one allocation where a `String` turned into an `Arc<str>` takes two).
    pub(crate) fn shared_string(&mut self, field: &'static str) -> Result<std::sync::Arc<str>, DecodeError> {
        let raw = self.binary(field)?;
        check_utf8(&raw, field).map(std::sync::Arc::from)
    }

    /// Everything left, shared with the packet buffer.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Fails if any bytes are left: every packet's fields must use its remaining length exactly.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { packet: self.packet, extra: self.buf.len() })
        }
    }

    /// Splits off the next `n` bytes as a reader of their own (a property block).
    pub(crate) fn sub(&mut self, n: usize, field: &'static str) -> Result<Reader, DecodeError> {
        let bytes = self.bytes(n, field)?;
        Ok(Reader { buf: bytes, packet: self.packet })
    }
}

/// Validates an MQTT UTF-8 string: well-formed UTF-8 ([MQTT-1.5.4-1]) without U+0000 ([MQTT-1.5.4-2])
/// and without the control characters U+0001..U+001F and U+007F..U+009F, which the spec lets a receiver
/// treat as malformed ([MQTT-1.5.4-3] and §1.5.4) and Mosquitto does: a client id or topic carrying a
/// line break or an escape sequence never reaches a log or a terminal.
pub fn check_utf8<'a>(raw: &'a [u8], field: &'static str) -> Result<&'a str, DecodeError> {
    let s = std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8 { field })?;
    // C0 and DEL are single bytes; C1 characters are encoded as 0xC2 0x80..=0x9F.
    if raw.iter().any(|&b| b < 0x20 || b == 0x7F || b == 0xC2) {
        if memchr::memchr(0, raw).is_some() {
            return Err(DecodeError::NullCharacter { field });
        }
        if s.chars().any(char::is_control) {
            return Err(DecodeError::ControlCharacter { field });
        }
    }
    Ok(s)
}

/// Length on the wire of a string or binary field, after checking the 65,535-byte limit.
pub(crate) fn field_len(len: usize, field: &'static str) -> Result<usize, EncodeError> {
    if len > usize::from(u16::MAX) { Err(EncodeError::FieldTooLong { field, len }) } else { Ok(2 + len) }
}

/// Writes a length-prefixed field whose length was checked by [`field_len`].
pub(crate) fn put_prefixed(dst: &mut BytesMut, data: &[u8]) {
    // Callers validated the length with `field_len`; the cast cannot truncate.
    dst.put_u16(data.len() as u16);
    dst.put_slice(data);
}
