//! IVOA MOC FITS serialization: a writer for MOC 2.0 (NUNIQ or RANGE binary tables with every keyword
//! MOC 1.0 and 2.0 readers look for), a tolerant reader (MOC 1.0 and 2.0, NUNIQ, RANGE and RANGE29,
//! 32- and 64-bit columns) and a strict checker that lists each defect of a file with a clear message.
//!
//! The table is written by hand rather than through the `moc` crate so that the keyword set (MOCORDER for
//! 1.0 readers, MOCTOOL naming this tool, COORDSYS G for galactic MOCs) is under our control.

use crate::{from_ranges29, ranges, to_uniqs, uniq_to_cell, CoordSys, MocError, SMoc, MAX_ORDER, N_CELLS_29};
use std::ops::Range;

const BLOCK: usize = 2880;
const CARD: usize = 80;

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

/// One parsed header: cards as (keyword, raw value, unquoted value).
#[derive(Debug, Default, Clone)]
pub struct Header {
    /// (KEY, value text with quotes removed and trimmed).
    pub cards: Vec<(String, String)>,
}

impl Header {
    /// Value of `key` (unquoted, trimmed), first occurrence.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.cards.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn get_int(&self, hdu: usize, key: &'static str) -> Result<Option<i64>, MocError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| MocError::BadKeyword {
                hdu,
                key: key.to_string(),
                value: v.to_string(),
                reason: "not an integer".into(),
            }),
        }
    }

    fn req_int(&self, hdu: usize, key: &'static str) -> Result<i64, MocError> {
        self.get_int(hdu, key)?.ok_or(MocError::MissingKeyword { hdu, key })
    }
}

fn parse_value(raw: &str) -> String {
    let t = raw.trim_start();
    if let Some(rest) = t.strip_prefix('\'') {
        // quoted string; '' is an escaped quote
        let mut s = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    s.push('\'');
                    chars.next();
                } else {
                    break;
                }
            } else {
                s.push(c);
            }
        }
        s.trim_end().to_string()
    } else {
        t.split('/').next().unwrap_or("").trim().to_string()
    }
}

/// Parse the header starting at `pos`; returns it and the offset of the data that follows.
fn parse_header(bytes: &[u8], pos: usize, hdu: usize) -> Result<(Header, usize), MocError> {
    let mut h = Header::default();
    let mut p = pos;
    loop {
        if p + CARD > bytes.len() {
            return Err(MocError::NotFits(format!("HDU {hdu}: header has no END card (file truncated?)")));
        }
        let c = &bytes[p..p + CARD];
        p += CARD;
        // FITS headers are ASCII: map anything else to '?' so that byte offsets stay char offsets
        let text: String = c.iter().map(|&b| if b.is_ascii() { b as char } else { '?' }).collect();
        let key = text[..8].trim().to_string();
        if key == "END" {
            break;
        }
        if text.len() >= 10 && &text[8..10] == "= " {
            h.cards.push((key, parse_value(&text[10..])));
        } else if key == "HIERARCH" {
            if let Some((k, v)) = text[8..].split_once('=') {
                h.cards.push((k.trim().to_string(), parse_value(v)));
            }
        }
    }
    let data = p.div_ceil(BLOCK) * BLOCK;
    Ok((h, data))
}

fn data_size(h: &Header, hdu: usize) -> Result<usize, MocError> {
    let bitpix = h.req_int(hdu, "BITPIX")?;
    let naxis = h.req_int(hdu, "NAXIS")?;
    if naxis == 0 {
        return Ok(0);
    }
    let mut n: i64 = 1;
    for i in 1..=naxis {
        let key = format!("NAXIS{i}");
        let v = h.get(&key).ok_or(MocError::MissingKeyword { hdu, key: "NAXISn" })?;
        let v: i64 = v.trim().parse().map_err(|_| MocError::BadKeyword {
            hdu,
            key: key.clone(),
            value: v.to_string(),
            reason: "not an integer".into(),
        })?;
        n = n.saturating_mul(v.max(0));
    }
    let pcount = h.get_int(hdu, "PCOUNT")?.unwrap_or(0).max(0);
    let gcount = h.get_int(hdu, "GCOUNT")?.unwrap_or(1).max(1);
    let bytes = (bitpix.unsigned_abs() as i64 / 8).saturating_mul(gcount.saturating_mul(pcount.saturating_add(n)));
    usize::try_from(bytes).map_err(|_| MocError::NotFits(format!("HDU {hdu}: data size overflows")))
}

