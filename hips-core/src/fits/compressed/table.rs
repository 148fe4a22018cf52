//! The layout of a tile-compressed image (FITS 4.0 section 10): the ZIMAGE binary table's keywords and columns read
//! once from its header into a [`TileCompressed`] (tiling, algorithm, quantization, where each column lies in a row).
//!
//! Everything is checked here against the table's own size, so a later read of a row or a heap range cannot ask for
//! an absurd allocation: the number of tiles must equal the table's rows, a tile holds at most [`MAX_TILE_PIXELS`].

use super::super::{FitsError, Header};

/// The largest tile accepted (pixels): 2^28, 1 GiB of 32-bit values; fpack and astropy write row tiles.
pub const MAX_TILE_PIXELS: u64 = 1 << 28;

/// The compression algorithm of the tiles (ZCMPTYPE) with its parameters (ZNAMEi / ZVALi).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RICE_1 with BLOCKSIZE (16 or 32) and BYTEPIX (1, 2, 4).
    Rice {
        /// Pixels per block.
        blocksize: usize,
        /// Bytes per integer value.
        bytepix: usize,
    },
    /// GZIP_1: the big-endian values, gzip-compressed.
    Gzip1,
    /// GZIP_2: the same with the bytes shuffled (all most-significant bytes first).
    Gzip2,
    /// PLIO_1: IRAF's line-list run-length coding of non-negative integers.
    Plio,
    /// HCOMPRESS_1 with SCALE and SMOOTH.
    Hcompress {
        /// ZVAL of SCALE (0 = lossless).
        scale: i64,
        /// Whether SMOOTH was asked for (only applies to lossy data).
        smooth: bool,
    },
    /// NOCOMPRESS: the values stored as they are.
    None,
}

/// How quantized floating-point tiles are restored (ZQUANTIZ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dither {
    /// NO_DITHER: `value = q * ZSCALE + ZZERO`.
    None,
    /// SUBTRACTIVE_DITHER_1: the standard random sequence subtracted.
    Subtractive1,
    /// SUBTRACTIVE_DITHER_2: as 1, and the reserved value -2147483646 stands for an exact 0.0.
    Subtractive2,
}

/// A column of the table: its byte offset in a row and its TFORM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Byte offset of the field in a row.
    pub offset: usize,
    /// For a variable-length array (`P`/`Q`): whether the descriptor is 64-bit (`Q`).
    pub wide: bool,
    /// Whether the column is a variable-length array descriptor.
    pub varlen: bool,
    /// The element type letter (`B`, `I`, `J`, `K`, `E`, `D`).
    pub elem: u8,
}

impl Column {
    /// Bytes of one element of type `elem`.
    #[must_use]
    pub fn elem_size(&self) -> usize {
        elem_size(self.elem).unwrap_or(1)
    }
}

fn elem_size(t: u8) -> Option<usize> {
    match t {
        b'B' | b'L' | b'A' | b'X' => Some(1),
        b'I' => Some(2),
        b'J' | b'E' => Some(4),
        b'K' | b'D' | b'C' | b'P' => Some(8),
        b'M' | b'Q' => Some(16),
        _ => None,
    }
}

/// Where to find the per-tile values of a tile-compressed image, and how to decode them.
#[derive(Debug, Clone, PartialEq)]
pub struct TileCompressed {
    /// A process-unique id (the key of the decoded-tile cache).
    pub id: u64,
    /// ZBITPIX: the type of the image.
    pub zbitpix: i32,
    /// ZNAXIS1, ZNAXIS2.
    pub width: usize,
    /// ZNAXIS2.
    pub height: usize,
    /// ZTILE1 (default ZNAXIS1).
    pub tile_w: usize,
    /// ZTILE2 (default 1).
    pub tile_h: usize,
    /// Tiles per image row.
    pub tiles_x: usize,
    /// Tiles per image column.
    pub tiles_y: usize,
    /// Bytes of one table row (NAXIS1).
    pub row_bytes: usize,
    /// Offset of the table's first row in the source.
    pub table_start: u64,
    /// Offset of the heap in the source.
    pub heap_start: u64,
    /// Length of the heap (the data after THEAP).
    pub heap_len: u64,
    /// ZCMPTYPE.
    pub algorithm: Algorithm,
    /// Quantization of a floating-point image: `None` for integer images and lossless floats.
    pub dither: Option<Dither>,
    /// ZDITHER0 (default 0, as astropy).
    pub dither0: i64,
    /// COMPRESSED_DATA.
    pub data: Column,
    /// GZIP_COMPRESSED_DATA (tiles that could not be quantized, stored losslessly).
    pub gzip_data: Option<Column>,
    /// UNCOMPRESSED_DATA (the same, stored as they are).
    pub raw_data: Option<Column>,
    /// ZSCALE per tile (column), else the keyword's value in `zscale_key`.
    pub zscale: Option<Column>,
    /// ZZERO per tile (column).
    pub zzero: Option<Column>,
    /// ZBLANK per tile (column).
    pub zblank: Option<Column>,
    /// The ZSCALE keyword.
    pub zscale_key: Option<f64>,
    /// The ZZERO keyword.
    pub zzero_key: Option<f64>,
    /// The ZBLANK keyword, else the image's BLANK (integer images), else for quantized floats the standard's
    /// NULL_VALUE -2147483647.
    pub blank: Option<i64>,
}

