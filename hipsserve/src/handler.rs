//! Request handling: the shared server state and the function turning one request into one response.
//!
//! Order of checks for a HiPS file: method -> path safety ([`crate::routing`]) -> CORS preflight -> access control
//! (before anything that depends on the file, so a restricted HiPS's answers never reveal what exists) -> order,
//! format and coverage checks (no storage access) -> cache/storage -> conditional, range and coding.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::auth::{Auth, Decision};
use crate::catalog::{self, Hips};
use crate::config::{Access, Config};
use crate::cors::{cors, preflight};
use crate::httputil::{self, Coding, RangeReq};
use crate::metrics::Metrics;
use crate::ondemand;
use crate::progenitors;
use crate::routing::{self, HipsFile, Route, RouteError};
use crate::soda;
use crate::store::{Object, ObjectCache, OkHeaders, Root, StoreError};
use crate::zerocopy::{self, ZeroCopy};

/// The response type of every handler.
pub type Resp = Response<Full<Bytes>>;

/// Everything a request handler needs, shared by all connections.
pub struct State {
    /// The resolved configuration.
    pub cfg: Config,
    /// Storage roots, by index.
    pub roots: Vec<Root>,
    /// Served HiPS by name.
    pub hips: HashMap<String, Arc<Hips>>,
    /// The object cache.
    pub cache: ObjectCache,
    /// Access control.
    pub auth: Auth,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The `/hipslist` document.
    pub hipslist: Arc<Object>,
    /// Connection permits (`limits.max_connections`), shared by all accepting workers.
    pub connection_permits: Arc<tokio::sync::Semaphore>,
    /// Permits for on-demand tile renders (`on_demand.max_concurrent`).
    pub render_permits: Arc<tokio::sync::Semaphore>,
    request_seq: AtomicU64,
    /// `<start time hex>-`, the prefix of generated request ids.
    request_prefix: String,
    /// Identifies this state's blocks of request ids in [`ID_BLOCK`].
    id_owner: u64,
}

/// Request ids a thread takes from the shared sequence at once.
const ID_BLOCK_LEN: u64 = 1024;

static NEXT_ID_OWNER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's block of request ids: (owning state, next, end).
    static ID_BLOCK: std::cell::Cell<(u64, u64, u64)> = const { std::cell::Cell::new((0, 0, 0)) };
}

