//! Authentication and authorisation in `mq broker`: password files (ours and `mosquitto_passwd`'s),
//! `allow_anonymous`, ACL files (user, topic, pattern, deny; checked on publish, subscribe and delivery),
//! `per_listener_settings`, `clientid_prefixes`, `use_username_as_clientid`, reload on SIGHUP, and hostile
//! input. Clients are rumqttc (3.1.1 and 5) and Mosquitto's tools.

use std::path::Path;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5 as r5;
use tokio::sync::mpsc;

use crate::harness::{Broker, TIMEOUT, free_port, mosquitto_bin, mq};

const PASSWORD_USERS: [(&str, &str); 4] =
    [("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"), ("admin", "admin-pw")];

/// Writes a password file with `mq-passwd -b` for every user.
fn password_file(dir: &Path, users: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.join("passwords");
    for (i, (u, p)) in users.iter().enumerate() {
        let mut cmd = mq("mq-passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let st = cmd.arg("-b").arg(&path).arg(u).arg(p).status().expect("mq-passwd runs");
        assert!(st.success());
    }
    path
}

/// A 3.1.1 client whose event loop runs in a task, forwarding what arrives.
struct V4 {
    client: rumqttc::AsyncClient,
    rx: mpsc::UnboundedReceiver<rumqttc::Packet>,
}

async fn v4(port: u16, id: &str, login: Option<(&str, &str)>) -> Result<V4, rumqttc::ConnectReturnCode> {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    if let Some((u, p)) = login {
        o.set_credentials(u, p);
    }
    let (client, mut el) = rumqttc::AsyncClient::new(o, 100);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, el.poll()).await.expect("CONNACK in time") {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(rumqttc::ConnectionError::ConnectionRefused(code)) => return Err(code),
            Err(e) => panic!("connect failed: {e}"),
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            if let rumqttc::Event::Incoming(p) = ev
                && tx.send(p).is_err()
            {
                break;
            }
        }
    });
    Ok(V4 { client, rx })
}

impl V4 {
    /// Subscribes and returns the SUBACK return codes.
    async fn subscribe(&mut self, filter: &str) -> Vec<rumqttc::SubscribeReasonCode> {
        self.client.subscribe(filter, rumqttc::QoS::AtLeastOnce).await.unwrap();
        loop {
            if let rumqttc::Packet::SubAck(s) = self.next().await {
                return s.return_codes;
            }
        }
    }

    async fn publish(&self, topic: &str, payload: &str) {
        self.client.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.as_bytes().to_vec()).await.unwrap();
    }

    async fn next(&mut self) -> rumqttc::Packet {
        tokio::time::timeout(TIMEOUT, self.rx.recv()).await.expect("packet in time").expect("connection open")
    }

    /// Topics and payloads of the PUBLISHes received until one on `marker` arrives (exclusive).
    async fn until(&mut self, marker: &str) -> Vec<(String, String)> {
        let mut seen = Vec::new();
        loop {
            if let rumqttc::Packet::Publish(p) = self.next().await {
                if p.topic == marker {
                    return seen;
                }
                seen.push((p.topic.clone(), String::from_utf8_lossy(&p.payload).into_owned()));
            }
        }
    }
}

/// A v5 CONNECT's outcome: the CONNACK reason code.
async fn v5_connect_code(port: u16, id: &str, login: Option<(&str, &str)>) -> r5::ConnectReturnCode {
    let mut o = rumqttc::v5::MqttOptions::new(id, "127.0.0.1", port);
    if let Some((u, p)) = login {
        o.set_credentials(u, p);
    }
    let (_client, mut el) = rumqttc::v5::AsyncClient::new(o, 10);
    loop {
        match tokio::time::timeout(TIMEOUT, el.poll()).await.expect("CONNACK in time") {
            Ok(rumqttc::v5::Event::Incoming(r5::Packet::ConnAck(c))) => return c.code,
            Ok(_) => {}
            Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => return code,
            Err(e) => panic!("connect failed: {e}"),
        }
    }
}

