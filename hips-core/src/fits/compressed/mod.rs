//! Tile-compressed images (FITS 4.0 section 10; what fpack and astropy's `CompImageHDU` write): a ZIMAGE binary
//! table with one row per tile, each row pointing into the heap at the tile's compressed bytes.
//!
//! [`super::scan_hdus`] turns such an HDU into an image [`super::Hdu`] (the image header of [`header`], ZBITPIX,
//! ZNAXISn) carrying a [`TileCompressed`]; every region read then goes through [`for_region`]: it reads the table
//! rows of the tiles the region crosses and their heap bytes (byte ranges merged as the source likes them), decodes
//! them ([`codec`]: RICE_1, GZIP_1, GZIP_2, PLIO_1, HCOMPRESS_1, NOCOMPRESS; quantized floats restored with the
//! standard dither, [`dither`]) and hands the region's rows on as big-endian values of ZBITPIX's type, as a plain
//! image stores them. Decoded tiles are kept in a bounded process-wide cache ([`cache`]). Nothing else of the file is read.

pub mod cache;
pub mod codec;
pub mod dither;
pub mod hcompress;
pub mod header;
pub mod plio;
pub mod rice;
pub mod table;

use std::sync::Arc;

pub use table::{Algorithm, Dither, TileCompressed};

use self::codec::{Payload, TileParams};
use self::table::Column;
use super::{ByteSource, FitsError, Hdu};

/// Largest heap span read at once when merging the ranges of neighbouring tiles.
const MAX_SPAN: u64 = 64 << 20;

/// Call `f` with the big-endian bytes of rows `y0..y0+h`, columns `x0..x0+w` of the compressed image `hdu`, in
/// chunks of whole region rows (one chunk per band of tiles), decoding only the tiles the region crosses.
///
/// # Errors
/// [`FitsError::Compressed`] naming the table row and column of a corrupt descriptor or stream, or a read error.
pub fn for_region(
    src: &dyn ByteSource,
    hdu: &Hdu,
    tc: &TileCompressed,
    (x0, y0, w, h): (usize, usize, usize, usize),
    mut f: impl FnMut(&[u8]) -> Result<(), FitsError>,
) -> Result<(), FitsError> {
    if w == 0 || h == 0 {
        return Ok(());
    }
    let bpp = tc.bpp();
    let (tx0, tx1) = (x0 / tc.tile_w, (x0 + w - 1) / tc.tile_w);
    let (ty0, ty1) = (y0 / tc.tile_h, (y0 + h - 1) / tc.tile_h);
    let mut band = Vec::new();
    for ty in ty0..=ty1 {
        let tiles: Vec<usize> = (tx0..=tx1).map(|tx| ty * tc.tiles_x + tx).collect();
        let decoded = tiles_of(src, hdu, tc, &tiles)?;
        let rows = y0.max(ty * tc.tile_h)..(y0 + h).min((ty + 1) * tc.tile_h);
        band.clear();
        band.reserve_exact(rows.len() * w * bpp);
        for y in rows {
            let ly = y - ty * tc.tile_h;
            for (tx, tile) in (tx0..=tx1).zip(&decoded) {
                let (tw, _) = tc.tile_dims(tx, ty);
                let left = tx * tc.tile_w;
                let (c0, c1) = (x0.max(left) - left, (x0 + w).min(left + tw) - left);
                let start = (ly * tw + c0) * bpp;
                band.extend_from_slice(&tile[start..start + (c1 - c0) * bpp]);
            }
        }
        f(&band)?;
    }
    Ok(())
}

