//! The store engine, measured against redb (an ACID copy-on-write B-tree, the embedded engine one would
//! otherwise pick) on the broker's own workload: QoS 1 messages of 100 bytes queued for an offline
//! session, then delivered and acknowledged. Both group their writes in batches (`MQ_ENGINES_BATCH`, 100; the broker's
//! journal batches whatever arrives while it writes; redb commits one write transaction per batch), with
//! and without an fsync per batch.
//!
//! `cargo bench -p mq-store --bench engines` (`MQ_ENGINES_N`: message count, `MQ_ENGINES_DIR`: where the
//! stores go). Prints messages per second for each phase, bytes written to the disk (only what reached
//! it: without fsync the system may still hold it) and the store size after.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mq_store::{Entry, Fsync, Record};
use redb::{Database, Durability, TableDefinition};

const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
const QUEUE: TableDefinition<(&str, u64), u64> = TableDefinition::new("queue");

/// Bytes this process has caused to be written to storage so far.
fn disk_writes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines().find_map(|l| l.strip_prefix("write_bytes: ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = e.metadata().map(|m| if m.is_dir() { dir_bytes(&e.path()) } else { m.len() }).unwrap_or(0);
        total += m;
    }
    total
}

/// The two tables one batch writes to.
type Tables<'a, 'b> = (&'a mut redb::Table<'b, u64, &'static [u8]>, &'a mut redb::Table<'b, (&'static str, u64), u64>);

/// One engine run: (queue phase, ack phase, store bytes after).
type Run<'a> = &'a dyn Fn(&Path) -> (Phase, Phase, u64);

struct Phase {
    rate: f64,
    written: u64,
}

fn phase(n: usize, f: impl FnOnce()) -> Phase {
    let w = disk_writes();
    let t = Instant::now();
    f();
    Phase { rate: n as f64 / t.elapsed().as_secs_f64(), written: disk_writes() - w }
}

fn journal(dir: &Path, n: usize, batch: usize, sync: Fsync, payload: &Bytes) -> (Phase, Phase, u64) {
    let opened = mq_store::open(dir, sync).expect("open");
    let j = &opened.journal;
    let wait = |end: u64| {
        while j.written() < end {
            std::thread::sleep(Duration::from_micros(20));
        }
    };
    let client = "offline-client".to_string();
    let queue = phase(n, || {
        for chunk in (0..n as u64).collect::<Vec<_>>().chunks(batch) {
            let mut end = 0;
            for &id in chunk {
                j.append(&Record::Msg { id, blob: payload.clone() });
                let entry = Entry { msg: id, qos: 1, retain: false, sub_ids: vec![], shared: None };
                end = j.append(&Record::Queue { client: client.clone(), entry });
            }
            wait(end);
        }
    });
    let ack = phase(n, || {
        for chunk in (0..n).collect::<Vec<_>>().chunks(batch) {
            let mut end = 0;
            for &i in chunk {
                let pid = (i % 65_535) as u16 + 1;
                j.append(&Record::Dequeue { client: client.clone(), pid });
                end = j.append(&Record::Ack { client: client.clone(), pid, stage: 1 });
            }
            wait(end);
        }
    });
    j.close();
    drop(opened);
    (queue, ack, dir_bytes(dir))
}

fn redb(dir: &Path, n: usize, batch: usize, durability: Durability, payload: &Bytes) -> (Phase, Phase, u64) {
    let path = dir.join("store.redb");
    let db = Database::create(&path).expect("create");
    let client = "offline-client";
    let commit = |f: &dyn Fn(Tables)| {
        let mut tx = db.begin_write().expect("begin");
        tx.set_durability(durability).expect("durability");
        {
            let mut msgs = tx.open_table(MESSAGES).expect("table");
            let mut queue = tx.open_table(QUEUE).expect("table");
            f((&mut msgs, &mut queue));
        }
        tx.commit().expect("commit");
    };
    let ids: Vec<u64> = (0..n as u64).collect();
    let queue = phase(n, || {
        for chunk in ids.chunks(batch) {
            commit(&|(msgs, queue)| {
                for &id in chunk {
                    msgs.insert(id, payload.as_ref()).expect("insert");
                    queue.insert((client, id), id).expect("insert");
                }
            });
        }
    });
    let ack = phase(n, || {
        for chunk in ids.chunks(batch) {
            commit(&|(msgs, queue)| {
                for &id in chunk {
                    let msg = queue.remove((client, id)).expect("remove").map(|v| v.value());
                    if let Some(m) = msg {
                        msgs.remove(m).expect("remove");
                    }
                }
            });
        }
    });
    // A non-durable commit is not on disk until a durable one follows.
    let tx = db.begin_write().expect("begin");
    tx.commit().expect("commit");
    drop(db);
    (queue, ack, dir_bytes(dir))
}

fn main() {
    // `cargo test --benches` runs benches once with no arguments but `--bench`: stay quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: usize =
        std::env::var("MQ_ENGINES_N").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 1_000 } else { 100_000 });
    let batch: usize = std::env::var("MQ_ENGINES_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let payload = Bytes::from(vec![b'x'; 100]);
    println!("{n} messages of 100 B queued for one session, then acknowledged; {batch} per batch");
    println!("| engine | fsync per batch | queue msg/s | ack msg/s | bytes written per message | store after |");
    println!("|---|---|---|---|---|---|");
    for (fsync, sync, durability) in
        [(true, Fsync::Always, Durability::Immediate), (false, Fsync::Never, Durability::None)]
    {
        let runs: [(&str, Run); 2] = [
            ("mq-store journal", &|d| journal(d, n, batch, sync, &payload)),
            ("redb 4.6", &|d| redb(d, n, batch, durability, &payload)),
        ];
        for (name, run) in runs {
            let dir = tempfile::tempdir_in(std::env::var_os("MQ_ENGINES_DIR").unwrap_or_else(|| ".".into()))
                .expect("tempdir");
            let (q, a, size) = run(dir.path());
            println!(
                "| {name} | {} | {:.0} | {:.0} | {} | {} KiB |",
                if fsync { "yes" } else { "no" },
                q.rate,
                a.rate,
                (q.written + a.written) / n as u64,
                size / 1024
            );
        }
    }
}
