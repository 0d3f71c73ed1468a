//! Codec and trie benchmarks: `cargo bench -p mq-proto`.

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mq_proto::{MAX_PACKET_SIZE, Packet, PacketId, ProtocolVersion, Publish, QoS, TopicTrie, decode};
use std::hint::black_box;

fn publish(size: usize) -> Packet {
    let mut p =
        Publish::new("sensors/building-1/floor-2/temperature", QoS::AtLeastOnce, Bytes::from(vec![0xa5u8; size]));
    p.packet_id = PacketId::new(42);
    Packet::Publish(p)
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish");
    for (name, size) in [("64B", 64), ("1KiB", 1024), ("1MiB", 1 << 20)] {
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let packet = publish(size);
            let mut wire = BytesMut::new();
            packet.encode(v, &mut wire).unwrap();
            let wire = wire.freeze();
            group.throughput(Throughput::Bytes(wire.len() as u64));
            group.bench_with_input(BenchmarkId::new(format!("decode/{v}"), name), &wire, |b, wire| {
                b.iter(|| {
                    let mut buf = BytesMut::from(&wire[..]);
                    black_box(decode(&mut buf, v, MAX_PACKET_SIZE).unwrap())
                })
            });
            let Packet::Publish(p) = &packet else { unreachable!() };
            let mut out = BytesMut::with_capacity(wire.len() + 64);
            group.bench_with_input(BenchmarkId::new(format!("encode/{v}"), name), &packet, |b, packet| {
                b.iter(|| {
                    out.clear();
                    packet.encode(v, &mut out).unwrap();
                    black_box(out.len())
                })
            });
            // What the broker does per subscriber: the header only, the payload is shared.
            group.bench_with_input(BenchmarkId::new(format!("encode_header/{v}"), name), p, |b, p| {
                b.iter(|| {
                    out.clear();
                    p.encode_header(p.payload.len(), v, &mut out).unwrap();
                    black_box(out.len())
                })
            });
        }
    }
    group.finish();
}

fn trie(c: &mut Criterion) {
    // 100,000 filters shaped like a fleet: per-device exact filters, per-building wildcards, a few '#'.
    let mut trie = TopicTrie::new();
    for i in 0..100_000u32 {
        let f = match i % 10 {
            0 => format!("fleet/b{}/+/temperature", i % 997),
            1 => format!("fleet/b{}/#", i),
            2 => format!("alerts/{}/+", i),
            _ => format!("fleet/b{}/d{}/temperature", i % 997, i),
        };
        *trie.entry(&f) = i;
    }
    let mut group = c.benchmark_group("trie_100k");
    for topic in ["fleet/b17/d5017/temperature", "fleet/b5/d123456/humidity", "other/x/y"] {
        group.bench_with_input(BenchmarkId::new("match", topic), topic, |b, topic| {
            b.iter(|| {
                let mut n = 0u32;
                trie.for_each_match(black_box(topic), |_| n += 1);
                n
            })
        });
    }
    group.finish();
}

criterion_group!(benches, codec, trie);
criterion_main!(benches);
