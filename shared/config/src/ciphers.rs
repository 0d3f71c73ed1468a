//! `ciphers` and `ciphers_tls1.3`: OpenSSL cipher strings mapped onto the suites the broker's TLS
//! library offers (rustls: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, and the three TLS 1.3
//! suites).
//!
//! `ciphers` follows OpenSSL's syntax closely enough for real configurations: elements separated by
//! `:` (or `,` or spaces); a suite name or an alias (`HIGH`, `ECDHE`, `AESGCM`, ...) adds, `!`/`-`
//! removes, `+` joins aliases (`ECDHE+AESGCM`: both), `+NAME` alone and `@STRENGTH`/`@SECLEVEL=n` only
//! reorder or rate, so they change nothing here. Removing something the library never offers (`!MD5`,
//! `!aNULL`) is accepted. Adding a suite the library does not have (`DHE-RSA-AES256-GCM-SHA384`, CBC
//! suites) or a word that is no cipher name at all is an error naming it, since silently serving other
//! suites than the ones written would be a surprise.

/// A TLS 1.2 suite the library offers, with the OpenSSL name and the attributes aliases select by.
struct Suite {
    openssl: &'static str,
    /// rustls' name (the IANA name with `TLS_` prefix).
    name: &'static str,
    auth: &'static str,
    cipher: &'static str,
    hash: &'static str,
}

const TLS12: [Suite; 6] = [
    Suite {
        openssl: "ECDHE-ECDSA-AES128-GCM-SHA256",
        name: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        auth: "ECDSA",
        cipher: "AES128GCM",
        hash: "SHA256",
    },
    Suite {
        openssl: "ECDHE-ECDSA-AES256-GCM-SHA384",
        name: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        auth: "ECDSA",
        cipher: "AES256GCM",
        hash: "SHA384",
    },
    Suite {
        openssl: "ECDHE-ECDSA-CHACHA20-POLY1305",
        name: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        auth: "ECDSA",
        cipher: "CHACHA20",
        hash: "SHA256",
    },
    Suite {
        openssl: "ECDHE-RSA-AES128-GCM-SHA256",
        name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        auth: "RSA",
        cipher: "AES128GCM",
        hash: "SHA256",
    },
    Suite {
        openssl: "ECDHE-RSA-AES256-GCM-SHA384",
        name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        auth: "RSA",
        cipher: "AES256GCM",
        hash: "SHA384",
    },
    Suite {
        openssl: "ECDHE-RSA-CHACHA20-POLY1305",
        name: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        auth: "RSA",
        cipher: "CHACHA20",
        hash: "SHA256",
    },
];

/// OpenSSL aliases that select no suite the library offers: removing them is a no-op, adding them
/// alone selects nothing.
const EMPTY_ALIASES: &[&str] = &[
    "aNULL",
    "eNULL",
    "NULL",
    "COMPLEMENTOFALL",
    "COMPLEMENTOFDEFAULT",
    "MD5",
    "RC4",
    "DES",
    "3DES",
    "EXP",
    "EXPORT",
    "LOW",
    "MEDIUM",
    "PSK",
    "kPSK",
    "aPSK",
    "ECDHEPSK",
    "DHEPSK",
    "RSAPSK",
    "kECDHEPSK",
    "kDHEPSK",
    "kRSAPSK",
    "SRP",
    "kSRP",
    "aSRP",
    "CAMELLIA",
    "CAMELLIA128",
    "CAMELLIA256",
    "SEED",
    "IDEA",
    "DSS",
    "aDSS",
    "DH",
    "DHE",
    "EDH",
    "kDHE",
    "kEDH",
    "kDH",
    "ADH",
    "AECDH",
    "aECDH",
    "kECDH",
    "ECDH",
    "kRSA",
    "SHA1",
    "SHA",
    "ARIA",
    "ARIA128",
    "ARIA256",
    "CCM",
    "CCM8",
    "AESCCM",
    "AESCCM8",
    "SSLv3",
    "TLSv1",
    "TLSv1.0",
    "GOST",
    "kGOST",
    "aGOST",
    "aGOST01",
    "kGOST18",
    "RC2",
    "CBC",
];

/// The suites an alias selects, or `None` when the word is no alias known here.
fn alias(word: &str) -> Option<Vec<&'static str>> {
    let all = || TLS12.iter().map(|s| s.name).collect();
    let by = |f: &dyn Fn(&Suite) -> bool| TLS12.iter().filter(|s| f(s)).map(|s| s.name).collect();
    Some(match word {
        "ALL" | "DEFAULT" | "HIGH" | "ECDHE" | "EECDH" | "kECDHE" | "kEECDH" | "AEAD" | "TLSv1.2" => all(),
        "ECDSA" | "aECDSA" => by(&|s| s.auth == "ECDSA"),
        "RSA" | "aRSA" => by(&|s| s.auth == "RSA"),
        "AES" | "AESGCM" => by(&|s| s.cipher.starts_with("AES")),
        "AES128" => by(&|s| s.cipher == "AES128GCM"),
        "AES256" => by(&|s| s.cipher == "AES256GCM"),
        "CHACHA20" => by(&|s| s.cipher == "CHACHA20"),
        "SHA256" => by(&|s| s.hash == "SHA256"),
        "SHA384" => by(&|s| s.hash == "SHA384"),
        w if EMPTY_ALIASES.contains(&w) => Vec::new(),
        w => {
            let s = TLS12.iter().find(|s| s.openssl == w || s.name == w)?;
            vec![s.name]
        }
    })
}

