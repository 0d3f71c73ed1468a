//! `mq-pub`, `mq-sub` and `mq-rr` against real brokers (`mq broker`, and Mosquitto when installed): QoS
//! levels, protocol versions both ways with Mosquitto's clients, output bytes identical to
//! `mosquitto_sub`'s, `-d` lines identical to Mosquitto's, the subscription options, persistent
//! sessions, wills, URLs, unix sockets, SOCKS5, passwords, reconnects and a closed stdout.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::client_util::*;
use crate::harness::{Kind, Proc, TIMEOUT, command, free_port, mosquitto_bin, mq};

#[test]
fn every_qos_round_trips() {
    for b in brokers("") {
        for qos in ["0", "1", "2"] {
            let sub = mq_sub(&b, &["-t", "rt/#", "-q", qos, "-v", "-C", "1"]);
            mq_pub(&b, &["-t", "rt/x", "-q", qos, "-m", &format!("hello q{qos}")]);
            let r = finish(sub).ok();
            assert_eq!(strip_debug(&r.stdout), format!("rt/x hello q{qos}\n").as_bytes(), "{:?} q{qos}", b.kind);
        }
    }
}

#[test]
fn protocol_versions_interoperate_with_mosquitto_clients() {
    let Some(_) = mosquitto_bin("mosquitto_pub") else { return };
    for b in brokers("") {
        for v in ["31", "311", "5"] {
            // mq-pub -> mosquitto_sub
            let sub = mosquitto_sub(&b, &["-t", "v/a", "-V", v, "-i", "ms-sub", "-C", "1", "-q", "1"]).unwrap();
            mq_pub(&b, &["-t", "v/a", "-V", v, "-i", "mq-pub-id", "-q", "1", "-m", "from mq"]);
            assert_eq!(strip_debug(&finish(sub).ok().stdout), b"from mq\n", "{:?} -V {v}", b.kind);
            // mosquitto_pub -> mq-sub
            let sub = mq_sub(&b, &["-t", "v/b", "-V", v, "-i", "mq-sub-id", "-C", "1", "-q", "2"]);
            let mut p = mosquitto_tool(
                "mosquitto_pub",
                &b,
                &["-t", "v/b", "-V", v, "-i", "m-p", "-q", "2", "-m", "from mosquitto"],
            )
            .unwrap();
            run(&mut p).ok();
            assert_eq!(strip_debug(&finish(sub).ok().stdout), b"from mosquitto\n", "{:?} -V {v}", b.kind);
        }
    }
}

/// MQTT 3.1 has no empty client id (brokers refuse one): without `-i` or `-I`, `mq-sub`, `mq-pub` and
/// `mq-rr` make one up, as Mosquitto's clients do.
#[test]
fn mqtt31_tools_without_a_client_id() {
    for b in brokers("") {
        let sub = mq_sub(&b, &["-t", "v31/#", "-V", "31", "-C", "2", "-v"]);
        mq_pub(&b, &["-t", "v31/pub", "-V", "31", "-m", "from mq-pub"]);
        let mut rr = tool("mq-rr", &b, &["-t", "v31/req", "-e", "v31/resp", "-V", "31", "-m", "ping"]);
        rr.stdin(Stdio::null());
        let rr = Proc::spawn(&mut rr);
        let r = finish(sub).ok();
        assert_eq!(strip_debug(&r.stdout), b"v31/pub from mq-pub\nv31/req ping\n", "{:?}", b.kind);
        // The request arrived, so mq-rr has subscribed to the response topic.
        mq_pub(&b, &["-t", "v31/resp", "-V", "31", "-m", "pong"]);
        assert_eq!(finish(rr).ok().out(), "pong\n", "{:?}", b.kind);
        let connect = r.out().lines().find(|l| l.ends_with(" sending CONNECT")).map(str::to_owned).unwrap_or_default();
        let id = connect.strip_prefix("Client ").and_then(|r| r.strip_suffix(" sending CONNECT")).unwrap_or_default();
        assert!(id.starts_with("mq-") && id.len() == 23, "{connect:?}");
    }
}

