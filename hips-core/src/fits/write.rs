//! Writing FITS images: standard card formatting (fixed-format values right-justified to column 30, quoted strings,
//! HIERARCH for long keys, round-tripping reals) and complete HDUs with DATASUM and CHECKSUM per the FITS checksum
//! convention (ones'-complement 32-bit sum, 16-character ASCII encoding of its complement).
//!
//! Output is deterministic: no timestamps are written, so the same inputs give byte-identical files.

use super::{Card, Value};

const BLOCK: usize = 2880;

/// Keys the writer sets itself; callers' cards with these keys are dropped from `extra`.
const RESERVED: &[&str] = &[
    "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "PCOUNT", "GCOUNT", "END", "DATASUM",
    "CHECKSUM",
];

fn opt_comment(comment: &str) -> Option<String> {
    (!comment.is_empty()).then(|| comment.to_string())
}

impl Card {
    /// A string-valued card (`comment` empty for none).
    #[must_use]
    pub fn str(key: &str, value: &str, comment: &str) -> Card {
        Card {
            key: key.to_ascii_uppercase(),
            value: Some(Value::Str(value.to_string())),
            comment: opt_comment(comment),
        }
    }

    /// An integer-valued card.
    #[must_use]
    pub fn int(key: &str, value: i64, comment: &str) -> Card {
        Card { key: key.to_ascii_uppercase(), value: Some(Value::Int(value)), comment: opt_comment(comment) }
    }

    /// A real-valued card (written so that it reads back to the same f64; NaN/infinite values are written as an
    /// undefined value, which FITS has no other way to express).
    #[must_use]
    pub fn float(key: &str, value: f64, comment: &str) -> Card {
        Card { key: key.to_ascii_uppercase(), value: Some(Value::Float(value)), comment: opt_comment(comment) }
    }

    /// A logical card (`T`/`F`).
    #[must_use]
    pub fn logical(key: &str, value: bool, comment: &str) -> Card {
        Card { key: key.to_ascii_uppercase(), value: Some(Value::Bool(value)), comment: opt_comment(comment) }
    }

    /// A `COMMENT` card.
    #[must_use]
    pub fn comment(text: &str) -> Card {
        Card { key: "COMMENT".into(), value: None, comment: opt_comment(text) }
    }

    /// A `HISTORY` card.
    #[must_use]
    pub fn history(text: &str) -> Card {
        Card { key: "HISTORY".into(), value: None, comment: opt_comment(text) }
    }

    /// The card as 80 ASCII bytes (non-printable characters replaced by blanks; over-long comments and string values
    /// are truncated to fit).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 80] {
        let text = format_card(self);
        let mut out = [b' '; 80];
        for (o, ch) in out.iter_mut().zip(text.chars()) {
            *o = if (' '..='~').contains(&ch) { ch as u8 } else { b' ' };
        }
        out
    }
}

/// A real number as FITS text: the shortest representation that reads back to the same f64, always with a `.`
/// and an upper-case `E` exponent.
#[must_use]
pub fn format_real(v: f64) -> String {
    let dbg = format!("{v:?}"); // shortest round-trip: "266.4", "1e-10", "-0.0", "1.5e300"
    let fixed = match dbg.split_once('e') {
        Some((m, e)) => {
            let m = if m.contains('.') { m.to_string() } else { format!("{m}.0") };
            format!("{m}E{e}")
        }
        None => dbg,
    };
    if fixed.len() <= 20 {
        return fixed;
    }
    let sci = format!("{v:E}"); // "1.2345E-5"
    let sci = match sci.split_once('E') {
        Some((m, e)) if !m.contains('.') => format!("{m}.0E{e}"),
        _ => sci,
    };
    if sci.len() < fixed.len() {
        sci
    } else {
        fixed
    }
}

