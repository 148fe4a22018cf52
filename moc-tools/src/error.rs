//! Error type of the moc-tools library: every variant names the file, HDU, keyword or object at fault.

use thiserror::Error;

/// Errors raised while building, reading, writing or checking MOCs.
#[derive(Debug, Error)]
pub enum MocError {
    /// The bytes are not a FITS file, or the FITS structure is broken (truncated, bad cards).
    #[error("not a valid FITS file: {0}")]
    NotFits(String),
    /// The FITS file is readable but does not hold a spatial MOC binary table.
    #[error("not a MOC FITS file: {0}")]
    NotMoc(String),
    /// A header keyword is missing.
    #[error("MOC FITS HDU {hdu}: missing keyword {key}")]
    MissingKeyword {
        /// HDU number (0 = primary).
        hdu: usize,
        /// The keyword.
        key: &'static str,
    },
    /// A header keyword has a value we cannot accept.
    #[error("MOC FITS HDU {hdu}: keyword {key} = {value}: {reason}")]
    BadKeyword {
        /// HDU number (0 = primary).
        hdu: usize,
        /// The keyword.
        key: String,
        /// Its value as written in the file.
        value: String,
        /// Why it is rejected and what was expected.
        reason: String,
    },
    /// The MOC content (cells, ranges) is invalid.
    #[error("MOC content: {0}")]
    BadContent(String),
    /// A HEALPix order beyond 29, or an argument out of its domain.
    #[error("invalid argument: {0}")]
    BadArgument(String),
    /// The MOC is in another coordinate system than the operation needs.
    #[error("coordinate system mismatch: {0}")]
    FrameMismatch(String),
    /// An ASCII or JSON MOC serialization could not be parsed.
    #[error("cannot parse {format} MOC: {msg}")]
    Parse {
        /// "ASCII" or "JSON".
        format: &'static str,
        /// What is wrong, with the offending token.
        msg: String,
    },
    /// An input image could not be used.
    #[error("image {path}: {msg}")]
    Image {
        /// File name or URL of the image.
        path: String,
        /// What went wrong (HDU, keyword).
        msg: String,
    },
    /// A HiPS could not be read.
    #[error("HiPS {location}: {msg}")]
    Hips {
        /// Directory or URL of the HiPS.
        location: String,
        /// What went wrong (file, key).
        msg: String,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
