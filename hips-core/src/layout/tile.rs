//! FITS tiles: the HPX celestial WCS of a tile, the encoding of a rendered tile as a FITS object (hipsgen's stored
//! tiles and hipsserve's tiles rendered on demand) and the decoding of a stored tile back into an array.

use crate::fits::{self, Card, FitsError, MemSource, PixelData};
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
    let (crpix1, crpix2) = (f64::midpoint(a, b), (a - b) / 2.0);
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
/// DATASUM/CHECKSUM; `data` in FITS order (`data[r * W + c]`, as [`crate::kernel::render_tile`] returns it).
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

/// Decode a FITS tile (the first HDU; any BITPIX, BSCALE/BZERO applied, blanks as NaN) into a square FITS-order array
/// (`data[r * W + c]`); `name` is what errors show.
///
/// # Errors
/// When the bytes are not a FITS image, or not `width` x `width`.
pub fn decode_fits_tile(name: &str, bytes: impl Into<bytes::Bytes>, width: usize) -> Result<Vec<f32>, FitsError> {
    let src = MemSource::new(name, bytes);
    let hdus = fits::scan_hdus(&src)?;
    let hdu = hdus.first().ok_or_else(|| FitsError::NotFits { name: name.to_string(), reason: "no HDU".into() })?;
    let img = fits::read_image_f32(&src, hdu)?;
    if img.width != width || img.height != width {
        return Err(FitsError::NotFits {
            name: name.to_string(),
            reason: format!("tile is {}x{}, expected {width}x{width}", img.width, img.height),
        });
    }
    Ok(img.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_roundtrip() {
        let w = 8;
        let data: Vec<f32> = (0..w * w).map(|i| if i % 7 == 0 { f32::NAN } else { i as f32 * 0.5 }).collect();
        let bytes = encode_fits_tile(3, 17, w, Frame::Equatorial, &data, "test");
        let back = decode_fits_tile("t", bytes.clone(), w).expect("decode");
        assert!(back.iter().zip(&data).all(|(a, b)| a == b || (a.is_nan() && b.is_nan())));
        let e = decode_fits_tile("Norder3/Dir0/Npix17.fits", bytes, 16).expect_err("wrong width");
        assert!(e.to_string().contains("Npix17") && e.to_string().contains("8x8"), "{e}");
    }
}
