//! End-to-end tests: the real binaries, spawned on ephemeral ports, checked by independent clients.
//!
//! One test binary with a module per area (ripgrep's layout). Each module says what it covers.

mod harness;
mod passwd;
mod security;
