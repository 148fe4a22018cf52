//! Tiles rendered on demand, in every format the HiPS has (FITS, PNG, JPEG), equal to the tiles hipsgen writes:
//! - orders above the stored ones: between `hipsgen_stored_order` and `hips_order` (`hipsgen tiles --stored-order`),
//!   and up to `on_demand_orders` beyond `hips_order`;
//! - a tile missing from storage inside the coverage (a lost object).
//!
//! A FITS tile at `hips_order` or deeper is made from the HiPS's source coadds with the kernel hipsgen uses
//! (`hips_core::kernel::render_tile`); a shallower one is the 2x2 mean of its four children, read or rendered in turn
//! ([`pyramid`]), as hipsgen builds its pyramid. A PNG or JPEG tile is drawn from the FITS tile's pixels with the cut,
//! stretch and JPEG quality recorded in properties, through the code hipsgen draws with ([`preview`]); a color tile
//! from its three band HiPS's FITS tiles (read or rendered) with the recorded color mapping ([`color`]).
//!
//! The coadds behind a tile are those the progenitor index lists for its ancestor at `hips_order`
//! (`HpxFinder/`); each is opened by headers only and read by byte range for the pixels the tile needs, as cutouts
//! are. Only coadds under `on_demand.coadd_roots` are ever opened (an index naming anything else fails the request),
//! local ones beneath their root without following links ([`open_coadd`]).
//! Renders and encodings run on the blocking pool, at most `on_demand.max_concurrent` at once; a request waits at
//! most `on_demand.timeout_ms` (then 503). Results go through the object cache like stored tiles (concurrent requests
//! share one render; later ones are cache hits), and a tile that comes out blank is a 404, as hipsgen would not write
//! it.

mod color;
mod preview;
mod pyramid;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hips_core::coadd::{Coadd, CoaddError, HduSelector, PlaneOptions};
use hips_core::error_chain;
use hips_core::fits::{open_source, ByteSource, FileSource, FitsError};
use hips_core::kernel::{encode_fits_tile, render_tile, Interp, TileSpec};
use hips_core::layout::ProgenitorRecord;
use hips_core::storage::is_url;
use hips_core::wcs::Frame;

use crate::catalog::layout::HipsFile;
pub use crate::catalog::public::under_roots;
use crate::catalog::Hips;
use crate::state::State;
use crate::store::{Object, ServeError};

/// The ORIGIN card of rendered FITS tiles.
const ORIGIN: &str = concat!("hipsserve ", env!("CARGO_PKG_VERSION"), " (on demand)");

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

/// Whether tiles of format `ext` (`fits`, `png`, `jpg`) can be rendered for `h`: it renders (coadd roots and a
/// progenitor index) and, for previews, has the format and the parameters they were drawn with.
#[must_use]
pub fn can_render(h: &Hips, ext: &str) -> bool {
    h.renders
        && h.max_order.is_some()
        && match ext {
            "fits" => h.color.is_none(),
            "png" | "jpg" => (h.preview.is_some() || h.color.is_some()) && h.formats.iter().any(|f| f == ext),
            _ => false,
        }
}

/// Whether a tile is one to render on demand rather than read: deeper than the stored orders, not deeper than
/// [`Hips::deepest`], in a format that [`can_render`].
#[must_use]
pub fn applies(h: &Hips, order: u8, ext: &str) -> bool {
    can_render(h, ext) && h.stored_order.is_some_and(|m| order > m) && h.deepest().is_some_and(|d| order <= d)
}

/// Open the coadd at `path` (already checked with [`under_roots`]): beneath its local root without following any
/// symbolic link and only if it is a regular file ([`FileSource::open_beneath`]; hipsgen records coadds by their real
/// path), or from object storage. A link planted under a coadd root, to anywhere, or a FIFO there is an error. Its
/// quality planes are used as `planes` says (the HiPS's recorded options), and a sibling weight map (`x.weight.fits`)
/// is opened the same way when the coadd has no noise plane of its own, as hipsgen used it.
///
/// # Errors
/// When it cannot be opened or read as a coadd, or a sibling weight map exists but cannot be used.
pub fn open_coadd(path: &str, hdu: usize, roots: &[String], planes: &PlaneOptions) -> Result<Coadd, CoaddError> {
    let select = Some(HduSelector::Index(hdu));
    let mut c = Coadd::from_source_with(path, open_coadd_file(path, roots)?, select.as_ref(), planes)?;
    c.use_sibling_weight(path, planes, |at| open_coadd_file(at, roots))?;
    Ok(c)
}

