//! Tiles rendered on demand: FITS tiles up to `on_demand_orders` below a HiPS's deepest stored order, made from the
//! HiPS's source coadds with the kernel hipsgen uses (`hips_core::kernel::render_tile`), so that an on-demand tile is
//! the tile hipsgen would have written at that order.
//!
//! The coadds behind a tile are those the progenitor index lists for its ancestor at the stored order
//! (`HpxFinder/`); each is opened by headers only and read by byte range for the pixels the tile needs, as cutouts
//! are. Only coadds under `on_demand.coadd_roots` are ever opened (an index naming anything else fails the request),
//! local ones beneath their root without following links ([`open_coadd`]).
//! Renders run on the blocking pool, at most `on_demand.max_concurrent` at once; a request waits at most
//! `on_demand.timeout_ms` (then 503). Results go through the object cache like stored tiles (concurrent requests share
//! one render; later ones are cache hits), and a tile that comes out blank is a 404, as hipsgen would not write it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hips_core::coadd::{Coadd, CoaddError, HduSelector};
use hips_core::error_chain;
use hips_core::fits::FileSource;
use hips_core::kernel::{encode_fits_tile, render_tile, Interp, TileSpec};
use hips_core::layout::ProgenitorRecord;
use hips_core::storage::is_url;
use hips_core::wcs::Frame;

use crate::catalog::layout::HipsFile;
pub use crate::catalog::public::under_roots;
use crate::catalog::Hips;
use crate::state::State;
use crate::store::{Object, ServeError};

