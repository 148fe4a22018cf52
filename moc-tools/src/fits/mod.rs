//! IVOA MOC FITS serialization: a writer for MOC 2.0 (NUNIQ or RANGE binary tables with every keyword
//! MOC 1.0 and 2.0 readers look for), a tolerant reader (MOC 1.0 and 2.0, NUNIQ, RANGE and RANGE29,
//! 32- and 64-bit columns) and a strict checker that lists each defect of a file with a clear message.
//!
//! The table is written by hand rather than through the `moc` crate so that the keyword set (MOCORDER for
//! 1.0 readers, MOCTOOL naming this tool, COORDSYS G for galactic MOCs) is under our control. The reader is ours
//! too (hips-core's `layout::moc` reads through the `moc` crate) because the checker must see every defect of a
//! file, where the `moc` crate stops at the first or accepts it.

mod check;
mod read;
mod write;

pub use check::check_fits_bytes;
pub use read::{from_fits_bytes, parse_raw, Header, RawMocTable};
pub use write::{moctool, to_fits_bytes, to_fits_bytes_with, FitsOrdering};

/// FITS block size in bytes.
const BLOCK: usize = 2880;
/// FITS header card size in bytes.
const CARD: usize = 80;

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_cells;
    use crate::{ranges, CoordSys, MocError};

    #[test]
    fn roundtrip_nuniq_and_range() {
        let m = from_cells(8, [5u64, 6, 7, 4, 1000, 77777]);
        for ord in [FitsOrdering::Nuniq, FitsOrdering::Range] {
            let b = to_fits_bytes_with(&m, CoordSys::Galactic, ord).expect("write");
            assert_eq!(b.len() % 2880, 0);
            let (m2, sys) = from_fits_bytes(&b).expect("read");
            assert_eq!(sys, CoordSys::Galactic);
            assert_eq!(m2.depth_max(), 8);
            assert_eq!(ranges(&m2), ranges(&m));
            assert!(check_fits_bytes(&b).is_empty(), "{:?}", check_fits_bytes(&b));
        }
    }

    #[test]
    fn not_fits() {
        assert!(matches!(from_fits_bytes(b"hello"), Err(MocError::NotFits(_))));
    }

    #[test]
    fn mutated_files_never_panic() {
        let m = from_cells(9, (0u64..500).chain([7000, 90000]));
        let good = to_fits_bytes(&m, CoordSys::Icrs).expect("write");
        let mut x = 7u64;
        for i in 0..3000 {
            let mut b = good.clone();
            for _ in 0..=(i % 8) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let pos = (x >> 33) as usize % b.len();
                b[pos] = (x >> 20) as u8;
            }
            if i % 5 == 0 {
                b.truncate((x >> 40) as usize % b.len());
            }
            let _ = from_fits_bytes(&b);
            let _ = check_fits_bytes(&b);
        }
    }
}
