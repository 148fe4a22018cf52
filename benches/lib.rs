//! Benchmark support crate: the criterion benches live in `benches/benches/`, peer comparisons in `benches/*.sh`.
//! Shared fixtures live here so every bench measures the same kind of input.

use std::sync::Arc;

use hips_core::coadd::Coadd;
use hips_core::fits::{self, Card, MemSource, PixelData};

/// An in-memory LSST-like coadd: `n` x `n` float32 pixels at 0.2"/px on a TAN WCS centred at (150, +2) deg, with
/// pixel values from `value(column, row)` (NaN = blank).
///
/// # Panics
/// If the generated FITS cannot be opened as a coadd (a bug in the fixture, not an input condition).
#[must_use]
pub fn tan_coadd(name: &str, n: usize, value: impl Fn(usize, usize) -> f32) -> Coadd {
    let data: Vec<f32> = (0..n * n).map(|i| value(i % n, i / n)).collect();
    let s = 0.2 / 3600.0;
    let cards = [
        Card::str("CTYPE1", "RA---TAN", ""),
        Card::str("CTYPE2", "DEC--TAN", ""),
        Card::float("CRVAL1", 150.0, ""),
        Card::float("CRVAL2", 2.0, ""),
        Card::float("CRPIX1", n as f64 / 2.0, ""),
        Card::float("CRPIX2", n as f64 / 2.0, ""),
        Card::float("CD1_1", -s, ""),
        Card::float("CD1_2", 0.0, ""),
        Card::float("CD2_1", 0.0, ""),
        Card::float("CD2_2", s, ""),
    ];
    let bytes = fits::image_hdu(true, n, n, PixelData::F32(&data), &cards);
    Coadd::from_source(name, Arc::new(MemSource::new(name, bytes)), None)
        .unwrap_or_else(|e| panic!("bench fixture {name}: {e}"))
}
