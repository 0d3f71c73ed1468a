//! Broker-wide counters for `$SYS`, updated with relaxed atomics. Connection tasks count locally and add
//! their counts here in batches, so busy connections on both cores do not fight over one cache line per
//! packet.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since start.
#[derive(Debug, Default)]
pub struct Stats {
    /// MQTT packets received, of any type.
    pub msgs_received: AtomicU64,
    /// MQTT packets sent.
    pub msgs_sent: AtomicU64,
    /// PUBLISH packets received.
    pub pub_received: AtomicU64,
    /// PUBLISH packets sent.
    pub pub_sent: AtomicU64,
    /// Deliveries dropped by queue limits, size limits or expiry.
    pub pub_dropped: AtomicU64,
    /// PUBLISH payload bytes received.
    pub pub_bytes_received: AtomicU64,
    /// PUBLISH payload bytes sent.
    pub pub_bytes_sent: AtomicU64,
    /// Bytes read from sockets.
    pub bytes_received: AtomicU64,
    /// Bytes written to sockets.
    pub bytes_sent: AtomicU64,
    /// Connections accepted.
    pub sockets: AtomicU64,
    /// CONNECT packets accepted.
    pub connections: AtomicU64,
    /// Connected clients now.
    pub connected: AtomicU64,
    /// Sessions expired.
    pub expired: AtomicU64,
}

/// A connection's counts not yet added to [`Stats`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Local {
    pub msgs_received: u64,
    pub msgs_sent: u64,
    pub pub_received: u64,
    pub pub_sent: u64,
    pub pub_dropped: u64,
    pub pub_bytes_received: u64,
    pub pub_bytes_sent: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
}

impl Stats {
    /// Adds and clears `local`.
    pub fn flush(&self, local: &mut Local) {
        let add = |c: &AtomicU64, v: u64| {
            if v != 0 {
                c.fetch_add(v, Ordering::Relaxed);
            }
        };
        add(&self.msgs_received, local.msgs_received);
        add(&self.msgs_sent, local.msgs_sent);
        add(&self.pub_received, local.pub_received);
        add(&self.pub_sent, local.pub_sent);
        add(&self.pub_dropped, local.pub_dropped);
        add(&self.pub_bytes_received, local.pub_bytes_received);
        add(&self.pub_bytes_sent, local.pub_bytes_sent);
        add(&self.bytes_received, local.bytes_received);
        add(&self.bytes_sent, local.bytes_sent);
        *local = Local::default();
    }

    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}