/// Strips the value of `"tst":"..."` (the time of printing, which differs between two printers, and which
/// Mosquitto 2.0.11 prints malformed).
fn without_tst(out: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(out);
    let mut s = String::new();
    let mut rest = &*text;
    while let Some(i) = rest.find("\"tst\":") {
        s.push_str(&rest[..i]);
        let after = &rest[i + 6..];
        let after = after.trim_start_matches([' ', '\t']);
        let end = after[1..].find('"').map_or(after.len(), |e| e + 2);
        s.push_str("\"tst\":T");
        rest = &after[end..];
    }
    s.push_str(rest);
    s.into_bytes()
}

/// Output as text with every `Client <id> ` of the `-d` lines made `Client <id> ` (brokers assign ids).
fn normalize_ids(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    let mut s = String::new();
    let mut rest = &*text;
    while let Some(i) = rest.find("Client ") {
        s.push_str(&rest[..i + 7]);
        rest = &rest[i + 7..];
        if let Some(sp) = rest.find(' ') {
            s.push_str("<id>");
            rest = &rest[sp..];
        }
    }
    s.push_str(rest);
    s
}

#[test]
fn output_bytes_match_mosquitto_sub() {
    let Some(_) = mosquitto_bin("mosquitto_sub") else { return };
    let outputs: &[&[&str]] = &[
        &[],
        &["-v"],
        &["-N"],
        &["-v", "-N"],
        &["-F", "%t|%p|%x|%X|%l|%q|%r|%m|%%|\\t|@@"],
        &["-F", "%A|%C|%D|%F|%P|%R|%S"],
        &["-F", "%10.3t|%-8l|%08l|%-12p|%5q|%.2t"],
        &["-F", "%j"],
        &["-F", "%J"],
        &["-F", "%j", "--pretty"],
        &["-F", "%J", "--pretty"],
        &["-F", "%x", "-N"],
    ];
    for b in brokers("") {
        let mut subs = Vec::new();
        for args in outputs {
            let mut common =
                vec!["-t", "fmt/#", "-V", "5", "-q", "2", "-C", "6", "-D", "subscribe", "subscription-identifier", "7"];
            common.extend_from_slice(args);
            subs.push((args, mq_sub(&b, &common), mosquitto_sub(&b, &common).unwrap()));
        }
        // QoS 0 and 1 only: a QoS 2 message is printed on PUBREL, which the broker may send after the next
        // message, in an order that differs between two subscribers.
        let messages: &[&[&str]] = &[
            &["-t", "fmt/a", "-m", "plain text"],
            &["-t", "fmt/b", "-n"],
            &["-t", "fmt/c", "-q", "1", "-m", "{\"json\": [1, 2.5, true, null, \"x\"]}"],
            &[
                "-t",
                "fmt/d/e",
                "-q",
                "1",
                "-m",
                "héllo \"quoted\" \\ \u{1}",
                "-D",
                "publish",
                "content-type",
                "text/plain",
            ],
            &[
                "-t",
                "fmt/f",
                "-m",
                "props",
                "-D",
                "publish",
                "user-property",
                "k1",
                "v1",
                "-D",
                "publish",
                "response-topic",
                "resp/t",
                "-D",
                "publish",
                "user-property",
                "k2",
                "v2",
                "-D",
                "publish",
                "correlation-data",
                "abc",
                "-D",
                "publish",
                "payload-format-indicator",
                "1",
            ],
            &["-t", "fmt/g", "-r", "-m", "not json {"],
        ];
        for m in messages {
            let mut args = vec!["-V", "5"];
            args.extend_from_slice(m);
            mq_pub(&b, &args);
        }
        for (args, ours, theirs) in subs {
            let ours = finish(ours).ok();
            let theirs = finish(theirs).ok();
            // Whole outputs, -d lines included (with -N they share lines with the messages), client ids
            // aside.
            assert_eq!(
                normalize_ids(&without_tst(&ours.stdout)),
                normalize_ids(&without_tst(&theirs.stdout)),
                "{:?} {args:?}",
                b.kind
            );
            assert_eq!(ours.stderr, theirs.stderr, "{:?} {args:?}", b.kind);
        }
        // Clean up the retained message for the next broker run.
        mq_pub(&b, &["-t", "fmt/g", "-r", "-n"]);
    }
}

