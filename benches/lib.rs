//! Benchmark support crate: the criterion benches live in `benches/benches/`, peer comparisons in `benches/*.sh`.
//! Shared fixtures live here so every bench measures the same kind of input.

use std::sync::Arc;

use hips_core::coadd::Coadd;
use hips_core::fits::{self, MemSource, PixelData};

/// An in-memory LSST-like coadd: `n` x `n` float32 pixels at 0.2"/px on a TAN WCS centred at (150, +2) deg, with
/// pixel values from `value(column, row)` (NaN = blank).
///
/// # Panics
/// If the generated FITS cannot be opened as a coadd (a bug in the fixture, not an input condition).
#[must_use]
pub fn tan_coadd(name: &str, n: usize, value: impl Fn(usize, usize) -> f32) -> Coadd {
    let data: Vec<f32> = (0..n * n).map(|i| value(i % n, i / n)).collect();
    let cards = hips_core::wcs::tan_cards((150.0, 2.0), (n as f64 / 2.0, n as f64 / 2.0), 0.2 / 3600.0);
    let bytes = fits::image_hdu(true, n, n, PixelData::F32(&data), &cards);
    Coadd::from_source(name, Arc::new(MemSource::new(name, bytes)), None)
        .unwrap_or_else(|e| panic!("bench fixture {name}: {e}"))
}
