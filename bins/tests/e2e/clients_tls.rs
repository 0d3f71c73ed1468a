//! `mq-pub` and `mq-sub` over TLS and WebSockets with real brokers: Mosquitto's TLS listener (client
//! certificates required; a wrong CA exits 8 with "A TLS error occurred." as mosquitto_pub does; no
//! certificate is refused), and `mq broker`'s TLS, WebSocket and WSS listeners through `-L mqtts://`,
//! `ws://` and `wss://` URLs, a file streamed over TLS, and `--insecure` accepting a certificate for
//! another name. Certificates are made by openssl at test time ([`crate::tls_pki`]).

use crate::broker_ws::wait_port;
use crate::client_util::{Run, finish, run, start_sub, strip_debug};
use crate::harness::{Broker, free_port, mq};
use crate::tls_pki::Pki;

/// `tool -h localhost -p port args`.
fn at(tool: &str, port: u16, args: &[&str]) -> std::process::Command {
    let mut c = mq(tool);
    c.args(["-h", "localhost", "-p", &port.to_string()]).args(args);
    c
}

fn printed(r: &Run) -> String {
    String::from_utf8_lossy(&strip_debug(&r.stdout)).into_owned()
}

#[test]
fn mq_clients_with_client_certificates_to_mosquittos_tls_listener() {
    let pki = Pki::new();
    let lines = format!(
        "{}cafile {}\nrequire_certificate true\nallow_anonymous true\nuser root\n",
        pki.server_lines(),
        pki.p("ca.crt")
    );
    let Some(b) = Broker::mosquitto_conf(move |port| format!("listener {port} 127.0.0.1\n{lines}")) else { return };
    let (ca, cert, key) = (pki.p("ca.crt"), pki.p("alice.crt"), pki.p("alice.key"));
    let auth = ["--cafile", ca.as_str(), "--cert", cert.as_str(), "--key", key.as_str()];
    let mut sub_args = vec!["-d", "-t", "mtls/#", "-C", "2", "-v"];
    sub_args.extend(auth);
    let sub = start_sub(at("mq-sub", b.port, &sub_args));
    let mut pub_args = vec!["-t", "mtls/text", "-m", "over TLS", "-q", "1"];
    pub_args.extend(auth);
    run(&mut at("mq-pub", b.port, &pub_args)).ok();
    // A file goes through TLS too (no sendfile there).
    let file = pki.path("payload.bin");
    std::fs::write(&file, vec![b'z'; 200_000]).expect("write");
    let f = file.display().to_string();
    let mut pub_args = vec!["-t", "mtls/file", "-f", f.as_str(), "-q", "1"];
    pub_args.extend(auth);
    run(&mut at("mq-pub", b.port, &pub_args)).ok();
    let out = printed(&finish(sub));
    assert!(out.starts_with("mtls/text over TLS\nmtls/file zzzz"), "{}", &out[..out.len().min(80)]);
    assert_eq!(out.len(), "mtls/text over TLS\nmtls/file \n".len() + 200_000);

    // A CA that did not sign the broker's certificate: mosquitto_pub's message and status.
    let other = pki.p("other-ca.crt");
    let r = run(&mut at("mq-pub", b.port, &["--cafile", &other, "-t", "a", "-m", "x"]));
    assert_eq!(r.code(), 8, "{}", r.stderr);
    assert!(r.stderr.starts_with("Error: A TLS error occurred.\n"), "{}", r.stderr);
    // No client certificate: the broker's alert ends it, a TLS error too.
    let r = run(&mut at("mq-pub", b.port, &["--cafile", &ca, "-t", "a", "-m", "x"]));
    assert_eq!(r.code(), 8, "{}", r.stderr);
    assert!(r.stderr.starts_with("Error: A TLS error occurred.\n"), "{}", r.stderr);
}

#[test]
fn mq_clients_through_mqtts_ws_and_wss_urls_to_mq_broker() {
    let pki = Pki::new();
    let (tls, ws, wss) = (free_port(), free_port(), free_port());
    let cert = pki.server_lines();
    let b = Broker::mq_conf(move |port| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\n\
             listener {tls}\n{cert}allow_anonymous true\n\
             listener {ws} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n\
             listener {wss} 127.0.0.1\nprotocol websockets\n{cert}allow_anonymous true\n"
        )
    });
    for p in [tls, ws, wss] {
        wait_port(&b, p);
    }
    let ca = pki.p("ca.crt");
    let sub = start_sub({
        let mut c = mq("mq-sub");
        c.args(["-d", "-L", &format!("ws://127.0.0.1:{ws}/urls/#"), "-C", "3", "-v"]);
        c
    });
    for (url, extra) in [
        (format!("mqtts://localhost:{tls}/urls/mqtts"), vec!["--cafile", ca.as_str()]),
        (format!("wss://localhost:{wss}/urls/wss"), vec!["--cafile", ca.as_str()]),
        (format!("ws://127.0.0.1:{ws}/urls/ws"), vec![]),
    ] {
        let mut c = mq("mq-pub");
        c.args(["-L", &url, "-m", "hi"]).args(&extra);
        run(&mut c).ok();
    }
    assert_eq!(printed(&finish(sub)), "urls/mqtts hi\nurls/wss hi\nurls/ws hi\n");
    // The certificate names localhost and 127.0.0.1; --insecure lets 127.0.0.2 (another name) in,
    // still checking the chain.
    let other_name = ["-h", "127.0.0.2", "-p", &tls.to_string(), "--cafile", &ca, "-t", "x", "-m", "x"];
    let r = run(mq("mq-pub").args(other_name));
    assert_eq!(r.code(), 8, "{}", r.stderr);
    run(mq("mq-pub").args(other_name).arg("--insecure")).ok();
    let _ = b;
}
