//! Throughput of the printer per mode (mq-sub may print 100k messages/s; plain and `-v` must
//! stay allocation-free and cheap).

use std::hint::black_box;
use std::io;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mq_format::{Format, Message, OutputMode, Printer, Property, Props, Zone};

fn bench(c: &mut Criterion) {
    let payload = vec![b'x'; 64];
    let props: Props = [Property::ContentType("text/plain".into()), Property::UserProperty("k".into(), "v".into())]
        .into_iter()
        .collect();
    let mut msg = Message::new("sensors/room1/temperature", &payload);
    msg.properties = &props;
    let now = UNIX_EPOCH + Duration::new(1_795_641_972, 26_730_123);
    let cases = [
        ("plain", OutputMode::Plain),
        ("verbose", OutputMode::Verbose),
        ("format_fields", OutputMode::Format(Format::parse("%t %p %l %q %C %P").unwrap())),
        ("format_time", OutputMode::Format(Format::parse("%I %U @H:@M:@S").unwrap())),
        ("json", OutputMode::Format(Format::parse("%j").unwrap())),
    ];
    let mut group = c.benchmark_group("print");
    group.throughput(Throughput::Elements(1));
    for (name, mode) in cases {
        let printer = Printer::new(mode).with_zone(Zone::from_tz("Europe/Berlin"));
        group.bench_function(name, |b| {
            b.iter(|| printer.write(black_box(&msg), &mut io::sink(), now).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