#[test]
fn binary_payloads_are_printed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bin");
    let payload: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    std::fs::write(&file, &payload).unwrap();
    for b in brokers("") {
        // Retained, so the subscriber needs no synchronisation and no -d lines mix with the bytes.
        mq_pub(&b, &["-t", "bin/x", "-r", "-q", "1", "-f", file.to_str().unwrap()]);
        let ours = run(&mut tool("mq-sub", &b, &["-t", "bin/x", "-C", "1"])).ok();
        let mut expected = payload.clone();
        expected.push(b'\n');
        assert_eq!(ours.stdout, expected, "{:?}", b.kind);
        if let Some(mut c) = mosquitto_tool("mosquitto_sub", &b, &["-t", "bin/x", "-C", "1"]) {
            assert_eq!(run(&mut c).ok().stdout, ours.stdout, "{:?}", b.kind);
        }
        mq_pub(&b, &["-t", "bin/x", "-r", "-n"]);
    }
}

#[test]
fn debug_lines_match_mosquitto() {
    let Some(_) = mosquitto_bin("mosquitto_pub") else { return };
    for b in brokers("") {
        for qos in ["0", "1", "2"] {
            for v in ["311", "5"] {
                let args = ["-d", "-t", "dbg/x", "-q", qos, "-V", v, "-i", "dbg-client", "-m", "hello", "-r"];
                let ours = run(&mut tool("mq-pub", &b, &args)).ok();
                let theirs = run(&mut mosquitto_tool("mosquitto_pub", &b, &args).unwrap()).ok();
                assert_eq!(ours.out(), theirs.out(), "{:?} q{qos} v{v}", b.kind);
            }
        }
        // The subscriber side, including the retained message just published (two client ids, else the
        // second connection would take over the first one's session).
        let args = |id: &'static str| ["-d", "-t", "dbg/#", "-q", "2", "-i", id, "-C", "2", "-U", "other/#"];
        let ours = start_sub(tool("mq-sub", &b, &args("dbg-sub-1")));
        let theirs = start_sub(mosquitto_tool("mosquitto_sub", &b, &args("dbg-sub-2")).unwrap());
        // The retained message's QoS 2 flow must be over before the live message, or the two subscribers
        // could see the broker interleave them differently.
        for p in [&ours, &theirs] {
            p.wait_for("received UNSUBACK");
            p.wait_for("sending PUBCOMP");
        }
        mq_pub(&b, &["-t", "dbg/y", "-q", "1", "-m", "live"]);
        let (ours, theirs) = (finish(ours).ok(), finish(theirs).ok());
        assert_eq!(debug_lines(&ours.stdout), debug_lines(&theirs.stdout), "{:?}", b.kind);
        assert_eq!(strip_debug(&ours.stdout), strip_debug(&theirs.stdout), "{:?}", b.kind);
        mq_pub(&b, &["-t", "dbg/x", "-r", "-n"]);
    }
}

