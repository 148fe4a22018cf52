//! IVOA MOC 2.0 ASCII (`s3/1-3 5 4/12`) and JSON (`{"3":[1,2,3],"4":[12]}`) serializations, and their parsers
//! (which also accept MOC 1.0 ASCII with commas and no `s` prefix).

use crate::{cells, check_order, from_ranges29, shift, MocError, SMoc, MAX_ORDER};
use std::collections::BTreeMap;
use std::fmt::Write as _;

fn by_order(moc: &SMoc) -> BTreeMap<u8, Vec<u64>> {
    let mut m: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    for (o, i) in cells(moc) {
        m.entry(o).or_default().push(i);
    }
    for v in m.values_mut() {
        v.sort_unstable();
    }
    m
}

/// IVOA MOC 2.0 ASCII serialization, e.g. `s3/1-3 5 4/12 8/` (the last, empty order gives MOCORD_S).
pub fn to_ascii(moc: &SMoc) -> String {
    let m = by_order(moc);
    let mut out = String::from("s");
    let mut first = true;
    for (o, v) in &m {
        if !first {
            out.push(' ');
        }
        first = false;
        let _ = write!(out, "{o}/");
        let mut i = 0;
        let mut sep = "";
        while i < v.len() {
            let mut j = i;
            while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
                j += 1;
            }
            if j > i {
                let _ = write!(out, "{sep}{}-{}", v[i], v[j]);
            } else {
                let _ = write!(out, "{sep}{}", v[i]);
            }
            sep = " ";
            i = j + 1;
        }
    }
    if m.keys().next_back().copied() != Some(moc.depth_max()) {
        if !first {
            out.push(' ');
        }
        let _ = write!(out, "{}/", moc.depth_max());
    }
    out.push('\n');
    out
}

fn perr(msg: String) -> MocError {
    MocError::Parse { format: "ASCII", msg }
}

/// Parse an IVOA MOC ASCII serialization (2.0 `s3/1-3 5`, or 1.0 `3/1-3,5`). The MOC order is the deepest
/// order named.
///
/// # Errors
/// When a token is not an order, cell or range, or a cell is outside its order.
pub fn from_ascii(text: &str) -> Result<SMoc, MocError> {
    let mut t = text.trim();
    if let Some(r) = t.strip_prefix('s') {
        t = r;
    } else if t.starts_with('t') || t.starts_with('f') {
        return Err(perr("this is a time or frequency MOC; only spatial (s) MOCs are supported".into()));
    }
    if t.contains('t') {
        return Err(perr("space-time MOC (found 't'); only spatial MOCs are supported".into()));
    }
    let mut order: Option<u8> = None;
    let mut max_order = 0u8;
    let mut ranges = Vec::new();
    for tok in t.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()) {
        let mut rest = tok;
        if let Some((o, r)) = tok.split_once('/') {
            let o: u8 = o.parse().map_err(|_| perr(format!("bad order in '{tok}'")))?;
            check_order(o).map_err(|_| perr(format!("order {o} in '{tok}' is beyond {MAX_ORDER}")))?;
            order = Some(o);
            max_order = max_order.max(o);
            rest = r;
        }
        if rest.is_empty() {
            continue;
        }
        let o = order.ok_or_else(|| perr(format!("cell '{tok}' before any 'order/'")))?;
        let (a, b) = match rest.split_once('-') {
            Some((a, b)) => (a, b),
            None => (rest, rest),
        };
        let a: u64 = a.parse().map_err(|_| perr(format!("bad cell index in '{tok}'")))?;
        let b: u64 = b.parse().map_err(|_| perr(format!("bad cell index in '{tok}'")))?;
        let n = 12u64 << (2 * u32::from(o));
        if a > b || b >= n {
            return Err(perr(format!("cell range '{rest}' invalid at order {o} ({n} cells)")));
        }
        let s = shift(o);
        ranges.push((a << s)..((b + 1) << s));
    }
    Ok(from_ranges29(max_order, ranges))
}

/// JSON serialization as written by Aladin and mocpy: `{"order": [cells...], ...}`, with the MOC order present
/// (possibly as an empty list).
pub fn to_json(moc: &SMoc) -> String {
    let mut m = by_order(moc);
    m.entry(moc.depth_max()).or_default();
    let mut obj = serde_json::Map::new();
    for (o, v) in m {
        obj.insert(o.to_string(), serde_json::Value::from(v));
    }
    let mut s = serde_json::Value::Object(obj).to_string();
    s.push('\n');
    s
}

/// Parse the JSON serialization. The MOC order is the deepest key.
///
/// # Errors
/// When the text is not a JSON object of order keys to cell lists, or a cell is outside its order.
pub fn from_json(text: &str) -> Result<SMoc, MocError> {
    let jerr = |msg: String| MocError::Parse { format: "JSON", msg };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| jerr(e.to_string()))?;
    let obj = v.as_object().ok_or_else(|| jerr("top level is not an object of order -> cells".into()))?;
    let mut max_order = 0u8;
    let mut ranges = Vec::new();
    for (k, cells) in obj {
        let o: u8 = k.trim().parse().map_err(|_| jerr(format!("key '{k}' is not an order")))?;
        if o > MAX_ORDER {
            return Err(jerr(format!("order {o} is beyond {MAX_ORDER}")));
        }
        max_order = max_order.max(o);
        let arr = cells.as_array().ok_or_else(|| jerr(format!("value of order {o} is not an array")))?;
        let n = 12u64 << (2 * u32::from(o));
        let s = shift(o);
        for c in arr {
            let i = c.as_u64().filter(|&i| i < n).ok_or_else(|| jerr(format!("order {o}: bad cell {c}")))?;
            ranges.push((i << s)..((i + 1) << s));
        }
    }
    Ok(from_ranges29(max_order, ranges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{from_cells, ranges};

    #[test]
    fn ascii_json_roundtrip() {
        let m = from_cells(6, [0u64, 1, 2, 3, 9, 10, 11, 300]);
        let a = to_ascii(&m);
        assert_eq!(a.trim(), "s5/0 6/9-11 300");
        let m2 = from_ascii(&a).expect("ascii");
        assert_eq!(ranges(&m2), ranges(&m));
        assert_eq!(m2.depth_max(), 6);
        let j = to_json(&m);
        let m3 = from_json(&j).expect("json");
        assert_eq!(ranges(&m3), ranges(&m));
        assert_eq!(m3.depth_max(), 6);
        let m4 = from_ascii("3/1-3,5\n4/12").expect("1.0 ascii");
        assert_eq!(m4.depth_max(), 4);
        assert!(from_ascii("t3/1").is_err());
        assert!(from_ascii("s3/1-1000").is_err());
    }
}