/// The raw content of a MOC FITS binary table before interpretation.
#[derive(Debug, Clone)]
pub struct RawMocTable {
    /// The primary header.
    pub primary: Header,
    /// The binary table header (HDU 1).
    pub header: Header,
    /// Column 1 values, widened to i128 so that negative 32-bit values stay visible to the checker.
    pub values: Vec<i128>,
    /// Bytes per value (4 or 8).
    pub width: usize,
}

/// Parse the FITS structure: primary HDU, then the first BINTABLE, column 1 as integers.
///
/// # Errors
/// When the bytes are not FITS, or hold no binary table with an integer first column ([`MocError::NotFits`], [`MocError::BadKeyword`]).
pub fn parse_raw(bytes: &[u8]) -> Result<RawMocTable, MocError> {
    if bytes.len() < BLOCK || !bytes.starts_with(b"SIMPLE  =") {
        return Err(MocError::NotFits("does not start with a SIMPLE card".into()));
    }
    let (primary, data) = parse_header(bytes, 0, 0)?;
    let size = data_size(&primary, 0)?;
    let mut pos = data + size.div_ceil(BLOCK) * BLOCK;
    let mut hdu = 1;
    loop {
        if pos >= bytes.len() {
            return Err(MocError::NotMoc("no BINTABLE extension after the primary HDU".into()));
        }
        let (h, data) = parse_header(bytes, pos, hdu)?;
        let size = data_size(&h, hdu)?;
        if h.get("XTENSION").map(str::trim) == Some("BINTABLE") {
            return read_table(bytes, primary, h, data, hdu);
        }
        pos = data + size.div_ceil(BLOCK) * BLOCK;
        hdu += 1;
    }
}

fn read_table(bytes: &[u8], primary: Header, h: Header, data: usize, hdu: usize) -> Result<RawMocTable, MocError> {
    let naxis1 = h.req_int(hdu, "NAXIS1")?;
    let naxis2 = h.req_int(hdu, "NAXIS2")?;
    let tform = h.get("TFORM1").ok_or(MocError::MissingKeyword { hdu, key: "TFORM1" })?;
    let code = tform.trim().trim_start_matches(|c: char| c.is_ascii_digit());
    let width = match code {
        "J" => 4,
        "K" => 8,
        _ => {
            return Err(MocError::BadKeyword {
                hdu,
                key: "TFORM1".into(),
                value: tform.to_string(),
                reason: "a MOC column must be 1J (32-bit) or 1K (64-bit) integers".into(),
            })
        }
    };
    if naxis1 < width as i64 || naxis2 < 0 {
        return Err(MocError::BadKeyword {
            hdu,
            key: "NAXIS1".into(),
            value: naxis1.to_string(),
            reason: format!("row width smaller than the {width}-byte column"),
        });
    }
    let (n1, n2) = (naxis1 as usize, naxis2 as usize);
    let need = n1.checked_mul(n2).and_then(|x| x.checked_add(data));
    match need {
        Some(end) if end <= bytes.len() => {}
        _ => {
            return Err(MocError::NotFits(format!(
                "HDU {hdu}: table of {n2} rows x {n1} bytes goes beyond the end of the file ({} bytes): truncated",
                bytes.len()
            )))
        }
    }
    let tzero: i128 = h.get("TZERO1").and_then(|v| v.trim().parse::<f64>().ok()).map_or(0, |v| v as i128);
    let mut values = Vec::with_capacity(n2);
    for i in 0..n2 {
        let o = data + i * n1;
        let v: i128 = if width == 4 {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[o..o + 4]);
            i128::from(i32::from_be_bytes(b))
        } else {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[o..o + 8]);
            i128::from(i64::from_be_bytes(b))
        };
        values.push(v + tzero);
    }
    Ok(RawMocTable { primary, header: h, values, width })
}

