//! 8-bit display previews (PNG, JPEG) of FITS HiPS tiles, drawn from the full-precision values through a cut and a
//! stretch: the one implementation hipsgen writes its previews with and hipsserve renders on-demand previews with, so
//! both give the same bytes for the same FITS tile, cut, stretch and JPEG quality.
//!
//! Orientation (`shared/docs/hips-notes.md`): the input is in FITS order (row 0 first in the file, shown at the
//! bottom); the image rows are the FITS rows flipped. PNG is grey + alpha with alpha 0 exactly where the FITS pixel is
//! NaN (blank); JPEG shows blank as black. The same functions draw the (non-square) `Norder3/Allsky` mosaic.

pub mod color;
pub mod encode;
pub mod stretch;

pub use encode::Channels;
pub use stretch::{LevelMap, Stretch};

/// The image formats of a preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum PreviewFormat {
    /// 8-bit grey + alpha (RGBA for color), `.png`.
    Png,
    /// 8-bit grey (RGB for color), `.jpg`.
    Jpeg,
}

impl PreviewFormat {
    /// The tile file extension (`png`, `jpg`).
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            PreviewFormat::Png => "png",
            PreviewFormat::Jpeg => "jpg",
        }
    }

    /// The word used in `hips_tile_format` (`png`, `jpeg`).
    #[must_use]
    pub fn format_name(self) -> &'static str {
        match self {
            PreviewFormat::Png => "png",
            PreviewFormat::Jpeg => "jpeg",
        }
    }

    /// Parse `png`, `jpeg` or `jpg` (case-insensitive); `None` for anything else (including `fits`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "png" => Some(PreviewFormat::Png),
            "jpeg" | "jpg" => Some(PreviewFormat::Jpeg),
            _ => None,
        }
    }
}

/// What previews to draw and how.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewSpec {
    /// Formats to write next to each FITS tile.
    pub formats: Vec<PreviewFormat>,
    /// Data values shown as black and white: `(lo, hi)`.
    pub cut: (f32, f32),
    /// Transfer function between the cut values.
    pub stretch: Stretch,
    /// JPEG quality, 1-100.
    pub jpeg_quality: u8,
}

/// Default JPEG quality (Hipsgen uses 95 for its JPEG tiles; 90 keeps files a third smaller with no visible loss).
pub const DEFAULT_JPEG_QUALITY: u8 = 90;

impl PreviewSpec {
    /// A spec with the default JPEG quality.
    #[must_use]
    pub fn new(formats: Vec<PreviewFormat>, cut: (f32, f32), stretch: Stretch) -> Self {
        PreviewSpec { formats, cut, stretch, jpeg_quality: DEFAULT_JPEG_QUALITY }
    }
}

/// The property naming the stretch previews were drawn with (`linear`, `log`, `sqrt`, `asinh`, `pow2`; the key CDS
/// Hipsgen and Aladin use for the transfer function).
pub const STRETCH_KEY: &str = "hips_pixel_func";
/// The property holding the JPEG quality (1-100) of the JPEG tiles (hipsgen's own key).
pub const JPEG_QUALITY_KEY: &str = "hipsgen_jpeg_quality";
/// The property holding the deepest order written by `hipsgen tiles --stored-order` (hipsgen's own key); the orders
/// above it, up to `hips_order`, are rendered by hipsserve.
pub const STORED_ORDER_KEY: &str = "hipsgen_stored_order";

impl PreviewSpec {
    /// The spec a HiPS's previews were drawn with, from its properties (`get(key)`): the cut from `hips_pixel_cut`,
    /// the stretch from [`STRETCH_KEY`] (linear when absent, as hipsgen draws by default), the JPEG quality from
    /// [`JPEG_QUALITY_KEY`] (hipsgen's default when absent). `None` without a usable cut, or with a stretch or
    /// quality that does not parse: the previews cannot be reproduced.
    #[must_use]
    pub fn from_properties<'a>(formats: Vec<PreviewFormat>, get: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        let cut = parse_cut(get("hips_pixel_cut")?)?;
        let stretch = match get(STRETCH_KEY) {
            Some(s) => s.parse().ok()?,
            None => Stretch::Linear,
        };
        let jpeg_quality = match get(JPEG_QUALITY_KEY) {
            Some(q) => q.trim().parse::<u8>().ok().filter(|q| (1..=100).contains(q))?,
            None => DEFAULT_JPEG_QUALITY,
        };
        Some(PreviewSpec { formats, cut, stretch, jpeg_quality })
    }
}

/// Why an image could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A pixel buffer whose length does not match its stated size.
    #[error("image of {width} x {height} pixels cannot be made from {len} pixels")]
    Size {
        /// Stated width.
        width: usize,
        /// Stated height.
        height: usize,
        /// Pixels actually given.
        len: usize,
    },
    /// The image encoder failed.
    #[error("{format} encoding failed: {message}")]
    Encode {
        /// png or jpeg.
        format: &'static str,
        /// The encoder's message.
        message: String,
    },
}

/// Parse `"lo hi"` into a cut with finite `lo < hi`.
#[must_use]
pub fn parse_cut(s: &str) -> Option<(f32, f32)> {
    let mut it = s.split_whitespace().map(str::parse::<f32>);
    let lo = it.next()?.ok()?;
    let hi = it.next()?.ok()?;
    (it.next().is_none() && lo.is_finite() && hi.is_finite() && lo < hi).then_some((lo, hi))
}