fn secured(dir: &Path, acl: Option<&str>) -> impl Fn(u16) -> String {
    let pw = password_file(dir, &PASSWORD_USERS);
    let acl_line = acl.map(|text| {
        let path = dir.join("acl");
        std::fs::write(&path, text).unwrap();
        format!("acl_file {}\n", path.display())
    });
    move |port| {
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n{}",
            pw.display(),
            acl_line.clone().unwrap_or_default()
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn password_file_logins_in_v311_and_v5() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::mq_conf(secured(dir.path(), None));
    let port = broker.port;
    assert!(v4(port, "a1", Some(("alice", "alice-pw"))).await.is_ok());
    assert_eq!(v4(port, "a2", Some(("alice", "wrong"))).await.err(), Some(rumqttc::ConnectReturnCode::NotAuthorized));
    assert_eq!(v4(port, "a3", Some(("nobody", "x"))).await.err(), Some(rumqttc::ConnectReturnCode::NotAuthorized));
    assert_eq!(v4(port, "a4", None).await.err(), Some(rumqttc::ConnectReturnCode::NotAuthorized), "anonymous refused");
    assert_eq!(v5_connect_code(port, "b1", Some(("bob", "bob-pw"))).await, r5::ConnectReturnCode::Success);
    assert_eq!(v5_connect_code(port, "b2", Some(("bob", "nope"))).await, r5::ConnectReturnCode::NotAuthorized);
    assert_eq!(v5_connect_code(port, "b3", None).await, r5::ConnectReturnCode::NotAuthorized);
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_table_v311() {
    let dir = tempfile::tempdir().unwrap();
    let acl = "\
# anonymous rules come first (no anonymous clients here, but they must not leak to users)
topic read public/#

user alice
topic readwrite alice/#
topic read shared/#
topic deny shared/secret

user bob
topic write shared/#
topic write alice/inbox

user admin
topic read #

pattern readwrite users/%u/#
pattern read clients/%c/#
";
    let broker = Broker::mq_conf(secured(dir.path(), Some(acl)));
    let port = broker.port;
    let mut admin = v4(port, "admin", Some(("admin", "admin-pw"))).await.unwrap();
    let mut alice = v4(port, "alice-c", Some(("alice", "alice-pw"))).await.unwrap();
    let mut bob = v4(port, "bob-c", Some(("bob", "bob-pw"))).await.unwrap();
    let mut carol = v4(port, "carol-c", Some(("carol", "carol-pw"))).await.unwrap();

    use rumqttc::SubscribeReasonCode::{Failure, Success};
    let granted = vec![Success(rumqttc::QoS::AtLeastOnce)];
    assert_eq!(admin.subscribe("#").await, granted);
    assert_eq!(alice.subscribe("shared/#").await, granted);
    assert_eq!(alice.subscribe("alice/inbox").await, granted);
    // Subscriptions that could never deliver anything are refused in SUBACK (beyond Mosquitto 2.0).
    assert_eq!(alice.subscribe("bob/#").await, vec![Failure]);
    assert_eq!(alice.subscribe("public/#").await, vec![Failure], "anonymous rules do not apply to users");
    assert_eq!(alice.subscribe("shared/secret").await, vec![Failure], "a deny covering the filter");
    assert_eq!(carol.subscribe("users/carol/#").await, granted, "pattern with %u");
    assert_eq!(carol.subscribe("users/alice/#").await, vec![Failure]);
    assert_eq!(carol.subscribe("clients/carol-c/#").await, granted, "pattern with %c");
    assert_eq!(bob.subscribe("alice/#").await, vec![Failure], "bob may only write");

    // Writes: bob may write shared/#; alice may not.
    bob.publish("shared/news", "from-bob").await;
    bob.publish("shared/secret", "hidden").await;
    bob.publish("done/bob", "").await; // denied for bob too, but admin never sees it: use a permitted marker
    bob.publish("alice/inbox", "marker").await;
    let got = alice.until("alice/inbox").await;
    assert_eq!(got, [("shared/news".to_string(), "from-bob".to_string())], "deny wins on read for alice");
    let got = admin.until("alice/inbox").await;
    assert_eq!(
        got,
        [("shared/news".into(), "from-bob".into()), ("shared/secret".into(), "hidden".into())],
        "admin reads everything bob may write; done/bob was refused"
    );

    alice.publish("shared/news", "from-alice").await; // alice may only read shared/#
    alice.publish("alice/own", "ok").await;
    alice.publish("users/alice/x", "pattern-ok").await;
    alice.publish("alice/inbox", "m2").await;
    let got = admin.until("alice/inbox").await;
    assert_eq!(got, [("alice/own".into(), "ok".into()), ("users/alice/x".into(), "pattern-ok".into())]);

    carol.publish("users/carol/a", "c1").await;
    carol.publish("users/alice/a", "c2").await;
    carol.publish("users/carol/end", "c3").await;
    let got = admin.until("users/carol/end").await;
    assert_eq!(got, [("users/carol/a".into(), "c1".into())], "carol writes only under her own name");
    let got = carol.until("users/carol/end").await;
    assert_eq!(got, [("users/carol/a".into(), "c1".into())], "carol reads her own tree back");
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_v5_reason_codes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::mq_conf(secured(dir.path(), Some("user alice\ntopic read r/#\ntopic write w/#\n")));
    let mut o = rumqttc::v5::MqttOptions::new("v5-alice", "127.0.0.1", broker.port);
    o.set_credentials("alice", "alice-pw");
    let (client, mut el) = rumqttc::v5::AsyncClient::new(o, 10);
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            if let rumqttc::v5::Event::Incoming(p) = ev
                && tx.send(p).is_err()
            {
                break;
            }
        }
    });
    let mut next = async || tokio::time::timeout(TIMEOUT, rx.recv()).await.expect("in time").expect("open");
    use rumqttc::v5::mqttbytes::QoS;
    client.subscribe("x/#", QoS::AtLeastOnce).await.unwrap();
    client.publish("r/1", QoS::AtLeastOnce, false, "no").await.unwrap();
    client.publish("w/1", QoS::AtLeastOnce, false, "yes").await.unwrap();
    let (mut suback, mut pubacks) = (None, Vec::new());
    while suback.is_none() || pubacks.len() < 2 {
        match next().await {
            r5::Packet::SubAck(s) => suback = Some(s.return_codes),
            r5::Packet::PubAck(a) => pubacks.push(a.reason),
            _ => {}
        }
    }
    assert_eq!(suback.unwrap(), vec![r5::SubscribeReasonCode::NotAuthorized]);
    // PUBACK order follows PUBLISH order.
    assert_eq!(pubacks, vec![r5::PubAckReason::NotAuthorized, r5::PubAckReason::NoMatchingSubscribers]);
}

