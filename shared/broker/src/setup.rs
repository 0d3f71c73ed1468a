//! Before and around serving: the configuration and the security files it names (loaded at start and
//! on SIGHUP), privileges, the open-file limit, the pid file.

use std::path::Path;
use std::sync::Arc;

use mq_config::Config;
use parking_lot::RwLock;

use crate::auth::{self, Security};
use crate::broker::Broker;
use crate::settings::{ListenerCtx, Settings};
use crate::{BrokerArgs, BrokerError, access, log};

/// Loads the configuration the arguments name (local-only mode without `-c`), with `-p` applied.
pub(crate) fn load_config(args: &BrokerArgs) -> Result<(Config, Vec<mq_config::Warning>), BrokerError> {
    let (mut cfg, warnings) = match &args.config {
        // Parse errors and what the broker cannot do, in one list in file order.
        Some(path) => mq_config::load_checked(path).map_err(BrokerError::Config)?,
        None => (Config::local_only(), Vec::new()),
    };
    if !args.port.is_empty() && !cfg.apply_cli_ports(&args.port) {
        log!(Warning, "-p ignored: the configuration file defines listeners.");
    }
    Ok((cfg, warnings))
}

/// Security settings of each listener, and the warnings loading them gave.
pub(crate) type LoadedSecurity = (Vec<Arc<RwLock<Arc<Security>>>>, Vec<String>);

/// Builds the security settings of each listener (shared when `per_listener_settings` is off). Password
/// file lines that cannot be used are skipped, as Mosquitto does; they come back as warnings to log.
pub(crate) fn load_security(cfg: &Config) -> Result<LoadedSecurity, BrokerError> {
    let mut shared: Option<Arc<RwLock<Arc<Security>>>> = None;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for l in &cfg.listeners {
        let eff = cfg.security_for(l);
        // Errors name the configuration line that named the file.
        let opts = if *cfg.per_listener_settings { &l.security } else { &cfg.security };
        let mut make = || -> Result<Arc<RwLock<Arc<Security>>>, BrokerError> {
            let (sec, skipped) = Security::load(
                eff.allow_anonymous,
                eff.allow_zero_length_clientid,
                eff.auto_id_prefix,
                eff.password_file,
                eff.acl_file,
            )
            .map_err(|source| {
                let at = match &source {
                    auth::SecurityError::Passwords(_) => opts.password_file.span.clone(),
                    auth::SecurityError::Acl(_) => opts.acl_file.span.clone(),
                };
                BrokerError::Security { at, source }
            })?;
            warnings.extend(skipped);
            Ok(Arc::new(RwLock::new(Arc::new(sec))))
        };
        let sec = if *cfg.per_listener_settings {
            make()?
        } else {
            match &shared {
                Some(s) => s.clone(),
                None => {
                    let s = make()?;
                    shared = Some(s.clone());
                    s
                }
            }
        };
        out.push(sec);
    }
    Ok((out, warnings))
}

/// Re-reads what SIGHUP reloads from the configuration file at `path` (none in local-only mode):
/// limits, logging, password and ACL files. A configuration or security file that fails to load keeps
/// the old one, and the reason is logged.
pub(crate) fn reload(
    path: Option<&Path>,
    verbose: bool,
    current: &mut Config,
    broker: &Broker,
    listeners: &[Arc<ListenerCtx>],
) {
    log!(Notice, "Reloading config.");
    let Some(path) = path else {
        return;
    };
    let new = match mq_config::load_checked(path) {
        Ok((c, _)) => c,
        Err(errors) => {
            log!(Error, "Reload failed, keeping the running configuration:");
            // One line each: log lines never carry a line break.
            for line in errors.to_string().lines() {
                log!(Error, "{line}");
            }
            return;
        }
    };
    // Bridges the broker cannot run (an option not implemented) keep those running.
    let mut new = new;
    if let Err(errors) = new.check_supported() {
        log!(Error, "Reload of the bridges failed, keeping the running ones:");
        for e in &errors {
            log!(Error, "{e}");
        }
        new.bridges = current.bridges.clone();
    }
    let reloaded = current.reload(new);
    for n in &reloaded.not_reloaded {
        log!(Warning, "{n} (needs a restart)");
    }
    let cfg = reloaded.config;
    match load_security(&cfg) {
        Ok((secs, warnings)) => {
            for w in &warnings {
                log!(Warning, "{w}");
            }
            for (ctx, sec) in listeners.iter().zip(secs) {
                let fresh = sec.read().clone();
                *ctx.security.write() = fresh;
            }
        }
        Err(e) => log!(Error, "Reload of security files failed, keeping the old ones: {e}"),
    }
    // Certificates, keys, CAs and CRLs are read again from the paths the listener started with;
    // connected clients keep the session they have.
    for ctx in listeners {
        if let Some(tls) = &ctx.tls {
            match tls.reload() {
                Ok(()) => log!(Notice, "Reloaded the TLS files of the listener on port {}.", ctx.port),
                Err(e) => log!(
                    Error,
                    "Reload of the TLS files of the listener on port {} failed, keeping the old ones: {e}",
                    ctx.port
                ),
            }
        }
    }
    if let Err(e) = log::logger().configure(&cfg.log, verbose, None) {
        log!(Error, "{e}");
    }
    broker.set_settings(Settings::from_config(&cfg));
    *current = cfg;
}

