//! WebSocket listeners against real peers: rumqttc over `ws://` and `wss://` talking with Mosquitto's
//! `mosquitto_pub`/`mosquitto_sub` on a plain listener of the same broker (Mosquitto 2.0's clients have
//! no WebSocket transport), a raw tokio-tungstenite client sending MQTT packets split across frames
//! and several in one frame, ping/pong, a text frame and the close handshake, files served from
//! `http_dir` (and nothing outside it), and a request head over `websockets_headers_size` refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_rustls::rustls::version::TLS13;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::broker_util::{V4, WAIT};
use crate::harness::{Broker, Proc, command, free_port, mosquitto_bin, mq};
use crate::tls_pki::{Pki, install_ring};

/// A broker with a plain listener (the harness's port), a WebSocket one and a WSS one.
fn ws_broker(pki: &Pki, extra: &str) -> (Broker, u16, u16) {
    let (ws, wss) = (free_port(), free_port());
    let lines = pki.server_lines();
    let extra = extra.to_owned();
    let b = Broker::mq_conf(move |port| {
        format!(
            "{extra}\nlistener {port} 127.0.0.1\nallow_anonymous true\nlistener {ws} 127.0.0.1\nprotocol websockets\n\
             allow_anonymous true\nlistener {wss} 127.0.0.1\nprotocol websockets\n{lines}allow_anonymous true\n"
        )
    });
    wait_port(&b, ws);
    wait_port(&b, wss);
    (b, ws, wss)
}

/// Waits until the broker listens on `port` too (the harness waits for its first port only).
pub fn wait_port(b: &Broker, port: u16) {
    let deadline = std::time::Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "broker never listened on {port}:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ws_options(id: &str, url: String, port: u16, transport: rumqttc::Transport) -> rumqttc::MqttOptions {
    let mut o = rumqttc::MqttOptions::new(id, url, port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_transport(transport);
    o.set_max_packet_size(1 << 20, 1 << 20);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttc_over_ws_and_wss_with_mosquitto_clients_on_tcp() {
    install_ring();
    let pki = Pki::new();
    let (b, ws, wss) = ws_broker(&pki, "");
    let (mut over_ws, _) =
        V4::connect(ws_options("over-ws", format!("ws://127.0.0.1:{ws}/mqtt"), ws, rumqttc::Transport::Ws)).await;
    let tls = rumqttc::TlsConfiguration::Rustls(pki.client_config("ca.crt", &[&TLS13], None));
    let (mut over_wss, _) =
        V4::connect(ws_options("over-wss", format!("wss://localhost:{wss}/mqtt"), wss, rumqttc::Transport::Wss(tls)))
            .await;
    over_ws.subscribe("web/#", 1).await;
    over_wss.subscribe("web/#", 1).await;

    // From the WebSocket clients to each other, and a large message split over many frames.
    over_ws.publish("web/from-ws", 1, false, "hello from ws").await;
    assert_eq!(&over_wss.recv().await.payload[..], b"hello from ws");
    assert_eq!(&over_ws.recv().await.payload[..], b"hello from ws");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    over_wss.publish("web/big", 1, false, big.clone()).await;
    assert_eq!(over_ws.recv().await.payload.to_vec(), big);
    assert_eq!(over_wss.recv().await.payload.to_vec(), big);

    let (Some(pubbin), Some(subbin)) = (mosquitto_bin("mosquitto_pub"), mosquitto_bin("mosquitto_sub")) else {
        return;
    };
    // mosquitto_pub on TCP → both WebSocket subscribers.
    let st = command(&pubbin).args(["-p", &b.port_arg(), "-t", "web/tcp", "-q", "1", "-m", "from tcp"]).status();
    assert!(st.expect("mosquitto_pub").success());
    assert_eq!(&over_ws.recv().await.payload[..], b"from tcp");
    assert_eq!(&over_wss.recv().await.payload[..], b"from tcp");
    // WSS publisher → mosquitto_sub on TCP.
    let mut sub = Proc::spawn(command(&subbin).args(["-p", &b.port_arg(), "-t", "web/to-tcp", "-C", "1"]));
    let deadline = std::time::Instant::now() + WAIT;
    while !b.log().contains("as auto-") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Publish until the subscriber (whose SUBACK this test cannot see) gets one.
    let mut delivered = false;
    while std::time::Instant::now() < deadline && !delivered {
        over_wss.publish("web/to-tcp", 1, false, "from wss").await;
        delivered = sub.child.try_wait().ok().flatten().is_some();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sub.wait().success());
    assert_eq!(sub.stdout.text().trim(), "from wss");
    b.wait_log("(ws)");
    b.wait_log("(wss)");
}

/// The MQTT bytes of a CONNECT (3.1.1, clean, no keep alive), SUBSCRIBE and PUBLISH (QoS 0).
fn connect(id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 0, 0, id.len() as u8];
    body.extend_from_slice(id.as_bytes());
    [vec![0x10, body.len() as u8], body].concat()
}

fn subscribe(filter: &str) -> Vec<u8> {
    let mut body = vec![0, 1, 0, filter.len() as u8];
    body.extend_from_slice(filter.as_bytes());
    body.push(0);
    [vec![0x82, body.len() as u8], body].concat()
}

fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0, topic.len() as u8];
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(payload);
    [vec![0x30, body.len() as u8], body].concat()
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A raw WebSocket client on `port` offering subprotocol `mqtt`.
async fn raw_ws(port: u16) -> Ws {
    let mut req = format!("ws://127.0.0.1:{port}/mqtt").into_client_request().expect("request");
    req.headers_mut().insert("Sec-WebSocket-Protocol", "mqtt".parse().expect("header"));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let (ws, resp) = tokio_tungstenite::client_async(req, tcp).await.expect("upgrade");
    assert_eq!(resp.headers().get("sec-websocket-protocol").map(|v| v.as_bytes()), Some(&b"mqtt"[..]));
    ws
}

