//! Opening the byte stream to the broker: TCP (optionally bound to `-A`, with `--nodelay`, optionally
//! through a SOCKS5 proxy) or a unix domain socket, with TLS ([`crate::tls`]) and WebSockets
//! ([`crate::ws`]) on top when asked for; nothing above this module knows which transport is in use.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpSocket, TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::ClientConfig;

use crate::config::Endpoint;
use crate::error::ClientError;
use crate::tls::TlsSetup;
use crate::url::ProxyUrl;
use crate::ws::WsIo;

/// What a WebSocket runs over: TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

/// A connected byte stream to the broker.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream<TcpStream>>),
    Ws(Box<WsIo<Box<dyn Io>>>),
}

/// TLS to `host` over `tcp`.
async fn tls_connect(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
    host: &str,
) -> Result<TlsStream<TcpStream>, ClientError> {
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| ClientError::TlsSetup(format!("\"{host}\" is not a host name TLS can check")))?;
    tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(ClientError::Tls)
}

/// TLS with `setup` over `tcp`, already connected to `host` (the name the certificate is checked
/// against): for other clients of a broker than the tools (bridges).
pub async fn tls_over(tcp: TcpStream, setup: &TlsSetup, host: &str) -> Result<Stream, ClientError> {
    let config = setup.client_config()?;
    Ok(Stream::Tls(Box::new(tls_connect(tcp, config, host).await?)))
}

/// Connects to `endpoint`.
pub async fn open(endpoint: &Endpoint) -> Result<Stream, ClientError> {
    match endpoint {
        Endpoint::Unix(path) => UnixStream::connect(path).await.map(Stream::Unix).map_err(ClientError::Connect),
        Endpoint::Tcp { host, port, bind, nodelay, proxy, tls, websocket } => {
            // Certificate files are read before connecting: a bad one never costs the broker a socket.
            let tls = tls.as_deref().map(TlsSetup::client_config).transpose()?;
            let stream = match proxy {
                Some(p) => {
                    let mut s = tcp_connect(&p.host, p.port, bind.as_deref()).await?;
                    socks5_connect(&mut s, p, host, *port).await?;
                    s
                }
                None => tcp_connect(host, *port, bind.as_deref()).await?,
            };
            if *nodelay {
                stream.set_nodelay(true).map_err(ClientError::Connect)?;
            }
            layer(stream, host, *port, tls, *websocket).await
        }
    }
}

/// TLS and/or WebSockets over `stream`, connected to `host`:`port`.
async fn layer(
    stream: TcpStream,
    host: &str,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    websocket: bool,
) -> Result<Stream, ClientError> {
    match (tls, websocket) {
        (None, false) => Ok(Stream::Tcp(stream)),
        (Some(config), false) => Ok(Stream::Tls(Box::new(tls_connect(stream, config, host).await?))),
        (None, true) => {
            let io: Box<dyn Io> = Box::new(stream);
            Ok(Stream::Ws(Box::new(crate::ws::upgrade(io, false, host, port).await?)))
        }
        (Some(config), true) => {
            let io: Box<dyn Io> = Box::new(tls_connect(stream, config, host).await?);
            Ok(Stream::Ws(Box::new(crate::ws::upgrade(io, true, host, port).await?)))
        }
    }
}

/// A broker to open many connections to (`mq bench`): host, port, and the layers over TCP, with the
/// TLS configuration built once (certificate files read once, not per connection). Made from the
/// client tools' options by [`crate::config::target`], so `-L`, `--cafile` and port 8883 mean the same.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    tls: Option<Arc<ClientConfig>>,
    websocket: bool,
    /// User name and password given in the `-L` URL.
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Target {
    pub(crate) fn new(host: String, port: u16, tls: Option<&TlsSetup>, websocket: bool) -> Result<Target, ClientError> {
        let tls = tls.map(TlsSetup::client_config).transpose()?;
        Ok(Target { host, port, tls, websocket, username: None, password: None })
    }

    /// What runs over TCP: `tcp`, `tls`, `ws` or `wss`.
    pub fn transport(&self) -> &'static str {
        match (self.tls.is_some(), self.websocket) {
            (false, false) => "tcp",
            (true, false) => "tls",
            (false, true) => "ws",
            (true, true) => "wss",
        }
    }

    /// The TLS handshake and WebSocket upgrade this target asks for, over `stream` (already connected to
    /// one of the host's addresses).
    pub async fn layer(&self, stream: TcpStream) -> Result<Stream, ClientError> {
        layer(stream, &self.host, self.port, self.tls.clone(), self.websocket).await
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ClientError> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            if addrs.is_empty() { Err(ClientError::Lookup(host.to_string())) } else { Ok(addrs) }
        }
        Err(_) => Err(ClientError::Lookup(host.to_string())),
    }
}

