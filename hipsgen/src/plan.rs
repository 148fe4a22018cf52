//! Planning a run: expand the inputs, open every coadd (headers only, in parallel), choose the deepest order, and
//! find which deepest tiles each coadd touches. The plan is a pure function of the inputs, so every shard of a
//! release computes the same one without coordination.

use std::collections::BTreeMap;

use hips_core::coadd::{Coadd, CoaddError, HduSelector, PlaneOptions};
use hips_core::healpix::{pixel_size_deg, width_log2};
use hips_core::wcs::{self, Frame};
use rayon::prelude::*;

use crate::Error;

/// An input that could not be used, with the reason (the error chain as text).
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The path or URL.
    pub input: String,
    /// Why.
    pub reason: String,
}

/// Everything a run needs to know before rendering.
#[derive(Debug)]
pub struct Plan {
    /// Deepest order.
    pub order: u8,
    /// Tile width.
    pub width: usize,
    /// HiPS frame.
    pub frame: Frame,
    /// Usable coadds, sorted by name.
    pub coadds: Vec<Coadd>,
    /// Deepest tiles and the coadds (indices) that may touch them, sorted by tile.
    pub tiles: BTreeMap<u64, Vec<u32>>,
    /// Inputs that could not be opened.
    pub skipped: Vec<Skipped>,
}

/// The file names a directory input contributes (case as written).
const FITS_SUFFIXES: [&str; 6] = [".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz"];

/// Expand paths, globs and URLs into a sorted, de-duplicated list of inputs (without the `x.weight.fits` weight
/// maps of listed images `x.fits`: those are noise planes). Directories contribute their `*.fits`,
/// `*.fit` and `*.fts` files (and their `.gz`), recursively. Local paths are made absolute and real (links and `..` resolved), so the
/// progenitor index names files that can be opened from anywhere (hipsserve renders on-demand tiles and cutouts from
/// them).
///
/// # Errors
/// When a glob pattern is malformed or matches no file, or a directory cannot be walked.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<String>, Error> {
    let err = |pattern: &str, message: String| Error::Inputs { pattern: pattern.to_string(), message };
    let mut out = Vec::new();
    for i in inputs {
        if hips_core::storage::is_url(i) {
            out.push(i.clone());
        } else if std::path::Path::new(i).is_dir() {
            // One walk of the tree, keeping the FITS names (several globs would walk it once per suffix).
            let p = format!("{}/**/*", i.trim_end_matches('/'));
            for e in glob::glob(&p).map_err(|e| err(&p, e.to_string()))? {
                let name = e.map_err(|e| err(&p, e.to_string()))?.to_string_lossy().into_owned();
                if FITS_SUFFIXES.iter().any(|s| name.ends_with(s)) {
                    out.push(name);
                }
            }
        } else if i.contains(['*', '?', '[']) {
            let mut n = 0;
            for e in glob::glob(i).map_err(|e| err(i, e.to_string()))? {
                out.push(e.map_err(|e| err(i, e.to_string()))?.to_string_lossy().into_owned());
                n += 1;
            }
            if n == 0 {
                return Err(err(i, "matches no file".into()));
            }
        } else {
            out.push(i.clone());
        }
    }
    for o in &mut out {
        if !hips_core::storage::is_url(o) {
            // The real path (no `..`, no symlinks) when the file exists: hipsserve only opens coadds whose path lies
            // under its `coadd_roots` and refuses any path with `..`.
            if let Ok(abs) = std::fs::canonicalize(&*o).or_else(|_| std::path::absolute(&*o)) {
                *o = abs.to_string_lossy().into_owned();
            }
        }
    }
    out.sort();
    out.dedup();
    // A weight map beside its image (`x.weight.fits` with `x.fits`) is the image's noise plane, not an input.
    let images: std::collections::BTreeSet<String> =
        out.iter().filter_map(|o| hips_core::coadd::sibling_weight_location(o)).collect();
    out.retain(|o| {
        let weight = images.contains(o);
        if weight {
            tracing::info!("{o}: a weight map, used as the noise plane of its image");
        }
        !weight
    });
    Ok(out)
}

/// The deepest order for an input pixel scale: the smallest order whose pixels (tile order + log2 width) are not
/// coarser than the input pixels by more than 5%, at least 3 (Allsky is made from order 3) and at most 29 - log2 W.
#[must_use]
pub fn order_for_scale(scale_deg: f64, width: usize) -> u8 {
    let w = width_log2(width);
    let mut k = 3u8;
    while k + w < 29 && pixel_size_deg(k + w) > scale_deg * 1.05 {
        k += 1;
    }
    k
}