/// The display buffer (rows top to bottom) of a FITS-order array: grey + alpha (`with_alpha`) or grey.
/// A short `data` is padded with blank pixels, a long one truncated, so the buffer is always `width * height`.
#[must_use]
pub fn grey_pixels(data: &[f32], width: usize, height: usize, map: &LevelMap, with_alpha: bool) -> Vec<u8> {
    let bpp = if with_alpha { 2 } else { 1 };
    let mut out = vec![0u8; width * height * bpp];
    if width == 0 {
        return out;
    }
    let mut row = vec![0u8; width];
    for (p, dst) in out.chunks_exact_mut(width * bpp).enumerate() {
        // Display row p is FITS row height - 1 - p.
        let start = (height - 1 - p) * width;
        let src = data.get(start..).unwrap_or(&[]);
        let src = &src[..src.len().min(width)];
        if with_alpha {
            map.levels_into(src, &mut row);
            // Levels of NaN are 0, so blank pixels come out (0, 0).
            for ((d, &v), &l) in dst.chunks_exact_mut(2).zip(src).zip(&row) {
                let opaque = u8::from(!v.is_nan());
                d[0] = l;
                d[1] = 255 * opaque;
            }
        } else {
            map.levels_into(src, &mut dst[..src.len()]);
        }
    }
    out
}

/// Like [`encode_preview`] but reporting failures.
///
/// # Errors
/// When `width * height` is zero or the encoder fails.
pub fn try_encode_preview(
    fmt: PreviewFormat,
    data: &[f32],
    width: usize,
    height: usize,
    spec: &PreviewSpec,
) -> Result<Vec<u8>, EncodeError> {
    let map = LevelMap::cached(spec.cut, spec.stretch);
    let map = map.as_ref();
    match fmt {
        PreviewFormat::Png => {
            encode::png_bytes(&grey_pixels(data, width, height, map, true), width, height, Channels::GrayAlpha)
        }
        PreviewFormat::Jpeg => {
            let px = grey_pixels(data, width, height, map, false);
            encode::jpeg_bytes(&px, width, height, Channels::Gray, spec.jpeg_quality)
        }
    }
}

/// Encode a FITS-order array (`width` x `height`, row 0 first in the file, NaN = blank) as a preview image.
/// Used for tiles and for the non-square Allsky mosaic. Returns an empty vector only when `width` or `height` is 0
/// (the one case the encoders refuse); a `data` of the wrong length is padded with blank or truncated.
#[must_use]
pub fn encode_preview(fmt: PreviewFormat, data: &[f32], width: usize, height: usize, spec: &PreviewSpec) -> Vec<u8> {
    match try_encode_preview(fmt, data, width, height, spec) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("preview of a {width} x {height} image: {e}");
            Vec::new()
        }
    }
}

/// Encode a square FITS tile (`width` x `width`) as PNG: 8-bit grey + alpha, alpha 0 where the value is NaN.
#[must_use]
pub fn encode_png(data: &[f32], width: usize, spec: &PreviewSpec) -> Vec<u8> {
    encode_preview(PreviewFormat::Png, data, width, width, spec)
}

/// Encode a square FITS tile (`width` x `width`) as 8-bit grey JPEG, blank shown black.
#[must_use]
pub fn encode_jpeg(data: &[f32], width: usize, spec: &PreviewSpec) -> Vec<u8> {
    encode_preview(PreviewFormat::Jpeg, data, width, width, spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_parameters_read_back_from_properties() {
        let props = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
        };
        let spec = PreviewSpec::from_properties(
            vec![],
            props(&[("hips_pixel_cut", "-0.12345679 98.7"), ("hips_pixel_func", "asinh"), (JPEG_QUALITY_KEY, "77")]),
        )
        .expect("spec");
        assert_eq!((spec.cut, spec.stretch, spec.jpeg_quality), ((-0.123_456_79, 98.7), Stretch::Asinh, 77));
        let spec = PreviewSpec::from_properties(vec![], props(&[("hips_pixel_cut", "1 2")])).expect("defaults");
        assert_eq!((spec.stretch, spec.jpeg_quality), (Stretch::Linear, DEFAULT_JPEG_QUALITY));
        for bad in [
            &[("hips_pixel_cut", "2 1")][..],
            &[("hips_pixel_cut", "1 2"), ("hips_pixel_func", "cubic")][..],
            &[("hips_pixel_cut", "1 2"), (JPEG_QUALITY_KEY, "0")][..],
            &[][..],
        ] {
            assert!(PreviewSpec::from_properties(vec![], props(bad)).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn color_parameters_round_trip_through_properties() {
        let params = color::ColorParams {
            method: color::ColorMethod::Lupton,
            minimum: [0.1, -2.5e-7, 3.0],
            maximum: [10.0, 1.0 / 3.0, 7.25],
            scale: [1.5, 2.0, 0.333_333_333_333_333_3],
            stretch: 0.5,
            q: 8.0,
        };
        let props = params.to_properties();
        let back =
            color::ColorParams::from_properties(|k| props.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str()));
        assert_eq!(back, Some(params));
        assert!(color::ColorParams::from_properties(|_| None).is_none());
    }

    #[test]
    fn grey_buffer_flips_rows_and_marks_blank() {
        let map = LevelMap::new((0.0, 3.0), Stretch::Linear);
        // FITS rows: [0, NaN], [3, 1.5]; displayed top row is the last FITS row.
        let px = grey_pixels(&[0.0, f32::NAN, 3.0, 1.5], 2, 2, &map, true);
        assert_eq!(px, vec![255, 255, 128, 255, 0, 255, 0, 0]);
        assert_eq!(grey_pixels(&[0.0, f32::NAN, 3.0, 1.5], 2, 2, &map, false), vec![255, 128, 0, 0]);
        assert!(encode_preview(PreviewFormat::Png, &[], 0, 0, &PreviewSpec::new(vec![], (0.0, 1.0), Stretch::Linear))
            .is_empty());
    }
}