#[tokio::test(flavor = "multi_thread")]
async fn per_listener_settings_keep_each_listener_its_own_rules() {
    let dir = tempfile::tempdir().unwrap();
    let pw_a = password_file(&dir.path().join("a").tap_mkdir(), &[("alice", "a-pw")]);
    let pw_b = password_file(&dir.path().join("b").tap_mkdir(), &[("alice", "b-pw")]);
    let acl_b = dir.path().join("acl_b");
    std::fs::write(&acl_b, "user alice\ntopic read only/#\n").unwrap();
    let port_b = free_port();
    let broker = Broker::mq_conf(|port| {
        format!(
            "per_listener_settings true\n\
             listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n\
             listener {port_b} 127.0.0.1\nallow_anonymous true\npassword_file {}\nacl_file {}\n",
            pw_a.display(),
            pw_b.display(),
            acl_b.display()
        )
    });
    // Listener A: its own password, no anonymous, no ACL.
    assert!(v4(broker.port, "x1", Some(("alice", "a-pw"))).await.is_ok());
    assert!(v4(broker.port, "x2", Some(("alice", "b-pw"))).await.is_err());
    assert!(v4(broker.port, "x3", None).await.is_err());
    // Listener B: the other password, anonymous allowed, and its ACL applies.
    assert!(v4(port_b, "y1", Some(("alice", "a-pw"))).await.is_err());
    let mut b = v4(port_b, "y2", Some(("alice", "b-pw"))).await.unwrap();
    assert_eq!(b.subscribe("elsewhere/#").await, vec![rumqttc::SubscribeReasonCode::Failure]);
    assert!(v4(port_b, "y3", None).await.is_ok());
    let mut a = v4(broker.port, "x4", Some(("alice", "a-pw"))).await.unwrap();
    assert_eq!(
        a.subscribe("elsewhere/#").await,
        vec![rumqttc::SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)]
    );
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}
impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clientid_prefixes_and_username_as_clientid() {
    let broker = Broker::mq("clientid_prefixes sensor-\n");
    assert!(v4(broker.port, "sensor-1", None).await.is_ok());
    assert_eq!(v4(broker.port, "other", None).await.err(), Some(rumqttc::ConnectReturnCode::NotAuthorized));

    let dir = tempfile::tempdir().unwrap();
    let conf = secured(dir.path(), None);
    let broker = Broker::mq_conf(|port| format!("{}use_username_as_clientid true\n", conf(port)));
    // Two connections with different client ids but one user name: the second takes the first over.
    let mut first = v4(broker.port, "id-1", Some(("bob", "bob-pw"))).await.unwrap();
    let _second = v4(broker.port, "id-2", Some(("bob", "bob-pw"))).await.unwrap();
    let closed = tokio::time::timeout(TIMEOUT, first.rx.recv()).await.expect("old connection closed in time");
    assert!(closed.is_none(), "the first connection was taken over: {closed:?}");
    broker.wait_log("as bob");
}

