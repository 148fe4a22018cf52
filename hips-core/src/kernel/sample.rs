//! Sampling coadd pixels at input positions (nearest, bilinear, Lanczos-3) and combining overlapping coadds
//! (inverse-variance weighted mean where variance exists, plain mean otherwise).

use super::lattice::Lattice;
use super::{Interp, LATTICE};
use crate::coadd::CoaddPixels;

/// Per-pixel accumulators for combining overlapping inputs: the inverse-variance weighted mean where every
/// contributing input has a variance, the plain mean otherwise. Without variances at all (`ivw` false) only the
/// plain sums are kept.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    width: usize,
    /// Whether the inverse-variance sums are kept.
    ivw: bool,
    /// Sum of w * v over inputs with a variance.
    ivw_sum: Vec<f64>,
    /// Sum of w over inputs with a variance.
    ivw_w: Vec<f64>,
    /// Plain sum of values.
    sum: Vec<f64>,
    /// Number of values.
    n: Vec<u32>,
    /// Number of values from inputs without a variance.
    n_novar: Vec<u32>,
}

impl Accumulator {
    /// Empty accumulators for a W x W tile (with inverse-variance sums when `ivw`).
    #[must_use]
    pub fn new(width: usize, ivw: bool) -> Self {
        let mut acc = Accumulator::default();
        acc.reset(width, ivw);
        acc
    }

    /// Empty the accumulators for a new W x W tile, reusing their memory.
    pub fn reset(&mut self, width: usize, ivw: bool) {
        self.reset_rows(width, width, ivw);
    }

    /// Empty the accumulators for `rows` tile rows of width W (a band of a tile, see [`Accumulator::finish_rows`]),
    /// reusing their memory; [`Accumulator::add_row`] indices are then relative to the band's first row.
    pub fn reset_rows(&mut self, width: usize, rows: usize, ivw: bool) {
        let n = width * rows;
        self.width = width;
        self.ivw = ivw;
        let m = if ivw { n } else { 0 };
        for (v, len) in [(&mut self.ivw_sum, m), (&mut self.ivw_w, m), (&mut self.sum, n)] {
            v.clear();
            v.resize(len, 0.0);
        }
        for (v, len) in [(&mut self.n, n), (&mut self.n_novar, m)] {
            v.clear();
            v.resize(len, 0);
        }
    }

    /// Add a row of sampled values at tile pixels `i0 ..` (NaN value: nothing sampled; NaN variance: none).
    #[inline]
    pub fn add_row(&mut self, i0: usize, vals: &[f64], vars: &[f64]) {
        let (sum, n) = (&mut self.sum[i0..i0 + vals.len()], &mut self.n[i0..i0 + vals.len()]);
        if !self.ivw {
            for ((s, c), &v) in sum.iter_mut().zip(n.iter_mut()).zip(vals) {
                if !v.is_nan() {
                    *s += v;
                    *c += 1;
                }
            }
            return;
        }
        // Branch-free (vectorises): a skipped value adds +0.0, which leaves every sum as it is (they start at +0.0
        // and a sum of finite values is never -0.0), so the results are those of skipping it.
        let len = vals.len();
        let (ivw_sum, ivw_w) = (&mut self.ivw_sum[i0..i0 + len], &mut self.ivw_w[i0..i0 + len]);
        let n_novar = &mut self.n_novar[i0..i0 + len];
        for j in 0..len {
            let (v, var) = (vals[j], vars[j]);
            let (has, weighted) = (!v.is_nan(), !v.is_nan() && !var.is_nan());
            sum[j] += if has { v } else { 0.0 };
            n[j] += u32::from(has);
            n_novar[j] += u32::from(has && var.is_nan());
            ivw_sum[j] += if weighted { v / var } else { 0.0 };
            ivw_w[j] += if weighted { 1.0 / var } else { 0.0 };
        }
    }

    /// The tile in FITS array order (`data[r * W + c]`, r = W - 1 - ix, c = iy), NaN where nothing contributed.
    #[must_use]
    pub fn finish(&self) -> Vec<f32> {
        let w = self.width;
        let mut out = vec![f32::NAN; w * w];
        self.finish_rows(0, &mut out);
        out
    }

