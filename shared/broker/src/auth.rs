//! Authentication and authorisation in force for a listener: anonymous access, the password file and
//! the ACL. Password checks run on blocking threads behind a semaphore, so an expensive hash (argon2id
//! takes ~50 ms) or a storm of wrong passwords never stalls the network threads.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use mq_passwd::PasswordFile;

use crate::acl::{Acl, AclError};
use tokio::sync::Semaphore;

/// Security settings of one listener (or of all, without `per_listener_settings`).
#[derive(Debug, Clone)]
pub struct Security {
    /// Clients without a user name may connect (`allow_anonymous`).
    pub allow_anonymous: bool,
    /// An empty client id gets a generated one (`allow_zero_length_clientid`).
    pub allow_zero_length_clientid: bool,
    /// Prefix of generated client ids (`auto_id_prefix`).
    pub auto_id_prefix: String,
    /// The password file, if configured.
    pub passwords: Option<PasswordFile>,
    /// The ACL, if configured.
    pub acl: Option<Arc<Acl>>,
}

/// Why security files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{0}")]
    Passwords(#[from] mq_passwd::LoadError),
    #[error("{0}")]
    Acl(#[from] AclError),
}

/// Why a login is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong user name or password, or no user name where one is required.
    NotAuthorized,
}

/// Password checks running at once; more wait their turn.
fn verifier_permits() -> &'static Arc<Semaphore> {
    static SEM: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SEM.get_or_init(|| Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))))
}

impl Security {
    /// Loads the files named by the configuration. The password file is read as Mosquitto reads it:
    /// lines it cannot use are skipped, and returned (one `path:line: why` each) for the log.
    pub fn load(
        allow_anonymous: bool,
        allow_zero_length_clientid: bool,
        auto_id_prefix: &str,
        password_file: Option<&Path>,
        acl_file: Option<&Path>,
    ) -> Result<(Security, Vec<String>), SecurityError> {
        let mut skipped = Vec::new();
        let passwords = match password_file {
            Some(path) => {
                let (file, bad) = PasswordFile::load_lenient(path)?;
                if let Some(bad) = bad {
                    skipped.extend(
                        bad.errors()
                            .iter()
                            .map(|e| format!("{}:{}: {}; line skipped", bad.path().display(), e.line, e.kind)),
                    );
                }
                Some(file)
            }
            None => None,
        };
        let acl = acl_file.map(Acl::load).transpose()?.map(Arc::new);
        let security = Security {
            allow_anonymous,
            allow_zero_length_clientid,
            auto_id_prefix: auto_id_prefix.to_owned(),
            passwords,
            acl,
        };
        Ok((security, skipped))
    }

    /// Decides a login. Mosquitto's order: a user name is checked against the password file when there
    /// is one; without a user name, `allow_anonymous` decides.
    pub async fn authenticate(&self, username: Option<&str>, password: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(user) = username else {
            return if self.allow_anonymous { Ok(()) } else { Err(Refusal::NotAuthorized) };
        };
        let Some(file) = &self.passwords else {
            // A user name but no password file: Mosquitto lets the client in as if anonymous.
            return if self.allow_anonymous { Ok(()) } else { Err(Refusal::NotAuthorized) };
        };
        let Some(password) = password else {
            return Err(Refusal::NotAuthorized);
        };
        let file = file.clone();
        let user = user.to_owned();
        let password = password.to_vec();
        let Ok(_permit) = verifier_permits().clone().acquire_owned().await else {
            return Err(Refusal::NotAuthorized);
        };
        let ok = tokio::task::spawn_blocking(move || file.verify(&user, &password)).await.unwrap_or(false);
        if ok { Ok(()) } else { Err(Refusal::NotAuthorized) }
    }
}
