//! MOC (Multi-Order Coverage map) building, set operations and IVOA MOC 2.0 serialization.
//!
//! The MOC type is the `moc` crate's [`RangeMOC`] over HEALPix NESTED cells stored as ranges at order 29
//! ([`SMoc`]). This crate adds what the pipeline needs around it: constructors from cells, images and HiPS
//! tiles, an IVOA MOC 2.0 FITS writer carrying every keyword readers look for, a tolerant reader (MOC 1.0 and
//! 2.0, NUNIQ and RANGE, 32- and 64-bit columns), a strict checker, ASCII/JSON serializations, and fast
//! queries (cell intersection by binary search, sky fraction).

pub mod error;
pub mod fits;
pub mod hips;
pub mod images;
pub mod ops;
pub mod text;

use std::ops::Range;

pub use error::MocError;
pub use fits::{check_fits_bytes, from_fits_bytes, to_fits_bytes, to_fits_bytes_with, FitsOrdering};
/// The `moc` crate this library is built on (same version), for callers that need more of it.
pub use moc;
use moc::elemset::range::MocRanges;
pub use moc::moc::range::RangeMOC;
pub use moc::qty::Hpx;

/// A spatial MOC: HEALPix NESTED cells as ranges at order 29.
pub type SMoc = moc::moc::range::RangeMOC<u64, moc::qty::Hpx<u64>>;

/// Deepest HEALPix order a 64-bit MOC can hold.
pub const MAX_ORDER: u8 = 29;

/// Number of order-29 cells on the sky (12 * 4^29).
pub const N_CELLS_29: u64 = 12 << 58;

/// Celestial frame of a MOC (FITS keyword COORDSYS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordSys {
    /// ICRS equatorial, COORDSYS = 'C'.
    Icrs,
    /// Galactic, COORDSYS = 'G'.
    Galactic,
}

impl CoordSys {
    /// The COORDSYS letter.
    pub fn letter(self) -> &'static str {
        match self {
            CoordSys::Icrs => "C",
            CoordSys::Galactic => "G",
        }
    }

    /// Parse a COORDSYS value or a HiPS `hips_frame` / CLI frame name.
    pub fn parse(s: &str) -> Option<CoordSys> {
        match s.trim().to_ascii_lowercase().as_str() {
            "c" | "icrs" | "equatorial" | "eq" | "j2000" | "fk5" => Some(CoordSys::Icrs),
            "g" | "galactic" | "gal" => Some(CoordSys::Galactic),
            _ => None,
        }
    }

    /// Human name, as used in HiPS properties (`equatorial`, `galactic`).
    pub fn name(self) -> &'static str {
        match self {
            CoordSys::Icrs => "equatorial",
            CoordSys::Galactic => "galactic",
        }
    }
}

/// Shift between a cell index at `order` and order-29 indices.
#[inline]
pub(crate) fn shift(order: u8) -> u32 {
    2 * u32::from(MAX_ORDER - order)
}

/// Check that `order` is a valid HEALPix order for a 64-bit MOC.
///
/// # Errors
/// [`MocError::BadArgument`] above order 29.
pub fn check_order(order: u8) -> Result<(), MocError> {
    if order > MAX_ORDER {
        Err(MocError::BadArgument(format!("HEALPix order {order} is beyond the maximum {MAX_ORDER}")))
    } else {
        Ok(())
    }
}

/// Build a MOC from order-29 ranges that may be unsorted and overlapping.
pub fn from_ranges29(depth_max: u8, mut ranges: Vec<Range<u64>>) -> SMoc {
    ranges.retain(|r| r.start < r.end);
    if ranges.len() > 100_000 {
        use rayon::slice::ParallelSliceMut;
        ranges.par_sort_unstable_by_key(|r| r.start);
    } else {
        ranges.sort_unstable_by_key(|r| r.start);
    }
    from_sorted_ranges29(depth_max, ranges)
}

/// Build a MOC from order-29 ranges sorted by start (they may overlap or touch).
pub fn from_sorted_ranges29(depth_max: u8, ranges: Vec<Range<u64>>) -> SMoc {
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        if r.start >= r.end {
            continue;
        }
        match merged.last_mut() {
            Some(last) if r.start <= last.end => {
                if r.end > last.end {
                    last.end = r.end;
                }
            }
            _ => merged.push(r),
        }
    }
    SMoc::new(depth_max, MocRanges::new_unchecked(merged))
}

