//! `release plan`: before any work, per HiPS and order, the tiles, bytes and estimated CPU time. Deepest tiles cost
//! what the kernel costs: a few of them are rendered (not written) to measure the CPU time per output pixel and
//! contributing coadd, and every deepest tile is charged `width^2 x coadds` of it; a lower tile costs the measured
//! time of making a parent from four children. Upper bounds: planned tiles include neighbours that may turn out
//! blank. A colour HiPS has the tiles of the union of its bands (its cost is not measured: it is a few percent of
//! the bands', one pass over already-rendered tiles).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use hips_core::kernel::{self, TileSpec};

use super::{ReleaseConfig, ReleaseError};
use crate::plan::{self, Plan};

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
    /// Measured CPU nanoseconds per output pixel and contributing coadd (band HiPS).
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
    for name in cfg.bands() {
        let job = cfg.tiles_job(name, None)?;
        let inputs = plan::expand_inputs(&job.inputs).map_err(|e| ReleaseError::job(name, e))?;
        let (coadds, skipped) = plan::open_all(&inputs, job.hdu.as_ref(), &job.planes);
        let p =
            Plan::new(coadds, skipped, job.order, job.tile_width, job.frame).map_err(|e| ReleaseError::job(name, e))?;
        let w = p.width as f64;
        let ns = measure_ns_per_pixel(&p, job.interp);
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
        let mut orders = Vec::new();
        for o in (0..=order).rev() {
            orders.push(OrderPlan { order: o, tiles: set.len() as u64, bytes: 0, cpu_s: None });
            set = set.iter().map(|t| t >> 2).collect();
        }
        orders.reverse();
        out.push(HipsPlan { hips: name.to_string(), order, inputs: 0, ns_per_pixel: None, orders });
    }
    Ok(out)
}

/// Render up to [`SAMPLE`] deepest tiles spread over the plan and return the CPU nanoseconds per output pixel and
/// contributing coadd (`None` when nothing could be rendered).
fn measure_ns_per_pixel(p: &Plan, interp: hips_core::kernel::Interp) -> Option<f64> {
    let keys: Vec<(&u64, &Vec<u32>)> = p.tiles.iter().filter(|(_, c)| !c.is_empty()).collect();
    if keys.is_empty() {
        return None;
    }
    let step = (keys.len() / SAMPLE).max(1);
    let mut ws = kernel::Workspace::default();
    let (mut units, mut elapsed) = (0f64, 0f64);
    for (npix, idx) in keys.iter().step_by(step).take(SAMPLE) {
        let coadds: Vec<&hips_core::coadd::Coadd> = idx.iter().map(|&i| &p.coadds[i as usize]).collect();
        let spec = TileSpec { order: p.order, npix: **npix, width: p.width, frame: p.frame };
        let t0 = Instant::now();
        let _ = kernel::render_tile_in(&spec, &coadds, interp, &mut ws, |_, _| {});
        elapsed += t0.elapsed().as_secs_f64();
        units += (p.width * p.width * coadds.len()) as f64;
    }
    (units > 0.0).then(|| elapsed * 1e9 / units)
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
