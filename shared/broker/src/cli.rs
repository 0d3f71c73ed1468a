//! `mq broker`'s command line, as Mosquitto's: `[-c FILE] [-d] [-p PORT]... [-v]`.

use std::path::PathBuf;

/// Run the MQTT broker.
///
/// Without -c, listens on 127.0.0.1 and ::1 port 1883 with anonymous access (Mosquitto 2.0's
/// local-only mode). With -c, reads a mosquitto.conf-style file.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "mq broker", version, about, long_about = None)]
pub struct BrokerArgs {
    /// Configuration file (mosquitto.conf syntax).
    #[arg(short = 'c', long = "config-file", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run in the background (fork, detach from the terminal).
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,
    /// Listen on this port of the loopback interface (up to 10 times); ignored when the configuration
    /// file defines listeners.
    #[arg(short = 'p', long = "port", value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Vec<u16>,
    /// Log everything (all log types).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Check the configuration, print what is wrong, and exit without starting.
    #[arg(long = "test-config")]
    pub test_config: bool,
}