/// Which ordering the table declares (ORDERING; MOC 1.0 files without it are NUNIQ).
fn ordering_of(h: &Header) -> Result<&'static str, MocError> {
    match h.get("ORDERING").map(|s| s.trim().to_ascii_uppercase()) {
        None => Ok("NUNIQ"),
        Some(o) if o == "NUNIQ" => Ok("NUNIQ"),
        Some(o) if o == "RANGE" => Ok("RANGE"),
        Some(o) if o == "RANGE29" => Ok("RANGE29"),
        Some(o) => Err(MocError::BadKeyword {
            hdu: 1,
            key: "ORDERING".into(),
            value: o,
            reason: "expected NUNIQ or RANGE".into(),
        }),
    }
}

/// Read a MOC FITS file (MOC 1.0 and 2.0; NUNIQ, RANGE, RANGE29; 32- or 64-bit column).
/// Frame defaults to ICRS when COORDSYS is absent (MOC 1.0). Unsorted or overlapping content is accepted.
///
/// # Errors
/// When the file is not a spatial MOC, or a keyword (COORDSYS, MOCORD_S, ORDERING) or a row is invalid; the error names it.
pub fn from_fits_bytes(bytes: &[u8]) -> Result<(SMoc, CoordSys), MocError> {
    let raw = parse_raw(bytes)?;
    let h = &raw.header;
    if let Some(dim) = h.get("MOCDIM") {
        if !dim.trim().eq_ignore_ascii_case("SPACE") {
            return Err(MocError::NotMoc(format!("MOCDIM = '{dim}': only spatial MOCs (SPACE) are supported")));
        }
    }
    let sys = match h.get("COORDSYS") {
        None => CoordSys::Icrs,
        Some(c) => CoordSys::parse(c).ok_or_else(|| MocError::BadKeyword {
            hdu: 1,
            key: "COORDSYS".into(),
            value: c.to_string(),
            reason: "expected C (ICRS) or G (galactic)".into(),
        })?,
    };
    let declared = match h.get_int(1, "MOCORD_S")? {
        Some(o) => Some(o),
        None => h.get_int(1, "MOCORDER")?,
    };
    if let Some(o) = declared {
        if !(0..=i64::from(MAX_ORDER)).contains(&o) {
            return Err(MocError::BadKeyword {
                hdu: 1,
                key: "MOCORD_S".into(),
                value: o.to_string(),
                reason: format!("order must be within 0..={MAX_ORDER}"),
            });
        }
    }
    let ordering = ordering_of(h)?;
    let (ranges, deepest) = decode_values(&raw, ordering)?;
    let order = declared.map_or(deepest, |o| o as u8).max(deepest);
    Ok((from_ranges29(order, ranges), sys))
}

/// Decode column values into order-29 ranges and the deepest cell order seen.
fn decode_values(raw: &RawMocTable, ordering: &str) -> Result<(Vec<Range<u64>>, u8), MocError> {
    let mut out = Vec::with_capacity(raw.values.len());
    let mut deepest = 0u8;
    if ordering == "NUNIQ" {
        for (row, &v) in raw.values.iter().enumerate() {
            let cell = u64::try_from(v)
                .ok()
                .and_then(uniq_to_cell)
                .ok_or_else(|| MocError::BadContent(format!("row {}: {v} is not a valid NUNIQ value", row + 1)))?;
            let s = crate::shift(cell.0);
            deepest = deepest.max(cell.0);
            out.push((cell.1 << s)..((cell.1 + 1) << s));
        }
    } else {
        if !raw.values.len().is_multiple_of(2) {
            return Err(MocError::BadContent(format!(
                "RANGE table has an odd number of values ({})",
                raw.values.len()
            )));
        }
        // 32-bit RANGE values are at order 13 (the deepest order a 32-bit MOC holds), 64-bit at order 29.
        let (max, s) = if raw.width == 4 && ordering == "RANGE" { (13u8, 32u32) } else { (29u8, 0u32) };
        let upper = 12u64 << (2 * u32::from(max));
        for (i, p) in raw.values.chunks_exact(2).enumerate() {
            let (a, b) = (p[0], p[1]);
            if a < 0 || b <= a || b > i128::from(upper) {
                return Err(MocError::BadContent(format!(
                    "range {} = [{a}, {b}) is empty or outside [0, {upper})",
                    i + 1
                )));
            }
            let (a, b) = ((a as u64) << s, (b as u64) << s);
            let tz = (a | b).trailing_zeros().min(58);
            deepest = deepest.max(MAX_ORDER - (tz / 2) as u8);
            out.push(a..b);
        }
    }
    Ok((out, deepest))
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_cells;

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
