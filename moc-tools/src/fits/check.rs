//! Strict MOC FITS checker: every defect of a file against IVOA MOC 2.0, each naming the keyword or row at fault.

use super::read::{decode_values, ordering_of, parse_raw};
use crate::{from_ranges29, ranges, to_uniqs, uniq_to_cell, N_CELLS_29};

/// Check a MOC FITS file against IVOA MOC 2.0 and return every defect found (empty when the file is valid).
/// Each message names the keyword or row at fault.
pub fn check_fits_bytes(bytes: &[u8]) -> Vec<String> {
    let mut defects = Vec::new();
    let raw = match parse_raw(bytes) {
        Ok(r) => r,
        Err(e) => return vec![e.to_string()],
    };
    let p = &raw.primary;
    if p.get("NAXIS").map(str::trim) != Some("0") {
        defects.push(format!("primary HDU: NAXIS should be 0, found {:?}", p.get("NAXIS")));
    }
    if p.get("EXTEND").map(str::trim) != Some("T") {
        defects.push("primary HDU: EXTEND = T is missing".into());
    }
    let h = &raw.header;
    let expect = |defects: &mut Vec<String>, key: &str, want: &[&str]| match h.get(key) {
        None => defects.push(format!("keyword {key} is missing (expected {})", want.join(" or "))),
        Some(v) if !want.iter().any(|w| v.trim().eq_ignore_ascii_case(w)) => {
            defects.push(format!("keyword {key} = '{v}': expected {}", want.join(" or ")));
        }
        _ => {}
    };
    expect(&mut defects, "MOCVERS", &["2.0"]);
    expect(&mut defects, "MOCDIM", &["SPACE"]);
    expect(&mut defects, "ORDERING", &["NUNIQ", "RANGE"]);
    expect(&mut defects, "COORDSYS", &["C", "G"]);
    if h.get("TFIELDS").map(str::trim) != Some("1") {
        defects.push(format!("keyword TFIELDS = {:?}: a MOC table has exactly one column", h.get("TFIELDS")));
    }
    let ordering = ordering_of(h).unwrap_or("NUNIQ");
    let want_ttype = if ordering == "NUNIQ" { "UNIQ" } else { "RANGE" };
    match h.get("TTYPE1") {
        None => defects.push(format!("keyword TTYPE1 is missing (expected '{want_ttype}')")),
        Some(t) if !t.trim().eq_ignore_ascii_case(want_ttype) => {
            defects.push(format!("keyword TTYPE1 = '{t}': expected '{want_ttype}' for ORDERING = {ordering}"));
        }
        _ => {}
    }
    let declared = match h.get("MOCORD_S") {
        None => {
            defects.push("keyword MOCORD_S is missing (MOC 2.0 requires the spatial order)".into());
            h.get("MOCORDER").and_then(|v| v.trim().parse::<i64>().ok())
        }
        Some(v) => match v.trim().parse::<i64>() {
            Ok(o) if (0..=29).contains(&o) => Some(o),
            _ => {
                defects.push(format!("keyword MOCORD_S = {v}: expected an integer in 0..=29"));
                None
            }
        },
    };
    if h.get("MOCTOOL").is_none() {
        defects.push("keyword MOCTOOL is missing (recommended)".into());
    }
    // content
    if ordering == "NUNIQ" {
        let mut prev: Option<i128> = None;
        let mut unsorted = 0usize;
        let mut bad = 0usize;
        let mut too_deep = 0usize;
        let mut first_bad = None;
        for (row, &v) in raw.values.iter().enumerate() {
            match u64::try_from(v).ok().and_then(uniq_to_cell) {
                None => {
                    bad += 1;
                    if first_bad.is_none() {
                        first_bad = Some(format!("row {}: {v}", row + 1));
                    }
                }
                Some((o, _)) => {
                    if let Some(d) = declared {
                        if i64::from(o) > d {
                            too_deep += 1;
                        }
                    }
                }
            }
            if let Some(pv) = prev {
                if v <= pv {
                    unsorted += 1;
                }
            }
            prev = Some(v);
        }
        if bad > 0 {
            defects.push(format!(
                "{bad} value(s) out of the NUNIQ range (uniq must be >= 4 and encode an order <= 29 cell), first at {}",
                first_bad.unwrap_or_default()
            ));
        }
        if unsorted > 0 {
            defects.push(format!("NUNIQ values are not sorted in strictly increasing order ({unsorted} inversion(s))"));
        }
        if too_deep > 0 {
            defects.push(format!("{too_deep} cell(s) deeper than MOCORD_S = {}", declared.unwrap_or(-1)));
        }
        if bad == 0 {
            if let Ok((r, _)) = decode_values(&raw, "NUNIQ") {
                let total: u128 = r.iter().map(|x| u128::from(x.end - x.start)).sum();
                let merged = from_ranges29(29, r);
                let union: u128 = ranges(&merged).iter().map(|x| u128::from(x.end - x.start)).sum();
                if union != total {
                    defects.push("cells overlap (a cell and one of its ancestors, or duplicates)".into());
                }
                let canonical = to_uniqs(&merged).len();
                if union == total && canonical != raw.values.len() {
                    defects.push(format!(
                        "not in canonical form: {} cells where {canonical} suffice (four siblings not merged)",
                        raw.values.len()
                    ));
                }
            }
        }
    } else {
        if !raw.values.len().is_multiple_of(2) {
            defects.push(format!("RANGE table has an odd number of values ({})", raw.values.len()));
        }
        let upper = if raw.width == 4 { 12i128 << 26 } else { i128::from(N_CELLS_29) };
        let mut prev_end: Option<i128> = None;
        for (i, p) in raw.values.chunks_exact(2).enumerate() {
            if p[0] < 0 || p[1] > upper || p[1] <= p[0] {
                defects.push(format!("range {} = [{}, {}) is empty or outside [0, {upper})", i + 1, p[0], p[1]));
                break;
            }
            if let Some(e) = prev_end {
                if p[0] <= e {
                    defects.push(format!("ranges not sorted or not disjoint at range {}", i + 1));
                    break;
                }
            }
            prev_end = Some(p[1]);
        }
    }
    defects
}
