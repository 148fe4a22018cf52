//! 8-bit display previews (PNG, JPEG) of FITS HiPS tiles, drawn from the full-precision values through a cut and a
//! stretch.
//!
//! The per-tile functions ([`encode_png`], [`encode_jpeg`], [`encode_preview`]) are what the `tiles` pipeline calls
//! right after rendering a FITS tile; the `previews` job ([`run_previews`]) adds previews to an existing FITS HiPS.
//! Orientation (`shared/docs/hips-notes.md`): the input is in FITS order (row 0 first in the file, shown at the
//! bottom); the image rows are the FITS rows flipped. PNG is grey + alpha with alpha 0 exactly where the FITS pixel is
//! NaN (blank); JPEG shows blank as black. The same functions draw the (non-square) `Norder3/Allsky` mosaic.

pub mod encode;
pub mod step;
pub mod stretch;

use crate::properties::Properties;
pub use encode::Channels;
pub use step::{add_previews, run_previews, PreviewsJob, PreviewsReport};
pub use stretch::{LevelMap, Stretch};

/// The image formats of a preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
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

/// Errors of preview drawing and of the `previews` step, naming the object concerned.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
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
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] Box<hips_core::storage::StoreError>),
    /// A FITS tile that cannot be read.
    #[error("{key}: {message}")]
    Fits {
        /// The object key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The HiPS has no usable properties.
    #[error("{location}/properties: {message}")]
    Properties {
        /// The HiPS location.
        location: String,
        /// What is wrong.
        message: String,
    },
}

impl From<hips_core::storage::StoreError> for PreviewError {
    fn from(e: hips_core::storage::StoreError) -> Self {
        PreviewError::Store(Box::new(e))
    }
}

/// Parse `hips_pixel_cut` (`"lo hi"`), falling back to `hips_data_range`; `None` when neither holds two finite numbers
/// with `lo < hi`.
#[must_use]
pub fn cut_from_properties(p: &Properties) -> Option<(f32, f32)> {
    ["hips_pixel_cut", "hips_data_range"].iter().find_map(|k| parse_cut(p.get(k)?))
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
) -> Result<Vec<u8>, PreviewError> {
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

/// The `hips_tile_format` value for a HiPS holding `fits` (or not) plus these preview formats, in the order CDS
/// Hipsgen writes it (images first, e.g. `png jpeg fits`).
#[must_use]
pub fn tile_format_value(previews: &[PreviewFormat], fits: bool) -> String {
    let mut words: Vec<&str> = Vec::new();
    for f in [PreviewFormat::Png, PreviewFormat::Jpeg] {
        if previews.contains(&f) {
            words.push(f.format_name());
        }
    }
    if fits {
        words.push("fits");
    }
    words.join(" ")
}

/// Merge preview formats into an existing `hips_tile_format` value (keeping whatever it already lists).
#[must_use]
pub fn merge_tile_format(existing: Option<&str>, previews: &[PreviewFormat]) -> String {
    let words: Vec<String> = existing.unwrap_or("").split_whitespace().map(str::to_ascii_lowercase).collect();
    let mut all: Vec<PreviewFormat> = words.iter().filter_map(|w| PreviewFormat::parse(w)).collect();
    all.extend_from_slice(previews);
    let mut out = tile_format_value(&all, words.iter().any(|w| w == "fits"));
    for w in &words {
        if w != "fits" && PreviewFormat::parse(w).is_none() {
            out.push(' ');
            out.push_str(w);
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_parsing() {
        let p = Properties::parse("hips_pixel_cut = 1.5 20\nhips_data_range = -3 100\n");
        assert_eq!(cut_from_properties(&p), Some((1.5, 20.0)));
        let p = Properties::parse("hips_pixel_cut = 1 1\nhips_data_range = -3 100\n");
        assert_eq!(cut_from_properties(&p), Some((-3.0, 100.0)));
        assert_eq!(cut_from_properties(&Properties::parse("hips_pixel_cut = a b")), None);
    }

    #[test]
    fn tile_format_words() {
        assert_eq!(tile_format_value(&[PreviewFormat::Jpeg, PreviewFormat::Png], true), "png jpeg fits");
        assert_eq!(merge_tile_format(Some("fits"), &[PreviewFormat::Png]), "png fits");
        assert_eq!(merge_tile_format(Some("jpeg fits"), &[PreviewFormat::Png]), "png jpeg fits");
        assert_eq!(merge_tile_format(None, &[PreviewFormat::Jpeg]), "jpeg");
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