/// A line of `mosquitto_passwd`'s test vector for `secret` (Mosquitto 2.0 reads it too).
const GOOD_LINE: &str = "good:$7$101$AAECAwQFBgcICQoL$Xr99N9ym9ys8TWxis5ajETJq6EVYzmc6nb8t3pUYnPBbCAbICS4xejTltonXWCtJNBvA+By+TXUqU6qCblO00w==";

/// A password file with the lines Mosquitto skips when it starts: a name without `:`, a 1 MB
/// line, a line that is not UTF-8; then the good user.
fn password_file_with_lines_mosquitto_skips(path: &Path) {
    let mut text = b"# users\nname-only\n".to_vec();
    text.extend_from_slice(format!("big:{}\n", "A".repeat(1 << 20)).as_bytes());
    text.extend_from_slice(b"caf\xe9:$7$101$x$y\n");
    text.extend_from_slice(GOOD_LINE.as_bytes());
    text.push(b'\n');
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn password_file_lines_mosquitto_skips_are_logged_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    password_file_with_lines_mosquitto_skips(&pw);
    let conf = |port: u16| {
        format!("user root\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", pw.display())
    };

    // --test-config reports the lines and passes, since the broker would start.
    let conf_path = dir.path().join("check.conf");
    std::fs::write(&conf_path, conf(free_port())).unwrap();
    let out = mq("mq").arg("broker").arg("--test-config").arg("-c").arg(&conf_path).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Configuration OK"), "{text}");
    for line in [2, 3, 4] {
        assert!(text.contains(&format!("{}:{line}: ", pw.display())), "line {line}: {text}");
    }

    let broker = Broker::mq_conf(conf);
    let log = broker.wait_log(&format!("{}:4: ", pw.display()));
    assert!(log.contains(&format!("{}:2: missing ':'", pw.display())), "{log}");
    assert!(log.contains(&format!("{}:3: ", pw.display())), "{log}");
    assert!(log.contains(&format!("{}:4: line is not valid UTF-8", pw.display())), "{log}");
    assert!(log.lines().all(|l| l.len() < 1000), "no log line echoes the 1 MB line");
    assert!(v4(broker.port, "g1", Some(("good", "secret"))).await.is_ok(), "the good user logs in");
    assert!(v4(broker.port, "g2", Some(("good", "wrong"))).await.is_err());

    // SIGHUP: the same reading; a new bad line is logged, the new good user is in.
    let mut text = std::fs::read(&pw).unwrap();
    text.extend_from_slice(b"another-name-only\n");
    text.extend_from_slice(GOOD_LINE.replacen("good", "second", 1).as_bytes());
    text.push(b'\n');
    std::fs::write(&pw, text).unwrap();
    broker.signal("HUP");
    broker.wait_log(&format!("{}:6: missing ':'", pw.display()));
    let deadline = std::time::Instant::now() + TIMEOUT;
    while v4(broker.port, "s1", Some(("second", "secret"))).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "reload never took effect:\n{}", broker.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(v4(broker.port, "g3", Some(("good", "secret"))).await.is_ok());

    // Mosquitto starts with the same file and lets the good user in.
    if let Some(mosquitto) = Broker::mosquitto_conf(conf) {
        assert!(v4(mosquitto.port, "m1", Some(("good", "secret"))).await.is_ok(), "{}", mosquitto.log());
    }
}