/// Open every input in parallel, keeping the good ones and the reasons for the others.
#[must_use]
pub fn open_all(inputs: &[String], hdu: Option<&HduSelector>, planes: &PlaneOptions) -> (Vec<Coadd>, Vec<Skipped>) {
    let results: Vec<(String, Result<Coadd, CoaddError>)> =
        inputs.par_iter().map(|i| (i.clone(), Coadd::open_with(i, hdu, planes).and_then(check_complete))).collect();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (input, r) in results {
        match r {
            Ok(c) => good.push(c),
            Err(e) => bad.push(Skipped { input, reason: crate::error_chain(&e) }),
        }
    }
    (good, bad)
}

/// Reject files whose data is cut short, before any tile uses them.
fn check_complete(c: Coadd) -> Result<Coadd, CoaddError> {
    let own =
        [Some(&c.image), c.mask.as_ref(), c.variance.as_ref()].into_iter().flatten().map(|h| (&c.source, &c.name, h));
    let sibling = c.weight_file.iter().map(|w| (&w.source, &w.location, &w.hdu));
    for (source, name, h) in own.chain(sibling) {
        let len = source.len()?;
        // FITS pads every HDU to 2880 bytes: a file ending inside the padding was cut short (and any HDUs after it,
        // e.g. MASK and VARIANCE after IMAGE, are lost), so it is reported rather than used without them.
        let end = h.data_start + h.data_len.div_ceil(2880) * 2880;
        if end > len {
            return Err(CoaddError::Fits(hips_core::fits::FitsError::Truncated {
                name: name.clone(),
                what: format!("data of {} (padded to 2880 bytes)", h.label()),
                offset: h.data_start,
                end,
                len,
            }));
        }
    }
    Ok(c)
}

/// Deepest tiles touched by a coadd: the image is sampled on a grid finer than a quarter tile (edges included) and
/// every sampled cell plus its neighbours is kept; tiles that turn out blank are dropped when rendered.
#[must_use]
pub fn coadd_tiles(c: &Coadd, order: u8, frame: Frame) -> Vec<u64> {
    let layer = cdshealpix::nested::get(order);
    let tile_deg = pixel_size_deg(order);
    let step = (tile_deg / c.wcs.pixel_scale_deg() / 4.0).clamp(1.0, 1e6);
    let nx = ((c.width as f64 / step).ceil() as usize).max(1);
    let ny = ((c.height as f64 / step).ceil() as usize).max(1);
    let mut cells = Vec::new();
    for j in 0..=ny {
        for i in 0..=nx {
            let x = -0.5 + c.width as f64 * i as f64 / nx as f64;
            let y = -0.5 + c.height as f64 * j as f64 / ny as f64;
            if let Some((lon, lat)) = c.wcs.pix_to_world(x, y) {
                let (lon, lat) = wcs::convert(lon, lat, c.wcs.frame(), frame);
                let h = layer.hash(
                    lon.to_radians(),
                    lat.to_radians().clamp(-std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2),
                );
                cells.push(h);
            }
        }
    }
    cells.sort_unstable();
    cells.dedup();
    let mut all = cells.clone();
    for &h in &cells {
        all.extend(layer.neighbours(h, false).values_vec());
    }
    all.sort_unstable();
    all.dedup();
    all
}

impl Plan {
    /// Build the plan from opened coadds.
    ///
    /// # Errors
    /// When no input is usable.
    pub fn new(
        mut coadds: Vec<Coadd>,
        skipped: Vec<Skipped>,
        order: Option<u8>,
        width: usize,
        frame: Frame,
    ) -> Result<Plan, Error> {
        if coadds.is_empty() {
            return Err(Error::NoUsableInput { skipped: skipped.len() });
        }
        coadds.sort_by(|a, b| a.name.cmp(&b.name));
        let scale = coadds.iter().map(|c| c.wcs.pixel_scale_deg()).fold(f64::INFINITY, f64::min);
        let order = order.unwrap_or_else(|| order_for_scale(scale, width));
        let per: Vec<Vec<u64>> = coadds.par_iter().map(|c| coadd_tiles(c, order, frame)).collect();
        let mut tiles: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for (i, ts) in per.iter().enumerate() {
            for &t in ts {
                tiles.entry(t).or_default().push(i as u32);
            }
        }
        Ok(Plan { order, width, frame, coadds, tiles, skipped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rule() {
        // 0.2"/px -> order 11 (0.201"/px) with 512-px tiles; 5"/px -> order 7 (3.2"/px).
        assert_eq!(order_for_scale(0.2 / 3600.0, 512), 11);
        assert_eq!(order_for_scale(5.0 / 3600.0, 512), 7);
        assert_eq!(order_for_scale(1.0, 512), 3);
    }
}
