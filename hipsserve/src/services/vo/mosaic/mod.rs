//! `GET|POST /vo/mosaic?POS=...[&BAND=...][&COLLECTION=...][&SCALE=arcsec][&CUTOUTDETAIL=Image|MaskedImage]`: one
//! FITS file on one TAN grid centred on the region, North up ([`grid`]), at the finest pixel scale of the coadds
//! used (or SCALE), built from every coadd that meets the region ([`super::region`]) in the band asked for, among
//! those of the HiPS the caller may read (a restricted HiPS's coadds never contribute for callers without rights;
//! with none visible there, the answer is 204 as SODA's for a region that misses the data). Pixels are sampled with
//! the tile kernel (bilinear at exact positions) and combined by inverse variance ([`combine`]); mask bits of
//! contributing inputs are OR-ed; pixels no input reaches are NaN in IMAGE and VARIANCE and carry the NO_DATA bit in
//! MASK (when the inputs' masks define NO_DATA). Header keywords: the WCS (CTYPE, CRVAL, CRPIX, CD, RADESYS),
//! `MOSWEIGH` (`INVVAR`: every input has a variance; `EQUAL`: none has, plain means; `MIXED`: inverse variance where
//! every contributor of a pixel has one), `NCOMBINE` and `PROVnnnn` (the inputs' identifiers, never a server path).
//!
//! Bounds: at most `on_demand.max_mosaic_pixels` per plane (else `UsageFault` naming POS/SCALE, before any pixel is
//! read), at most [`MAX_INPUTS`] coadds, `on_demand.max_mosaic_concurrent` mosaics at once (each on one render
//! worker, waiting at most `on_demand.timeout_ms`); the file's size is reserved in `limits.max_uncached_bytes` before
//! it is built and held until it is sent, as SODA cutouts do. DataLink answers carry its service descriptor
//! ([`descriptor`]). The file is written band by band at its final place
//! ([`writer`]): the working memory is one band of rows and one block of coadd pixels ([`build`]).

pub mod build;
pub mod combine;
pub mod descriptor;
pub mod grid;
pub mod params;
pub mod writer;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use hips_core::fits::Card;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use tokio::sync::Semaphore;

use self::build::Input;
use self::grid::Grid;
use self::writer::{long_string, primary, MosaicFile, Plane};
use super::region::Region;
use super::sia::band_range;
use super::{coadds_of, error_reply, visible};
use crate::catalog::coadds::CoaddEntry;
use crate::catalog::Hips;
use crate::reply::{hv, Reply};
use crate::services::ondemand::{bounded, open_coadd, under_roots, Unfinished};
use crate::services::soda::Detail;
use crate::state::State;

/// The most coadds one mosaic combines.
pub const MAX_INPUTS: usize = 256;

static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();

fn usage(msg: &str) -> Reply {
    error_reply(StatusCode::BAD_REQUEST, &format!("UsageFault: {msg}"))
}

fn retry(state: &State, status: StatusCode, msg: &str) -> Reply {
    let mut r = error_reply(status, &format!("Error: {msg}"));
    r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
    r
}

/// The coadds of the caller's HiPS that meet the region in the band asked for (identifier order, no duplicates).
async fn candidates(
    state: &State,
    headers: &HeaderMap,
    p: &params::Params,
    request_id: &str,
) -> Result<Vec<(Arc<Hips>, CoaddEntry)>, Reply> {
    let region = Region::new(&p.shape);
    let mut out: Vec<(Arc<Hips>, CoaddEntry)> = Vec::new();
    let mut seen = BTreeSet::new();
    for v in visible(state, headers) {
        if !p.collection.is_empty() && !p.collection.iter().any(|c| c.eq_ignore_ascii_case(&v.hips.name)) {
            continue;
        }
        let coadds = coadds_of(state, &v.hips, request_id).await?;
        for e in coadds.iter() {
            let em = e.band.as_deref().and_then(band_range);
            let in_band =
                p.band.is_empty() || em.is_some_and(|(a, b)| p.band.iter().any(|(lo, hi)| *lo <= b && a <= *hi));
            if in_band && region.meets(e) && seen.insert((e.path.clone(), e.hdu)) {
                out.push((v.hips.clone(), e.clone()));
            }
        }
    }
    out.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    Ok(out)
}

