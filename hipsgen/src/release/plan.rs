//! `release plan`: before any work, per HiPS and order, the tiles, bytes and estimated CPU time. Deepest tiles cost
//! what the kernel costs: a few of them are rendered (not written) to measure the CPU time per output pixel and
//! contributing coadd, and every deepest tile is charged `width^2 x coadds` of it; a lower tile costs the measured
//! time of making a parent from four children. Upper bounds: planned tiles include neighbours that may turn out
//! blank. A colour HiPS has the tiles of the union of its bands at every order; each costs what one colour tile of
//! the measured deepest tiles of its bands (real sky from the planned inputs) costs to make: three FITS tiles
//! decoded, the colour mapping of the configuration, every image format encoded; its bytes are those images' sizes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use hips_core::kernel::{self, TileSpec};

use super::{ReleaseConfig, ReleaseError};
use crate::color::{rgba_pixels, ColorJob, ColorMapper, ColorMethod, ColorParams, DEFAULT_LUPTON_RANGE};
use crate::plan::{self, Plan};
use crate::preview::encode::{image_bytes, Channels};

/// The plan of one order of one HiPS.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPlan {
    /// The order.
    pub order: u8,
    /// Tiles (upper bound).
    pub tiles: u64,
    /// Bytes of the FITS tiles.
    pub bytes: u64,
    /// Estimated CPU seconds (`None`: not estimated).
    pub cpu_s: Option<f64>,
}

/// The plan of one HiPS.
#[derive(Debug, Clone, PartialEq)]
pub struct HipsPlan {
    /// The HiPS.
    pub hips: String,
    /// Deepest order.
    pub order: u8,
    /// Inputs opened.
    pub inputs: usize,
    /// Measured CPU nanoseconds per output pixel and contributing coadd (band HiPS), or per output pixel (colour
    /// HiPS: decoding, mapping and encoding).
    pub ns_per_pixel: Option<f64>,
    /// Per order, 0 to the deepest.
    pub orders: Vec<OrderPlan>,
}

/// Deepest tiles rendered to measure the kernel's cost.
const SAMPLE: usize = 4;

/// Plan every HiPS of the release.
///
/// # Errors
/// When a band's inputs cannot be expanded or none is usable.
pub fn plan_release(cfg: &ReleaseConfig) -> Result<Vec<HipsPlan>, ReleaseError> {
    let mut out = Vec::new();
    let mut coverage: BTreeMap<String, (u8, BTreeSet<u64>)> = BTreeMap::new();
    // Per band: a rendered deepest tile (real data), its width and frame, for the colour HiPS's cost.
    let mut samples: BTreeMap<String, (Vec<f32>, usize, hips_core::wcs::Frame)> = BTreeMap::new();
    for name in cfg.bands() {
        let job = cfg.tiles_job(name, None)?;
        let inputs = plan::expand_inputs(&job.inputs).map_err(|e| ReleaseError::job(name, e))?;
        let (coadds, skipped) = plan::open_all(&inputs, job.hdu.as_ref(), &job.planes);
        let p =
            Plan::new(coadds, skipped, job.order, job.tile_width, job.frame).map_err(|e| ReleaseError::job(name, e))?;
        let w = p.width as f64;
        let (ns, sample) = measure_ns_per_pixel(&p, job.interp);
        if let Some(t) = sample {
            samples.insert(name.to_string(), (t, p.width, p.frame));
        }
        let parent_s = measure_parent_s(p.width);
        let tile_bytes = crate::tile::fits_tile_size(p.width);
        let mut orders = Vec::new();
        let mut set: BTreeSet<u64> = p.tiles.keys().copied().collect();
        coverage.insert(name.to_string(), (p.order, set.clone()));
        for o in (0..=p.order).rev() {
            let cpu = if o == p.order {
                ns.map(|ns| p.tiles.values().map(|c| (c.len().max(1) as f64) * w * w * ns * 1e-9).sum())
            } else {
                Some(set.len() as f64 * parent_s)
            };
            orders.push(OrderPlan {
                order: o,
                tiles: set.len() as u64,
                bytes: set.len() as u64 * tile_bytes,
                cpu_s: cpu,
            });
            set = set.iter().map(|t| t >> 2).collect();
        }
        orders.reverse();
        out.push(HipsPlan { hips: name.to_string(), order: p.order, inputs: p.coadds.len(), ns_per_pixel: ns, orders });
    }
    for name in cfg.colors() {
        let Some(c) = cfg.hips.get(name).and_then(|h| h.color.as_ref()) else { continue };
        let bands: Vec<&(u8, BTreeSet<u64>)> =
            [&c.red, &c.green, &c.blue].iter().filter_map(|b| coverage.get(*b)).collect();
        let order = bands.iter().map(|(o, _)| *o).max().unwrap_or(3);
        let mut set: BTreeSet<u64> = BTreeSet::new();
        for (o, s) in &bands {
            let shift = 2 * u32::from(order - o);
            // A coarser band's tile covers 4^shift tiles of the deepest order.
            for t in s {
                for k in 0..(1u64 << shift) {
                    set.insert((t << shift) + k);
                }
            }
        }
        let job = cfg.color_job(name)?;
        let band_samples: Vec<&(Vec<f32>, usize, hips_core::wcs::Frame)> =
            [&c.red, &c.green, &c.blue].iter().filter_map(|b| samples.get(*b)).collect();
        let cost = match band_samples.as_slice() {
            [r, g, b] if r.1 == g.1 && g.1 == b.1 => measure_color(&job, [&r.0, &g.0, &b.0], r.1, order, r.2),
            _ => None,
        };
        let mut orders = Vec::new();
        for o in (0..=order).rev() {
            let n = set.len() as u64;
            let (bytes, cpu_s) = match &cost {
                Some(c) => (n * c.bytes, Some(n as f64 * c.seconds)),
                None => (0, None),
            };
            orders.push(OrderPlan { order: o, tiles: n, bytes, cpu_s });
            set = set.iter().map(|t| t >> 2).collect();
        }
        orders.reverse();
        let ns_per_pixel = cost.as_ref().map(|c| c.seconds * 1e9 / c.pixels);
        out.push(HipsPlan { hips: name.to_string(), order, inputs: 0, ns_per_pixel, orders });
    }
    Ok(out)
}

