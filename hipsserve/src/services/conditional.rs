//! HTTP semantics helpers: content types, conditional requests (RFC 9110 §13), byte ranges (§14), content coding.

use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderMap;

/// Content-Type for a storage key, from its file name.
#[must_use]
pub fn content_type(key: &str) -> &'static str {
    let file = key.rsplit('/').next().unwrap_or(key);
    if file == "properties" {
        return "text/plain; charset=utf-8";
    }
    match file.rsplit_once('.').map(|(_, e)| e) {
        Some("fits") => "application/fits",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("html") => "text/html; charset=utf-8",
        Some("xml") => "application/xml",
        Some("json") => "application/json",
        // `.txt`, and HpxFinder tiles, which have no extension: JSON lines.
        _ => "text/plain; charset=utf-8",
    }
}

/// Whether compressing this content type is worthwhile (never for already-compressed images).
#[must_use]
pub fn compressible(ct: &str) -> bool {
    ct.starts_with("text/") || ct == "application/fits" || ct == "application/json" || ct == "application/xml"
}

/// Content codings this server produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// No compression.
    Identity,
    /// gzip.
    Gzip,
    /// brotli.
    Brotli,
}

/// Choose the best coding the client accepts (q-values honoured; brotli preferred at equal q).
#[must_use]
pub fn negotiate(headers: &HeaderMap) -> Coding {
    let Some(ae) = headers.get(http::header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return Coding::Identity;
    };
    let (mut br, mut gz, mut star) = (None, None, None);
    for part in ae.split(',') {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())).unwrap_or(1.0);
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gz = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let br = br.or(star).unwrap_or(0.0);
    let gz = gz.or(star).unwrap_or(0.0);
    if br > 0.0 && br >= gz {
        Coding::Brotli
    } else if gz > 0.0 {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// Compress; `None` when the result would not be smaller.
#[must_use]
pub fn compress(data: &[u8], coding: Coding) -> Option<Bytes> {
    use std::io::Write;
    let out = match coding {
        Coding::Identity => return None,
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2), flate2::Compression::new(6));
            e.write_all(data).ok()?;
            e.finish().ok()?
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(data.len() / 2);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, 5, 22);
                w.write_all(data).ok()?;
            }
            out
        }
    };
    (out.len() + 64 < data.len()).then(|| Bytes::from(out))
}

fn opaque(tag: &str) -> &str {
    tag.trim().strip_prefix("W/").unwrap_or(tag.trim())
}

/// Whether an `If-None-Match` / `If-Match` list matches `etag` (weak comparison: `W/` ignored; `*` matches).
/// Our coded variants carry a suffix (`"<hash>-br"`), so they match their base tag too: same content.
#[must_use]
pub fn etag_list_matches(list: &str, etag: &str) -> bool {
    let base = etag.trim_matches('"');
    list.split(',').map(opaque).any(|t| {
        t == "*" || {
            let t = t.trim_matches('"');
            t == base || t.strip_prefix(base).is_some_and(|s| s == "-gz" || s == "-br")
        }
    })
}

/// Whether `If-Match` (when present) or else `If-Unmodified-Since` fails for the object: the answer is then 412
/// (RFC 9110 §13.2.2: evaluated before `If-None-Match` / `If-Modified-Since`; an unparsable date is ignored).
#[must_use]
pub fn precondition_failed(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(im) = headers.get(http::header::IF_MATCH) {
        // Strong comparison: a weak tag never matches, `*` does.
        return !im.to_str().is_ok_and(|l| {
            l.split(',').map(str::trim).any(|t| t == "*" || (!t.starts_with("W/") && etag_list_matches(t, etag)))
        });
    }
    if let (Some(ius), Some(m)) = (headers.get(http::header::IF_UNMODIFIED_SINCE), modified) {
        if let Some(since) = ius.to_str().ok().and_then(|s| httpdate::parse_http_date(s).ok()) {
            let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            return secs(m) > secs(since);
        }
    }
    false
}

