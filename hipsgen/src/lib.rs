//! hipsgen: turns coadd FITS images into IVOA HiPS (HEALPix tile pyramids) on object storage.
//!
//! The batch orchestration lives here; the FITS, WCS, storage and rendering kernel are in `hips-core`, shared with
//! hipsserve's on-demand tiles.

pub mod properties;
pub mod preview;