    /// Write the band held (tile rows `ix0 ..`, see [`Accumulator::reset_rows`]) into the W x W tile `out` in FITS
    /// array order; its pixels where nothing contributed are left as they are.
    pub fn finish_rows(&self, ix0: usize, out: &mut [f32]) {
        let w = self.width;
        for r in 0..self.n.len() / w.max(1) {
            let ix = ix0 + r;
            let row = &mut out[(w - 1 - ix) * w..(w - ix) * w];
            for (iy, o) in row.iter_mut().enumerate() {
                let i = r * w + iy;
                if self.n[i] == 0 {
                    continue;
                }
                let v = if self.ivw && self.n_novar[i] == 0 && self.ivw_w[i] > 0.0 {
                    self.ivw_sum[i] / self.ivw_w[i]
                } else {
                    self.sum[i] / f64::from(self.n[i])
                };
                *o = v as f32;
            }
        }
    }
}

/// Sample `px` at every position of `lattice`, one lattice-cell row at a time: `sink(ix, iy0, values, variances)`
/// gets the values of tile pixels (ix, iy0 ..) with NaN where nothing was sampled, and their variances with NaN
/// where there is none. The variance is sampled only when `with_variance` (a single input needs none: its mean is
/// its value). Returns whether any pixel was sampled.
pub fn sample_lattice(
    lattice: &Lattice,
    px: &CoaddPixels,
    interp: Interp,
    with_variance: bool,
    mut sink: impl FnMut(usize, usize, &[f64], &[f64]),
) -> bool {
    let sampler = Sampler::new(px, interp, with_variance);
    let mut any = false;
    lattice.visit_rows(|ix, iy0, positions| any |= sampler.row(ix, iy0, positions, &mut sink));
    any
}

/// Samples one coadd's pixels, a row of positions at a time (what [`sample_lattice`] does for a whole lattice).
#[derive(Debug, Clone, Copy)]
pub(super) struct Sampler<'a> {
    px: &'a CoaddPixels,
    variance: Option<&'a [f32]>,
    interp: Interp,
    bilinear: bool,
    /// Bilinear without blanks in the region: rows fully inside need no per-pixel checks.
    clean: bool,
}

impl<'a> Sampler<'a> {
    pub(super) fn new(px: &'a CoaddPixels, interp: Interp, with_variance: bool) -> Self {
        let bilinear = interp == Interp::Bilinear;
        Sampler {
            px,
            variance: px.variance.as_deref().filter(|_| with_variance),
            interp,
            bilinear,
            clean: bilinear && !px.image.iter().any(|v| v.is_nan()),
        }
    }

