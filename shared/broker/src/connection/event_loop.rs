//! The connection's loop: readiness of the socket and of the session's kick handle, reading and
//! writing, flow control, parking an idle connection and closing.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mq_proto::{Disconnect, Packet, ReasonCode};

use crate::kick::KickReason;
use crate::log;
use crate::park::QUICK_WAKE_GAP_MS;
use crate::session::Pace;

use super::{CONGESTION_WAIT, Close, Conn, HIGH_WATER, READ_BUDGET, READ_STOP, SHUTDOWN_FLUSH};

impl Conn {
    pub(super) async fn run(mut self: Box<Self>) {
        let close = self.serve_loop().await;
        if matches!(close, Close::Idle) {
            self.park();
            return;
        }
        Box::pin(self.finish(close)).await;
    }

    /// Whether to park now. A new connection with nothing to do parks at once (a client that connects
    /// and waits costs no task from the start); once resumed, a connection parks only when the sweep
    /// finds it idle for [`crate::park::PARK_AFTER_MS`], so steady traffic never parks and resumes it per packet.
    pub(super) fn should_park(&mut self) -> bool {
        let hinted = self.kick.take_park_hint();
        let idle = self.out_empty()
            && !self.stream.has_input()
            && self.rbuf.is_empty()
            && self.congested.is_empty()
            && self.inbound.is_none()
            && self.retained_lookups.is_empty();
        if !idle {
            if hinted {
                // Busy after all: the sweep asks again once it has been idle long enough.
                self.kick.active(self.seat.broker.now_ms());
            }
            return false;
        }
        (hinted || self.park_at_once)
            && !self.seat.broker.shutting_down.load(Ordering::Relaxed)
            && self.seat.broker.lot.as_ref().is_some_and(|l| l.open())
    }

    /// Parks the idle connection: its socket leaves the reactor for the broker's parking epoll, the
    /// state waits in its kick handle, and this task ends (see [`crate::park`]).
    pub(super) fn park(mut self: Box<Self>) {
        let Some(lot) = self.seat.broker.lot.clone() else {
            tokio::spawn(self.run());
            return;
        };
        // Nothing is buffered (that is what idle means): the connection waits in its compact form (see
        // [`super::Idle`]), and the session keeps no empty queues.
        self.session.state.lock().compact();
        let token = lot.token();
        if let Err(e) = self.stream.park(token) {
            tokio::spawn(Box::pin(self.finish(Close::Io(Some(e)))));
            return;
        }
        let kick = self.kick.clone();
        let watcher = kick.clone();
        if let Err((idle, e)) = kick.park(self.into_idle(), |fd| lot.watch(fd, token, watcher)) {
            if let Some(e) = e {
                log!(Warning, "Unable to park a connection, keeping it active: {e}.");
            }
            tokio::spawn(idle.into_conn().resume_active());
        }
    }

    /// A parked connection woken (bytes on its socket, a delivery, a kick). What can be served on the
    /// parked socket is served there: when that settles everything (the packets read are handled, what
    /// they and the queue call for is written), the connection parks again with only its epoll entry
    /// re-armed. Otherwise, or when it was served that way moments ago (steady traffic, see
    /// [`QUICK_WAKE_GAP_MS`]), it goes back into the reactor and runs.
    pub(super) async fn resumed(self: Box<Self>) {
        if let Some((conn, close)) = self.serve_quickly() {
            conn.carry_on(close).await;
        }
    }

    /// The same, on the caller's task (the parking task, for bytes on a parked socket): what cannot be
    /// settled without waiting goes on in a task of its own.
    pub(super) fn resumed_here(self: Box<Self>) {
        if let Some((conn, close)) = self.serve_quickly() {
            tokio::spawn(conn.carry_on(close));
        }
    }

    /// Serves the woken connection on its parked socket when that is the way (see [`Conn::resumed`]);
    /// `None` when it is settled and parked again, else the connection to carry on with, and why it
    /// ends if it does.
    fn serve_quickly(mut self: Box<Self>) -> Option<(Box<Self>, Option<Close>)> {
        let now = self.seat.broker.now_ms();
        let steady = self.served_parked_at.is_some_and(|at| now.saturating_sub(at) < QUICK_WAKE_GAP_MS);
        let quick = !steady
            && self.kick.reason().is_none()
            && !self.seat.broker.shutting_down.load(Ordering::Relaxed)
            && self.seat.broker.lot.as_ref().is_some_and(|l| l.open());
        if !quick {
            return Some((self, None));
        }
        self.served_parked_at = Some(now);
        // A wake that came before this is served by the pull below.
        self.kick.take_notification();
        match self.serve_parked() {
            Ok(true) => {
                self.repark();
                None
            }
            Ok(false) => Some((self, None)),
            Err(close) => {
                // Whatever becomes of the socket, the connection ends for this reason.
                let _ = self.unpark_socket();
                Some((self, Some(close)))
            }
        }
    }

