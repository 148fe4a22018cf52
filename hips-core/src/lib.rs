//! hips-core: the pieces every HiPS tool shares: FITS I/O by byte range, celestial WCS, HEALPix tile geometry,
//! the rendering kernel (coadd pixels -> tile pixels), the HiPS layout (keys, properties, tiles, MOC, progenitor
//! records) and the object-storage seam.
//!
//! hipsgen (batch), hipsserve (on-demand tiles and cutouts) and moc-tools (coverage from images) all build on it,
//! so a tile rendered by the server is the tile the batch would have written.

pub mod coadd;
pub mod cutout;
pub mod fits;
pub mod healpix;
pub mod kernel;
pub mod layout;
pub mod preview;
pub mod storage;
pub mod term;
pub mod wcs;

/// The error and its causes on one line, `: `-separated, for reports and logs.
#[must_use]
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
