//! The stored files of a HiPS (tiles, Allsky, properties, MOC, HpxFinder...): the order, format and coverage checks
//! made without storage, reads through the object cache (or on-demand renders), and whole-object answers with
//! validators, conditional requests, ranges and content coding.
//!
//! Text files that may name server paths (properties, progenitor index files, pages and metadata) are served
//! rewritten ([`public_text`]: coadds by identifier, no server path) and cached under their own key
//! ([`served_key`]), which the connection loop's hot path uses too.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

use super::conditional::{self, Coding, RangeReq};
use super::failure::storage_failure;
use super::ondemand;
use crate::catalog::layout::HipsFile;
use crate::catalog::Hips;
use crate::config::Access;
use crate::reply::{self, hv, Reply};
use crate::state::{State, X_REQUEST_ID};
use crate::store::{Object, OkHeaders};

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
    /// The text of the 404 answer.
    pub(crate) fn message(self) -> &'static str {
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
        HipsFile::Tile { order, npix, ext } => {
            if h.stored_order.is_some_and(|m| *order > m) && !ondemand::applies(h, *order, ext) {
                Some(Refusal::OrderAbove)
            } else if !tile_fmt_ok(ext) {
                Some(Refusal::Format)
            } else if !h.covers(*order, *npix) {
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

/// Answer a request for a file of HiPS `h` (access already checked): 404 for what the HiPS does not have (without
/// reading storage when [`refusal`] says so), the object through the cache (or rendered on demand) otherwise.
pub async fn hips_file(state: &State, headers: &HeaderMap, h: &Hips, file: &HipsFile, id: &str) -> Reply {
    checked_file(state, headers, h, file, refusal(h, file), id).await
}

/// [`hips_file`] with the order, format and coverage checks already made: `refused` is what [`refusal`] said.
pub(crate) async fn checked_file(
    state: &State,
    headers: &HeaderMap,
    h: &Hips,
    file: &HipsFile,
    refused: Option<Refusal>,
    id: &str,
) -> Reply {
    if let Some(r) = refused {
        let mut resp = Reply::text(StatusCode::NOT_FOUND, r.message());
        if r == Refusal::OutsideCoverage && h.settings.access == Access::Public {
            // Coverage may grow in a later release: cache the refusal briefly only.
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=600"));
        }
        return resp;
    }
    let key = file.key_in(&h.dir);
    let ct = conditional::content_type(&key);
    if let Some(resp) = release_not_modified(headers, h, file, &key, ct) {
        return resp;
    }
    let root = &state.roots[h.root_idx];
    let got = match file {
        HipsFile::Tile { order, npix, ext } if ondemand::applies(h, *order, ext) => {
            ondemand::tile(state, h, *order, *npix, ext).await
        }
        HipsFile::Tile { order, npix, ext } if ondemand::can_render(h, ext) => {
            // A tile missing from storage inside the coverage (a lost object) is rendered as hipsgen made it.
            match state.cache.get(h.root_idx, root, key).await {
                Ok(None) => ondemand::tile(state, h, *order, *npix, ext).await,
                other => other,
            }
        }
        f if rewritten(f) => {
            let timeout = Duration::from_millis(state.cfg.limits.storage_timeout_ms);
            state
                .cache
                .get_with(h.root_idx, served_key(h, f), |_| async move {
                    let r = root.read(&key, timeout).await?;
                    Ok(r.map(|(b, m)| (Bytes::from(public_text(state, h, f, &b)), m)))
                })
                .await
        }
        // A release's file: the manifest says whether it exists and gives its ETag (the body is not hashed).
        _ => match &h.release {
            Some(m) => match m.etag(&key) {
                Some(etag) => state.cache.get_tagged(h.root_idx, root, key, Some(etag)).await,
                None => Ok(None),
            },
            None => state.cache.get(h.root_idx, root, key).await,
        },
    };
    match got {
        Ok(Some(obj)) => serve_object(headers, &obj, ct, &h.settings.cache_control).await,
        Ok(None) => Reply::text(StatusCode::NOT_FOUND, "not found"),
        Err(e) => storage_failure(state, id, h, &file.key_in(&h.dir), &e),
    }
}

/// A release's file whose manifest ETag the client already has (If-None-Match): 304 without reading storage.
fn release_not_modified(headers: &HeaderMap, h: &Hips, file: &HipsFile, key: &str, ct: &str) -> Option<Reply> {
    let inm = headers.get(header::IF_NONE_MATCH)?;
    if rewritten(file) || headers.contains_key(header::IF_MATCH) {
        return None;
    }
    let etag = h.release.as_ref()?.etag(key)?;
    let matches = inm.to_str().is_ok_and(|l| conditional::etag_list_matches(l, &etag));
    matches.then(|| {
        let mut base = HeaderMap::new();
        base.insert(header::CACHE_CONTROL, hv(&h.settings.cache_control));
        base.insert(header::ETAG, hv(&etag));
        if conditional::compressible(ct) {
            base.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
        Reply::with_headers(StatusCode::NOT_MODIFIED, base, Bytes::new())
    })
}

/// Whether `file` is served rewritten ([`public_text`]): the text files that may name server paths.
pub(crate) fn rewritten(file: &HipsFile) -> bool {
    match file {
        HipsFile::Properties | HipsFile::IndexHtml => true,
        HipsFile::HpxFinder(f) | HipsFile::Meta(f) => {
            let ext = f.rsplit_once('.').map_or("", |(_, e)| e);
            ext.is_empty() || ["html", "xml", "json", "txt"].contains(&ext)
        }
        _ => false,
    }
}

/// The object-cache key of `file` as served: its storage key, with `\0public` appended when it is served rewritten
/// (a NUL never comes from a request path).
pub(crate) fn served_key(h: &Hips, file: &HipsFile) -> String {
    let key = file.key_in(&h.dir);
    if rewritten(file) {
        key + "\0public"
    } else {
        key
    }
}

/// A text file of `h` as served: progenitor index tiles with coadds named by identifier, properties with
/// `hips_order` raised by `on_demand_orders` (so clients zoom into the on-demand orders), and no server path in any.
fn public_text(state: &State, h: &Hips, file: &HipsFile, body: &[u8]) -> Vec<u8> {
    match file {
        HipsFile::HpxFinder(f) if f.starts_with("Norder") => state.public.index_file(&h.did, body),
        _ => {
            let body = match file {
                HipsFile::Properties if h.deepest() != h.max_order => {
                    crate::catalog::with_hips_order(body, h.deepest())
                }
                _ => body.to_vec(),
            };
            match std::str::from_utf8(&body) {
                Ok(text) => state.public.scrub(text).into_owned().into_bytes(),
                Err(_) => body,
            }
        }
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
            return conditional::compress(&data, coding);
        }
        crate::store::blocking::spawn(move || conditional::compress(&data, coding)).await.ok().flatten()
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
    if conditional::compressible(ct) {
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
    let pre = obj.ok_headers.get_or_init(|| {
        let headers = ok_header_map(obj, ct, cache_control);
        OkHeaders::new(ct, cache_control, reply::ok_wire(&headers), headers)
    });
    (pre.content_type == ct && pre.cache_control == cache_control).then_some(pre)
}

/// The full 200 identity answer of `obj`, with its prebuilt head ([`ok_headers`]).
fn ok_identity(obj: &Arc<Object>, ct: &'static str, cache_control: &str) -> Reply {
    let prebuilt = ok_headers(obj, ct, cache_control).is_some();
    Reply::object(obj.clone(), prebuilt, || ok_header_map(obj, ct, cache_control))
}

/// Serve a whole object with validators, conditional requests, ranges and content coding.
pub async fn serve_object(headers: &HeaderMap, obj: &Arc<Object>, ct: &'static str, cache_control: &str) -> Reply {
    let comp = conditional::compressible(ct);
    let plain = !comp
        && !headers.contains_key(header::RANGE)
        && !headers.contains_key(header::IF_NONE_MATCH)
        && !headers.contains_key(header::IF_MODIFIED_SINCE)
        && !headers.contains_key(header::IF_MATCH)
        && !headers.contains_key(header::IF_UNMODIFIED_SINCE);
    if plain {
        return ok_identity(obj, ct, cache_control);
    }
    if conditional::precondition_failed(headers, &obj.etag, obj.modified) {
        return Reply::new(StatusCode::PRECONDITION_FAILED, Bytes::new());
    }
    let mut base = HeaderMap::new();
    base.insert(header::CACHE_CONTROL, hv(cache_control));
    if let Some(m) = &obj.modified_header {
        base.insert(header::LAST_MODIFIED, m.clone());
    }
    if comp {
        base.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if conditional::not_modified(headers, &obj.etag, obj.modified) {
        base.insert(header::ETAG, obj.etag_header.clone());
        return Reply::with_headers(StatusCode::NOT_MODIFIED, base, Bytes::new());
    }
    base.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let len = obj.body.len() as u64;
    if let Some(rv) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        if conditional::if_range_ok(headers, &obj.etag, obj.modified) {
            match conditional::parse_range(rv, len) {
                RangeReq::Full => {}
                RangeReq::Unsatisfiable => {
                    base.insert(header::CONTENT_RANGE, hv(&format!("bytes */{len}")));
                    base.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
                    return Reply::with_headers(StatusCode::RANGE_NOT_SATISFIABLE, base, Bytes::new());
                }
                RangeReq::Partial(a, b) => {
                    base.insert(header::ETAG, obj.etag_header.clone());
                    base.insert(header::CONTENT_RANGE, hv(&format!("bytes {a}-{}/{len}", b - 1)));
                    base.insert(header::CONTENT_LENGTH, HeaderValue::from(b - a));
                    let body = obj.body.slice(a as usize..b as usize);
                    return Reply::part_of(obj, StatusCode::PARTIAL_CONTENT, base, body);
                }
            }
        }
    }
    let coding = if comp { conditional::negotiate(headers) } else { Coding::Identity };
    let (body, etag, enc) = match coded(obj, coding).await {
        Some(b) => {
            let (suffix, enc) = if coding == Coding::Brotli { ("br", "br") } else { ("gz", "gzip") };
            (b, format!("\"{}-{suffix}\"", obj.etag.trim_matches('"')), Some(enc))
        }
        None => return ok_identity(obj, ct, cache_control),
    };
    base.insert(header::ETAG, if etag.is_empty() { obj.etag_header.clone() } else { hv(&etag) });
    if let Some(e) = enc {
        base.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    base.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len() as u64));
    Reply::with_headers(StatusCode::OK, base, body)
}
