//! `mq-sub --exec CMD`: run `sh -c CMD` for each message, the payload on its stdin and the message's
//! metadata in its environment.
//!
//! Environment of a handler:
//!
//! | variable | value |
//! |---|---|
//! | `MQ_TOPIC` | topic name |
//! | `MQ_QOS` | 0, 1 or 2 |
//! | `MQ_RETAIN` | 1 for a retained message, else 0 |
//! | `MQ_DUP` | 1 for a redelivery, else 0 |
//! | `MQ_MID` | packet identifier (0 for QoS 0) |
//! | `MQ_PAYLOAD_LENGTH` | payload size in bytes |
//! | `MQ_CONTENT_TYPE`, `MQ_RESPONSE_TOPIC` | MQTT 5 properties, when present |
//! | `MQ_CORRELATION_DATA` | MQTT 5 correlation data in lower-case hex (it is binary), when present |
//! | `MQ_PAYLOAD_FORMAT`, `MQ_MESSAGE_EXPIRY` | MQTT 5 properties, when present |
//! | `MQ_SUBSCRIPTION_IDS` | MQTT 5 subscription identifiers, comma-separated, when present |
//! | `MQ_USER_PROPERTIES` | MQTT 5 user properties as a JSON array of `[key, value]` pairs, in order (keys may repeat), when present |
//! | `MQ_USER_PROPERTY_<KEY>` | the value of each user property, `<KEY>` upper-cased with every character other than `A-Z0-9` made `_` (the last one wins) |
//!
//! The payload is written to the handler's stdin while its exit is awaited, in the same task, so a
//! handler that reads slowly or a payload larger than the pipe buffer cannot deadlock; a handler that does
//! not read its stdin at all is fine (the broken pipe is ignored). Its stdout and stderr are the
//! subscriber's.

use std::fmt::Write as _;
use std::process::{ExitStatus, Stdio};

use bytes::Bytes;
use tokio::io::AsyncWriteExt as _;
use tokio::task::JoinSet;

use crate::output::Received;

/// What a finished handler reports.
#[derive(Debug)]
pub struct Finished {
    /// The sequence number the handler was started with.
    pub seq: u64,
    /// Its topic, for messages.
    pub topic: String,
    /// How it ended (an error: it could not be started).
    pub status: std::io::Result<ExitStatus>,
}

impl Finished {
    /// Whether the handler succeeded.
    pub fn success(&self) -> bool {
        matches!(&self.status, Ok(s) if s.success())
    }

    /// What went wrong, for stderr: `--exec command for topic 'a/b' exited with status 3.`
    pub fn describe(&self) -> String {
        use std::os::unix::process::ExitStatusExt as _;
        match &self.status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("--exec command for topic '{}' exited with status {code}.", self.topic),
                (None, Some(sig)) => format!("--exec command for topic '{}' was killed by signal {sig}.", self.topic),
                _ => format!("--exec command for topic '{}' failed.", self.topic),
            },
            Err(e) => format!("--exec command for topic '{}' could not be started: {e}.", self.topic),
        }
    }
}

/// The running handlers.
#[derive(Debug)]
pub struct Runner {
    command: String,
    running: JoinSet<Finished>,
}

impl Runner {
    /// A runner for `command` (run with `sh -c`).
    pub fn new(command: String) -> Self {
        Runner { command, running: JoinSet::new() }
    }

    /// How many handlers are running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Starts the handler for `msg`.
    pub fn start(&mut self, seq: u64, msg: &Received) {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c").arg(&self.command).envs(environment(msg)).stdin(Stdio::piped());
        // A subscriber that is interrupted takes its handlers with it; their messages are not acknowledged
        // and come again with a persistent session.
        cmd.kill_on_drop(true);
        let payload = msg.publish.payload.clone();
        let topic = msg.publish.topic.to_string();
        self.running.spawn(async move {
            let status = run(cmd, payload).await;
            Finished { seq, topic, status }
        });
    }

    /// Waits for the next handler to finish (pending while none runs). Cancel-safe.
    pub async fn next(&mut self) -> Finished {
        loop {
            match self.running.join_next().await {
                Some(Ok(f)) => return f,
                // The task panicked or was cancelled: not reachable, the task body neither panics nor is
                // aborted; keep waiting for the others.
                Some(Err(_)) => continue,
                None => std::future::pending::<()>().await,
            }
        }
    }
}

async fn run(mut cmd: tokio::process::Command, payload: Bytes) -> std::io::Result<ExitStatus> {
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A handler that exits without reading (or reads only part) closes the pipe: normal.
            match stdin.write_all(&payload).await {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
                _ => {}
            }
            // Dropping stdin closes it, so the handler sees the end of the payload.
        }
        Ok(())
    };
    let (fed, status) = tokio::join!(feed, child.wait());
    let status = status?;
    fed?;
    Ok(status)
}

