//! Reading FITS pixels by byte range (the HDU structure comes from `hdu.rs`): whole images or rectangular regions
//! (one read per row span, whole rows merged into one read), big-endian decoding in bulk, tile-compressed images
//! through `compressed/`.
//!
//! Every size comes from the header and is checked against the source length before anything is allocated, so a
//! corrupt `NAXISn` yields an error, never an absurd allocation.

use super::compressed;
use super::hdu::image_dims;
pub use super::hdu::{find_hdu, first_image, scan_hdus, Hdu};
use super::{ByteSource, FitsError};

/// Largest raw read done at once when decoding whole rows (bounds temporary memory).
const CHUNK_BYTES: usize = 8 << 20;

/// A 2-D image as 32-bit floats.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// NAXIS1 (or region width).
    pub width: usize,
    /// NAXIS2 (or region height).
    pub height: usize,
    /// Row-major pixels; row 0 is the first row in the file (FITS y = 1); NaN = blank.
    pub data: Vec<f32>,
}

impl Image {
    /// The pixel at 0-based column `x`, row `y`, `None` outside.
    #[must_use]
    pub fn get(&self, x: usize, y: usize) -> Option<f32> {
        if x < self.width && y < self.height {
            self.data.get(y * self.width + x).copied()
        } else {
            None
        }
    }
}

/// The linear scaling of an image HDU.
#[derive(Debug, Clone, Copy)]
struct Scaling {
    bscale: f64,
    bzero: f64,
    blank: Option<i64>,
}

fn check_image(src: &dyn ByteSource, hdu: &Hdu) -> Result<(usize, usize), FitsError> {
    image_dims(hdu).map_err(|reason| FitsError::NotAnImage { name: src.name().into(), hdu: hdu.label(), reason })
}

fn scaling(src: &dyn ByteSource, hdu: &Hdu) -> Result<Scaling, FitsError> {
    let bad = |key: &str, reason: String| FitsError::BadValue {
        name: src.name().into(),
        hdu: hdu.label(),
        key: key.into(),
        reason,
    };
    let num = |key: &str, default: f64| -> Result<f64, FitsError> {
        match hdu.header.card(key).and_then(|c| c.value.as_ref()) {
            None => Ok(default),
            Some(_) => match hdu.header.get_f64(key) {
                Some(v) if v.is_finite() => Ok(v),
                _ => Err(bad(key, "not a finite number".into())),
            },
        }
    };
    let bscale = num("BSCALE", 1.0)?;
    let bzero = num("BZERO", 0.0)?;
    let blank = if hdu.bitpix > 0 { hdu.header.get_i64("BLANK") } else { None };
    Ok(Scaling { bscale, bzero, blank })
}

/// Call `f` with the raw big-endian bytes of rows `y0..y0+h`, columns `x0..x0+w`, in order, in chunks of whole
/// region rows. Whole-width regions are read in large contiguous reads; narrower ones row by row or, when the
/// source says skipping the other columns costs less than a request, in multi-row spans.
fn for_region_bytes(
    src: &dyn ByteSource,
    hdu: &Hdu,
    (x0, y0, w, h): (usize, usize, usize, usize),
    mut f: impl FnMut(&[u8]) -> Result<(), FitsError>,
) -> Result<(), FitsError> {
    let (width, height) = check_image(src, hdu)?;
    let out_of_bounds = x0.checked_add(w).is_none_or(|e| e > width) || y0.checked_add(h).is_none_or(|e| e > height);
    if out_of_bounds {
        return Err(FitsError::OutOfBounds { name: src.name().into(), hdu: hdu.label(), x0, y0, w, h, width, height });
    }
    if let Some(tc) = &hdu.compressed {
        return compressed::for_region(src, hdu, tc, (x0, y0, w, h), f);
    }
    let bpp = (hdu.bitpix.unsigned_abs() / 8) as usize;
    let row_bytes = width * bpp;
    if w == 0 || h == 0 {
        return Ok(());
    }
    if w == width {
        let rows_per_chunk = (CHUNK_BYTES / row_bytes).max(1);
        let mut y = y0;
        while y < y0 + h {
            let n = rows_per_chunk.min(y0 + h - y);
            let raw =
                src.read_at(hdu.data_start + (y * row_bytes) as u64, n * row_bytes).map_err(|e| in_hdu(e, hdu))?;
            f(&raw)?;
            y += n;
        }
    } else {
        // Narrower regions: consecutive rows are fetched in one range (skipped columns included) when the skipped
        // bytes are cheaper than another request for this source (over object storage every read is an HTTP
        // range request), in spans of at most CHUNK_BYTES.
        let (span, gap) = (w * bpp, row_bytes - w * bpp);
        let rows_per_read = if gap <= src.coalesce_gap() { (CHUNK_BYTES / row_bytes).max(1) } else { 1 };
        let mut y = y0;
        while y < y0 + h {
            let n = rows_per_read.min(y0 + h - y);
            let start = hdu.data_start + (y * row_bytes + x0 * bpp) as u64;
            let raw = src.read_at(start, (n - 1) * row_bytes + span).map_err(|e| in_hdu(e, hdu))?;
            for k in 0..n {
                f(&raw[k * row_bytes..k * row_bytes + span])?;
            }
            y += n;
        }
    }
    Ok(())
}

