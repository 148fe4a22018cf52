//! The HTTP/1.1 connection loop's request classification: it recognises the plain requests that make up
//! nearly all HiPS traffic (a GET or HEAD of a file of a public HiPS, without conditions, ranges or body) so that the
//! connection driver (`super::conn`) answers them from the object cache with the object's pre-encoded response
//! head, without building a hyper request and response for each.
//!
//! It sorts each complete request head (parsed by `httparse`, the parser hyper itself uses, with the same defaults):
//! - `None`: left to hyper, for the rest of the connection: a method other than GET, HEAD and OPTIONS, a version
//!   other than HTTP/1.1, or a header that changes the message framing or the protocol (Content-Length,
//!   Transfer-Encoding, Expect, Upgrade, TE, HTTP2-Settings, a Connection token other than keep-alive and close).
//! - `hot`: a GET or HEAD of an origin-form target with a plain query and none of Range, If-Range, If-Match,
//!   If-None-Match, If-Modified-Since, If-Unmodified-Since: answered from the object cache when the object is there.
//! - otherwise: handed to the request handler as an `http::Request`, its response encoded by the driver.
//!
//! The route, the HiPS's access rule, the order/format/coverage checks and the CORS decision are the handler's own
//! functions ([`super::routing::route`], [`crate::services::tiles::refusal`], `super::cors::cors_allow`), so both paths
//! share one definition of what is served.

/// Request headers that change the message framing or the protocol: such requests go to hyper.
const FRAMING: &[&str] = &["content-length", "transfer-encoding", "expect", "upgrade", "te", "http2-settings"];

/// Request headers that make an answer depend on more than the object: such requests go to the handler.
const CONDITIONAL: &[&str] =
    &["range", "if-range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"];

/// A bodiless HTTP/1.1 request, as far as the fast path needs to know it (borrowed from the read buffer).
// The flags are independent facts of one request line and its headers, each read once on the hot path; a state enum
// or a bitset would only hide them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plain<'b> {
    /// A plain GET or HEAD, which the object cache may answer directly.
    pub hot: bool,
    /// HEAD (headers only).
    pub head: bool,
    /// The path, without the query.
    pub path: &'b str,
    /// The first Origin header, when it is a valid header string (as `HeaderValue::to_str` reads it).
    pub origin: Option<&'b str>,
    /// The first X-Request-Id header.
    pub request_id: Option<&'b [u8]>,
    /// The client asked to close the connection after this response.
    pub close: bool,
    /// The client sent Accept-Encoding (compressible objects then go through content negotiation, in hyper).
    pub accepts_encoding: bool,
}

/// Bytes of a query the fast path passes through (unreserved, sub-delims, `:@/?` and percent signs); anything else
/// is left to hyper's URI parser.
fn plain_query_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)
}

/// What `HeaderValue::to_str` accepts: visible ASCII, space and tab.
fn header_str(v: &[u8]) -> Option<&str> {
    if v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        std::str::from_utf8(v).ok()
    } else {
        None
    }
}

/// Sort a parsed request head (see the module documentation); the HiPS checks of hot requests come after, in the
/// driver.
pub(crate) fn classify<'b>(req: &httparse::Request<'_, 'b>) -> Option<Plain<'b>> {
    let (head, get_or_head) = match req.method? {
        "GET" => (false, true),
        "HEAD" => (true, true),
        "OPTIONS" => (false, false),
        _ => return None,
    };
    if req.version? != 1 {
        return None;
    }
    let target = req.path?;
    let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
    let hot = get_or_head && path.starts_with('/') && query.is_none_or(|q| q.bytes().all(plain_query_byte));
    let mut p = Plain { hot, head, path, origin: None, request_id: None, close: false, accepts_encoding: false };
    let mut seen_origin = false;
    let mut hosts = 0u8;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            hosts = hosts.saturating_add(1);
        } else if name.eq_ignore_ascii_case("origin") {
            if !seen_origin {
                seen_origin = true;
                p.origin = header_str(h.value);
            }
        } else if name.eq_ignore_ascii_case("x-request-id") {
            p.request_id = p.request_id.or(Some(h.value));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header_str(h.value)?.split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    p.close = true;
                } else if !token.is_empty() && !token.eq_ignore_ascii_case("keep-alive") {
                    return None;
                }
            }
        } else if name.eq_ignore_ascii_case("accept-encoding") {
            p.accepts_encoding = true;
        } else if FRAMING.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            return None;
        } else if CONDITIONAL.iter().any(|d| name.eq_ignore_ascii_case(d)) {
            p.hot = false;
        }
    }
    // Not exactly one Host: the handler answers 400 (RFC 9112 §3.2).
    if hosts != 1 {
        p.hot = false;
    }
    Some(p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Option<Plain<'_>> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(raw.as_bytes()) {
            Ok(httparse::Status::Complete(_)) => classify(&req),
            _ => None,
        }
    }

    #[test]
    fn plain_gets_and_heads_are_taken() {
        let p = parse("GET /CFHT/Norder3/Allsky.png HTTP/1.1\r\nHost: x\r\nUser-Agent: wrk\r\n\r\n").unwrap();
        assert_eq!((p.hot, p.head, p.path, p.close), (true, false, "/CFHT/Norder3/Allsky.png", false));
        let p =
            parse("HEAD /a/properties?x=1&y=%20 HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close\r\n\r\n").unwrap();
        assert_eq!((p.hot, p.head, p.path, p.close), (true, true, "/a/properties", true));
        let p = parse("GET /a HTTP/1.1\r\nOrigin: https://portal\r\norigin: https://other\r\nX-Request-Id: r1\r\n\r\n")
            .unwrap();
        assert_eq!((p.origin, p.request_id), (Some("https://portal"), Some(&b"r1"[..])));
        let p = parse("GET /a HTTP/1.1\r\nOrigin: caf\u{e9}\r\nAccept-Encoding: gzip\r\n\r\n").unwrap();
        assert_eq!((p.origin, p.accepts_encoding), (None, true), "an origin hyper cannot read as text is ignored");
    }

    #[test]
    fn conditions_ranges_and_odd_targets_go_to_the_handler() {
        for raw in [
            "OPTIONS * HTTP/1.1\r\n\r\n",
            "OPTIONS /a HTTP/1.1\r\nOrigin: x\r\nAccess-Control-Request-Method: GET\r\n\r\n",
            "GET http://host/a HTTP/1.1\r\n\r\n",
            "GET /a?b=\"c\" HTTP/1.1\r\n\r\n",
            "GET /a HTTP/1.1\r\nRANGE: bytes=0-1\r\n\r\n",
            "GET /a HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n",
            "HEAD /a HTTP/1.1\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
        ] {
            assert!(!parse(raw).unwrap().hot, "{raw:?}");
        }
    }

    #[test]
    fn framing_and_protocol_changes_go_to_hyper() {
        for raw in [
            "POST /a HTTP/1.1\r\n\r\n",
            "get /a HTTP/1.1\r\n\r\n",
            "GET /a HTTP/1.0\r\n\r\n",
            "GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /a HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            "GET /a HTTP/1.1\r\nTE: trailers\r\n\r\n",
            "GET /a HTTP/1.1\r\nConnection: caf\u{e9}\r\n\r\n",
        ] {
            assert_eq!(parse(raw), None, "{raw:?}");
        }
    }
}