/// Tries each address of `host` in turn, as getaddrinfo() users do.
async fn tcp_connect(host: &str, port: u16, bind: Option<&str>) -> Result<TcpStream, ClientError> {
    let addrs = resolve(host, port).await?;
    let binds = match bind {
        Some(b) => resolve(b, 0).await?,
        None => Vec::new(),
    };
    let mut last = io::Error::from(io::ErrorKind::AddrNotAvailable);
    for addr in addrs {
        let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
        let socket = socket.map_err(ClientError::Connect)?;
        if bind.is_some() {
            // The local address must be of the same family as the remote one.
            let Some(local) = binds.iter().find(|b| b.is_ipv4() == addr.is_ipv4()) else { continue };
            if let Err(e) = socket.bind(*local) {
                last = e;
                continue;
            }
        }
        match socket.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(ClientError::Connect(last))
}

/// RFC 1928 CONNECT through the proxy, with the broker's host name resolved by the proxy (`socks5h`), and
/// RFC 1929 user name/password authentication when credentials are given.
async fn socks5_connect(s: &mut TcpStream, proxy: &ProxyUrl, host: &str, port: u16) -> Result<(), ClientError> {
    let fail = |what: &str| ClientError::Proxy(what.to_string());
    let io = |e: io::Error| ClientError::Proxy(e.to_string());
    let with_auth = proxy.username.is_some();
    let greeting: &[u8] = if with_auth { &[5, 2, 0, 2] } else { &[5, 1, 0] };
    s.write_all(greeting).await.map_err(io)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).await.map_err(io)?;
    match reply {
        [5, 0] => {}
        [5, 2] if with_auth => {
            let user = proxy.username.as_deref().unwrap_or_default().as_bytes();
            let pass = proxy.password.as_deref().unwrap_or_default().as_bytes();
            let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
                return Err(fail("user name or password longer than 255 bytes"));
            };
            let mut msg = vec![1, ulen];
            msg.extend_from_slice(user);
            msg.push(plen);
            msg.extend_from_slice(pass);
            s.write_all(&msg).await.map_err(io)?;
            s.read_exact(&mut reply).await.map_err(io)?;
            if reply[1] != 0 {
                return Err(fail("authentication failed"));
            }
        }
        [5, _] => return Err(fail("no acceptable authentication method")),
        _ => return Err(fail("not a SOCKS5 proxy")),
    }
    let Ok(hlen) = u8::try_from(host.len()) else { return Err(fail("host name longer than 255 bytes")) };
    let mut req = vec![5, 1, 0, 3, hlen];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[0] != 5 {
        return Err(fail("not a SOCKS5 proxy"));
    }
    if head[1] != 0 {
        return Err(fail(match head[1] {
            1 => "general failure",
            2 => "connection not allowed by ruleset",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown error",
        }));
    }
    // Skip the bound address the proxy reports.
    let addr_len = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).await.map_err(io)?;
            usize::from(n[0])
        }
        _ => return Err(fail("bad reply")),
    };
    let mut rest = vec![0u8; addr_len + 2];
    s.read_exact(&mut rest).await.map_err(io)?;
    Ok(())
}

impl Stream {
    /// Sends up to `count` bytes of `file` from `*offset` (advanced by what was sent) with sendfile(2),
    /// waiting until the socket can take some. The kernel copies from the page cache to the socket, so
    /// the file never passes through this process's memory.
    ///
    /// Over TLS or WebSockets the bytes must be encrypted or framed here, so the file is read in
    /// pieces of at most 64 KiB and written through the stream instead.
    pub async fn send_file(&mut self, file: &std::fs::File, offset: &mut i64, count: usize) -> io::Result<usize> {
        if matches!(self, Stream::Tcp(_) | Stream::Unix(_)) {
            return self.sendfile(file, offset, count).await;
        }
        let mut chunk = vec![0u8; count.min(64 * 1024)];
        let start = u64::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let n = std::os::unix::fs::FileExt::read_at(file, &mut chunk, start)?;
        if n == 0 {
            return Ok(0);
        }
        let written = self.write(chunk.get(..n).unwrap_or_default()).await?;
        *offset += written as i64;
        Ok(written)
    }

    /// sendfile(2) on a plain socket.
    async fn sendfile(&self, file: &std::fs::File, offset: &mut i64, count: usize) -> io::Result<usize> {
        use std::os::fd::AsFd as _;
        let send = |fd: std::os::fd::BorrowedFd<'_>, offset: &mut i64| {
            nix::sys::sendfile::sendfile(fd, file, Some(offset), count).map_err(io::Error::from)
        };
        match self {
            Stream::Tcp(s) => s.async_io(tokio::io::Interest::WRITABLE, || send(s.as_fd(), offset)).await,
            Stream::Unix(s) => s.async_io(tokio::io::Interest::WRITABLE, || send(s.as_fd(), offset)).await,
            Stream::Tls(_) | Stream::Ws(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Ws(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Ws(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            Stream::Ws(s) => {
                // One frame per call: the first non-empty slice.
                let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
                Pin::new(s.as_mut()).poll_write(cx, first)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Ws(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Ws(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