/// Reads binary frames until `n` bytes of MQTT arrived (packets may come in any framing).
async fn read_mqtt(ws: &mut Ws, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("in time") {
            Some(Ok(Message::Binary(b))) => got.extend_from_slice(&b),
            other => panic!("expected binary frames, got {other:?}"),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_split_across_frames_and_merged_in_one_ping_text_and_close() {
    let pki = Pki::new();
    let (_b, port, _) = ws_broker(&pki, "");
    let mut ws = raw_ws(port).await;
    // CONNECT one byte per frame.
    for byte in connect("raw-ws") {
        ws.send(Message::Binary(Bytes::from(vec![byte]))).await.expect("send");
    }
    assert_eq!(read_mqtt(&mut ws, 4).await, [0x20, 2, 0, 0]);
    // SUBSCRIBE and a PUBLISH to it in one frame, followed by half a PUBLISH and its other half.
    let p2 = publish("raw/t", b"second");
    let mut one = subscribe("raw/t");
    one.extend(publish("raw/t", b"first"));
    one.extend_from_slice(&p2[..5]);
    ws.send(Message::Binary(one.into())).await.expect("send");
    ws.send(Message::Binary(Bytes::copy_from_slice(&p2[5..]))).await.expect("send");
    let want = [vec![0x90, 3, 0, 1, 0], publish("raw/t", b"first"), p2].concat();
    assert_eq!(read_mqtt(&mut ws, want.len()).await, want);
    // Ping is answered with the same payload.
    ws.send(Message::Ping(Bytes::from_static(b"are you there"))).await.expect("ping");
    match tokio::time::timeout(WAIT, ws.next()).await.expect("in time") {
        Some(Ok(Message::Pong(p))) => assert_eq!(&p[..], b"are you there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    // Close: answered, then the connection ends.
    ws.send(Message::Close(None)).await.expect("close");
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("in time") {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    // A text frame is not MQTT: closed with 1003.
    let mut ws = raw_ws(port).await;
    ws.send(Message::Text("CONNECT".into())).await.expect("send");
    match tokio::time::timeout(WAIT, ws.next()).await.expect("in time") {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1003),
        other => panic!("expected close 1003, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_broker_ends_gets_a_close_frame() {
    let pki = Pki::new();
    let (_b, port, _) = ws_broker(&pki, "");
    let mut first = raw_ws(port).await;
    first.send(Message::Binary(connect("twice").into())).await.expect("send");
    assert_eq!(read_mqtt(&mut first, 4).await, [0x20, 2, 0, 0]);
    // The same client id again: the first connection is taken over and closed properly.
    let mut second = raw_ws(port).await;
    second.send(Message::Binary(connect("twice").into())).await.expect("send");
    assert_eq!(read_mqtt(&mut second, 4).await, [0x20, 2, 0, 0]);
    match tokio::time::timeout(WAIT, first.next()).await.expect("in time") {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1000),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// Sends `request` raw on `port` and returns the whole answer (the broker closes after it).
fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn http_dir_files_on_the_websocket_port_and_nothing_outside() {
    let pki = Pki::new();
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::write(www.path().join("index.html"), "<h1>mq</h1>").expect("write");
    std::fs::create_dir(www.path().join("js")).expect("mkdir");
    let script: String = "x".repeat(100_000);
    std::fs::write(www.path().join("js/app.js"), &script).expect("write");
    std::fs::write(pki.path("secret.txt"), "secret").expect("write");
    let dir = www.path().display().to_string();
    let ws = free_port();
    let b = Broker::mq_conf(move |p| {
        format!("listener {p} 127.0.0.1\nlistener {ws} 127.0.0.1\nprotocol websockets\nhttp_dir {dir}\n")
    });
    wait_port(&b, ws);
    let get = |path: &str| http(ws, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
    let index = get("/");
    assert!(index.starts_with("HTTP/1.1 200 OK\r\n") && index.ends_with("<h1>mq</h1>"), "{index}");
    assert!(index.contains("Content-Type: text/html"), "{index}");
    let js = get("/js/app.js?v=1");
    assert!(js.starts_with("HTTP/1.1 200 OK\r\n") && js.ends_with(&script), "{} bytes", js.len());
    assert!(get("/missing.html").starts_with("HTTP/1.1 404"));
    assert!(get("/../secret.txt").starts_with("HTTP/1.1 403"));
    assert!(get("/%2e%2e/secret.txt").starts_with("HTTP/1.1 403"));
    assert!(http(ws, "POST / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 405"));
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_the_limit_is_refused() {
    let pki = Pki::new();
    let (_b, port, _) = ws_broker(&pki, "websockets_headers_size 512");
    let big = format!(
        "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: {}\r\n\r\n",
        "c".repeat(2000)
    );
    let answer = tokio::task::spawn_blocking(move || http(port, &big)).await.expect("http");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Bytes that are no HTTP at all: 400, and that connection ends.
    let answer = tokio::task::spawn_blocking(move || http(port, "\u{16}\u{3}garbage\r\n\r\n")).await.expect("http");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // A normal upgrade fits.
    let mut ws = raw_ws(port).await;
    ws.send(Message::Binary(connect("fits").into())).await.expect("send");
    assert_eq!(read_mqtt(&mut ws, 4).await, [0x20, 2, 0, 0]);
    // A frame declaring an absurd length: that connection closes, the broker goes on.
    let mut raw = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw.write_all(
        b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .expect("write");
    raw.write_all(&[0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]).expect("write");
    raw.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut all = Vec::new();
    let _ = raw.read_to_end(&mut all);
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 101"));
    let mut ws = raw_ws(port).await;
    ws.send(Message::Binary(connect("after").into())).await.expect("send");
    assert_eq!(read_mqtt(&mut ws, 4).await, [0x20, 2, 0, 0]);
}

/// `mq bench` over WebSockets and WebSockets over TLS, with mq-pub's `-L` URLs and `--cafile`: a
/// subscriber on `wss://` receives all a `ws://` publisher sends; a CA that did not sign the broker's
/// certificate connects no one.
#[test]
fn mq_bench_over_ws_and_wss() {
    let pki = Pki::new();
    let (b, ws, wss) = ws_broker(&pki, "log_type all");
    let ca = pki.p("ca.crt");
    let wss_url = format!("wss://localhost:{wss}");
    let mut sub = Proc::spawn(
        mq("mq")
            .args(["bench", "sub", "-L", &wss_url, "--cafile", &ca])
            .args(["-t", "b/#", "-n", "100", "-D", "20", "--json"]),
    );
    b.wait_log("b/#");
    let out = mq("mq")
        .args(["bench", "pub", "-L", &format!("ws://localhost:{ws}"), "-c", "2", "-t", "b/%i", "-n", "50", "-q", "1"])
        .arg("--json")
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{line}{}", String::from_utf8_lossy(&out.stderr));
    assert!(line.contains("\"sent\":100") && line.contains("\"acked\":100"), "{line}");
    assert!(sub.wait().success());
    let sub_line = sub.stdout.text();
    assert!(sub_line.contains("\"received\":100") && sub_line.contains("\"lost\":0"), "{sub_line}");
    // A packet larger than the socket buffers goes out in frames the socket takes as it drains, the
    // last one too while the client waits for PUBACK (it once stayed in the WebSocket library's buffer).
    for (url, tls) in [(format!("ws://localhost:{ws}"), &[][..]), (wss_url.clone(), &["--cafile", &ca][..])] {
        let out = mq("mq")
            .args(["bench", "pub", "-L", &url, "-t", "big", "-s", "8388608", "-n", "1", "-q", "1"])
            .args(tls)
            .args(["-D", "20", "--json"])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(line.contains("\"acked\":1,"), "{url}: {line}{}", String::from_utf8_lossy(&out.stderr));
    }
    let other = mq("mq")
        .args(["bench", "conn", "-L", &wss_url, "--cafile", &pki.p("other-ca.crt"), "-D", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&other.stderr).into_owned();
    assert!(!other.status.success() && err.contains("A TLS error occurred"), "{err}");
}
