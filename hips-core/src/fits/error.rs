//! The one error type of the FITS module: every variant names the source (path or URL) and, where it applies, the HDU
//! and keyword, so a failure in a run over thousands of files says which file and which card to look at.

use crate::storage::StoreError;

/// Errors from reading or scanning FITS data.
#[derive(Debug, thiserror::Error)]
pub enum FitsError {
    /// The operating system refused to open or read a local file.
    #[error("{name}: I/O error: {source}")]
    Io {
        /// Path of the file.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object store failed to open the location or read a range.
    #[error("{name}: storage error: {source}")]
    Store {
        /// URL of the object.
        name: String,
        /// The storage error.
        #[source]
        source: Box<StoreError>,
    },
    /// A read reached past the end of the source.
    #[error("{name}: truncated: {what} needs bytes {offset}..{end} but the source has {len} bytes")]
    Truncated {
        /// Path or URL.
        name: String,
        /// What was being read (e.g. "header of HDU 2", "data of HDU 1").
        what: String,
        /// First byte wanted.
        offset: u64,
        /// One past the last byte wanted.
        end: u64,
        /// Length of the source.
        len: u64,
    },
    /// The bytes are not FITS at all (no `SIMPLE = T` first card).
    #[error("{name}: not a FITS file: {reason}")]
    NotFits {
        /// Path or URL.
        name: String,
        /// What was found instead.
        reason: String,
    },
    /// A header has no `END` card before the end of the source.
    #[error("{name}: {hdu}: header has no END card before byte {len}")]
    NoEnd {
        /// Path or URL.
        name: String,
        /// HDU label, e.g. `HDU 1 (EXTNAME='IMAGE')`.
        hdu: String,
        /// Source length.
        len: u64,
    },
    /// A mandatory keyword is missing.
    #[error("{name}: {hdu}: missing keyword {key}")]
    MissingKey {
        /// Path or URL.
        name: String,
        /// HDU label.
        hdu: String,
        /// The keyword.
        key: String,
    },
    /// A keyword has a value of the wrong type or out of range.
    #[error("{name}: {hdu}: bad value for {key}: {reason}")]
    BadValue {
        /// Path or URL.
        name: String,
        /// HDU label.
        hdu: String,
        /// The keyword.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// BITPIX is not one of 8, 16, 32, 64, -32, -64 (or not allowed for this read).
    #[error("{name}: {hdu}: unsupported BITPIX {bitpix}{reason}")]
    UnsupportedBitpix {
        /// Path or URL.
        name: String,
        /// HDU label.
        hdu: String,
        /// The value found.
        bitpix: i64,
        /// Extra context (empty or starting with ": ").
        reason: String,
    },
    /// The HDU is not a 2-D image (a table, a cube, an empty HDU, a tile-compressed image...).
    #[error("{name}: {hdu}: not a 2-D image: {reason}")]
    NotAnImage {
        /// Path or URL.
        name: String,
        /// HDU label.
        hdu: String,
        /// Why.
        reason: String,
    },
    /// A requested pixel region lies outside the image.
    #[error("{name}: {hdu}: region x={x0}+{w}, y={y0}+{h} is outside the {width}x{height} image")]
    OutOfBounds {
        /// Path or URL.
        name: String,
        /// HDU label.
        hdu: String,
        /// Region origin (0-based column).
        x0: usize,
        /// Region origin (0-based row).
        y0: usize,
        /// Region width.
        w: usize,
        /// Region height.
        h: usize,
        /// Image width.
        width: usize,
        /// Image height.
        height: usize,
    },
    /// A pixel value does not fit the requested integer type after BZERO (e.g. unsigned 64-bit data).
    #[error("{name}: {hdu}: pixel value {value} + BZERO {bzero} does not fit a signed 64-bit integer")]
    Overflow {
        /// Path or URL.
        name: String,
        /// HDU label.
        hdu: String,
        /// Stored value.
        value: i64,
        /// BZERO applied.
        bzero: i64,
    },
    /// A tile-compressed image (ZIMAGE = T) whose table, keywords or compressed stream are invalid.
    #[error("{name}: {hdu}: tile-compressed image: {what}: {reason}")]
    Compressed {
        /// Path or URL.
        name: String,
        /// HDU label.
        hdu: String,
        /// The keyword, column or table row (tile) concerned, e.g. `ZTILE1` or `row 12 (COMPRESSED_DATA)`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}