/// Started as root with `user nobody`, the broker warns about a password file that nobody may read
/// (what `mq-passwd -c` makes when run as root): the start reads it as root, but a reload on SIGHUP,
/// after the switch to nobody, fails, as the warning says. Skipped when not run as root.
#[tokio::test(flavor = "multi_thread")]
async fn password_file_unreadable_after_privilege_drop_is_warned_about() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let dir = tempfile::tempdir().unwrap();
    if std::fs::metadata(dir.path()).unwrap().uid() != 0 {
        eprintln!("skipping: needs root, to start the broker as root and drop privileges");
        return;
    }
    let chmod = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    chmod(dir.path(), 0o755);
    let pw = password_file(dir.path(), &[("alice", "alice-pw")]);
    assert_eq!(std::fs::metadata(&pw).unwrap().mode() & 0o777, 0o600);
    let conf = |port: u16| {
        format!("user nobody\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", pw.display())
    };

    let broker = Broker::mq_conf(conf);
    let log = broker.wait_log("will not be readable by user nobody");
    let expected = format!(
        "The password file {} will not be readable by user nobody once privileges are dropped (the file is owned \
         by root:root, mode 0600); reloading it on SIGHUP will fail.",
        pw.display()
    );
    assert!(log.contains(&expected), "{log}");
    assert!(v4(broker.port, "a1", Some(("alice", "alice-pw"))).await.is_ok(), "read at start, as root");
    // The warning is right: a reload (configuration readable, password file not) fails.
    chmod(broker.dir(), 0o755);
    broker.signal("HUP");
    broker.wait_log("Reload of security files failed");

    // A file the user can read gives no warning.
    let id = std::process::Command::new("id").args(["-g", "nobody"]).output().unwrap();
    let nobody_gid: u32 = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
    chmod(&pw, 0o640);
    std::os::unix::fs::chown(&pw, None, Some(nobody_gid)).unwrap();
    let broker = Broker::mq_conf(conf);
    let log = broker.wait_log(" starting");
    assert!(!log.contains("will not be readable"), "{log}");
}

/// With a file in `mosquitto_passwd`'s format (`$7$`, 101 iterations), refusing an unknown user name
/// takes as long as refusing a wrong password, so the time does not tell which names exist. The two
/// are timed alternately, many times, and compared by their medians with a wide margin: the check
/// costs the same work either way (the unit tests of `mq-passwd` count it), so only noise separates
/// them; a decoy of different cost (10,000 iterations) made unknown names about 60 times slower
/// here.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_names_take_as_long_to_refuse_as_wrong_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    for (i, user) in ["alice", "bob", "carol"].iter().enumerate() {
        let mut cmd = mq("mq-passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        assert!(cmd.args(["-I", "101", "-b"]).arg(&pw).args([user, "pw"]).status().unwrap().success());
    }
    let broker = Broker::mq_conf(|port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", pw.display())
    });
    let refusal_time = async |user: &str| {
        let start = std::time::Instant::now();
        assert!(v4(broker.port, "t", Some((user, "wrong"))).await.is_err());
        start.elapsed()
    };
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..15 {
        unknown.push(refusal_time(&format!("nobody{i}")).await);
        wrong.push(refusal_time("bob").await);
    }
    unknown.sort();
    wrong.sort();
    let (unknown, wrong) = (unknown[unknown.len() / 2], wrong[wrong.len() / 2]);
    assert!(unknown < wrong * 4, "median refusal: unknown user {unknown:?}, wrong password {wrong:?}");
}

