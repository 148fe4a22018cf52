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

/// Properties keys recording the plane options a HiPS was generated with, so tiles rendered later (on demand, from
/// the same coadds) blank and weight exactly as the stored ones.
const KEY_BAD_BITS: &str = "hipsgen_bad_bits";
const KEY_MASK_PLANES: &str = "hipsgen_mask_planes";
const KEY_SIBLING_WEIGHT: &str = "hipsgen_sibling_weight";

impl PlaneOptions {
    /// Record the options that differ from the defaults in `p`.
    pub fn record(&self, p: &mut crate::layout::Properties) {
        if let Some(b) = self.bad_bits {
            p.set(KEY_BAD_BITS, format!("{b:#x}"));
        }
        if !self.mask_planes.is_empty() {
            let names: Vec<String> = self.mask_planes.iter().map(|n| n.trim().to_ascii_uppercase()).collect();
            p.set(KEY_MASK_PLANES, names.join(","));
        }
        if self.no_sibling_weight {
            p.set(KEY_SIBLING_WEIGHT, "false");
        }
    }

    /// The options recorded by [`PlaneOptions::record`] (defaults for absent keys).
    ///
    /// # Errors
    /// A recorded value that cannot be parsed, naming the key.
    pub fn from_properties(p: &crate::layout::Properties) -> Result<PlaneOptions, String> {
        let bad_bits = match p.get(KEY_BAD_BITS) {
            None => None,
            Some(v) => Some(parse_bits(v).map_err(|e| format!("{KEY_BAD_BITS} = {v:?}: {e}"))?),
        };
        let mask_planes = p
            .get(KEY_MASK_PLANES)
            .map(|v| v.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let no_sibling_weight = match p.get(KEY_SIBLING_WEIGHT).map(str::trim) {
            None | Some("true") => false,
            Some("false") => true,
            Some(v) => return Err(format!("{KEY_SIBLING_WEIGHT} = {v:?}: not true or false")),
        };
        Ok(PlaneOptions { bad_bits, mask_planes, no_sibling_weight })
    }
}

/// A bit mask written in decimal or `0x` hexadecimal (`--bad-bits`, `hipsgen_bad_bits`).
///
/// # Errors
/// When it is neither.
pub fn parse_bits(s: &str) -> Result<i64, std::num::ParseIntError> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16),
        None => t.parse(),
    }
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
pub(super) fn open_sibling_weight(
    location: &str,
    size: (usize, usize),
    open: impl Fn(&str) -> Result<Arc<dyn ByteSource>, FitsError>,
) -> Result<Option<SiblingWeight>, CoaddError> {
    let Some(at) = sibling_weight_location(location) else { return Ok(None) };
    let source = match open(&at) {
        Ok(s) => s,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match sibling_weight(&at, source, size) {
        Err(CoaddError::Fits(e)) if is_missing(&e) => Ok(None),
        r => r.map(Some),
    }
}

/// The weight map in `source` (found at `at`), checked against the image size.
///
/// # Errors
/// When it cannot be read, holds no 2-D image, or its size differs from the image's.
pub(super) fn sibling_weight(
    at: &str,
    source: Arc<dyn ByteSource>,
    size: (usize, usize),
) -> Result<SiblingWeight, CoaddError> {
    let hdus = fits::scan_hdus(source.as_ref())?;
    let Some(hdu) = hdus.into_iter().find(super::is_image) else {
        return Err(CoaddError::NoImage {
            file: at.to_string(),
            detail: " (the sibling weight map of the image)".into(),
        });
    };
    if (hdu.naxes[0], hdu.naxes[1]) != size {
        return Err(CoaddError::PlaneSize {
            file: at.to_string(),
            hdu: hdu.index,
            plane: "WEIGHT",
            got: (hdu.naxes[0], hdu.naxes[1]),
            want: size,
        });
    }
    tracing::debug!("weight map from {at}");
    Ok(SiblingWeight { location: at.to_string(), source, hdu })
}

/// Whether a read failed because the file or object does not exist.
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
    fn options_round_trip_through_properties() {
        let o = PlaneOptions {
            bad_bits: Some(0x14),
            mask_planes: vec!["sat".into(), "CR".into()],
            no_sibling_weight: true,
        };
        let mut p = crate::layout::Properties::new();
        o.record(&mut p);
        assert_eq!(p.get("hipsgen_bad_bits"), Some("0x14"));
        let back = PlaneOptions::from_properties(&p).expect("parse");
        assert_eq!(back, PlaneOptions { mask_planes: vec!["SAT".into(), "CR".into()], ..o });
        let mut empty = crate::layout::Properties::new();
        PlaneOptions::default().record(&mut empty);
        assert_eq!(empty.to_text(), crate::layout::Properties::new().to_text());
        assert_eq!(PlaneOptions::from_properties(&empty).expect("defaults"), PlaneOptions::default());
    }

    #[test]
    fn noise_kinds_give_variances() {
        assert_eq!(Noise::Sigma.variance(3.0), 9.0);
        assert_eq!(Noise::Weight.variance(4.0), 0.25);
        assert!(Noise::Weight.variance(0.0).is_nan());
        assert!(Noise::Variance.variance(-1.0).is_nan());
    }
}
