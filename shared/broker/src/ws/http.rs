//! The HTTP side of a WebSocket listener: the upgrade request answered (subprotocol `mqtt` or
//! `mqttv3.1`, `Sec-WebSocket-Accept`), and other requests answered with a file of `http_dir` (or an
//! error status), never reaching outside that directory.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use sha1::Digest as _;

use super::{GUID, LOG_ERR, LOG_INFO, State, WsLayer, ws_log};

/// The values of every header called `name`.
fn header_values<'a>(headers: &[httparse::Header<'a>], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
        .collect()
}

/// Where the request head ends (after the blank line).
pub(super) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// `%XX` escapes decoded; `None` for a broken escape or a NUL.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

impl WsLayer {
    /// Queues an HTTP answer without a body; the connection ends once it is out.
    pub(super) fn answer(&mut self, status: u16, path: &str, extra: &str) {
        self.out.extend_from_slice(
            format!("HTTP/1.1 {status} {}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n", reason(status))
                .as_bytes(),
        );
        self.state = State::Http { path: path.to_owned(), status };
    }

    /// Answers the request head of `end` bytes at the front of `inbuf`.
    pub(super) fn request(&mut self, end: usize) {
        let head = self.inbuf.get(..end).unwrap_or_default().to_vec();
        self.consume(end);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return self.answer(431, "?", "");
            }
            Err(_) => return self.answer(400, "?", ""),
        }
        let path = req.path.unwrap_or("/").to_owned();
        let headers: &[httparse::Header<'_>] = req.headers;
        let header = |name: &str| header_values(headers, name).into_iter();
        let upgrade = header("upgrade").any(|v| v.trim().eq_ignore_ascii_case("websocket"))
            && header("connection").any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")));
        let method = req.method.unwrap_or_default().to_owned();
        if !upgrade {
            return self.serve_file(&method, &path);
        }
        if method != "GET" {
            return self.answer(405, &path, "");
        }
        if !header("sec-websocket-version").any(|v| v.trim() == "13") {
            return self.answer(426, &path, "Sec-WebSocket-Version: 13\r\n");
        }
        let Some(key) = header("sec-websocket-key").next().map(str::trim).filter(|k| !k.is_empty()) else {
            return self.answer(400, &path, "");
        };
        let offered: Vec<String> =
            header("sec-websocket-protocol").flat_map(|v| v.split(',')).map(|p| p.trim().to_owned()).collect();
        let chosen = offered.iter().find(|p| p.eq_ignore_ascii_case("mqtt") || p.eq_ignore_ascii_case("mqttv3.1"));
        if !offered.is_empty() && chosen.is_none() {
            ws_log(
                &self.opts,
                LOG_ERR,
                format_args!("WebSocket upgrade refused: subprotocols {offered:?} are not MQTT."),
            );
            return self.answer(400, &path, "");
        }
        let mut sha = sha1::Sha1::new();
        sha.update(key.as_bytes());
        sha.update(GUID.as_bytes());
        let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
        let protocol = chosen.map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n")).unwrap_or_default();
        self.out.extend_from_slice(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\n{protocol}\r\n"
            )
            .as_bytes(),
        );
        ws_log(&self.opts, LOG_INFO, format_args!("WebSocket upgrade of {path} ({}).", chosen.map_or("-", |c| c)));
        self.state = State::Open;
    }

    /// Answers a plain HTTP request with a file of `http_dir`.
    fn serve_file(&mut self, method: &str, target: &str) {
        if method != "GET" && method != "HEAD" {
            return self.answer(405, target, "");
        }
        let Some(dir) = self.opts.http_dir.clone() else {
            return self.answer(404, target, "");
        };
        let raw = target.split(['?', '#']).next().unwrap_or_default();
        let Some(decoded) = percent_decode(raw).filter(|p| p.starts_with('/')) else {
            return self.answer(400, target, "");
        };
        let mut rel = PathBuf::new();
        for c in Path::new(&decoded).components() {
            match c {
                Component::Normal(part) => rel.push(part),
                Component::RootDir | Component::CurDir => {}
                // No way out of http_dir.
                Component::ParentDir | Component::Prefix(_) => return self.answer(403, target, ""),
            }
        }
        if decoded.ends_with('/') || rel.as_os_str().is_empty() {
            rel.push("index.html");
        }
        let full = dir.join(&rel);
        // A symbolic link may point out of the directory: resolve and check.
        let inside = full.canonicalize().ok().filter(|p| p.starts_with(&dir) && p.is_file());
        let Some(file_path) = inside else {
            return self.answer(404, target, "");
        };
        let Ok(file) = std::fs::File::open(&file_path) else {
            return self.answer(403, target, "");
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        self.out.extend_from_slice(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
                content_type(&file_path)
            )
            .as_bytes(),
        );
        if method == "GET" {
            self.file = Some(file);
        }
        ws_log(&self.opts, LOG_INFO, format_args!("HTTP {method} {target}: 200."));
        self.state = State::Http { path: target.to_owned(), status: 200 };
    }
}
