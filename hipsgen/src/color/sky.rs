//! The sky of a band HiPS, measured on a sample of its deepest FITS tiles: the background level (median) and the
//! noise (1.4826 x the median absolute deviation). The colour defaults come from it: black at the sky, and each
//! band scaled by its noise, so that the sky is dark, noise is faint and neutral, and sources keep their colour.

use super::build::BandHips;
use super::ColorError;
use crate::preview::step::{decode_fits, list_fits_tiles};

/// Deepest tiles read to measure a band's sky (evenly spread over the sorted tile list: deterministic).
const SAMPLE_TILES: usize = 48;
/// Values kept per tile (evenly strided), so the sample stays small whatever the tile width.
const VALUES_PER_TILE: usize = 16_384;

/// Background and noise of one band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sky {
    /// Median of the sampled values.
    pub level: f64,
    /// 1.4826 x median absolute deviation from `level` (the standard deviation for Gaussian noise).
    pub noise: f64,
}

/// Measure the sky of `band` on up to 48 of its deepest tiles; `None` when they hold fewer than 100 finite values or
/// no spread (a constant image). The tiles are chosen from the band's `Moc.fits` (evenly spread over its cells at
/// the deepest order), so nothing is listed: at survey scale a listing of the deepest order is ~2e7 keys per band
/// on object storage. Without a MOC, or when no chosen cell has a tile (a MOC coarser than the tiles), the deepest
/// order is listed instead.
///
/// # Errors
/// When the MOC cannot be read, the tiles cannot be listed, or a sampled tile cannot be read or decoded.
pub fn measure(band: &BandHips) -> Result<Option<Sky>, ColorError> {
    let moc_err = |message: String| ColorError::Moc { location: band.location().to_string(), message };
    if let Some(bytes) = band.store.get("Moc.fits")? {
        let ranges = hips_core::layout::moc::read_moc_fits(&bytes).map_err(|e| moc_err(e.to_string()))?;
        let keys: Vec<String> = sample_cells(&ranges, band.order, SAMPLE_TILES)
            .into_iter()
            .map(|npix| hips_core::layout::tile_key(band.order, npix, "fits"))
            .collect();
        if let Some(sky) = sample(band, &keys)? {
            return Ok(Some(sky));
        }
    }
    let keys = list_fits_tiles(&band.store, band.order, band.order).map_err(|e| ColorError::Tile {
        key: format!("{}/Norder{}", band.location(), band.order),
        message: e.to_string(),
    })?;
    let step = keys.len().div_ceil(SAMPLE_TILES).max(1);
    let keys: Vec<String> = keys.into_iter().step_by(step).collect();
    sample(band, &keys)
}

/// The sky of the values of the tiles `keys` that exist (`None` when they hold too few values).
fn sample(band: &BandHips, keys: &[String]) -> Result<Option<Sky>, ColorError> {
    let mut values: Vec<f32> = Vec::new();
    for key in keys {
        let Some(bytes) = band.store.get(key)? else { continue };
        let (_, _, data) =
            decode_fits(key, bytes).map_err(|e| ColorError::Tile { key: key.clone(), message: e.to_string() })?;
        let stride = data.len().div_ceil(VALUES_PER_TILE).max(1);
        values.extend(data.iter().step_by(stride).copied().filter(|v| v.is_finite()));
    }
    Ok(of_values(&mut values))
}

/// Up to `n` cells at `order`, evenly spread (by rank) over the cells of the order-29 `ranges`: deterministic,
/// and linear in the number of ranges, not of cells.
fn sample_cells(ranges: &[std::ops::Range<u64>], order: u8, n: usize) -> Vec<u64> {
    let shift = 2 * (29 - u32::from(order.min(29)));
    let cells: Vec<std::ops::Range<u64>> = ranges
        .iter()
        .map(|r| (r.start >> shift)..((r.end + (1u64 << shift) - 1) >> shift))
        .filter(|r| r.end > r.start)
        .collect();
    let total: u64 = cells.iter().map(|r| r.end - r.start).sum();
    if total == 0 || n == 0 {
        return Vec::new();
    }
    let step = total.div_ceil(n as u64).max(1);
    let mut out = Vec::with_capacity(n);
    let (mut rank, mut next) = (0u64, 0u64);
    for r in &cells {
        let len = r.end - r.start;
        while next < rank + len {
            if out.last() != Some(&(r.start + next - rank)) {
                out.push(r.start + next - rank);
            }
            next += step;
        }
        rank += len;
    }
    out
}

/// Median and scaled MAD of `values` (reordered); `None` for fewer than 100 values or a zero MAD.
#[must_use]
pub fn of_values(values: &mut [f32]) -> Option<Sky> {
    if values.len() < 100 {
        return None;
    }
    let level = f64::from(median(values));
    let mut dev: Vec<f32> = values.iter().map(|&v| (f64::from(v) - level).abs() as f32).collect();
    let noise = 1.4826 * f64::from(median(&mut dev));
    (noise > 0.0 && noise.is_finite()).then_some(Sky { level, noise })
}

fn median(v: &mut [f32]) -> f32 {
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f32::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_sampled_evenly_from_the_moc() {
        // Two order-29 ranges covering order-3 cells 10..20 and 40 (one cell) at order 3.
        let shift = 2 * (29 - 3);
        let ranges = [(10u64 << shift)..(20u64 << shift), (40u64 << shift)..(41u64 << shift)];
        assert_eq!(sample_cells(&ranges, 3, 100), (10..20).chain([40]).collect::<Vec<_>>());
        assert_eq!(sample_cells(&ranges, 3, 4), vec![10, 13, 16, 19]);
        assert!(sample_cells(&[], 3, 4).is_empty());
        // A range finer than the order counts as the cell holding it.
        let fine = std::ops::Range { start: (7u64 << shift) + 5, end: (7u64 << shift) + 6 };
        assert_eq!(sample_cells(&[fine], 3, 4), vec![7]);
    }

    #[test]
    fn gaussian_noise_on_a_background() {
        // a deterministic pseudo-Gaussian (sum of 12 uniforms - 6) on a background of 50, sigma 3, plus 1% stars
        let mut x = 12345u64;
        let mut uni = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut v: Vec<f32> = (0..100_000)
            .map(|i| {
                let g: f64 = (0..12).map(|_| uni()).sum::<f64>() - 6.0;
                let star = if i % 100 == 0 { 5000.0 } else { 0.0 };
                (50.0 + 3.0 * g + star) as f32
            })
            .collect();
        let s = of_values(&mut v).expect("sky");
        assert!((s.level - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.noise - 3.0).abs() < 0.1, "{s:?}");
        assert_eq!(of_values(&mut [1.0f32; 500]), None, "no spread");
        assert_eq!(of_values(&mut [1.0f32, 2.0]), None, "too few values");
    }
}
