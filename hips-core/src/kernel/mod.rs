//! The rendering kernel: coadd pixels -> HiPS tile pixels. One code path for hipsgen's batch and hipsserve's
//! on-demand tiles.
//!
//! A tile pixel holds the input interpolated at the exact HEALPix pixel centre (no half-pixel offsets). The input
//! position of every tile pixel is computed exactly at the nodes of a coarse lattice (every [`LATTICE`] pixels) and
//! interpolated bilinearly inside each lattice cell; each cell is checked at its centre against the exact transform
//! and falls back to exact per-pixel transforms when the interpolation error exceeds [`POSITION_TOLERANCE`] input
//! pixels, so the position error stays below 0.01 input pixel everywhere (tested in `tests/kernel_positions.rs`).

mod lattice;
mod positions;
mod pyramid;
mod sample;

pub use crate::layout::tile::{encode_fits_tile, hpx_wcs_cards};
pub use lattice::Lattice;
pub use positions::PositionSampler;
pub use pyramid::parent_from_children;
pub use sample::{sample_lattice, Accumulator};

use sample::Sampler;

use crate::coadd::{Coadd, CoaddError, CoaddPixels};
use crate::healpix::width_log2;
use crate::wcs::{Frame, Wcs};

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
    wcs.sky_to_pix_rad(lonlat.0, lonlat.1, frame)
}

/// Exact input position of the centre of in-tile pixel (ix, iy).
#[must_use]
pub fn exact_position(spec: &TileSpec, wcs: &Wcs, ix: usize, iy: usize) -> Option<(f64, f64)> {
    to_input(wcs, spec.frame, tile_sky(spec, ix as f64, iy as f64))
}

/// Input positions of every tile pixel, indexed `ix * W + iy`, NaN where the WCS cannot map the point.
/// Lattice-interpolated with per-cell error checks (see the module documentation); the very positions the
/// renderer samples at.
#[must_use]
pub fn tile_positions(spec: &TileSpec, wcs: &Wcs) -> Vec<(f64, f64)> {
    let mut lattice = Lattice::default();
    lattice.build(spec, wcs);
    let w = spec.width;
    let mut out = vec![(f64::NAN, f64::NAN); w * w];
    lattice.visit_rows(|ix, iy0, positions| out[ix * w + iy0..][..positions.len()].copy_from_slice(positions));
    out
}

/// Reusable per-thread buffers for rendering tiles (a fresh multi-MB set per tile costs page faults and zeroing).
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// One lattice per candidate coadd of the tile being rendered.
    lattices: Vec<Lattice>,
    acc: Accumulator,
}

