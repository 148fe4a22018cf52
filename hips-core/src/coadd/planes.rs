//! Quality and noise planes as surveys and archives ship them, next to the image: LSST IMAGE/MASK/VARIANCE (mask
//! planes by name through the mask header's `MP_*` keys), HST SCI/ERR/DQ (ERR squared as variance, DQ bits blank),
//! and inverse-variance weight maps (a WEIGHT/WHT HDU, or a sibling `*.weight.fits` as SWarp and DES write them;
//! zero weight is blank).

use std::sync::Arc;

use super::CoaddError;
use crate::fits::{self, ByteSource, FitsError, Hdu};

/// What the noise plane holds; every kind is turned into a variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Noise {
    /// A variance (LSST VARIANCE).
    #[default]
    Variance,
    /// A standard deviation (HST ERR): squared.
    Sigma,
    /// An inverse variance (WEIGHT, WHT, a sibling weight map): inverted; zero weight blanks the pixel.
    Weight,
}

impl Noise {
    /// The variance a plane value stands for (NaN when there is none).
    #[must_use]
    pub fn variance(self, v: f32) -> f32 {
        let var = match self {
            Noise::Variance => v,
            Noise::Sigma => v * v,
            Noise::Weight => 1.0 / v,
        };
        if var.is_finite() && var > 0.0 {
            var
        } else {
            f32::NAN
        }
    }
}

/// How quality planes are used when a coadd is opened (hipsgen `--bad-bits`, `--mask-planes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaneOptions {
    /// DQ bits that blank a pixel (default: any bit). With an LSST MASK they are added to NO_DATA.
    pub bad_bits: Option<i64>,
    /// LSST mask planes (names of the mask header's `MP_<NAME>` keys) that blank a pixel, besides NO_DATA.
    pub mask_planes: Vec<String>,
    /// Do not look for a sibling `*.weight.fits` when the file has no noise plane.
    pub no_sibling_weight: bool,
}

/// The roles an HDU can play, from its EXTNAME or EXTTYPE (upper case).
pub(super) const IMAGE_ROLES: &[&str] = &["IMAGE", "SCI"];

/// The mask roles: LSST MASK (named planes) and HST DQ (bits).
pub(super) fn mask_role(role: &str) -> bool {
    matches!(role, "MASK" | "DQ")
}

/// The noise kind of a role, if it is a noise plane.
pub(super) fn noise_role(role: &str) -> Option<Noise> {
    match role {
        "VARIANCE" => Some(Noise::Variance),
        "ERR" => Some(Noise::Sigma),
        "WEIGHT" | "WHT" => Some(Noise::Weight),
        _ => None,
    }
}

/// The mask bits that blank a pixel: for an LSST MASK the NO_DATA plane, the `--mask-planes` and `--bad-bits`;
/// for a DQ plane `--bad-bits` (default: any bit).
///
/// # Errors
/// A mask plane named in `opts` that the mask header does not define.
pub(super) fn blank_bits(file: &str, mask: &Hdu, role: &str, opts: &PlaneOptions) -> Result<i64, CoaddError> {
    if role == "DQ" {
        return Ok(opts.bad_bits.unwrap_or(-1));
    }
    let bit = |name: &str| mask.header.get_i64(&format!("MP_{name}")).filter(|b| (0..63).contains(b));
    let mut bits = bit("NO_DATA").map_or(0, |b| 1i64 << b) | opts.bad_bits.unwrap_or(0);
    for name in &opts.mask_planes {
        let name = name.trim().to_ascii_uppercase();
        let Some(b) = bit(&name) else {
            let defined: Vec<String> =
                mask.header.cards.iter().filter_map(|c| c.key.strip_prefix("MP_").map(str::to_string)).collect();
            return Err(CoaddError::MaskPlane {
                file: file.to_string(),
                hdu: mask.index,
                plane: name,
                defined: defined.join(", "),
            });
        };
        bits |= 1i64 << b;
    }
    Ok(bits)
}

/// A weight map in a file of its own, beside the image.
#[derive(Debug, Clone)]
pub struct SiblingWeight {
    /// Where it was found.
    pub location: String,
    /// Its bytes.
    pub source: Arc<dyn ByteSource>,
    /// Its weight HDU.
    pub hdu: Hdu,
}

/// Where a sibling weight map of `location` would be: `x.fits` -> `x.weight.fits` (also for `.fits.gz` / `.fz`).
#[must_use]
pub fn sibling_weight_location(location: &str) -> Option<String> {
    let lower = location.to_ascii_lowercase();
    [".fits.gz", ".fits.fz", ".fits", ".fit"].iter().find_map(|ext| {
        if lower.ends_with(ext)
            && !lower.ends_with(&format!(".weight{ext}"))
            && location.is_char_boundary(location.len() - ext.len())
        {
            let (stem, suffix) = location.split_at(location.len() - ext.len());
            Some(format!("{stem}.weight{suffix}"))
        } else {
            None
        }
    })
}

/// Open the sibling weight map of `location` if there is one, checked against the image size. A missing sibling is
/// `None`; a sibling that exists but cannot be read is an error (a silent fallback would weight wrongly).
///
/// # Errors
/// When the sibling exists but cannot be read, holds no 2-D image, or its size differs from the image's.
pub(super) fn open_sibling_weight(location: &str, size: (usize, usize)) -> Result<Option<SiblingWeight>, CoaddError> {
    let Some(at) = sibling_weight_location(location) else { return Ok(None) };
    let source = match fits::open_source(&at) {
        Ok(s) => s,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let hdus = match fits::scan_hdus(source.as_ref()) {
        Ok(h) => h,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(hdu) = hdus.into_iter().find(super::is_image) else {
        return Err(CoaddError::NoImage { file: at, detail: " (the sibling weight map of the image)".into() });
    };
    if (hdu.naxes[0], hdu.naxes[1]) != size {
        return Err(CoaddError::PlaneSize {
            file: at,
            hdu: hdu.index,
            plane: "WEIGHT",
            got: (hdu.naxes[0], hdu.naxes[1]),
            want: size,
        });
    }
    tracing::debug!("{location}: weight map from {at}");
    Ok(Some(SiblingWeight { location: at, source, hdu }))
}

fn is_missing(e: &FitsError) -> bool {
    matches!(e, FitsError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_names() {
        assert_eq!(sibling_weight_location("a/b.fits").as_deref(), Some("a/b.weight.fits"));
        assert_eq!(sibling_weight_location("s3://x/b.FITS.gz").as_deref(), Some("s3://x/b.weight.FITS.gz"));
        assert_eq!(sibling_weight_location("b.weight.fits"), None);
        assert_eq!(sibling_weight_location("b.dat"), None);
    }

    #[test]
    fn noise_kinds_give_variances() {
        assert_eq!(Noise::Sigma.variance(3.0), 9.0);
        assert_eq!(Noise::Weight.variance(4.0), 0.25);
        assert!(Noise::Weight.variance(0.0).is_nan());
        assert!(Noise::Variance.variance(-1.0).is_nan());
    }
}