#[test]
fn retained_message_options() {
    for b in brokers("") {
        mq_pub(&b, &["-t", "ret/a", "-r", "-m", "old a"]);
        mq_pub(&b, &["-t", "ret/b", "-r", "-m", "old b"]);

        // -R: retained messages are not printed (v5: not even sent).
        for v in ["311", "5"] {
            let sub = mq_sub(&b, &["-t", "ret/#", "-R", "-v", "-C", "1", "-V", v]);
            mq_pub(&b, &["-t", "ret/c", "-m", "fresh"]);
            assert_eq!(strip_debug(&finish(sub).ok().stdout), b"ret/c fresh\n", "{:?} -R -V {v}", b.kind);
        }

        // --retained-only prints the retained messages and exits at the first live one; -T filters.
        let sub = mq_sub(&b, &["-t", "ret/#", "--retained-only", "-v", "-T", "ret/b"]);
        mq_pub(&b, &["-t", "ret/live", "-m", "live"]);
        assert_eq!(strip_debug(&finish(sub).ok().stdout), b"ret/a old a\n", "{:?}", b.kind);

        // --remove-retained clears what it receives (not what -T filters out).
        let r = run(&mut tool(
            "mq-sub",
            &b,
            &["-t", "ret/#", "--remove-retained", "--retained-only", "-T", "ret/b", "-W", "2"],
        ));
        assert!(r.code() == 0 || r.code() == 27, "{r:?}");
        let left = run(&mut tool("mq-sub", &b, &["-t", "ret/#", "-v", "-W", "1"]));
        assert_eq!(left.code(), 27);
        assert_eq!(left.out(), "ret/b old b\n", "{:?}", b.kind);
        mq_pub(&b, &["-t", "ret/b", "-r", "-n"]);
    }
}

#[test]
fn exit_options_e_c_w_and_unsubscribe() {
    for b in brokers("") {
        // -E: exit once subscribed.
        let r = run(&mut tool("mq-sub", &b, &["-t", "e/x", "-E", "-d"])).ok();
        assert!(r.out().contains("received SUBACK"), "{r:?}");
        // -W: timeout, status 27, "Timed out".
        let r = run(&mut tool("mq-sub", &b, &["-t", "nothing/here", "-W", "1"]));
        assert_eq!((r.code(), r.stderr.as_str()), (27, "Timed out\n"), "{:?}", b.kind);
        let r = run(&mut tool("mq-rr", &b, &["-t", "nobody", "-e", "no/answer", "-m", "x", "-W", "1"]));
        assert_eq!((r.code(), r.stderr.as_str()), (27, "Timed out\n"), "{:?}", b.kind);
        // -C counts printed messages; -U removes a subscription made in the same session.
        let sub = mq_sub(&b, &["-t", "cu/a", "-t", "cu/b", "-U", "cu/b", "-C", "2", "-v"]);
        sub.wait_for("received UNSUBACK");
        for t in ["cu/b", "cu/a", "cu/b", "cu/a", "cu/a"] {
            mq_pub(&b, &["-t", t, "-m", t]);
        }
        assert_eq!(strip_debug(&finish(sub).ok().stdout), b"cu/a cu/a\ncu/a cu/a\n", "{:?}", b.kind);
    }
}

#[test]
fn random_filter_extremes() {
    for b in brokers("") {
        let all = mq_sub(&b, &["-t", "rf", "--random-filter", "100", "-C", "20"]);
        let few = mq_sub(&b, &["-t", "rf", "--random-filter", "0.1", "-W", "2"]);
        let lines: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
        run_with_input(&mut tool("mq-pub", &b, &["-t", "rf", "-l", "-q", "1"]), lines.join("\n").as_bytes()).ok();
        assert_eq!(strip_debug(&finish(all).ok().stdout).iter().filter(|&&c| c == b'\n').count(), 20);
        // At 0.1% the chance of printing one of 20 is about 2%: allow at most two.
        let few = finish(few);
        assert!(strip_debug(&few.stdout).iter().filter(|&&c| c == b'\n').count() <= 2);
    }
}

#[test]
fn persistent_sessions_keep_messages() {
    for b in brokers("") {
        for (v, extra) in [("311", vec![]), ("5", vec!["-x", "60"])] {
            let id = format!("persist-{v}");
            let mut args = vec!["-t", "ps/x", "-q", "1", "-c", "-i", &id, "-V", v];
            args.extend(&extra);
            // Create the session, then publish while the subscriber is away.
            let mut create = args.clone();
            create.push("-E");
            run(&mut tool("mq-sub", &b, &create)).ok();
            mq_pub(&b, &["-t", "ps/x", "-q", "1", "-m", "kept for you"]);
            let mut again = args.clone();
            again.extend(["-C", "1"]);
            let r = run(&mut tool("mq-sub", &b, &again)).ok();
            assert_eq!(r.out(), "kept for you\n", "{:?} v{v}", b.kind);
            // Clean up the session.
            run(&mut tool("mq-sub", &b, &["-t", "ps/x", "-i", &id, "-E", "-V", v])).ok();
        }
    }
}