/// The value of a quantized pixel that stands for an exact 0.0 under SUBTRACTIVE_DITHER_2.
pub const ZERO_VALUE: i64 = -2_147_483_646;
/// cfitsio's value for null pixels of quantized images when no ZBLANK is given.
pub const NULL_VALUE: i64 = -2_147_483_647;

impl TileCompressed {
    /// The number of pixels of tile `(tx, ty)` as (width, height): edge tiles are cut to the image.
    #[must_use]
    pub fn tile_dims(&self, tx: usize, ty: usize) -> (usize, usize) {
        let w = self.tile_w.min(self.width - tx * self.tile_w);
        let h = self.tile_h.min(self.height - ty * self.tile_h);
        (w, h)
    }

    /// Bytes per decoded pixel.
    #[must_use]
    pub fn bpp(&self) -> usize {
        (self.zbitpix.unsigned_abs() / 8) as usize
    }

    /// Parse the ZIMAGE table header. `data_start` and `data_len` are the table's data extent in the source.
    ///
    /// # Errors
    /// [`FitsError::Compressed`] naming the keyword or column that is missing or invalid.
    pub fn parse(name: &str, label: &str, h: &Header, data_start: u64, data_len: u64) -> Result<Self, FitsError> {
        let err = |what: &str, reason: String| FitsError::Compressed {
            name: name.into(),
            hdu: label.into(),
            what: what.into(),
            reason,
        };
        let int = |key: &str| h.get_i64(key).ok_or_else(|| err(key, "missing or not an integer".into()));
        let zbitpix = int("ZBITPIX")?;
        if ![8, 16, 32, 64, -32, -64].contains(&zbitpix) {
            return Err(err("ZBITPIX", format!("{zbitpix} is not 8, 16, 32, 64, -32 or -64")));
        }
        let znaxis = int("ZNAXIS")?;
        if !(2..=999).contains(&znaxis) {
            return Err(err("ZNAXIS", format!("{znaxis}: only images of 2 or more axes are read")));
        }
        let mut axes = Vec::new();
        let mut tiles = Vec::new();
        for i in 1..=znaxis {
            let key = format!("ZNAXIS{i}");
            let n = int(&key)?;
            if !(1..=(1 << 31)).contains(&n) {
                return Err(err(&key, format!("{n} is not in 1..=2^31")));
            }
            if i > 2 && n != 1 {
                return Err(err(&key, format!("{n}: cubes are not supported")));
            }
            let tkey = format!("ZTILE{i}");
            let t = match h.get_i64(&tkey) {
                Some(t) if (1..=n).contains(&t) => t,
                Some(t) => return Err(err(&tkey, format!("{t} is not in 1..={n} ({key})"))),
                None if i == 1 => n,
                None => 1,
            };
            axes.push(n as usize);
            tiles.push(t as usize);
        }
        let (width, height, tile_w, tile_h) = (axes[0], axes[1], tiles[0], tiles[1]);
        if (tile_w as u64) * (tile_h as u64) > MAX_TILE_PIXELS {
            return Err(err("ZTILEn", format!("{tile_w}x{tile_h} tiles are larger than {MAX_TILE_PIXELS} pixels")));
        }
        let (tiles_x, tiles_y) = (width.div_ceil(tile_w), height.div_ceil(tile_h));
        let row_bytes = usize::try_from(int("NAXIS1")?).map_err(|_| err("NAXIS1", "negative".into()))?;
        let rows = int("NAXIS2")?;
        if rows as u64 != (tiles_x as u64) * (tiles_y as u64) {
            return Err(err(
                "NAXIS2",
                format!("the table has {rows} rows but ZNAXISn / ZTILEn make {tiles_x} x {tiles_y} tiles"),
            ));
        }
        let table_bytes = (row_bytes as u64) * (rows as u64);
        let theap = match h.get_i64("THEAP") {
            Some(t) if t >= 0 && (t as u64) >= table_bytes && (t as u64) <= data_len => t as u64,
            Some(t) => return Err(err("THEAP", format!("{t} is not within {table_bytes}..={data_len}"))),
            None => table_bytes,
        };
        let cmp = h.get_str("ZCMPTYPE").ok_or_else(|| err("ZCMPTYPE", "missing".into()))?;
        // The ZVALi of the ZNAMEi called `pname` (a logical counts as 0 or 1: astropy writes SMOOTH = T).
        let param = |pname: &str| -> Option<i64> {
            (1..=99).find_map(|i| {
                let n = h.get_str(&format!("ZNAME{i}"))?;
                if n.trim().eq_ignore_ascii_case(pname) {
                    let key = format!("ZVAL{i}");
                    h.get_i64(&key).or_else(|| h.get_bool(&key).map(i64::from))
                } else {
                    None
                }
            })
        };
        let algorithm = match cmp.trim().to_ascii_uppercase().as_str() {
            "RICE_1" | "RICE_ONE" => {
                let blocksize = param("BLOCKSIZE").unwrap_or(32);
                let bytepix = param("BYTEPIX").unwrap_or(4);
                if !(1..=1 << 16).contains(&blocksize) {
                    return Err(err("ZVALn (BLOCKSIZE)", format!("{blocksize} is not a block size")));
                }
                if ![1, 2, 4].contains(&bytepix) {
                    return Err(err("ZVALn (BYTEPIX)", format!("{bytepix} is not 1, 2 or 4")));
                }
                Algorithm::Rice { blocksize: blocksize as usize, bytepix: bytepix as usize }
            }
            "GZIP_1" => Algorithm::Gzip1,
            "GZIP_2" => Algorithm::Gzip2,
            "PLIO_1" => Algorithm::Plio,
            "HCOMPRESS_1" => {
                Algorithm::Hcompress { scale: param("SCALE").unwrap_or(0), smooth: param("SMOOTH").unwrap_or(0) != 0 }
            }
            "NOCOMPRESS" => Algorithm::None,
            other => return Err(err("ZCMPTYPE", format!("'{other}' is not a known algorithm"))),
        };
        let columns = columns(h, row_bytes).map_err(|(k, r)| err(&k, r))?;
        let find = |n: &str| columns.iter().find(|(t, _)| t.eq_ignore_ascii_case(n)).map(|(_, c)| *c);
        let data = find("COMPRESSED_DATA").ok_or_else(|| err("TTYPEn", "no COMPRESSED_DATA column".into()))?;
        let varlen = |c: Option<Column>, n: &str| match c {
            Some(c) if !c.varlen => Err(err(n, "is not a variable-length array (P or Q) column".into())),
            c => Ok(c),
        };
        let data = varlen(Some(data), "COMPRESSED_DATA")?.unwrap_or(data);
        let gzip_data = varlen(find("GZIP_COMPRESSED_DATA"), "GZIP_COMPRESSED_DATA")?;
        let raw_data = varlen(find("UNCOMPRESSED_DATA"), "UNCOMPRESSED_DATA")?;
        let scalar = |n: &str, types: &[u8]| match find(n) {
            Some(c) if c.varlen || !types.contains(&c.elem) => {
                Err(err(n, format!("column type {} is not one of {}", c.elem as char, String::from_utf8_lossy(types))))
            }
            c => Ok(c),
        };
        let zscale = scalar("ZSCALE", b"DE")?;
        let zzero = scalar("ZZERO", b"DE")?;
        let zblank = scalar("ZBLANK", b"BIJK")?;
        let zscale_key = h.get_f64("ZSCALE");
        let zzero_key = h.get_f64("ZZERO");
        let quantized = zbitpix < 0 && (zscale.is_some() || zscale_key.is_some());
        let dither = if quantized {
            let q = h.get_str("ZQUANTIZ").unwrap_or_else(|| "NO_DITHER".into());
            Some(match q.trim().to_ascii_uppercase().as_str() {
                "NO_DITHER" => Dither::None,
                "SUBTRACTIVE_DITHER_1" => Dither::Subtractive1,
                "SUBTRACTIVE_DITHER_2" => Dither::Subtractive2,
                "NONE" => return Err(err("ZQUANTIZ", "NONE but the tiles carry ZSCALE".into())),
                other => return Err(err("ZQUANTIZ", format!("'{other}' is not a known quantization"))),
            })
        } else {
            None
        };
        if quantized && zzero.is_none() && zzero_key.is_none() {
            return Err(err("ZZERO", "quantized tiles need ZZERO (column or keyword)".into()));
        }
        if zbitpix < 0
            && !quantized
            && matches!(algorithm, Algorithm::Rice { .. } | Algorithm::Plio | Algorithm::Hcompress { .. })
        {
            return Err(err("ZSCALE", format!("a {cmp} floating-point image must be quantized (no ZSCALE found)")));
        }
        let blank = h.get_i64("ZBLANK").or_else(|| if zbitpix > 0 { h.get_i64("BLANK") } else { None });
        let blank = blank.or(if quantized { Some(NULL_VALUE) } else { None });
        Ok(TileCompressed {
            id: next_id(),
            zbitpix: zbitpix as i32,
            width,
            height,
            tile_w,
            tile_h,
            tiles_x,
            tiles_y,
            row_bytes,
            table_start: data_start,
            heap_start: data_start + theap,
            heap_len: data_len - theap,
            algorithm,
            dither,
            dither0: h.get_i64("ZDITHER0").unwrap_or(0),
            data,
            gzip_data,
            raw_data,
            zscale,
            zzero,
            zblank,
            zscale_key,
            zzero_key,
            blank,
        })
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Every column as (TTYPE, position and TFORM), checked to fit the row.
fn columns(h: &Header, row_bytes: usize) -> Result<Vec<(String, Column)>, (String, String)> {
    let n = h.get_i64("TFIELDS").ok_or_else(|| ("TFIELDS".to_string(), "missing".to_string()))?;
    if !(0..=999).contains(&n) {
        return Err(("TFIELDS".into(), format!("{n} is not in 0..=999")));
    }
    let mut out = Vec::new();
    let mut offset = 0usize;
    for i in 1..=n {
        let key = format!("TFORM{i}");
        let form = h.get_str(&key).ok_or_else(|| (key.clone(), "missing".to_string()))?;
        let form = form.trim().to_ascii_uppercase();
        let digits = form.bytes().take_while(u8::is_ascii_digit).count();
        let repeat: usize =
            if digits == 0 { 1 } else { form[..digits].parse().map_err(|_| (key.clone(), form.clone()))? };
        let rest = form.as_bytes().get(digits..).unwrap_or_default();
        let Some(&t) = rest.first() else { return Err((key, format!("'{form}' has no type"))) };
        let (varlen, wide, elem) = match t {
            b'P' | b'Q' => (true, t == b'Q', rest.get(1).copied().unwrap_or(b'B')),
            _ => (false, false, t),
        };
        let size = elem_size(t).ok_or_else(|| (key.clone(), format!("'{form}' has an unknown type")))?;
        if elem_size(elem).is_none() {
            return Err((key, format!("'{form}' has an unknown element type")));
        }
        let bytes = if t == b'X' { repeat.div_ceil(8) } else { repeat.saturating_mul(size) };
        let ttype = h.get_str(&format!("TTYPE{i}")).unwrap_or_default().trim().to_string();
        if repeat >= 1 {
            out.push((ttype, Column { offset, wide, varlen, elem }));
        }
        offset = offset.saturating_add(bytes);
    }
    if offset > row_bytes {
        return Err(("NAXIS1".into(), format!("the columns need {offset} bytes per row, NAXIS1 is {row_bytes}")));
    }
    Ok(out)
}
