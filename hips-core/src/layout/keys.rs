//! Object keys of the HiPS layout: `NorderK/DirD/NpixN.ext` with D = (N / 10000) * 10000, `NorderK/Allsky.ext`, and
//! the progenitor index's `HpxFinder/NorderK/DirD/NpixN` (no extension).

use std::fmt::Write as _;

/// The `Dir` number of tile `npix`: (N / 10000) * 10000.
#[inline]
#[must_use]
pub fn tile_dir(npix: u64) -> u64 {
    (npix / 10_000) * 10_000
}

/// The object key of a tile: `NorderK/DirD/NpixN.ext`.
#[must_use]
pub fn tile_key(order: u8, npix: u64, ext: &str) -> String {
    let mut k = String::with_capacity(40);
    push_tile_key(&mut k, order, npix, ext);
    k
}

/// Append the key of a tile to `out` (no allocation when `out` has room: the server's hot path).
pub fn push_tile_key(out: &mut String, order: u8, npix: u64, ext: &str) {
    // Writing into a String cannot fail.
    let _ = write!(out, "Norder{order}/Dir{}/Npix{npix}.{ext}", tile_dir(npix));
}

/// The key of the Allsky mosaic of an order: `NorderK/Allsky.ext`.
#[must_use]
pub fn allsky_key(order: u8, ext: &str) -> String {
    format!("Norder{order}/Allsky.{ext}")
}

/// The key of the progenitor index file of a tile: `HpxFinder/NorderK/DirD/NpixN`.
#[must_use]
pub fn hpxfinder_key(order: u8, npix: u64) -> String {
    format!("{}/Norder{order}/Dir{}/Npix{npix}", super::HPXFINDER, tile_dir(npix))
}

/// Parse `NorderK/DirD/NpixN.ext` back into (order, npix, ext); `None` when the key is not a well-formed tile key
/// (including a Dir that does not match the Npix, or an Npix beyond the order's 12 * 4^K tiles).
#[must_use]
pub fn parse_tile_key(key: &str) -> Option<(u8, u64, &str)> {
    let mut it = key.split('/');
    let order: u8 = it.next()?.strip_prefix("Norder")?.parse().ok()?;
    let dir: u64 = it.next()?.strip_prefix("Dir")?.parse().ok()?;
    let file = it.next()?.strip_prefix("Npix")?;
    if it.next().is_some() || order > 29 {
        return None;
    }
    let (n, ext) = file.split_once('.')?;
    let npix: u64 = n.parse().ok()?;
    if dir != tile_dir(npix) || npix >= crate::healpix::n_tiles(order) {
        return None;
    }
    Some((order, npix, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_keys() {
        assert_eq!(tile_key(9, 1_744_410, "fits"), "Norder9/Dir1740000/Npix1744410.fits");
        assert_eq!(parse_tile_key("Norder9/Dir1740000/Npix1744410.fits"), Some((9, 1_744_410, "fits")));
        assert_eq!(parse_tile_key("Norder9/Dir0/Npix1744410.fits"), None);
        assert_eq!(parse_tile_key("Norder0/Dir0/Npix12.png"), None);
        assert_eq!(parse_tile_key("Norder3/Dir0/Npix1.png/x"), None);
        assert_eq!(hpxfinder_key(11, 12_345), "HpxFinder/Norder11/Dir10000/Npix12345");
        assert_eq!(allsky_key(3, "fits"), "Norder3/Allsky.fits");
        let mut k = String::from("dr1/g/");
        push_tile_key(&mut k, 3, 5, "png");
        assert_eq!(k, "dr1/g/Norder3/Dir0/Npix5.png");
    }
}
