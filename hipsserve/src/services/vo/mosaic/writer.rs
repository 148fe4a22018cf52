//! The mosaic's FITS file, written as it is computed: every header's size is known before the first pixel (the
//! cards depend on the grid and the inputs only), so the whole file's layout is fixed up front: an empty primary HDU
//! (provenance), then IMAGE (BITPIX -32), MASK (BITPIX 32) and VARIANCE (BITPIX -32) extensions. Each band of output
//! rows is written straight to its place in all three data units at once: one pass over the inputs, no spill file
//! and no second pass (the body is the one buffer the response sends, reserved in the uncached-bytes budget).

use hips_core::fits::{Card, Value};

const BLOCK: usize = 2880;

fn padded(n: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK
}

/// A header block: the cards, END, blank-padded to 2880 bytes.
fn header(cards: &[Card]) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK);
    for c in cards {
        out.extend_from_slice(&c.to_bytes());
    }
    out.extend_from_slice(&Card { key: "END".into(), value: None, comment: None }.to_bytes());
    out.resize(padded(out.len()), b' ');
    out
}

/// A long string value as a card and its `CONTINUE` cards (the FITS long-string convention, astropy reads it).
#[must_use]
pub fn long_string(key: &str, value: &str) -> Vec<Card> {
    let esc = value.replace('\'', "''");
    let chars: Vec<char> = esc.chars().collect();
    if chars.len() <= 68 {
        return vec![Card::str(key, value, "")];
    }
    let pieces: Vec<String> = chars.chunks(67).map(|c| c.iter().collect()).collect();
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = if i == last { p.clone() } else { format!("{p}&") };
            if i == 0 {
                Card { key: key.to_string(), value: Some(Value::Other(format!("'{text}'"))), comment: None }
            } else {
                Card { key: "CONTINUE".into(), value: None, comment: Some(format!("  '{text}'")) }
            }
        })
        .collect()
}

/// The planes of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    /// EXTNAME IMAGE, BITPIX -32.
    Image,
    /// EXTNAME MASK, BITPIX 32.
    Mask,
    /// EXTNAME VARIANCE, BITPIX -32.
    Variance,
}

/// The file being written: its bytes (headers in place, data filled band by band) and where each plane's data starts.
#[derive(Debug)]
pub struct MosaicFile {
    /// The whole file.
    pub bytes: Vec<u8>,
    width: usize,
    at: Vec<(Plane, usize)>,
}

impl MosaicFile {
    /// The size in bytes of a file of `planes` extensions of `width` x `height` pixels with these headers.
    #[must_use]
    pub fn size(primary: &[Card], planes: &[(Plane, Vec<Card>)], width: usize, height: usize) -> usize {
        header(primary).len()
            + planes.iter().map(|(_, c)| header(&fixed(c, width, height)).len()).sum::<usize>()
            + planes.len() * padded(width * height * 4)
    }

    /// Lay out the file: headers written, data units zero (filled with [`MosaicFile::put`]).
    #[must_use]
    pub fn new(primary: &[Card], planes: &[(Plane, Vec<Card>)], width: usize, height: usize) -> MosaicFile {
        let mut bytes = Vec::with_capacity(Self::size(primary, planes, width, height));
        bytes.extend_from_slice(&header(primary));
        let mut at = Vec::new();
        for (plane, cards) in planes {
            bytes.extend_from_slice(&header(&fixed(cards, width, height)));
            at.push((*plane, bytes.len()));
            bytes.resize(bytes.len() + padded(width * height * 4), 0);
        }
        MosaicFile { bytes, width, at }
    }

    /// Write the values of rows `y0 ..` (row-major, full rows) of `plane`, when the file has it.
    pub fn put(&mut self, plane: Plane, y0: usize, values: impl Iterator<Item = [u8; 4]>) {
        let Some(&(_, start)) = self.at.iter().find(|(p, _)| *p == plane) else { return };
        let from = start + y0 * self.width * 4;
        for (o, v) in self.bytes[from..].chunks_exact_mut(4).zip(values) {
            o.copy_from_slice(&v);
        }
    }
}

/// The extension's mandatory cards, then `extra`.
fn fixed(extra: &[Card], width: usize, height: usize) -> Vec<Card> {
    let bitpix = if extra.iter().any(|c| c.key == "EXTNAME" && matches!(&c.value, Some(Value::Str(s)) if s == "MASK")) {
        32
    } else {
        -32
    };
    let mut cards = vec![
        Card::str("XTENSION", "IMAGE", "image extension"),
        Card::int("BITPIX", bitpix, "array data type"),
        Card::int("NAXIS", 2, "number of array dimensions"),
        Card::int("NAXIS1", width as i64, ""),
        Card::int("NAXIS2", height as i64, ""),
        Card::int("PCOUNT", 0, "number of parameters"),
        Card::int("GCOUNT", 1, "number of groups"),
    ];
    cards.extend_from_slice(extra);
    cards
}

/// The primary header's mandatory cards (no data), then `extra`.
#[must_use]
pub fn primary(extra: &[Card]) -> Vec<Card> {
    let mut cards = vec![
        Card::logical("SIMPLE", true, "conforms to FITS standard"),
        Card::int("BITPIX", 8, "array data type"),
        Card::int("NAXIS", 0, "number of array dimensions"),
        Card::logical("EXTEND", true, ""),
    ];
    cards.extend_from_slice(extra);
    cards
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_fixed_before_the_pixels() {
        let planes = vec![
            (Plane::Image, vec![Card::str("EXTNAME", "IMAGE", "")]),
            (Plane::Mask, vec![Card::str("EXTNAME", "MASK", "")]),
        ];
        let p = primary(&long_string("PROV0001", &"x".repeat(150)));
        let mut f = MosaicFile::new(&p, &planes, 3, 2);
        assert_eq!(f.bytes.len(), MosaicFile::size(&p, &planes, 3, 2));
        assert_eq!(f.bytes.len(), 5 * 2880);
        f.put(Plane::Mask, 1, [7i32, 8, 9].iter().map(|v| v.to_be_bytes()));
        let mask_at = 4 * 2880;
        assert_eq!(&f.bytes[mask_at + 12..mask_at + 16], &7i32.to_be_bytes());
        let text = String::from_utf8_lossy(&f.bytes[..2880]).to_string();
        assert!(text.contains("PROV0001= 'xxx") && text.contains("CONTINUE  'xxx"), "{text}");
        assert!(String::from_utf8_lossy(&f.bytes[3 * 2880..4 * 2880]).contains("BITPIX  =                   32"));
    }
}
