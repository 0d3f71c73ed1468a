//! The byte stream a client connects over: a socket (TCP or Unix), and optionally a [`Layer`] between
//! it and MQTT (TLS, WebSocket framing), with the readiness-based calls the connection loop uses (wait
//! for readable/writable, then read or write without blocking), so one task can read and write the same
//! stream without splitting it.
//!
//! Parking moves only the socket out of tokio's reactor (see [`crate::park`]); a layer keeps its state
//! (keys, partial frames) in memory meanwhile, and a parked socket is read and written directly.

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::task::{Context, Poll};

use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

/// Non-blocking I/O on the socket under a [`Layer`] (`WouldBlock` when it has nothing or takes nothing).
pub trait Wire {
    /// Reads what the socket has into `buf`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes what the socket takes from `bufs`.
    fn write(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}

/// A protocol between the socket and MQTT: TLS, WebSocket framing. It turns what arrives on the
/// [`Wire`] into MQTT bytes and MQTT bytes into what goes on it, buffering what the wire does not take
/// at once.
pub trait Layer: Send + Sync + std::fmt::Debug {
    /// MQTT bytes into `buf`, reading the wire as needed; `WouldBlock` when none can be had now, `Ok(0)`
    /// at the end of the stream.
    fn read(&mut self, wire: &mut dyn Wire, buf: &mut [u8]) -> io::Result<usize>;
    /// Takes MQTT bytes from `bufs` and returns how many it took (buffering what the wire does not take
    /// yet; [`Layer::flush`] writes the rest).
    fn write(&mut self, wire: &mut dyn Wire, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// Writes what the layer holds for the wire; `Ok(true)` once nothing is left.
    fn flush(&mut self, wire: &mut dyn Wire) -> io::Result<bool>;
    /// Whether MQTT bytes are already decoded and waiting (readable without the socket being readable).
    fn has_input(&self) -> bool;
    /// Whether the layer holds bytes for the wire.
    fn has_output(&self) -> bool;
    /// The client's certificate (DER), once a TLS layer has verified it.
    fn peer_certificate(&self) -> Option<&[u8]> {
        None
    }
    /// Lets go of buffer memory that holds nothing (the connection parks).
    fn shrink(&mut self) {}
    /// Queues what tells the peer the broker is closing (a TLS close_notify, a WebSocket close frame);
    /// [`Layer::flush`] sends it.
    fn close(&mut self) {}
}

/// Why a layer ended a connection (carried inside the `io::Error` its calls return).
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The TLS session failed (handshake refused, bad record, alert from the peer).
    #[error("TLS: {0}")]
    Tls(tokio_rustls::rustls::Error),
    /// The WebSocket upgrade or framing broke a rule.
    #[error("WebSocket: {0}")]
    WebSocket(String),
    /// Not a WebSocket client: an HTTP request was answered (a file of `http_dir`, or an error status).
    #[error("HTTP request for {path} answered with {status}")]
    Http { path: String, status: u16 },
}

impl LayerError {
    /// The layer error inside an I/O error, if it is one.
    pub fn of(e: &io::Error) -> Option<&LayerError> {
        e.get_ref()?.downcast_ref::<LayerError>()
    }
}

/// Two layers on top of each other (WebSocket framing over TLS): the upper one reads and writes
/// through the lower one.
#[derive(Debug)]
pub struct Stacked<L: Layer, U: Layer> {
    pub lower: L,
    pub upper: U,
}

/// A lower layer and its wire, seen by the upper layer as its wire.
struct Through<'a> {
    layer: &'a mut dyn Layer,
    wire: &'a mut dyn Wire,
}

impl Wire for Through<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.layer.read(self.wire, buf)
    }

    fn write(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.layer.write(self.wire, bufs)?;
        match self.layer.flush(self.wire) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }
}

impl<L: Layer, U: Layer> Layer for Stacked<L, U> {
    fn read(&mut self, wire: &mut dyn Wire, buf: &mut [u8]) -> io::Result<usize> {
        self.upper.read(&mut Through { layer: &mut self.lower, wire }, buf)
    }

    fn write(&mut self, wire: &mut dyn Wire, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.upper.write(&mut Through { layer: &mut self.lower, wire }, bufs)
    }

    fn flush(&mut self, wire: &mut dyn Wire) -> io::Result<bool> {
        let upper_done = self.upper.flush(&mut Through { layer: &mut self.lower, wire })?;
        let lower_done = self.lower.flush(wire)?;
        Ok(upper_done && lower_done)
    }

    fn has_input(&self) -> bool {
        self.upper.has_input() || self.lower.has_input()
    }

    fn has_output(&self) -> bool {
        self.upper.has_output() || self.lower.has_output()
    }