/// Say which HDU's data a truncated read was for.
fn in_hdu(e: FitsError, hdu: &Hdu) -> FitsError {
    match e {
        FitsError::Truncated { name, what, offset, end, len } => {
            FitsError::Truncated { name, what: format!("{what} of the data of {}", hdu.label()), offset, end, len }
        }
        other => other,
    }
}

/// Decode big-endian raw values to f32 with scaling and BLANK, appending to `out`.
#[allow(clippy::cast_lossless, reason = "one macro for every integer width; i64 has no lossless conversion")]
fn decode_f32(bitpix: i32, s: Scaling, raw: &[u8], out: &mut Vec<f32>) {
    let identity = s.bscale == 1.0 && s.bzero == 0.0;
    macro_rules! ints {
        ($t:ty, $n:expr) => {{
            let blank = s.blank.and_then(|b| <$t>::try_from(b).ok());
            out.extend(raw.chunks_exact($n).map(|c| {
                let v = <$t>::from_be_bytes(c.try_into().unwrap_or([0; $n]));
                if Some(v) == blank {
                    f32::NAN
                } else {
                    (v as f64 * s.bscale + s.bzero) as f32
                }
            }))
        }};
    }
    match bitpix {
        8 => {
            let blank = s.blank.and_then(|b| u8::try_from(b).ok());
            out.extend(raw.iter().map(|&v| {
                if Some(v) == blank {
                    f32::NAN
                } else {
                    (f64::from(v) * s.bscale + s.bzero) as f32
                }
            }));
        }
        16 => ints!(i16, 2),
        32 => ints!(i32, 4),
        64 => ints!(i64, 8),
        -32 if identity => out.extend(raw.chunks_exact(4).map(|c| f32::from_be_bytes(c.try_into().unwrap_or([0; 4])))),
        -32 => out.extend(
            raw.chunks_exact(4)
                .map(|c| (f64::from(f32::from_be_bytes(c.try_into().unwrap_or([0; 4]))) * s.bscale + s.bzero) as f32),
        ),
        _ => out.extend(
            raw.chunks_exact(8)
                .map(|c| (f64::from_be_bytes(c.try_into().unwrap_or([0; 8])) * s.bscale + s.bzero) as f32),
        ),
    }
}

/// Read a whole 2-D image HDU as f32 (BSCALE/BZERO applied, integer BLANK -> NaN).
///
/// # Errors
/// When the HDU is not a 2-D image, a scaling keyword is invalid, or the read fails.
pub fn read_image_f32(src: &dyn ByteSource, hdu: &Hdu) -> Result<Image, FitsError> {
    let (width, height) = check_image(src, hdu)?;
    read_region_f32(src, hdu, 0, 0, width, height)
}

