//! The image header of a tile-compressed HDU, as FITS 4.0 section 10.1 maps it: the `Z` keywords that preserve the
//! original image's structure (ZBITPIX, ZNAXISn, ZTENSION, ZPCOUNT, ...) become the plain keywords, the table's own
//! structure and the compression keywords are dropped, everything else (WCS, EXTNAME, MP_* ...) is kept in order.

use super::super::header::{Card, Header, Value};

/// Whether `key` is `prefix` followed by digits only (`TFORM12`).
fn indexed(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix).is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
}

/// Keys of the table's structure and of the compression, dropped from the image header.
fn dropped(key: &str) -> bool {
    matches!(
        key,
        "XTENSION"
            | "SIMPLE"
            | "BITPIX"
            | "NAXIS"
            | "PCOUNT"
            | "GCOUNT"
            | "EXTEND"
            | "TFIELDS"
            | "THEAP"
            | "ZIMAGE"
            | "ZCMPTYPE"
            | "ZMASKCMP"
            | "ZQUANTIZ"
            | "ZDITHER0"
            | "ZSIMPLE"
            | "ZTENSION"
            | "ZBITPIX"
            | "ZNAXIS"
            | "ZEXTEND"
            | "ZBLOCKED"
            | "ZPCOUNT"
            | "ZGCOUNT"
            | "ZHECKSUM"
            | "ZDATASUM"
            | "CHECKSUM"
            | "DATASUM"
            | "ZSCALE"
            | "ZZERO"
            | "ZBLANK"
    ) || [
        "NAXIS", "ZNAXIS", "ZTILE", "ZNAME", "ZVAL", "TTYPE", "TFORM", "TUNIT", "TDIM", "TNULL", "TSCAL", "TZERO",
        "TDISP",
    ]
    .iter()
    .any(|p| indexed(key, p))
}

/// The image header of the ZIMAGE table header `h` (already checked by [`super::TileCompressed::parse`]).
#[must_use]
pub fn image_header(h: &Header, zbitpix: i32, naxes: &[usize]) -> Header {
    let mut cards = Vec::with_capacity(h.cards.len());
    let xt = h.get_str("ZTENSION").map_or_else(|| "IMAGE".to_string(), |s| s.trim().to_string());
    cards.push(Card { key: "XTENSION".into(), value: Some(Value::Str(xt)), comment: None });
    cards.push(Card { key: "BITPIX".into(), value: Some(Value::Int(i64::from(zbitpix))), comment: None });
    cards.push(Card { key: "NAXIS".into(), value: Some(Value::Int(naxes.len() as i64)), comment: None });
    for (i, n) in naxes.iter().enumerate() {
        cards.push(Card { key: format!("NAXIS{}", i + 1), value: Some(Value::Int(*n as i64)), comment: None });
    }
    let pcount = h.get_i64("ZPCOUNT").unwrap_or(0);
    let gcount = h.get_i64("ZGCOUNT").unwrap_or(1);
    cards.push(Card { key: "PCOUNT".into(), value: Some(Value::Int(pcount)), comment: None });
    cards.push(Card { key: "GCOUNT".into(), value: Some(Value::Int(gcount)), comment: None });
    // An integer image's ZBLANK is the BLANK of the image when the header gives none.
    if zbitpix > 0 && !h.contains("BLANK") {
        if let Some(b) = h.get_i64("ZBLANK") {
            cards.push(Card { key: "BLANK".into(), value: Some(Value::Int(b)), comment: None });
        }
    }
    cards.extend(h.cards.iter().filter(|c| !dropped(&c.key)).cloned());
    Header { cards }
}
