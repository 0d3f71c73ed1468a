//! `mq broker` with Mosquitto's own clients: `mosquitto_pub` / `mosquitto_sub` with `-V 31`, `-V 311`
//! and `-V 5` at QoS 0, 1 and 2, in both directions with `rumqttc` on the other side, retained messages,
//! persistent sessions with `-c -i`, MQTT 5 properties from `mosquitto_pub -D`, and a will sent by a
//! `mosquitto_sub` that is killed. Each test skips with a note when the tools are not installed (and
//! fails then if `MQ_REQUIRE_INTEROP=1`).

use std::path::PathBuf;
use std::process::Command;

use crate::broker_util::{V4, V5, broker, tp4, tp5};
use crate::harness::{Proc, command, mosquitto_bin};

/// Mosquitto's `mosquitto_pub` and `mosquitto_sub`, when installed.
pub(crate) fn tools() -> Option<(PathBuf, PathBuf)> {
    Some((mosquitto_bin("mosquitto_pub")?, mosquitto_bin("mosquitto_sub")?))
}

/// Runs `mosquitto_pub` with `args` against `port` and checks it succeeded.
fn mpub(bin: &PathBuf, port: u16, args: &[&str]) {
    let mut p = Proc::spawn(command(bin).arg("-p").arg(port.to_string()).args(args));
    let st = p.wait();
    assert!(st.success(), "mosquitto_pub {args:?}: {st:?} {}", p.stderr.text());
}

/// `mosquitto_sub` with a line-buffered stdout where `stdbuf` exists: libmosquitto prints its `-d`
/// lines with printf(), so on a pipe "received SUBACK" could otherwise sit in the buffer.
pub(crate) fn sub_command(bin: &PathBuf) -> Command {
    match ["/usr/bin/stdbuf", "/bin/stdbuf"].into_iter().find(|p| std::path::Path::new(p).exists()) {
        Some(stdbuf) => {
            let mut c = command(stdbuf);
            c.arg("-oL").arg(bin);
            c
        }
        None => command(bin),
    }
}

/// Starts `mosquitto_sub -d` with `args` and waits for its SUBACK.
fn msub(bin: &PathBuf, port: u16, args: &[&str]) -> Proc {
    let p = Proc::spawn(sub_command(bin).arg("-p").arg(port.to_string()).arg("-d").args(args));
    p.wait_for("received SUBACK");
    p
}

