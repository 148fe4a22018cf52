//! Tolerant MOC FITS reader: MOC 1.0 and 2.0, NUNIQ, RANGE and RANGE29, 32- and 64-bit columns.

use super::{BLOCK, CARD};
use crate::{from_ranges29, uniq_to_cell, CoordSys, MocError, SMoc, MAX_ORDER};
use std::ops::Range;

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
pub(super) fn ordering_of(h: &Header) -> Result<&'static str, MocError> {
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
pub(super) fn decode_values(raw: &RawMocTable, ordering: &str) -> Result<(Vec<Range<u64>>, u8), MocError> {
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
