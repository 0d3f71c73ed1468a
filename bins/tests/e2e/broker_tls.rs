//! TLS listeners against real peers: Mosquitto's own `mosquitto_pub`/`mosquitto_sub` (server
//! authentication, client certificates, `use_identity_as_username` with an ACL, a wrong CA, an expired
//! and a revoked certificate, `per_listener_settings`), rustls clients (the `tls_version` floor, SIGHUP
//! reloading the certificate while a client stays connected) and rumqttc over TLS and WSS (parked
//! connections still get their messages, `$SYS/broker/listeners/<port>/protocol`), and a slow TLS
//! handshake or WebSocket upgrade ending at the 30 s CONNECT timeout.
//! Certificates are made with `openssl` at test time ([`crate::tls_pki`]). Tests needing Mosquitto's
//! clients skip with a note when they are not installed (and fail if `MQ_REQUIRE_INTEROP=1`).

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::version::{TLS12, TLS13};

use crate::broker_interop::{printed, sub_command, tools};
use crate::broker_util::{V4, WAIT, sys_value_reaches, v4_options};
use crate::harness::{Broker, Proc, command, free_port, mq};
use crate::tls_pki::{Pki, handshake, install_ring};

/// A broker with one TLS listener: the server certificate and `extra` lines.
fn tls_broker(pki: &Pki, extra: &str) -> Broker {
    let lines = format!("{}{extra}", pki.server_lines());
    Broker::mq_conf(move |port| format!("listener {port} 127.0.0.1\n{lines}\n"))
}

/// `mosquitto_pub` to `localhost:port` with `args`: whether it succeeded, and what it said.
fn mpub(bin: &PathBuf, port: u16, args: &[&str]) -> (bool, String) {
    let mut p = Proc::spawn(command(bin).args(["-h", "localhost", "-p", &port.to_string()]).args(args));
    let ok = p.wait().success();
    (ok, p.stderr.text())
}

/// `mosquitto_sub -d` to `localhost:port` (the name the server certificate carries) with `args`, once
/// it has its SUBACK.
fn msub(bin: &PathBuf, port: u16, args: &[&str]) -> Proc {
    let p = Proc::spawn(sub_command(bin).args(["-h", "localhost", "-p", &port.to_string(), "-d"]).args(args));
    p.wait_for("received SUBACK");
    p
}

#[test]
fn mosquitto_clients_over_server_authenticated_tls() {
    let Some((pubbin, subbin)) = tools() else { return };
    let pki = Pki::new();
    let b = tls_broker(&pki, "allow_anonymous true\n");
    let ca = pki.p("ca.crt");
    let mut sub = msub(&subbin, b.port, &["--cafile", &ca, "-t", "tls/#", "-C", "2", "-v", "-q", "1"]);
    for (q, m) in [("0", "zero"), ("1", "one")] {
        let (ok, err) = mpub(&pubbin, b.port, &["--cafile", &ca, "-t", "tls/t", "-q", q, "-m", m]);
        assert!(ok, "{err}");
    }
    assert_eq!(printed(&mut sub), ["tls/t zero", "tls/t one"]);
    // A CA that did not sign the server's certificate: the client refuses the broker.
    let (ok, _) = mpub(&pubbin, b.port, &["--cafile", &pki.p("other-ca.crt"), "-t", "tls/t", "-m", "x"]);
    assert!(!ok, "a client trusting another CA must not connect");
    // Plain MQTT on a TLS port is not TLS: refused, and the broker says so.
    let (ok, _) = mpub(&pubbin, b.port, &["-t", "tls/t", "-m", "plain"]);
    assert!(!ok);
    b.wait_log("disconnected: TLS:");
    b.wait_log("(mqtts)");
}