    fn peer_certificate(&self) -> Option<&[u8]> {
        self.lower.peer_certificate()
    }

    fn shrink(&mut self) {
        self.lower.shrink();
        self.upper.shrink();
    }

    fn close(&mut self) {
        // The upper layer's goodbye still has to go through the lower one: the lower layer is not
        // closed after it.
        self.upper.close();
    }
}

/// A client connection's socket.
#[derive(Debug)]
enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Taken out of tokio's reactor while the connection is parked (see [`crate::park`]), watched under
    /// a token: read and written directly.
    ParkedTcp(std::net::TcpStream, u64),
    ParkedUnix(std::os::unix::net::UnixStream, u64),
    /// Lost while being taken out of the reactor or put back.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection lost its socket")
}

fn parked() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection is parked")
}

impl Wire for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.try_read(buf),
            Socket::Unix(s) => s.try_read(buf),
            Socket::ParkedTcp(s, _) => s.read(buf),
            Socket::ParkedUnix(s, _) => s.read(buf),
            Socket::Gone => Err(gone()),
        }
    }

    fn write(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.try_write_vectored(bufs),
            Socket::Unix(s) => s.try_write_vectored(bufs),
            Socket::ParkedTcp(s, _) => s.write_vectored(bufs),
            Socket::ParkedUnix(s, _) => s.write_vectored(bufs),
            Socket::Gone => Err(gone()),
        }
    }
}

/// A parked stream in its compact form (a connection waiting parked keeps this, see
/// [`crate::connection`]): the socket out of the reactor, its token and its layer.
#[derive(Debug)]
pub struct ParkedStream {
    socket: ParkedSocket,
    token: u64,
    layer: Option<Box<dyn Layer>>,
}

#[derive(Debug)]
enum ParkedSocket {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
    Gone,
}

impl ParkedStream {
    /// The socket, unless it was lost.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.socket {
            ParkedSocket::Tcp(s) => Some(s.as_fd()),
            ParkedSocket::Unix(s) => Some(s.as_fd()),
            ParkedSocket::Gone => None,
        }
    }
}

impl From<ParkedStream> for Stream {
    /// The stream as it was, still parked.
    fn from(p: ParkedStream) -> Stream {
        let socket = match p.socket {
            ParkedSocket::Tcp(s) => Socket::ParkedTcp(s, p.token),
            ParkedSocket::Unix(s) => Socket::ParkedUnix(s, p.token),
            ParkedSocket::Gone => Socket::Gone,
        };
        Stream { socket, layer: p.layer, emptied: false }
    }
}

/// A client's byte stream.
#[derive(Debug)]
pub struct Stream {
    socket: Socket,
    layer: Option<Box<dyn Layer>>,
    /// Whether the last read of the parked socket, without a layer, found it empty (see
    /// [`Stream::parked_emptied`]).
    emptied: bool,
}

impl Stream {
    /// A TCP connection.
    pub fn tcp(s: TcpStream) -> Stream {
        Stream { socket: Socket::Tcp(s), layer: None, emptied: false }
    }

    /// A Unix socket connection.
    pub fn unix(s: UnixStream) -> Stream {
        Stream { socket: Socket::Unix(s), layer: None, emptied: false }
    }

    /// The same stream with `layer` between the socket and MQTT.
    pub fn with_layer(mut self, layer: Box<dyn Layer>) -> Stream {
        self.layer = Some(layer);
        self
    }

    /// Takes the socket out of tokio's reactor, to be watched under `token`. On failure the socket is
    /// gone and every later call fails.
    pub fn park(&mut self, token: u64) -> io::Result<()> {
        if let Some(layer) = &mut self.layer {
            layer.shrink();
        }
        self.socket = match std::mem::replace(&mut self.socket, Socket::Gone) {
            Socket::Tcp(s) => Socket::ParkedTcp(s.into_std()?, token),
            Socket::Unix(s) => Socket::ParkedUnix(s.into_std()?, token),
            other => other,
        };
        Ok(())
    }

    /// The parked socket and its token.
    pub fn parked(&self) -> Option<(BorrowedFd<'_>, u64)> {
        match &self.socket {
            Socket::ParkedTcp(s, t) => Some((s.as_fd(), *t)),
            Socket::ParkedUnix(s, t) => Some((s.as_fd(), *t)),
            _ => None,
        }
    }

    /// The parked stream in its compact form. A stream that is not parked has no place in it: its
    /// socket is closed, and the compact form has lost it.
    pub fn into_parked(self) -> ParkedStream {
        let (socket, token) = match self.socket {
            Socket::ParkedTcp(s, t) => (ParkedSocket::Tcp(s), t),
            Socket::ParkedUnix(s, t) => (ParkedSocket::Unix(s), t),
            _ => (ParkedSocket::Gone, 0),
        };
        ParkedStream { socket, token, layer: self.layer }
    }

