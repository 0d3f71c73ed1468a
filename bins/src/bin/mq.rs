//! `mq`: the umbrella command (`mq broker`, `mq passwd`, ...).

fn main() -> std::process::ExitCode {
    mq::main_mq()
}
