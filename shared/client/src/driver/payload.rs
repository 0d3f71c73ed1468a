//! Payloads the driver writes itself after their PUBLISH header, instead of taking them into memory: a
//! file (`-f`, up to the MQTT limit of 268,435,455 bytes) with sendfile(2) where the kernel supports it
//! for that file, else chunk by chunk; or a buffer the caller keeps (`mq bench`). The session knows
//! such a message by its length only, so it goes at once (it needs room in the window).

use std::fs::File;
use std::io::{Read as _, Seek as _};
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use mq_proto::Publish;
use mq_proto::client::OutgoingPublish;
use tokio::io::AsyncWriteExt as _;
use tokio::time::timeout;

use super::io::COPY_LIMIT;
use super::{Driver, now};
use crate::error::ClientError;

/// Bytes of a file read and written per step when sendfile(2) cannot be used.
const CHUNK: usize = 1024 * 1024;

/// How long a large upload may make no progress at all before it is given up: only a write that moves
/// nothing for this long fails, so slow links can take their time.
const STALL: Duration = Duration::from_secs(60);

/// A file to publish as the payload.
pub struct FilePayload<'a> {
    pub file: &'a File,
    /// For messages.
    pub path: &'a Path,
    pub len: usize,
    /// Told how many more bytes went out, as they do.
    pub progress: &'a dyn Fn(u64),
}

impl Driver {
    /// Publishes `p` with `payload` from the caller's buffer, which is not kept: a small one is copied
    /// after its header, a larger one written from where it is, after what is already encoded. Returns
    /// its message id. Needs room in the window.
    pub async fn publish_slice(&mut self, p: Publish, payload: &[u8]) -> Result<u16, ClientError> {
        let o = self.begin_streamed(p, payload.len())?;
        let version = self.session.version();
        if payload.len() <= COPY_LIMIT {
            o.publish.encode_header(payload.len(), version, self.output.tail())?;
            self.output.extend(payload);
            return Ok(o.mid);
        }
        self.flush().await?;
        let mut header = BytesMut::with_capacity(64 + o.publish.topic.len());
        o.publish.encode_header(payload.len(), version, &mut header)?;
        self.stream.write_all(&header).await?;
        self.stream.write_all(payload).await?;
        self.session.sent(now());
        Ok(o.mid)
    }

    /// Publishes `p` with the contents of a file as its payload, streamed from disk (one chunk of memory
    /// at most, none with sendfile). Returns its message id once the last byte is written. Needs room in
    /// the window.
    pub async fn publish_file(&mut self, p: Publish, f: FilePayload<'_>) -> Result<u16, ClientError> {
        let o = self.begin_streamed(p, f.len)?;
        self.flush().await?;
        let mut header = BytesMut::with_capacity(64 + o.publish.topic.len());
        o.publish.encode_header(f.len, self.session.version(), &mut header)?;
        let stalled = || ClientError::Io(std::io::ErrorKind::TimedOut.into());
        let shrank = || ClientError::TooLarge(format!("File \"{}\" shrank while it was being sent.", f.path.display()));
        timeout(STALL, self.stream.write_all(&header)).await.map_err(|_| stalled())??;
        let mut offset: i64 = 0;
        while (offset as usize) < f.len {
            let want = (f.len - offset as usize).min(1 << 30);
            match timeout(STALL, self.stream.send_file(f.file, &mut offset, want)).await {
                Err(_) => return Err(stalled()),
                Ok(Ok(0)) => return Err(shrank()),
                Ok(Ok(n)) => (f.progress)(n as u64),
                Ok(Err(e)) if offset == 0 && is_unsupported(&e) => {
                    self.copy_file(&f).await?;
                    break;
                }
                Ok(Err(e)) => return Err(e.into()),
            }
        }
        self.session.sent(now());
        Ok(o.mid)
    }

    /// The fallback of [`Driver::publish_file`]: read a chunk, write it, repeat.
    async fn copy_file(&mut self, f: &FilePayload<'_>) -> Result<(), ClientError> {
        let mut file = f.file;
        file.seek(std::io::SeekFrom::Start(0)).map_err(|_| ClientError::FileOpen(f.path.to_path_buf()))?;
        let mut buf = vec![0u8; CHUNK.min(f.len)];
        let mut left = f.len;
        while left > 0 {
            let want = left.min(buf.len());
            let chunk = buf.get_mut(..want).unwrap_or_default();
            // Reading a regular file blocks only briefly (usually the page cache); the tools' runtime
            // serves one connection, so there is nothing else to starve.
            file.read_exact(chunk).map_err(|_| {
                ClientError::TooLarge(format!("File \"{}\" shrank while it was being sent.", f.path.display()))
            })?;
            let mut off = 0;
            while off < want {
                let n = timeout(STALL, self.stream.write(chunk.get(off..).unwrap_or_default()))
                    .await
                    .map_err(|_| ClientError::Io(std::io::ErrorKind::TimedOut.into()))??;
                if n == 0 {
                    return Err(ClientError::ConnectionLost);
                }
                off += n;
                (f.progress)(n as u64);
            }
            left -= want;
        }
        Ok(())
    }

    /// Registers a message whose payload the caller writes and logs it; what comes back is the PUBLISH
    /// to write the header of.
    fn begin_streamed(&mut self, p: Publish, len: usize) -> Result<OutgoingPublish, ClientError> {
        let mid = self.session.publish_streamed(p, len)?;
        self.expect_streamed = true;
        let drained = self.drain();
        self.expect_streamed = false;
        drained?;
        // publish_streamed succeeded, so the session has just handed this very message over.
        let o = self.streamed.take().filter(|o| o.mid == mid).ok_or(ClientError::ConnectionLost)?;
        self.log.sending_publish(&o.publish, o.mid, len);
        Ok(o)
    }
}

/// Whether sendfile(2) cannot be used for this file (some file systems, some kernels).
fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if [nix::libc::EINVAL, nix::libc::ENOSYS, nix::libc::EOPNOTSUPP].contains(&code))
}