fn value_text(v: &Value) -> (String, bool) {
    match v {
        Value::Str(s) => {
            let esc = s.replace('\'', "''");
            (format!("'{esc:<8}'"), false)
        }
        Value::Bool(b) => ((if *b { "T" } else { "F" }).to_string(), true),
        Value::Int(i) => (i.to_string(), true),
        Value::Float(f) if f.is_finite() => (format_real(*f), true),
        Value::Float(_) => (String::new(), true),
        Value::Other(s) => (s.clone(), true),
    }
}

fn format_card(card: &Card) -> String {
    let key = card.key.as_str();
    let Some(value) = &card.value else {
        // Commentary card: key then free text from column 9.
        let text = card.comment.as_deref().unwrap_or("");
        let mut s = format!("{key:<8}{text}");
        s.truncate(80);
        return s;
    };
    let standard_key =
        key.len() <= 8 && key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    let (mut vtext, right_justify) = value_text(value);
    let head = if standard_key { format!("{key:<8}= ") } else { format!("HIERARCH {key} = ") };
    if standard_key && vtext.len() < 20 {
        // Numbers right-justified to column 30; strings left-justified in the same 20-column field, so comments
        // start at column 32 as cfitsio and astropy write them (astropy re-serializes CHECKSUM that way to verify).
        vtext = if right_justify { format!("{vtext:>20}") } else { format!("{vtext:<20}") };
    }
    let mut s = format!("{head}{vtext}");
    if s.len() > 80 {
        if let Value::Str(orig) = value {
            // Truncate the string value to fit, keeping escapes intact.
            let room = 80usize.saturating_sub(head.len() + 2);
            let mut esc = String::new();
            for ch in orig.chars() {
                let piece = if ch == '\'' { "''" } else { "" };
                let add = if piece.is_empty() { ch.len_utf8() } else { 2 };
                if esc.len() + add > room {
                    break;
                }
                if piece.is_empty() {
                    esc.push(ch);
                } else {
                    esc.push_str(piece);
                }
            }
            s = format!("{head}'{esc}'");
        }
        s.truncate(80);
    }
    if let Some(c) = &card.comment {
        if s.len() + 3 < 80 {
            s.push_str(" / ");
            s.push_str(c);
        }
    }
    s.truncate(80);
    s
}

