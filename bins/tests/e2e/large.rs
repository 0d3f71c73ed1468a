//! A file of (almost) 256 MiB through each broker at QoS 1 and QoS 2, `mq-pub -f` to `mq-sub -C 1 >
//! file`, arriving byte for byte; `mq-pub` streams it (its peak memory stays far below the file size).
//!
//! 256 MiB itself is one byte more than MQTT can carry (268,435,455 bytes of remaining length include
//! the topic and packet identifier), so the file is 268,435,000 bytes.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client_util::*;
use crate::harness::{Broker, TIMEOUT, mq};

const SIZE: usize = 268_435_000;

/// Pseudo-random bytes (xorshift), so that no two chunks are alike.
fn write_file(path: &Path) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut data = Vec::with_capacity(SIZE);
    while data.len() < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(SIZE);
    std::fs::write(path, &data).unwrap();
    data
}

/// The payload in `mq-sub -d` output: the bytes after the acknowledgement line of the message and before
/// the trailing newline and `-d` lines.
fn payload<'a>(out: &'a [u8], ack_line_end: &str) -> &'a [u8] {
    let needle = ack_line_end.as_bytes();
    let start = out.windows(needle.len()).position(|w| w == needle).expect("acknowledgement line") + needle.len();
    let rest = &out[start..];
    assert!(rest.len() > SIZE, "output too short: {} bytes", rest.len());
    let (payload, tail) = rest.split_at(SIZE);
    assert_eq!(tail.first(), Some(&b'\n'));
    let tail = String::from_utf8_lossy(&tail[1..]);
    assert!(tail.lines().all(|l| l.starts_with("Client ")), "unexpected output after the payload: {tail:?}");
    payload
}

/// Peak RSS in KiB of `cmd` run under `/usr/bin/time`, or `None` if that is not installed.
fn with_time(cmd: &mut Command) -> Option<std::path::PathBuf> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let report = tempfile::NamedTempFile::new().unwrap().into_temp_path().keep().unwrap();
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    *cmd = crate::harness::command(time);
    cmd.arg("-f").arg("%M").arg("-o").arg(&report).arg(program).args(args);
    Some(report)
}

fn transfer(b: &Broker, qos: &str, file: &Path, data: &[u8], dir: &Path) {
    let out_path = dir.join(format!("out-{:?}-{qos}", b.kind));
    let out = File::create(&out_path).unwrap();
    let mut sub = tool("mq-sub", b, &["-d", "-t", "large", "-q", qos, "-C", "1"]);
    let mut sub = sub.stdin(Stdio::null()).stdout(out).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read(&out_path).unwrap().windows(15).any(|w| w == b"received SUBACK") {
        assert!(Instant::now() < deadline, "subscriber not ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut publish = tool("mq-pub", b, &["-t", "large", "-q", qos, "-f", file.to_str().unwrap()]);
    let rss = with_time(&mut publish);
    let r = run(&mut publish).ok();
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    if let Some(report) = rss {
        let kib: u64 = std::fs::read_to_string(&report).unwrap().trim().parse().unwrap();
        let _ = std::fs::remove_file(&report);
        assert!(kib < 64 * 1024, "mq-pub peaked at {kib} KiB for a {SIZE}-byte file: not streamed");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = sub.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "subscriber did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "mq-sub: {status}");
    let got = std::fs::read(&out_path).unwrap();
    let _ = std::fs::remove_file(&out_path);
    let ack = if qos == "1" { "sending PUBACK (m1, rc0)\n" } else { "sending PUBCOMP (m1)\n" };
    // Compare without printing 256 MiB on failure.
    assert!(payload(&got, ack) == data, "{:?} q{qos}: payload differs", b.kind);
}

#[test]
fn file_of_256_mib_arrives_intact_at_qos_1_and_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big");
    let data = write_file(&file);
    for b in brokers("") {
        for qos in ["1", "2"] {
            transfer(&b, qos, &file, &data, dir.path());
        }
    }
    // One byte more than fits with this topic and a packet identifier: refused before connecting.
    let too_big = dir.path().join("too-big");
    let f = File::create(&too_big).unwrap();
    f.set_len(268_435_447).unwrap();
    let r = run(mq("mq-pub").args(["-p", "1", "-t", "large", "-q", "1", "-f", too_big.to_str().unwrap()]));
    assert_eq!(r.code(), 1);
    assert!(r.stderr.contains("MQTT packets are limited to 268435455 bytes"), "{}", r.stderr);
}
