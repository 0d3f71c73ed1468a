//! What a bench payload carries so the subscriber can measure: the send time, the publisher's number
//! and a sequence number (20 bytes, big-endian), then filler.

use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes of the stamp at the front of every payload.
pub const STAMP_LEN: usize = 20;

/// Nanoseconds since the Unix epoch (publisher and subscriber are on one machine, or synchronised).
pub fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Writes a stamp into the first [`STAMP_LEN`] bytes of `payload`.
pub fn write(payload: &mut [u8], sent: u64, publisher: u32, seq: u64) {
    if let Some(dst) = payload.get_mut(..STAMP_LEN) {
        dst[..8].copy_from_slice(&sent.to_be_bytes());
        dst[8..12].copy_from_slice(&publisher.to_be_bytes());
        dst[12..20].copy_from_slice(&seq.to_be_bytes());
    }
}

/// Reads a stamp: (send time, publisher, sequence).
pub fn read(payload: &[u8]) -> Option<(u64, u32, u64)> {
    let s = payload.get(..STAMP_LEN)?;
    Some((
        u64::from_be_bytes(s[..8].try_into().ok()?),
        u32::from_be_bytes(s[8..12].try_into().ok()?),
        u64::from_be_bytes(s[12..20].try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn roundtrip() {
        let mut p = vec![0u8; 64];
        super::write(&mut p, 123_456_789, 7, 42);
        assert_eq!(super::read(&p), Some((123_456_789, 7, 42)));
        assert_eq!(super::read(&p[..10]), None);
    }
}
