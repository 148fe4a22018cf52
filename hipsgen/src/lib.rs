//! hipsgen: turns coadd FITS images into IVOA HiPS (HEALPix tile pyramids) on object storage.
//!
//! The crate is a library first: the CLI in `main.rs` and hipsserve's on-demand tiles use the same rendering kernel.

pub mod fits;
pub mod storage;
pub mod wcs;
