//! The rendering kernel: coadd pixels -> HiPS tile pixels. One code path for hipsgen's batch and hipsserve's
//! on-demand tiles.
//!
//! A tile pixel holds the input interpolated at the exact HEALPix pixel centre (no half-pixel offsets). The input
//! position of every tile pixel is computed exactly at the nodes of a coarse lattice (every [`LATTICE`] pixels) and
//! interpolated bilinearly inside each lattice cell; each cell is checked at its centre against the exact transform
//! and falls back to exact per-pixel transforms when the interpolation error exceeds [`POSITION_TOLERANCE`] input
//! pixels, so the position error stays below 0.01 input pixel everywhere (tested in `tests/kernel_positions.rs`).

use crate::coadd::{Coadd, CoaddError, CoaddPixels};
use crate::healpix::width_log2;
use crate::wcs::{self, Frame, Wcs};

/// Lattice step (tile pixels) at which positions are computed exactly.
pub const LATTICE: usize = 16;
/// Largest tolerated interpolation error of an input position, in input pixels, checked at each cell centre.
pub const POSITION_TOLERANCE: f64 = 0.002;

/// Interpolation kernel for sampling the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interp {
    /// Value of the input pixel containing the position.
    Nearest,
    /// Bilinear between the four surrounding pixel centres (the default).
    #[default]
    Bilinear,
    /// Lanczos-3 (6 x 6 taps), sharper, for well-sampled data.
    Lanczos3,
}

impl std::str::FromStr for Interp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nearest" => Ok(Interp::Nearest),
            "bilinear" => Ok(Interp::Bilinear),
            "lanczos" | "lanczos3" => Ok(Interp::Lanczos3),
            _ => Err(format!("unknown interpolation {s:?} (nearest, bilinear, lanczos3)")),
        }
    }
}

impl Interp {
    /// Extra input pixels needed around the sampled positions.
    #[must_use]
    pub fn margin(self) -> i64 {
        match self {
            Interp::Nearest => 1,
            Interp::Bilinear => 2,
            Interp::Lanczos3 => 4,
        }
    }

    /// The name written in `hips_sampling`-like metadata.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Interp::Nearest => "nearest",
            Interp::Bilinear => "bilinear",
            Interp::Lanczos3 => "lanczos3",
        }
    }
}

/// Which tile to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileSpec {
    /// HiPS order of the tile.
    pub order: u8,
    /// NESTED index of the tile at `order`.
    pub npix: u64,
    /// Tile width (a power of two).
    pub width: usize,
    /// Frame of the HiPS.
    pub frame: Frame,
}

/// Sky position (radians, HiPS frame) at continuous in-tile coordinates (u, v) along (ix, iy): pixel (ix, iy) has
/// its centre at (ix, iy); the tile's edges are at -0.5 and W - 0.5.
#[must_use]
pub fn tile_sky(spec: &TileSpec, u: f64, v: f64) -> (f64, f64) {
    let layer = cdshealpix::nested::get(spec.order);
    let (xc, yc) = layer.center_of_projected_cell(spec.npix);
    let w = spec.width as f64;
    let (dx, dy) = ((u + 0.5) / w, (v + 0.5) / w);
    let inv = 1.0 / f64::from(1u32 << spec.order);
    let mut x = xc + (dx - dy) * inv;
    let y = yc + (dx + dy - 1.0) * inv;
    if x < 0.0 {
        x += 8.0;
    }
    cdshealpix::unproj(x, y)
}

/// Input pixel position of a sky position (radians, `frame`) in a coadd's WCS.
#[inline]
fn to_input(wcs: &Wcs, frame: Frame, lonlat: (f64, f64)) -> Option<(f64, f64)> {
    let (lon, lat) = wcs::convert_rad(lonlat.0, lonlat.1, frame, wcs.frame());
    wcs.world_to_pix_rad(lon, lat)
}

/// Exact input position of the centre of in-tile pixel (ix, iy).
#[must_use]
pub fn exact_position(spec: &TileSpec, wcs: &Wcs, ix: usize, iy: usize) -> Option<(f64, f64)> {
    to_input(wcs, spec.frame, tile_sky(spec, ix as f64, iy as f64))
}

/// Input positions of every tile pixel, indexed `ix * W + iy`, NaN where the WCS cannot map the point.
/// Lattice-interpolated with per-cell error checks (see the module documentation).
#[must_use]
pub fn tile_positions(spec: &TileSpec, wcs: &Wcs) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    tile_positions_into(spec, wcs, &mut out);
    out
}

