//! The journal: records appended by the broker's threads into a shared buffer, written out by one
//! writer thread in batches (group commit), fsynced as the [`Fsync`] policy says. The broker holds an
//! acknowledgement back until [`Journal::written`] passes the position its change was appended at.
//!
//! The writer never blocks an appender: appending is a copy into memory under a short lock. A failed
//! write (a full disk) is retried from the last good record once a second, and [`Journal::is_full`]
//! says so meanwhile. Segments roll at [`SEGMENT_BYTES`]; once the journal since the last base has grown
//! past [`COMPACT_AFTER`], a compaction thread folds the closed segments and the base into a new base.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use parking_lot::{Condvar, Mutex};

use crate::file::{self, Kind};
use crate::record::{Framer, Record};
use crate::state::State;

/// A journal segment is closed and a new one begun past this size.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// The closed segments are folded into a new base once they hold this much, and more than the base.
pub const COMPACT_AFTER: u64 = 128 * 1024 * 1024;

/// When the journal is flushed to stable storage (power-loss durability). Every record is written to
/// the operating system before anything it covers is acknowledged, whatever the policy: a broker that
/// is killed loses nothing acknowledged; the policy decides what a power cut can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Never explicitly (the system writes back when it will).
    Never,
    /// Before anything is acknowledged: every batch is fsynced (group commit).
    Always,
    /// At most this long after a record was written.
    Every(Duration),
}

/// Something the writer wants the broker to know (to log it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Writing failed (a full disk): new records wait, and are written once it works again.
    WriteFailed(String),
    /// Writing works again.
    WriteRecovered,
    /// A compaction ended: bytes of the new base, or why it failed.
    Compacted(Result<u64, String>),
}

type Hook = Box<dyn Fn(Event) + Send + Sync>;
type Waker = Box<dyn Fn() + Send + Sync>;

struct Shared {
    pending: Mutex<Pending>,
    more: Condvar,
    /// Bytes appended since the journal was opened.
    appended: AtomicU64,
    /// Bytes written (and synced, under [`Fsync::Always`]).
    written: AtomicU64,
    full: AtomicBool,
    stop: AtomicBool,
    /// Whether compaction may run (not while earlier files are still being replayed).
    compaction_allowed: AtomicBool,
    /// Milliseconds the writer waits before each batch (for tests that need the window between an
    /// append and its write to be wide).
    delay_ms: AtomicU64,
    waker: Mutex<Option<Waker>>,
    hook: Mutex<Option<Hook>>,
}

/// What is appended and not yet taken by the writer, in order: `bufs`, then `buf`.
#[derive(Default)]
struct Pending {
    bufs: Vec<Bytes>,
    /// Records copied in one after another. The writer takes what it holds and leaves its spare
    /// capacity, which is used again once the writer has let go of what it took.
    buf: BytesMut,
    /// Position after the last record.
    end: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.bufs.is_empty() && self.buf.is_empty()
    }

    /// Everything appended, for one write.
    fn take(&mut self) -> Vec<Bytes> {
        let mut bufs = std::mem::take(&mut self.bufs);
        if !self.buf.is_empty() {
            bufs.push(self.buf.split().freeze());
        }
        bufs
    }
}

/// Capacity of the buffer records are copied into.
const PENDING_BYTES: usize = 256 * 1024;

thread_local! {
    /// Where an appending thread frames its records before taking the journal's lock.
    static FRAMER: RefCell<Framer> = RefCell::new(Framer::default());
}

/// The journal of an open store.
pub struct Journal {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("appended", &self.appended())
            .field("written", &self.written())
            .field("full", &self.is_full())
            .finish()
    }
}