/// A flood of CONNECTs with unknown user names from one address (127.0.0.1) does not hold back a valid
/// login from another (127.0.0.2): checks waiting for a core are served round-robin per address.
///
/// Every check costs the same (10,000 iterations, `mq-passwd`'s default; a few hundred ms each in a
/// debug build) and as many run at once as there are cores. Served first come, first served, the valid
/// login would come after nearly the whole flood; taking turns, after the checks already running and
/// about one more per core. The test counts the flood's refusals that arrive before the valid CONNACK,
/// which does not depend on how fast the machine is.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_flood_from_one_address_does_not_hold_back_another() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use crate::broker_util::wire;

    const FLOOD: usize = 100;
    const REFUSED: [u8; 4] = [0x20, 0x02, 0x00, 0x05];
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), &[("alice", "alice-pw")]);
    assert!(std::fs::read_to_string(&pw).unwrap().starts_with("alice:$7$10000$"));
    let broker = Broker::mq_conf(|port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", pw.display())
    });
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], broker.port));
    let connect = |user: &str, password: &str| {
        let mut c = wire::Connect::v311(&format!("c-{user}"));
        c.username = Some(user.into());
        c.password = Some(password.as_bytes().to_vec());
        c.bytes()
    };

    let refused = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for i in 0..FLOOD {
        let (packet, refused) = (connect(&format!("ghost{i}"), "x"), refused.clone());
        flood.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(&packet).await.unwrap();
            let mut ack = [0u8; 4];
            if s.read_exact(&mut ack).await.is_ok() && ack == REFUSED {
                refused.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Once the first refusal is out, the checks are running and the flood has long been read and queued.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while refused.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "no refusal came:\n{}", broker.log());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 2], 0)).into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    let std_stream: std::net::TcpStream = socket.into();
    std_stream.set_nonblocking(true).unwrap();
    let mut valid = tokio::net::TcpStream::from_std(std_stream).unwrap();
    let start = std::time::Instant::now();
    valid.write_all(&connect("alice", "alice-pw")).await.unwrap();
    let mut ack = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(120), valid.read_exact(&mut ack)).await.expect("CONNACK").unwrap();
    let (before, took) = (refused.load(Ordering::SeqCst), start.elapsed());
    eprintln!("valid login after {before} of {FLOOD} refusals, in {took:?}");
    assert_eq!(ack, [0x20, 0x02, 0x00, 0x00], "alice is let in");
    assert!(
        before <= FLOOD / 4,
        "the valid login waited for {before} of the flood's {FLOOD} refusals ({took:?}); taking turns, it waits \
         for a few"
    );
    for t in flood {
        t.abort();
    }
}

