//! `GET /hips2fits`: an image of any celestial WCS from a served HiPS, with the parameters of CDS's hips2fits service
//! (`hips`, `width`, `height`, `projection`, `fov`, `ra`, `dec`, `coordsys`, `rotation_angle`, or `wcs` as a JSON
//! header; `format=fits|png|jpg`, `min_cut`, `max_cut` (a value, or a percentile with `%`), `stretch`, `cmap`), so that
//! astroquery's `hips2fits` client pointed at this server works unchanged. Errors are JSON `{title, description}`
//! with 400 (bad parameters), 404 (unknown HiPS), 503 (busy, with Retry-After).
//!
//! Pixels finer than the deepest order are bilinear samples of the HiPS's source coadds ([`sample`]), found through
//! its progenitor index and read by byte range like on-demand tiles; coarser ones (or any, for a HiPS without coadds
//! here) are bilinear samples of its tiles at the order whose pixels are just finer than the output's ([`tiles`]),
//! stored or rendered on demand. Bounded: at most `on_demand.max_cutout_pixels` output pixels, 64 coadds or 1024
//! tiles, the render permits.

mod cmap;
mod params;
mod sample;
mod tiles;

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

use crate::catalog::Hips;
use crate::reply::Reply;
use crate::state::State;
pub use params::{Format, Params};

/// A hips2fits error: HTTP status, title and description (answered as JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{title}: {description}")]
pub struct Failure {
    /// HTTP status.
    pub status: u16,
    /// Short title (astroquery shows it first).
    pub title: String,
    /// What to change.
    pub description: String,
}

impl Failure {
    /// A 400 about a parameter.
    pub(crate) fn bad(param: &str, description: impl Into<String>) -> Failure {
        Failure { status: 400, title: format!("Invalid parameter {param}"), description: description.into() }
    }
}

fn json_error(f: &Failure) -> Reply {
    let body = serde_json::json!({ "title": f.title, "description": f.description }).to_string();
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = Reply::new(status, Bytes::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if f.status == 503 {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    r
}

/// The HiPS a `hips` parameter names: a served name, or a creator_did (`ivo://...`, also without `ivo://`).
#[must_use]
pub fn find_hips<'a>(state: &'a State, hips: &str) -> Option<&'a std::sync::Arc<Hips>> {
    let hips = hips.trim().trim_matches('/');
    state
        .hips
        .get(hips)
        .or_else(|| state.hips.values().find(|h| h.did == hips || h.did.strip_prefix("ivo://") == Some(hips)))
}

/// Answer `GET /hips2fits?...`; `authorize` checks access to the HiPS found (a reply refuses it).
pub async fn answer(state: &State, query: Option<&str>, authorize: impl Fn(&Hips) -> Option<Reply>) -> Reply {
    let params = match Params::parse(query.unwrap_or(""), state.cfg.on_demand.max_cutout_pixels) {
        Ok(p) => p,
        Err(f) => return json_error(&f),
    };
    let Some(h) = find_hips(state, &params.hips) else {
        return json_error(&Failure {
            status: 404,
            title: "HiPS not found".into(),
            description: format!("no HiPS {:?} is served here (see /hipslist)", params.hips),
        });
    };
    if let Some(refused) = authorize(h) {
        return refused;
    }
    match sample::image(state, h, &params).await {
        Ok((bytes, ct)) => {
            let mut r = Reply::new(StatusCode::OK, Bytes::from(bytes));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(f) => json_error(&f),
    }
}

/// The render timeout as a failure.
pub(crate) fn busy(state: &State) -> Failure {
    Failure {
        status: 503,
        title: "Server busy".into(),
        description: format!(
            "no renderer became free within {:?}; retry later",
            Duration::from_millis(state.cfg.on_demand.timeout_ms)
        ),
    }
}
