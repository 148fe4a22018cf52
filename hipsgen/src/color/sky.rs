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
/// no spread (a constant image).
///
/// # Errors
/// When the tiles cannot be listed or a sampled tile cannot be read or decoded.
pub fn measure(band: &BandHips) -> Result<Option<Sky>, ColorError> {
    let tile_err = |key: String, message: String| ColorError::Tile { key, message };
    let keys = list_fits_tiles(&band.store, band.order, band.order)
        .map_err(|e| tile_err(format!("{}/Norder{}", band.location(), band.order), e.to_string()))?;
    let step = keys.len().div_ceil(SAMPLE_TILES).max(1);
    let mut values: Vec<f32> = Vec::new();
    for key in keys.iter().step_by(step) {
        let Some(bytes) = band.store.get(key)? else { continue };
        let (_, _, data) = decode_fits(key, bytes).map_err(|e| tile_err(key.clone(), e.to_string()))?;
        let stride = data.len().div_ceil(VALUES_PER_TILE).max(1);
        values.extend(data.iter().step_by(stride).copied().filter(|v| v.is_finite()));
    }
    Ok(of_values(&mut values))
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