    /// After [`Conn::serve_quickly`]: ends the connection for `close`, or back into the reactor.
    async fn carry_on(self: Box<Self>, close: Option<Close>) {
        match close {
            Some(close) => Box::pin(self.finish(close)).await,
            None => self.resume_active().await,
        }
    }

    /// Back into the reactor, then the loop.
    pub(super) async fn resume_active(mut self: Box<Self>) {
        self.park_at_once = false;
        match self.unpark_socket() {
            Ok(()) => self.run().await,
            Err(e) => Box::pin(self.finish(Close::Io(Some(e)))).await,
        }
    }

    /// Takes the socket out of the parking epoll and back into the reactor.
    fn unpark_socket(&mut self) -> std::io::Result<()> {
        if let (Some(lot), Some((fd, token))) = (&self.seat.broker.lot, self.stream.parked()) {
            lot.unwatch(fd, token);
        }
        self.stream.unpark()
    }

    /// Serves a parked connection on its parked socket: reads and handles what arrived, writes what
    /// that and its queue call for. Whether it is settled (nothing left to read, write or wait for).
    fn serve_parked(&mut self) -> Result<bool, Close> {
        self.refresh();
        self.read_and_handle()?;
        loop {
            let more = self.pull()?;
            if !self.out_empty() {
                self.flush()?;
            }
            if !more || !self.out_empty() {
                break;
            }
        }
        self.flush_stats();
        Ok(self.out_empty()
            && !self.stream.has_input()
            && self.retained_lookups.is_empty()
            && self.rbuf.is_empty()
            && self.congested.is_empty()
            && self.inbound.is_none()
            && self.kick.reason().is_none())
    }

    /// Parks again a connection served while parked (its epoll entry stays; see [`crate::park`]).
    fn repark(self: Box<Self>) {
        let Some(lot) = self.seat.broker.lot.clone() else {
            tokio::spawn(self.resume_active());
            return;
        };
        self.session.state.lock().compact();
        let Some((_, token)) = self.stream.parked() else {
            tokio::spawn(self.resume_active());
            return;
        };
        // The parking epoll is edge-triggered: when the read found the socket empty, bytes that come
        // after it are reported as they arrive. Otherwise (a layer's read, or one stopped by the read
        // budget) re-arming reports what is already there.
        let emptied = self.stream.parked_emptied();
        let kick = self.kick.clone();
        let rearm = |fd: BorrowedFd<'_>| if emptied { Ok(()) } else { lot.rearm(fd, token) };
        match kick.park(self.into_idle(), rearm) {
            Ok(()) => {}
            // A wake came meanwhile: serve it the same way.
            Err((idle, None)) => {
                tokio::spawn(idle.into_conn().resumed());
            }
            Err((idle, Some(e))) => {
                log!(Warning, "Unable to park a connection again, keeping it active: {e}.");
                tokio::spawn(idle.into_conn().resume_active());
            }
        }
    }

    /// Picks up reloaded settings and security.
    pub(super) fn refresh(&mut self) {
        let g = self.seat.broker.generation.load(Ordering::Acquire);
        if g != self.generation {
            self.generation = g;
            self.settings = self.seat.broker.settings();
            self.security = self.seat.listener.security.read().clone();
        }
    }