#[test]
fn will_is_published_when_the_client_dies() {
    for b in brokers("") {
        let watcher = mq_sub(&b, &["-t", "will/t", "-v", "-C", "1"]);
        let mut doomed = start_sub(tool(
            "mq-sub",
            &b,
            &["-t", "x", "-d", "--will-topic", "will/t", "--will-payload", "gone", "--will-qos", "1"],
        ));
        doomed.child.kill().unwrap();
        let _ = doomed.child.wait();
        assert_eq!(strip_debug(&finish(watcher).ok().stdout), b"will/t gone\n", "{:?}", b.kind);
    }
}

#[test]
fn url_option_sets_host_port_credentials_topic() {
    for b in brokers("") {
        let url = format!("mqtt://user:pw@127.0.0.1:{}/url/topic", b.port);
        let mut c = mq("mq-sub");
        c.args(["-d", "-L", &url, "-C", "1", "-v"]);
        let sub = start_sub(c);
        let r = run(mq("mq-pub").args(["-L", &url, "-m", "via url"])).ok();
        assert!(r.stderr.is_empty());
        assert_eq!(strip_debug(&finish(sub).ok().stdout), b"url/topic via url\n", "{:?}", b.kind);
    }
}

#[test]
fn unix_socket_and_bind_address() {
    let dir = tempfile::tempdir().unwrap();
    // Mosquitto started as root binds its unix socket after switching to its own user.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    for b in brokers_each(|kind| format!("listener 0 {}\n", dir.path().join(format!("{kind:?}.sock")).display())) {
        let sock = dir.path().join(format!("{:?}.sock", b.kind));
        let mut c = mq("mq-sub");
        c.args(["-d", "--unix", sock.to_str().unwrap(), "-t", "ux", "-C", "1"]);
        let sub = start_sub(c);
        mq_pub(&b, &["-A", "127.0.0.1", "--nodelay", "-t", "ux", "-m", "over tcp, read over unix"]);
        assert_eq!(strip_debug(&finish(sub).ok().stdout), b"over tcp, read over unix\n", "{:?}", b.kind);
    }
}

/// A one-connection SOCKS5 proxy (RFC 1928, user name/password per RFC 1929) on a free port; returns the
/// port, and the host name the client asked for once the connection is done.
fn socks5_proxy(user: &'static str, pass: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut b = [0u8; 2];
        c.read_exact(&mut b).unwrap();
        let mut methods = vec![0u8; usize::from(b[1])];
        c.read_exact(&mut methods).unwrap();
        assert!(methods.contains(&2), "client offered {methods:?}");
        c.write_all(&[5, 2]).unwrap();
        let mut v = [0u8; 2];
        c.read_exact(&mut v).unwrap();
        let mut u = vec![0u8; usize::from(v[1])];
        c.read_exact(&mut u).unwrap();
        let mut l = [0u8; 1];
        c.read_exact(&mut l).unwrap();
        let mut p = vec![0u8; usize::from(l[0])];
        c.read_exact(&mut p).unwrap();
        let ok = u == user.as_bytes() && p == pass.as_bytes();
        c.write_all(&[1, if ok { 0 } else { 1 }]).unwrap();
        assert!(ok);
        let mut h = [0u8; 5];
        c.read_exact(&mut h).unwrap();
        assert_eq!(&h[..4], &[5, 1, 0, 3]);
        let mut host = vec![0u8; usize::from(h[4])];
        c.read_exact(&mut host).unwrap();
        let mut port = [0u8; 2];
        c.read_exact(&mut port).unwrap();
        let host = String::from_utf8(host).unwrap();
        let upstream = TcpStream::connect((host.as_str(), u16::from_be_bytes(port))).unwrap();
        c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).unwrap();
        let (mut a, mut b2) = (c.try_clone().unwrap(), upstream.try_clone().unwrap());
        let t = std::thread::spawn(move || std::io::copy(&mut a, &mut b2));
        let (mut up, mut down) = (upstream, c);
        let _ = std::io::copy(&mut up, &mut down);
        let _ = down.shutdown(std::net::Shutdown::Both);
        let _ = t.join();
        host
    });
    (port, t)
}

