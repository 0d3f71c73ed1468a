//! The handle a connection leaves in its session while attached ([`Kick`]): how to wake it, how to
//! stop it, when it last heard from its client, and where it waits while parked ([`Parked`], see
//! [`crate::park`]).

use std::future::Future;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Waker};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Why an attached connection must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    /// Another connection took the client id; `session_ends` says whether this session ends with it
    /// (which decides whether the old connection's will is published).
    TakenOver { session_ends: bool },
    /// The broker is shutting down.
    Shutdown,
    /// Nothing arrived for one and a half times the keep alive ([MQTT-3.1.2-24]).
    KeepAlive,
}

/// The handle a connection leaves in its session while attached: how to wake it (deliveries queued),
/// how to stop it, and when it last heard from its client (the broker's sweep enforces keep alive for
/// every connection at once, so no connection needs a timer of its own). One notifier serves waking and
/// stopping, so an idle connection waits on a single future besides its socket. A parked connection
/// (see [`crate::park`]) waits here, and a wake or a kick resumes it.
#[derive(Debug)]
pub struct Kick {
    notify: Notify,
    inner: Mutex<KickState>,
    /// Milliseconds since broker start when the last bytes arrived.
    last_rx: AtomicU64,
    /// Milliseconds since broker start when bytes last moved either way.
    last_active: AtomicU64,
    /// The sweep found the connection idle: it should park.
    park_hint: AtomicBool,
    /// Whether the connection waits parked here (set and cleared under `inner`'s lock; read without it
    /// by the sweep, which then passes parked connections by without taking the lock).
    is_parked: AtomicBool,
    /// Silence allowed before the connection is closed, in milliseconds (0: no keep alive; at most
    /// 65,535 s and a half: 32 bits hold it, and every attached connection has a handle).
    grace_ms: u32,
}

/// A parked connection: its state, waiting to be picked up again.
pub trait Parked: Send {
    /// The parked socket.
    fn fd(&self) -> Option<BorrowedFd<'_>>;
    /// Serves the connection again: what it can while still parked, or back in the runtime (call within
    /// the runtime).
    fn resume(self: Box<Self>);
    /// Serves the connection again, what it can on the caller's task (which must not hold a lock a
    /// connection takes: the parking task does not), the rest as [`Parked::resume`].
    fn resume_here(self: Box<Self>) {
        self.resume();
    }
}

#[derive(Default)]
struct KickState {
    reason: Option<KickReason>,
    parked: Option<Box<dyn Parked>>,
}

impl std::fmt::Debug for KickState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KickState").field("reason", &self.reason).field("parked", &self.parked.is_some()).finish()
    }
}

impl Kick {
    /// A fresh handle for a connection with `keep_alive` seconds, last heard from at `now_ms`.
    pub fn new(keep_alive: u16, now_ms: u64) -> Arc<Kick> {
        Arc::new(Kick {
            notify: Notify::new(),
            inner: Mutex::new(KickState::default()),
            last_rx: AtomicU64::new(now_ms),
            last_active: AtomicU64::new(now_ms),
            park_hint: AtomicBool::new(false),
            is_parked: AtomicBool::new(false),
            grace_ms: u32::from(keep_alive) * 1500,
        })
    }

    /// Records that bytes arrived at `now_ms`.
    pub fn touch(&self, now_ms: u64) {
        self.last_rx.store(now_ms, Ordering::Relaxed);
        self.last_active.store(now_ms, Ordering::Relaxed);
    }

    /// Records that bytes were sent (or the connection was otherwise busy) at `now_ms`.
    pub fn active(&self, now_ms: u64) {
        self.last_active.store(now_ms, Ordering::Relaxed);
    }

    /// Whether the keep alive ran out at `now_ms`.
    pub fn silent_too_long(&self, now_ms: u64) -> bool {
        self.grace_ms > 0 && now_ms > self.last_rx.load(Ordering::Relaxed) + u64::from(self.grace_ms)
    }