/// Cells at a fixed `order` (NESTED indices) to a MOC of that order. Any order; duplicates and any input order
/// are fine. Orders above 29 are clamped to 29 and cell indices beyond the sky at that order are ignored.
pub fn from_cells(order: u8, cells: impl IntoIterator<Item = u64>) -> SMoc {
    let order = order.min(MAX_ORDER);
    let mut v: Vec<u64> = cells.into_iter().collect();
    from_cells_vec(order, &mut v)
}

/// Like [`from_cells`], sorting the given vector in place (in parallel when large).
pub fn from_cells_vec(order: u8, cells: &mut [u64]) -> SMoc {
    let order = order.min(MAX_ORDER);
    if cells.len() > 100_000 {
        use rayon::slice::ParallelSliceMut;
        cells.par_sort_unstable();
    } else {
        cells.sort_unstable();
    }
    let n_cells = 12u64 << (2 * u32::from(order));
    let s = shift(order);
    let mut ranges: Vec<Range<u64>> = Vec::new();
    let mut cur: Option<Range<u64>> = None;
    for &c in cells.iter() {
        if c >= n_cells {
            break;
        }
        match cur.as_mut() {
            Some(r) if c <= r.end => r.end = r.end.max(c + 1),
            _ => {
                if let Some(r) = cur.take() {
                    ranges.push(r);
                }
                cur = Some(c..c + 1);
            }
        }
    }
    if let Some(r) = cur {
        ranges.push(r);
    }
    let ranges = ranges.into_iter().map(|r| (r.start << s)..(r.end << s)).collect();
    SMoc::new(order, MocRanges::new_unchecked(ranges))
}

/// The MOC's order-29 ranges, sorted and disjoint.
pub fn ranges(moc: &SMoc) -> &[Range<u64>] {
    &moc.moc_ranges().ranges().0
}

/// The order-29 range of cell `ipix` at `order` and the first MOC range that ends after its start (`None`: the cell
/// is not a cell of the sky, or no range reaches it).
fn cell_and_first_range(moc: &SMoc, order: u8, ipix: u64) -> Option<(Range<u64>, &Range<u64>)> {
    if order > MAX_ORDER || ipix >= (12u64 << (2 * u32::from(order))) {
        return None;
    }
    let s = shift(order);
    let (start, end) = (ipix << s, (ipix + 1) << s);
    let r = ranges(moc);
    r.get(r.partition_point(|x| x.end <= start)).map(|first| (start..end, first))
}

/// Does any part of cell `ipix` at `order` overlap the MOC? O(log n) binary search on the ranges.
/// Returns false for an order beyond 29 or a cell index beyond the sky.
pub fn intersects_cell(moc: &SMoc, order: u8, ipix: u64) -> bool {
    cell_and_first_range(moc, order, ipix).is_some_and(|(cell, r)| r.start < cell.end)
}

/// Is cell `ipix` at `order` entirely inside the MOC?
pub fn contains_cell(moc: &SMoc, order: u8, ipix: u64) -> bool {
    cell_and_first_range(moc, order, ipix).is_some_and(|(cell, r)| r.start <= cell.start && r.end >= cell.end)
}

/// Fraction of the sky covered, in [0, 1].
pub fn sky_fraction(moc: &SMoc) -> f64 {
    let sum: u64 = ranges(moc).iter().map(|r| r.end - r.start).sum();
    sum as f64 / N_CELLS_29 as f64
}

/// Area covered in square degrees.
pub fn area_deg2(moc: &SMoc) -> f64 {
    sky_fraction(moc) * 4.0 * std::f64::consts::PI * (180.0 / std::f64::consts::PI).powi(2)
}

/// The MOC as (order, NESTED index) cells: the unique minimal decomposition of its ranges, sorted by range.
pub fn cells(moc: &SMoc) -> Vec<(u8, u64)> {
    let mut out = Vec::new();
    for r in ranges(moc) {
        push_range_cells(r.clone(), &mut out);
    }
    out
}

/// Decompose one order-29 range into maximal aligned cells (cells deeper than the MOC order can only come from
/// ranges not aligned at that order; they are emitted as they are).
fn push_range_cells(r: Range<u64>, out: &mut Vec<(u8, u64)>) {
    let (mut s, e) = (r.start, r.end);
    while s < e {
        // largest k (cell of 4^k order-29 cells) with s aligned and s + 4^k <= e, k <= 29 (order >= 0)
        let mut k = if s == 0 { 29 } else { (s.trailing_zeros() / 2).min(29) };
        while k > 0 && s + (1u64 << (2 * k)) > e {
            k -= 1;
        }
        let order = MAX_ORDER - k as u8;
        out.push((order, s >> (2 * k)));
        s += 1u64 << (2 * k);
    }
}

