//! Request handling: one request -> one response (routing, CORS preflight, access control, then the services).
//!
//! Order of checks for a HiPS file: method -> path safety ([`super::routing`]) -> CORS preflight -> access control
//! (before anything that depends on the file, so a restricted HiPS's answers never reveal what exists) -> order,
//! format and coverage checks (no storage access) -> cache/storage -> conditional, range and coding.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use super::cors::{cors, preflight};
use super::routing::{self, Route, RouteError};
use crate::catalog::auth::Decision;
use crate::catalog::Hips;
use crate::config::Access;
use crate::reply::{hv, text, Resp};
use crate::services::{progenitors, soda, tiles};
use crate::state::{State, X_REQUEST_ID};

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
                tiles::serve_object(req.headers(), &state.hipslist, "text/plain; charset=utf-8", "public, max-age=300")
                    .await;
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
            let r = match authorize(state, req.headers(), h) {
                Some(r) => r,
                None => tiles::hips_file(state, req.headers(), h, &file, id).await,
            };
            (r, file.kind(), restricted)
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