#[test]
fn client_certificates_required_and_the_common_name_is_the_user() {
    let Some((pubbin, subbin)) = tools() else { return };
    let pki = Pki::new();
    let acl = pki.path("acl");
    std::fs::write(&acl, "user alice\ntopic readwrite alice/#\nuser bob\ntopic read alice/#\n").expect("acl");
    let extra = format!(
        "cafile {}\nrequire_certificate true\nuse_identity_as_username true\nacl_file {}\nallow_anonymous false\n",
        pki.p("ca.crt"),
        acl.display()
    );
    let b = tls_broker(&pki, &extra);
    let ca = pki.p("ca.crt");
    let as_user = |name: &str| {
        vec![
            "--cafile".to_owned(),
            ca.clone(),
            "--cert".into(),
            pki.p(&format!("{name}.crt")),
            "--key".into(),
            pki.p(&format!("{name}.key")),
        ]
    };
    // bob may read alice/#: he sees what alice may write, and only that.
    let bob = as_user("bob");
    let mut args: Vec<&str> = bob.iter().map(String::as_str).collect();
    args.extend(["-t", "#", "-C", "1", "-v"]);
    let mut sub = msub(&subbin, b.port, &args);
    let alice = as_user("alice");
    let with = |extra: &[&'static str]| -> Vec<String> {
        alice.iter().cloned().chain(extra.iter().map(|s| (*s).to_owned())).collect()
    };
    for extra in [&["-t", "elsewhere/t", "-m", "denied"][..], &["-t", "alice/t", "-m", "allowed"][..]] {
        let a = with(extra);
        let (ok, err) = mpub(&pubbin, b.port, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(ok, "{err}");
    }
    assert_eq!(printed(&mut sub), ["alice/t allowed"]);
    b.wait_log("u'alice'");
    // No certificate: the handshake is refused.
    let (ok, _) = mpub(&pubbin, b.port, &["--cafile", &ca, "-t", "alice/t", "-m", "x"]);
    assert!(!ok, "a client without a certificate must be refused");
    // An expired certificate: refused too.
    let exp = [pki.p("expired.crt"), pki.p("expired.key")];
    let (ok, _) =
        mpub(&pubbin, b.port, &["--cafile", &ca, "--cert", &exp[0], "--key", &exp[1], "-t", "a/t", "-m", "x"]);
    assert!(!ok, "an expired client certificate must be refused");
    b.wait_log("disconnected: TLS:");
}

#[test]
fn use_subject_as_username_gives_the_subject_in_rfc2253_order() {
    let Some((pubbin, _)) = tools() else { return };
    let pki = Pki::new();
    let extra = format!("cafile {}\nrequire_certificate true\nuse_subject_as_username true\n", pki.p("ca.crt"));
    let b = tls_broker(&pki, &extra);
    let (ca, cert, key) = (pki.p("ca.crt"), pki.p("alice.crt"), pki.p("alice.key"));
    let (ok, err) = mpub(&pubbin, b.port, &["--cafile", &ca, "--cert", &cert, "--key", &key, "-t", "s/t", "-m", "x"]);
    assert!(ok, "{err}");
    b.wait_log("u'CN=alice,O=mq,C=GB'");
}

#[test]
fn per_listener_settings_apply_to_a_tls_listener() {
    let Some((pubbin, _)) = tools() else { return };
    let pki = Pki::new();
    let tls_port = free_port();
    let lines = pki.server_lines();
    let b = Broker::mq_conf(move |port| {
        format!(
            "per_listener_settings true\nlistener {port} 127.0.0.1\nallow_anonymous false\n\
             listener {tls_port} 127.0.0.1\n{lines}allow_anonymous true\n"
        )
    });
    crate::broker_ws::wait_port(&b, tls_port);
    let (ok, err) = mpub(&pubbin, tls_port, &["--cafile", &pki.p("ca.crt"), "-t", "pl/t", "-m", "anonymous"]);
    assert!(ok, "anonymous clients are allowed on the TLS listener: {err}");
    let (ok, _) = mpub(&pubbin, b.port, &["-t", "pl/t", "-m", "anonymous"]);
    assert!(!ok, "and refused on the plain one");
}

#[test]
fn a_revoked_client_certificate_is_refused_with_crlfile() {
    let Some((pubbin, _)) = tools() else { return };
    let pki = Pki::new();
    let extra = format!(
        "cafile {}\ncrlfile {}\nrequire_certificate true\nallow_anonymous true\n",
        pki.p("ca.crt"),
        pki.p("ca.crl")
    );
    let b = tls_broker(&pki, &extra);
    let ca = pki.p("ca.crt");
    let send = |who: &str| {
        let (cert, key) = (pki.p(&format!("{who}.crt")), pki.p(&format!("{who}.key")));
        mpub(&pubbin, b.port, &["--cafile", &ca, "--cert", &cert, "--key", &key, "-t", "crl/t", "-m", who])
    };
    assert!(send("alice").0, "alice's certificate is good");
    assert!(!send("bob").0, "bob's certificate is revoked");
    b.wait_log("Revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_version_is_a_minimum() {
    let pki = Pki::new();
    let b = tls_broker(&pki, "allow_anonymous true\ntls_version tlsv1.3\n");
    let only12 = pki.client_config("ca.crt", &[&TLS12], None);
    assert!(handshake(b.port, only12).await.is_err(), "TLS 1.2 is below the minimum");
    let only13 = pki.client_config("ca.crt", &[&TLS13], None);
    handshake(b.port, only13).await.expect("TLS 1.3 is accepted");
    // Without tls_version, both are.
    let b = tls_broker(&pki, "allow_anonymous true\n");
    let s = handshake(b.port, pki.client_config("ca.crt", &[&TLS12], None)).await.expect("TLS 1.2");
    assert_eq!(s.get_ref().1.protocol_version(), Some(tokio_rustls::rustls::ProtocolVersion::TLSv1_2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_before_or_after_the_handshake_closes_only_that_connection() {
    let pki = Pki::new();
    let b = tls_broker(&pki, "allow_anonymous true\n");
    // Not TLS at all.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", b.port)).await.expect("connect");
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, raw.read(&mut buf)).await.expect("answered").unwrap_or(0);
    // At most an alert, then the end.
    assert!(n < 16, "{n} bytes");
    // A finished handshake, then bytes that are no TLS record.
    let mut s = handshake(b.port, pki.client_config("ca.crt", &[&TLS13], None)).await.expect("handshake");
    s.get_mut().0.write_all(&[0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]).await.expect("write");
    let closed = tokio::time::timeout(WAIT, s.read(&mut buf)).await.expect("closed in time");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    b.wait_log("disconnected: TLS:");
    // The broker goes on serving TLS clients.
    let mut s = handshake(b.port, pki.client_config("ca.crt", &[&TLS13], None)).await.expect("handshake");
    s.write_all(&connect_bytes("after-garbage")).await.expect("CONNECT");
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).await.expect("CONNACK");
    assert_eq!(connack, [0x20, 2, 0, 0]);
}

/// A raw MQTT 3.1.1 CONNECT for client id `id`, clean session, no keep alive.
fn connect_bytes(id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 0];
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    let mut p = vec![0x10, body.len() as u8];
    p.extend(body);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_keeps_connected_clients() {
    install_ring();
    let pki = Pki::new();
    let certfile = pki.path("live.crt");
    let keyfile = pki.path("live.key");
    std::fs::copy(pki.path("server.crt"), &certfile).expect("copy");
    std::fs::copy(pki.path("server.key"), &keyfile).expect("copy");
    // As root the broker would switch to user mosquitto, who cannot read the key again on SIGHUP (it
    // warns about that at start): stay root here.
    let lines =
        format!("certfile {}\nkeyfile {}\nallow_anonymous true\nuser root\n", certfile.display(), keyfile.display());
    let b = Broker::mq_conf(move |port| format!("listener {port} 127.0.0.1\n{lines}\n"));

    // A subscriber over TLS with the first certificate.
    let mut o = v4_options(b.port, "stays");
    o.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(pki.client_config(
        "ca.crt",
        &[&TLS12, &TLS13],
        None,
    ))));
    let (mut stays, _) = V4::connect(o).await;
    stays.subscribe("reload/t", 1).await;

    // The certificate is replaced by one from another CA, and the broker told.
    std::fs::copy(pki.path("other-server.crt"), &certfile).expect("copy");
    std::fs::copy(pki.path("other-server.key"), &keyfile).expect("copy");
    crate::broker_config::wait_signal_handlers(b.pid());
    b.signal("HUP");
    b.wait_log("Reloaded the TLS files");
    // New clients see the new certificate; the old CA no longer verifies it.
    assert!(handshake(b.port, pki.client_config("ca.crt", &[&TLS13], None)).await.is_err());
    let mut s = handshake(b.port, pki.client_config("other-ca.crt", &[&TLS13], None)).await.expect("new cert");
    s.write_all(&connect_bytes("new")).await.expect("CONNECT");
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).await.expect("CONNACK");
    assert_eq!(connack, [0x20, 2, 0, 0]);
    let publish = [0x30, 11, 0, 8, b'r', b'e', b'l', b'o', b'a', b'd', b'/', b't', b'!'];
    s.write_all(&publish).await.expect("PUBLISH");
    // The client connected before the reload still gets messages.
    assert_eq!(&stays.recv().await.payload[..], b"!");

    // A broken file: the reload fails, the broker says why, and serves the last good certificate.
    std::fs::write(&certfile, "not a certificate\n").expect("write");
    b.signal("HUP");
    b.wait_log("failed, keeping the old ones");
    handshake(b.port, pki.client_config("other-ca.crt", &[&TLS13], None)).await.expect("still served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tls_and_wss_connections_park_and_still_get_their_messages() {
    install_ring();
    let pki = Pki::new();
    let lines = format!("{}allow_anonymous true\n", pki.server_lines());
    let (tls_port, wss_port) = (free_port(), free_port());
    let b = Broker::mq_conf(move |port| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nsys_interval 1\nlistener {tls_port} 127.0.0.1\n{lines}\
             listener {wss_port} 127.0.0.1\nprotocol websockets\n{lines}"
        )
    });
    crate::broker_ws::wait_port(&b, tls_port);
    crate::broker_ws::wait_port(&b, wss_port);
    let tls = || rumqttc::TlsConfiguration::Rustls(pki.client_config("ca.crt", &[&TLS13], None));
    let mut o = v4_options(tls_port, "parks-tls");
    o.set_transport(rumqttc::Transport::tls_with_config(tls()));
    let (mut over_tls, _) = V4::connect(o).await;
    over_tls.subscribe("park/t", 1).await;
    let mut o = rumqttc::MqttOptions::new("parks-wss", format!("wss://localhost:{wss_port}/mqtt"), wss_port);
    o.set_transport(rumqttc::Transport::Wss(tls()));
    let (mut over_wss, _) = V4::connect(o).await;
    over_wss.subscribe("park/t", 1).await;
    let port = b.port;
    tokio::task::spawn_blocking(move || {
        // Both clients (and perhaps the watcher) parked.
        sys_value_reaches(port, "$SYS/broker/clients/parked", |v| v.parse::<u64>().is_ok_and(|n| n >= 2));
        sys_value_reaches(port, &format!("$SYS/broker/listeners/{tls_port}/protocol"), |v| v == "mqtts");
        sys_value_reaches(port, &format!("$SYS/broker/listeners/{wss_port}/protocol"), |v| v == "wss");
    })
    .await
    .expect("sys");
    let mut p = V4::new(b.port, "pub").await;
    for n in 0..3 {
        let text = format!("woken {n}");
        p.publish("park/t", 1, false, text.clone()).await;
        for c in [&mut over_tls, &mut over_wss] {
            let got = tokio::time::timeout(WAIT, c.recv()).await.expect("delivered to the parked client");
            assert_eq!(got.payload, text.as_bytes());
        }
        // Idle again long enough to park again (2 s), then woken again.
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
}