impl State {
    /// Assemble the state from discovered HiPS.
    #[must_use]
    pub fn new(cfg: Config, roots: Vec<Root>, hips: Vec<Hips>, auth: Auth, metrics: Arc<Metrics>) -> State {
        let node_did = cfg.public_url.as_deref().map_or_else(
            || "ivo://hipsserve".to_string(),
            |u| format!("ivo://{}", u.split("://").nth(1).unwrap_or(u).trim_end_matches('/')),
        );
        let list = catalog::hipslist(&hips, cfg.public_url.as_deref(), &node_did);
        let hipslist = Arc::new(Object::new(Bytes::from(list), Some(SystemTime::now())));
        let cache = ObjectCache::new(
            cfg.cache.max_bytes,
            cfg.cache.max_object_bytes,
            cfg.limits.max_uncached_bytes,
            Duration::from_secs(cfg.cache.ttl_secs),
            Duration::from_millis(cfg.limits.storage_timeout_ms),
            metrics.clone(),
        );
        let connection_permits = Arc::new(tokio::sync::Semaphore::new(cfg.limits.max_connections));
        let renders = match cfg.on_demand.max_concurrent {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        };
        let render_permits = Arc::new(tokio::sync::Semaphore::new(renders));
        let request_base = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        State {
            cfg,
            roots,
            hips: hips.into_iter().map(|h| (h.name.clone(), Arc::new(h))).collect(),
            cache,
            auth,
            metrics,
            hipslist,
            connection_permits,
            render_permits,
            request_seq: AtomicU64::new(0),
            request_prefix: format!("{request_base:x}-"),
            id_owner: NEXT_ID_OWNER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Identifies this state among others in the process (per-thread caches are keyed by it).
    pub(crate) fn id(&self) -> u64 {
        self.id_owner
    }

    /// The client's X-Request-Id when it is short and plain, else `<start time hex>-<sequence>`.
    fn request_id(&self, headers: &HeaderMap) -> HeaderValue {
        let given = headers.get(X_REQUEST_ID).map(HeaderValue::as_bytes);
        let mut buf = [0u8; 64];
        let n = self.request_id_into(given, &mut buf);
        HeaderValue::from_bytes(&buf[..n]).unwrap_or_else(|_| HeaderValue::from_static("0"))
    }

    /// Write the request id into `buf` and return its length: the client's `given` X-Request-Id when it is 1 to 64
    /// bytes of `[A-Za-z0-9_-]`, else `<start time hex>-<sequence>` (formatted on the stack, no allocation).
    pub(crate) fn request_id_into(&self, given: Option<&[u8]>, buf: &mut [u8; 64]) -> usize {
        if let Some(b) = given {
            if !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
            {
                buf[..b.len()].copy_from_slice(b);
                return b.len();
            }
        }
        // Sequence numbers are taken from the shared counter in blocks per thread (unique, no shared cache line per
        // request); the prefix is formatted once.
        let seq = ID_BLOCK.with(|b| {
            let (owner, next, end) = b.get();
            let (next, end) = if owner == self.id_owner && next < end {
                (next, end)
            } else {
                let start = self.request_seq.fetch_add(ID_BLOCK_LEN, Ordering::Relaxed);
                (start, start + ID_BLOCK_LEN)
            };
            b.set((self.id_owner, next + 1, end));
            next
        });
        let (p, mut digits) = (self.request_prefix.as_bytes(), itoa::Buffer::new());
        let d = digits.format(seq).as_bytes();
        let n = p.len() + d.len();
        buf[..p.len()].copy_from_slice(p);
        buf[p.len()..n].copy_from_slice(d);
        n
    }

    /// The access-log line of one request (when `log.access_log` is on).
    pub(crate) fn log_access(&self, id: &str, method: &str, path: &str, status: u16, elapsed: Duration) {
        if self.cfg.log.access_log {
            tracing::info!(target: "hipsserve::access", request_id = %id, method = %method, path = %path, status,
                micros = elapsed.as_micros() as u64, "request");
        }
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub(crate) fn text(status: StatusCode, msg: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(format!("{msg}\n"))));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(crate) fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Handle one request (never fails: every error is an HTTP response).
pub async fn handle<B>(state: Arc<State>, req: Request<B>) -> Resp {
    let start = Instant::now();
    state.metrics.in_flight(1);
    let id_value = state.request_id(req.headers());
    let id = id_value.to_str().unwrap_or("");
    let (mut resp, route_label, restricted) = dispatch(&state, &req, id).await;
    if req.method() == Method::HEAD {
        // Keep the GET headers (Content-Length included) but send no body.
        let len = resp.headers().get(header::CONTENT_LENGTH).cloned();
        *resp.body_mut() = Full::new(Bytes::new());
        if let Some(l) = len {
            resp.headers_mut().insert(header::CONTENT_LENGTH, l);
        }
    }
    cors(&state.cfg, req.headers(), resp.headers_mut(), restricted);
    resp.headers_mut().insert(X_REQUEST_ID, id_value.clone());
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    state.metrics.record(route_label, status, elapsed);
    state.metrics.in_flight(-1);
    state.log_access(id, req.method().as_str(), req.uri().path(), status, elapsed);
    resp
}

async fn dispatch<B>(state: &State, req: &Request<B>, id: &str) -> (Resp, &'static str, bool) {
    let m = req.method();
    if m != Method::GET && m != Method::HEAD && m != Method::OPTIONS {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: this server only reads");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        return (r, "other", false);
    }
    let body_len = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if body_len.is_some_and(|l| l > state.cfg.limits.max_body_bytes)
        || req.headers().contains_key(header::TRANSFER_ENCODING)
    {
        return (text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"), "other", false);
    }
    let route = match routing::route(req.uri().path(), state.cfg.limits.max_path_bytes, |n| state.hips.contains_key(n))
    {
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
        return (preflight(&state.cfg, req.headers()), "other", restricted);
    }
    let soda = matches!(route, Route::Soda(_));
    match route {
        Route::Health => (text(StatusCode::OK, "ok"), "health", false),
        Route::Ready => (ready(state).await, "ready", false),
        Route::Metrics => {
            let mut r = Response::new(Full::new(Bytes::from(
                state.metrics.render(state.cache.weighted_size(), state.cache.uncached_bytes()),
            )));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            (r, "metrics", false)
        }
        Route::HipsList => {
            let r =
                serve_object(req.headers(), &state.hipslist, "text/plain; charset=utf-8", "public, max-age=300").await;
            (r, "hipslist", false)
        }
        Route::Root => (text(StatusCode::OK, "hipsserve HiPS node: the list of HiPS is at /hipslist"), "other", false),
        Route::HipsDirRedirect(name) => {
            let restricted = state.hips.get(&name).is_some_and(|h| h.settings.access == Access::Restricted);
            let mut r = text(StatusCode::MOVED_PERMANENTLY, "moved");
            r.headers_mut().insert(header::LOCATION, hv(&format!("/{name}/")));
            (r, "other", restricted)
        }
        Route::Progenitors(name) | Route::Soda(name) => {
            let Some(h) = state.hips.get(&name) else {
                return (text(StatusCode::NOT_FOUND, "not found"), "other", false);
            };
            let restricted = h.settings.access == Access::Restricted;
            let r = match authorize(state, req.headers(), h) {
                Some(r) => r,
                None if soda => soda::answer(state, h, req.uri().query(), id).await,
                None => progenitors::answer(state, h, req.uri().query(), id).await,
            };
            (r, if soda { "soda" } else { "progenitors" }, restricted)
        }
        Route::Hips { name, file } => {
            let Some(h) = state.hips.get(&name) else {
                return (text(StatusCode::NOT_FOUND, "not found"), "other", false);
            };
            let restricted = h.settings.access == Access::Restricted;
            (hips_file(state, req.headers(), h, &file, id).await, file.kind(), restricted)
        }
    }
}

async fn ready(state: &State) -> Resp {
    let timeout = Duration::from_millis(state.cfg.limits.storage_timeout_ms);
    for (i, root) in state.roots.iter().enumerate() {
        let probe = state
            .hips
            .values()
            .find(|h| h.root_idx == i)
            .map_or_else(|| "properties".to_string(), |h| h.key("properties"));
        if !root.reachable(&probe, timeout).await {
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, &format!("storage root {} unreachable", i));
            r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
            return r;
        }
    }
    text(StatusCode::OK, "ready")
}

/// Why a HiPS file is refused (404) without reading storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A tile or Allsky of an order above `hips_order`.
    OrderAbove,
    /// A tile format not listed in `hips_tile_format`.
    Format,
    /// A tile outside the HiPS's MOC.
    OutsideCoverage,
    /// An Allsky of an order or format the HiPS does not have.
    Allsky,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::OrderAbove => "not found: tile order above hips_order",
            Refusal::Format => "not found: tile format not in hips_tile_format",
            Refusal::OutsideCoverage => "not found: tile outside the HiPS coverage (MOC)",
            Refusal::Allsky => "not found",
        }
    }
}