/// Image pixels to write, row-major, row 0 written first.
#[derive(Debug, Clone, Copy)]
pub enum PixelData<'a> {
    /// BITPIX -32.
    F32(&'a [f32]),
    /// BITPIX -64.
    F64(&'a [f64]),
    /// BITPIX 8.
    U8(&'a [u8]),
    /// BITPIX 16.
    I16(&'a [i16]),
    /// BITPIX 32.
    I32(&'a [i32]),
    /// BITPIX 64.
    I64(&'a [i64]),
    /// Values already big-endian, as stored in a FITS data unit with this BITPIX (copied unchanged).
    Raw {
        /// BITPIX of the bytes.
        bitpix: i64,
        /// The big-endian values.
        bytes: &'a [u8],
    },
}

impl PixelData<'_> {
    fn bitpix(&self) -> i64 {
        match self {
            PixelData::F32(_) => -32,
            PixelData::F64(_) => -64,
            PixelData::U8(_) => 8,
            PixelData::I16(_) => 16,
            PixelData::I32(_) => 32,
            PixelData::I64(_) => 64,
            PixelData::Raw { bitpix, .. } => *bitpix,
        }
    }

    /// Write the values big-endian into `out` (its length sets how many); values missing from `self` are left as
    /// they are in `out` (zero in a fresh buffer), surplus values are ignored.
    fn write_be_into(&self, out: &mut [u8]) {
        macro_rules! put {
            ($d:expr, $n:expr) => {{
                for (o, v) in out.chunks_exact_mut($n).zip($d.iter()) {
                    o.copy_from_slice(&v.to_be_bytes());
                }
            }};
        }
        match self {
            PixelData::F32(d) => put!(d, 4),
            PixelData::F64(d) => put!(d, 8),
            PixelData::U8(d) => put!(d, 1),
            PixelData::I16(d) => put!(d, 2),
            PixelData::I32(d) => put!(d, 4),
            PixelData::I64(d) => put!(d, 8),
            PixelData::Raw { bytes, .. } => {
                let n = bytes.len().min(out.len());
                out[..n].copy_from_slice(&bytes[..n]);
            }
        }
    }
}

/// Ones'-complement (end-around carry) sum of big-endian 32-bit words, continuing from `sum`, as cfitsio's `ffcsum`.
/// `bytes.len()` must be a multiple of 4 (FITS blocks are).
#[must_use]
pub fn ones_complement_sum(bytes: &[u8], sum: u32) -> u32 {
    let mut hi = u64::from(sum >> 16);
    let mut lo = u64::from(sum & 0xffff);
    for chunk in bytes.chunks(1 << 20) {
        for w in chunk.chunks_exact(4) {
            hi += u64::from(u16::from_be_bytes([w[0], w[1]]));
            lo += u64::from(u16::from_be_bytes([w[2], w[3]]));
        }
        // Fold regularly so the accumulators never overflow.
        fold(&mut hi, &mut lo);
    }
    fold(&mut hi, &mut lo);
    ((hi << 16) + lo) as u32
}

fn fold(hi: &mut u64, lo: &mut u64) {
    let (mut hc, mut lc) = (*hi >> 16, *lo >> 16);
    while hc != 0 || lc != 0 {
        *hi = (*hi & 0xffff) + lc;
        *lo = (*lo & 0xffff) + hc;
        hc = *hi >> 16;
        lc = *lo >> 16;
    }
}

/// The 16-character ASCII encoding of the complement of `sum` (cfitsio `ffesum` with complement), for CHECKSUM.
#[must_use]
pub fn encode_checksum(sum: u32) -> String {
    const EXCLUDE: [u8; 13] = [0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60];
    let value = !sum;
    let mut asc = [0u8; 16];
    for i in 0..4 {
        let byte = (value >> (24 - 8 * i)) & 0xff;
        let quotient = (byte / 4 + 0x30) as u8;
        let remainder = (byte % 4) as u8;
        let mut ch = [quotient; 4];
        ch[0] += remainder;
        let mut check = true;
        while check {
            check = false;
            for ex in EXCLUDE {
                for j in [0, 2] {
                    if ch[j] == ex || ch[j + 1] == ex {
                        ch[j] += 1;
                        ch[j + 1] -= 1;
                        check = true;
                    }
                }
            }
        }
        for j in 0..4 {
            asc[4 * j + i] = ch[j];
        }
    }
    (0..16).map(|i| asc[(i + 15) % 16] as char).collect()
}

fn push_card(out: &mut Vec<u8>, card: &Card) {
    out.extend_from_slice(&card.to_bytes());
}

/// Assemble an HDU: `fixed` cards, `extra` cards (reserved keys dropped), DATASUM, CHECKSUM, END, padding, data.
fn assemble(fixed: &[Card], extra: &[Card], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK * 4 + data.len().div_ceil(BLOCK) * BLOCK);
    assemble_onto(&mut out, fixed, extra, data.len(), |d| d.copy_from_slice(data));
    out
}

/// [`assemble`] appending the HDU to `out` (a multi-extension file built in one buffer), with the data unit
/// (`data_len` bytes before padding) written by `fill` straight into it, so large images are not copied twice.
fn assemble_onto(out: &mut Vec<u8>, fixed: &[Card], extra: &[Card], data_len: usize, fill: impl FnOnce(&mut [u8])) {
    let start = out.len();
    for c in fixed {
        push_card(out, c);
    }
    for c in extra.iter().filter(|c| !RESERVED.contains(&c.key.as_str())) {
        push_card(out, c);
    }
    let datasum_at = out.len();
    push_card(out, &Card::str("DATASUM", "0", "data unit checksum"));
    let checksum_at = out.len();
    push_card(out, &Card::str("CHECKSUM", "0000000000000000", "HDU checksum"));
    push_card(out, &Card { key: "END".into(), value: None, comment: None });
    out.resize(start + (out.len() - start).div_ceil(BLOCK) * BLOCK, b' ');
    let data_at = out.len();
    out.resize(data_at + data_len.div_ceil(BLOCK) * BLOCK, 0);
    fill(&mut out[data_at..data_at + data_len]);
    let datasum = ones_complement_sum(&out[data_at..], 0);
    let mut card = Vec::with_capacity(80);
    push_card(&mut card, &Card::str("DATASUM", &datasum.to_string(), "data unit checksum"));
    out[datasum_at..datasum_at + 80].copy_from_slice(&card);
    let header_sum = ones_complement_sum(&out[start..data_at], 0);
    let total = ones_complement_sum(&[], add_ones(header_sum, datasum));
    let enc = encode_checksum(total);
    // The encoded value replaces the zeros between the quotes (column 12 onwards).
    out[checksum_at + 11..checksum_at + 27].copy_from_slice(enc.as_bytes());
}

/// Ones'-complement addition of two 32-bit sums.
fn add_ones(a: u32, b: u32) -> u32 {
    let s = u64::from(a) + u64::from(b);
    ((s & 0xffff_ffff) + (s >> 32)) as u32
}

/// A complete image HDU (header + data, each padded to 2880 bytes): `SIMPLE = T` (primary, with `EXTEND = T`) or
/// `XTENSION = 'IMAGE'`, BITPIX/NAXIS1/NAXIS2, the `extra` cards, then DATASUM and CHECKSUM.
/// `data` is row-major with row 0 written first; missing values are written as zero, surplus values are ignored.
#[must_use]
pub fn image_hdu(primary: bool, width: usize, height: usize, data: PixelData, extra: &[Card]) -> Vec<u8> {
    let bytes_per = (data.bitpix().unsigned_abs() / 8) as usize;
    let mut out = Vec::with_capacity(BLOCK * 4 + (width * height * bytes_per).div_ceil(BLOCK) * BLOCK);
    append_image_hdu(&mut out, primary, width, height, data, extra);
    out
}

/// [`image_hdu`] appended to `out`, so a multi-extension file is built in one buffer without copying its HDUs.
pub fn append_image_hdu(
    out: &mut Vec<u8>,
    primary: bool,
    width: usize,
    height: usize,
    data: PixelData,
    extra: &[Card],
) {
    let mut fixed = Vec::with_capacity(7);
    if primary {
        fixed.push(Card::logical("SIMPLE", true, "conforms to FITS standard"));
    } else {
        fixed.push(Card::str("XTENSION", "IMAGE", "image extension"));
    }
    fixed.push(Card::int("BITPIX", data.bitpix(), "array data type"));
    fixed.push(Card::int("NAXIS", 2, "number of array dimensions"));
    fixed.push(Card::int("NAXIS1", width as i64, ""));
    fixed.push(Card::int("NAXIS2", height as i64, ""));
    if primary {
        fixed.push(Card::logical("EXTEND", true, ""));
    } else {
        fixed.push(Card::int("PCOUNT", 0, "number of parameters"));
        fixed.push(Card::int("GCOUNT", 1, "number of groups"));
    }
    let bytes_per = (data.bitpix().unsigned_abs() / 8) as usize;
    assemble_onto(out, &fixed, extra, width * height * bytes_per, |d| data.write_be_into(d));
}

/// An empty primary HDU (`NAXIS = 0`, `EXTEND = T`) with the `extra` cards, DATASUM and CHECKSUM.
#[must_use]
pub fn empty_primary(extra: &[Card]) -> Vec<u8> {
    let fixed = [
        Card::logical("SIMPLE", true, "conforms to FITS standard"),
        Card::int("BITPIX", 8, "array data type"),
        Card::int("NAXIS", 0, "number of array dimensions"),
        Card::logical("EXTEND", true, ""),
    ];
    assemble(&fixed, extra, &[])
}