/// The decoded tiles `tiles` (table rows, 0-based), from the cache or read and decoded now.
fn tiles_of(
    src: &dyn ByteSource,
    hdu: &Hdu,
    tc: &TileCompressed,
    tiles: &[usize],
) -> Result<Vec<Arc<Vec<u8>>>, FitsError> {
    let mut out: Vec<Option<Arc<Vec<u8>>>> = tiles.iter().map(|&t| cache::get(tc.id, t)).collect();
    let missing: Vec<usize> = tiles.iter().zip(&out).filter(|(_, d)| d.is_none()).map(|(&t, _)| t).collect();
    if !missing.is_empty() {
        let mut fresh = decode_tiles(src, hdu, tc, &missing)?.into_iter();
        for slot in &mut out {
            if slot.is_none() {
                *slot = fresh.next();
            }
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// Where a tile's bytes lie in the heap and what they are.
struct Located {
    tile: usize,
    offset: u64,
    len: u64,
    kind: Kind,
    params: TileParams,
}

#[derive(Clone, Copy)]
enum Kind {
    Compressed,
    Gzip,
    Raw(usize),
}

/// Read the table rows and heap bytes of `tiles` (ascending), decode each tile and cache it.
fn decode_tiles(
    src: &dyn ByteSource,
    hdu: &Hdu,
    tc: &TileCompressed,
    tiles: &[usize],
) -> Result<Vec<Arc<Vec<u8>>>, FitsError> {
    let err = |row: usize, col: &str, reason: String| FitsError::Compressed {
        name: src.name().into(),
        hdu: hdu.label(),
        what: format!("row {} ({col})", row + 1),
        reason,
    };
    let (first, last) = (tiles[0], tiles[tiles.len() - 1]);
    let rows = src.read_at(tc.table_start + (first as u64) * tc.row_bytes as u64, (last - first + 1) * tc.row_bytes)?;
    let mut located = Vec::with_capacity(tiles.len());
    for &t in tiles {
        let row = &rows[(t - first) * tc.row_bytes..(t - first + 1) * tc.row_bytes];
        let desc = |c: &Column, name: &str| -> Result<(u64, u64), FitsError> {
            let (n, off) = descriptor(row, c);
            let len = n.checked_mul(c.elem_size() as u64).filter(|&l| l <= tc.heap_len);
            match len {
                Some(len) if off.checked_add(len).is_some_and(|e| e <= tc.heap_len) => Ok((off, len)),
                _ => Err(err(
                    t,
                    name,
                    format!("{n} elements at heap offset {off} lie outside the heap of {} bytes", tc.heap_len),
                )),
            }
        };
        let (mut offset, mut len) = desc(&tc.data, "COMPRESSED_DATA")?;
        let mut kind = Kind::Compressed;
        if len == 0 {
            if let Some(c) = &tc.gzip_data {
                (offset, len) = desc(c, "GZIP_COMPRESSED_DATA")?;
                kind = Kind::Gzip;
            } else if let Some(c) = &tc.raw_data {
                (offset, len) = desc(c, "UNCOMPRESSED_DATA")?;
                kind = Kind::Raw(c.elem_size());
            }
        }
        let float = |c: &Option<Column>, key: Option<f64>, name: &str| -> Result<f64, FitsError> {
            match c {
                Some(c) => {
                    let b = &row[c.offset..];
                    let v = if c.elem == b'E' {
                        f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    } else {
                        f64::from_be_bytes(b[..8].try_into().unwrap_or([0; 8]))
                    };
                    if v.is_finite() {
                        Ok(v)
                    } else {
                        Err(err(t, name, format!("{v} is not a finite number")))
                    }
                }
                None => Ok(key.unwrap_or(if name == "ZSCALE" { 1.0 } else { 0.0 })),
            }
        };
        let params = TileParams {
            scale: float(&tc.zscale, tc.zscale_key, "ZSCALE")?,
            zero: float(&tc.zzero, tc.zzero_key, "ZZERO")?,
            blank: tc.zblank.as_ref().map_or(tc.blank, |c| Some(int_at(row, c))),
        };
        located.push(Located { tile: t, offset, len, kind, params });
    }
    // Read the heap bytes in spans: ranges closer than the source's coalescing gap are read together.
    let mut order: Vec<usize> = (0..located.len()).collect();
    order.sort_by_key(|&i| located[i].offset);
    let mut bytes: Vec<Option<Vec<u8>>> = vec![None; located.len()];
    let gap = src.coalesce_gap() as u64;
    let mut i = 0;
    while i < order.len() {
        let start = located[order[i]].offset;
        let mut end = start + located[order[i]].len;
        let mut j = i + 1;
        while j < order.len() {
            let l = &located[order[j]];
            if l.offset > end + gap || (l.offset + l.len).max(end) - start > MAX_SPAN {
                break;
            }
            end = end.max(l.offset + l.len);
            j += 1;
        }
        let span = src.read_at(tc.heap_start + start, (end - start) as usize)?;
        for &k in &order[i..j] {
            let l = &located[k];
            let a = (l.offset - start) as usize;
            bytes[k] = Some(span[a..a + l.len as usize].to_vec());
        }
        i = j;
    }
    let mut out = Vec::with_capacity(located.len());
    for (l, b) in located.iter().zip(bytes) {
        let b = b.unwrap_or_default();
        let payload = match l.kind {
            Kind::Compressed => Payload::Compressed(&b),
            Kind::Gzip => Payload::Gzip(&b),
            Kind::Raw(e) => Payload::Raw(&b, e),
        };
        let dims = tc.tile_dims(l.tile % tc.tiles_x, l.tile / tc.tiles_x);
        let col = match l.kind {
            Kind::Compressed => "COMPRESSED_DATA",
            Kind::Gzip => "GZIP_COMPRESSED_DATA",
            Kind::Raw(_) => "UNCOMPRESSED_DATA",
        };
        let v = codec::decode_tile(tc, l.tile, dims, payload, l.params).map_err(|r| err(l.tile, col, r))?;
        let v = Arc::new(v);
        cache::put(tc.id, l.tile, v.clone());
        out.push(v);
    }
    Ok(out)
}

/// A variable-length array descriptor: (number of elements, heap offset).
fn descriptor(row: &[u8], c: &Column) -> (u64, u64) {
    let b = &row[c.offset..];
    if c.wide {
        let n = u64::from_be_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let o = u64::from_be_bytes(b[8..16].try_into().unwrap_or([0; 8]));
        (n, o)
    } else {
        (
            u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            u64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]])),
        )
    }
}

/// An integer scalar column's value.
fn int_at(row: &[u8], c: &Column) -> i64 {
    let b = &row[c.offset..];
    match c.elem {
        b'B' => i64::from(b[0]),
        b'I' => i64::from(i16::from_be_bytes([b[0], b[1]])),
        b'J' => i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        _ => i64::from_be_bytes(b[..8].try_into().unwrap_or([0; 8])),
    }
}