/// The order, format and coverage checks of a HiPS file (no storage access).
pub(crate) fn refusal(h: &Hips, file: &HipsFile) -> Option<Refusal> {
    let tile_fmt_ok = |ext: &str| h.formats.is_empty() || h.formats.iter().any(|f| f == ext);
    match file {
        HipsFile::Tile { order, ipix, ext } => {
            if h.max_order.is_some_and(|m| *order > m) && !ondemand::applies(h, *order, ext) {
                Some(Refusal::OrderAbove)
            } else if !tile_fmt_ok(ext) {
                Some(Refusal::Format)
            } else if !h.covers(*order, *ipix) {
                Some(Refusal::OutsideCoverage)
            } else {
                None
            }
        }
        HipsFile::Allsky { order, ext } if h.max_order.is_some_and(|m| *order > m) || !tile_fmt_ok(ext) => {
            Some(Refusal::Allsky)
        }
        _ => None,
    }
}

/// The 401/403 answer when the request may not read HiPS `h` (`None`: allowed).
pub(crate) fn authorize(state: &State, headers: &HeaderMap, h: &Hips) -> Option<Resp> {
    match state.auth.check(&h.settings, headers) {
        Decision::Allow => None,
        Decision::Unauthenticated { invalid } => {
            let mut r = text(StatusCode::UNAUTHORIZED, "authentication required");
            let realm = state.auth.realm();
            let chal = if invalid {
                format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")
            } else {
                format!("Bearer realm=\"{realm}\"")
            };
            r.headers_mut().insert(header::WWW_AUTHENTICATE, hv(&chal));
            Some(r)
        }
        Decision::Forbidden => Some(text(StatusCode::FORBIDDEN, "forbidden")),
    }
}