/// Render one tile from the coadds overlapping it, into FITS array order (NaN = blank). Returns the tile and the
/// indices (into `coadds`) of those that contributed pixels. A coadd whose pixels cannot be read is reported to
/// `on_error` (with its index) and left out; the others still make the tile.
///
/// When only one coadd reaches the tile it is sampled straight into the tile (its mean is its value; its variance
/// is not read); several are combined per pixel through an [`Accumulator`] (inverse-variance weights when every one
/// contributor of a pixel has a variance, the plain mean otherwise).
pub fn render_tile_in(
    spec: &TileSpec,
    coadds: &[&Coadd],
    interp: Interp,
    ws: &mut Workspace,
    mut on_error: impl FnMut(usize, CoaddError),
) -> (Vec<f32>, Vec<usize>) {
    debug_assert!(spec.width.is_power_of_two() && width_log2(spec.width) <= 12);
    let w = spec.width;
    if ws.lattices.len() < coadds.len() {
        ws.lattices.resize_with(coadds.len(), Lattice::default);
    }
    // First the pixels of every coadd that reaches the tile, then one way of combining them.
    let mut reached: Vec<(usize, CoaddPixels)> = Vec::with_capacity(coadds.len());
    for (i, c) in coadds.iter().enumerate() {
        ws.lattices[i].build(spec, &c.wcs);
        match read_pixels(&ws.lattices[i], c, interp) {
            Ok(Some(px)) => reached.push((i, px)),
            Ok(None) => {}
            Err(e) => on_error(i, e),
        }
    }
    // The variances only where several coadds reach the tile (a single one is sampled straight into the tile).
    if reached.len() > 1 {
        reached.retain_mut(|(i, px)| match coadds[*i].read_variance(px) {
            Ok(()) => true,
            Err(e) => {
                on_error(*i, e);
                false
            }
        });
    }
    let mut used = Vec::new();
    if let [(i, px)] = reached.as_slice() {
        let mut out = vec![f32::NAN; w * w];
        let any = sample_lattice(&ws.lattices[*i], px, interp, false, |ix, iy0, vals, _| {
            for (o, &v) in out[(w - 1 - ix) * w + iy0..].iter_mut().zip(vals) {
                *o = v as f32;
            }
        });
        if any {
            used.push(*i);
        }
        return (out, used);
    }
    // Inverse-variance sums only when some coadd has a variance plane (per pixel, a contributor without one
    // still turns that pixel into a plain mean).
    let ivw = reached.iter().any(|(_, px)| px.variance.is_some());
    // One band of tile rows (a lattice cell row) at a time, every coadd in turn: the band's accumulators stay in
    // cache instead of streaming whole-tile arrays through memory once per coadd. Each pixel still adds its coadds
    // in the same order, so the sums are the same.
    let samplers: Vec<(usize, Sampler)> = reached.iter().map(|(i, px)| (*i, Sampler::new(px, interp, ivw))).collect();
    let mut any = vec![false; samplers.len()];
    let mut out = vec![f32::NAN; w * w];
    let Some(&(first, _)) = samplers.first() else { return (out, used) };
    let (step, cells) = (ws.lattices[first].step(), ws.lattices[first].cells());
    for k in 0..cells {
        let ix0 = k * step;
        ws.acc.reset_rows(w, step.min(w - ix0), ivw);
        for ((i, sampler), any) in samplers.iter().zip(any.iter_mut()) {
            let acc = &mut ws.acc;
            ws.lattices[*i].visit_cell_row(k, |ix, iy0, positions| {
                *any |= sampler.row(ix, iy0, positions, &mut |ix, iy0, vals: &[f64], vars: &[f64]| {
                    acc.add_row((ix - ix0) * w + iy0, vals, vars);
                });
            });
        }
        ws.acc.finish_rows(ix0, &mut out);
    }
    used.extend(samplers.iter().zip(&any).filter(|(_, a)| **a).map(|((i, _), _)| *i));
    (out, used)
}

/// The coadd pixels a tile needs (its positions' bounding box plus the interpolation margin), read by byte range,
/// without the variance; `None` when the tile does not reach the image.
fn read_pixels(lattice: &Lattice, coadd: &Coadd, interp: Interp) -> Result<Option<CoaddPixels>, CoaddError> {
    let Some((x0, y0, x1, y1)) = lattice.bbox() else { return Ok(None) };
    let m = interp.margin();
    // Clamp before converting so far-away positions cannot overflow; read_region_image clips to the image.
    let lim = |v: f64, n: usize| v.clamp(-(m as f64) - 2.0, n as f64 + m as f64 + 2.0);
    coadd.read_region_image(
        lim(x0, coadd.width).floor() as i64 - m,
        lim(y0, coadd.height).floor() as i64 - m,
        lim(x1, coadd.width).ceil() as i64 + m,
        lim(y1, coadd.height).ceil() as i64 + m,
    )
}

/// Render one tile from the coadds overlapping it (see [`render_tile_in`]), failing on the first unreadable coadd.
///
/// # Errors
/// When a coadd's pixels cannot be read; the message names the file.
pub fn render_tile(spec: &TileSpec, coadds: &[&Coadd], interp: Interp) -> Result<(Vec<f32>, Vec<usize>), CoaddError> {
    let mut first = None;
    let res = render_tile_in(spec, coadds, interp, &mut Workspace::default(), |_, e| {
        first.get_or_insert(e);
    });
    match first {
        Some(e) => Err(e),
        None => Ok(res),
    }
}

#[cfg(test)]
mod tests {
    use super::sample::lanczos3;
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