/// The lines `-F` printed (without the `-d` lines: "Client ..." and "Subscribed (mid: ...").
pub(crate) fn printed(p: &mut Proc) -> Vec<String> {
    let st = p.wait();
    assert!(st.success(), "mosquitto_sub: {st:?} {}", p.stderr.text());
    p.stdout
        .text()
        .lines()
        .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed (mid: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn mosquitto_clients_each_version_and_qos() {
    let Some((pubbin, subbin)) = tools() else { return };
    let b = broker("");
    for v in ["31", "311", "5"] {
        let topic = format!("interop/{v}");
        let mut sub = msub(&subbin, b.port, &["-V", v, "-q", "2", "-t", &topic, "-C", "3", "-F", "%t|%q|%r|%p"]);
        for q in ["0", "1", "2"] {
            mpub(&pubbin, b.port, &["-V", v, "-q", q, "-t", &topic, "-m", &format!("v{v} q{q}")]);
        }
        let want: Vec<String> = (0..3).map(|q| format!("{topic}|{q}|0|v{v} q{q}")).collect();
        assert_eq!(printed(&mut sub), want, "-V {v}");
    }
}

#[test]
fn subscription_qos_caps_what_mosquitto_sub_receives() {
    let Some((pubbin, subbin)) = tools() else { return };
    let b = broker("");
    let mut sub = msub(&subbin, b.port, &["-q", "1", "-t", "cap/t", "-C", "1", "-F", "%q %p"]);
    mpub(&pubbin, b.port, &["-q", "2", "-t", "cap/t", "-m", "two"]);
    assert_eq!(printed(&mut sub), ["1 two"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_pub_to_rumqttc_and_rumqttc_to_mosquitto_sub() {
    let Some((pubbin, subbin)) = tools() else { return };
    let b = broker("");
    let mut r4 = V4::new(b.port, "r4").await;
    r4.subscribe("dir/in", 2).await;
    let mut r5 = V5::new(b.port, "r5").await;
    r5.subscribe("dir/in", 2).await;
    mpub(&pubbin, b.port, &["-V", "311", "-q", "2", "-t", "dir/in", "-m", "from mosquitto_pub"]);
    let m = r4.recv().await;
    assert_eq!((tp4(&m).1.as_str(), m.qos as u8), ("from mosquitto_pub", 2));
    assert_eq!(tp5(&r5.recv().await).1, "from mosquitto_pub");

    let mut sub = msub(&subbin, b.port, &["-V", "5", "-q", "1", "-t", "dir/out", "-C", "2", "-F", "%q %p"]);
    r4.publish("dir/out", 1, false, "from rumqttc 3.1.1").await;
    r5.publish("dir/out", 2, false, "from rumqttc 5").await;
    assert_eq!(printed(&mut sub), ["1 from rumqttc 3.1.1", "1 from rumqttc 5"]);
}

#[test]
fn retained_messages_with_mosquitto_clients() {
    let Some((pubbin, subbin)) = tools() else { return };
    let b = broker("");
    for v in ["31", "311", "5"] {
        let topic = format!("keep/{v}");
        mpub(&pubbin, b.port, &["-V", v, "-r", "-q", "1", "-t", &topic, "-m", "old"]);
        mpub(&pubbin, b.port, &["-V", v, "-r", "-q", "1", "-t", &topic, "-m", "new"]);
        let mut sub =
            Proc::spawn(command(&subbin).args(["-p", &b.port_arg(), "-V", v, "-t", &topic, "-C", "1", "-F", "%r %p"]));
        assert_eq!(printed(&mut sub), ["1 new"], "-V {v}");
    }
    // Cleared with an empty retained message: a later subscriber gets only what is published live.
    mpub(&pubbin, b.port, &["-r", "-n", "-t", "keep/5"]);
    let mut sub = msub(&subbin, b.port, &["-t", "keep/5", "-C", "1", "-F", "%r %p"]);
    mpub(&pubbin, b.port, &["-t", "keep/5", "-m", "live"]);
    assert_eq!(printed(&mut sub), ["0 live"]);
}

#[test]
fn persistent_sessions_with_c_and_i() {
    let Some((pubbin, subbin)) = tools() else { return };
    let b = broker("");
    for v in ["311", "5"] {
        let id = format!("durable{v}");
        let topic = format!("away/{v}");
        // -E: subscribe and leave at once; the session stays.
        let mut first = msub(&subbin, b.port, &["-V", v, "-c", "-i", &id, "-q", "1", "-t", &topic, "-E"]);
        assert!(first.wait().success());
        mpub(&pubbin, b.port, &["-V", v, "-q", "1", "-t", &topic, "-m", "one"]);
        mpub(&pubbin, b.port, &["-V", v, "-q", "2", "-t", &topic, "-m", "two"]);
        let mut again = Proc::spawn(command(&subbin).args([
            "-p",
            &b.port_arg(),
            "-V",
            v,
            "-c",
            "-i",
            &id,
            "-q",
            "1",
            "-t",
            &topic,
            "-C",
            "2",
            "-F",
            "%q %p",
        ]));
        assert_eq!(printed(&mut again), ["1 one", "1 two"], "-V {v}");
    }
}

#[test]
fn v5_properties_from_mosquitto_pub_reach_mosquitto_sub() {
    let Some((pubbin, subbin)) = tools() else { return };
    let b = broker("");
    let mut sub = msub(&subbin, b.port, &["-V", "5", "-t", "props/t", "-C", "1", "-F", "%C|%P|%R|%F|%E|%p"]);
    mpub(
        &pubbin,
        b.port,
        &[
            "-V",
            "5",
            "-t",
            "props/t",
            "-m",
            "body",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "user-property",
            "k1",
            "v1",
            "-D",
            "publish",
            "user-property",
            "k1",
            "v2",
            "-D",
            "publish",
            "response-topic",
            "props/reply",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "message-expiry-interval",
            "300",
        ],
    );
    let lines = printed(&mut sub);
    let parts: Vec<&str> = lines.first().map(|l| l.split('|').collect()).unwrap_or_default();
    assert_eq!(parts.len(), 6, "{lines:?}");
    assert_eq!(&parts[..4], ["text/plain", "k1:v1 k1:v2", "props/reply", "1"]);
    assert!(parts[4].parse::<u32>().is_ok_and(|e| (299..=300).contains(&e)), "{lines:?}");
    assert_eq!(parts[5], "body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn will_of_a_killed_mosquitto_sub_is_published() {
    let Some((_, subbin)) = tools() else { return };
    let b = broker("");
    let mut w = V4::new(b.port, "watcher").await;
    w.subscribe("interop/will", 1).await;
    let mut victim = msub(
        &subbin,
        b.port,
        &["-t", "whatever", "--will-topic", "interop/will", "--will-payload", "killed", "--will-qos", "1"],
    );
    let ok = Command::new("kill").arg("-KILL").arg(victim.child.id().to_string()).status().expect("kill");
    assert!(ok.success());
    let _ = victim.child.wait();
    assert_eq!(tp4(&w.recv().await).1, "killed");
}