#[test]
fn socks5_proxy_with_credentials() {
    for b in brokers("") {
        let (proxy, done) = socks5_proxy("u@x", "p:w");
        let sub = mq_sub(&b, &["-t", "px", "-C", "1"]);
        let url = format!("socks5h://u%40x:p%3Aw@127.0.0.1:{proxy}");
        mq_pub(&b, &["-h", "localhost", "--proxy", &url, "-t", "px", "-m", "through the proxy"]);
        assert_eq!(strip_debug(&finish(sub).ok().stdout), b"through the proxy\n");
        assert_eq!(done.join().unwrap(), "localhost", "the proxy resolves the broker's name (socks5h)");
    }
}

#[test]
fn request_response() {
    for b in brokers("") {
        // A responder: prints the request's response topic and correlation data, then the test answers.
        let responder = mq_sub(&b, &["-t", "rr/req", "-V", "5", "-C", "1", "-F", "%R|%D|%p"]);
        let mut rr = tool(
            "mq-rr",
            &b,
            &["-t", "rr/req", "-e", "rr/resp/1", "-m", "ping", "-D", "publish", "correlation-data", "c0rr"],
        );
        rr.stdin(Stdio::null());
        let rr = Proc::spawn(&mut rr);
        let req = String::from_utf8(strip_debug(&finish(responder).ok().stdout)).unwrap();
        assert_eq!(req, "rr/resp/1|c0rr|ping\n", "{:?}", b.kind);
        mq_pub(&b, &["-t", "rr/resp/1", "-V", "5", "-m", "pong"]);
        let r = finish(rr).ok();
        assert_eq!(r.out(), "pong\n", "{:?}", b.kind);
    }
}

#[test]
fn closed_stdout_ends_quietly() {
    for b in brokers("") {
        let mut c = tool("mq-sub", &b, &["-t", "pipe", "-d"]);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("received SUBACK") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0);
        }
        // Like `| head -0`: the reader goes away; the next messages hit a closed pipe.
        drop(out);
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            mq_pub(&b, &["-t", "pipe", "-m", "nobody reads this"]);
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "mq-sub kept running with a closed stdout");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert_eq!((status.code(), err.as_str()), (Some(0), ""), "{:?}", b.kind);
    }
}

/// Starts a broker of `kind` on `port` with the given config directory (so it can be restarted on the
/// same port).
fn broker_on(kind: Kind, port: u16, dir: &std::path::Path) -> Option<std::process::Child> {
    let conf = dir.join("b.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\n")).unwrap();
    let mut c = match kind {
        Kind::Mq => {
            let mut c = mq("mq");
            c.arg("broker");
            c
        }
        Kind::Mosquitto => command(mosquitto_bin("mosquitto")?),
    };
    let child = c.arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child)
}

