//! The byte streams a client connects over: TCP or a Unix socket, with the readiness-based calls the
//! connection loop uses (wait for readable/writable, then read or write without blocking), so one task
//! can read and write the same socket without splitting it.

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use tokio::net::{TcpStream, UnixStream};

/// A client connection's socket.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Taken out of tokio's reactor while the connection is parked (see [`crate::park`]): no readiness
    /// state is kept for it and every I/O call fails until [`Stream::unpark`].
    Parked(ParkedSocket),
}

/// A parked connection's socket, with the token it is watched under.
#[derive(Debug)]
pub enum ParkedSocket {
    Tcp(std::net::TcpStream, u64),
    Unix(std::os::unix::net::UnixStream, u64),
    /// Lost while being taken out of the reactor.
    Gone,
}

fn parked() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection is parked")
}

impl Stream {
    /// Takes the socket out of tokio's reactor, to be watched under `token`. On failure the socket is
    /// gone and every later call fails.
    pub fn park(&mut self, token: u64) -> io::Result<()> {
        let parked = match std::mem::replace(self, Stream::Parked(ParkedSocket::Gone)) {
            Stream::Tcp(s) => ParkedSocket::Tcp(s.into_std()?, token),
            Stream::Unix(s) => ParkedSocket::Unix(s.into_std()?, token),
            Stream::Parked(p) => p,
        };
        *self = Stream::Parked(parked);
        Ok(())
    }

    /// The parked socket and its token.
    pub fn parked(&self) -> Option<(BorrowedFd<'_>, u64)> {
        match self {
            Stream::Parked(ParkedSocket::Tcp(s, t)) => Some((s.as_fd(), *t)),
            Stream::Parked(ParkedSocket::Unix(s, t)) => Some((s.as_fd(), *t)),
            _ => None,
        }
    }

    /// Puts a parked socket back into tokio's reactor (call within the runtime).
    pub fn unpark(&mut self) -> io::Result<()> {
        let back = match std::mem::replace(self, Stream::Parked(ParkedSocket::Gone)) {
            Stream::Parked(ParkedSocket::Tcp(s, _)) => Stream::Tcp(TcpStream::from_std(s)?),
            Stream::Parked(ParkedSocket::Unix(s, _)) => Stream::Unix(UnixStream::from_std(s)?),
            Stream::Parked(ParkedSocket::Gone) => return Err(parked()),
            live => live,
        };
        *self = back;
        Ok(())
    }

    /// Polls for read readiness (the waker is kept in tokio's registration).
    pub fn poll_read_ready(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_read_ready(cx),
            Stream::Unix(s) => s.poll_read_ready(cx),
            Stream::Parked(_) => std::task::Poll::Ready(Err(parked())),
        }
    }

    /// Polls for write readiness (the waker is kept in tokio's registration).
    pub fn poll_write_ready(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_write_ready(cx),
            Stream::Unix(s) => s.poll_write_ready(cx),
            Stream::Parked(_) => std::task::Poll::Ready(Err(parked())),
        }
    }

    /// Waits until the socket may be read.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.readable().await,
            Stream::Unix(s) => s.readable().await,
            Stream::Parked(_) => Err(parked()),
        }
    }

    /// Waits until the socket may be written.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.writable().await,
            Stream::Unix(s) => s.writable().await,
            Stream::Parked(_) => Err(parked()),
        }
    }

    /// Reads what is available into the spare capacity of `buf` (`WouldBlock` when nothing is).
    pub fn try_read_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(buf),
            Stream::Unix(s) => s.try_read_buf(buf),
            Stream::Parked(_) => {
                // A parked connection serves a packet or two at a time: a small buffer will do.
                let mut chunk = [0u8; 4096];
                let room = buf.remaining_mut().min(chunk.len());
                let n = self.try_read(chunk.get_mut(..room).unwrap_or_default())?;
                buf.put_slice(chunk.get(..n).unwrap_or_default());
                Ok(n)
            }
        }
    }

    /// Reads what is available into `buf` (`WouldBlock` when nothing is). A parked socket is read
    /// directly (it is non-blocking), so a parked connection can serve what arrives without going
    /// back into the reactor.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read(buf),
            Stream::Unix(s) => s.try_read(buf),
            Stream::Parked(ParkedSocket::Tcp(s, _)) => (&*s).read(buf),
            Stream::Parked(ParkedSocket::Unix(s, _)) => (&*s).read(buf),
            Stream::Parked(ParkedSocket::Gone) => Err(parked()),
        }
    }

    /// Writes what the socket takes now from `bufs` (`WouldBlock` when it takes nothing). A parked
    /// socket is written directly, as it is read.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_write_vectored(bufs),
            Stream::Unix(s) => s.try_write_vectored(bufs),
            Stream::Parked(ParkedSocket::Tcp(s, _)) => (&*s).write_vectored(bufs),
            Stream::Parked(ParkedSocket::Unix(s, _)) => (&*s).write_vectored(bufs),
            Stream::Parked(ParkedSocket::Gone) => Err(parked()),
        }
    }
}