/// [`tile_positions`] into a caller's buffer (resized), so a worker thread reuses one allocation for every tile.
pub fn tile_positions_into(spec: &TileSpec, wcs: &Wcs, out: &mut Vec<(f64, f64)>) {
    let w = spec.width;
    let s = LATTICE.min(w);
    let cells = w / s;
    let nan = (f64::NAN, f64::NAN);
    // Nodes at pixel-edge coordinates k * s - 0.5.
    let node = |k: usize, l: usize| {
        to_input(wcs, spec.frame, tile_sky(spec, (k * s) as f64 - 0.5, (l * s) as f64 - 0.5)).unwrap_or(nan)
    };
    let mut nodes = Vec::with_capacity((cells + 1) * (cells + 1));
    for k in 0..=cells {
        for l in 0..=cells {
            nodes.push(node(k, l));
        }
    }
    out.clear();
    out.resize(w * w, nan);
    let sf = s as f64;
    for k in 0..cells {
        for l in 0..cells {
            let p00 = nodes[k * (cells + 1) + l];
            let p10 = nodes[(k + 1) * (cells + 1) + l];
            let p01 = nodes[k * (cells + 1) + l + 1];
            let p11 = nodes[(k + 1) * (cells + 1) + l + 1];
            let lerp = |a: f64, b: f64| {
                let x = p00.0 * (1.0 - a) * (1.0 - b) + p10.0 * a * (1.0 - b) + p01.0 * (1.0 - a) * b + p11.0 * a * b;
                let y = p00.1 * (1.0 - a) * (1.0 - b) + p10.1 * a * (1.0 - b) + p01.1 * (1.0 - a) * b + p11.1 * a * b;
                (x, y)
            };
            let corners_ok = [p00, p10, p01, p11].iter().all(|p| p.0.is_finite() && p.1.is_finite());
            let ok = corners_ok && {
                let c = ((k * s) as f64 + (sf - 1.0) / 2.0, (l * s) as f64 + (sf - 1.0) / 2.0);
                match to_input(wcs, spec.frame, tile_sky(spec, c.0, c.1)) {
                    Some(exact) => {
                        let approx = lerp(0.5, 0.5);
                        (approx.0 - exact.0).hypot(approx.1 - exact.1) <= POSITION_TOLERANCE
                    }
                    None => false,
                }
            };
            for a in 0..s {
                let ix = k * s + a;
                for b in 0..s {
                    let iy = l * s + b;
                    out[ix * w + iy] = if ok {
                        lerp((a as f64 + 0.5) / sf, (b as f64 + 0.5) / sf)
                    } else {
                        exact_position(spec, wcs, ix, iy).unwrap_or(nan)
                    };
                }
            }
        }
    }
}

/// Per-pixel accumulators for combining overlapping inputs.
#[derive(Debug, Clone)]
pub struct Accumulator {
    width: usize,
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
    /// Empty accumulators for a W x W tile.
    #[must_use]
    pub fn new(width: usize) -> Self {
        let n = width * width;
        Accumulator {
            width,
            ivw_sum: vec![0.0; n],
            ivw_w: vec![0.0; n],
            sum: vec![0.0; n],
            n: vec![0; n],
            n_novar: vec![0; n],
        }
    }

    /// Empty the accumulators for a new W x W tile, reusing their memory.
    pub fn reset(&mut self, width: usize) {
        let n = width * width;
        self.width = width;
        for v in [&mut self.ivw_sum, &mut self.ivw_w, &mut self.sum] {
            v.clear();
            v.resize(n, 0.0);
        }
        for v in [&mut self.n, &mut self.n_novar] {
            v.clear();
            v.resize(n, 0);
        }
    }

    #[inline]
    fn add(&mut self, i: usize, v: f64, var: Option<f64>) {
        self.sum[i] += v;
        self.n[i] += 1;
        match var {
            Some(var) => {
                self.ivw_sum[i] += v / var;
                self.ivw_w[i] += 1.0 / var;
            }
            None => self.n_novar[i] += 1,
        }
    }

