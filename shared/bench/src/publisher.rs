//! `mq bench pub`: every client publishes stamped payloads as fast as the window, the rate and the
//! socket allow, until the duration or its message count is reached.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mq_client::ClientError;
use mq_client::driver::{Driver, Event};
use mq_proto::{Publish, QoS};

use crate::args::{self, Common};
use crate::{BenchError, Live, disconnect, expand, progress, report, spawn_clients, stamp};

pub(crate) async fn run(a: args::PubArgs) -> Result<(), BenchError> {
    let c = a.common.clone();
    let live = Arc::new(Live::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prog = progress(live.clone(), stop.clone(), c.count);
    let go = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(std::sync::OnceLock::<Instant>::new());
    let (l, g, s, pa) = (live.clone(), go.clone(), started.clone(), Arc::new(a.clone()));
    let (handles, connect_time) = spawn_clients(&c, a.inflight, &live, move |i, id, driver| {
        let (l, g, s, pa) = (l.clone(), g.clone(), s.clone(), pa.clone());
        async move {
            let wait = g.notified();
            tokio::pin!(wait);
            wait.as_mut().enable();
            if s.get().is_none() {
                wait.await;
            }
            let begin = *s.get().unwrap_or(&Instant::now());
            publisher(i, &id, driver, &pa, &l, begin).await
        }
    })
    .await?;
    let begin = Instant::now();
    let _ = started.set(begin);
    go.notify_waiters();
    let mut sent = 0u64;
    let mut acked = 0u64;
    for h in handles {
        if let Ok(Some((s, ak))) = h.await {
            sent += s;
            acked += ak;
        }
    }
    let elapsed = begin.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = prog.await;
    summary(&c, &a, &live, sent, acked, elapsed, connect_time);
    Ok(())
}

fn summary(c: &Common, a: &args::PubArgs, live: &Live, sent: u64, acked: u64, elapsed: f64, connect: Duration) {
    let errors = live.errors.load(Ordering::Relaxed);
    let connected = live.connected.load(Ordering::Relaxed);
    let rate = sent as f64 / elapsed.max(1e-9);
    report(
        c,
        &format!(
            "{{\"mode\":\"pub\",\"clients\":{},\"connected\":{connected},\"qos\":{},\"size\":{},\"sent\":{sent},\"acked\":{acked},\"seconds\":{elapsed:.3},\"rate\":{rate:.1},\"errors\":{errors},\"connect_seconds\":{:.3}}}",
            c.count,
            a.qos,
            a.size,
            connect.as_secs_f64()
        ),
        &format!(
            "published {sent} messages ({acked} acknowledged) in {elapsed:.2} s: {rate:.0} msg/s from {connected} clients, QoS {}, {} bytes, {errors} errors",
            a.qos, a.size
        ),
    );
}

/// One publisher: publishes until the duration or message count is reached; returns (sent, acked).
async fn publisher(i: u32, id: &str, mut driver: Driver, a: &args::PubArgs, live: &Live, begin: Instant) -> (u64, u64) {
    let mut p = Pacer::new(i, id, a, begin);
    let result = p.run(&mut driver, live).await;
    live.sent.fetch_add(p.unreported, Ordering::Relaxed);
    if result.is_err() {
        live.errors.fetch_add(1, Ordering::Relaxed);
        return (p.sent, p.acked);
    }
    disconnect(&mut driver).await;
    (p.sent, p.acked)
}

/// One publisher's state: what it sends, how fast, and what it counted.
struct Pacer<'a> {
    a: &'a args::PubArgs,
    publisher: u32,
    topic: Arc<str>,
    qos: QoS,
    deadline: Instant,
    interval: Option<Duration>,
    next_at: Instant,
    /// The payload, its stamp rewritten for each message.
    filler: Vec<u8>,
    sent: u64,
    acked: u64,
    /// Sent and not yet added to the shared counter (added in batches: the counter is shared by all).
    unreported: u64,
}

impl<'a> Pacer<'a> {
    fn new(i: u32, id: &str, a: &'a args::PubArgs, begin: Instant) -> Self {
        let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / a.rate));
        // Paced clients start spread evenly over one interval, as independent devices would, instead of
        // all publishing at the same instants.
        let phase = interval.map_or(Duration::ZERO, |iv| {
            iv.mul_f64(f64::from(i % a.common.count.max(1)) / f64::from(a.common.count.max(1)))
        });
        Pacer {
            a,
            publisher: i,
            topic: expand(&a.topic, i, id).into(),
            qos: QoS::from_u8(a.qos).unwrap_or_default(),
            deadline: begin + Duration::from_secs_f64(a.common.duration),
            interval,
            next_at: begin + phase,
            filler: vec![b'x'; a.size as usize],
            sent: 0,
            acked: 0,
            unreported: 0,
        }
    }

    fn quota_left(&self) -> bool {
        self.a.messages == 0 || self.sent < self.a.messages
    }

    async fn run(&mut self, driver: &mut Driver, live: &Live) -> Result<(), ClientError> {
        loop {
            // Readiness does not spend tokio's budget; spend it so busy clients take turns.
            tokio::task::consume_budget().await;
            let now = Instant::now();
            let done = now >= self.deadline || !self.quota_left();
            if done && driver.session().in_flight() == 0 && driver.unwritten() == 0 {
                return Ok(());
            }
            // Queue as many messages as the window, the rate and the batch allow.
            while !done
                && driver.session().has_room()
                && driver.unwritten() < self.a.batch as usize
                && self.quota_left()
                && self.interval.is_none_or(|_| Instant::now() >= self.next_at)
            {
                stamp::write(&mut self.filler, stamp::now_nanos(), self.publisher, self.sent);
                let mut p = Publish::new(self.topic.clone(), self.qos, Bytes::new());
                p.retain = self.a.retain;
                // Large payloads go from the buffer to the socket, not through the output buffer: the
                // stamp then times the transfer, not a copy.
                driver.publish_slice(p, &self.filler).await?;
                self.sent += 1;
                self.unreported += 1;
                if let Some(iv) = self.interval {
                    self.next_at += iv;
                }
            }
            if self.unreported >= 256 || done {
                live.sent.fetch_add(std::mem::take(&mut self.unreported), Ordering::Relaxed);
            }
            let can_send = !done && driver.session().has_room() && self.quota_left();
            if can_send && self.interval.is_none() && driver.unwritten() == 0 {
                // The socket took everything and nothing limits us: queue the next batch (after letting
                // other tasks run).
                tokio::task::yield_now().await;
                continue;
            }
            let wake = if done {
                self.deadline.max(now) + Duration::from_secs(5)
            } else if self.interval.is_some() {
                self.next_at.min(self.deadline)
            } else {
                self.deadline
            };
            tokio::select! {
                // Acknowledgements (all those already in), or the batch written.
                r = driver.next_or_written() => {
                    let mut event = r?;
                    while let Some(e) = event {
                        if let Event::Published { .. } = e {
                            self.acked += 1;
                        }
                        event = driver.try_next()?;
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    if done && Instant::now() >= wake {
                        return Ok(()); // acknowledgements did not come: stop anyway (the run is bounded)
                    }
                }
            }
        }
    }
}
