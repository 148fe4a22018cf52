//! The HiPS layout, written once: object keys (tiles, Allsky, HpxFinder), the `properties` file, FITS tiles, the
//! coverage MOC and the progenitor records, for the generator that writes them and every tool that reads them.
//!
//! The tile index is called `npix` everywhere, as in the key `NorderK/DirD/NpixN.ext`.

pub mod keys;
pub mod moc;
pub mod progenitor;
pub mod properties;
pub mod tile;

pub use keys::{allsky_key, hpxfinder_key, parse_tile_key, push_tile_key, tile_dir, tile_key};
pub use progenitor::ProgenitorRecord;
pub use properties::{Properties, PropertiesError};
pub use tile::{decode_fits_tile, encode_fits_tile};

/// The key of the properties file in a HiPS folder.
pub const PROPERTIES: &str = "properties";
/// The key of the coverage MOC in a HiPS folder.
pub const MOC: &str = "Moc.fits";
/// The key of the HiPS's web page.
pub const INDEX_HTML: &str = "index.html";
/// The folder of the progenitor index.
pub const HPXFINDER: &str = "HpxFinder";