/// Read the rectangle `x0..x0+w`, `y0..y0+h` (0-based, row 0 = first row in the file) of a 2-D image as f32,
/// fetching only those bytes.
///
/// # Errors
/// When the HDU is not a 2-D image, the region is outside it, or the read fails.
pub fn read_region_f32(
    src: &dyn ByteSource,
    hdu: &Hdu,
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Result<Image, FitsError> {
    let s = scaling(src, hdu)?;
    let mut data = Vec::new();
    let mut reserved = false;
    for_region_bytes(src, hdu, (x0, y0, w, h), |raw| {
        if !reserved {
            // Safe to reserve now: the region was checked against the image and the image against the source.
            data.reserve_exact(w * h);
            reserved = true;
        }
        decode_f32(hdu.bitpix, s, raw, &mut data);
        Ok(())
    })?;
    Ok(Image { width: w, height: h, data })
}

/// Read the bytes of the rectangle `x0..x0+w`, `y0..y0+h` of a 2-D image exactly as stored (big-endian, unscaled),
/// row 0 first, fetching only those rows, into `out` (cleared first; its capacity is reused, so reading several
/// planes of one box allocates once).
///
/// # Errors
/// When the HDU is not a 2-D image, the region is outside it, or the read fails.
pub fn read_region_raw_into(
    src: &dyn ByteSource,
    hdu: &Hdu,
    (x0, y0, w, h): (usize, usize, usize, usize),
    out: &mut Vec<u8>,
) -> Result<(), FitsError> {
    out.clear();
    let mut reserved = false;
    for_region_bytes(src, hdu, (x0, y0, w, h), |raw| {
        if !reserved {
            // Safe to reserve now: the region was checked against the image and the image against the source.
            out.reserve_exact(w * h * (hdu.bitpix.unsigned_abs() / 8) as usize);
            reserved = true;
        }
        out.extend_from_slice(raw);
        Ok(())
    })
}

/// Read a whole integer image (a mask) exactly, with an integral BZERO applied (int16 with BZERO 32768 gives
/// 0..65535). Returns (width, height, row-major values). BLANK values are returned as stored (plus BZERO).
///
/// # Errors
/// When the HDU is not a 2-D integer image, BSCALE is not 1, BZERO is not an integer, a value overflows, or the
/// read fails.
pub fn read_image_i64(src: &dyn ByteSource, hdu: &Hdu) -> Result<(usize, usize, Vec<i64>), FitsError> {
    let (width, height) = check_image(src, hdu)?;
    read_region_i64(src, hdu, 0, 0, width, height)
}

/// Read a rectangle of an integer image exactly (see [`read_image_i64`]); returns (w, h, values).
///
/// # Errors
/// As [`read_image_i64`], and when the region is outside the image.
pub fn read_region_i64(
    src: &dyn ByteSource,
    hdu: &Hdu,
    x0: usize,
    y0: usize,
    w: usize,
    h: usize,
) -> Result<(usize, usize, Vec<i64>), FitsError> {
    let bzero = integer_bzero(src, hdu)?;
    let mut data: Vec<i64> = Vec::new();
    let mut reserved = false;
    let mut overflow: Option<i64> = None;
    for_region_bytes(src, hdu, (x0, y0, w, h), |raw| {
        if !reserved {
            data.reserve_exact(w * h);
            reserved = true;
        }
        match hdu.bitpix {
            8 => data.extend(raw.iter().map(|&v| i64::from(v) + bzero)),
            16 => data.extend(raw.chunks_exact(2).map(|c| i64::from(i16::from_be_bytes([c[0], c[1]])) + bzero)),
            32 => data
                .extend(raw.chunks_exact(4).map(|c| i64::from(i32::from_be_bytes([c[0], c[1], c[2], c[3]])) + bzero)),
            _ => {
                for c in raw.chunks_exact(8) {
                    let v = i64::from_be_bytes(c.try_into().unwrap_or([0; 8]));
                    if let Some(r) = v.checked_add(bzero) {
                        data.push(r);
                    } else {
                        overflow = Some(v);
                        data.push(v);
                    }
                }
            }
        }
        Ok(())
    })?;
    if let Some(value) = overflow {
        return Err(FitsError::Overflow { name: src.name().into(), hdu: hdu.label(), value, bzero });
    }
    Ok((w, h, data))
}

/// The checks of an exact integer read (an integer image, BSCALE 1, an integral BZERO in range); returns BZERO.
fn integer_bzero(src: &dyn ByteSource, hdu: &Hdu) -> Result<i64, FitsError> {
    check_image(src, hdu)?;
    if hdu.bitpix < 0 {
        return Err(FitsError::UnsupportedBitpix {
            name: src.name().into(),
            hdu: hdu.label(),
            bitpix: i64::from(hdu.bitpix),
            reason: ": an integer image was expected".into(),
        });
    }
    let s = scaling(src, hdu)?;
    let bad = |key: &str, reason: &str| FitsError::BadValue {
        name: src.name().into(),
        hdu: hdu.label(),
        key: key.into(),
        reason: reason.into(),
    };
    if s.bscale != 1.0 {
        return Err(bad("BSCALE", "integer reads need BSCALE = 1"));
    }
    match hdu.header.get_i64("BZERO") {
        Some(z) if hdu.bitpix == 64 || z.unsigned_abs() <= 1 << 62 => Ok(z),
        Some(_) => Err(bad("BZERO", "out of range for the data type")),
        None if s.bzero == 0.0 => Ok(0),
        None => Err(bad("BZERO", "integer reads need an integral BZERO (unsigned 64-bit data is not supported)")),
    }
}

/// Set `image[i]` (the region `x0..x0+w`, `y0..y0+h` row-major, as from [`read_region_f32`]) to NaN wherever the
/// integer mask `hdu` (read exactly, as [`read_region_i64`]) has one of `bits` set. The mask is tested as it is
/// decoded: no copy of it is kept.
///
/// `image` should be `w * h` long; pixels past its end are not tested.
///
/// # Errors
/// As [`read_region_i64`].
pub fn blank_masked_region(
    src: &dyn ByteSource,
    hdu: &Hdu,
    (x0, y0, w, h): (usize, usize, usize, usize),
    bits: i64,
    image: &mut [f32],
) -> Result<(), FitsError> {
    let bzero = integer_bzero(src, hdu)?;
    let mut pos = 0;
    let mut overflow: Option<i64> = None;
    for_region_bytes(src, hdu, (x0, y0, w, h), |raw| {
        let bpp = (hdu.bitpix.unsigned_abs() / 8) as usize;
        let n = raw.len() / bpp;
        let out = image.get_mut(pos.min(image.len())..(pos + n).min(image.len())).unwrap_or_default();
        pos += n;
        let blank = |o: &mut f32, v: i64| {
            if v & bits != 0 {
                *o = f32::NAN;
            }
        };
        match hdu.bitpix {
            8 => out.iter_mut().zip(raw).for_each(|(o, &v)| blank(o, i64::from(v) + bzero)),
            16 => out
                .iter_mut()
                .zip(raw.chunks_exact(2))
                .for_each(|(o, c)| blank(o, i64::from(i16::from_be_bytes([c[0], c[1]])) + bzero)),
            32 => out
                .iter_mut()
                .zip(raw.chunks_exact(4))
                .for_each(|(o, c)| blank(o, i64::from(i32::from_be_bytes([c[0], c[1], c[2], c[3]])) + bzero)),
            _ => {
                for (o, c) in out.iter_mut().zip(raw.chunks_exact(8)) {
                    let v = i64::from_be_bytes(c.try_into().unwrap_or([0; 8]));
                    match v.checked_add(bzero) {
                        Some(r) => blank(o, r),
                        None => overflow = Some(v),
                    }
                }
            }
        }
        Ok(())
    })?;
    if let Some(value) = overflow {
        return Err(FitsError::Overflow { name: src.name().into(), hdu: hdu.label(), value, bzero });
    }
    Ok(())
}
