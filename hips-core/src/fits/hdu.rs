//! The structure of a FITS file read by byte range: each HDU's header and where its data lies, scanned reading
//! headers only (a tile-compressed image table is described as the image it holds).
//!
//! Every size comes from the header and is checked against the source length before anything is allocated, so a
//! corrupt `NAXISn` yields an error, never an absurd allocation.

use std::sync::Arc;

use super::compressed::{self, TileCompressed};
use super::{ByteSource, FitsError, Header};

const BLOCK: u64 = 2880;
/// One header-data unit: its header and where its data lies in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Hdu {
    /// 0-based position in the file (0 = primary).
    pub index: usize,
    /// The parsed header.
    pub header: Header,
    /// Byte offset of the first header block.
    pub header_start: u64,
    /// Byte offset of the data (just after the padded header).
    pub data_start: u64,
    /// Data length in bytes, without padding (`|BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1*...*NAXISn)`).
    pub data_len: u64,
    /// BITPIX.
    pub bitpix: i32,
    /// NAXIS1, NAXIS2, ... (empty when NAXIS = 0).
    pub naxes: Vec<usize>,
    /// XTENSION value (`None` for the primary HDU).
    pub xtension: Option<String>,
    /// EXTNAME value, if any.
    pub extname: Option<String>,
    /// For a tile-compressed image (a ZIMAGE binary table): its tiling and columns. `header`, `bitpix`, `naxes`
    /// and `xtension` are then the image's (ZBITPIX, ZNAXISn, ...), `data_start`/`data_len` the table's.
    pub compressed: Option<Arc<TileCompressed>>,
}

impl Hdu {
    /// A label for messages: `HDU 2 (EXTNAME='MASK')`, `HDU 1 (EXTTYPE='IMAGE')` or `HDU 0`.
    #[must_use]
    pub fn label(&self) -> String {
        hdu_label(self.index, &self.header)
    }

    /// The EXTTYPE value (LSST afw names its image planes with it when EXTNAME is absent).
    #[must_use]
    pub fn exttype(&self) -> Option<String> {
        self.header.get_str("EXTTYPE")
    }

    /// Whether the name given matches EXTNAME or EXTTYPE (case-insensitive, trailing blanks ignored).
    #[must_use]
    pub fn is_named(&self, name: &str) -> bool {
        let eq = |s: Option<String>| s.is_some_and(|s| s.trim().eq_ignore_ascii_case(name.trim()));
        eq(self.extname.clone()) || eq(self.exttype())
    }

    /// Whether this HDU holds a 2-D image (primary or IMAGE extension, NAXIS >= 2 with NAXIS3.. = 1, non-empty).
    #[must_use]
    pub fn is_image(&self) -> bool {
        image_dims(self).is_ok()
    }

    /// Image width and height (NAXIS1, NAXIS2) when this HDU is a 2-D image.
    #[must_use]
    pub fn dims(&self) -> Option<(usize, usize)> {
        image_dims(self).ok()
    }
}

/// The first HDU named `name` (EXTNAME or EXTTYPE, see [`Hdu::is_named`]).
#[must_use]
pub fn find_hdu<'a>(hdus: &'a [Hdu], name: &str) -> Option<&'a Hdu> {
    hdus.iter().find(|h| h.is_named(name))
}

/// The first HDU holding a 2-D image (the primary for simple files, HDU 1 for LSST exposures and coadds).
#[must_use]
pub fn first_image(hdus: &[Hdu]) -> Option<&Hdu> {
    hdus.iter().find(|h| h.is_image())
}

fn hdu_label(index: usize, header: &Header) -> String {
    if let Some(n) = header.get_str("EXTNAME") {
        format!("HDU {index} (EXTNAME='{n}')")
    } else if let Some(t) = header.get_str("EXTTYPE") {
        format!("HDU {index} (EXTTYPE='{t}')")
    } else {
        format!("HDU {index}")
    }
}

