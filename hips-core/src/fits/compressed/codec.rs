//! One tile from its compressed bytes to the image's values (big-endian, of ZBITPIX's type, as an uncompressed image
//! stores them, so every reader above decodes compressed and plain images alike): decompress (RICE_1, GZIP_1,
//! GZIP_2, PLIO_1, HCOMPRESS_1, NOCOMPRESS), then restore quantized floats or cast integers to ZBITPIX.

use std::io::Read;

use super::table::{Algorithm, TileCompressed};
use super::{dither, hcompress, plio, rice};

/// The bytes a tile is stored as.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// COMPRESSED_DATA, to decode with the HDU's algorithm.
    Compressed(&'a [u8]),
    /// GZIP_COMPRESSED_DATA: a tile kept losslessly (gzip of the big-endian values of ZBITPIX's type).
    Gzip(&'a [u8]),
    /// UNCOMPRESSED_DATA: the values as they are, `elem` bytes each.
    Raw(&'a [u8], usize),
}

/// The per-tile values of ZSCALE, ZZERO and ZBLANK (column, else keyword).
#[derive(Debug, Clone, Copy)]
pub struct TileParams {
    /// ZSCALE.
    pub scale: f64,
    /// ZZERO.
    pub zero: f64,
    /// ZBLANK (or the image's BLANK / NULL_VALUE).
    pub blank: Option<i64>,
}

/// Decoded integers before the final conversion.
enum Ints {
    /// From RICE_1 / PLIO_1.
    I32(Vec<i32>),
    /// Big-endian values of `size` bytes (GZIP, NOCOMPRESS).
    Be(Vec<u8>, usize),
}

/// Gunzip at most `limit` bytes (a larger output is an error, so a corrupt stream cannot exhaust memory).
fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip stream: {e}"))?;
    if out.len() > limit {
        return Err(format!("gzip stream decompresses to more than the tile's {limit} bytes"));
    }
    Ok(out)
}

/// The element size of `len` bytes holding `npix` values, one of 1, 2, 4, 8.
fn elem_size(len: usize, npix: usize) -> Result<usize, String> {
    match (len % npix, len / npix) {
        (0, s @ (1 | 2 | 4 | 8)) => Ok(s),
        _ => Err(format!("{len} decompressed bytes are not a whole number of values for {npix} pixels")),
    }
}

fn unshuffle(bytes: &[u8], size: usize) -> Vec<u8> {
    let n = bytes.len() / size;
    let mut out = vec![0u8; bytes.len()];
    for k in 0..size {
        for (i, &b) in bytes[k * n..(k + 1) * n].iter().enumerate() {
            out[i * size + k] = b;
        }
    }
    out
}

/// Decode tile number `tile` (0-based, table row order) of `w x h` pixels into big-endian ZBITPIX values.
///
/// # Errors
/// A message saying what in the stream is wrong (the caller adds file, HDU and row).
pub fn decode_tile(
    tc: &TileCompressed,
    tile: usize,
    (w, h): (usize, usize),
    payload: Payload<'_>,
    p: TileParams,
) -> Result<Vec<u8>, String> {
    let npix = w * h;
    let bpp = tc.bpp();
    let ints = match payload {
        Payload::Gzip(d) => return lossless(gunzip(d, npix * 8)?, npix, bpp),
        Payload::Raw(d, elem) => {
            if d.len() != npix * elem {
                return Err(format!("UNCOMPRESSED_DATA has {} bytes, the tile needs {}", d.len(), npix * elem));
            }
            return lossless(d.to_vec(), npix, bpp);
        }
        Payload::Compressed(d) => match tc.algorithm {
            Algorithm::Rice { blocksize, bytepix } => {
                let mut v = vec![0i32; npix];
                rice::decode(d, blocksize, bytepix, &mut v)?;
                Ints::I32(v)
            }
            Algorithm::Plio => {
                let mut v = vec![0i32; npix];
                plio::decode(d, &mut v)?;
                Ints::I32(v)
            }
            Algorithm::Gzip1 | Algorithm::Gzip2 => {
                let raw = gunzip(d, npix * 8)?;
                let size = elem_size(raw.len(), npix)?;
                let raw = if tc.algorithm == Algorithm::Gzip2 { unshuffle(&raw, size) } else { raw };
                Ints::Be(raw, size)
            }
            Algorithm::None => {
                let size = elem_size(d.len(), npix)?;
                Ints::Be(d.to_vec(), size)
            }
            Algorithm::Hcompress { smooth, .. } => {
                let mut v = Vec::new();
                hcompress::decode(d, h, w, smooth, &mut v)?;
                if tc.zbitpix == 64 {
                    Ints::Be(v.iter().flat_map(|x| x.to_be_bytes()).collect(), 8)
                } else {
                    // 32-bit decoding, as cfitsio's: values wrap to i32.
                    Ints::I32(v.into_iter().map(|x| x as i32).collect())
                }
            }
        },
    };
    if let Some(d) = tc.dither {
        let q: Vec<i32> = match ints {
            Ints::I32(v) => v,
            Ints::Be(b, 4) => b.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect(),
            Ints::Be(b, 2) => b.chunks_exact(2).map(|c| i32::from(i16::from_be_bytes([c[0], c[1]]))).collect(),
            Ints::Be(b, 1) => b.iter().map(|&v| i32::from(v)).collect(),
            Ints::Be(_, s) => return Err(format!("quantized values of {s} bytes")),
        };
        let mut out = vec![0u8; npix * bpp];
        if bpp == 4 {
            dither::unquantize(&q, tile, d, tc.dither0, (p.scale, p.zero), p.blank, |i, v| {
                out[i * 4..i * 4 + 4].copy_from_slice(&(v as f32).to_be_bytes());
            });
        } else {
            dither::unquantize(&q, tile, d, tc.dither0, (p.scale, p.zero), p.blank, |i, v| {
                out[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
            });
        }
        return Ok(out);
    }
    if tc.zbitpix < 0 {
        return match ints {
            Ints::Be(b, _) => lossless(b, npix, bpp),
            Ints::I32(_) => Err("a floating-point tile must be quantized".into()),
        };
    }
    // Integer image: cast each value to ZBITPIX (a per-tile ZBLANK becomes the image's BLANK).
    let fast = matches!(&ints, Ints::Be(_, s) if *s == bpp) && p.blank == tc.blank;
    if fast {
        if let Ints::Be(b, _) = ints {
            return Ok(b);
        }
    }
    if let (Ints::I32(v), true) = (&ints, p.blank == tc.blank || p.blank.is_none()) {
        // The common case (RICE_1 / PLIO_1 / HCOMPRESS_1 of 8-, 16- and 32-bit images): one cast per value.
        let mut out = Vec::with_capacity(npix * bpp);
        match bpp {
            1 => out.extend(v.iter().map(|&x| x as u8)),
            2 => v.iter().for_each(|&x| out.extend_from_slice(&(x as i16).to_be_bytes())),
            4 => v.iter().for_each(|&x| out.extend_from_slice(&x.to_be_bytes())),
            _ => v.iter().for_each(|&x| out.extend_from_slice(&i64::from(x).to_be_bytes())),
        }
        return Ok(out);
    }
    let values: Box<dyn Iterator<Item = i64>> = match &ints {
        Ints::I32(v) => Box::new(v.iter().map(|&x| i64::from(x))),
        Ints::Be(b, 1) => Box::new(b.iter().map(|&x| i64::from(x))),
        Ints::Be(b, 2) => Box::new(b.chunks_exact(2).map(|c| i64::from(i16::from_be_bytes([c[0], c[1]])))),
        Ints::Be(b, 4) => Box::new(b.chunks_exact(4).map(|c| i64::from(i32::from_be_bytes([c[0], c[1], c[2], c[3]])))),
        Ints::Be(b, _) => Box::new(b.chunks_exact(8).map(|c| i64::from_be_bytes(c.try_into().unwrap_or([0; 8])))),
    };
    let mut out = Vec::with_capacity(npix * bpp);
    for v in values {
        let v = match (p.blank, tc.blank) {
            (Some(t), Some(img)) if v == t => img,
            _ => v,
        };
        match bpp {
            1 => out.push(v as u8),
            2 => out.extend_from_slice(&(v as i16).to_be_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_be_bytes()),
            _ => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
    Ok(out)
}

/// A losslessly stored tile: big-endian values that must already have the image's type.
fn lossless(bytes: Vec<u8>, npix: usize, bpp: usize) -> Result<Vec<u8>, String> {
    if bytes.len() == npix * bpp {
        Ok(bytes)
    } else {
        Err(format!("{} bytes where the tile's {npix} pixels need {}", bytes.len(), npix * bpp))
    }
}
