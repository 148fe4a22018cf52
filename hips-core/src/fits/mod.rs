//! Pure-Rust FITS reading (by byte range, from any source) and writing (images with DATASUM/CHECKSUM).
//!
//! - [`source`]: random-access byte sources (local `pread`, object-store ranged GETs, memory).
//! - [`read`]: HDU scanning (headers only) and image / region decoding to f32 or exact integers.
//! - [`compressed`]: tile-compressed images (ZIMAGE tables), decoded per tile as regions need them.
//! - [`write`]: card formatting and complete image HDUs with checksums.

pub mod compressed;
pub mod error;
pub mod gzip;
pub mod hdu;
pub mod header;
pub mod read;
pub mod source;
pub mod write;

pub use error::FitsError;
pub use header::{Card, Header, Value};
pub use read::{
    blank_masked_region, find_hdu, first_image, read_image_f32, read_image_i64, read_region_f32, read_region_i64,
    scan_hdus, Hdu, Image,
};
pub use source::{open_source, ByteSource, CountingSource, FileSource, MemSource, StoreSource};
pub use write::{append_image_hdu, empty_primary, image_hdu, PixelData};
