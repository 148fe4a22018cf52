//! The coverage MOC of a HiPS (`Moc.fits`, IVOA MOC 1.x/2.0 FITS), read with the `moc` crate into sorted order-29
//! NESTED ranges; writing (with the checks of MOC 2.0) lives in moc-tools.

use std::io::{BufReader, Cursor};
use std::ops::Range;

use moc::deser::fits::{from_fits_ivoa, MocIdxType, MocQtyType, MocType};
use moc::moc::range::RangeMOC;
use moc::moc::{CellMOCIntoIterator, CellMOCIterator, RangeMOCIntoIterator, RangeMOCIterator};
use moc::qty::Hpx;

/// Why a MOC could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MocReadError {
    /// The bytes are not a MOC FITS file the `moc` crate reads.
    #[error("not a readable MOC FITS file: {0}")]
    Fits(#[from] moc::deser::fits::error::FitsError),
    /// A MOC of another quantity (time, frequency, space-time).
    #[error("not a spatial (HEALPix) MOC")]
    NotSpatial,
}

/// Decode an IVOA MOC FITS file (cells or ranges, any index width) into sorted order-29 NESTED ranges.
///
/// # Errors
/// [`MocReadError`] when the bytes are not a spatial MOC.
pub fn read_moc_fits(bytes: &[u8]) -> Result<Vec<Range<u64>>, MocReadError> {
    let moc: RangeMOC<u64, Hpx<u64>> = match from_fits_ivoa(BufReader::new(Cursor::new(bytes)))? {
        MocIdxType::U16(MocQtyType::Hpx(MocType::Cells(m))) => {
            m.into_cell_moc_iter().ranges().convert::<u64, Hpx<u64>>().into_range_moc()
        }
        MocIdxType::U32(MocQtyType::Hpx(MocType::Cells(m))) => {
            m.into_cell_moc_iter().ranges().convert::<u64, Hpx<u64>>().into_range_moc()
        }
        MocIdxType::U64(MocQtyType::Hpx(MocType::Cells(m))) => m.into_cell_moc_iter().ranges().into_range_moc(),
        MocIdxType::U16(MocQtyType::Hpx(MocType::Ranges(m))) => m.convert::<u64, Hpx<u64>>().into_range_moc(),
        MocIdxType::U32(MocQtyType::Hpx(MocType::Ranges(m))) => m.convert::<u64, Hpx<u64>>().into_range_moc(),
        MocIdxType::U64(MocQtyType::Hpx(MocType::Ranges(m))) => m.into_range_moc(),
        _ => return Err(MocReadError::NotSpatial),
    };
    Ok(moc.into_range_moc_iter().collect())
}
