//! MQTT over WebSockets for the client tools (`-L ws://`, `wss://`): the upgrade with subprotocol
//! `mqtt`, then MQTT bytes as binary frames, read back as one byte stream whatever the framing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes};
use futures_util::{Sink, Stream as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest as _};

use crate::error::ClientError;

/// A WebSocket connection seen as a byte stream.
#[derive(Debug)]
pub struct WsIo<S> {
    ws: WebSocketStream<S>,
    /// What is left of the last binary message read.
    pending: Bytes,
}

/// The largest MQTT packet: a fixed header of 5 bytes and the largest remaining length.
const MQTT_MAX_PACKET: usize = 5 + 268_435_455;

/// Upgrades `stream` to a WebSocket to `host:port` (`/mqtt`, subprotocol `mqtt`).
pub async fn upgrade<S>(stream: S, tls: bool, host: &str, port: u16) -> Result<WsIo<S>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let scheme = if tls { "wss" } else { "ws" };
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
    let mut req = format!("{scheme}://{host}:{port}/mqtt")
        .into_client_request()
        .map_err(|e| ClientError::WebSocket(e.to_string()))?;
    req.headers_mut().insert("Sec-WebSocket-Protocol", tungstenite::http::HeaderValue::from_static("mqtt"));
    // A broker may send a whole MQTT packet, up to MQTT's 256 MiB, as one frame (Mosquitto does): the
    // library's defaults (16 MiB frames, 64 MiB messages) would refuse a large message.
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_frame_size(Some(MQTT_MAX_PACKET))
        .max_message_size(Some(MQTT_MAX_PACKET));
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(config))
        .await
        .map_err(|e| ClientError::WebSocket(e.to_string()))?;
    Ok(WsIo { ws, pending: Bytes::new() })
}

fn to_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => io::ErrorKind::BrokenPipe.into(),
        other => io::Error::other(other),
    }
}

/// Largest payload of one frame sent: a large MQTT packet goes out as many frames, each copied once.
const FRAME_OUT: usize = 256 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        // The last frame written may still wait in the library for the socket; a caller that now only
        // reads (waiting for PUBACK, say) sends it from here, woken when the socket takes more.
        if let Poll::Ready(Err(e)) = Pin::new(&mut me.ws).poll_flush(cx) {
            return Poll::Ready(Err(to_io(e)));
        }
        loop {
            if !me.pending.is_empty() {
                let n = me.pending.len().min(buf.remaining());
                buf.put_slice(&me.pending[..n]);
                me.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut me.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => me.pending = b,
                // Pings are answered by the library; pongs and frames carry no MQTT.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, "text frame from the broker")));
                }
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        // The previous frame goes out first: a writer faster than the socket waits here rather than
        // piling its frames up in the library's buffer (which has no limit).
        ready!(Pin::new(&mut me.ws).poll_flush(cx)).map_err(to_io)?;
        ready!(Pin::new(&mut me.ws).poll_ready(cx)).map_err(to_io)?;
        let n = buf.len().min(FRAME_OUT);
        let frame = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
        Pin::new(&mut me.ws).start_send(Message::Binary(frame)).map_err(to_io)?;
        // The frame goes out now; what the socket does not take waits in the library until the next
        // write, flush or read.
        let _ = Pin::new(&mut me.ws).poll_flush(cx).map_err(to_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().ws).poll_close(cx).map_err(to_io)
    }
}