    /// Puts a parked socket back into tokio's reactor (call within the runtime).
    pub fn unpark(&mut self) -> io::Result<()> {
        self.emptied = false;
        self.socket = match std::mem::replace(&mut self.socket, Socket::Gone) {
            Socket::ParkedTcp(s, _) => Socket::Tcp(TcpStream::from_std(s)?),
            Socket::ParkedUnix(s, _) => Socket::Unix(UnixStream::from_std(s)?),
            Socket::Gone => return Err(gone()),
            live => live,
        };
        Ok(())
    }

    /// Polls for read readiness (the waker is kept in tokio's registration). Bytes a layer decoded
    /// already make the stream readable whatever the socket says.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.layer.as_ref().is_some_and(|l| l.has_input()) {
            return Poll::Ready(Ok(()));
        }
        match &self.socket {
            Socket::Tcp(s) => s.poll_read_ready(cx),
            Socket::Unix(s) => s.poll_read_ready(cx),
            Socket::Gone => Poll::Ready(Err(gone())),
            _ => Poll::Ready(Err(parked())),
        }
    }

    /// Polls for write readiness (the waker is kept in tokio's registration).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.socket {
            Socket::Tcp(s) => s.poll_write_ready(cx),
            Socket::Unix(s) => s.poll_write_ready(cx),
            Socket::Gone => Poll::Ready(Err(gone())),
            _ => Poll::Ready(Err(parked())),
        }
    }

    /// Waits until the stream may be read.
    pub async fn readable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    /// Waits until the socket may be written.
    pub async fn writable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_write_ready(cx)).await
    }

    /// Reads what is available into the spare capacity of `buf` (`WouldBlock` when nothing is). A read
    /// that leaves room found the socket empty: it also clears the socket's readiness, so the next read
    /// waits for the reactor instead of asking the kernel only to hear `WouldBlock` (a system call saved
    /// on every wake-up). Tokio clears readiness only if no event came since it was observed, before
    /// the read, so bytes arriving after the read still wake the connection.
    pub fn try_read_buf<B: bytes::BufMut>(&mut self, buf: &mut B) -> io::Result<usize> {
        match (&mut self.socket, &self.layer) {
            (Socket::Tcp(s), None) => {
                let mut got = 0;
                let r = s.try_io(Interest::READABLE, || until_short(buf, &mut got, |b| s.try_read_buf(b)));
                read_before_drained(r, got)
            }
            (Socket::Unix(s), None) => {
                let mut got = 0;
                let r = s.try_io(Interest::READABLE, || until_short(buf, &mut got, |b| s.try_read_buf(b)));
                read_before_drained(r, got)
            }
            _ => {
                // Through a layer, or parked (a packet or two at a time): a small buffer will do.
                let mut chunk = [0u8; 4096];
                let room = buf.remaining_mut().min(chunk.len());
                let n = self.try_read(chunk.get_mut(..room).unwrap_or_default())?;
                buf.put_slice(chunk.get(..n).unwrap_or_default());
                Ok(n)
            }
        }
    }

    /// Reads what is available into `buf` (`WouldBlock` when nothing is). A parked socket is read
    /// directly (it is non-blocking), so a parked connection can serve what arrives without going back
    /// into the reactor.
    pub fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.layer {
            Some(layer) => layer.read(&mut self.socket, buf),
            None => {
                let r = self.socket.read(buf);
                if matches!(self.socket, Socket::ParkedTcp(..) | Socket::ParkedUnix(..)) {
                    self.emptied = match &r {
                        Ok(n) => *n < buf.len(),
                        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
                    };
                }
                r
            }
        }
    }

    /// Whether the last read of this parked socket (read without a layer) found it empty: it returned
    /// fewer bytes than it had room for, or none. Then the socket need not be read again to hear
    /// `WouldBlock`, and the parking epoll, which is edge-triggered, reports the next bytes to arrive
    /// without being re-armed. False through a layer (which may leave bytes on the socket) and before
    /// any read since the connection was taken from its parked form.
    pub fn parked_emptied(&self) -> bool {
        self.emptied
    }

    /// Writes what the stream takes now from `bufs` (`WouldBlock` when it takes nothing). A layer
    /// first writes out what it held back.
    pub fn try_write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.layer {
            Some(layer) => {
                if !layer.flush(&mut self.socket)? {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = layer.write(&mut self.socket, bufs)?;
                // What the wire does not take now waits in the layer (see `has_output`).
                match layer.flush(&mut self.socket) {
                    Ok(_) => Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
                    Err(e) => Err(e),
                }
            }
            None => self.socket.write(bufs),
        }
    }

    /// Writes what a layer holds back; `Ok(true)` once nothing is left.
    pub fn flush(&mut self) -> io::Result<bool> {
        match &mut self.layer {
            Some(layer) => match layer.flush(&mut self.socket) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
                r => r,
            },
            None => Ok(true),
        }
    }

    /// Whether a layer holds bytes for the socket (the connection is not idle, and waits for
    /// writability to flush them).
    pub fn has_output(&self) -> bool {
        self.layer.as_ref().is_some_and(|l| l.has_output())
    }

    /// Queues a layer's goodbye (TLS close_notify, WebSocket close); [`Stream::flush`] sends it.
    pub fn close(&mut self) {
        if let Some(layer) = &mut self.layer {
            layer.close();
        }
    }

    /// Whether a layer holds bytes already decoded for MQTT (the connection is not idle).
    pub fn has_input(&self) -> bool {
        self.layer.as_ref().is_some_and(|l| l.has_input())
    }

    /// The client certificate a TLS layer verified.
    pub fn peer_certificate(&self) -> Option<&[u8]> {
        self.layer.as_ref()?.peer_certificate()
    }
}