/// Answer `/vo/mosaic`.
pub async fn answer(state: &State, headers: &HeaderMap, p: &[(String, String)], request_id: &str) -> Reply {
    let p = match params::parse(p) {
        Ok(p) => p,
        Err(e) => return usage(&e.to_string()),
    };
    if state.cfg.on_demand.coadd_roots.is_empty() {
        return error_reply(StatusCode::NOT_FOUND, "NotFoundFault: mosaics are not enabled on this server");
    }
    let found = match candidates(state, headers, &p, request_id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if found.is_empty() {
        return Reply::new(StatusCode::NO_CONTENT, Bytes::new());
    }
    let bands: BTreeSet<String> =
        found.iter().map(|(_, e)| e.band.clone().unwrap_or_else(|| "(none)".into()).to_ascii_lowercase()).collect();
    if bands.len() > 1 {
        let list: Vec<&str> = bands.iter().map(String::as_str).collect();
        return usage(&format!(
            "BAND: the coadds in this region are of several bands ({}): give BAND (metres) inside one of them",
            list.join(", ")
        ));
    }
    if found.len() > MAX_INPUTS {
        return usage(&format!(
            "POS: the region meets {} coadds, more than {MAX_INPUTS} for one mosaic: cut a smaller region",
            found.len()
        ));
    }
    let roots = state.cfg.on_demand.coadd_roots.clone();
    if let Some((_, e)) = found.iter().find(|(_, e)| !under_roots(&e.path, &roots)) {
        tracing::warn!(request_id, coadd = %e.id, "mosaic input outside on_demand.coadd_roots");
        return error_reply(StatusCode::BAD_GATEWAY, "Error: a coadd here is not served");
    }
    let limit = state.cfg.on_demand.max_mosaic_pixels;
    let wait = Duration::from_millis(state.cfg.on_demand.timeout_ms);
    let permits =
        PERMITS.get_or_init(|| Arc::new(Semaphore::new(state.cfg.on_demand.max_mosaic_concurrent.max(1)))).clone();
    let Ok(Ok(_permit)) = tokio::time::timeout(wait, permits.acquire_owned()).await else {
        return retry(state, StatusCode::SERVICE_UNAVAILABLE, "mosaic workers busy, retry later");
    };
    // Open the inputs (headers only) and lay out the grid; refuse it when too large before reading any pixel.
    let (shape, scale, detail) = (p.shape.clone(), p.scale_arcsec, p.detail);
    let opened = bounded(state, move || {
        let mut inputs = Vec::with_capacity(found.len());
        for (h, e) in &found {
            let coadd = open_coadd(&e.path, e.hdu, &roots, &h.planes)
                .map_err(|source| build::BuildError { id: e.id.clone(), source })?;
            inputs.push(Input { coadd, id: e.id.clone() });
        }
        Ok::<_, build::BuildError>(inputs)
    })
    .await;
    let inputs = match opened {
        Ok(Ok(i)) => i,
        Ok(Err(e)) => {
            tracing::warn!(request_id, error = %hips_core::error_chain(&e), "mosaic input");
            return retry(state, StatusCode::BAD_GATEWAY, &format!("cannot read coadd {}", e.id));
        }
        Err(Unfinished::Busy) => return retry(state, StatusCode::SERVICE_UNAVAILABLE, "workers busy, retry later"),
        Err(Unfinished::Failed(why)) => {
            tracing::warn!(request_id, why, "mosaic job failed");
            return retry(state, StatusCode::INTERNAL_SERVER_ERROR, "the mosaic job failed");
        }
    };
    let scale_deg = scale.map_or_else(
        || inputs.iter().map(|i| i.coadd.wcs.pixel_scale_deg()).fold(f64::INFINITY, f64::min),
        |s| s / 3600.0,
    );
    let grid = match Grid::new(&shape, scale_deg) {
        Ok(g) => g,
        Err(why) => return usage(&format!("POS: {why}")),
    };
    if grid.pixels() > limit {
        return usage(&format!(
            "POS/SCALE: the mosaic would be {} x {} = {} pixels per plane, more than on_demand.max_mosaic_pixels = \
             {limit}: cut a smaller POS or give a coarser SCALE (arcsec)",
            grid.width,
            grid.height,
            grid.pixels()
        ));
    }
    let (prim, planes, no_data) = headers_of(&grid, &inputs, detail);
    let size = MosaicFile::size(&prim, &planes, grid.width, grid.height) as u64;
    let Ok(Some(room)) = tokio::time::timeout(wait, state.cache.budget().reserve_generated(size)).await else {
        return retry(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "the server's memory for bodies being built or sent is in use (or this mosaic is larger), retry later",
        );
    };
    let done = bounded(state, move || {
        let mut file = MosaicFile::new(&prim, &planes, grid.width, grid.height);
        build::build(&grid, &inputs, no_data, &mut file).map(|()| file.bytes)
    })
    .await;
    let bytes = match done {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::warn!(request_id, error = %hips_core::error_chain(&e), "mosaic input");
            return retry(state, StatusCode::BAD_GATEWAY, &format!("cannot read coadd {}", e.id));
        }
        Err(Unfinished::Busy) => {
            return retry(state, StatusCode::SERVICE_UNAVAILABLE, "the mosaic did not finish in time, retry later")
        }
        Err(Unfinished::Failed(why)) => {
            tracing::warn!(request_id, why, "mosaic job failed");
            return retry(state, StatusCode::INTERNAL_SERVER_ERROR, "the mosaic job failed");
        }
    };
    let mut r = Reply::new(StatusCode::OK, room.hold(bytes));
    let hd = r.headers_mut();
    hd.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fits"));
    hd.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"mosaic.fits\""));
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The primary header, the planes' headers and the NO_DATA bits of a mosaic.
type Headers = (Vec<Card>, Vec<(Plane, Vec<Card>)>, i32);

