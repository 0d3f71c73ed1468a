//! Check a configuration file the way the broker will:
//! `cargo run -p mq-config --example check -- mq.conf`.
//!
//! Prints warnings, then every error (parse errors, or the lines asking for
//! features that are not supported yet), and a summary of the listeners.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: check <mosquitto.conf>");
        return ExitCode::from(2);
    };
    let (cfg, warnings) = match mq_config::load(&path) {
        Ok(ok) => ok,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if let Err(errors) = cfg.check_supported() {
        for e in &errors {
            eprintln!("{e}");
        }
        return ExitCode::FAILURE;
    }
    for listener in &cfg.listeners {
        let sec = cfg.security_for(listener);
        println!(
            "listener {} ({:?}): anonymous {}, password_file {:?}, acl_file {:?}",
            listener.addr.value,
            listener.origin,
            if sec.allow_anonymous { "allowed" } else { "refused" },
            sec.password_file,
            sec.acl_file,
        );
    }
    ExitCode::SUCCESS
}
