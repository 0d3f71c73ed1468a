//! A real browser over WebSockets: headless Chromium loads a page from the broker's own `http_dir` (the
//! WebSocket listener serves it, as Mosquitto's does), and the page uses MQTT.js (the npm package `mqtt`)
//! to connect to `ws://` on that listener, subscribe, receive a retained message `mq-pub` left, publish
//! to itself, receive that, and publish what it received; `mq-sub` on the plain listener checks it.
//!
//! MQTT.js is never part of the repository: the test takes the browser bundle from `MQ_MQTTJS` (a path
//! to `mqtt.min.js`, which `.ci/run` installs with npm) or installs the package with npm into a temporary
//! directory. Without Chromium or MQTT.js the test is skipped, unless `MQ_REQUIRE_INTEROP=1` (CI), where
//! that is a failure.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::broker_ws::wait_port;
use crate::harness::{Broker, Proc, command, free_port, interop_required, mq};

/// Skips (returns `None`) or, when interop is required, fails.
fn missing<T>(what: &str) -> Option<T> {
    assert!(!interop_required(), "MQ_REQUIRE_INTEROP=1 but {what}");
    eprintln!("skipping the browser test: {what}");
    None
}

/// The first Chromium on the PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// MQTT.js's browser bundle, copied into `www`: from `MQ_MQTTJS`, or installed with npm into `tmp`.
fn mqtt_js(www: &Path, tmp: &Path) -> Option<()> {
    let bundle = match std::env::var_os("MQ_MQTTJS") {
        Some(p) => PathBuf::from(p),
        None => {
            let out = command("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(tmp)
                .arg("mqtt@5")
                .stdin(Stdio::null())
                .output();
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => return missing(&format!("npm install mqtt failed: {}", String::from_utf8_lossy(&o.stderr))),
                Err(e) => return missing(&format!("npm is not available ({e})")),
            }
            tmp.join("node_modules/mqtt/dist/mqtt.min.js")
        }
    };
    match std::fs::copy(&bundle, www.join("mqtt.min.js")) {
        Ok(_) => Some(()),
        Err(e) => missing(&format!("no MQTT.js bundle at {} ({e})", bundle.display())),
    }
}

/// The test page: everything it receives goes to `browser/result`; failures to the title and there too.
fn page(ws_port: u16) -> String {
    format!(
        r#"<!doctype html>
<html><head><title>starting</title><script src="mqtt.min.js"></script></head>
<body><script>
const got = [];
const client = mqtt.connect("ws://127.0.0.1:{ws_port}/mqtt", {{ clientId: "browser-test", reconnectPeriod: 0 }});
const fail = (why) => {{ document.title = "ERR " + why; }};
client.on("error", (e) => fail(String(e)));
client.on("connect", () => {{
  client.subscribe(["browser/retained", "browser/echo"], {{ qos: 1 }}, (err) => {{
    if (err) return fail(String(err));
    client.publish("browser/echo", "hello from MQTT.js", {{ qos: 1 }});
  }});
}});
client.on("message", (topic, payload) => {{
  got.push(topic + "=" + payload.toString());
  if (got.length === 2) {{
    got.sort();
    document.title = "OK";
    client.publish("browser/result", got.join(";"), {{ qos: 1 }});
  }}
}});
</script></body></html>
"#
    )
}

/// Chromium in its own process group, so the whole browser (renderer, GPU and zygote processes) stops
/// with it.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = command("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = command("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

#[test]
fn mqtt_js_in_headless_chromium_over_websockets() {
    let Some(chromium) = chromium().or_else(|| missing("Chromium is not installed")) else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let www = tmp.path().join("www");
    std::fs::create_dir(&www).expect("mkdir");
    if mqtt_js(&www, tmp.path()).is_none() {
        return;
    }
    let ws = free_port();
    std::fs::write(www.join("index.html"), page(ws)).expect("write page");
    let dir = www.display().to_string();
    let b = Broker::mq_conf(move |p| {
        format!(
            "log_type all\nlistener {p} 127.0.0.1\nallow_anonymous true\n\
             listener {ws} 127.0.0.1\nprotocol websockets\nhttp_dir {dir}\n"
        )
    });
    wait_port(&b, ws);
    let port = b.port_arg();
    let retained = mq("mq-pub")
        .args(["-p", &port, "-t", "browser/retained", "-m", "from mq-pub", "-r", "-q", "1"])
        .status()
        .expect("mq-pub");
    assert!(retained.success());
    let mut result = Proc::spawn(mq("mq-sub").args(["-p", &port, "-t", "browser/result", "-C", "1", "-W", "90"]));
    b.wait_log("browser/result");

    let profile = tmp.path().join("profile");
    let _browser = Browser(
        command(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .arg("--disable-dev-shm-usage")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--remote-debugging-port=0")
            .arg(format!("http://127.0.0.1:{ws}/index.html"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromium"),
    );
    let done = result.wait();
    let got = result.stdout.text();
    assert!(
        done.success() && got.trim() == "browser/echo=hello from MQTT.js;browser/retained=from mq-pub",
        "the page published {got:?} (mq-sub: {done})\nbroker log:\n{}",
        b.log()
    );
    // The page was served by the broker, and the browser connected through the WebSocket listener.
    let log = b.log();
    assert!(log.contains("browser-test"), "{log}");
}