/// The 502/503 (with Retry-After) answer to a storage error reading `key` of `h`, logged with the request id.
pub(crate) fn storage_failure(state: &State, id: &str, h: &Hips, key: &str, e: &StoreError) -> Resp {
    tracing::warn!(request_id = %id, hips = %h.name, key = %key, error = %e, "storage error");
    let (status, msg) = match e {
        StoreError::Timeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, "storage timed out, retry later"),
        StoreError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "tile renderers busy, retry later"),
        StoreError::Render { .. } => (StatusCode::BAD_GATEWAY, "cannot render this tile from its coadds"),
        // Retrying will not help: no Retry-After.
        StoreError::TooLarge { .. } => return text(StatusCode::BAD_GATEWAY, "object too large to serve"),
        _ => (StatusCode::BAD_GATEWAY, "storage error, retry later"),
    };
    let mut r = text(status, msg);
    r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
    r
}

async fn hips_file(state: &State, headers: &HeaderMap, h: &Hips, file: &HipsFile, id: &str) -> Resp {
    if let Some(r) = authorize(state, headers, h) {
        return r;
    }
    if let Some(r) = refusal(h, file) {
        let mut resp = text(StatusCode::NOT_FOUND, r.message());
        if r == Refusal::OutsideCoverage && h.settings.access == Access::Public {
            // Coverage may grow in a later release: cache the refusal briefly only.
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=600"));
        }
        return resp;
    }
    let key = file.key_in(&h.dir);
    let ct = httputil::content_type(&key);
    let root = &state.roots[h.root_idx];
    let got = match file {
        HipsFile::Tile { order, ipix, ext } if ondemand::applies(h, *order, ext) => {
            ondemand::tile(state, h, *order, *ipix).await
        }
        HipsFile::Properties if h.settings.on_demand_orders > 0 => {
            // Advertise the on-demand orders: hips_order raised by on_demand_orders (own cache key: a NUL never
            // comes from a request path).
            let deepest = h.max_order.map(|k| k.saturating_add(h.settings.on_demand_orders));
            let timeout = Duration::from_millis(state.cfg.limits.storage_timeout_ms);
            state
                .cache
                .get_with(h.root_idx, format!("{key}\0on-demand"), |_| async move {
                    let r = root.read(&key, timeout).await?;
                    Ok(r.map(|(b, m)| (Bytes::from(catalog::with_hips_order(&b, deepest)), m)))
                })
                .await
        }
        _ => state.cache.get(h.root_idx, root, key).await,
    };
    match got {
        Ok(Some(obj)) => serve_object(headers, &obj, ct, &h.settings.cache_control).await,
        Ok(None) => text(StatusCode::NOT_FOUND, "not found"),
        Err(e) => storage_failure(state, id, h, &file.key_in(&h.dir), &e),
    }
}

async fn coded(obj: &Arc<Object>, coding: Coding) -> Option<Bytes> {
    let cell = match coding {
        Coding::Identity => return None,
        Coding::Gzip => &obj.gzip,
        Coding::Brotli => &obj.brotli,
    };
    cell.get_or_init(|| async {
        if obj.body.len() < 1024 {
            return None;
        }
        let data = obj.body.clone();
        if data.len() < 64 * 1024 {
            return httputil::compress(&data, coding);
        }
        tokio::task::spawn_blocking(move || httputil::compress(&data, coding)).await.ok().flatten()
    })
    .await
    .clone()
}

/// Headers of the full 200 identity response of `obj`: Cache-Control, Last-Modified, Vary (compressible types),
/// Content-Type, Accept-Ranges, ETag, Content-Length, and an X-Request-Id placeholder replaced per request (in place:
/// a cloned map then never grows).
fn ok_header_map(obj: &Object, ct: &'static str, cache_control: &str) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(12);
    h.insert(header::CACHE_CONTROL, hv(cache_control));
    if let Some(m) = &obj.modified_header {
        h.insert(header::LAST_MODIFIED, m.clone());
    }
    if httputil::compressible(ct) {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, obj.etag_header.clone());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(obj.body.len() as u64));
    h.insert(X_REQUEST_ID, HeaderValue::from_static("-"));
    h
}

/// The prebuilt headers of `obj`'s 200 identity response, built on first use; `None` when they were built for
/// another (content type, cache control) pair.
pub(crate) fn ok_headers<'o>(obj: &'o Object, ct: &'static str, cache_control: &str) -> Option<&'o OkHeaders> {
    let pre = obj.ok_headers.get_or_init(|| OkHeaders::new(ct, cache_control, ok_header_map(obj, ct, cache_control)));
    (pre.content_type == ct && pre.cache_control == cache_control).then_some(pre)
}