/// Reads with `read` into `buf`; a read that returns fewer bytes than `buf` had room for reports
/// `WouldBlock` (the socket is empty: see [`Stream::try_read_buf`]), with the count in `got`.
fn until_short<B: bytes::BufMut>(
    buf: &mut B,
    got: &mut usize,
    read: impl FnOnce(&mut B) -> io::Result<usize>,
) -> io::Result<usize> {
    let room = buf.chunk_mut().len();
    let n = read(buf)?;
    *got = n;
    if n > 0 && n < room { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(n) }
}

/// The bytes [`until_short`] read, once readiness is cleared.
fn read_before_drained(r: io::Result<usize>, got: usize) -> io::Result<usize> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer that flips every bit and holds back what the wire does not take: enough to see that
    /// reading, writing and parking go through it.
    #[derive(Debug, Default)]
    struct Invert {
        held: Vec<u8>,
    }

    impl Layer for Invert {
        fn read(&mut self, wire: &mut dyn Wire, buf: &mut [u8]) -> io::Result<usize> {
            let n = wire.read(buf)?;
            for b in buf.iter_mut().take(n) {
                *b = !*b;
            }
            Ok(n)
        }
        fn write(&mut self, _: &mut dyn Wire, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let mut n = 0;
            for b in bufs {
                self.held.extend(b.iter().map(|x| !x));
                n += b.len();
            }
            Ok(n)
        }
        fn flush(&mut self, wire: &mut dyn Wire) -> io::Result<bool> {
            while !self.held.is_empty() {
                let n = wire.write(&[IoSlice::new(&self.held)])?;
                self.held.drain(..n);
            }
            Ok(true)
        }
        fn has_input(&self) -> bool {
            false
        }
        fn has_output(&self) -> bool {
            !self.held.is_empty()
        }
    }

    #[test]
    fn a_parked_stream_is_four_words() {
        assert_eq!(std::mem::size_of::<ParkedStream>(), 4 * std::mem::size_of::<usize>());
    }

    #[tokio::test]
    async fn a_layer_sees_every_byte_before_and_after_parking() {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        a.set_nonblocking(true).expect("nonblocking");
        let mut s = Stream::unix(UnixStream::from_std(a).expect("register")).with_layer(Box::<Invert>::default());
        let mut peer = b;
        s.writable().await.expect("writable");
        assert_eq!(s.try_write_vectored(&[IoSlice::new(b"ping")]).expect("write"), 4);
        let mut got = [0u8; 4];
        peer.read_exact(&mut got).expect("peer reads");
        assert_eq!(got, [!b'p', !b'i', !b'n', !b'g']);
        // Parked: read and written directly, still through the layer.
        s.park(7).expect("park");
        // Through the compact form a parked connection keeps, and back: the same socket, token and layer.
        let compact = s.into_parked();
        assert!(compact.fd().is_some());
        let mut s = Stream::from(compact);
        assert_eq!(s.parked().map(|(_, t)| t), Some(7));
        peer.write_all(&[!b'o', !b'k']).expect("peer writes");
        let mut buf = bytes::BytesMut::with_capacity(16);
        let n = loop {
            match s.try_read_buf(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                r => break r.expect("read"),
            }
        };
        assert_eq!(&buf[..n], b"ok");
        s.unpark().expect("unpark");
        assert!(!s.has_output());
        s.writable().await.expect("writable");
        s.try_write_vectored(&[IoSlice::new(b"!")]).expect("write");
        peer.read_exact(&mut got[..1]).expect("peer reads");
        assert_eq!(got[0], !b'!');
    }
}