impl Journal {
    /// Starts the writer on `dir`, appending to a new segment `seq` (the files before it are closed).
    pub(crate) fn start(dir: PathBuf, seq: u64, sync: Fsync) -> io::Result<Journal> {
        let path = dir.join(file::name(Kind::Journal, seq));
        let f = file::create(&path, seq)?;
        f.sync_all()?;
        file::sync_dir(&dir)?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            more: Condvar::new(),
            appended: AtomicU64::new(0),
            written: AtomicU64::new(0),
            full: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            compaction_allowed: AtomicBool::new(false),
            waker: Mutex::new(None),
            hook: Mutex::new(None),
        });
        let writer = Writer {
            shared: shared.clone(),
            dir,
            seq,
            file: f,
            file_len: file::HEADER as u64,
            sync,
            last_sync: Instant::now(),
            unsynced: false,
            compacting: None,
        };
        let handle = std::thread::Builder::new().name("mq-store".into()).spawn(move || writer.run())?;
        Ok(Journal { shared, writer: Mutex::new(Some(handle)) })
    }

    /// Appends a record; returns the position after it (see [`Journal::written`]).
    pub fn append(&self, r: &Record) -> u64 {
        self.append_with(|f| f.record(r))
    }

    /// Appends the records `frame` frames, together (one after another, as one change); returns the
    /// position after them. They are framed before the journal's lock is taken, and copied in under
    /// it (blobs larger than [`crate::record::COPY_BLOB_UP_TO`] are written from where they are).
    pub fn append_with(&self, frame: impl FnOnce(&mut Framer)) -> u64 {
        FRAMER.with(|f| {
            // A framer in use means `frame` appends itself: frame into one of its own then.
            let mut own = Framer::default();
            let mut held = f.try_borrow_mut();
            let f = match &mut held {
                Ok(f) => &mut **f,
                Err(_) => &mut own,
            };
            frame(f);
            if f.is_empty() {
                return self.appended();
            }
            let len = f.len() as u64;
            let mut pending = self.shared.pending.lock();
            let p = &mut *pending;
            f.drain(|bytes, blob| {
                if !bytes.is_empty() {
                    if p.buf.capacity() - p.buf.len() < bytes.len() {
                        p.buf.reserve(bytes.len().max(PENDING_BYTES));
                    }
                    p.buf.extend_from_slice(bytes);
                }
                if let Some(blob) = blob {
                    if !p.buf.is_empty() {
                        p.bufs.push(p.buf.split().freeze());
                    }
                    p.bufs.push(blob);
                }
            });
            p.end += len;
            let end = p.end;
            self.shared.appended.store(end, Ordering::Release);
            drop(pending);
            drop(held);
            self.shared.more.notify_one();
            end
        })
    }

    /// Bytes appended so far.
    pub fn appended(&self) -> u64 {
        self.shared.appended.load(Ordering::Acquire)
    }

    /// Bytes written so far (synced too under [`Fsync::Always`]): a change appended at or before this
    /// position survives the broker being killed.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Acquire)
    }

    /// Whether writing is failing (a full disk): new messages that need storing should be refused.
    pub fn is_full(&self) -> bool {
        self.shared.full.load(Ordering::Relaxed)
    }

    /// Lets compaction run (once the files it would fold are no longer being read).
    pub fn allow_compaction(&self) {
        self.shared.compaction_allowed.store(true, Ordering::Release);
    }

    /// Makes the writer wait this long before each batch (tests of what depends on a write).
    pub fn set_write_delay(&self, d: Duration) {
        self.shared.delay_ms.store(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// Called (on the writer thread) each time [`Journal::written`] moves.
    pub fn set_waker(&self, w: impl Fn() + Send + Sync + 'static) {
        *self.shared.waker.lock() = Some(Box::new(w));
    }

    /// Called (on the writer thread) with what the broker should log.
    pub fn set_hook(&self, h: impl Fn(Event) + Send + Sync + 'static) {
        *self.shared.hook.lock() = Some(Box::new(h));
    }

    /// Writes (and syncs) everything appended and stops the writer (at shutdown); records appended
    /// after this are not written.
    pub fn close(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.more.notify_all();
        let handle = self.writer.lock().take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

struct Writer {
    shared: Arc<Shared>,
    dir: PathBuf,
    seq: u64,
    file: File,
    file_len: u64,
    sync: Fsync,
    last_sync: Instant,
    unsynced: bool,
    compacting: Option<JoinHandle<Result<u64, String>>>,
}

impl Writer {
    fn event(&self, e: Event) {
        if let Some(h) = &*self.shared.hook.lock() {
            h(e);
        }
    }

    fn run(mut self) {
        loop {
            let (bufs, end, stopping) = {
                let mut p = self.shared.pending.lock();
                let mut waited = false;
                while p.is_empty() && !self.shared.stop.load(Ordering::Acquire) {
                    let wait = match (self.sync, self.unsynced) {
                        (Fsync::Every(d), true) => d.saturating_sub(self.last_sync.elapsed()),
                        _ => Duration::from_secs(1),
                    };
                    waited = true;
                    if self.shared.more.wait_for(&mut p, wait).timed_out() {
                        break;
                    }
                }
                if waited && !p.is_empty() {
                    // Woken by the first record of a burst: let the threads appending the rest of it
                    // run first, so that one write (and one wake of those waiting for it) covers them.
                    drop(p);
                    std::thread::yield_now();
                    p = self.shared.pending.lock();
                }
                (p.take(), p.end, self.shared.stop.load(Ordering::Acquire))
            };
            if !bufs.is_empty() {
                self.write_batch(bufs, end);
            }
            self.sync_if_due(false);
            self.maybe_roll();
            self.reap_compaction();
            if stopping && self.shared.pending.lock().is_empty() {
                self.sync_if_due(true);
                if let Some(h) = self.compacting.take() {
                    let _ = h.join();
                }
                return;
            }
        }
    }

    /// Writes a batch, retrying once a second from the last good record while writing fails.
    fn write_batch(&mut self, bufs: Vec<Bytes>, end: u64) {
        let delay = self.shared.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let mut failed = false;
        loop {
            match write_all(&mut self.file, &bufs) {
                Ok(n) => {
                    self.file_len += n;
                    self.unsynced = true;
                    if self.sync == Fsync::Always {
                        self.sync_if_due(true);
                    }
                    break;
                }
                Err(e) => {
                    // Cut whatever part of the batch got in, so the file ends on a whole record.
                    let _ = self.file.set_len(self.file_len);
                    let _ = std::io::Seek::seek(&mut self.file, io::SeekFrom::Start(self.file_len));
                    if !failed {
                        failed = true;
                        self.shared.full.store(true, Ordering::Relaxed);
                        self.event(Event::WriteFailed(e.to_string()));
                    }
                    if self.shared.stop.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        if failed {
            self.shared.full.store(false, Ordering::Relaxed);
            self.event(Event::WriteRecovered);
        }
        self.shared.written.store(end, Ordering::Release);
        if let Some(w) = &*self.shared.waker.lock() {
            w();
        }
    }

    fn sync_if_due(&mut self, force: bool) {
        if !self.unsynced {
            return;
        }
        let due = match self.sync {
            Fsync::Never => force,
            Fsync::Always => true,
            Fsync::Every(d) => force || self.last_sync.elapsed() >= d,
        };
        if due && self.file.sync_data().is_ok() {
            self.unsynced = false;
            self.last_sync = Instant::now();
        }
    }

    /// Closes a segment grown past [`SEGMENT_BYTES`] and starts the next; starts a compaction when the
    /// closed segments have grown large enough.
    fn maybe_roll(&mut self) {
        if self.file_len < SEGMENT_BYTES {
            return;
        }
        self.sync_if_due(true);
        let next = self.seq + 1;
        let Ok(f) = file::create(&self.dir.join(file::name(Kind::Journal, next)), next) else { return };
        let _ = f.sync_all();
        let _ = file::sync_dir(&self.dir);
        self.file = f;
        self.file_len = file::HEADER as u64;
        self.seq = next;
        if self.compacting.is_none()
            && self.shared.compaction_allowed.load(Ordering::Acquire)
            && closed_journal_bytes(&self.dir, next).is_some_and(|(j, b)| j > COMPACT_AFTER && j > b)
        {
            let dir = self.dir.clone();
            self.compacting =
                std::thread::Builder::new().name("mq-compact".into()).spawn(move || compact(&dir, next)).ok();
        }
    }

    fn reap_compaction(&mut self) {
        if self.compacting.as_ref().is_some_and(JoinHandle::is_finished)
            && let Some(h) = self.compacting.take()
        {
            let r = h.join().unwrap_or_else(|_| Err("compaction panicked".into()));
            self.event(Event::Compacted(r));
        }
    }
}

fn write_all(f: &mut File, bufs: &[Bytes]) -> io::Result<u64> {
    let mut total = 0u64;
    let mut i = 0;
    let mut skip = 0usize;
    while i < bufs.len() {
        let slices: Vec<IoSlice<'_>> = bufs
            .iter()
            .skip(i)
            .take(64)
            .enumerate()
            .map(|(k, b)| IoSlice::new(if k == 0 { b.get(skip..).unwrap_or_default() } else { b }))
            .collect();
        let mut n = f.write_vectored(&slices)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        total += n as u64;
        // Advance past what was written.
        while n > 0 && i < bufs.len() {
            let left = bufs[i].len() - skip;
            if n >= left {
                n -= left;
                i += 1;
                skip = 0;
            } else {
                skip += n;
                n = 0;
            }
        }
    }
    Ok(total)
}

/// Bytes in journal segments before `open` (the one being written), and in the newest base.
fn closed_journal_bytes(dir: &Path, open: u64) -> Option<(u64, u64)> {
    let files = file::list(dir).ok()?;
    let base = files.iter().filter(|(k, _, _)| *k == Kind::Base).map(|(_, s, _)| *s).max().unwrap_or(0);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let journal =
        files.iter().filter(|(k, s, _)| *k == Kind::Journal && *s >= base && *s < open).map(|(_, _, p)| size(p)).sum();
    let base_bytes = files.iter().filter(|(k, s, _)| *k == Kind::Base && *s == base).map(|(_, _, p)| size(p)).sum();
    Some((journal, base_bytes))
}

/// Folds the newest base and the journal segments before `upto` into `base-<upto>`, then removes them.
/// Returns the new base's size.
pub fn compact(dir: &Path, upto: u64) -> Result<u64, String> {
    let files = file::list(dir).map_err(|e| e.to_string())?;
    let base = files.iter().filter(|(k, s, _)| *k == Kind::Base && *s < upto).map(|(_, s, _)| *s).max();
    let mut state = State::default();
    let mut used = Vec::new();
    for (kind, seq, path) in &files {
        let wanted = match kind {
            Kind::Base => Some(*seq) == base,
            Kind::Journal => *seq >= base.unwrap_or(0) && *seq < upto,
        };
        if !wanted {
            continue;
        }
        // Damage here was found and set aside when the store was opened; a record written since
        // cannot be damaged but by the disk, and then what follows it is left out.
        let contents = file::read(path).map_err(|e| e.to_string())?;
        for r in contents.records {
            state.apply(r);
        }
        used.push(path.clone());
    }
    state.prune();
    let tmp = dir.join(format!("{}.tmp", file::name(Kind::Base, upto)));
    let bytes = write_state(&tmp, upto, &state).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, dir.join(file::name(Kind::Base, upto))).map_err(|e| e.to_string())?;
    file::sync_dir(dir).map_err(|e| e.to_string())?;
    for p in used {
        let _ = std::fs::remove_file(p);
    }
    Ok(bytes)
}

/// Writes `state` as a base file; returns its size.
pub(crate) fn write_state(path: &Path, seq: u64, state: &State) -> io::Result<u64> {
    let mut f = io::BufWriter::with_capacity(1 << 20, file::create(path, seq)?);
    let mut bytes = file::HEADER as u64;
    for r in state.records() {
        let (head, tail) = r.frame();
        f.write_all(&head)?;
        bytes += head.len() as u64;
        if let Some(t) = tail {
            f.write_all(&t)?;
            bytes += t.len() as u64;
        }
    }
    let f = f.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(bytes)
}