/// The primary header, the planes' headers and the NO_DATA bits of the mosaic of `inputs` on `grid`.
fn headers_of(grid: &Grid, inputs: &[Input], detail: Detail) -> Headers {
    let with_var = inputs.iter().filter(|i| i.coadd.variance.is_some() || i.coadd.weight_file.is_some()).count();
    let weights = match with_var {
        0 => "EQUAL",
        n if n == inputs.len() => "INVVAR",
        _ => "MIXED",
    };
    let mut common = grid.cards();
    common.push(Card::str("MOSWEIGH", weights, "INVVAR, EQUAL (no variances) or MIXED"));
    common.push(Card::int("NCOMBINE", inputs.len() as i64, "coadds that meet the region"));
    let mut prim = vec![
        Card::str("ORIGIN", concat!("hipsserve ", env!("CARGO_PKG_VERSION")), ""),
        Card::str("INTERP", "bilinear", "tile kernel, exact positions"),
    ];
    prim.extend(common.iter().filter(|c| c.key == "MOSWEIGH" || c.key == "NCOMBINE").cloned());
    for (k, i) in inputs.iter().enumerate() {
        prim.extend(long_string(&format!("PROV{:04}", k + 1), &i.id));
    }
    prim.push(Card::comment("PROVnnnn: the identifiers of the coadds combined (SIA obs_publisher_did)"));
    let named = |name: &str| {
        let mut c = vec![Card::str("EXTNAME", name, "")];
        c.extend(common.iter().cloned());
        c
    };
    let mut planes = vec![(Plane::Image, named("IMAGE"))];
    let mut no_data = 0;
    if detail == Detail::MaskedImage {
        // The mask planes as the first input with a mask defines them (LSST MP_* keys).
        let mut mask = named("MASK");
        if let Some(h) = inputs.iter().find_map(|i| i.coadd.mask.as_ref()) {
            mask.extend(h.header.cards.iter().filter(|c| c.key.starts_with("MP_")).cloned());
            if let Some(b) = h.header.get_i64("MP_NO_DATA").filter(|b| (0..31).contains(b)) {
                no_data = 1 << b;
            }
        }
        planes.push((Plane::Mask, mask));
        planes.push((Plane::Variance, named("VARIANCE")));
    }
    let prim = primary(&prim);
    (prim, planes, no_data)
}