#[test]
fn slow_tls_handshakes_and_websocket_upgrades_end_at_the_connect_timeout() {
    use std::io::{Read as _, Write as _};
    let pki = Pki::new();
    let (tls_port, ws_port) = (free_port(), free_port());
    let lines = pki.server_lines();
    let b = Broker::mq_conf(move |port| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nlistener {tls_port} 127.0.0.1\n{lines}\
             allow_anonymous true\nlistener {ws_port} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n"
        )
    });
    crate::broker_ws::wait_port(&b, tls_port);
    crate::broker_ws::wait_port(&b, ws_port);
    // The start of a TLS record (a ClientHello that never ends) and half a request head.
    let mut tls = std::net::TcpStream::connect(("127.0.0.1", tls_port)).expect("connect");
    tls.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).expect("write");
    let mut ws = std::net::TcpStream::connect(("127.0.0.1", ws_port)).expect("connect");
    ws.write_all(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n").expect("write");
    let started = std::time::Instant::now();
    for s in [&mut tls, &mut ws] {
        s.set_read_timeout(Some(Duration::from_secs(45))).expect("timeout");
        let mut buf = [0u8; 64];
        // Closed by the broker (end of stream or reset), not by the read timeout.
        match s.read(&mut buf) {
            Ok(0) | Err(_) => {}
            Ok(n) => panic!("unexpected {n} bytes"),
        }
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(25) && waited < Duration::from_secs(40), "closed after {waited:?}");
    b.wait_log("Client <unknown> has exceeded timeout, disconnecting.");
}