/// The full 200 identity response of `obj`: its prebuilt headers cloned, its body shared, and its sealed copy stashed
/// for zero-copy sending ([`zerocopy::stash`]).
fn ok_identity(obj: &Arc<Object>, ct: &'static str, cache_control: &str) -> Resp {
    let mut r = Response::new(Full::new(obj.body.clone()));
    *r.headers_mut() = match ok_headers(obj, ct, cache_control) {
        Some(pre) => pre.headers.clone(),
        None => ok_header_map(obj, ct, cache_control),
    };
    if let Some(file) = &obj.sealed {
        zerocopy::stash(ZeroCopy { body: obj.body.clone(), file: file.clone() });
    }
    r
}

/// Serve a whole object with validators, conditional requests, ranges and content coding.
pub async fn serve_object(headers: &HeaderMap, obj: &Arc<Object>, ct: &'static str, cache_control: &str) -> Resp {
    let comp = httputil::compressible(ct);
    let plain = !comp
        && !headers.contains_key(header::RANGE)
        && !headers.contains_key(header::IF_NONE_MATCH)
        && !headers.contains_key(header::IF_MODIFIED_SINCE);
    if plain {
        return ok_identity(obj, ct, cache_control);
    }
    let mut base = HeaderMap::new();
    base.insert(header::CACHE_CONTROL, hv(cache_control));
    if let Some(m) = &obj.modified_header {
        base.insert(header::LAST_MODIFIED, m.clone());
    }
    if comp {
        base.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if httputil::not_modified(headers, &obj.etag, obj.modified) {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        *r.headers_mut() = base;
        r.headers_mut().insert(header::ETAG, obj.etag_header.clone());
        return r;
    }
    base.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let len = obj.body.len() as u64;
    if let Some(rv) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        if httputil::if_range_ok(headers, &obj.etag, obj.modified) {
            match httputil::parse_range(rv, len) {
                RangeReq::Full => {}
                RangeReq::Unsatisfiable => {
                    let mut r = Response::new(Full::new(Bytes::new()));
                    *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                    *r.headers_mut() = base;
                    r.headers_mut().insert(header::CONTENT_RANGE, hv(&format!("bytes */{len}")));
                    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
                    return r;
                }
                RangeReq::Partial(a, b) => {
                    let body = obj.body.slice(a as usize..b as usize);
                    let mut r = Response::new(Full::new(body));
                    if let Some(file) = &obj.sealed {
                        zerocopy::stash(ZeroCopy { body: obj.body.clone(), file: file.clone() });
                    }
                    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                    *r.headers_mut() = base;
                    r.headers_mut().insert(header::ETAG, obj.etag_header.clone());
                    r.headers_mut().insert(header::CONTENT_RANGE, hv(&format!("bytes {a}-{}/{len}", b - 1)));
                    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(b - a));
                    return r;
                }
            }
        }
    }
    let coding = if comp { httputil::negotiate(headers) } else { Coding::Identity };
    let (body, etag, enc) = match coded(obj, coding).await {
        Some(b) => {
            let (suffix, enc) = if coding == Coding::Brotli { ("br", "br") } else { ("gz", "gzip") };
            (b, format!("\"{}-{suffix}\"", obj.etag.trim_matches('"')), Some(enc))
        }
        None => return ok_identity(obj, ct, cache_control),
    };
    let blen = body.len() as u64;
    let mut r = Response::new(Full::new(body));
    *r.headers_mut() = base;
    let h = r.headers_mut();
    h.insert(header::ETAG, if etag.is_empty() { obj.etag_header.clone() } else { hv(&etag) });
    if let Some(e) = enc {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(blen));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_request_ids_are_unique_across_threads() {
        let cfg = Config::default();
        let auth = Auth::new(&cfg.auth, |_| None).expect("default auth");
        let st = State::new(cfg, Vec::new(), Vec::new(), auth, Arc::new(Metrics::default()));
        let none = HeaderMap::new();
        let ids: Vec<String> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    sc.spawn(|| {
                        (0..2500).map(|_| st.request_id(&none).to_str().expect("ascii").to_string()).collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().expect("thread")).collect()
        });
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.iter().all(|i| i.starts_with(&st.request_prefix) && i.len() > st.request_prefix.len()));
        assert!(ids.iter().any(|i| i.ends_with("-0")));
        let mut given = HeaderMap::new();
        given.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(st.request_id(&given), "abc-123");
    }
}
