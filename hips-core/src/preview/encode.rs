//! PNG and JPEG encoding of 8-bit display buffers (grey, grey + alpha, RGB, RGBA): PNG with the `image` crate, JPEG
//! with `jpeg-encoder` (SIMD DCT, several times faster than `image`'s baseline JPEG encoder on 512^2 tiles).
//!
//! PNG uses the fast deflate level (fdeflate) with adaptive row filters: previews are written once per tile for
//! millions of tiles, so encoding speed matters more than the last few percent of size.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

use super::{EncodeError, PreviewFormat};

/// The channel layout of a display buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// 1 byte per pixel.
    Gray,
    /// 2 bytes per pixel: grey, alpha.
    GrayAlpha,
    /// 3 bytes per pixel.
    Rgb,
    /// 4 bytes per pixel: red, green, blue, alpha.
    Rgba,
}

impl Channels {
    /// Bytes per pixel.
    #[must_use]
    pub fn bytes(self) -> usize {
        match self {
            Channels::Gray => 1,
            Channels::GrayAlpha => 2,
            Channels::Rgb => 3,
            Channels::Rgba => 4,
        }
    }

    fn color_type(self) -> ExtendedColorType {
        match self {
            Channels::Gray => ExtendedColorType::L8,
            Channels::GrayAlpha => ExtendedColorType::La8,
            Channels::Rgb => ExtendedColorType::Rgb8,
            Channels::Rgba => ExtendedColorType::Rgba8,
        }
    }
}

/// Encode a display buffer (rows top to bottom) as PNG.
///
/// # Errors
/// When the buffer length does not match `width * height * channels` or the encoder fails.
pub fn png_bytes(pixels: &[u8], width: usize, height: usize, channels: Channels) -> Result<Vec<u8>, EncodeError> {
    check_len(pixels, width, height, channels)?;
    let mut out = Vec::with_capacity(pixels.len() / 2 + 1024);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(pixels, width as u32, height as u32, channels.color_type())
        .map_err(|e| EncodeError::Encode { format: "png", message: e.to_string() })?;
    Ok(out)
}

/// Encode a display buffer (rows top to bottom) as baseline JPEG at `quality` (1-100). Alpha is dropped: callers
/// put black under blank pixels.
///
/// # Errors
/// When the buffer length does not match `width * height * channels` or the encoder fails.
pub fn jpeg_bytes(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: Channels,
    quality: u8,
) -> Result<Vec<u8>, EncodeError> {
    check_len(pixels, width, height, channels)?;
    let stripped;
    let (buf, ch) = match channels {
        Channels::Gray | Channels::Rgb => (pixels, channels),
        Channels::GrayAlpha => {
            stripped = pixels.chunks_exact(2).map(|p| p[0]).collect::<Vec<u8>>();
            (stripped.as_slice(), Channels::Gray)
        }
        Channels::Rgba => {
            stripped = pixels.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect::<Vec<u8>>();
            (stripped.as_slice(), Channels::Rgb)
        }
    };
    let err = |message: String| EncodeError::Encode { format: "jpeg", message };
    let (w, h) = (u16::try_from(width), u16::try_from(height));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(err(format!("{width} x {height} is larger than JPEG's 65535 x 65535")));
    };
    let color = if ch == Channels::Gray { jpeg_encoder::ColorType::Luma } else { jpeg_encoder::ColorType::Rgb };
    let mut out = Vec::with_capacity(buf.len() / 4 + 1024);
    jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(buf, w, h, color)
        .map_err(|e| err(e.to_string()))?;
    Ok(out)
}

/// Encode in the given format (PNG keeps alpha, JPEG drops it).
///
/// # Errors
/// As [`png_bytes`] / [`jpeg_bytes`].
pub fn image_bytes(
    format: PreviewFormat,
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: Channels,
    jpeg_quality: u8,
) -> Result<Vec<u8>, EncodeError> {
    match format {
        PreviewFormat::Png => png_bytes(pixels, width, height, channels),
        PreviewFormat::Jpeg => jpeg_bytes(pixels, width, height, channels, jpeg_quality),
    }
}

fn check_len(pixels: &[u8], width: usize, height: usize, channels: Channels) -> Result<(), EncodeError> {
    let want = width.checked_mul(height).and_then(|n| n.checked_mul(channels.bytes()));
    if want != Some(pixels.len())
        || width == 0
        || height == 0
        || width > u32::MAX as usize
        || height > u32::MAX as usize
    {
        return Err(EncodeError::Size { width, height, len: pixels.len() / channels.bytes().max(1) });
    }
    Ok(())
}
