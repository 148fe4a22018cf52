//! 8-bit display previews (PNG, JPEG) of FITS HiPS tiles, drawn from the full-precision values through a cut and a
//! stretch.
//!
//! The per-tile functions ([`encode_png`], [`encode_jpeg`], [`encode_preview`]) are what the `tiles` pipeline calls
//! right after rendering a FITS tile; the `previews` job ([`run_previews`]) adds previews to an existing FITS HiPS.
//! Orientation (`shared/docs/hips-notes.md`): the input is in FITS order (row 0 first in the file, shown at the
//! bottom); the image rows are the FITS rows flipped. PNG is grey + alpha with alpha 0 exactly where the FITS pixel is
//! NaN (blank); JPEG shows blank as black. The same functions draw the (non-square) `Norder3/Allsky` mosaic.

pub mod step;

pub use hips_core::preview::{
    encode, encode_jpeg, encode_png, encode_preview, grey_pixels, parse_cut, stretch, try_encode_preview, Channels,
    EncodeError, LevelMap, PreviewFormat, PreviewSpec, Stretch, DEFAULT_JPEG_QUALITY,
};
pub use step::{add_previews, run_previews, PreviewsJob, PreviewsReport};

use crate::properties::Properties;

/// Errors of preview drawing and of the `previews` step, naming the object concerned.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// A preview image could not be encoded.
    #[error(transparent)]
    Image(#[from] EncodeError),
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

/// Record how previews were drawn besides `hips_pixel_cut`: `hips_pixel_func` (the stretch) and
/// `hipsgen_jpeg_quality`, read back by hipsserve ([`hips_core::preview::PreviewSpec::from_properties`]).
pub fn record_preview(p: &mut Properties, stretch: Stretch, jpeg_quality: u8) {
    p.set(hips_core::preview::STRETCH_KEY, stretch.name());
    p.set(hips_core::preview::JPEG_QUALITY_KEY, jpeg_quality.to_string());
}

/// Parse `hips_pixel_cut` (`"lo hi"`), falling back to `hips_data_range`; `None` when neither holds two finite numbers
/// with `lo < hi`.
#[must_use]
pub fn cut_from_properties(p: &Properties) -> Option<(f32, f32)> {
    ["hips_pixel_cut", "hips_data_range"].iter().find_map(|k| parse_cut(p.get(k)?))
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
}
