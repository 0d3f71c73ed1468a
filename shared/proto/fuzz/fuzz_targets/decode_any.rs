//! Decodes arbitrary bytes in every protocol version; whatever decodes must re-encode and decode to
//! itself, and a PUBLISH head decoded on its own must agree with the whole packet. Run with `cargo +nightly fuzz run decode_any` from `shared/proto`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mq_proto::{MAX_PACKET_SIZE, Packet, ProtocolVersion, decode, decode_publish_head};

fuzz_target!(|data: &[u8]| {
    for v in [ProtocolVersion::V31, ProtocolVersion::V311, ProtocolVersion::V5] {
        if let Ok(Some((mut head, _, payload_len))) = decode_publish_head(data, v, MAX_PACKET_SIZE)
            && let Ok(Some(Packet::Publish(p))) = decode(&mut BytesMut::from(data), v, MAX_PACKET_SIZE)
        {
            assert_eq!(p.payload.len(), payload_len);
            head.payload = p.payload.clone();
            assert_eq!(head, p);
        }
        let mut buf = BytesMut::from(data);
        while let Ok(Some(p)) = decode(&mut buf, v, MAX_PACKET_SIZE) {
            let mut out = BytesMut::new();
            if p.encode(v, &mut out).is_ok() {
                let again = decode(&mut out, v, MAX_PACKET_SIZE).expect("re-encoded packet decodes");
                assert_eq!(again.as_ref(), Some(&p));
            }
        }
    }
});
