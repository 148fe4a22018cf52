//! Coverage of the valid pixels of FITS images (`moc-tools from-images`).
//!
//! Images are opened with `hips_core::coadd::Coadd`, which picks the IMAGE HDU of LSST multi-extension files
//! and turns blanks, NaN and pixels whose MASK carries the NO_DATA bit (`MP_NO_DATA`) into NaN.
//!
//! * Exact mode: a cell is in when a valid pixel centre falls in it. Pixel centres are mapped through the WCS,
//!   converted to the output frame and hashed at the requested order; strips of rows are processed in parallel,
//!   and 8 x 8 pixel blocks whose four corner pixels fall in one cell add that cell without mapping every pixel. When the cells at the order are smaller
//!   than a pixel (cell size < 2 x pixel scale), each valid pixel is instead sampled on an (n+1) x (n+1) grid of
//!   points spanning the pixel area (edges included) with a step of at most half a cell, so the cells the pixel
//!   covers are found (a cell touched only by a sliver narrower than half a cell may be missed).
//! * Polygon mode: the image outline (pixel edges, 16 points per side) becomes a polygon whose HEALPix coverage
//!   (cells overlapping the polygon) is the MOC; blank pixels are ignored. Fast, and a superset of exact mode.

use crate::{from_cells_vec, ops, CoordSys, MocError, SMoc};
use hips_core::coadd::{Coadd, CoaddPixels, HduSelector};
use hips_core::wcs::{self, Frame};
use rayon::prelude::*;

/// How the coverage of an image is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// One cell per valid pixel (sub-sampled when pixels are larger than cells).
    Exact,
    /// Coverage of the image outline polygon.
    Polygon,
}

/// Options of [`from_image`].
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// HEALPix order of the MOC.
    pub order: u8,
    /// Frame of the MOC (positions are converted from the image's frame).
    pub frame: CoordSys,
    /// Exact or polygon.
    pub mode: ImageMode,
    /// Which HDU holds the image (default: IMAGE by name, else the first image HDU).
    pub hdu: Option<HduSelector>,
    /// Rows per parallel work unit.
    pub rows_per_strip: usize,
}

impl ImageOptions {
    /// Exact mode at `order` in ICRS.
    pub fn new(order: u8) -> Self {
        ImageOptions { order, frame: CoordSys::Icrs, mode: ImageMode::Exact, hdu: None, rows_per_strip: 64 }
    }
}

/// The hips-core frame of a MOC frame.
pub fn to_frame(sys: CoordSys) -> Frame {
    match sys {
        CoordSys::Icrs => Frame::Equatorial,
        CoordSys::Galactic => Frame::Galactic,
    }
}

fn img_err(path: &str, msg: impl std::fmt::Display) -> MocError {
    MocError::Image { path: path.to_string(), msg: msg.to_string() }
}

/// MOC of one image (path or URL).
///
/// # Errors
/// When the image cannot be opened, has no celestial WCS, or a region cannot be read.
pub fn from_image(location: &str, opts: &ImageOptions) -> Result<SMoc, MocError> {
    crate::check_order(opts.order)?;
    let coadd = Coadd::open(location, opts.hdu.as_ref()).map_err(|e| img_err(location, e))?;
    from_coadd(&coadd, opts)
}

/// MOC of the union of several images, processed in parallel.
///
/// # Errors
/// The first error of [`from_image`] among the images.
pub fn from_images(locations: &[String], opts: &ImageOptions) -> Result<SMoc, MocError> {
    crate::check_order(opts.order)?;
    let mocs: Vec<SMoc> = locations.par_iter().map(|l| from_image(l, opts)).collect::<Result<_, _>>()?;
    let mut u = ops::union_many(&mocs);
    if u.depth_max() != opts.order {
        u = crate::with_depth_max(&u, opts.order);
    }
    Ok(u)
}

/// MOC of an opened image.
///
/// # Errors
/// When a region of the image cannot be read, or the order is invalid.
pub fn from_coadd(c: &Coadd, opts: &ImageOptions) -> Result<SMoc, MocError> {
    crate::check_order(opts.order)?;
    // the variance plane plays no part in coverage: do not read it
    let mut c = c.clone();
    c.variance = None;
    let c = &c;
    match opts.mode {
        ImageMode::Polygon => polygon_moc(c, opts),
        ImageMode::Exact => exact_moc(c, opts),
    }
}

fn polygon_moc(c: &Coadd, opts: &ImageOptions) -> Result<SMoc, MocError> {
    let pts = c.footprint(to_frame(opts.frame), 16);
    if pts.len() < 3 {
        return Err(img_err(&c.name, "the WCS maps fewer than 3 outline points to the sky; use exact mode"));
    }
    let v: Vec<(f64, f64)> = pts.iter().map(|&(l, b)| (l.to_radians(), b.to_radians())).collect();
    let moc = SMoc::from_polygon(&v, false, opts.order, moc::moc::range::CellSelection::All);
    Ok(crate::with_depth_max(&moc, opts.order))
}

/// Number of sub-samples per pixel side so that the sampling step is at most half a cell.
fn subsamples(c: &Coadd, order: u8) -> usize {
    let pix = c.wcs.pixel_scale_deg();
    let cell = hips_core::healpix::pixel_size_deg(order);
    if !(pix.is_finite() && pix > 0.0) || cell >= 2.0 * pix {
        1
    } else {
        ((2.0 * pix / cell).ceil() as usize).clamp(2, 64)
    }
}

/// Side of the pixel blocks whose four corner pixels are hashed first (see [`exact_moc`]).
const BLOCK: usize = 8;

