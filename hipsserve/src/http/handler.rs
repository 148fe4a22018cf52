//! Request handling, the same for both connection paths: one request -> one [`Reply`] (routing, CORS preflight,
//! access control, then the services), and the request epilogue ([`finish`]: X-Request-Id and CORS headers, metrics,
//! access log) that every answer goes through, whichever path sends it.
//!
//! Order of checks for a HiPS file: method -> path safety ([`super::routing`]) -> CORS preflight -> access control
//! (before anything that depends on the file, so a restricted HiPS's answers never reveal what exists) -> order,
//! format and coverage checks (no storage access) -> cache/storage -> conditional, range and coding.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};

use super::cors::{cors_allow, preflight, CorsAllow, Methods};
use super::routing::{self, HipsFile, Route, RouteError};
use crate::catalog::hipslist;
use crate::catalog::Hips;
use crate::config::Access;
use crate::reply::{hv, Reply};
use crate::services::tiles::{self, Refusal};
use crate::services::{denied, hips2fits, progenitors, soda, vo};
use crate::state::{State, X_REQUEST_ID};

/// How far the connection loop got with a request before handing it to [`respond`].
#[derive(Debug)]
pub(crate) enum Routed {
    /// Not routed yet.
    No,
    /// Routed: the route, or why the path is refused.
    Route(Result<Route, RouteError>),
    /// A file of a public HiPS, routed and checked without storage ([`tiles::refusal`]).
    Checked {
        /// The HiPS.
        hips: Arc<Hips>,
        /// The file.
        file: HipsFile,
        /// Why it is refused without storage, if it is.
        refusal: Option<Refusal>,
    },
}

/// A request id: the client's X-Request-Id when it is short and plain, else `<start time hex>-<sequence>`
/// ([`State::request_id_into`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestId {
    buf: [u8; 64],
    len: usize,
}

impl RequestId {
    /// The id of a request that carried X-Request-Id `given` (the first one).
    pub(crate) fn new(state: &State, given: Option<&[u8]>) -> RequestId {
        let mut buf = [0u8; 64];
        let len = state.request_id_into(given, &mut buf);
        RequestId { buf, len }
    }

    /// The id's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The id as text (always ASCII).
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// What the epilogue needs of a request.
#[derive(Debug)]
pub(crate) struct Seen<'r> {
    /// When it arrived.
    pub start: Instant,
    /// Its method.
    pub method: &'r str,
    /// Its path.
    pub path: &'r str,
    /// Its first Origin header, when it is text.
    pub origin: Option<&'r str>,
    /// Its id.
    pub id: RequestId,
}

/// The per-request headers of an answer: X-Request-Id and the CORS decision.
#[derive(Debug)]
pub(crate) struct Extras<'r> {
    /// The request id.
    pub id: RequestId,
    /// The CORS headers to add.
    pub cors: CorsAllow<'r>,
}

impl Extras<'_> {
    /// Whether these headers can follow a pre-encoded head as extra lines: nothing of them has to be merged into a
    /// header the head already has (an echoed origin adds `Origin` to Vary).
    pub(crate) fn appendable(&self) -> bool {
        !matches!(self.cors, CorsAllow::Echo { .. })
    }

    /// Append them as header lines (see [`Extras::appendable`]).
    pub(crate) fn push_lines(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"x-request-id: ");
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(b"\r\n");
        super::cors::push_lines(out, self.cors);
    }

    /// Add them to a header map (Vary merged).
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        super::cors::apply(headers, self.cors);
        headers
            .insert(X_REQUEST_ID, HeaderValue::from_bytes(self.id.as_bytes()).unwrap_or(HeaderValue::from_static("0")));
    }
}

/// The request epilogue, on either path: the CORS decision for the answer, the metrics and the access log.
pub(crate) fn finish<'r>(
    state: &State,
    seen: Seen<'r>,
    status: StatusCode,
    label: &str,
    restricted: bool,
) -> Extras<'r> {
    let elapsed = seen.start.elapsed();
    let status = status.as_u16();
    state.metrics.record(label, status, elapsed);
    state.log_access(seen.id.as_str(), seen.method, seen.path, status, elapsed);
    Extras { id: seen.id, cors: cors_allow(&state.cfg, seen.origin, restricted) }
}

/// Handle one request from hyper (never fails: every error is an HTTP response): its reply and the per-request
/// headers to add to it.
pub(crate) async fn handle<'r, B>(state: &State, req: &'r Request<B>) -> (Reply, Extras<'r>) {
    let id = RequestId::new(state, req.headers().get(X_REQUEST_ID).map(HeaderValue::as_bytes));
    let seen = Seen {
        start: Instant::now(),
        method: req.method().as_str(),
        path: req.uri().path(),
        origin: req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        id,
    };
    let (reply, label, restricted) = respond(state, req, &id, Routed::No).await;
    let extras = finish(state, seen, reply.status(), label, restricted);
    (reply, extras)
}

