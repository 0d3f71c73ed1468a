//! `cargo xtask gen` regenerates `completions/` and `man/`; `cargo xtask check` fails when they are stale.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    match std::env::args().nth(1).as_deref() {
        Some("gen") => match xtask::write(&root) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Some("check") => {
            let stale = xtask::stale(&root);
            if stale.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("stale generated files {stale:?}: run `cargo xtask gen`");
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!("usage: cargo xtask gen|check");
            ExitCode::from(2)
        }
    }
}
