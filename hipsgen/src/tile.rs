//! Tiles as arrays and FITS objects: encoding with ORDER/NPIX and an HPX celestial WCS, decoding, the 2x2 mean
//! that makes each lower order, and the reductions used for Allsky.
//!
//! Arrays are in FITS order: `data[r * W + c]`, row 0 first in the file; in-tile HEALPix coordinates are
//! `ix = W - 1 - r`, `iy = c` (see hips-notes.md).

use hips_core::fits::FitsError;
use hips_core::wcs::Frame;

/// The value at in-tile HEALPix coordinates (ix, iy) of a FITS-order tile.
#[inline]
#[must_use]
pub fn at(data: &[f32], width: usize, ix: usize, iy: usize) -> f32 {
    data[(width - 1 - ix) * width + iy]
}

/// A complete FITS tile (primary HDU, BITPIX -32, NaN blank) with ORDER, NPIX, the HPX WCS and DATASUM/CHECKSUM,
/// from hipsgen ([`hips_core::kernel::encode_fits_tile`], shared with hipsserve's on-demand tiles).
#[must_use]
pub fn encode_fits_tile(order: u8, npix: u64, width: usize, frame: Frame, data: &[f32]) -> Vec<u8> {
    hips_core::kernel::encode_fits_tile(order, npix, width, frame, data, concat!("hipsgen ", env!("CARGO_PKG_VERSION")))
}

/// Decode a FITS tile (any BITPIX; blanks as NaN) into a square FITS-order array.
///
/// # Errors
/// When the bytes are not a FITS image, or not `width` x `width`.
pub fn decode_fits_tile(name: &str, bytes: bytes::Bytes, width: usize) -> Result<Vec<f32>, FitsError> {
    hips_core::layout::decode_fits_tile(name, bytes, width)
}

pub use hips_core::kernel::parent_from_children;

/// Reduce a FITS-order tile by an integer factor (mean of non-blank pixels of each block), keeping FITS order.
#[must_use]
pub fn reduce(data: &[f32], width: usize, factor: usize) -> Vec<f32> {
    let n = width / factor;
    let mut out = vec![f32::NAN; n * n];
    for r in 0..n {
        for c in 0..n {
            let (mut s, mut k) = (0.0f64, 0u32);
            for rr in r * factor..(r + 1) * factor {
                for v in &data[rr * width + c * factor..rr * width + (c + 1) * factor] {
                    if !v.is_nan() {
                        s += f64::from(*v);
                        k += 1;
                    }
                }
            }
            if k > 0 {
                out[r * n + c] = (s / f64::from(k)) as f32;
            }
        }
    }
    out
}

/// Size in bytes of a BITPIX -32 FITS tile: header blocks plus padded data.
#[must_use]
pub fn fits_tile_size(width: usize) -> u64 {
    let data = (width * width * 4) as u64;
    // The tile header (about 25 cards) fits in one 2880-byte block.
    2880 + data.div_ceil(2880) * 2880
}

/// Whether a tile holds no data at all.
#[must_use]
pub fn is_blank(data: &[f32]) -> bool {
    data.iter().all(|v| v.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_is_mean_of_blocks_and_quadrants_follow_the_rule() {
        let w = 4;
        let mut kids: [Option<Vec<f32>>; 4] = Default::default();
        for (q, kid) in kids.iter_mut().enumerate() {
            *kid = Some(vec![q as f32; w * w]);
        }
        if let Some(k) = kids[3].as_mut() {
            k[0] = f32::NAN;
        }
        let p = parent_from_children(&kids, w);
        for ix in 0..w {
            for iy in 0..w {
                let q = usize::from(ix >= 2) | (usize::from(iy >= 2) << 1);
                assert_eq!(at(&p, w, ix, iy), q as f32);
            }
        }
    }

    #[test]
    fn tile_roundtrip() {
        let w = 8;
        let data: Vec<f32> = (0..w * w).map(|i| if i == 3 { f32::NAN } else { i as f32 }).collect();
        let bytes = encode_fits_tile(4, 100, w, Frame::Equatorial, &data);
        let back = decode_fits_tile("t", bytes.into(), w).expect("decode");
        assert!(back[3].is_nan());
        assert_eq!(back[5], 5.0);
    }
}
