//! hips2fits pixels from a HiPS's FITS tiles: each output pixel's position falls in one tile pixel of the order whose
//! pixels are just finer than the output's (capped at the deepest order served); the value is the bilinear
//! interpolation of the four tile pixels around it inside that tile (the nearest pixel on the tile's border). Tiles
//! are read from storage, or rendered on demand when the HiPS renders.

use std::collections::HashMap;

use super::sample::render_failure;
use super::{busy, Failure};
use crate::catalog::Hips;
use crate::services::ondemand::{bounded, tile_pixels, Unfinished};
use crate::state::State;
use hips_core::error_chain;
use hips_core::wcs::Wcs;

/// The most tiles one image is sampled from.
const MAX_TILES: usize = 1024;

fn tile_width(h: &Hips) -> usize {
    h.prop("hips_tile_width").and_then(|w| w.trim().parse().ok()).filter(|w: &usize| w.is_power_of_two()).unwrap_or(512)
}

/// The pixel size (degrees) of `h`'s tiles at `order`.
pub(super) fn pixel_deg(order: u8, h: &Hips) -> f64 {
    let cells = 12.0 * 4f64.powi(i32::from(order));
    (4.0 * std::f64::consts::PI / cells).sqrt().to_degrees() / tile_width(h) as f64
}

/// The output pixels (FITS order) sampled from the tiles.
///
/// # Errors
/// Too many tiles (400), a tile that cannot be read or rendered (502), busy (503).
pub(super) async fn sample(
    state: &State,
    h: &Hips,
    wcs: Wcs,
    width: usize,
    height: usize,
) -> Result<Vec<f32>, Failure> {
    let deepest = if h.renders { h.deepest() } else { h.stored_order }.unwrap_or(0);
    let scale = wcs.pixel_scale_deg();
    let order = (0..=deepest).find(|&o| pixel_deg(o, h) <= scale).unwrap_or(deepest);
    let frame = h.frame();
    let unfinished = |e| match e {
        Unfinished::Busy => busy(state),
        Unfinished::Failed(m) => render_failure(m),
    };
    let locs: Vec<Option<(u64, f64, f64)>> = bounded(state, move || {
        let layer = cdshealpix::nested::get(order);
        let mut out = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                out.push(
                    wcs.pix_to_sky_rad(x as f64, y as f64, frame).map(|(lon, lat)| layer.hash_with_dxdy(lon, lat)),
                );
            }
        }
        out
    })
    .await
    .map_err(unfinished)?;
    let mut tiles: HashMap<u64, Option<Vec<f32>>> = HashMap::new();
    for (n, ..) in locs.iter().flatten() {
        if tiles.contains_key(n) {
            continue;
        }
        if tiles.len() >= MAX_TILES {
            return Err(Failure::bad("fov", format!("the field covers more than {MAX_TILES} order-{order} tiles")));
        }
        if !h.covers(order, *n) {
            tiles.insert(*n, None);
            continue;
        }
        let data = tile_pixels(state, h, order, *n).await.map_err(|e| render_failure(error_chain(&*e)))?;
        tiles.insert(*n, data);
    }
    let w = tile_width(h);
    bounded(state, move || {
        let at = |d: &[f32], ix: usize, iy: usize| d.get((w - 1 - ix) * w + iy).copied().unwrap_or(f32::NAN);
        locs.iter()
            .map(|l| {
                let (n, dx, dy) = (*l)?;
                let d = tiles.get(&n)?.as_deref()?;
                let (x, y) = (dx * w as f64 - 0.5, dy * w as f64 - 0.5);
                let max = (w - 1) as f64;
                if x < 0.0 || y < 0.0 || x > max || y > max {
                    let (ix, iy) = (x.round().clamp(0.0, max) as usize, y.round().clamp(0.0, max) as usize);
                    return Some(at(d, ix, iy));
                }
                let (x0, y0) = (x.floor().min(max - 1.0), y.floor().min(max - 1.0));
                let (fx, fy) = (x - x0, y - y0);
                let (ix, iy) = (x0 as usize, y0 as usize);
                let v = [at(d, ix, iy), at(d, ix + 1, iy), at(d, ix, iy + 1), at(d, ix + 1, iy + 1)].map(f64::from);
                let top = v[0] * (1.0 - fx) + v[1] * fx;
                let bottom = v[2] * (1.0 - fx) + v[3] * fx;
                Some((top * (1.0 - fy) + bottom * fy) as f32)
            })
            .map(|v| v.unwrap_or(f32::NAN))
            .collect()
    })
    .await
    .map_err(unfinished)
}
