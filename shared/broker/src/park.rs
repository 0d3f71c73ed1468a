//! Parking idle connections.
//!
//! A connected client that has neither sent nor been sent anything for [`PARK_AFTER_MS`] is parked: its
//! task ends, its socket leaves tokio's reactor and is watched by the broker's one parking epoll instead,
//! and the connection's state waits in its session's [`Kick`] handle. What an idle client costs is then
//! its connection state, its session and a kernel epoll entry, without a task or reactor registration.
//!
//! A parked connection is resumed (a new task picks its state up, the socket goes back into the reactor)
//! by whatever would have woken its task: bytes or a close on its socket (seen here), a delivery queued
//! for it, or a kick (takeover, shutdown, keep alive; the broker's sweep watches keep alive for parked
//! connections as for any other). Parking and resuming both happen under the [`Kick`]'s lock, so a wake
//! is never lost between the two.

use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use parking_lot::Mutex;

use crate::kick::Kick;

/// Milliseconds without traffic either way after which a connection parks.
pub const PARK_AFTER_MS: u64 = 2000;

/// Most readiness events taken per wake of the parking task.
const EVENTS_PER_TURN: usize = 256;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The parking epoll and who waits on it.
#[derive(Debug)]
pub struct Lot {
    epoll: Epoll,
    next: AtomicU64,
    /// Whether the parking thread runs (nothing parks before it does, or if it cannot).
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
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLONESHOT;
        if let Err(e) = self.epoll.add(fd, EpollEvent::new(flags, token)) {
            self.parked.lock().remove(&token);
            return Err(e.into());
        }
        Ok(())
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

    /// Starts the thread that resumes connections whose sockets become ready; it runs for the process's
    /// life, resuming them into the runtime of `handle`.
    pub fn start(self: &Arc<Self>, handle: tokio::runtime::Handle) {
        let lot = self.clone();
        let started = std::thread::Builder::new().name("mq-park".into()).spawn(move || {
            let _runtime = handle.enter();
            lot.run();
        });
        match started {
            Ok(_) => self.running.store(true, Ordering::Release),
            Err(e) => log!(Error, "Unable to watch parked connections: {e}."),
        }
    }

    fn run(&self) {
        let mut events = vec![EpollEvent::empty(); EVENTS_PER_TURN];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    // Nothing parks from now on, and what is parked resumes.
                    self.running.store(false, Ordering::Release);
                    log!(Error, "Unable to watch parked connections: {e}.");
                    let parked: Vec<Arc<Kick>> = self.parked.lock().values().cloned().collect();
                    for k in parked {
                        k.resume_parked();
                    }
                    return;
                }
            };
            for ev in events.iter().take(n) {
                let kick = self.parked.lock().get(&ev.data()).cloned();
                if let Some(k) = kick {
                    k.resume_parked();
                }
            }
        }
    }
}
