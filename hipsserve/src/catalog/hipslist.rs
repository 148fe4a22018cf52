//! The `/hipslist` document: the HiPS-node list of the public, listed HiPS, as registries harvest it.
//!
//! Each record needs `hips_service_url` (where the tiles are). With `public_url` set it is `<public_url>/<name>`;
//! without it the document is a template whose base ([`BASE`]) is filled per request from where the request was
//! sent ([`request_base`]: the Host header; `X-Forwarded-Proto`/`X-Forwarded-Host` only from a trusted proxy), so a
//! harvester always finds the tiles where it found the list.

use std::net::IpAddr;

use http::header::{self, HeaderMap};

use std::fmt::Write as _;

use super::Hips;
use crate::config::Access;

/// The IVOID of this node: `ivo://<host and path of public_url>`, `ivo://hipsserve` without one (a HiPS without
/// `creator_did` is listed as `<node IVOID>/<name>`).
#[must_use]
pub fn node_did(public_url: Option<&str>) -> String {
    public_url.map_or_else(
        || "ivo://hipsserve".to_string(),
        |u| format!("ivo://{}", u.split("://").nth(1).unwrap_or(u).trim_end_matches('/')),
    )
}

/// The stand-in for the base URL in a `/hipslist` template (NUL never occurs in properties read from text).
pub const BASE: &str = "\u{0}base";

/// The `/hipslist` document from its template for a request sent to `base`; without a base the `hips_service_url`
/// lines are left out.
#[must_use]
pub fn for_base(template: &str, base: Option<&str>) -> String {
    match base {
        Some(b) => template.replace(BASE, b),
        None => template.lines().filter(|l| !l.contains(BASE)).fold(String::new(), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        }),
    }
}

/// The base URL (`scheme://host[:port]`) a request was sent to: `http://` + its Host header (or HTTP/2 authority);
/// when the connecting peer is one of `trusted` proxies, its `X-Forwarded-Proto` and `X-Forwarded-Host` (first
/// values) win. `None` when there is no usable host (characters outside a host name, IP literal and port).
#[must_use]
pub fn request_base(
    headers: &HeaderMap,
    authority: Option<&str>,
    peer: Option<IpAddr>,
    trusted: &[IpAddr],
) -> Option<String> {
    let first =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next()).map(str::trim);
    let proxied = peer.is_some_and(|p| trusted.contains(&p));
    let host = proxied
        .then(|| first("x-forwarded-host"))
        .flatten()
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()).map(str::trim))
        .or(authority)?;
    let scheme = match proxied.then(|| first("x-forwarded-proto")).flatten() {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let ok = !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'));
    ok.then(|| format!("{scheme}://{host}"))
}

/// Build the `/hipslist` document: one properties record per listed public HiPS, separated by blank lines, with
/// `hips_service_url` set from the public URL (and `hips_progenitor_url`, its progenitor index, where it has one)
/// and the mandatory registry keys present.
#[must_use]
pub fn hipslist(hips: &[Hips], public_url: Option<&str>, node_did: &str) -> String {
    let mut out = String::new();
    for h in hips.iter().filter(|h| h.settings.access == Access::Public && h.settings.listed) {
        let mut rec = h.properties.clone();
        if let Some(u) = public_url {
            rec.set("hips_service_url", format!("{u}/{}", h.name));
            if h.progenitor_index {
                rec.set("hips_progenitor_url", format!("{u}/{}/HpxFinder", h.name));
            }
        }
        for (k, v) in [
            ("creator_did", format!("{node_did}/{}", h.name)),
            ("hips_release_date", "1970-01-01T00:00Z".into()),
            ("hips_status", "public master unclonable".into()),
        ] {
            if rec.get(k).is_none() {
                rec.set(k, v);
            }
        }
        for (k, v) in rec.iter() {
            let _ = writeln!(out, "{k:<20} = {v}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_base_comes_from_host_and_from_forwarded_headers_of_trusted_proxies_only() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let client: IpAddr = IpAddr::from([192, 0, 2, 1]);
        let h = headers(&[
            ("host", "hips.local:8080"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(request_base(&h, None, Some(client), &[]).as_deref(), Some("http://hips.local:8080"));
        assert_eq!(request_base(&h, None, Some(client), &[proxy]).as_deref(), Some("http://hips.local:8080"));
        assert_eq!(request_base(&h, None, Some(proxy), &[proxy]).as_deref(), Some("https://evil.example"));
        assert_eq!(request_base(&headers(&[]), Some("[::1]:81"), None, &[]).as_deref(), Some("http://[::1]:81"));
        assert_eq!(request_base(&headers(&[("host", "a b/c")]), None, None, &[]), None);
        assert_eq!(request_base(&headers(&[]), None, None, &[]), None);
    }

    #[test]
    fn templates_take_the_base_or_drop_the_line() {
        let t = format!("creator_did = x\nhips_service_url = {BASE}/dr1/g\n\n");
        assert_eq!(for_base(&t, Some("http://h:1")), "creator_did = x\nhips_service_url = http://h:1/dr1/g\n\n");
        assert_eq!(for_base(&t, None), "creator_did = x\n\n");
    }
}