#[test]
fn subscriber_reconnects_and_subscribes_again() {
    for kind in [Kind::Mq, Kind::Mosquitto] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let Some(mut broker) = broker_on(kind, port, dir.path()) else { continue };
        let mut c = mq("mq-sub");
        c.args(["-p", &port.to_string(), "-d", "-t", "rc", "-C", "1", "-k", "5"]).stdin(Stdio::null());
        let sub = Proc::spawn(&mut c);
        sub.wait_for("received SUBACK");
        broker.kill().unwrap();
        broker.wait().unwrap();
        let mut broker = broker_on(kind, port, dir.path()).unwrap();
        // The second SUBACK: connected and subscribed again.
        let deadline = Instant::now() + TIMEOUT;
        while sub.stdout.text().matches("received SUBACK").count() < 2 {
            assert!(Instant::now() < deadline, "no resubscription:\n{}", sub.stdout.text());
            std::thread::sleep(Duration::from_millis(20));
        }
        run(mq("mq-pub").args(["-p", &port.to_string(), "-t", "rc", "-m", "after restart"])).ok();
        let r = finish(sub).ok();
        assert_eq!(strip_debug(&r.stdout), b"after restart\n", "{kind:?}");
        let _ = broker.kill();
        let _ = broker.wait();
    }
}

#[test]
fn passwords_from_env_file_url_and_refusals() {
    let Some(passwd) = mosquitto_bin("mosquitto_passwd") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    assert!(command(passwd).args(["-c", "-b"]).arg(&pw).args(["alice", "s3cret"]).status().unwrap().success());
    let pwfile = dir.path().join("alice.pw");
    std::fs::write(&pwfile, "s3cret\n").unwrap();
    let conf = format!("allow_anonymous false\npassword_file {}\n", pw.display());
    // The harness allows anonymous access first; a later allow_anonymous wins in both brokers.
    for b in brokers(&conf) {
        let sub = mq_sub(&b, &["-t", "pw", "-u", "alice", "--pw-file", pwfile.to_str().unwrap(), "-C", "2"]);
        run(tool("mq-pub", &b, &["-t", "pw", "-u", "alice", "-m", "env"]).env("MQ_PASSWORD", "s3cret")).ok();
        let url = format!("mqtt://alice:s3cret@127.0.0.1:{}/pw", b.port);
        run(mq("mq-pub").args(["-L", &url, "-m", "url"])).ok();
        assert_eq!(strip_debug(&finish(sub).ok().stdout), b"env\nurl\n", "{:?}", b.kind);

        // A wrong password: the CONNACK code is the exit status, with Mosquitto's words.
        for (v, code) in [("311", 5), ("5", 135)] {
            let ours = run(&mut tool("mq-pub", &b, &["-t", "pw", "-u", "alice", "-P", "wrong", "-m", "x", "-V", v]));
            assert_eq!(ours.code(), code, "{:?} {ours:?}", b.kind);
            let sub = run(&mut tool("mq-sub", &b, &["-t", "pw", "-u", "alice", "-P", "wrong", "-V", v]));
            assert_eq!(sub.code(), code);
            if let Some(mut c) =
                mosquitto_tool("mosquitto_sub", &b, &["-t", "pw", "-u", "alice", "-P", "wrong", "-V", v])
            {
                let theirs = run(&mut c);
                assert_eq!((sub.code(), sub.stderr.as_str()), (theirs.code(), theirs.stderr.as_str()), "{:?}", b.kind);
            }
            if v == "311"
                && let Some(mut c) =
                    mosquitto_tool("mosquitto_pub", &b, &["-t", "pw", "-u", "alice", "-P", "wrong", "-m", "x"])
            {
                let theirs = run(&mut c);
                assert_eq!((ours.code(), ours.stderr.as_str()), (theirs.code(), theirs.stderr.as_str()));
            }
        }
    }
}

#[test]
fn pub_line_mode_and_repeat() {
    for b in brokers("") {
        let sub = mq_sub(&b, &["-t", "ln", "-C", "7", "-q", "1", "-v", "-F", "[%p]"]);
        run_with_input(&mut tool("mq-pub", &b, &["-t", "ln", "-l", "-q", "1", "-M", "2"]), b"a\nb\r\n\nlast").ok();
        mq_pub(&b, &["-t", "ln", "-m", "again", "--repeat", "3", "--repeat-delay", "0.05", "-q", "2"]);
        assert_eq!(
            strip_debug(&finish(sub).ok().stdout),
            b"[a]\n[b\r]\n[]\n[last]\n[again]\n[again]\n[again]\n",
            "{:?}",
            b.kind
        );
    }
}