/// Outcome of evaluating preconditions for a GET/HEAD.
#[must_use]
pub fn not_modified(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(inm) = headers.get(http::header::IF_NONE_MATCH) {
        return inm.to_str().is_ok_and(|l| etag_list_matches(l, etag));
    }
    if let (Some(ims), Some(m)) = (headers.get(http::header::IF_MODIFIED_SINCE), modified) {
        if let Some(since) = ims.to_str().ok().and_then(|s| httpdate::parse_http_date(s).ok()) {
            let m_secs = m.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let s_secs = since.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            return m_secs <= s_secs;
        }
    }
    false
}

/// Result of interpreting a Range header against an object of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeReq {
    /// Serve the whole object (no Range, unsupported unit or several ranges).
    Full,
    /// One satisfiable range, inclusive start and exclusive end.
    Partial(u64, u64),
    /// 416.
    Unsatisfiable,
}

/// Parse a single-range `bytes=` header (RFC 9110 §14.1.2). Multiple ranges are served as a full 200.
#[must_use]
pub fn parse_range(value: &str, len: u64) -> RangeReq {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return RangeReq::Full };
    if spec.contains(',') {
        return RangeReq::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeReq::Full };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    if a.is_empty() {
        let Some(n) = num(b) else { return RangeReq::Full };
        if n == 0 || len == 0 {
            return RangeReq::Unsatisfiable;
        }
        return RangeReq::Partial(len.saturating_sub(n), len);
    }
    let Some(start) = num(a) else { return RangeReq::Full };
    let end = if b.is_empty() {
        len
    } else {
        match num(b) {
            Some(e) if e >= start => e.saturating_add(1).min(len),
            _ => return RangeReq::Full,
        }
    };
    if start >= len {
        return RangeReq::Unsatisfiable;
    }
    RangeReq::Partial(start, end)
}

/// Whether an If-Range precondition holds (absent: yes). Only strong ETags or dates are valid validators.
#[must_use]
pub fn if_range_ok(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    let Some(v) = headers.get(http::header::IF_RANGE).and_then(|v| v.to_str().ok()) else { return true };
    let v = v.trim();
    if v.starts_with('"') {
        return v == etag;
    }
    match (httpdate::parse_http_date(v), modified) {
        (Ok(d), Some(m)) => httpdate::fmt_http_date(d) == httpdate::fmt_http_date(m),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeReq::Partial(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), RangeReq::Partial(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), RangeReq::Partial(90, 100));
        assert_eq!(parse_range("bytes=-1000", 100), RangeReq::Partial(0, 100));
        assert_eq!(parse_range("bytes=50-1000", 100), RangeReq::Partial(50, 100));
        assert_eq!(parse_range("bytes=100-", 100), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeReq::Full);
        assert_eq!(parse_range("items=0-1", 100), RangeReq::Full);
        assert_eq!(parse_range("bytes=9-3", 100), RangeReq::Full);
    }

    #[test]
    fn etags() {
        assert!(etag_list_matches("\"abc\"", "\"abc\""));
        assert!(etag_list_matches("W/\"abc\"", "\"abc\""));
        assert!(etag_list_matches("\"x\", W/\"abc-br\"", "\"abc\""));
        assert!(etag_list_matches("*", "\"abc\""));
        assert!(!etag_list_matches("\"abcd\"", "\"abc\""));
    }

    #[test]
    fn coding() {
        let mut h = HeaderMap::new();
        assert_eq!(negotiate(&h), Coding::Identity);
        h.insert("accept-encoding", "gzip, deflate, br".parse().expect("v"));
        assert_eq!(negotiate(&h), Coding::Brotli);
        h.insert("accept-encoding", "gzip;q=1, br;q=0".parse().expect("v"));
        assert_eq!(negotiate(&h), Coding::Gzip);
        h.insert("accept-encoding", "identity".parse().expect("v"));
        assert_eq!(negotiate(&h), Coding::Identity);
        assert_eq!(content_type("x/properties"), "text/plain; charset=utf-8");
        assert_eq!(content_type("Norder3/Dir0/Npix1.fits"), "application/fits");
    }
}