/// Render up to [`SAMPLE`] deepest tiles spread over the plan and return the CPU nanoseconds per output pixel and
/// contributing coadd (`None` when nothing could be rendered), and the rendered tile with the most data.
fn measure_ns_per_pixel(p: &Plan, interp: hips_core::kernel::Interp) -> (Option<f64>, Option<Vec<f32>>) {
    let keys: Vec<(&u64, &Vec<u32>)> = p.tiles.iter().filter(|(_, c)| !c.is_empty()).collect();
    if keys.is_empty() {
        return (None, None);
    }
    let mut best: Option<(usize, Vec<f32>)> = None;
    let step = (keys.len() / SAMPLE).max(1);
    let mut ws = kernel::Workspace::default();
    let (mut units, mut elapsed) = (0f64, 0f64);
    for (npix, idx) in keys.iter().step_by(step).take(SAMPLE) {
        let coadds: Vec<&hips_core::coadd::Coadd> = idx.iter().map(|&i| &p.coadds[i as usize]).collect();
        let spec = TileSpec { order: p.order, npix: **npix, width: p.width, frame: p.frame };
        let t0 = Instant::now();
        let (tile, _) = kernel::render_tile_in(&spec, &coadds, interp, &mut ws, |_, _| {});
        elapsed += t0.elapsed().as_secs_f64();
        units += (p.width * p.width * coadds.len()) as f64;
        let valid = tile.iter().filter(|v| v.is_finite()).count();
        if valid > 0 && best.as_ref().is_none_or(|(n, _)| valid > *n) {
            best = Some((valid, tile));
        }
    }
    ((units > 0.0).then(|| elapsed * 1e9 / units), best.map(|(_, t)| t))
}

/// The measured cost of one colour tile: CPU seconds, bytes of its images, its pixels.
#[derive(Debug, Clone, Copy)]
struct ColorCost {
    seconds: f64,
    bytes: u64,
    pixels: f64,
}

/// Repetitions of the colour measurement (the fastest counts: the others met other work on the machine).
const COLOR_REPS: usize = 3;

/// Make one colour tile as `release` does (decode the three bands' FITS tiles, map with the job's method, encode
/// every format) from the bands' sample tiles, and return its CPU time and bytes. Cuts the job leaves to the bands'
/// properties (not written yet) are taken from the samples' 0.5 and 99.8 percentiles.
fn measure_color(
    job: &ColorJob,
    bands: [&[f32]; 3],
    width: usize,
    order: u8,
    frame: hips_core::wcs::Frame,
) -> Option<ColorCost> {
    let fits: [bytes::Bytes; 3] = bands.map(|b| crate::tile::encode_fits_tile(order, 0, width, frame, b).into());
    let cut = |b: &[f32], q: f64| {
        let mut v: Vec<f32> = b.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f32::total_cmp);
        v.get(((v.len() as f64 - 1.0) * q).round() as usize).map_or(0.0, |x| f64::from(*x))
    };
    let minimum = job.minimum.unwrap_or_else(|| bands.map(|b| cut(b, 0.005)));
    let maximum = job.maximum.unwrap_or_else(|| bands.map(|b| cut(b, 0.998)));
    let scale = job.scale.unwrap_or_else(|| {
        std::array::from_fn(|i| {
            let r = maximum[i] - minimum[i];
            if r > 0.0 {
                DEFAULT_LUPTON_RANGE / r
            } else {
                1.0
            }
        })
    });
    let method: ColorMethod = job.method;
    let mapper = ColorMapper::new(ColorParams { method, minimum, maximum, scale, stretch: job.stretch, q: job.q });
    let mut best: Option<(f64, u64)> = None;
    for _ in 0..COLOR_REPS {
        let t0 = Instant::now();
        let decoded: Vec<Vec<f32>> = fits
            .iter()
            .map(|b| crate::tile::decode_fits_tile("sample", b.clone(), width).ok())
            .collect::<Option<_>>()?;
        let rgba = rgba_pixels([0, 1, 2].map(|i| Some(decoded[i].as_slice())), width, width, &mapper);
        let mut bytes = 0u64;
        for &f in &job.formats {
            bytes += image_bytes(f, &rgba, width, width, Channels::Rgba, job.jpeg_quality).ok()?.len() as u64;
        }
        let s = t0.elapsed().as_secs_f64();
        if best.is_none_or(|(b, _)| s < b) {
            best = Some((s, bytes));
        }
    }
    best.map(|(s, b)| ColorCost { seconds: s, bytes: b, pixels: (width * width) as f64 })
}

/// CPU seconds of making one parent tile from four children.
fn measure_parent_s(width: usize) -> f64 {
    let kids: [Option<Vec<f32>>; 4] = std::array::from_fn(|i| Some(vec![i as f32; width * width]));
    let t0 = Instant::now();
    let parent = crate::tile::parent_from_children(&kids, width);
    let s = t0.elapsed().as_secs_f64();
    drop(parent);
    s
}