#[test]
fn unusable_key_and_certificate_files_stop_the_start_with_the_line_and_why() {
    let pki = Pki::new();
    for (cert, key, why) in [
        ("server.crt", "encrypted.key", "is encrypted with a pass phrase"),
        ("v1.crt", "v1.key", "X.509 version 1"),
        ("server.crt", "alice.key", "certfile/keyfile"),
    ] {
        let conf = pki.path("bad.conf");
        std::fs::write(
            &conf,
            format!("listener {} 127.0.0.1\ncertfile {}\nkeyfile {}\n", free_port(), pki.p(cert), pki.p(key)),
        )
        .expect("conf");
        let out = mq("mq").arg("broker").arg("-c").arg(&conf).output().expect("runs");
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{cert}/{key} must not start");
        assert!(text.contains(why) && text.contains("bad.conf:"), "{cert}/{key}: {text}");
    }
}

/// A `certfile` with the server's certificate alone, issued by an intermediate CA that `cafile` holds
/// with the root: the broker sends the intermediate too (as OpenSSL completes the chain for
/// Mosquitto), so a client trusting only the root connects.
#[test]
fn the_chain_is_completed_from_cafile() {
    let Some((pubbin, _)) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(d).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::write(
        d.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [srv]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut root = vec!["req", "-x509"];
    root.extend(ec);
    root.extend(["-keyout", "root.key", "-out", "root.crt", "-days", "2", "-subj", "/CN=mq chain root"]);
    root.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    run(&root);
    for (name, subj, ca, section) in
        [("inter", "/CN=mq chain intermediate", "root", "ca"), ("leaf", "/CN=localhost", "inter", "srv")]
    {
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", subj]);
        run(&req);
        let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-extensions",
            section,
        ]);
    }
    let all_ca = [std::fs::read(d.join("inter.crt")).unwrap(), std::fs::read(d.join("root.crt")).unwrap()].concat();
    std::fs::write(d.join("all-ca.crt"), all_ca).unwrap();
    let p = |f: &str| d.join(f).display().to_string();
    let (leaf, key, all) = (p("leaf.crt"), p("leaf.key"), p("all-ca.crt"));
    let b = Broker::mq_conf(move |port| {
        format!("listener {port} 127.0.0.1\ncertfile {leaf}\nkeyfile {key}\ncafile {all}\nallow_anonymous true\n")
    });
    let (ok, err) = mpub(&pubbin, b.port, &["--cafile", &p("root.crt"), "-t", "chain/t", "-m", "x"]);
    assert!(ok, "a client trusting the root only: {err}");
}
