//! Atomic file replacement: the password file is either the old one or the complete new one.
//!
//! Steps: create a temporary file in the target's directory (same filesystem, so the final rename
//! is atomic), write, copy the original's owner and mode (or use the mode for new files), fsync,
//! rename over the target, fsync the directory. A failure before the rename leaves the original
//! untouched and removes the temporary file (`tempfile` deletes it on drop). The rename replaces
//! the directory entry, so hard links to the old file keep the old contents.

use std::fmt;
use std::fs::{File, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, fchown};
use std::path::Path;

/// The step of [`replace`] that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Creating the temporary file in the target's directory.
    CreateTemp,
    /// Writing the contents.
    Write,
    /// Giving the temporary file the original's owner and group.
    Owner,
    /// Setting the permission bits.
    Permissions,
    /// fsync of the temporary file.
    Sync,
    /// Renaming the temporary file over the target.
    Rename,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::CreateTemp => "unable to create a temporary file next to it",
            Step::Write => "unable to write the temporary file",
            Step::Owner => "unable to give the new file the original's owner",
            Step::Permissions => "unable to set the new file's permissions",
            Step::Sync => "unable to flush the new file to disk",
            Step::Rename => "unable to rename the new file into place",
        })
    }
}

/// A failed replacement; the original file is unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {}", os_message(source))]
pub struct AtomicWriteError {
    /// The step that failed.
    pub step: Step,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

/// An I/O error as `strerror` would print it: "No such file or directory", without Rust's
/// " (os error 2)" suffix (and without the " at path ..." that `tempfile` appends after it), to
/// match Mosquitto's messages.
pub fn os_message(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Replaces `path` with `contents`.
///
/// If `path` exists its owner and permission bits are kept; otherwise the file is created with
/// `new_mode` (exactly, not filtered by the umask). `path` should already have symlinks resolved
/// by the caller, or the link itself is replaced.
pub fn replace(path: &Path, contents: &[u8], new_mode: u32) -> Result<(), AtomicWriteError> {
    let fail = |step| move |source| AtomicWriteError { step, source };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let existing = std::fs::metadata(path).ok();

    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail(Step::CreateTemp))?;
    temp.as_file_mut().write_all(contents).map_err(fail(Step::Write))?;
    let mode = match &existing {
        Some(meta) => {
            let mine = temp.as_file().metadata().map_err(fail(Step::Owner))?;
            if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
                fchown(temp.as_file(), Some(meta.uid()), Some(meta.gid())).map_err(fail(Step::Owner))?;
            }
            meta.mode() & 0o7777
        }
        None => new_mode,
    };
    // After chown, which may clear set-id bits.
    temp.as_file().set_permissions(Permissions::from_mode(mode)).map_err(fail(Step::Permissions))?;
    temp.as_file().sync_all().map_err(fail(Step::Sync))?;
    // On failure `persist` hands the temp file back inside the error; dropping it deletes it.
    temp.persist(path).map_err(|e| AtomicWriteError { step: Step::Rename, source: e.error })?;
    // Make the rename itself durable. Best effort: the new file is in place already, and an
    // error here cannot be undone.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_new_file_with_given_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        replace(&path, b"a\n", 0o600).expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"a\n");
        let mode = std::fs::metadata(&path).expect("meta").mode() & 0o7777;
        assert_eq!(mode, 0o600);
        assert_eq!(entries(dir.path()), ["pw"]);
    }

    #[test]
    fn keeps_mode_of_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "old\n").expect("write");
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).expect("chmod");
        replace(&path, b"new\n", 0o600).expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"new\n");
        let meta = std::fs::metadata(&path).expect("meta");
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!(entries(dir.path()), ["pw"]);
    }

    #[test]
    fn failed_rename_leaves_original_and_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A non-empty directory cannot be replaced by a file: the last step fails.
        let target = dir.path().join("pw");
        std::fs::create_dir(&target).expect("mkdir");
        std::fs::write(target.join("keep"), "x").expect("write");
        let err = replace(&target, b"new\n", 0o600).expect_err("must fail");
        assert_eq!(err.step, Step::Rename);
        assert_eq!(entries(dir.path()), ["pw"]);
        assert_eq!(entries(&target), ["keep"]);
    }

    #[test]
    fn missing_directory_fails_at_create() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nodir").join("pw");
        let err = replace(&path, b"x", 0o600).expect_err("must fail");
        assert_eq!(err.step, Step::CreateTemp);
        assert_eq!(err.to_string(), "unable to create a temporary file next to it: No such file or directory");
    }

    #[test]
    fn os_message_strips_suffix() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(os_message(&e), "No such file or directory");
        let custom = io::Error::other("plain");
        assert_eq!(os_message(&custom), "plain");
    }
}
