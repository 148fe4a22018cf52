//! Building a mosaic: one band of [`ROWS`] output rows at a time, each band in blocks of at most [`COLS`] columns;
//! for every input coadd, the block's exact positions in the coadd (its own WCS, per pixel), the coadd pixels they
//! need read by byte range (image, variance and mask planes), the tile kernel's bilinear sampling at those positions
//! ([`hips_core::kernel::PositionSampler`]) and the per-pixel combination ([`super::combine`]). Memory: one band's
//! sums plus one block's coadd pixels, whatever the output size (besides the output file itself).

use hips_core::coadd::{Coadd, CoaddError};
use hips_core::fits::read_region_i64;
use hips_core::kernel::{Interp, PositionSampler};
use hips_core::wcs::Frame;

use super::combine::Band;
use super::grid::Grid;
use super::writer::{MosaicFile, Plane};

/// Output rows per band.
pub const ROWS: usize = 32;
/// Output columns per block (a block's footprint in a rotated coadd stays small).
pub const COLS: usize = 256;

/// One input: the opened coadd and its identifier (for errors and provenance).
#[derive(Debug, Clone)]
pub struct Input {
    /// The coadd.
    pub coadd: Coadd,
    /// Its identifier.
    pub id: String,
}

/// Why a mosaic could not be built.
#[derive(Debug, thiserror::Error)]
#[error("coadd {id}: {source}")]
pub struct BuildError {
    /// The coadd's identifier.
    pub id: String,
    /// What failed.
    #[source]
    pub source: CoaddError,
}

/// Input pixels beyond the edge a block's corners may lie and still reach the coadd (bilinear margin, and room for
/// the slight curvature of distorted WCSs: TAN to TAN maps the block's straight edges to straight lines).
const CORNER_SLACK: f64 = 16.0;

/// Whether the block (its pixels' sky vectors, `rows` x `cols`) certainly misses the coadd: its four corners lie
/// beyond the same edge of the image (by [`CORNER_SLACK`]). A corner the WCS cannot map decides nothing.
fn misses(c: &Coadd, vecs: &[[f64; 3]], rows: usize, cols: usize) -> bool {
    let corners = [0, cols - 1, (rows - 1) * cols, rows * cols - 1];
    let mut p = [(0.0, 0.0); 4];
    for (o, &k) in p.iter_mut().zip(&corners) {
        match c.wcs.sky_vec_to_pix(&vecs[k], Frame::Equatorial) {
            Some(xy) if xy.0.is_finite() && xy.1.is_finite() => *o = xy,
            _ => return false,
        }
    }
    let (w, h) = (c.width as f64 + CORNER_SLACK, c.height as f64 + CORNER_SLACK);
    p.iter().all(|q| q.0 < -CORNER_SLACK)
        || p.iter().all(|q| q.1 < -CORNER_SLACK)
        || p.iter().all(|q| q.0 > w)
        || p.iter().all(|q| q.1 > h)
}

/// Fill `file` (laid out for `grid`) from `inputs`; `no_data`: the mask bits of pixels no input reaches.
///
/// # Errors
/// When a coadd's pixels cannot be read (named by its identifier).
pub fn build(grid: &Grid, inputs: &[Input], no_data: i32, file: &mut MosaicFile) -> Result<(), BuildError> {
    let w = grid.width;
    let mut band = Band::default();
    let mut vecs = vec![[0.0; 3]; ROWS * COLS];
    let mut pos = vec![(f64::NAN, f64::NAN); ROWS * COLS];
    let (mut vals, mut vars) = (vec![f64::NAN; ROWS * COLS], vec![f64::NAN; ROWS * COLS]);
    let (mut img, mut mask, mut var) = (Vec::new(), Vec::new(), Vec::new());
    for y0 in (0..grid.height).step_by(ROWS) {
        let rows = ROWS.min(grid.height - y0);
        band.reset(rows * w);
        for x0 in (0..w).step_by(COLS) {
            let cols = COLS.min(w - x0);
            let n = rows * cols;
            for r in 0..rows {
                grid.row(y0 + r, x0, &mut vecs[r * cols..(r + 1) * cols]);
            }
            for input in inputs {
                let c = &input.coadd;
                if misses(c, &vecs[..n], rows, cols) {
                    continue;
                }
                let fail = |source| BuildError { id: input.id.clone(), source };
                let mut bbox = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
                for (p, v) in pos[..n].iter_mut().zip(&vecs[..n]) {
                    *p = c.wcs.sky_vec_to_pix(v, Frame::Equatorial).unwrap_or((f64::NAN, f64::NAN));
                    let (x, y) = *p;
                    if x > -2.0 && y > -2.0 && x < c.width as f64 + 1.0 && y < c.height as f64 + 1.0 {
                        bbox = (bbox.0.min(x), bbox.1.min(y), bbox.2.max(x), bbox.3.max(y));
                    }
                }
                if bbox.0 > bbox.2 {
                    continue;
                }
                let m = Interp::Bilinear.margin();
                let (bx0, by0) = (bbox.0.floor() as i64 - m, bbox.1.floor() as i64 - m);
                let (bx1, by1) = (bbox.2.ceil() as i64 + m, bbox.3.ceil() as i64 + m);
                let Some(mut px) = c.read_region_image(bx0, by0, bx1, by1).map_err(fail)? else { continue };
                c.read_variance(&mut px).map_err(fail)?;
                let bits = match &c.mask {
                    Some(h) => Some(
                        read_region_i64(c.source.as_ref(), h, px.x0, px.y0, px.width, px.height)
                            .map_err(|e| fail(e.into()))?
                            .2,
                    ),
                    None => None,
                };
                let sampler = PositionSampler::new(&px, Interp::Bilinear, true);
                if !sampler.sample(&pos[..n], &mut vals[..n], &mut vars[..n]) {
                    continue;
                }
                let (rw, rh) = (px.width as i64, px.height as i64);
                for k in 0..n {
                    if vals[k].is_nan() {
                        continue;
                    }
                    // The mask bits of the taps the value came from (bilinear neighbours with weight, not blank).
                    let mut or = 0i64;
                    if let Some(b) = &bits {
                        let (rx, ry) = (pos[k].0 - px.x0 as f64, pos[k].1 - px.y0 as f64);
                        let (fx, fy) = (rx.floor(), ry.floor());
                        let (dx, dy) = (rx - fx, ry - fy);
                        let (fx, fy) = (fx as i64, fy as i64);
                        for (tx, ty, wt) in [
                            (fx, fy, (1.0 - dx) * (1.0 - dy)),
                            (fx + 1, fy, dx * (1.0 - dy)),
                            (fx, fy + 1, (1.0 - dx) * dy),
                            (fx + 1, fy + 1, dx * dy),
                        ] {
                            let j = (ty * rw + tx) as usize;
                            if wt > 0.0 && tx >= 0 && ty >= 0 && tx < rw && ty < rh && !px.image[j].is_nan() {
                                or |= b[j];
                            }
                        }
                    }
                    let i = (k / cols) * w + x0 + k % cols;
                    band.add(i, vals[k], vars[k], or as i32);
                }
            }
        }
        let len = rows * w;
        img.resize(len, 0.0);
        mask.resize(len, 0);
        var.resize(len, 0.0);
        band.finish(&mut img, &mut mask, &mut var, no_data);
        file.put(Plane::Image, y0, img.iter().map(|v| v.to_be_bytes()));
        file.put(Plane::Mask, y0, mask.iter().map(|v| v.to_be_bytes()));
        file.put(Plane::Variance, y0, var.iter().map(|v| v.to_be_bytes()));
    }
    Ok(())
}