#[test]
fn stdin_file_and_maximum_packet_size() {
    for b in brokers("max_packet_size 2000\n") {
        let sub = mq_sub(&b, &["-t", "sz", "-C", "1", "-V", "5"]);
        run_with_input(&mut tool("mq-pub", &b, &["-t", "sz", "-s", "-V", "5"]), &[b'z'; 1500]).ok();
        let r = finish(sub).ok();
        assert_eq!(strip_debug(&r.stdout).len(), 1501);

        // Too big for the broker's Maximum Packet Size: refused before sending, with a clear message.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        std::fs::write(&f, vec![b'x'; 5000]).unwrap();
        let r = run(&mut tool("mq-pub", &b, &["-t", "sz", "-f", f.to_str().unwrap(), "-V", "5", "-q", "1"]));
        assert_eq!(r.code(), 1, "{:?} {r:?}", b.kind);
        assert!(r.stderr.contains("is 5000 bytes; the broker accepts packets of at most 2000 bytes"), "{}", r.stderr);
    }
}

#[test]
fn pub_line_mode_reconnects() {
    for kind in [Kind::Mq, Kind::Mosquitto] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let Some(mut broker) = broker_on(kind, port, dir.path()) else { continue };
        let port_arg = port.to_string();
        let mut c = mq("mq-sub");
        c.args(["-p", &port_arg, "-d", "-t", "lr", "-C", "2", "-q", "1"]).stdin(Stdio::null());
        let sub = Proc::spawn(&mut c);
        sub.wait_for("received SUBACK");
        let mut c = mq("mq-pub");
        c.args(["-p", &port_arg, "-t", "lr", "-l", "-q", "1"]).stdin(Stdio::piped());
        let mut publisher = Proc::spawn(&mut c);
        let mut stdin = publisher.child.stdin.take().unwrap();
        stdin.write_all(b"before\n").unwrap();
        sub.wait_for("before");
        broker.kill().unwrap();
        broker.wait().unwrap();
        let mut broker = broker_on(kind, port, dir.path()).unwrap();
        let deadline = Instant::now() + TIMEOUT;
        while sub.stdout.text().matches("received SUBACK").count() < 2 {
            assert!(Instant::now() < deadline, "no resubscription");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Written while the publisher may still be reconnecting: it is sent once it is connected again.
        stdin.write_all(b"after\n").unwrap();
        drop(stdin);
        assert!(publisher.wait().success(), "{}", publisher.stderr.text());
        let r = finish(sub).ok();
        assert_eq!(strip_debug(&r.stdout), b"before\nafter\n", "{kind:?}");
        let _ = broker.kill();
        let _ = broker.wait();
    }
}

#[test]
fn keepalive_pings_and_retain_as_published() {
    for b in brokers("") {
        // -k 5: a PINGREQ after five idle seconds, answered.
        let r = run(&mut tool("mq-sub", &b, &["-t", "ka", "-k", "5", "-d", "-W", "6"]));
        assert_eq!(r.code(), 27);
        let lines = debug_lines(&r.stdout);
        assert!(lines.contains(&"Client <id> sending PINGREQ".to_string()), "{lines:?}");
        assert!(lines.contains(&"Client <id> received PINGRESP".to_string()), "{lines:?}");

        // --retain-as-published (MQTT 5) keeps the retain flag of live messages.
        let rap = mq_sub(&b, &["-t", "rap", "-V", "5", "--retain-as-published", "-F", "%r", "-C", "1"]);
        let plain = mq_sub(&b, &["-t", "rap", "-V", "5", "-F", "%r", "-C", "1"]);
        mq_pub(&b, &["-t", "rap", "-r", "-m", "x"]);
        assert_eq!(strip_debug(&finish(rap).ok().stdout), b"1\n", "{:?}", b.kind);
        assert_eq!(strip_debug(&finish(plain).ok().stdout), b"0\n", "{:?}", b.kind);
        mq_pub(&b, &["-t", "rap", "-r", "-n"]);
    }
}