/// The bytes of the coadd file at `path` (already checked with [`under_roots`]), opened as [`open_coadd`] opens it:
/// beneath its local root through no symbolic link, or by URL.
///
/// # Errors
/// When the file cannot be opened (missing, a link, not a regular file, unreachable).
pub fn open_coadd_file(path: &str, roots: &[String]) -> Result<Arc<dyn ByteSource>, FitsError> {
    let local = roots.iter().map(|r| r.trim_end_matches('/')).filter(|r| !r.is_empty() && !is_url(r)).find_map(|r| {
        let rest = path.strip_prefix(r)?.strip_prefix('/')?;
        Some((r.strip_prefix("file://").unwrap_or(r), rest.trim_start_matches('/')))
    });
    match local {
        Some((root, rel)) if !is_url(path) => Ok(Arc::new(FileSource::open_beneath(root, rel)?)),
        _ => open_source(path),
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

/// The rendered tile (order, npix) of `h` in format `ext` through the object cache: `Ok(None)` when no coadd is
/// indexed for it or the render is blank.
///
/// # Errors
/// Storage errors reading the index or tiles, a coadd outside `coadd_roots` or unreadable, a tile more than
/// [`pyramid::MAX_LEVELS`] orders above the tiles that can be read ([`ServeError::Render`]), all renderers busy for the
/// whole timeout ([`ServeError::Busy`]).
pub async fn tile(
    state: &State,
    h: &Hips,
    order: u8,
    npix: u64,
    ext: &str,
) -> Result<Option<Arc<Object>>, Arc<ServeError>> {
    match hips_core::preview::PreviewFormat::parse(ext) {
        Some(fmt) if h.color.is_some() => color::tile(state, h, order, npix, fmt).await,
        Some(fmt) => preview::tile(state, h, order, npix, fmt).await,
        None => pyramid::fits_tile(state, h, order, npix, 0).await,
    }
}

/// The pixels (FITS order) of FITS tile (order, npix) of `h`: stored, else rendered when `h` renders; `None` when
/// blank, absent or outside the coverage.
///
/// # Errors
/// As [`tile`].
pub(crate) async fn tile_pixels(
    state: &State,
    h: &Hips,
    order: u8,
    npix: u64,
) -> Result<Option<Vec<f32>>, Arc<ServeError>> {
    if h.renders && h.color.is_none() {
        return pyramid::fits_data(state, h, order, npix, 0).await;
    }
    let key = HipsFile::Tile { order, npix, ext: "fits".into() }.key_in(&h.dir);
    let Some(obj) = state.cache.get(h.root_idx, &state.roots[h.root_idx], key.clone()).await? else { return Ok(None) };
    let (width, ..) = geometry(h);
    hips_core::layout::decode_fits_tile(&key, obj.body.clone(), width)
        .map(Some)
        .map_err(|e| Arc::new(ServeError::Render { key, reason: error_chain(&e) }))
}

/// The cache key of a rendered tile: its storage key, with `\0rendered` appended at the stored orders (where the
/// storage key caches the object's absence).
fn rendered_key(h: &Hips, order: u8, npix: u64, ext: &str) -> String {
    let key = HipsFile::Tile { order, npix, ext: ext.into() }.key_in(&h.dir);
    if h.stored_order.is_some_and(|m| order <= m) {
        key + "\0rendered"
    } else {
        key
    }
}

/// The outcome of a [`bounded`] render as a cache load.
fn finish(
    state: &State,
    key: String,
    rendered: Result<Result<Option<Vec<u8>>, String>, Unfinished>,
) -> Result<Option<(Bytes, Option<SystemTime>)>, ServeError> {
    match rendered {
        Err(Unfinished::Busy) => {
            Err(ServeError::Busy { key, timeout: Duration::from_millis(state.cfg.on_demand.timeout_ms) })
        }
        Err(Unfinished::Failed(reason)) | Ok(Err(reason)) => Err(ServeError::Render { key, reason }),
        Ok(Ok(bytes)) => Ok(bytes.map(|b| (Bytes::from(b), Some(SystemTime::now())))),
    }
}

/// Render a FITS tile at `hips_order` or deeper from the coadds the progenitor index names for its ancestor at
/// `hips_order`.
async fn render_from_coadds(
    state: &State,
    h: &Hips,
    order: u8,
    npix: u64,
    key: String,
) -> Result<Option<(Bytes, Option<SystemTime>)>, ServeError> {
    let Some(k) = h.max_order.filter(|&k| order >= k) else { return Ok(None) };
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
    let origin = ORIGIN;
    let roots = state.cfg.on_demand.coadd_roots.clone();
    let planes = h.planes.clone();
    let rendered = bounded(state, move || {
        let opened = coadds
            .iter()
            .map(|(p, hdu)| {
                open_coadd(p, *hdu, &roots, &planes).map_err(|source| RenderError::Open { path: p.clone(), source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Coadd> = opened.iter().collect();
        let (data, _) = render_tile(&spec, &refs, interp).map_err(RenderError::Kernel)?;
        Ok::<_, RenderError>(
            (!data.iter().all(|v| v.is_nan())).then(|| encode_fits_tile(order, npix, width, frame, &data, origin)),
        )
    })
    .await;
    finish(state, key, rendered.map(|r| r.map_err(|e| error_chain(&e))))
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