/// Read the header starting at `start`: block by block until the block holding `END`.
fn read_header(src: &dyn ByteSource, index: usize, start: u64, total: u64) -> Result<(Header, u64), FitsError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = start;
    loop {
        if pos + BLOCK > total {
            if buf.is_empty() {
                return Err(FitsError::Truncated {
                    name: src.name().into(),
                    what: format!("header of HDU {index}"),
                    offset: pos,
                    end: pos + BLOCK,
                    len: total,
                });
            }
            return Err(FitsError::NoEnd { name: src.name().into(), hdu: format!("HDU {index}"), len: total });
        }
        let block = src.read_at(pos, BLOCK as usize)?;
        pos += BLOCK;
        let has_end = block.chunks_exact(80).any(|c| c.starts_with(b"END     ") && c[8..].iter().all(|&b| b == b' '));
        buf.extend_from_slice(&block);
        if has_end {
            break;
        }
    }
    match Header::parse(&buf) {
        Some((h, _)) => Ok((h, pos)),
        None => Err(FitsError::NoEnd { name: src.name().into(), hdu: format!("HDU {index}"), len: total }),
    }
}

/// Scan a FITS source: every HDU's header and data extent, reading headers only and skipping data by size.
///
/// Trailing bytes after the last HDU that do not start an extension (zero padding, garbage) are ignored, as cfitsio
/// and astropy do.
///
/// # Errors
/// When the source is not FITS, a header is truncated or has no END, a mandatory keyword is missing or invalid, or
/// an HDU's data extends past the end of the source.
pub fn scan_hdus(src: &dyn ByteSource) -> Result<Vec<Hdu>, FitsError> {
    let total = src.len()?;
    let name = || src.name().to_string();
    if total < BLOCK {
        return Err(FitsError::NotFits {
            name: name(),
            reason: format!("only {total} bytes (a FITS file has at least 2880)"),
        });
    }
    let first = src.read_at(0, 80)?;
    if !first.starts_with(b"SIMPLE  =") {
        return Err(FitsError::NotFits {
            name: name(),
            reason: format!("first card is {:?}, not SIMPLE", String::from_utf8_lossy(&first[..first.len().min(30)])),
        });
    }
    let mut hdus = Vec::new();
    let mut pos = 0u64;
    while pos < total {
        let index = hdus.len();
        if index > 0 {
            if pos + 80 > total {
                break; // fewer bytes than one card: trailing bytes, not an HDU
            }
            let card = src.read_at(pos, 80)?;
            if pos + BLOCK > total && card.starts_with(b"XTENSION=") {
                // An extension header cut short: the file is truncated, and its later HDUs (MASK, VARIANCE...) lost.
                return Err(FitsError::Truncated {
                    name: name(),
                    what: format!("header of HDU {index}"),
                    offset: pos,
                    end: pos + BLOCK,
                    len: total,
                });
            }
            if pos + BLOCK > total {
                break; // trailing partial block that is not an extension: not an HDU
            }
            if !card.starts_with(b"XTENSION=") {
                tracing::debug!(file = src.name(), offset = pos, "ignoring trailing bytes after the last HDU");
                break;
            }
        }
        let (header, data_start) = read_header(src, index, pos, total)?;
        let hdu = describe(src.name(), index, header, pos, data_start)?;
        let end = hdu.data_start.checked_add(hdu.data_len).filter(|&e| e <= total);
        let Some(end) = end else {
            return Err(FitsError::Truncated {
                name: name(),
                what: format!("data of {}", hdu.label()),
                offset: hdu.data_start,
                end: hdu.data_start.saturating_add(hdu.data_len),
                len: total,
            });
        };
        pos = end.div_ceil(BLOCK).saturating_mul(BLOCK);
        hdus.push(hdu);
    }
    Ok(hdus)
}

