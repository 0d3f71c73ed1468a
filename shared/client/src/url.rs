//! The two URL options: `-L mqtt://user:pass@host:port/topic` and `--proxy socks5h://user:pass@host:port`.
//!
//! Both follow Mosquitto's parsing rather than RFC 3986, so the same strings mean the same thing: `-L`
//! splits at the first `/` after the scheme (the rest is the topic, which may contain `/`), the first `@`
//! and the first `:`, with no percent-decoding; `--proxy` decodes `%25`, `%3A` and `%40` in the
//! credentials.

use crate::error::UsageError;

/// What `-L` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// The scheme asks for TLS (`mqtts://`, `wss://`).
    pub tls: bool,
    /// The scheme asks for WebSockets (`ws://`, `wss://`).
    pub websockets: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub topic: String,
}

/// Parses a `-L` URL.
pub fn parse_broker_url(url: &str) -> Result<BrokerUrl, UsageError> {
    let lower = url.to_ascii_lowercase();
    let (rest, tls, websockets, port) = if lower.starts_with("mqtt://") {
        (&url[7..], false, false, 1883)
    } else if lower.starts_with("mqtts://") {
        (&url[8..], true, false, 8883)
    } else if lower.starts_with("ws://") {
        (&url[5..], false, true, 1883)
    } else if lower.starts_with("wss://") {
        (&url[6..], true, true, 8883)
    } else {
        return Err(UsageError::new("unsupported URL scheme.\n"));
    };
    let Some((authority, topic)) = rest.split_once('/') else {
        return Err(UsageError::new("Invalid URL for -L argument specified - topic missing."));
    };
    let (userinfo, hostport) = match authority.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (Some(user.to_string()), Some(pass.to_string())),
            None => (Some(u.to_string()), None),
        },
        None => (None, None),
    };
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| UsageError::new(format!("Invalid port given: {p}")))?),
        None => (hostport, port),
    };
    Ok(BrokerUrl { tls, websockets, username, password, host: host.to_string(), port, topic: topic.to_string() })
}

/// What `--proxy` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Parses a `--proxy` URL: `socks5h://[username[:password]@]host[:port]`.
pub fn parse_proxy_url(url: &str) -> Result<ProxyUrl, UsageError> {
    let Some(rest) = url.strip_prefix("socks5h://") else {
        return Err(UsageError::new(format!("Unsupported proxy protocol: {url}")));
    };
    let invalid = || UsageError::new("Invalid proxy.");
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (username, password) = match userinfo {
        Some(u) => {
            let (user, pass) = match u.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (u, None),
            };
            if user.is_empty() {
                return Err(invalid());
            }
            (Some(decode(user).ok_or_else(invalid)?), pass.map(|p| decode(p).ok_or_else(invalid)).transpose()?)
        }
        None => (None, None),
    };
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => match p.parse::<u16>() {
            Ok(port) if port >= 1 => (h, port),
            _ => return Err(UsageError::new(format!("Invalid proxy port {p}"))),
        },
        None => (hostport, 1080),
    };
    if host.is_empty() {
        return Err(invalid());
    }
    Ok(ProxyUrl { host: host.to_string(), port, username, password })
}

/// Mosquitto's credential decoding: only `%25`, `%3A`/`%3a` and `%40`; any other `%` is an error.
fn decode(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3)?;
        out.push(match code {
            "25" => '%',
            "3A" | "3a" => ':',
            "40" => '@',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let u = parse_broker_url("mqtt://alice:se:cret@example.org:1884/a/b/c").unwrap();
        assert_eq!(u.username.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("se:cret"));
        assert_eq!((u.host.as_str(), u.port, u.topic.as_str()), ("example.org", 1884, "a/b/c"));
        assert!(!u.tls);
    }

    #[test]
    fn defaults_and_errors() {
        let u = parse_broker_url("MQTT://h/t").unwrap();
        assert_eq!((u.port, u.username), (1883, None));
        assert!(parse_broker_url("mqtts://h/t").unwrap().tls);
        assert_eq!(parse_broker_url("http://h/t").unwrap_err().message, "unsupported URL scheme.\n");
        assert_eq!(
            parse_broker_url("mqtt://h").unwrap_err().message,
            "Invalid URL for -L argument specified - topic missing."
        );
    }

    #[test]
    fn proxy_urls() {
        let p = parse_proxy_url("socks5h://u%40x:p%3Aw@proxy:9050").unwrap();
        assert_eq!(
            p,
            ProxyUrl { host: "proxy".into(), port: 9050, username: Some("u@x".into()), password: Some("p:w".into()) }
        );
        assert_eq!(parse_proxy_url("socks5h://proxy").unwrap().port, 1080);
        assert!(parse_proxy_url("socks4://proxy").is_err());
        assert!(parse_proxy_url("socks5h://proxy:0").is_err());
        assert!(parse_proxy_url("socks5h://u%zz@proxy").is_err());
    }
}
