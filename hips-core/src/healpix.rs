//! HEALPix tile geometry for HiPS: the pixel order inside a tile, and the Allsky mosaic layout.
//!
//! Conventions (verified in `shared/docs/hips-notes.md`): NESTED indexing; a tile of order K and width W = 2^w holds the
//! order K + w pixels `N * W^2 + interleave(ix, iy)` (ix on the even bits); the FITS array element `data[r][c]`
//! (row r in file order) is `iy = c, ix = W - 1 - r`; PNG/JPEG rows are the FITS rows flipped (`ix = p`).

pub use crate::layout::keys::{parse_tile_key, tile_key};

/// Spread the 32 bits of `v` onto the even bits of a u64.
#[inline]
#[must_use]
pub fn spread_bits(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Collect the even bits of `x` into a u32 (inverse of [`spread_bits`]).
#[inline]
#[must_use]
pub fn compact_bits(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// The in-tile NESTED index of (ix, iy): ix on the even bits, iy on the odd bits.
#[inline]
#[must_use]
pub fn interleave(ix: u32, iy: u32) -> u64 {
    spread_bits(ix) | (spread_bits(iy) << 1)
}

/// (ix, iy) of an in-tile NESTED index.
#[inline]
#[must_use]
pub fn deinterleave(z: u64) -> (u32, u32) {
    (compact_bits(z), compact_bits(z >> 1))
}

/// log2 of a power-of-two tile width.
#[must_use]
pub fn width_log2(width: usize) -> u8 {
    width.trailing_zeros() as u8
}

/// The global NESTED index (at order K + log2 W) of FITS array element `data[r][c]` of tile `npix`.
#[inline]
#[must_use]
pub fn fits_pixel_hash(npix: u64, width: usize, r: usize, c: usize) -> u64 {
    let w = width as u64;
    npix * w * w + interleave((width - 1 - r) as u32, c as u32)
}

/// The FITS array position (r, c) of the in-tile index `z`.
#[inline]
#[must_use]
pub fn fits_rc_of(z: u64, width: usize) -> (usize, usize) {
    let (ix, iy) = deinterleave(z);
    (width - 1 - ix as usize, iy as usize)
}

/// Number of tiles at an order: 12 * 4^order.
#[must_use]
pub fn n_tiles(order: u8) -> u64 {
    12u64 << (2 * u32::from(order))
}

/// Angular size of a pixel at HEALPix depth `depth`, in degrees: sqrt(4 pi / (12 * 4^depth)).
#[must_use]
pub fn pixel_size_deg(depth: u8) -> f64 {
    (4.0 * std::f64::consts::PI / n_tiles(depth) as f64).sqrt().to_degrees()
}

/// Allsky layout: 768 order-3 tiles in 27 columns and 29 rows; tile n is at column n % 27, displayed row n / 27.
pub const ALLSKY_COLUMNS: usize = 27;
/// Number of block rows of the Allsky mosaic.
pub const ALLSKY_ROWS: usize = 29;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_roundtrip_and_children_quadrants() {
        for (ix, iy) in [(0, 0), (1, 0), (0, 1), (511, 3), (255, 510)] {
            assert_eq!(deinterleave(interleave(ix, iy)), (ix, iy));
        }
        // Child 4N+q covers ix >= W/2 when bit 0 of q is set, iy >= W/2 when bit 1 is set.
        let w = 8usize;
        for q in 0..4u64 {
            let z = q * (w as u64 / 2).pow(2);
            let (ix, iy) = deinterleave(z);
            assert_eq!(ix >= 4, q & 1 == 1);
            assert_eq!(iy >= 4, q & 2 == 2);
        }
    }

    #[test]
    fn fits_order_matches_nested_hash() {
        let w = 16;
        for (r, c) in [(0, 0), (15, 0), (0, 15), (7, 9)] {
            let h = fits_pixel_hash(5, w, r, c);
            assert_eq!(fits_rc_of(h - 5 * 256, w), (r, c));
        }
    }
}
