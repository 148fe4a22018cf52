//! FITS tiles: the HPX celestial WCS of a tile and the encoding of a rendered tile as a FITS object, shared by
//! hipsgen (stored tiles) and hipsserve (tiles rendered on demand).

use crate::fits::{self, Card, PixelData};
use crate::wcs::Frame;

/// The HPX celestial WCS cards (CTYPE, CRPIX, CRVAL, CD, PV2_1/PV2_2) placing a tile of order `order`, index `npix`,
/// width `width` in the HEALPix projection (H = 4, K = 3), where HEALPix pixels are squares rotated by 45 degrees.
#[must_use]
pub fn hpx_wcs_cards(order: u8, npix: u64, width: usize, frame: Frame) -> Vec<Card> {
    let nside = f64::from(1u32 << order);
    let (xc, yc) = cdshealpix::nested::get(order).center_of_projected_cell(npix);
    // Projection-plane degrees: x = 45 X (wrapped to [-180, 180)), y = 45 Y.
    let mut xdeg = 45.0 * xc;
    if xdeg >= 180.0 {
        xdeg -= 360.0;
    }
    let ydeg = 45.0 * yc;
    let w = width as f64;
    let k = 45.0 / (w * nside);
    // x = xdeg + k (W + 1 - p1 - p2) ... from ix = W - p2, iy = p1 - 1 (FITS 1-based pixel p1 = column, p2 = row).
    let a = w + 1.0 + xdeg / k;
    let b = (45.0 / nside - ydeg) / k - w;
    let (crpix1, crpix2) = ((a + b) / 2.0, (a - b) / 2.0);
    let (c1, c2) = match frame {
        Frame::Equatorial => ("RA---HPX", "DEC--HPX"),
        Frame::Galactic => ("GLON-HPX", "GLAT-HPX"),
    };
    let mut cards = vec![
        Card::str("CTYPE1", c1, "HEALPix projection"),
        Card::str("CTYPE2", c2, "HEALPix projection"),
        Card::float("CRPIX1", crpix1, "reference pixel"),
        Card::float("CRPIX2", crpix2, "reference pixel"),
        Card::float("CRVAL1", 0.0, ""),
        Card::float("CRVAL2", 0.0, ""),
        Card::float("CD1_1", -k, ""),
        Card::float("CD1_2", -k, ""),
        Card::float("CD2_1", k, ""),
        Card::float("CD2_2", -k, ""),
        Card::int("PV2_1", 4, "HPX H"),
        Card::int("PV2_2", 3, "HPX K"),
    ];
    if frame == Frame::Equatorial {
        cards.push(Card::str("RADESYS", "ICRS", ""));
    }
    cards
}

/// A complete FITS tile (primary HDU, BITPIX -32, NaN blank) with ORDER, NPIX, the HPX WCS, ORIGIN = `origin` and
/// DATASUM/CHECKSUM; `data` in FITS order (`data[r * W + c]`, as [`super::render_tile`] returns it).
#[must_use]
pub fn encode_fits_tile(order: u8, npix: u64, width: usize, frame: Frame, data: &[f32], origin: &str) -> Vec<u8> {
    let mut cards = vec![
        Card::int("ORDER", i64::from(order), "HEALPix order"),
        Card::int("NPIX", npix as i64, "HEALPix NESTED index"),
    ];
    cards.extend(hpx_wcs_cards(order, npix, width, frame));
    cards.push(Card::str("ORIGIN", origin, ""));
    fits::image_hdu(true, width, width, PixelData::F32(data), &cards)
}
