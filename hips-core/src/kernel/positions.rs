//! The tile kernel's sampling at arbitrary input positions: grids other than HEALPix tiles (hipsserve's mosaics on a
//! TAN grid) sample coadd pixels with exactly the arithmetic tiles use (bilinear at exact positions, the same blank
//! handling and the same variance sampling).

use super::sample::Sampler;
use super::{Interp, LATTICE};
use crate::coadd::CoaddPixels;

/// Samples one coadd region's pixels at any positions (0-based input pixel coordinates of the full image).
#[derive(Debug, Clone, Copy)]
pub struct PositionSampler<'a>(Sampler<'a>);

impl<'a> PositionSampler<'a> {
    /// A sampler of `px` with kernel `interp`; variances are sampled when `with_variance` and `px` has them.
    #[must_use]
    pub fn new(px: &'a CoaddPixels, interp: Interp, with_variance: bool) -> Self {
        PositionSampler(Sampler::new(px, interp, with_variance))
    }

    /// Sample every position into `vals` (NaN where nothing is sampled) and `vars` (NaN where there is no usable
    /// variance); both must be as long as `positions`. Returns whether any value was sampled.
    pub fn sample(&self, positions: &[(f64, f64)], vals: &mut [f64], vars: &mut [f64]) -> bool {
        vals.fill(f64::NAN);
        vars.fill(f64::NAN);
        let mut any = false;
        for (k, chunk) in positions.chunks(LATTICE).enumerate() {
            let at = k * LATTICE;
            any |= self.0.row(0, at, chunk, &mut |_, i0, v: &[f64], w: &[f64]| {
                vals[i0..i0 + v.len()].copy_from_slice(v);
                vars[i0..i0 + w.len()].copy_from_slice(w);
            });
        }
        any
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn positions_sample_bilinearly_and_skip_the_outside() {
        let image: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let px = CoaddPixels { x0: 10, y0: 20, width: 4, height: 4, image, variance: Some(vec![2.0; 16]) };
        let s = PositionSampler::new(&px, Interp::Bilinear, true);
        let pos: Vec<(f64, f64)> = (0..40).map(|i| if i == 3 { (0.0, 0.0) } else { (11.5, 21.25) }).collect();
        let (mut v, mut w) = (vec![0.0; 40], vec![0.0; 40]);
        assert!(s.sample(&pos, &mut v, &mut w));
        assert!((v[0] - (1.5 + 4.0 * 1.25)).abs() < 1e-12, "{}", v[0]);
        assert!((v[39] - v[0]).abs() < 1e-12 && (w[17] - 2.0).abs() < 1e-12);
        assert!(v[3].is_nan() && w[3].is_nan(), "outside the region");
    }
}