/// The environment variables describing `msg`.
pub fn environment(msg: &Received) -> Vec<(String, String)> {
    let p = &msg.publish;
    let pp = &p.properties;
    let mut env = vec![
        ("MQ_TOPIC".to_string(), p.topic.to_string()),
        ("MQ_QOS".into(), p.qos.as_u8().to_string()),
        ("MQ_RETAIN".into(), u8::from(p.retain).to_string()),
        ("MQ_DUP".into(), u8::from(p.dup).to_string()),
        ("MQ_MID".into(), p.packet_id.map_or(0, |i| i.get()).to_string()),
        ("MQ_PAYLOAD_LENGTH".into(), p.payload.len().to_string()),
    ];
    if let Some(v) = &pp.content_type {
        env.push(("MQ_CONTENT_TYPE".into(), v.clone()));
    }
    if let Some(v) = &pp.response_topic {
        env.push(("MQ_RESPONSE_TOPIC".into(), v.clone()));
    }
    if let Some(v) = &pp.correlation_data {
        let hex = v.iter().fold(String::with_capacity(v.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        env.push(("MQ_CORRELATION_DATA".into(), hex));
    }
    if let Some(v) = pp.payload_format_indicator {
        env.push(("MQ_PAYLOAD_FORMAT".into(), v.to_string()));
    }
    if let Some(v) = pp.message_expiry_interval {
        env.push(("MQ_MESSAGE_EXPIRY".into(), v.to_string()));
    }
    if !pp.subscription_identifiers.is_empty() {
        let ids: Vec<String> = pp.subscription_identifiers.iter().map(u32::to_string).collect();
        env.push(("MQ_SUBSCRIPTION_IDS".into(), ids.join(",")));
    }
    if !pp.user_properties.is_empty() {
        let mut json = String::from("[");
        for (i, (k, v)) in pp.user_properties.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push('[');
            json_string(&mut json, k);
            json.push(',');
            json_string(&mut json, v);
            json.push(']');
        }
        json.push(']');
        env.push(("MQ_USER_PROPERTIES".into(), json));
        for (k, v) in &pp.user_properties {
            let key: String =
                k.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
            env.push((format!("MQ_USER_PROPERTY_{key}"), v.clone()));
        }
    }
    env
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use mq_proto::{PacketId, Publish, QoS};

    use super::*;

    fn msg() -> Received {
        let mut p = Publish::new("a/b", QoS::AtLeastOnce, Bytes::from_static(b"hello"));
        p.packet_id = PacketId::new(9);
        p.retain = true;
        p.properties.correlation_data = Some(Bytes::from_static(b"\x00\xff"));
        p.properties.user_properties = vec![("my-key".into(), "v\"1".into()), ("my-key".into(), "v2".into())];
        Received::new(p, &[])
    }

    #[test]
    fn environment_names_and_values() {
        let env = environment(&msg());
        let get = |k: &str| env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MQ_TOPIC"), Some("a/b"));
        assert_eq!(get("MQ_QOS"), Some("1"));
        assert_eq!(get("MQ_RETAIN"), Some("1"));
        assert_eq!(get("MQ_MID"), Some("9"));
        assert_eq!(get("MQ_PAYLOAD_LENGTH"), Some("5"));
        assert_eq!(get("MQ_CORRELATION_DATA"), Some("00ff"));
        assert_eq!(get("MQ_USER_PROPERTIES"), Some(r#"[["my-key","v\"1"],["my-key","v2"]]"#));
        assert_eq!(get("MQ_USER_PROPERTY_MY_KEY"), Some("v2"));
        assert_eq!(get("MQ_CONTENT_TYPE"), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn handlers_get_the_payload_and_may_ignore_it() {
        let mut r = Runner::new("test \"$(cat)\" = hello && test \"$MQ_TOPIC\" = a/b".into());
        r.start(1, &msg());
        let f = r.next().await;
        assert!(f.success(), "{}", f.describe());

        // A payload far larger than a pipe buffer, to a handler that never reads it.
        let mut big = msg();
        big.publish.payload = Bytes::from(vec![b'x'; 4 << 20]);
        let mut r = Runner::new("exit 3".into());
        r.start(2, &big);
        let f = r.next().await;
        assert_eq!(f.status.as_ref().unwrap().code(), Some(3));
        assert_eq!(f.describe(), "--exec command for topic 'a/b' exited with status 3.");
    }
}
