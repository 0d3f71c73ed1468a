//! Parking idle connections.
//!
//! A connected client that has neither sent nor been sent anything for [`PARK_AFTER_MS`] is parked: its
//! task ends, its socket leaves tokio's reactor and is watched by the broker's one parking epoll instead,
//! and the connection's state waits in its session's [`Kick`] handle. What an idle client costs is then
//! its connection state, its session and a kernel epoll entry, without a task or reactor registration.
//!
//! A parked connection is resumed by whatever would have woken its task: bytes or a close on its socket
//! (seen here), a delivery queued for it, or a kick (takeover, shutdown, keep alive; the broker's sweep
//! watches keep alive for parked connections as for any other). Resuming first serves what it can on
//! the parked socket itself (a PINGREQ, a PUBLISH and its acknowledgement, a delivery): when that
//! settles everything, the connection stays parked and keeps its epoll entry, so an IoT client
//! publishing every few seconds never pays for a reactor registration.
//!
//! The parking epoll is edge-triggered: it reports bytes as they arrive, once. A parked socket is
//! therefore read until a read finds it empty (fewer bytes than it had room for), and then needs
//! nothing more: no read only to hear `WouldBlock`, no re-arming. When a read may have left bytes
//! (through a TLS or WebSocket layer, or stopped by the read budget), parking again re-arms the entry,
//! which reports bytes already there. An event for a connection that is not parked at that moment
//! (another task is serving it on its parked socket) leaves a wake in its [`Kick`], so that task
//! serves again rather than parking with unread bytes. Otherwise the socket
//! goes back into the reactor and a task runs the connection again. Parking and resuming both happen
//! under the [`Kick`]'s lock, so a wake is never lost between the two.
//!
//! The parking epoll is itself watched by the runtime (a task waits for it to be readable), so a
//! resume runs on a runtime thread at once, without a thread of its own to wake.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use parking_lot::Mutex;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::kick::Kick;

/// Milliseconds without traffic either way after which a connection parks.
pub const PARK_AFTER_MS: u64 = 2000;

/// A parked connection woken again within this many milliseconds of the last wake it was served on the
/// parked socket goes back into the runtime instead: steady traffic (a subscriber of a busy topic) is
/// served by a running task, not by a resume and a re-park per wake, while an occasional packet (a
/// PINGREQ, a sparse publisher) is still served without leaving the parking epoll.
pub const QUICK_WAKE_GAP_MS: u64 = 100;

/// Most readiness events taken per wake of the parking task.
const EVENTS_PER_TURN: usize = 256;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The parking epoll and who waits on it.
#[derive(Debug)]
pub struct Lot {
    epoll: Epoll,
    next: AtomicU64,
    /// Whether the parking task runs (nothing parks before it does, or if it cannot).
    running: AtomicBool,
    /// Parked connections by token (tokens are never reused, so a late event cannot wake a stranger).
    parked: Mutex<FastMap<u64, Arc<Kick>>>,
}

impl Lot {
    /// A new, empty lot.
    pub fn new() -> io::Result<Lot> {
        Ok(Lot {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            next: AtomicU64::new(1),
            running: AtomicBool::new(false),
            parked: Mutex::new(FastMap::default()),
        })
    }

    /// Whether connections may park.
    pub fn open(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// A token for the next socket to watch.
    pub fn token(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Watches a parked socket: when it becomes readable or closes, `kick` resumes its connection.
    /// Readiness that is already there is reported at once.
    pub fn watch(&self, fd: BorrowedFd<'_>, token: u64, kick: Arc<Kick>) -> io::Result<()> {
        self.parked.lock().insert(token, kick);
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET;
        if let Err(e) = self.epoll.add(fd, EpollEvent::new(flags, token)) {
            self.parked.lock().remove(&token);
            return Err(e.into());
        }
        Ok(())
    }

    /// Reports bytes already on a parked socket, as if they had just arrived (a connection parks again
    /// after a read that may have left some).
    pub fn rearm(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET;
        self.epoll.modify(fd, &mut EpollEvent::new(flags, token)).map_err(Into::into)
    }

    /// Stops watching a socket (its connection is being resumed).
    pub fn unwatch(&self, fd: BorrowedFd<'_>, token: u64) {
        let _ = self.epoll.delete(fd);
        self.parked.lock().remove(&token);
    }

    /// How many connections are parked.
    pub fn len(&self) -> usize {
        self.parked.lock().len()
    }

    /// Whether no connection is parked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts the task that resumes connections whose sockets become ready (within the runtime; it
    /// runs for the broker's life). The parking epoll is watched by the runtime's own reactor.
    pub fn start(self: &Arc<Self>) {
        // The safe constructor is deprecated because a registered descriptor could be closed behind the
        // reactor's back; this one is owned by the lot, which `LotFd` keeps alive as long as it is
        // registered.
        #[allow(deprecated)]
        let registered = AsyncFd::with_interest(LotFd(self.clone()), Interest::READABLE);
        match registered {
            Ok(fd) => {
                self.running.store(true, Ordering::Release);
                tokio::spawn(self.clone().run(fd));
            }
            Err(e) => log!(Error, "Unable to watch parked connections: {e}."),
        }
    }

    async fn run(self: Arc<Self>, fd: AsyncFd<LotFd>) {
        let mut events = vec![EpollEvent::empty(); EVENTS_PER_TURN];
        loop {
            let mut guard = match fd.readable().await {
                Ok(g) => g,
                Err(e) => return self.fail(&e.to_string()),
            };
            loop {
                let n = match self.epoll.wait(&mut events, EpollTimeout::ZERO) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return self.fail(&e.to_string()),
                };
                for ev in events.iter().take(n) {
                    let kick = self.parked.lock().get(&ev.data()).cloned();
                    if let Some(k) = kick {
                        // Bytes on a parked socket (a PINGREQ, a sparse publisher's message) are served
                        // here, without a task of their own; anything longer goes on in one.
                        k.socket_ready();
                    }
                }
                if n < events.len() {
                    break;
                }
            }
            guard.clear_ready();
        }
    }

    /// The parking epoll failed: nothing parks from now on, and what is parked resumes.
    fn fail(&self, e: &str) {
        self.running.store(false, Ordering::Release);
        log!(Error, "Unable to watch parked connections: {e}.");
        let parked: Vec<Arc<Kick>> = self.parked.lock().values().cloned().collect();
        for k in parked {
            k.resume_parked();
        }
    }
}

/// The parking epoll's descriptor, for the runtime's reactor to watch.
struct LotFd(Arc<Lot>);

impl AsRawFd for LotFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.epoll.0.as_raw_fd()
    }
}
