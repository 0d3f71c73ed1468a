//! `mq bench sub`: every client subscribes, then times, counts and checks the order of every message
//! (from the stamp at the front of its payload) until the run ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mq_client::driver::{Driver, Event};
use mq_proto::{QoS, SubscriptionOptions};

use crate::args::{self, Common};
use crate::{BenchError, Live, disconnect, expand, futures_join, progress, report, spawn_clients, stamp};

/// What one subscriber measured.
struct SubResult {
    hist: Histogram<u64>,
    received: u64,
    lost: u64,
    out_of_order: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl SubResult {
    fn new() -> Result<Self, BenchError> {
        Ok(SubResult { hist: histogram()?, received: 0, lost: 0, out_of_order: 0, first: None, last: None })
    }

    /// Counts, times and checks one message, which arrived at `now` (`now_ns` on the stamps' clock).
    fn record(&mut self, payload: &[u8], (now, now_ns): (Instant, u64), expected: &mut HashMap<u32, u64>) {
        if let Some((sent, publisher, seq)) = stamp::read(payload) {
            self.hist.saturating_record(now_ns.saturating_sub(sent) / 1000);
            let next = expected.entry(publisher).or_insert(0);
            if seq >= *next {
                self.lost += seq - *next;
                *next = seq + 1;
            } else {
                self.out_of_order += 1;
            }
        }
        self.received += 1;
        self.first.get_or_insert(now);
        self.last = Some(now);
    }
}

fn histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| BenchError::Io(std::io::Error::other(e.to_string())))
}

pub(crate) async fn run(a: args::SubArgs) -> Result<(), BenchError> {
    let c = a.common.clone();
    let live = Arc::new(Live::default());
    let stop = Arc::new(AtomicBool::new(false));
    let prog = progress(live.clone(), stop.clone(), c.count);
    let end = Arc::new(tokio::sync::Notify::new());
    let (l, e, sa) = (live.clone(), end.clone(), Arc::new(a.clone()));
    let (handles, connect_time) = spawn_clients(&c, u16::MAX, &live, move |i, id, driver| {
        let (l, e, sa) = (l.clone(), e.clone(), sa.clone());
        async move { subscriber(i, &id, driver, &sa, &l, &e).await }
    })
    .await?;
    // Run for the duration, or until every client has its messages (`-n`).
    let all = futures_join(handles);
    tokio::pin!(all);
    let results = tokio::select! {
        r = &mut all => r,
        () = tokio::time::sleep(Duration::from_secs_f64(c.duration)) => {
            end.notify_waiters();
            all.await
        }
    };
    let mut total = SubResult::new()?;
    for r in results {
        if let Ok(Some(Ok(r))) = r {
            let _ = total.hist.add(&r.hist);
            total.received += r.received;
            total.lost += r.lost;
            total.out_of_order += r.out_of_order;
            total.first = match (total.first, r.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            total.last = total.last.max(r.last);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = prog.await;
    summary(&c, &a, &live, &total, connect_time);
    Ok(())
}

fn summary(c: &Common, a: &args::SubArgs, live: &Live, t: &SubResult, connect: Duration) {
    let span = match (t.first, t.last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    let (received, lost, ooo) = (t.received, t.lost, t.out_of_order);
    let rate = if span > 0.0 { received as f64 / span } else { 0.0 };
    let q = |p: f64| t.hist.value_at_quantile(p);
    let errors = live.errors.load(Ordering::Relaxed);
    let connected = live.connected.load(Ordering::Relaxed);
    report(
        c,
        &format!(
            "{{\"mode\":\"sub\",\"clients\":{},\"connected\":{connected},\"qos\":{},\"received\":{received},\"seconds\":{span:.3},\"rate\":{rate:.1},\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{}}},\"lost\":{lost},\"out_of_order\":{ooo},\"errors\":{errors},\"connect_seconds\":{:.3}}}",
            c.count,
            a.qos,
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            t.hist.max(),
            connect.as_secs_f64()
        ),
        &format!(
            "received {received} messages in {span:.2} s: {rate:.0} msg/s on {connected} clients\nlatency µs: p50 {} p90 {} p99 {} p99.9 {} max {}\nlost {lost}, out of order {ooo}, errors {errors}",
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            t.hist.max()
        ),
    );
}

/// One subscriber: subscribes, then counts, times and checks every message until told to end.
async fn subscriber(
    i: u32,
    id: &str,
    mut driver: Driver,
    a: &args::SubArgs,
    live: &Live,
    end: &tokio::sync::Notify,
) -> Result<SubResult, BenchError> {
    let ended = end.notified();
    tokio::pin!(ended);
    ended.as_mut().enable();
    let filter = expand(&a.topic, i, id);
    let qos = QoS::from_u8(a.qos).unwrap_or_default();
    driver.subscribe(vec![(filter, SubscriptionOptions { qos, ..Default::default() })], Default::default())?;
    driver.flush().await?;
    let mut r = SubResult::new()?;
    let mut expected: HashMap<u32, u64> = HashMap::new();
    // Received and not yet added to the shared counter (added in batches: the counter is shared by all).
    let mut unreported = 0u64;
    // The idle timeout: one timer, moved on only when it fires early (messages came since it was set),
    // not once per burst of messages. Before the first message it waits for ever.
    let idle = (a.idle_timeout > 0.0).then(|| Duration::from_secs_f64(a.idle_timeout));
    let quiet = tokio::time::sleep(Duration::from_secs(1 << 30));
    tokio::pin!(quiet);
    let mut armed = false;
    'run: loop {
        tokio::task::consume_budget().await;
        let mut event = tokio::select! {
            () = &mut ended => break,
            () = quiet.as_mut(), if armed => {
                // Quiet for the idle timeout since the last message: the burst is over.
                match (idle, r.last) {
                    (Some(idle), Some(last)) if last + idle > Instant::now() => {
                        quiet.as_mut().reset((last + idle).into());
                        continue;
                    }
                    _ => break,
                }
            }
            event = driver.next() => event.map(Some),
        };
        // The first event and every other one already in: one arrival time for them all (the clock is
        // read once per burst, not per message, so that reading it does not become the load).
        let arrived = (Instant::now(), stamp::now_nanos());
        loop {
            match event {
                Ok(Some(Event::Message { msg, .. })) => {
                    r.record(&msg.publish.payload, arrived, &mut expected);
                    unreported += 1;
                    if unreported >= 64 {
                        live.received.fetch_add(std::mem::take(&mut unreported), Ordering::Relaxed);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    break 'run;
                }
            }
            if a.messages > 0 && r.received >= a.messages {
                break 'run;
            }
            event = driver.try_next();
        }
        if let (Some(idle), Some(first), false) = (idle, r.first, armed) {
            // The first messages arrived: the idle timeout runs from now on.
            quiet.as_mut().reset((first + idle).into());
            armed = true;
        }
    }
    live.received.fetch_add(unreported, Ordering::Relaxed);
    if a.messages > 0 {
        // Expected and never received (the tail of a publisher's sequence, or a publisher never heard
        // from) is lost too; duplicates and reordered messages do not make up for it.
        let missing = a.messages.saturating_sub(r.received.saturating_sub(r.out_of_order));
        r.lost = r.lost.max(missing);
    }
    disconnect(&mut driver).await;
    Ok(r)
}