/// The suites one element selects (aliases joined with `+` intersect).
fn element(word: &str) -> Option<Vec<&'static str>> {
    let mut parts = word.split('+');
    let mut set = alias(parts.next()?)?;
    for p in parts {
        let other = alias(p)?;
        set.retain(|s| other.contains(s));
    }
    Some(set)
}

/// Whether `word` is shaped like a cipher name (so removing it is accepted even if unknown here).
fn cipher_shaped(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '='))
}

/// The TLS 1.2 suites (rustls names) an OpenSSL `ciphers` string selects, in the library's order.
pub fn tls12_suites(list: &str) -> Result<Vec<&'static str>, String> {
    let mut chosen: Vec<&'static str> = Vec::new();
    let mut banned: Vec<&'static str> = Vec::new();
    for word in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        if word.starts_with('@') {
            // @STRENGTH, @SECLEVEL=n: ordering and security level only.
            continue;
        }
        if let Some(name) = word.strip_prefix('!').or_else(|| word.strip_prefix('-')) {
            match element(name) {
                Some(set) => {
                    chosen.retain(|s| !set.contains(s));
                    if word.starts_with('!') {
                        banned.extend(set);
                    }
                }
                None if cipher_shaped(name) => {}
                None => return Err(format!("\"{word}\" is not a cipher name")),
            }
            continue;
        }
        if let Some(name) = word.strip_prefix('+') {
            // Moves suites to the end: the selection stays the same.
            if element(name).is_none() && !cipher_shaped(name) {
                return Err(format!("\"{word}\" is not a cipher name"));
            }
            continue;
        }
        let Some(set) = element(word) else {
            return Err(format!(
                "\"{word}\" is not a cipher suite the broker's TLS library (rustls) offers; it has {} (and for TLS 1.3 \
                 see ciphers_tls1.3)",
                TLS12.iter().map(|s| s.openssl).collect::<Vec<_>>().join(", ")
            ));
        };
        for s in set {
            if !chosen.contains(&s) && !banned.contains(&s) {
                chosen.push(s);
            }
        }
    }
    if chosen.is_empty() {
        return Err(format!(
            "\"{list}\" leaves no TLS 1.2 cipher suite the broker's TLS library offers ({})",
            TLS12.iter().map(|s| s.openssl).collect::<Vec<_>>().join(", ")
        ));
    }
    // The library's order (strongest first), whatever the order written.
    Ok(TLS12.iter().map(|s| s.name).filter(|n| chosen.contains(n)).collect())
}

/// The TLS 1.3 suites (rustls names) a `ciphers_tls1.3` list selects: OpenSSL takes exact names
/// separated by `:`.
pub fn tls13_suites(list: &str) -> Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    for word in list.split(':').map(str::trim).filter(|w| !w.is_empty()) {
        let name = match word {
            "TLS_AES_128_GCM_SHA256" => "TLS13_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384" => "TLS13_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256" => "TLS13_CHACHA20_POLY1305_SHA256",
            "TLS_AES_128_CCM_SHA256" | "TLS_AES_128_CCM_8_SHA256" => {
                return Err(format!(
                    "{word} is not offered by the broker's TLS library (rustls); it has TLS_AES_256_GCM_SHA384, \
                     TLS_AES_128_GCM_SHA256 and TLS_CHACHA20_POLY1305_SHA256"
                ));
            }
            other => {
                return Err(format!(
                    "\"{other}\" is not a TLS 1.3 cipher suite (TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, \
                     TLS_CHACHA20_POLY1305_SHA256)"
                ));
            }
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.is_empty() {
        return Err("no TLS 1.3 cipher suite given".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_strings_map_onto_the_offered_suites() {
        assert_eq!(tls12_suites("ECDHE-RSA-AES256-GCM-SHA384").unwrap(), ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]);
        assert_eq!(tls12_suites("HIGH:!aNULL:!MD5").unwrap().len(), 6);
        assert_eq!(tls12_suites("DEFAULT:@SECLEVEL=2").unwrap().len(), 6);
        assert_eq!(
            tls12_suites("ECDHE+AESGCM:!ECDSA").unwrap(),
            ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
        );
        assert_eq!(tls12_suites("CHACHA20:!RSA").unwrap(), ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]);
        assert_eq!(tls12_suites("HIGH:!SOMETHING-ELSE").unwrap().len(), 6);
        // The IANA name works too.
        assert_eq!(tls12_suites("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").unwrap().len(), 1);
    }

    #[test]
    fn suites_the_library_lacks_are_refused_by_name() {
        let e = tls12_suites("ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384").unwrap_err();
        assert!(e.contains("\"DHE-RSA-AES256-GCM-SHA384\" is not a cipher suite"), "{e}");
        assert!(tls12_suites("AES256-SHA").is_err());
        assert!(tls12_suites("HIGH:!HIGH").unwrap_err().contains("leaves no"));
        assert!(tls12_suites("RC4").unwrap_err().contains("leaves no"));
        assert!(tls12_suites("HIGH:!a\"b").is_err());
    }

    #[test]
    fn tls13_names() {
        assert_eq!(
            tls13_suites("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256").unwrap(),
            ["TLS13_AES_256_GCM_SHA384", "TLS13_CHACHA20_POLY1305_SHA256"]
        );
        assert!(tls13_suites("TLS_AES_128_CCM_SHA256").unwrap_err().contains("not offered"));
        assert!(tls13_suites("TLS_FOO").is_err());
    }
}