/// Drops root privileges to the configured user after the listeners are bound (and files read), as
/// Mosquitto does: `user` (default `mosquitto`, falling back to `nobody` when that user does not exist).
pub(crate) fn drop_privileges(cfg: &Config) -> Result<(), BrokerError> {
    use nix::unistd::{Uid, User, initgroups, setgid, setuid};
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let name = cfg.effective_user().to_owned();
    if name == "root" {
        return Ok(());
    }
    let err = |why: String| BrokerError::User { user: name.clone(), why };
    let user = match User::from_name(&name).map_err(|e| err(e.to_string()))? {
        Some(u) => u,
        None if !cfg.user.is_set() => {
            User::from_name("nobody").map_err(|e| err(e.to_string()))?.ok_or_else(|| err("no such user".into()))?
        }
        None => return Err(err("no such user".into())),
    };
    let cname = std::ffi::CString::new(user.name.clone()).map_err(|e| err(e.to_string()))?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid).unwrap_or_default();
    let identity = access::Identity {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.iter().map(|g| g.as_raw()).collect(),
    };
    warn_unreadable_after_drop(cfg, &identity, &user.name);
    initgroups(&cname, user.gid).map_err(|e| err(e.to_string()))?;
    setgid(user.gid).map_err(|e| err(e.to_string()))?;
    setuid(user.uid).map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// Warns about each password, ACL or TLS file the configuration names that `user` (about to be
/// switched to) will not be able to read: the start read it as root, but a reload on SIGHUP would fail.
fn warn_unreadable_after_drop(cfg: &Config, identity: &access::Identity, user: &str) {
    let mut seen = std::collections::HashSet::new();
    for l in &cfg.listeners {
        let eff = cfg.security_for(l);
        let tls = &l.tls;
        let files = [
            ("password file", eff.password_file),
            ("ACL file", eff.acl_file),
            ("TLS certfile", tls.certfile.value.as_deref()),
            ("TLS keyfile", tls.keyfile.value.as_deref()),
            ("TLS cafile", tls.cafile.value.as_deref()),
            ("TLS crlfile", tls.crlfile.value.as_deref()),
        ];
        for (kind, path) in files {
            let Some(path) = path else { continue };
            if !seen.insert(path.to_owned()) {
                continue;
            }
            if let Some(why) = access::unreadable_reason(path, identity) {
                log!(
                    Warning,
                    "The {kind} {} will not be readable by user {user} once privileges are dropped ({why}); \
                     reloading it on SIGHUP will fail.",
                    path.display()
                );
            }
        }
    }
}

/// Raises the open-file limit to the hard limit: every client costs a descriptor.
pub(crate) fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
        let now = getrlimit(Resource::RLIMIT_NOFILE).map_or(soft, |(s, _)| s);
        log!(Information, "Open file limit: {now} (about {} clients).", now.saturating_sub(32));
    }
}

pub(crate) fn write_pid_file(path: &Path) -> Result<(), BrokerError> {
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(|source| BrokerError::PidFile { path: path.to_owned(), source })
}

/// What start-up would fail on besides the configuration itself, for `--test-config`: a `pid_file` or
/// `log_dest file` the broker could not write (as the user running the check), each reported at its
/// configuration line.
pub(crate) fn check_start_files(cfg: &Config) -> Result<(), BrokerError> {
    let mut errors = Vec::new();
    let files = [
        ("pid_file", cfg.pid_file.value.as_deref(), cfg.pid_file.span.as_ref()),
        ("log_dest file", cfg.log.dest.value.file.as_deref(), cfg.log.file_line.as_ref()),
    ];
    for (option, path, line) in files {
        let (Some(path), Some(line)) = (path, line) else {
            continue;
        };
        if let Err(why) = writable(path) {
            let reason = format!("cannot write \"{}\": {why}", path.display());
            errors.push(mq_config::ConfigError::new(
                line,
                mq_config::ErrorKind::Invalid { option: option.to_owned(), reason },
            ));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(BrokerError::Config(mq_config::ConfigErrors(errors))) }
}

/// Whether this process could create or append to the file at `path`; why not.
fn writable(path: &Path) -> Result<(), String> {
    use nix::unistd::{AccessFlags, access};
    let describe = |e: nix::Error| std::io::Error::from(e).to_string();
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err("it is a directory".to_owned()),
        Ok(_) => access(path, AccessFlags::W_OK).map_err(describe),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => access(dir, AccessFlags::W_OK | AccessFlags::X_OK)
                    .map_err(|e| format!("directory \"{}\": {}", dir.display(), describe(e))),
                Ok(_) => Err(format!("\"{}\" is not a directory", dir.display())),
                Err(e) => Err(format!("directory \"{}\": {e}", dir.display())),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}