    /// Sample the positions of tile pixels (ix, iy0 ..) and give them to `sink` (see [`sample_lattice`]) unless
    /// none was sampled; returns whether any was.
    ///
    /// Bilinear rows fully inside a region without blanks need no per-pixel checks (the common case). In a region
    /// with blanks, rows fully inside still skip the bounds checks and only test the four taps of each pixel; the
    /// arithmetic of each path is kept (bilerp for regions without blanks, apply4 weights otherwise), so tiles do
    /// not change by a bit.
    #[inline]
    pub(super) fn row(
        &self,
        ix: usize,
        iy0: usize,
        positions: &[(f64, f64)],
        sink: &mut impl FnMut(usize, usize, &[f64], &[f64]),
    ) -> bool {
        let n = positions.len();
        let (px, variance, interp, bilinear, clean) = (self.px, self.variance, self.interp, self.bilinear, self.clean);
        let (ox, oy, rw, rh) = (px.x0 as f64, px.y0 as f64, px.width, px.height);
        let (xmax, ymax, rwf, rhf) = (rw as f64 - 1.0, rh as f64 - 1.0, rw as f64, rh as f64);
        let mut vals = [f64::NAN; LATTICE];
        let mut vars = [f64::NAN; LATTICE];
        let inside = bilinear
            && positions.iter().all(|&(x, y)| {
                let (rx, ry) = (x - ox, y - oy);
                rx >= 0.0 && ry >= 0.0 && rx < xmax && ry < ymax
            });
        if inside && clean {
            for (b, &(x, y)) in positions.iter().enumerate() {
                let (rx, ry) = (x - ox, y - oy);
                // Inside the region (0 <= rx < rw - 1), so truncation is the floor and fits an i32; signed
                // conversions are single instructions where unsigned ones are not.
                let (x0, y0) = (rx as i32, ry as i32);
                let (fx, fy) = (rx - f64::from(x0), ry - f64::from(y0));
                let i = y0 as usize * rw + x0 as usize;
                vals[b] = bilerp(&px.image, i, rw, fx, fy);
                if let Some(vp) = variance {
                    vars[b] = valid_variance(bilerp(vp, i, rw, fx, fy));
                }
            }
            sink(ix, iy0, &vals[..n], &vars[..n]);
            return true;
        }
        for (b, &(x, y)) in positions.iter().enumerate() {
            vals[b] = f64::NAN;
            vars[b] = f64::NAN;
            let (rx, ry) = (x - ox, y - oy);
            // Positions whose nearest pixel is outside the region (or NaN) sample nothing on any path: sample()
            // rejects them by this very test (floor(h) < 0 iff h < 0, floor(h) >= n iff h >= n) and bilinear_fast
            // needs 0 <= rx < rw - 1. Tiles that several coadds share are mostly outside each one's region.
            let (hx, hy) = (rx + 0.5, ry + 0.5);
            if !(hx >= 0.0 && hy >= 0.0 && hx < rwf && hy < rhf) {
                continue;
            }
            let taps = if inside {
                // As bilinear_fast, whose bounds checks the row has passed (truncation is the floor here).
                let (x0, y0) = (rx as i32, ry as i32);
                bilinear_taps(&px.image, y0 as usize * rw + x0 as usize, rw, rx - f64::from(x0), ry - f64::from(y0))
            } else if bilinear {
                bilinear_fast(&px.image, rw, rh, rx, ry)
            } else {
                None
            };
            if let Some((k, w)) = taps {
                vals[b] = apply4(&px.image, k, rw, &w);
                if let Some(vp) = variance {
                    vars[b] = valid_variance(apply4(vp, k, rw, &w));
                }
                continue;
            }
            if !(rx.is_finite() && ry.is_finite()) {
                continue;
            }
            if let Some(v) = sample(&px.image, rw, rh, rx, ry, interp) {
                vals[b] = v;
                if let Some(vp) = variance {
                    vars[b] = sample(vp, rw, rh, rx, ry, interp).map_or(f64::NAN, valid_variance);
                }
            }
        }
        let any = vals[..n].iter().any(|v| !v.is_nan());
        if any {
            sink(ix, iy0, &vals[..n], &vars[..n]);
        }
        any
    }
}

/// Bilinear value of `plane` between taps `i`, `i + 1`, `i + rw`, `i + rw + 1` at fractions (fx, fy).
#[inline(always)]
fn bilerp(plane: &[f32], i: usize, rw: usize, fx: f64, fy: f64) -> f64 {
    let (r0, r1) = (&plane[i..i + 2], &plane[i + rw..i + rw + 2]);
    let top = f64::from(r0[0]) + (f64::from(r0[1]) - f64::from(r0[0])) * fx;
    let bottom = f64::from(r1[0]) + (f64::from(r1[1]) - f64::from(r1[0])) * fx;
    top + (bottom - top) * fy
}

/// A variance usable as a weight (positive and finite), NaN otherwise.
#[inline(always)]
fn valid_variance(v: f64) -> f64 {
    if v > 0.0 && v.is_finite() {
        v
    } else {
        f64::NAN
    }
}

