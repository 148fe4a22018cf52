//! CORS for browser clients on other origins (Aladin Lite in a portal): which Origin gets which
//! Access-Control-* headers, `Vary: Origin`, and preflight (OPTIONS) answers. Public HiPS answer `*` when the
//! configuration allows any origin; restricted HiPS allow credentials only to origins listed by name (`*` never
//! grants them, and `null` is never trusted), so a page on an arbitrary origin cannot read them with the user's
//! cookies.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

use crate::config::Config;
use crate::reply::{hv, Reply};

/// Add a field name to the (single, comma-separated) Vary header.
fn add_vary(h: &mut HeaderMap, field: &str) {
    let cur = h.get(header::VARY).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if cur.is_empty() {
        h.insert(header::VARY, hv(field));
    } else if !cur.split(',').any(|f| f.trim().eq_ignore_ascii_case(field)) {
        h.insert(header::VARY, hv(&format!("{cur}, {field}")));
    }
}

/// Whether `origin` may read public responses: any origin under `*`, else a listed one (never `null`, the origin of
/// sandboxed frames, `data:` and `file:` pages, which any page can take on).
fn origin_allowed(cfg: &Config, origin: &str) -> bool {
    cfg.cors.allowed_origins.iter().any(|o| o == "*" || (o == origin && origin != "null"))
}

/// Whether `origin` is listed by name (what credentialed reads need; `*` and `null` never count).
fn origin_listed(cfg: &Config, origin: &str) -> bool {
    origin != "null" && cfg.cors.allowed_origins.iter().any(|o| o == origin)
}

/// Headers a browser may read from a cross-origin response.
pub(crate) const CORS_EXPOSE_HEADERS: &str =
    "ETag, Content-Range, Content-Length, Accept-Ranges, Last-Modified, Content-Encoding, X-Request-Id";

/// The CORS answer to a request's Origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CorsAllow<'a> {
    /// No Origin, or one not allowed: no CORS headers.
    No,
    /// `Access-Control-Allow-Origin: *` (public HiPS with a wildcard configuration).
    Any,
    /// The origin echoed (with `Vary: Origin`), and credentials allowed for a restricted HiPS.
    Echo {
        /// The request's Origin.
        origin: &'a str,
        /// Add `Access-Control-Allow-Credentials: true`.
        credentials: bool,
    },
}

/// Decide the CORS headers for `origin`. Public HiPS: `*` when the configuration has `*`, else the listed origin
/// echoed. Restricted HiPS: credentials (the origin echoed with `Access-Control-Allow-Credentials: true`) only for an
/// origin listed by name, never through `*` and never for `null`; other origins get `*` under a wildcard
/// configuration, which lets a page read what it asked for with its own bearer token but never with the user's
/// cookies.
pub(crate) fn cors_allow<'a>(cfg: &Config, origin: Option<&'a str>, restricted: bool) -> CorsAllow<'a> {
    let Some(origin) = origin else { return CorsAllow::No };
    let wildcard = cfg.cors.allowed_origins.iter().any(|o| o == "*");
    if restricted && origin_listed(cfg, origin) {
        CorsAllow::Echo { origin, credentials: true }
    } else if wildcard {
        CorsAllow::Any
    } else if origin_listed(cfg, origin) {
        CorsAllow::Echo { origin, credentials: false }
    } else {
        CorsAllow::No
    }
}

/// Add the CORS headers of `allow` to a response's headers (`Origin` merged into its Vary; no expose list on a
/// preflight answer, which carries Access-Control-Allow-Methods).
pub(crate) fn apply(resp: &mut HeaderMap, allow: CorsAllow<'_>) {
    match allow {
        CorsAllow::No => return,
        CorsAllow::Any => {
            resp.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        CorsAllow::Echo { origin, credentials } => {
            resp.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, hv(origin));
            add_vary(resp, "Origin");
            if credentials {
                resp.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            }
        }
    }
    if !resp.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS) {
        resp.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSE_HEADERS));
    }
}

/// Append the CORS headers of `allow` as header lines after a pre-encoded head (an echoed origin adds a second
/// `vary: Origin` line, which HTTP reads as one list with the first).
pub(crate) fn push_lines(out: &mut Vec<u8>, allow: CorsAllow<'_>) {
    match allow {
        CorsAllow::No => return,
        CorsAllow::Any => out.extend_from_slice(b"access-control-allow-origin: *\r\n"),
        CorsAllow::Echo { origin, credentials } => {
            out.extend_from_slice(b"access-control-allow-origin: ");
            out.extend_from_slice(origin.as_bytes());
            out.extend_from_slice(b"\r\nvary: Origin\r\n");
            if credentials {
                out.extend_from_slice(b"access-control-allow-credentials: true\r\n");
            }
        }
    }
    out.extend_from_slice(b"access-control-expose-headers: ");
    out.extend_from_slice(CORS_EXPOSE_HEADERS.as_bytes());
    out.extend_from_slice(b"\r\n");
}

const ALLOWED_REQUEST_HEADERS: &[&str] =
    &["authorization", "range", "if-none-match", "if-modified-since", "if-range", "cache-control", "x-requested-with"];

/// The methods of a path: HiPS files and queries are read-only; the VO services also take POSTed forms, and the
/// asynchronous jobs are deleted with DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Methods {
    /// GET, HEAD, OPTIONS.
    Read,
    /// GET, HEAD, POST, OPTIONS (`/vo/...`).
    Form,
    /// GET, HEAD, POST, DELETE, OPTIONS (`/vo/soda/async...`).
    Jobs,
}

impl Methods {
    fn list(self) -> &'static str {
        match self {
            Methods::Read => "GET, HEAD, OPTIONS",
            Methods::Form => "GET, HEAD, POST, OPTIONS",
            Methods::Jobs => "GET, HEAD, POST, DELETE, OPTIONS",
        }
    }
}

/// Answer an OPTIONS request (a CORS preflight when it carries Origin and Access-Control-Request-Method) on a path
/// taking `methods`.
pub(crate) fn preflight(cfg: &Config, req: &HeaderMap, methods: Methods) -> Reply {
    let mut r = Reply::new(StatusCode::NO_CONTENT, Bytes::new());
    let h = r.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(methods.list()));
    let origin_ok = req.get(header::ORIGIN).and_then(|v| v.to_str().ok()).is_some_and(|o| origin_allowed(cfg, o));
    if origin_ok && req.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods.list()));
        let asked = req.get(header::ACCESS_CONTROL_REQUEST_HEADERS).and_then(|v| v.to_str().ok()).unwrap_or("");
        let granted: Vec<String> = asked
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| ALLOWED_REQUEST_HEADERS.contains(&s.as_str()))
            .collect();
        if !granted.is_empty() {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, hv(&granted.join(", ")));
        }
        h.insert(header::ACCESS_CONTROL_MAX_AGE, hv(&cfg.cors.max_age_secs.to_string()));
        h.insert(header::VARY, HeaderValue::from_static("Origin, Access-Control-Request-Headers"));
    }
    r
}