    /// Asks the connection to stop.
    pub fn kick(&self, reason: KickReason) {
        self.inner.lock().reason = Some(reason);
        // Notify before looking for a parked connection: a connection deciding to park checks for the
        // notification under the lock that `resume_parked` takes (see `Kick::park`).
        self.notify.notify_one();
        self.resume_parked();
    }

    /// Wakes the connection: its session's queue has deliveries.
    pub fn wake(&self) {
        self.notify.notify_one();
        self.resume_parked();
    }

    /// Completes after a wake or a kick (check [`Kick::reason`]); a wake given while nobody waited is
    /// kept for the next call.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// The reason, if kicked.
    pub fn reason(&self) -> Option<KickReason> {
        self.inner.lock().reason
    }

    /// Whether a connection idle for `after_ms` at `now_ms` is running and not yet asked to park: only
    /// atomic reads, so the sweep can ask it of every connection cheaply (and under its session's lock).
    pub fn may_park(&self, now_ms: u64, after_ms: u64) -> bool {
        now_ms >= self.last_active.load(Ordering::Relaxed) + after_ms
            && !self.park_hint.load(Ordering::Relaxed)
            && !self.is_parked.load(Ordering::Relaxed)
    }

    /// Asks a connection that has been idle for `after_ms` at `now_ms` to park (from the sweep).
    pub fn hint_park(&self, now_ms: u64, after_ms: u64) {
        if self.may_park(now_ms, after_ms) && self.inner.lock().parked.is_none() {
            self.park_hint.store(true, Ordering::Relaxed);
            self.notify.notify_one();
        }
    }

    /// Whether the sweep asked this connection to park (clears the request).
    pub fn take_park_hint(&self) -> bool {
        self.park_hint.swap(false, Ordering::Relaxed)
    }

    /// Parks `conn` here: `watch` registers its socket, under the same lock that a resume takes, so
    /// readiness reported at once cannot miss it. Wakes and kicks notify before they look for a parked
    /// connection, so one given while the connection was deciding to park left a notification that is
    /// seen here, under the lock: then the connection is not parked. `Err` gives the connection back,
    /// with the error when `watch` failed and `None` when a wake came.
    pub fn park<P: Parked + 'static>(
        &self,
        conn: Box<P>,
        watch: impl FnOnce(BorrowedFd<'_>) -> std::io::Result<()>,
    ) -> Result<(), (Box<P>, Option<std::io::Error>)> {
        let mut st = self.inner.lock();
        {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            if notified.poll(&mut Context::from_waker(Waker::noop())).is_ready() {
                return Err((conn, None));
            }
        }
        let watched = match conn.fd() {
            Some(fd) => watch(fd),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        };
        if let Err(e) = watched {
            return Err((conn, Some(e)));
        }
        st.parked = Some(conn);
        self.is_parked.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Consumes a wake given while nobody waited (a resumed connection is about to look at its queue
    /// anyway); a wake given after this is seen by the next park or wait.
    pub fn take_notification(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        let _ = notified.poll(&mut Context::from_waker(Waker::noop()));
    }

    fn take_parked(&self) -> Option<Box<dyn Parked>> {
        let mut st = self.inner.lock();
        self.is_parked.store(false, Ordering::Relaxed);
        st.parked.take()
    }

    /// Resumes the connection if it is parked.
    pub fn resume_parked(&self) {
        let parked = self.take_parked();
        if let Some(p) = parked {
            p.resume();
        }
    }

    /// Bytes or a close on the connection's parked socket: resumes the connection if it is parked,
    /// serving what it can on the caller's task (see [`Parked::resume_here`]; for the parking task,
    /// which saves a task per packet on a parked socket). The parking epoll reports bytes only once
    /// (see [`crate::park`]), so when the connection is not parked at this moment (a task is serving it
    /// on its parked socket), the wake is left for that task: it serves again instead of parking.
    pub fn socket_ready(&self) {
        self.notify.notify_one();
        self.resume_parked_here();
    }

    /// Resumes the connection if it is parked, serving what it can on the caller's task (see
    /// [`Parked::resume_here`]).
    fn resume_parked_here(&self) {
        let parked = self.take_parked();
        if let Some(p) = parked {
            p.resume_here();
        }
    }
}