    /// The tile in FITS array order (`data[r * W + c]`, r = W - 1 - ix, c = iy): the inverse-variance weighted mean
    /// where every contributing input has a variance, the plain mean otherwise, NaN where nothing contributed.
    #[must_use]
    pub fn finish(&self) -> Vec<f32> {
        let w = self.width;
        let mut out = vec![f32::NAN; w * w];
        for ix in 0..w {
            for iy in 0..w {
                let i = ix * w + iy;
                if self.n[i] == 0 {
                    continue;
                }
                let v = if self.n_novar[i] == 0 && self.ivw_w[i] > 0.0 {
                    self.ivw_sum[i] / self.ivw_w[i]
                } else {
                    self.sum[i] / f64::from(self.n[i])
                };
                out[(w - 1 - ix) * w + iy] = v as f32;
            }
        }
        out
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

fn lanczos3(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        return 1.0;
    }
    if x.abs() >= 3.0 {
        return 0.0;
    }
    let px = std::f64::consts::PI * x;
    3.0 * px.sin() * (px / 3.0).sin() / (px * px)
}

/// Add one coadd's contribution to a tile, given its precomputed positions. Reads only the pixel region the tile
/// needs. Returns whether any pixel was contributed.
///
/// # Errors
/// When the coadd's pixels cannot be read.
pub fn accumulate(
    acc: &mut Accumulator,
    coadd: &Coadd,
    positions: &[(f64, f64)],
    interp: Interp,
) -> Result<bool, CoaddError> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (wmax, hmax) = (coadd.width as f64 + 0.5, coadd.height as f64 + 0.5);
    for &(x, y) in positions {
        if x >= -1.0 && y >= -1.0 && x <= wmax && y <= hmax {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if !x0.is_finite() {
        return Ok(false);
    }
    let m = interp.margin();
    let region =
        coadd.read_region(x0.floor() as i64 - m, y0.floor() as i64 - m, x1.ceil() as i64 + m, y1.ceil() as i64 + m)?;
    let Some(px) = region else { return Ok(false) };
    Ok(accumulate_pixels(acc, &px, positions, interp))
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
    let i = y0 as usize * rw + x0 as usize;
    let (a, b, c, d) = (img[i], img[i + 1], img[i + rw], img[i + rw + 1]);
    if a.is_nan() || b.is_nan() || c.is_nan() || d.is_nan() {
        return None;
    }
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    Some((i, [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy]))
}

#[inline(always)]
fn apply4(plane: &[f32], i: usize, rw: usize, w: &[f64; 4]) -> f64 {
    w[0] * f64::from(plane[i])
        + w[1] * f64::from(plane[i + 1])
        + w[2] * f64::from(plane[i + rw])
        + w[3] * f64::from(plane[i + rw + 1])
}

/// Add already-read coadd pixels to a tile. Returns whether any pixel was contributed.
pub fn accumulate_pixels(acc: &mut Accumulator, px: &CoaddPixels, positions: &[(f64, f64)], interp: Interp) -> bool {
    let (ox, oy) = (px.x0 as f64, px.y0 as f64);
    let (rw, rh) = (px.width, px.height);
    let mut any = false;
    for (i, &(x, y)) in positions.iter().enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let (rx, ry) = (x - ox, y - oy);
        if interp == Interp::Bilinear {
            if let Some((k, w)) = bilinear_fast(&px.image, rw, rh, rx, ry) {
                let v = apply4(&px.image, k, rw, &w);
                let var = px.variance.as_ref().map(|vp| apply4(vp, k, rw, &w)).filter(|v| *v > 0.0 && v.is_finite());
                acc.add(i, v, var);
                any = true;
                continue;
            }
        }
        let Some(v) = sample(&px.image, rw, rh, rx, ry, interp) else { continue };
        let var = px
            .variance
            .as_ref()
            .and_then(|vp| sample(vp, rw, rh, rx, ry, interp))
            .filter(|v| *v > 0.0 && v.is_finite());
        acc.add(i, v, var);
        any = true;
    }
    any
}

/// Render one tile from the coadds overlapping it. Returns the tile in FITS array order (NaN = blank) and the
/// indices (into `coadds`) of those that contributed pixels.
///
/// # Errors
/// When a coadd's pixels cannot be read; the message names the file.
pub fn render_tile(spec: &TileSpec, coadds: &[&Coadd], interp: Interp) -> Result<(Vec<f32>, Vec<usize>), CoaddError> {
    debug_assert!(spec.width.is_power_of_two() && width_log2(spec.width) <= 12);
    let mut acc = Accumulator::new(spec.width);
    let mut used = Vec::new();
    for (i, c) in coadds.iter().enumerate() {
        let positions = tile_positions(spec, &c.wcs);
        if accumulate(&mut acc, c, &positions, interp)? {
            used.push(i);
        }
    }
    Ok((acc.finish(), used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::healpix::{fits_pixel_hash, interleave};

    #[test]
    fn tile_sky_matches_healpix_centres() {
        let spec = TileSpec { order: 5, npix: 4321, width: 64, frame: Frame::Equatorial };
        let layer = cdshealpix::nested::get(5 + 6);
        for (ix, iy) in [(0, 0), (63, 0), (0, 63), (17, 40), (63, 63)] {
            let h = spec.npix * 64 * 64 + interleave(ix, iy);
            let (a, b) = layer.center(h);
            let (c, d) = tile_sky(&spec, f64::from(ix), f64::from(iy));
            assert!((a - c).abs() < 1e-12 && (b - d).abs() < 1e-12, "{ix},{iy}");
            let r = 63 - ix as usize;
            assert_eq!(fits_pixel_hash(spec.npix, 64, r, iy as usize), h);
        }
    }

    #[test]
    fn lanczos_is_interpolating() {
        assert!((lanczos3(0.0) - 1.0).abs() < 1e-15);
        assert!(lanczos3(1.0).abs() < 1e-12 && lanczos3(2.0).abs() < 1e-12);
    }
}