/// Hash of the sky position of pixel (x, y): WCS, frame conversion, HEALPix cell. None when the WCS fails.
struct Hasher<'a> {
    c: &'a Coadd,
    from: Frame,
    to: Frame,
    layer: &'static cdshealpix::nested::Layer,
}

impl Hasher<'_> {
    #[inline]
    fn hash(&self, x: f64, y: f64) -> Option<u64> {
        let (lon, lat) = self.c.wcs.pix_to_world_rad(x, y)?;
        let (lon, lat) = if self.from == self.to { (lon, lat) } else { wcs::convert_rad(lon, lat, self.from, self.to) };
        if !(lon.is_finite() && lat.is_finite()) {
            return None;
        }
        let lat = lat.clamp(-std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2);
        Some(self.layer.hash(lon, lat))
    }
}

/// Exact mode. With one sample per pixel, the image is cut in 8 x 8 pixel blocks: when the four corner pixel
/// centres of a block fall in the same cell, every pixel centre of the block does too (HEALPix cells are convex
/// at the scale of a few pixels: the deviation of their edges from straight lines over a block is ~1e-6 arcsec),
/// so the block adds that cell if any of its pixels is valid, without mapping each pixel. Otherwise each valid
/// pixel of the block is mapped and hashed.
fn exact_moc(c: &Coadd, opts: &ImageOptions) -> Result<SMoc, MocError> {
    let hs = Hasher { c, from: c.wcs.frame(), to: to_frame(opts.frame), layer: cdshealpix::nested::get(opts.order) };
    let n_sub = subsamples(c, opts.order);
    let rows = (opts.rows_per_strip.max(1)).div_ceil(BLOCK) * BLOCK;
    let strips: Vec<usize> = (0..c.height).step_by(rows).collect();
    let per_strip: Vec<Vec<u64>> = strips
        .par_iter()
        .map(|&y0| -> Result<Vec<u64>, MocError> {
            // rows y0..=y1: the last row is shared with the next strip so that blocks have both corners
            let y1 = (y0 + rows).min(c.height - 1);
            let Some(px) =
                c.read_region(0, y0 as i64, c.width as i64 - 1, y1 as i64).map_err(|e| img_err(&c.name, e))?
            else {
                return Ok(Vec::new());
            };
            let mut out: Vec<u64> = Vec::new();
            if n_sub == 1 {
                strip_blocks(&hs, &px, &mut out);
            } else {
                strip_subsampled(&hs, &px, n_sub, &mut out);
            }
            out.sort_unstable();
            out.dedup();
            Ok(out)
        })
        .collect::<Result<_, _>>()?;
    let mut all: Vec<u64> = per_strip.into_iter().flatten().collect();
    Ok(from_cells_vec(opts.order, &mut all))
}

fn lattice(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).step_by(BLOCK).collect();
    if v.last() != Some(&(n - 1)) {
        v.push(n - 1);
    }
    v
}

/// Every valid pixel of rows ja..=jb, columns ia..=ib of the region, hashed one by one.
fn push_pixels(hs: &Hasher, px: &CoaddPixels, (ia, ib): (usize, usize), (ja, jb): (usize, usize), out: &mut Vec<u64>) {
    let mut last = u64::MAX;
    for j in ja..=jb {
        let row = &px.image[j * px.width..(j + 1) * px.width];
        for (i, v) in row.iter().enumerate().take(ib + 1).skip(ia) {
            if v.is_nan() {
                continue;
            }
            if let Some(h) = hs.hash((px.x0 + i) as f64, (px.y0 + j) as f64) {
                if h != last {
                    out.push(h);
                    last = h;
                }
            }
        }
    }
}

fn strip_blocks(hs: &Hasher, px: &CoaddPixels, out: &mut Vec<u64>) {
    let (xs, ys) = (lattice(px.width), lattice(px.height));
    if xs.len() < 2 || ys.len() < 2 {
        push_pixels(hs, px, (0, px.width - 1), (0, px.height - 1), out);
        return;
    }
    let corner = |j: usize| -> Vec<Option<u64>> {
        xs.iter().map(|&i| hs.hash((px.x0 + i) as f64, (px.y0 + j) as f64)).collect()
    };
    let mut top = corner(ys[0]);
    for w in ys.windows(2) {
        let (ja, jb) = (w[0], w[1]);
        let bottom = corner(jb);
        for b in 0..xs.len() - 1 {
            let (ia, ib) = (xs[b], xs[b + 1]);
            let same = match (top[b], top[b + 1], bottom[b], bottom[b + 1]) {
                (Some(a), Some(b2), Some(c2), Some(d)) if a == b2 && a == c2 && a == d => Some(a),
                _ => None,
            };
            match same {
                Some(h) => {
                    let any_valid =
                        (ja..=jb).any(|j| px.image[j * px.width + ia..=j * px.width + ib].iter().any(|v| !v.is_nan()));
                    if any_valid && out.last() != Some(&h) {
                        out.push(h);
                    }
                }
                None => push_pixels(hs, px, (ia, ib), (ja, jb), out),
            }
        }
        top = bottom;
    }
}

fn strip_subsampled(hs: &Hasher, px: &CoaddPixels, n_sub: usize, out: &mut Vec<u64>) {
    let mut last = u64::MAX;
    for j in 0..px.height {
        let y = (px.y0 + j) as f64;
        let row = &px.image[j * px.width..(j + 1) * px.width];
        for (i, v) in row.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let x = (px.x0 + i) as f64;
            for a in 0..=n_sub {
                for b in 0..=n_sub {
                    let sx = x - 0.5 + a as f64 / n_sub as f64;
                    let sy = y - 0.5 + b as f64 / n_sub as f64;
                    if let Some(h) = hs.hash(sx, sy) {
                        if h != last {
                            out.push(h);
                            last = h;
                        }
                    }
                }
            }
        }
    }
}
