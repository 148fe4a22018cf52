//! The progenitor index (HpxFinder) of hipsgen's tiles: one [`ProgenitorRecord`] line per contributing coadd, the
//! record type shared with every reader (hips-core's layout module).

use hips_core::coadd::Coadd;
use hips_core::layout::ProgenitorRecord;

/// The HpxFinder file content for a tile made from `coadds`.
#[must_use]
pub fn hpxfinder_lines(coadds: &[&Coadd]) -> String {
    let records: Vec<ProgenitorRecord> = coadds.iter().map(|c| ProgenitorRecord::of(c)).collect();
    ProgenitorRecord::lines(&records)
}