/// Sample a plane at (x, y) (region coordinates). `None` when the nearest pixel is outside or blank.
#[inline]
fn sample(img: &[f32], rw: usize, rh: usize, x: f64, y: f64, interp: Interp) -> Option<f64> {
    let (nx, ny) = (ifloor(x + 0.5), ifloor(y + 0.5));
    if nx < 0 || ny < 0 || nx >= rw as i64 || ny >= rh as i64 {
        return None;
    }
    let nearest = f64::from(img[ny as usize * rw + nx as usize]);
    if nearest.is_nan() {
        return None;
    }
    let taps = |x0: i64, y0: i64, wx: &[f64], wy: &[f64]| -> Option<f64> {
        let (mut s, mut ws) = (0.0, 0.0);
        for (j, &fy) in wy.iter().enumerate() {
            let yy = y0 + j as i64;
            if yy < 0 || yy >= rh as i64 || fy == 0.0 {
                continue;
            }
            let row = &img[yy as usize * rw..(yy as usize + 1) * rw];
            for (i, &fx) in wx.iter().enumerate() {
                let xx = x0 + i as i64;
                if xx < 0 || xx >= rw as i64 || fx == 0.0 {
                    continue;
                }
                let v = row[xx as usize];
                if !v.is_nan() {
                    s += fx * fy * f64::from(v);
                    ws += fx * fy;
                }
            }
        }
        (ws > 0.0).then(|| s / ws)
    };
    match interp {
        Interp::Nearest => Some(nearest),
        Interp::Bilinear => {
            let (x0, y0) = (x.floor(), y.floor());
            let (fx, fy) = (x - x0, y - y0);
            taps(x0 as i64, y0 as i64, &[1.0 - fx, fx], &[1.0 - fy, fy]).or(Some(nearest))
        }
        Interp::Lanczos3 => {
            let (x0, y0) = (x.floor(), y.floor());
            let (fx, fy) = (x - x0, y - y0);
            let wx: [f64; 6] = std::array::from_fn(|i| lanczos3(fx - (i as f64 - 2.0)));
            let wy: [f64; 6] = std::array::from_fn(|i| lanczos3(fy - (i as f64 - 2.0)));
            taps(x0 as i64 - 2, y0 as i64 - 2, &wx, &wy).or(Some(nearest))
        }
    }
}

pub(super) fn lanczos3(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        return 1.0;
    }
    if x.abs() >= 3.0 {
        return 0.0;
    }
    let px = std::f64::consts::PI * x;
    3.0 * px.sin() * (px / 3.0).sin() / (px * px)
}

/// Floor of a position coordinate as an integer, without a libm call (positions far outside are rejected anyway).
#[inline(always)]
fn ifloor(x: f64) -> i64 {
    let t = x as i64;
    if (t as f64) > x {
        t - 1
    } else {
        t
    }
}

/// Bilinear taps of a position fully inside the region with four valid neighbours: (index of the top-left tap,
/// weights). `None` sends the caller to the general path.
#[inline(always)]
fn bilinear_fast(img: &[f32], rw: usize, rh: usize, x: f64, y: f64) -> Option<(usize, [f64; 4])> {
    let (x0, y0) = (ifloor(x), ifloor(y));
    if x0 < 0 || y0 < 0 || x0 + 1 >= rw as i64 || y0 + 1 >= rh as i64 {
        return None;
    }
    bilinear_taps(img, y0 as usize * rw + x0 as usize, rw, x - x0 as f64, y - y0 as f64)
}

/// Bilinear taps at top-left tap `i` and fractions (fx, fy) when the four taps are valid, `None` otherwise.
#[inline(always)]
fn bilinear_taps(img: &[f32], i: usize, rw: usize, fx: f64, fy: f64) -> Option<(usize, [f64; 4])> {
    let (a, b, c, d) = (img[i], img[i + 1], img[i + rw], img[i + rw + 1]);
    if a.is_nan() || b.is_nan() || c.is_nan() || d.is_nan() {
        return None;
    }
    Some((i, [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy]))
}

#[inline(always)]
fn apply4(plane: &[f32], i: usize, rw: usize, w: &[f64; 4]) -> f64 {
    w[0] * f64::from(plane[i])
        + w[1] * f64::from(plane[i + 1])
        + w[2] * f64::from(plane[i + rw])
        + w[3] * f64::from(plane[i + rw + 1])
}
