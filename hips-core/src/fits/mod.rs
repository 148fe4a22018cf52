//! Pure-Rust FITS reading (by byte range, from any source) and writing (images with DATASUM/CHECKSUM).

pub mod header;

pub use header::{Card, Header, Value};
