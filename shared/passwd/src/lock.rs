//! Exclusive access to a password file for the length of one read-modify-replace.
//!
//! An edit reads the file, changes it in memory and replaces it ([`atomic::replace`]: a new file
//! renamed over the old one). Two editors doing that at once would each write their own change
//! over the original and one change would be lost. [`LockedFile::open`] serialises them with
//! `flock(2)` on the file itself, held until the new file is in place.
//!
//! The rename puts a new inode behind the name, and the lock belongs to the old one. So after the
//! lock is taken, the name is checked to still lead to the locked inode; when another editor
//! replaced the file meanwhile, the new file is opened and locked instead. Every editor therefore
//! reads the file that the previous one wrote. No lock file is left behind.
//!
//! [`atomic::replace`]: crate::atomic::replace

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long [`LockedFile::open`] waits for another editor before giving up.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a password file could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The file could not be opened for reading and writing.
    #[error("{0}")]
    Open(#[source] io::Error),
    /// Another process held the lock for the whole wait.
    #[error("another process kept it locked for {} s", .0.as_secs())]
    Busy(Duration),
    /// The lock could not be taken (for example, a file system without locks).
    #[error("{}", crate::atomic::os_message(.0))]
    Lock(#[source] io::Error),
    /// Reading the locked file failed.
    #[error("reading it failed: {}", crate::atomic::os_message(.0))]
    Read(#[source] io::Error),
}

/// A password file locked against other editors, with its contents as read under the lock. The
/// lock is released on drop: keep this alive until the replacement is in place.
#[derive(Debug)]
pub struct LockedFile {
    /// Holds the lock; closing it releases the lock.
    _file: File,
    /// The contents, read after the lock was taken.
    pub contents: Vec<u8>,
}

impl LockedFile {
    /// Opens `path` for reading and writing (as an editor must be able to), locks it exclusively
    /// and reads it. Waits up to `timeout` for other editors.
    ///
    /// # Errors
    /// [`LockError::Open`] when the file cannot be opened (its message is the OS error alone, so the
    /// caller can word it as Mosquitto does), [`LockError::Busy`] after `timeout`,
    /// [`LockError::Lock`] / [`LockError::Read`] for other failures.
    pub fn open(path: &Path, timeout: Duration) -> Result<Self, LockError> {
        let deadline = Instant::now() + timeout;
        loop {
            let file = OpenOptions::new().read(true).write(true).open(path).map_err(LockError::Open)?;
            lock_until(&file, deadline, timeout)?;
            if same_file(&file, path).map_err(LockError::Open)? {
                let mut contents = Vec::new();
                (&file).read_to_end(&mut contents).map_err(LockError::Read)?;
                return Ok(Self { _file: file, contents });
            }
            // Replaced while we waited: lock the file now under the name.
        }
    }
}

/// Takes an exclusive lock on `file`, polling until `deadline`.
fn lock_until(file: &File, deadline: Instant, timeout: Duration) -> Result<(), LockError> {
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(LockError::Lock(e)),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LockError::Busy(timeout));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Whether `path` still names the inode `file` has open.
fn same_file(file: &File, path: &Path) -> io::Result<bool> {
    let open = file.metadata()?;
    match std::fs::metadata(path) {
        Ok(named) => Ok((named.dev(), named.ino()) == (open.dev(), open.ino())),
        // Removed meanwhile: opening it again reports that.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_contents_under_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "a\n").expect("write");
        let locked = LockedFile::open(&path, LOCK_TIMEOUT).expect("lock");
        assert_eq!(locked.contents, b"a\n");
    }

    #[test]
    fn a_held_lock_makes_the_second_editor_wait_then_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "a\n").expect("write");
        let _held = LockedFile::open(&path, LOCK_TIMEOUT).expect("lock");
        let err = LockedFile::open(&path, Duration::from_millis(20)).expect_err("busy");
        assert!(matches!(err, LockError::Busy(_)), "{err:?}");
        assert_eq!(err.to_string(), "another process kept it locked for 0 s");
    }

    #[test]
    fn the_lock_is_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "a\n").expect("write");
        drop(LockedFile::open(&path, LOCK_TIMEOUT).expect("lock"));
        assert!(LockedFile::open(&path, Duration::ZERO).is_ok());
    }

    /// The waiter that locked the old inode notices the replacement and reads the new file.
    #[test]
    fn a_file_replaced_while_waiting_is_locked_anew() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "old\n").expect("write");
        let holder = LockedFile::open(&path, LOCK_TIMEOUT).expect("lock");
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || LockedFile::open(&path, LOCK_TIMEOUT).map(|l| l.contents))
        };
        // Give the waiter time to open the old file and wait on its lock (if it has not, it opens
        // the new file directly: the result must be the same).
        std::thread::sleep(Duration::from_millis(50));
        crate::atomic::replace(&path, b"new\n", 0o600).expect("replace");
        drop(holder);
        assert_eq!(waiter.join().expect("join").expect("lock"), b"new\n");
    }

    #[test]
    fn missing_file_is_an_open_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = LockedFile::open(&dir.path().join("missing"), LOCK_TIMEOUT).expect_err("missing");
        assert!(matches!(&err, LockError::Open(e) if e.kind() == io::ErrorKind::NotFound), "{err:?}");
    }
}