/// The MOC as sorted NUNIQ values (uniq = 4 * 4^order + ipix).
pub fn to_uniqs(moc: &SMoc) -> Vec<u64> {
    let mut u: Vec<u64> = cells(moc).into_iter().map(|(o, i)| (4u64 << (2 * u32::from(o))) + i).collect();
    u.sort_unstable();
    u
}

/// Decode a NUNIQ value into (order, ipix); None when it is not a valid 64-bit HEALPix uniq.
pub fn uniq_to_cell(uniq: u64) -> Option<(u8, u64)> {
    if uniq < 4 {
        return None;
    }
    let order = (uniq.ilog2() / 2 - 1) as u8;
    if order > MAX_ORDER {
        return None;
    }
    let ipix = uniq - (4u64 << (2 * u32::from(order)));
    if ipix >= 12u64 << (2 * u32::from(order)) {
        return None;
    }
    Some((order, ipix))
}

/// All cells of the MOC at a fixed `order` (cells partly covered included; the MOC is degraded first).
pub fn cells_at_order(moc: &SMoc, order: u8) -> Vec<u64> {
    let order = order.min(MAX_ORDER);
    let s = shift(order);
    let mut out = Vec::new();
    for r in ranges(moc) {
        let a = r.start >> s;
        let b = (r.end + (1u64 << s) - 1) >> s;
        let from = match out.last() {
            Some(&l) if l >= a => l + 1,
            _ => a,
        };
        out.extend(from..b);
    }
    out
}

/// The deepest order actually used by the MOC's cells (0 for an empty MOC).
pub fn deepest_cell_order(moc: &SMoc) -> u8 {
    ranges(moc)
        .iter()
        .map(|r| {
            let tz = (r.start | r.end).trailing_zeros().min(58);
            MAX_ORDER - (tz / 2) as u8
        })
        .max()
        .unwrap_or(0)
}

/// Degrade a MOC to `order` (cells partly covered become fully covered), as the IVOA/mocpy `degrade` does.
pub fn degrade(moc: &SMoc, order: u8) -> SMoc {
    let order = order.min(MAX_ORDER);
    if order >= moc.depth_max() {
        // nothing to degrade, but keep the requested order only if deeper is meaningless
        return moc.clone();
    }
    let s = shift(order);
    let mask = (1u64 << s) - 1;
    let v: Vec<Range<u64>> = ranges(moc).iter().map(|r| (r.start & !mask)..((r.end + mask) & !mask)).collect();
    from_sorted_ranges29(order, v)
}

/// Same cells, declared at another maximal order (MOCORD_S). Refuses to drop cells: deeper cells are degraded.
pub fn with_depth_max(moc: &SMoc, order: u8) -> SMoc {
    let order = order.min(MAX_ORDER);
    if order < moc.depth_max() {
        degrade(moc, order)
    } else {
        SMoc::new(order, MocRanges::new_unchecked(ranges(moc).to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_roundtrip() {
        let m = from_cells(3, [0u64, 1, 2, 3, 7, 100, 100]);
        assert_eq!(cells(&m), vec![(2, 0), (3, 7), (3, 100)]);
        assert_eq!(to_uniqs(&m), vec![4 * 16, 4 * 64 + 7, 4 * 64 + 100]);
        assert!(intersects_cell(&m, 1, 0));
        assert!(intersects_cell(&m, 5, 7 * 16 + 3));
        assert!(!intersects_cell(&m, 3, 8));
        assert!(contains_cell(&m, 2, 0));
        assert!(!contains_cell(&m, 2, 1));
        assert!((sky_fraction(&m) - 6.0 / 768.0).abs() < 1e-15);
        assert_eq!(uniq_to_cell(4 * 64 + 100), Some((3, 100)));
        assert_eq!(uniq_to_cell(3), None);
        assert_eq!(cells_at_order(&m, 2), vec![0, 1, 25]);
        assert_eq!(deepest_cell_order(&m), 3);
    }

    #[test]
    fn full_sky_cells() {
        let m = from_cells(0, 0..12);
        assert_eq!(cells(&m).len(), 12);
        assert!((sky_fraction(&m) - 1.0).abs() < 1e-15);
    }
}