    pub(super) async fn serve_loop(&mut self) -> Close {
        // Packets read before the loop (behind the CONNECT, or on the parked socket) are handled before
        // waiting for the socket: a read that emptied it also cleared its readiness.
        if !self.rbuf.is_empty()
            && let Err(c) = self.handle_buffered()
        {
            return c;
        }
        loop {
            // Socket readiness does not count against tokio's cooperative budget: a publisher whose
            // socket always has data would never yield, and a subscriber it woke (placed in this worker's
            // LIFO slot, which other workers cannot steal) would starve. Spend budget explicitly.
            tokio::task::consume_budget().await;
            self.refresh();
            self.owed_retained_lookups();
            let more = match self.pull() {
                Ok(more) => more,
                Err(c) => return c,
            };
            if !self.out_empty()
                && let Err(e) = self.flush()
            {
                return e.into();
            }
            if more && self.out.len() < HIGH_WATER {
                // The queue holds more than the buffer took and the socket took it all: go again. (No
                // wake-up would come: publishers wake a session only when its queue was empty.)
                continue;
            }
            self.flush_stats();
            if !self.congested.is_empty() {
                Box::pin(self.wait_for_room()).await;
                // Packets read before the pause are handled now, before reading more.
                if let Err(c) = self.handle_buffered() {
                    return c;
                }
                if !self.congested.is_empty() {
                    continue;
                }
            }

            if let Some(reason) = self.kick.reason() {
                return match reason {
                    KickReason::TakenOver { .. } => Close::TakenOver,
                    KickReason::Shutdown => Close::Shutdown,
                    KickReason::KeepAlive => Close::KeepAlive,
                };
            }
            if self.should_park() {
                return Close::Idle;
            }
            let want_read = self.inbound.is_some() || self.out.len() < READ_STOP;
            // Output held for the store, or retained lookups for it to read back: wait for it as well.
            let gate = (self.gated() || !self.retained_lookups.is_empty()).then(|| self.seat.broker.clone());
            let want_write = (self.out.can_write() || self.stream.has_output()) && !self.gated();
            // The socket's readiness is polled in place (its wakers live in tokio's registration, not in
            // a future of ours) and one notifier serves deliveries and kicks: an idle connection's task
            // stays small. The notifier is always watched: a kick must be seen even by a connection
            // whose client stopped reading.
            let (readable, writable) = {
                let stored = gate
                    .as_ref()
                    .filter(|_| self.gated())
                    .and_then(|b| b.durable.written_notify())
                    .map(|n| n.notified());
                tokio::pin!(stored);
                if let Some(s) = stored.as_mut().as_pin_mut() {
                    s.enable();
                    if !self.gated() {
                        // Written meanwhile.
                        continue;
                    }
                }
                let back =
                    gate.as_ref().filter(|_| !self.retained_lookups.is_empty()).map(|b| b.retained_back.notified());
                tokio::pin!(back);
                if let Some(b) = back.as_mut().as_pin_mut() {
                    b.enable();
                    if !self.seat.broker.retained_pending() {
                        continue;
                    }
                }
                let notified = self.kick.notified();
                tokio::pin!(notified);
                let stream = &self.stream;
                std::future::poll_fn(|cx| {
                    if notified.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Ok((false, false)));
                    }
                    if let Some(s) = stored.as_mut().as_pin_mut()
                        && s.poll(cx).is_ready()
                    {
                        return Poll::Ready(Ok((false, false)));
                    }
                    if let Some(b) = back.as_mut().as_pin_mut()
                        && b.poll(cx).is_ready()
                    {
                        return Poll::Ready(Ok((false, false)));
                    }
                    let r = want_read && stream.poll_read_ready(cx)?.is_ready();
                    let w = want_write && stream.poll_write_ready(cx)?.is_ready();
                    if r || w { Poll::Ready(Ok((r, w))) } else { Poll::Pending }
                })
                .await
                .unwrap_or_else(|e: io::Error| {
                    // Reported by the read or write that follows.
                    let _ = e;
                    (want_read, want_write)
                })
            };
            if writable && let Err(e) = self.flush() {
                return e.into();
            }
            if readable && let Err(c) = self.read_and_handle() {
                return c;
            }
        }
    }

    /// Flow control: before reading more from this publisher, waits until the subscribers its messages
    /// congested have room again. A subscriber that does not keep draining at a useful pace is marked
    /// stalled instead: publishers stop waiting for it and its overflow is dropped (and counted), so one
    /// slow subscriber never sets the pace of its publishers, nor delays their PINGRESP, for more than
    /// [`CONGESTION_WAIT`].
    ///
    /// The pace asked for: in every [`CONGESTION_WAIT`], a tenth of its queue limit (so a full queue
    /// within a second). A client that keeps up with the traffic drains far faster; one that takes a
    /// message now and then (acknowledging every 80 ms, say) does not, however steadily it moves.
    pub(super) async fn wait_for_room(&mut self) {
        let window_ms = u64::try_from(CONGESTION_WAIT.as_millis()).unwrap_or(100);
        for s in std::mem::take(&mut self.congested) {
            loop {
                let notified = self.seat.broker.space.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                // A kick (takeover, shutdown) ends the wait; the pause itself is not the client's
                // silence, so keep alive counts it as heard from.
                if s.has_room() || !s.is_online() || self.kick.reason().is_some() {
                    break;
                }
                let now = self.seat.broker.now_ms();
                self.kick.touch(now);
                let until = match s.state.lock().judge_pace(now, window_ms) {
                    Pace::Wait(until) => until,
                    Pace::Stalled => {
                        log!(
                            Notice,
                            client = s.client_id,
                            "Client {} is not keeping up; dropping what overflows its queue.",
                            s.client_id
                        );
                        break;
                    }
                };
                let deadline = tokio::time::Instant::now() + Duration::from_millis(until.saturating_sub(now));
                tokio::select! {
                    _ = tokio::time::timeout_at(deadline, notified) => {}
                    () = self.kick.notified() => {}
                }
            }
        }
    }

    /// Adds this connection's counts to its listener's and the broker's.
    pub(super) fn flush_stats(&mut self) {
        self.seat.listener.traffic.add(&self.local);
        self.seat.broker.stats.flush(&mut self.local);
    }

    /// Writes what the socket takes.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        if self.gated() {
            // What is buffered depends on changes the store has not written yet.
            return Ok(());
        }
        if self.stream.has_output() {
            self.stream.flush()?;
        }
        let n = self.out.write_to(&mut self.stream)?;
        if n > 0 {
            self.local.bytes_sent += n as u64;
            self.kick.active(self.seat.broker.now_ms());
        }
        Ok(())
    }

    /// Records that what this connection sends from now on depends on every change appended so far to
    /// the persistent store (see [`crate::durable`]).
    pub(super) fn note_durable(&mut self) {
        self.durable_at = self.seat.broker.durable.appended();
    }

    /// Whether output waits for the store to write what it depends on.
    pub(super) fn gated(&self) -> bool {
        !self.seat.broker.durable.written().covers(self.durable_at)
    }

    /// Whether nothing waits to be written (in the output buffer or held by a stream layer).
    pub(super) fn out_empty(&self) -> bool {
        self.out.is_empty() && !self.stream.has_output()
    }

    /// Reads what is available and handles every complete packet.
    pub(super) fn read_and_handle(&mut self) -> Result<(), Close> {
        let mut total = 0;
        // The close (`None`) or failure that ended the reads, if one did.
        let mut ended: Option<Option<io::Error>> = None;
        loop {
            let read = match &mut self.inbound {
                Some(inbound) => match inbound.payload.spare() {
                    Ok(spare) => self.stream.try_read(spare),
                    Err(e) => Err(e),
                },
                None => {
                    // Start small (most reads of an idle client are a PINGREQ); grow while data keeps coming.
                    if self.rbuf.capacity() - self.rbuf.len() < 1024 {
                        self.rbuf.reserve(if total == 0 && self.rbuf.is_empty() { 2048 } else { 16 * 1024 });
                    }
                    self.stream.try_read_buf(&mut self.rbuf)
                }
            };
            match read {
                Ok(0) => {
                    ended = Some(None);
                    break;
                }
                Ok(n) => {
                    total += n;
                    match &mut self.inbound {
                        Some(inbound) => {
                            inbound.payload.advance(n);
                            if inbound.payload.is_complete() {
                                self.complete_inbound()?;
                            }
                        }
                        // A large PUBLISH at the front goes to pieces of its own from its head on.
                        None if self.congested.is_empty() => {
                            self.start_inbound()?;
                        }
                        None => {}
                    }
                    // A parked socket that a read emptied is not read again only to hear `WouldBlock`.
                    if total >= READ_BUDGET || !self.congested.is_empty() || self.stream.parked_emptied() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // A reset (a peer that closed with our bytes unread) comes after the bytes it sent
                // before: those are handled first, like those before an orderly close.
                Err(e) => {
                    ended = Some(Some(e));
                    break;
                }
            }
        }
        if total > 0 {
            self.local.bytes_received += total as u64;
            self.kick.touch(self.seat.broker.now_ms());
        }
        self.handle_buffered()?;
        // Packets that arrived before the close are still the client's: while flow control holds them,
        // the connection stays until they are handled (the next read sees the close again).
        if let Some(e) = ended
            && (self.congested.is_empty() || self.rbuf.is_empty())
        {
            return Err(Close::Io(e));
        }
        Ok(())
    }

    /// Handles the complete packets in the read buffer, stopping early when a publication congested a
    /// subscriber (flow control: the rest waits until there is room).
    pub(super) fn handle_buffered(&mut self) -> Result<(), Close> {
        let limit = self.settings.incoming_packet_limit();
        while self.congested.is_empty() && self.inbound.is_none() {
            if self.start_inbound()? {
                break;
            }
            if let Some(v) = self.rbuf.first().and_then(|&b| self.refused_by_type(b)) {
                return Err(v.into());
            }
            if self.settle_pubacks()? {
                continue;
            }
            let Some(p) = mq_proto::decode(&mut self.rbuf, self.proto.version, limit)? else {
                break;
            };
            self.local.msgs_received += 1;
            self.handle(p)?;
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            // Idle connections hold no read buffer.
            self.rbuf = BytesMut::new();
        }
        Ok(())
    }

    /// While closing: waits until more can be written (`false` when the socket failed), or until the
    /// store has written what the output depends on.
    /// (`&mut`: the connection is `Send`, not `Sync`.)
    async fn wait_to_write(&mut self) -> bool {
        if self.gated() {
            let broker = self.seat.broker.clone();
            if let Some(n) = broker.durable.written_notify() {
                let notified = n.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.gated() {
                    let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
                }
            }
            return true;
        }
        self.stream.writable().await.is_ok()
    }

    /// Ends the connection: tells MQTT 5 clients why where the spec allows, flushes, and detaches the
    /// session (publishing the will when the close was not a normal DISCONNECT).
    pub(super) async fn finish(mut self: Box<Self>, close: Close) {
        if let Some(inbound) = self.inbound.take() {
            // The packet never completed: nothing of it was published.
            log!(
                Notice,
                client = self.client_id,
                "Client {} went away {} bytes into a {}-byte message; it is not published.",
                self.client_id,
                inbound.payload.received(),
                inbound.payload.len()
            );
        }
        let (publish_will, reason, log_line) = match &close {
            Close::Disconnect { will } => (*will, None, format!("Client {} disconnected.", self.client_id)),
            Close::Io(None) => (true, None, format!("Client {} closed its connection.", self.client_id)),
            Close::Io(Some(e)) => {
                (true, None, format!("Socket error on client {}, disconnecting: {e}.", self.client_id))
            }
            Close::Protocol(why) => (
                true,
                Some(why.reason_code()),
                format!("Client {} disconnected due to protocol error: {why}.", self.client_id),
            ),
            Close::KeepAlive => (
                true,
                Some(ReasonCode::KEEP_ALIVE_TIMEOUT),
                format!("Client {} has exceeded timeout, disconnecting.", self.client_id),
            ),
            Close::TakenOver => (
                false,
                Some(ReasonCode::SESSION_TAKEN_OVER),
                format!("Client {} already connected, closing old connection.", self.client_id),
            ),
            Close::Shutdown => (false, Some(ReasonCode::SERVER_SHUTTING_DOWN), String::new()),
            Close::StoreFull => (
                true,
                Some(ReasonCode::QUOTA_EXCEEDED),
                format!("Client {} disconnected: its message cannot be stored now.", self.client_id),
            ),
            Close::Idle => (true, None, format!("Client {} closed its connection.", self.client_id)),
        };
        if self.settings.connection_messages && !log_line.is_empty() {
            log!(Notice, client = self.client_id, "{log_line}");
        }
        if matches!(close, Close::Shutdown) {
            // Deliver what is queued for this client before going.
            let deadline = Instant::now() + SHUTDOWN_FLUSH;
            let _ = tokio::time::timeout_at(deadline.into(), async {
                loop {
                    if self.pull().is_err() {
                        break;
                    }
                    tokio::task::consume_budget().await;
                    if self.out_empty() || self.flush().is_err() || !self.wait_to_write().await {
                        break;
                    }
                }
            })
            .await;
        }
        if let (Some(code), true) = (reason, self.proto.version.is_v5()) {
            self.send(Packet::Disconnect(Disconnect::new(code)));
        }
        if !matches!(close, Close::Io(_)) {
            // TLS close_notify, WebSocket close frame: after the DISCONNECT, flushed with it.
            self.stream.close();
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while !self.out_empty() {
                    if self.flush().is_err() || !self.wait_to_write().await {
                        break;
                    }
                }
            })
            .await;
        }
        self.seat.broker.detach(&self.session, self.id, publish_will, self.proto.expiry());
        self.seat.broker.stats.connected.fetch_sub(1, Ordering::Relaxed);
        self.flush_stats();
    }
}