/// Why an on-demand render failed (rendered into [`ServeError::Render`] with [`error_chain`]).
#[derive(Debug, thiserror::Error)]
enum RenderError {
    /// A coadd could not be opened.
    #[error("cannot open coadd {path:?}")]
    Open {
        /// The coadd.
        path: String,
        /// Why.
        #[source]
        source: CoaddError,
    },
    /// The kernel could not read the pixels it needed.
    #[error("rendering from the coadds failed")]
    Kernel(#[source] CoaddError),
}

/// Why a [`bounded`] job gave no result.
#[derive(Debug)]
pub(crate) enum Unfinished {
    /// No renderer became free, or the job did not finish, within `on_demand.timeout_ms`.
    Busy,
    /// The job panicked (the message).
    Failed(String),
}

/// Run a blocking job (a render or a cutout) on the blocking pool under one of the `on_demand.max_concurrent`
/// permits, waiting at most `on_demand.timeout_ms` for the permit and the job together.
pub(crate) async fn bounded<T: Send + 'static>(
    state: &State,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Unfinished> {
    let work = async {
        let permit = state.render_permits.clone().acquire_owned().await.map_err(|_| Unfinished::Busy)?;
        crate::store::blocking::spawn(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(|e| Unfinished::Failed(e.to_string()))
    };
    let timeout = Duration::from_millis(state.cfg.on_demand.timeout_ms);
    tokio::time::timeout(timeout, work).await.unwrap_or(Err(Unfinished::Busy))
}

/// Whether a tile is one to render on demand: FITS, deeper than the stored orders, within `on_demand_orders`.
#[must_use]
pub fn applies(h: &Hips, order: u8, ext: &str) -> bool {
    let n = h.settings.on_demand_orders;
    n > 0 && ext == "fits" && h.max_order.is_some_and(|k| order > k && order <= k.saturating_add(n))
}

/// Open the coadd at `path` (already checked with [`under_roots`]): beneath its local root without following any
/// symbolic link and only if it is a regular file ([`FileSource::open_beneath`]; hipsgen records coadds by their real
/// path), or from object storage. A link planted under a coadd root, to anywhere, or a FIFO there is an error.
///
/// # Errors
/// When it cannot be opened or read as a coadd.
pub fn open_coadd(path: &str, hdu: usize, roots: &[String]) -> Result<Coadd, CoaddError> {
    let select = Some(HduSelector::Index(hdu));
    let local = roots.iter().map(|r| r.trim_end_matches('/')).filter(|r| !r.is_empty() && !is_url(r)).find_map(|r| {
        let rest = path.strip_prefix(r)?.strip_prefix('/')?;
        Some((r.strip_prefix("file://").unwrap_or(r), rest.trim_start_matches('/')))
    });
    match local {
        Some((root, rel)) if !is_url(path) => {
            let source = FileSource::open_beneath(root, rel)?;
            Coadd::from_source(path, Arc::new(source), select.as_ref())
        }
        _ => Coadd::open(path, select.as_ref()),
    }
}

/// The (path, image HDU) of every coadd in a progenitor index file, in order, without duplicates.
pub(crate) fn progenitors(index: &[u8]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for rec in ProgenitorRecord::parse_lines(index) {
        let hdu = rec.hdu_or_primary();
        if !out.iter().any(|(p, i)| *p == rec.path && *i == hdu) {
            out.push((rec.path, hdu));
        }
    }
    out
}

/// How the HiPS was made: tile width, frame and sampling, from its properties (hipsgen's defaults otherwise).
fn geometry(h: &Hips) -> (usize, Frame, Interp) {
    let width = h.prop("hips_tile_width").and_then(|w| w.trim().parse::<usize>().ok()).unwrap_or(512);
    let frame = h.frame();
    let interp = h.prop("hips_sampling").and_then(|s| s.trim().parse().ok()).unwrap_or_default();
    (width, frame, interp)
}

/// The on-demand tile (order, npix) of `h` through the object cache: `Ok(None)` when no coadd is indexed for its
/// ancestor or the render is blank.
///
/// # Errors
/// Storage errors reading the index, a coadd outside `coadd_roots` or unreadable ([`ServeError::Render`]), all
/// renderers busy for the whole timeout ([`ServeError::Busy`]).
pub async fn tile(state: &State, h: &Hips, order: u8, npix: u64) -> Result<Option<Arc<Object>>, Arc<ServeError>> {
    let key = HipsFile::Tile { order, npix, ext: "fits".into() }.key_in(&h.dir);
    state.cache.get_with(h.root_idx, key, |key| render(state, h, order, npix, key)).await
}

async fn render(
    state: &State,
    h: &Hips,
    order: u8,
    npix: u64,
    key: String,
) -> Result<Option<(Bytes, Option<SystemTime>)>, ServeError> {
    let Some(k) = h.max_order else { return Ok(None) };
    let parent = npix >> (2 * u32::from(order - k));
    let index_key = HipsFile::hpxfinder_tile(k, parent).key_in(&h.dir);
    let index = match state.cache.get(h.root_idx, &state.roots[h.root_idx], index_key).await {
        Ok(Some(obj)) => obj,
        Ok(None) => return Ok(None),
        Err(e) => return Err(ServeError::Render { key, reason: format!("progenitor index: {}", error_chain(&*e)) }),
    };
    let coadds = progenitors(&index.body);
    if let Some((bad, _)) = coadds.iter().find(|(p, _)| !under_roots(p, &state.cfg.on_demand.coadd_roots)) {
        return Err(ServeError::Render { key, reason: format!("coadd {bad:?} is not under on_demand.coadd_roots") });
    }
    if coadds.is_empty() {
        return Ok(None);
    }
    let (width, frame, interp) = geometry(h);
    let spec = TileSpec { order, npix, width, frame };
    let origin = concat!("hipsserve ", env!("CARGO_PKG_VERSION"), " (on demand)");
    let roots = state.cfg.on_demand.coadd_roots.clone();
    let rendered = bounded(state, move || {
        let opened = coadds
            .iter()
            .map(|(p, hdu)| open_coadd(p, *hdu, &roots).map_err(|source| RenderError::Open { path: p.clone(), source }))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Coadd> = opened.iter().collect();
        let (data, _) = render_tile(&spec, &refs, interp).map_err(RenderError::Kernel)?;
        Ok::<_, RenderError>(
            (!data.iter().all(|v| v.is_nan())).then(|| encode_fits_tile(order, npix, width, frame, &data, origin)),
        )
    })
    .await;
    match rendered {
        Err(Unfinished::Busy) => {
            Err(ServeError::Busy { key, timeout: Duration::from_millis(state.cfg.on_demand.timeout_ms) })
        }
        Err(Unfinished::Failed(reason)) => Err(ServeError::Render { key, reason }),
        Ok(Err(e)) => Err(ServeError::Render { key, reason: error_chain(&e) }),
        Ok(Ok(bytes)) => Ok(bytes.map(|b| (Bytes::from(b), Some(SystemTime::now())))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coadds_must_lie_under_a_root() {
        let roots = vec!["/data/coadds/".to_string(), "s3://bucket/dr1".to_string()];
        assert!(under_roots("/data/coadds/g/t1.fits", &roots));
        assert!(under_roots("s3://bucket/dr1/g/t1.fits", &roots));
        for bad in [
            "/data/coadds-other/x.fits",
            "/data/coadds/../secret.fits",
            "/data/coadds/./x.fits",
            "/data/coadds",
            "s3://bucket/dr10/x.fits",
            "/etc/passwd",
            "/data/coadds/a\\..\\b",
        ] {
            assert!(!under_roots(bad, &roots), "{bad}");
        }
        assert!(!under_roots("/x", &[String::new()]), "an empty root allows nothing");
    }

    #[test]
    fn index_lines_give_paths_and_hdus_once() {
        let idx = b"{\"path\":\"/c/a.fits\",\"hdu\":1}\n{\"path\":\"/c/b.fits\"}\nnot json\n{\"path\":\"/c/a.fits\",\"hdu\":1}\n";
        assert_eq!(progenitors(idx), vec![("/c/a.fits".to_string(), 1), ("/c/b.fits".to_string(), 0)]);
    }
}