/// Answer a request (as far as the connection loop `routed` it): the reply, its metrics label and whether it is
/// about a restricted HiPS (for CORS).
pub(crate) async fn respond<B>(
    state: &State,
    req: &Request<B>,
    id: &RequestId,
    routed: Routed,
) -> (Reply, &'static str, bool) {
    state.metrics.in_flight(1);
    let r = dispatch(state, req, id.as_str(), routed).await;
    state.metrics.in_flight(-1);
    r
}

async fn dispatch<B>(state: &State, req: &Request<B>, id: &str, routed: Routed) -> (Reply, &'static str, bool) {
    let text = Reply::text;
    let m = req.method();
    let form = req.extensions().get::<FormBody>();
    if m == Method::POST && form.is_none() && req.uri().path().starts_with("/vo/") {
        // The connection could not read the form within MAX_FORM_BYTES.
        return (text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"), "other", false);
    }
    let job_delete = m == Method::DELETE && req.uri().path().starts_with("/vo/soda/async/");
    if m != Method::GET
        && m != Method::HEAD
        && m != Method::OPTIONS
        && !(m == Method::POST && form.is_some())
        && !job_delete
    {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: this server only reads");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        return (r, "other", false);
    }
    // An HTTP/1.1 request names its host exactly once (RFC 9112 §3.2).
    if req.version() == http::Version::HTTP_11 && req.headers().get_all(header::HOST).iter().count() != 1 {
        return (
            text(StatusCode::BAD_REQUEST, "bad request: an HTTP/1.1 request needs one Host header"),
            "other",
            false,
        );
    }
    let body_len = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if form.is_none()
        && (body_len.is_some_and(|l| l > state.cfg.limits.max_body_bytes)
            || req.headers().contains_key(header::TRANSFER_ENCODING))
    {
        return (text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"), "other", false);
    }
    let route = match routed {
        Routed::No => routing::route(req.uri().path(), state.cfg.limits.max_path_bytes, |n| state.hips.contains_key(n)),
        Routed::Route(r) => r,
        Routed::Checked { hips, file, refusal } => {
            let r = match denied(state, req.headers(), &hips) {
                Some(r) => r,
                None => tiles::checked_file(state, req.headers(), &hips, &file, refusal, id).await,
            };
            return (r, file.kind(), hips.settings.access == Access::Restricted);
        }
    };
    let route = match route {
        Ok(r) => r,
        Err(RouteError::TooLong(_)) => {
            return (text(StatusCode::URI_TOO_LONG, "request path too long"), "other", false)
        }
        Err(RouteError::BadPath(why)) => {
            return (text(StatusCode::BAD_REQUEST, &format!("bad request: {why}")), "other", false);
        }
        Err(RouteError::NotFound) => return (text(StatusCode::NOT_FOUND, "not found"), "other", false),
    };
    if m == Method::OPTIONS {
        let restricted = match &route {
            Route::Hips { name, .. } | Route::HipsDirRedirect(name) | Route::Progenitors(name) | Route::Soda(name) => {
                state.hips.get(name).is_some_and(|h| h.settings.access == Access::Restricted)
            }
            _ => false,
        };
        let methods = match &route {
            Route::Vo(vo::Service::SodaAsync) => Methods::Jobs,
            Route::Vo(_) => Methods::Form,
            _ => Methods::Read,
        };
        return (preflight(&state.cfg, req.headers(), methods), "other", restricted);
    }
    let soda = matches!(route, Route::Soda(_));
    match route {
        Route::Health => (text(StatusCode::OK, "ok"), "health", false),
        Route::Ready => (ready(state).await, "ready", false),
        Route::Metrics => {
            let body = state.metrics.render(state.cache.weighted_size(), state.cache.uncached_bytes());
            let mut r = Reply::new(StatusCode::OK, body.into());
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            (r, "metrics", false)
        }
        Route::HipsList => (hipslist(state, req).await, "hipslist", false),
        Route::Hips2Fits => {
            let headers = req.headers();
            (hips2fits::answer(state, req.uri().query(), |h| denied(state, headers, h)).await, "other", false)
        }
        Route::Root => (text(StatusCode::OK, "hipsserve HiPS node: the list of HiPS is at /hipslist"), "other", false),
        Route::HipsDirRedirect(name) => {
            let restricted = state.hips.get(&name).is_some_and(|h| h.settings.access == Access::Restricted);
            let mut r = text(StatusCode::MOVED_PERMANENTLY, "moved");
            r.headers_mut().insert(header::LOCATION, hv(&format!("/{name}/")));
            (r, "other", restricted)
        }
        Route::Vo(service) => {
            let base = base_url(state, req);
            let body = form.map(|f| &f.0[..]);
            let (headers, query) = (req.headers(), req.uri().query());
            let r = if service == vo::Service::SodaAsync {
                vo::uws::answer(state, m, req.uri().path(), headers, &base, query, body, id).await
            } else {
                vo::answer(state, service, headers, &base, query, body, id).await
            };
            (r, service.label(), false)
        }
        Route::Progenitors(name) | Route::Soda(name) => {
            let Some(h) = state.hips.get(&name) else {
                return (text(StatusCode::NOT_FOUND, "not found"), "other", false);
            };
            let restricted = h.settings.access == Access::Restricted;
            let r = match denied(state, req.headers(), h) {
                Some(r) => r,
                None if soda => soda::answer(state, h, req.uri().query(), id).await,
                None => progenitors::answer(state, h, req.uri().query(), &base_url(state, req), id).await,
            };
            (r, if soda { "soda" } else { "progenitors" }, restricted)
        }
        Route::Hips { name, file } => {
            let Some(h) = state.hips.get(&name) else {
                return (text(StatusCode::NOT_FOUND, "not found"), "other", false);
            };
            let restricted = h.settings.access == Access::Restricted;
            let r = match denied(state, req.headers(), h) {
                Some(r) => r,
                None => tiles::hips_file(state, req.headers(), h, &file, id).await,
            };
            (r, file.kind(), restricted)
        }
    }
}

/// The base URL links in answers start with: `public_url`, else where the request was sent
/// ([`hipslist::request_base`]), else `http://localhost`.
fn base_url<B>(state: &State, req: &Request<B>) -> String {
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let authority = req.uri().authority().map(http::uri::Authority::as_str);
    let base = state
        .cfg
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string())
        .or_else(|| hipslist::request_base(req.headers(), authority, peer, &state.cfg.trusted_proxies));
    base.unwrap_or_else(|| "http://localhost".into())
}

/// The form body of a POST to `/vo/` (read by the connection before the request is handled).
#[derive(Debug, Clone)]
pub(crate) struct FormBody(pub bytes::Bytes);

/// The largest form body a POST to `/vo/` may carry.
pub(crate) const MAX_FORM_BYTES: usize = 1 << 20;

/// The connecting peer's address, put in a request's extensions when `trusted_proxies` is set (only then is it
/// needed: to believe forwarded headers).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub std::net::SocketAddr);

/// `/hipslist`: the prebuilt document with `public_url`, else the template filled with the request's base URL.
async fn hipslist<B>(state: &State, req: &Request<B>) -> Reply {
    let (ct, cc) = ("text/plain; charset=utf-8", "public, max-age=300");
    let Some(template) = &state.hipslist_template else {
        return tiles::serve_object(req.headers(), &state.hipslist, ct, cc).await;
    };
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let authority = req.uri().authority().map(http::uri::Authority::as_str);
    let base = hipslist::request_base(req.headers(), authority, peer, &state.cfg.trusted_proxies);
    let body = hipslist::for_base(template, base.as_deref());
    let obj = Arc::new(crate::store::Object::new(body.into(), state.hipslist.modified));
    let mut r = tiles::serve_object(req.headers(), &obj, ct, cc).await;
    let vary = if state.cfg.trusted_proxies.is_empty() {
        "Host, Accept-Encoding"
    } else {
        "Host, X-Forwarded-Host, X-Forwarded-Proto, Accept-Encoding"
    };
    r.headers_mut().insert(header::VARY, HeaderValue::from_static(vary));
    r
}

async fn ready(state: &State) -> Reply {
    let timeout = Duration::from_millis(state.cfg.limits.storage_timeout_ms);
    for (i, root) in state.roots.iter().enumerate() {
        let probe = state
            .hips
            .values()
            .find(|h| h.root_idx == i)
            .map_or_else(|| "properties".to_string(), |h| h.key("properties"));
        if !root.reachable(&probe, timeout).await {
            let mut r = Reply::text(StatusCode::SERVICE_UNAVAILABLE, &format!("storage root {i} unreachable"));
            r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
            return r;
        }
    }
    Reply::text(StatusCode::OK, "ready")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::reply::push_ready_head;

    /// A whole-object head with these per-request lines, as the connection loop writes it.
    fn response_head(out: &mut Vec<u8>, wire: &[u8], id: &[u8], cors: CorsAllow<'_>, close: bool) {
        let mut buf = [0u8; 64];
        buf[..id.len()].copy_from_slice(id);
        let extras = Extras { id: RequestId { buf, len: id.len() }, cors };
        push_ready_head(out, wire, |o| extras.push_lines(o), close);
    }

    #[test]
    fn heads_end_with_the_per_request_lines() {
        let mut out = Vec::new();
        let wire = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n";
        response_head(&mut out, wire, b"id-1", CorsAllow::Echo { origin: "https://p", credentials: false }, true);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ndate: "), "{text}");
        assert!(text.ends_with(
            "\r\nx-request-id: id-1\r\naccess-control-allow-origin: https://p\r\nvary: Origin\r\n\
             access-control-expose-headers: ETag, Content-Range, Content-Length, Accept-Ranges, Last-Modified, \
             Content-Encoding, X-Request-Id\r\nconnection: close\r\n\r\n"
        ));
        let date = text.lines().find_map(|l| l.strip_prefix("date: ")).unwrap();
        assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
        response_head(&mut out, wire, b"id-2", CorsAllow::No, false);
        assert!(String::from_utf8(out).unwrap().ends_with("\r\nx-request-id: id-2\r\n\r\n"));
    }
}
