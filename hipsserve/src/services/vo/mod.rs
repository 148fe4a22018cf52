//! The IVOA services under `/vo/`, server-wide over the source coadds of every HiPS the caller may read
//! ([`crate::catalog::coadds`]): VOSI capabilities and availability ([`capabilities`]), SIA 2.0 image search
//! ([`sia`]), DataLink 1.1 ([`links`], with coadd previews from [`preview`]) and SODA 1.0 synchronous cutouts
//! ([`soda`], the same job as `/<hips>/soda/sync`), SODA asynchronous cutouts as UWS 1.1 jobs ([`uws`]) and mosaics over many coadds ([`mosaic`]). GET and POST (form-encoded bodies, [`params`]) are answered alike. Restricted HiPS: their
//! coadds are left out of SIA answers for callers without rights, and DataLink/SODA requests for them get the 401/403
//! of their tiles. No answer names a server path: coadds are named by their identifiers.

pub mod capabilities;
pub mod links;
pub mod mosaic;
pub mod preview;
pub mod region;
pub mod sia;
pub mod soda;
pub mod uws;
pub mod votable;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

pub use super::denied;
use crate::catalog::auth::Decision;
use crate::catalog::coadds::CoaddEntry;
use crate::catalog::Hips;
use crate::reply::{hv, Reply};
use crate::state::State;

/// The access format of a DataLink document.
pub const DATALINK_FORMAT: &str = "application/x-votable+xml;content=datalink";

/// The services under `/vo/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `/vo/capabilities`.
    Capabilities,
    /// `/vo/availability`.
    Availability,
    /// `/vo/sia/query`.
    SiaQuery,
    /// `/vo/links`.
    Links,
    /// `/vo/soda/sync`.
    SodaSync,
    /// `/vo/preview` (DataLink `#preview`).
    Preview,
    /// `/vo/soda/async` and below (UWS jobs, answered by [`uws::answer`]).
    SodaAsync,
    /// `/vo/mosaic`.
    Mosaic,
}

impl Service {
    /// The service of a path below `/vo/`.
    #[must_use]
    pub fn from_path(rest: &str) -> Option<Service> {
        Some(match rest {
            "capabilities" => Service::Capabilities,
            "availability" => Service::Availability,
            "sia/query" => Service::SiaQuery,
            "links" => Service::Links,
            "soda/sync" => Service::SodaSync,
            "preview" => Service::Preview,
            _ if rest == "soda/async" || rest.starts_with("soda/async/") => Service::SodaAsync,
            "mosaic" => Service::Mosaic,
            _ => return None,
        })
    }

    /// The metrics label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Service::Capabilities | Service::Availability => "vo",
            Service::SiaQuery => "sia",
            Service::Links => "datalink",
            Service::SodaSync | Service::SodaAsync | Service::Mosaic => "soda",
            Service::Preview => "preview",
        }
    }
}

/// A HiPS the caller may read, with what ObsCore says of its coadds.
#[derive(Debug, Clone)]
pub struct Visible {
    /// The HiPS.
    pub hips: Arc<Hips>,
    /// `facility_name` (properties `obs_facility`, else `facility_name`).
    pub facility: Option<String>,
    /// `instrument_name` (properties `obs_instrument`, else `instrument_name`).
    pub instrument: Option<String>,
}

/// The request's parameters: the query string's then the form body's, decoded.
#[must_use]
pub fn params(query: Option<&str>, body: Option<&[u8]>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(b) = body {
        out.extend(url::form_urlencoded::parse(b).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    out
}

pub use crate::catalog::public::{coadd_url, links_url};

/// A VOTable reply.
#[must_use]
pub fn votable_reply(status: StatusCode, body: String) -> Reply {
    let mut r = Reply::new(status, Bytes::from(body));
    let hd = r.headers_mut();
    hd.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-votable+xml"));
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A DALI error VOTable (`QUERY_STATUS=ERROR`).
#[must_use]
pub fn error_reply(status: StatusCode, message: &str) -> Reply {
    votable_reply(status, votable::error_document(message))
}

/// The HiPS the caller may read, by name.
#[must_use]
pub fn visible(state: &State, headers: &HeaderMap) -> Vec<Visible> {
    let mut out: Vec<Visible> = state
        .hips
        .values()
        .filter(|h| matches!(state.auth.check(&h.settings, headers), Decision::Allow))
        .map(|h| Visible {
            hips: h.clone(),
            facility: h.prop("obs_facility").or(h.prop("facility_name")).map(str::to_string),
            instrument: h.prop("obs_instrument").or(h.prop("instrument_name")).map(str::to_string),
        })
        .collect();
    out.sort_by(|a, b| a.hips.name.cmp(&b.hips.name));
    out
}

/// The coadds of HiPS `h`, or the 503 error VOTable when its index cannot be read.
///
/// # Errors
/// The reply to send instead.
pub async fn coadds_of(state: &State, h: &Hips, request_id: &str) -> Result<Arc<Vec<CoaddEntry>>, Reply> {
    let timeout = Duration::from_millis(state.cfg.limits.storage_timeout_ms);
    state.coadds.of(h, &state.roots[h.root_idx], &state.public, timeout).await.map_err(|e| {
        tracing::warn!(request_id, hips = %h.name, error = %hips_core::error_chain(e.as_ref()), "coadd catalogue");
        let mut r = error_reply(StatusCode::SERVICE_UNAVAILABLE, "Error: the coadd catalogue cannot be read now");
        r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
        r
    })
}

/// The HiPS whose IVOID starts the identifier `id` (`<did>?...`, compared case-insensitively), with the local part.
#[must_use]
pub fn hips_of_id<'s, 'i>(state: &'s State, id: &'i str) -> Option<(&'s Arc<Hips>, &'i str)> {
    let (did, local) = id.split_once('?')?;
    state.hips.values().find(|h| h.did.eq_ignore_ascii_case(did)).map(|h| (h, local))
}

/// Answer a `/vo/` request (`base`: the server's base URL for links; `body`: a POSTed form).
pub async fn answer(
    state: &State,
    service: Service,
    headers: &HeaderMap,
    base: &str,
    query: Option<&str>,
    body: Option<&[u8]>,
    request_id: &str,
) -> Reply {
    let p = params(query, body);
    match service {
        Service::Capabilities => capabilities::capabilities(base),
        Service::Availability => capabilities::availability(),
        Service::SiaQuery => sia::answer(state, headers, base, &p, request_id).await,
        Service::Links => links::answer(state, headers, base, &p, request_id).await,
        Service::SodaSync => soda::answer(state, headers, &p, request_id).await,
        Service::Preview => preview::answer(state, headers, query, body, request_id).await,
        Service::SodaAsync => {
            let path = format!("{}/", uws::PATH);
            uws::answer(state, &http::Method::GET, &path, headers, base, query, body, request_id).await
        }
        Service::Mosaic => mosaic::answer(state, headers, &p, request_id).await,
    }
}