#[test]
fn bad_acl_lines_stop_the_start_with_their_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.conf");
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "user a\ntopic read ok/#\ntopic read bad/#/x\nnonsense\n").unwrap();
    std::fs::write(&conf, format!("listener {} 127.0.0.1\nacl_file {}\n", free_port(), acl.display())).unwrap();
    let out = mq("mq").arg("broker").arg("-c").arg(&conf).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("{}:3: invalid topic 'bad/#/x'", acl.display())), "{err}");
    assert!(err.contains(&format!("{}:4: unknown keyword 'nonsense'", acl.display())), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_passwords_and_acl_without_dropping_clients() {
    let dir = tempfile::tempdir().unwrap();
    let conf = secured(dir.path(), Some("user alice\ntopic read a/#\n"));
    let broker = Broker::mq_conf(|port| format!("user root\n{}", conf(port)));
    let mut alice = v4(broker.port, "alice-c", Some(("alice", "alice-pw"))).await.unwrap();
    assert_eq!(alice.subscribe("b/#").await, vec![rumqttc::SubscribeReasonCode::Failure]);

    // New password for alice, and b/# readable.
    let st = mq("mq-passwd").arg("-b").arg(dir.path().join("passwords")).arg("alice").arg("new-pw").status().unwrap();
    assert!(st.success());
    std::fs::write(dir.path().join("acl"), "user alice\ntopic read a/#\ntopic read b/#\n").unwrap();
    broker.signal("HUP");
    broker.wait_log("Reloading config.");
    // The connected client stays connected and gets the new rules.
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if alice.subscribe("b/#").await == vec![rumqttc::SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "reload never took effect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(v4(broker.port, "n1", Some(("alice", "new-pw"))).await.is_ok());
    assert!(v4(broker.port, "n2", Some(("alice", "alice-pw"))).await.is_err());

    // A broken ACL on reload keeps the old rules and says why.
    std::fs::write(dir.path().join("acl"), "user alice\ntopic read a/#/bad\n").unwrap();
    broker.signal("HUP");
    broker.wait_log("keeping the old ones");
    assert_eq!(alice.subscribe("b/x").await, vec![rumqttc::SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_storm_does_not_stop_other_clients() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::mq_conf(secured(dir.path(), None));
    let port = broker.port;
    let mut sub = v4(port, "sub", Some(("admin", "admin-pw"))).await.unwrap();
    sub.subscribe("flow/#").await;
    let publisher = v4(port, "pub", Some(("bob", "bob-pw"))).await.unwrap();
    // 200 connections with wrong passwords (and huge user names and passwords) at once.
    let huge_user = "u".repeat(65_535);
    let huge_pw = "p".repeat(65_535);
    let mut storm = Vec::new();
    for i in 0..200 {
        let (u, p) =
            if i % 10 == 0 { (huge_user.clone(), huge_pw.clone()) } else { ("alice".into(), format!("bad{i}")) };
        storm.push(tokio::spawn(async move {
            let mut o = rumqttc::MqttOptions::new(format!("bad{i}"), "127.0.0.1", port);
            o.set_credentials(u, p);
            o.set_max_packet_size(300_000, 300_000);
            let (_c, mut el) = rumqttc::AsyncClient::new(o, 10);
            loop {
                match el.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => return true,
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
        }));
    }
    for i in 0..200 {
        publisher.publish("flow/n", &i.to_string()).await;
    }
    publisher.publish("flow/end", "").await;
    let got = sub.until("flow/end").await;
    assert_eq!(got.len(), 200, "every message of the well-behaved publisher arrived");
    for t in storm {
        assert!(!t.await.unwrap(), "no wrong password got in");
    }
}

#[test]
fn mosquitto_passwd_files_work_in_mq_broker() {
    let Some(tool) = mosquitto_bin("mosquitto_passwd") else { return };
    let Some(pubber) = mosquitto_bin("mosquitto_pub") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    assert!(
        crate::harness::command(&tool)
            .arg("-c")
            .arg("-b")
            .arg(&pw)
            .arg("eve")
            .arg("s3cret")
            .status()
            .unwrap()
            .success()
    );
    assert!(
        crate::harness::command(&tool)
            .arg("-H")
            .arg("sha512")
            .arg("-b")
            .arg(&pw)
            .arg("old")
            .arg("legacy")
            .status()
            .unwrap()
            .success()
    );
    let broker = Broker::mq_conf(|port| format!("listener {port} 127.0.0.1\npassword_file {}\n", pw.display()));
    let publish = |u: &str, p: &str| {
        crate::harness::command(&pubber)
            .args(["-p", &broker.port_arg(), "-t", "t", "-m", "x", "-u", u, "-P", p])
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(publish("eve", "s3cret"), Some(0));
    assert_eq!(publish("old", "legacy"), Some(0));
    assert_eq!(publish("eve", "wrong"), Some(5));
}

/// A password file entry made for the empty password (`mosquitto_passwd -b file user ""` writes one)
/// lets nobody in: a zero-length password counts as none, as in Mosquitto. Raw CONNECTs, since client
/// libraries leave an empty password out.
#[test]
fn an_empty_password_never_logs_in() {
    use crate::broker_util::Raw;
    use crate::broker_util::wire::Connect;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passwords");
    let mut file = mq_passwd::PasswordFile::new();
    for (user, pw) in [("empty", ""), ("full", "full-pw")] {
        let iterations = std::num::NonZeroU32::new(1000).unwrap();
        file.set(user, mq_passwd::PasswordHash::pbkdf2_with_salt(pw.as_bytes(), b"0123456789ab", iterations)).unwrap();
    }
    std::fs::write(&path, file.to_text()).unwrap();
    let broker = Broker::mq_conf(move |port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n", path.display())
    });
    for level in [4u8, 5] {
        let login = |user: &str, pw: &str| {
            let mut c = Connect::level(level, &format!("{user}-{level}"));
            c.username = Some(user.into());
            c.password = Some(pw.as_bytes().to_vec());
            Raw::open(broker.port).handshake(&c).code
        };
        let refused = if level == 5 { 0x87 } else { 5 };
        assert_eq!(login("full", "full-pw"), 0, "level {level}");
        assert_eq!(login("empty", ""), refused, "level {level}: empty password");
        assert_eq!(login("full", ""), refused, "level {level}");
    }
}