/// Build an [`Hdu`] from its header: check mandatory keywords and compute the data size.
fn describe(name: &str, index: usize, header: Header, header_start: u64, data_start: u64) -> Result<Hdu, FitsError> {
    let label = hdu_label(index, &header);
    let missing = |key: &str| FitsError::MissingKey { name: name.into(), hdu: label.clone(), key: key.into() };
    let bad = |key: &str, reason: String| FitsError::BadValue {
        name: name.into(),
        hdu: label.clone(),
        key: key.into(),
        reason,
    };
    let xtension = if index == 0 {
        if header.get_bool("SIMPLE") != Some(true) {
            return Err(FitsError::NotFits { name: name.into(), reason: "SIMPLE is not T".into() });
        }
        None
    } else {
        Some(header.get_str("XTENSION").ok_or_else(|| missing("XTENSION"))?.trim().to_string())
    };
    let bitpix = header.get_i64("BITPIX").ok_or_else(|| missing("BITPIX"))?;
    if ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
        return Err(FitsError::UnsupportedBitpix { name: name.into(), hdu: label, bitpix, reason: String::new() });
    }
    let naxis = header.get_i64("NAXIS").ok_or_else(|| missing("NAXIS"))?;
    if !(0..=999).contains(&naxis) {
        return Err(bad("NAXIS", format!("{naxis} is not in 0..=999")));
    }
    let mut naxes = Vec::with_capacity(naxis as usize);
    for i in 1..=naxis {
        let key = format!("NAXIS{i}");
        let v = header.get_i64(&key).ok_or_else(|| missing(&key))?;
        let v = usize::try_from(v).map_err(|_| bad(&key, format!("{v} is negative")))?;
        naxes.push(v);
    }
    let pcount = match header.get_i64("PCOUNT") {
        Some(p) if p >= 0 => p as u64,
        Some(p) => return Err(bad("PCOUNT", format!("{p} is negative"))),
        None => 0,
    };
    let gcount = match header.get_i64("GCOUNT") {
        Some(g) if g >= 0 => g as u64,
        Some(g) => return Err(bad("GCOUNT", format!("{g} is negative"))),
        None => 1,
    };
    // Random groups (primary, NAXIS1 = 0, GROUPS = T): NAXIS1 is not part of the group size.
    let groups = index == 0 && naxes.first() == Some(&0) && header.get_bool("GROUPS") == Some(true);
    let axes = if groups { &naxes[1..] } else { &naxes[..] };
    let overflow = || bad("NAXISn", "data size overflows 64 bits".into());
    let data_len = if naxes.is_empty() {
        0
    } else {
        let mut n: u64 = 1;
        for &a in axes {
            n = n.checked_mul(a as u64).ok_or_else(overflow)?;
        }
        let elems = n.checked_add(pcount).and_then(|x| x.checked_mul(gcount)).ok_or_else(overflow)?;
        elems.checked_mul(bitpix.unsigned_abs() / 8).ok_or_else(overflow)?
    };
    let extname = header.get_str("EXTNAME").map(|s| s.trim_end().to_string());
    if xtension.as_deref() == Some("BINTABLE") && header.get_bool("ZIMAGE") == Some(true) {
        let tc = TileCompressed::parse(name, &label, &header, data_start, data_len)?;
        let mut naxes = vec![tc.width, tc.height];
        let more = header.get_i64("ZNAXIS").unwrap_or(2);
        naxes.extend((2..more).map(|_| 1usize));
        let image = compressed::header::image_header(&header, tc.zbitpix, &naxes);
        let xtension = image.get_str("XTENSION");
        return Ok(Hdu {
            index,
            header: image,
            header_start,
            data_start,
            data_len,
            bitpix: tc.zbitpix,
            naxes,
            xtension,
            extname,
            compressed: Some(Arc::new(tc)),
        });
    }
    Ok(Hdu {
        index,
        header,
        header_start,
        data_start,
        data_len,
        bitpix: bitpix as i32,
        naxes,
        xtension,
        extname,
        compressed: None,
    })
}

/// Width and height of a 2-D image HDU, or why it is not one.
pub(super) fn image_dims(hdu: &Hdu) -> Result<(usize, usize), String> {
    match hdu.xtension.as_deref() {
        None | Some("IMAGE") => {}
        Some(x) => return Err(format!("XTENSION is '{x}'")),
    }
    if hdu.naxes.len() < 2 {
        return Err(format!("NAXIS = {}", hdu.naxes.len()));
    }
    if let Some(extra) = hdu.naxes[2..].iter().position(|&n| n != 1) {
        return Err(format!("NAXIS{} = {} (cubes are not supported)", extra + 3, hdu.naxes[extra + 2]));
    }
    let (w, h) = (hdu.naxes[0], hdu.naxes[1]);
    if w == 0 || h == 0 {
        return Err(format!("empty image {w}x{h}"));
    }
    let bytes = (w as u64).checked_mul(h as u64).and_then(|n| n.checked_mul(u64::from(hdu.bitpix.unsigned_abs() / 8)));
    if hdu.compressed.is_none() && bytes.is_none_or(|b| b > hdu.data_len) {
        return Err("data shorter than NAXIS1*NAXIS2".into());
    }
    Ok((w, h))
}
