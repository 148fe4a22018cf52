//! MOC FITS writer: a MOC 2.0 binary table (NUNIQ or RANGE) with the keywords MOC 1.0 and 2.0 readers look for.

use super::{BLOCK, CARD};
use crate::{ranges, to_uniqs, CoordSys, MocError, SMoc, MAX_ORDER};

/// Value of the MOCTOOL keyword.
pub fn moctool() -> String {
    format!("hips-pipeline moc-tools {}", env!("CARGO_PKG_VERSION"))
}

/// How the MOC table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitsOrdering {
    /// One NUNIQ value per cell (TTYPE1 = UNIQ), the default and the form MOC 1.0 readers understand.
    Nuniq,
    /// Order-29 ranges, start and end interleaved (TTYPE1 = RANGE), MOC 2.0 only.
    Range,
}

/// A header card being built.
fn card(key: &str, value: &str, comment: &str) -> String {
    with_comment(format!("{key:<8}= {value:>20}"), comment)
}

fn card_str(key: &str, value: &str, comment: &str) -> String {
    let v = format!("'{:<8}'", value.replace('\'', "''"));
    with_comment(format!("{key:<8}= {v:<20}"), comment)
}

/// A card's key and value with its comment, cut and padded to 80 characters.
fn with_comment(mut c: String, comment: &str) -> String {
    if !comment.is_empty() {
        c.push_str(" / ");
        c.push_str(comment);
    }
    c.truncate(CARD);
    format!("{c:<80}")
}

fn pad_header(cards: &[String], out: &mut Vec<u8>) {
    for c in cards {
        out.extend_from_slice(c.as_bytes());
    }
    out.extend_from_slice(format!("{:<80}", "END").as_bytes());
    let rem = out.len() % BLOCK;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, b' ');
    }
}

/// Serialize a MOC as an IVOA MOC 2.0 FITS file (NUNIQ, 64-bit column) in frame `sys`.
///
/// # Errors
/// When the MOC is deeper than order 29.
pub fn to_fits_bytes(moc: &SMoc, sys: CoordSys) -> Result<Vec<u8>, MocError> {
    to_fits_bytes_with(moc, sys, FitsOrdering::Nuniq)
}

/// Serialize a MOC as an IVOA MOC 2.0 FITS file with the chosen ordering.
///
/// # Errors
/// When the MOC is deeper than order 29, or too deep for a 32-bit RANGE column.
pub fn to_fits_bytes_with(moc: &SMoc, sys: CoordSys, ordering: FitsOrdering) -> Result<Vec<u8>, MocError> {
    let order = moc.depth_max();
    if order > MAX_ORDER {
        return Err(MocError::BadArgument(format!("MOC order {order} is beyond {MAX_ORDER}")));
    }
    let values: Vec<u64> = match ordering {
        FitsOrdering::Nuniq => to_uniqs(moc),
        FitsOrdering::Range => ranges(moc).iter().flat_map(|r| [r.start, r.end]).collect(),
    };
    let mut out = Vec::with_capacity(2 * BLOCK + values.len() * 8 + BLOCK);
    let primary = vec![
        card("SIMPLE", "T", "conforms to FITS standard"),
        card("BITPIX", "8", ""),
        card("NAXIS", "0", ""),
        card("EXTEND", "T", ""),
    ];
    pad_header(&primary, &mut out);
    let ttype = match ordering {
        FitsOrdering::Nuniq => "UNIQ",
        FitsOrdering::Range => "RANGE",
    };
    let mut ext = vec![
        card_str("XTENSION", "BINTABLE", "binary table extension"),
        card("BITPIX", "8", "array data type"),
        card("NAXIS", "2", "number of array dimensions"),
        card("NAXIS1", "8", "length of dimension 1"),
        card("NAXIS2", &values.len().to_string(), "length of dimension 2"),
        card("PCOUNT", "0", "number of group parameters"),
        card("GCOUNT", "1", "number of groups"),
        card("TFIELDS", "1", "number of table fields"),
        card_str("TTYPE1", ttype, ""),
        card_str("TFORM1", "1K", ""),
        card_str("MOCVERS", "2.0", "MOC version"),
        card_str("MOCDIM", "SPACE", "MOC dimension"),
    ];
    ext.push(card_str(
        "ORDERING",
        if ordering == FitsOrdering::Nuniq { "NUNIQ" } else { "RANGE" },
        "NUNIQ coding method",
    ));
    ext.push(card_str("COORDSYS", sys.letter(), if sys == CoordSys::Icrs { "ICRS" } else { "Galactic" }));
    ext.push(card("MOCORD_S", &order.to_string(), "MOC resolution (best order)"));
    ext.push(card("MOCORDER", &order.to_string(), "MOC resolution (MOC 1.0 readers)"));
    ext.push(card_str("MOCTOOL", &moctool(), "Name of the MOC generator"));
    ext.push(card_str("EXTNAME", "MOC", ""));
    pad_header(&ext, &mut out);
    for v in &values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let rem = out.len() % BLOCK;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
    Ok(out)
}
