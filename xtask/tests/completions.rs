//! The completion scripts offer values where the options take a fixed set: `-V` the protocol versions,
//! `-q` the QoS levels, and `-h`/`-A` host names rather than file names. The bash script is run by bash
//! itself; the zsh and fish scripts are checked for the values they list (the freshness test in
//! `generated.rs` ties the committed files to what is checked here).

use std::path::{Path, PathBuf};
use std::process::Command;

const VERSIONS: &str = "mqttv5 mqttv311 mqttv31 5 311 31";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed(name: &str) -> String {
    std::fs::read_to_string(root().join("completions").join(name)).unwrap()
}

/// What bash offers for the word `cur` after `words` (the command first), in `dir`, with host names read
/// from `hostfile`.
fn bash_complete(script: &str, function: &str, words: &[&str], cur: &str, dir: &Path, hostfile: &Path) -> Vec<String> {
    let prev = words.last().unwrap();
    let all: Vec<String> = words.iter().chain([&cur]).map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n{function} '{}' '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        root().join("completions").join(script).display(),
        all.join(" "),
        words.len(),
        words[0],
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .current_dir(dir)
        .env("HOSTFILE", hostfile)
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[test]
fn bash_offers_versions_qos_and_host_names() {
    if Command::new("bash").arg("-c").arg("true").status().is_err() {
        eprintln!("skipped: no bash");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A file whose name matches what is typed: it must not be offered for a host or a QoS.
    std::fs::write(dir.path().join("broker-file"), "").unwrap();
    std::fs::write(dir.path().join("1-file"), "").unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "192.0.2.7 broker.example\n").unwrap();
    for (script, function, cmd) in [
        ("mq-pub.bash", "_mq__pub", vec!["mq-pub"]),
        ("mq-sub.bash", "_mq__sub", vec!["mq-sub"]),
        ("mq-rr.bash", "_mq__rr", vec!["mq-rr"]),
        ("mq.bash", "_mq", vec!["mq", "pub"]),
    ] {
        let with = |flag: &'static str| cmd.iter().copied().chain([flag]).collect::<Vec<_>>();
        for flag in ["-V", "--protocol-version"] {
            assert_eq!(bash_complete(script, function, &with(flag), "", dir.path(), &hosts).join(" "), VERSIONS);
        }
        assert_eq!(bash_complete(script, function, &with("-V"), "mqttv3", dir.path(), &hosts), ["mqttv311", "mqttv31"]);
        assert_eq!(bash_complete(script, function, &with("-q"), "", dir.path(), &hosts), ["0", "1", "2"]);
        assert_eq!(bash_complete(script, function, &with("-q"), "1", dir.path(), &hosts), ["1"], "{script}");
        for flag in ["-h", "--host", "-A"] {
            let got = bash_complete(script, function, &with(flag), "b", dir.path(), &hosts);
            assert_eq!(got, ["broker.example"], "{script} {flag}");
        }
    }
}

#[test]
fn zsh_and_fish_offer_versions_qos_and_host_names() {
    for tool in ["mq-pub", "mq-sub", "mq-rr"] {
        let zsh = committed(&format!("_{tool}"));
        for flag in ["'-V+", "'--protocol-version="] {
            let line = zsh.lines().find(|l| l.starts_with(flag)).unwrap_or_else(|| panic!("{tool}: {flag}"));
            assert!(line.ends_with(&format!(":version:({VERSIONS})' \\")), "{line}");
        }
        for flag in ["'-q+", "'--qos="] {
            let line = zsh.lines().find(|l| l.starts_with(flag)).unwrap();
            assert!(line.ends_with(":QoS:(0 1 2)' \\"), "{line}");
        }
        for flag in ["'-h+", "'--host=", "'-A+"] {
            let line = zsh.lines().find(|l| l.starts_with(flag)).unwrap();
            assert!(line.ends_with(":_hosts' \\"), "{line}");
        }

        let fish = committed(&format!("{tool}.fish"));
        let entry = |start: &str| {
            let at = fish.find(start).unwrap_or_else(|| panic!("{tool}.fish: {start}"));
            let rest = &fish[at..];
            // An entry ends at the next `complete` command.
            rest[..rest[1..].find("\ncomplete ").map_or(rest.len(), |i| i + 1)].to_owned()
        };
        let v = entry(&format!("complete -c {tool} -s V -l protocol-version"));
        for value in VERSIONS.split(' ') {
            assert!(v.contains(&format!("\n{value}\\t")) || v.contains(&format!("\"{value}\\t")), "{v}");
        }
        assert!(v.contains("-r -f -a"), "{v}");
        let q = entry(&format!("complete -c {tool} -s q -l qos"));
        assert!(q.contains("-r -f -a \"0\\t''\n1\\t''\n2\\t''\""), "{q}");
        let h = entry(&format!("complete -c {tool} -s h -l host"));
        assert!(h.contains("-r -f -a \"(__fish_print_hostnames)\""), "{h}");
    }
}
