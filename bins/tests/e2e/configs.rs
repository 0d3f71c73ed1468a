//! Configuration files as users have them: Mosquitto's documented example, Debian's packaged file and
//! typical real-world configurations either pass `mq broker --test-config` or fail with a precise
//! `file:line:` message; MQTT 5 request/response information; `max_inflight_bytes`.

use std::path::Path;

use rumqttc::v5::mqttbytes::v5 as r5;

use crate::harness::{Broker, TIMEOUT, mq};

fn test_config(path: &Path) -> (bool, String) {
    let out = mq("mq")
        .arg("broker")
        .arg("--test-config")
        .arg("-c")
        .arg(path)
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn sample_configurations_start_or_say_precisely_why_not() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/config/tests/data");
    let expect: &[(&str, Option<&str>)] = &[
        ("debian-example-mosquitto.conf", None),
        ("legacy-port.conf", None),
        ("unix-socket.conf", None),
        // Configurations naming files this machine does not have say which line named them.
        ("home-automation.conf", Some("home-automation.conf:13: unable to read password file /etc/mq/passwd")),
        ("per-listener.conf", Some("per-listener.conf:5: unable to read password file /etc/mq/internal.passwd")),
        ("bridge.conf", None),
        ("tls.conf", Some("tls.conf:6: unable to read certfile /etc/mq/server.crt")),
        // Debian's packaged file, `persistence true` included.
        ("debian-etc-mosquitto.conf", None),
        ("broken.conf", Some("broken.conf:4: unknown option \"bogus_option\"")),
    ];
    for (file, failure) in expect {
        let (ok, out) = test_config(&data.join(file));
        // Debian's pid and log directories exist once the package is installed and its service has
        // run; elsewhere --test-config says start-up could not write there, at the lines naming them.
        if *file == "debian-etc-mosquitto.conf" && !ok {
            let missing = ["/run/mosquitto", "/var/log/mosquitto"].iter().any(|d| !Path::new(d).is_dir());
            assert!(missing, "{file}: {out}");
            for line in out.lines() {
                assert!(
                    line.contains("debian-etc-mosquitto.conf:6: pid_file: cannot write")
                        || line.contains("debian-etc-mosquitto.conf:11: log_dest file: cannot write"),
                    "{file}: {out}"
                );
            }
            continue;
        }
        match failure {
            None => assert!(ok && out.contains("Configuration OK"), "{file}: {out}"),
            Some(msg) => {
                assert!(!ok, "{file} should fail");
                assert!(out.contains(msg), "{file}: expected {msg:?} in {out}");
            }
        }
    }
}

#[test]
fn test_config_checks_the_files_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("m.conf");
    std::fs::write(&conf, format!("listener 1883\npassword_file {}\n", dir.path().join("missing").display())).unwrap();
    let (ok, out) = test_config(&conf);
    assert!(!ok);
    assert!(out.contains("missing"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn response_information_when_asked() {
    let broker = Broker::mq("");
    let mut o = rumqttc::v5::MqttOptions::new("rr-client", "127.0.0.1", broker.port);
    o.set_request_response_info(Some(1));
    let (_c, mut el) = rumqttc::v5::AsyncClient::new(o, 10);
    let ack = loop {
        let ev = tokio::time::timeout(TIMEOUT, el.poll()).await.expect("in time").expect("connects");
        if let rumqttc::v5::Event::Incoming(r5::Packet::ConnAck(a)) = ev {
            break a;
        }
    };
    let info = ack.properties.and_then(|p| p.response_information);
    assert_eq!(info.as_deref(), Some("$response/rr-client/"));
}
