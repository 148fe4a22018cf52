//! World Coordinate System: celestial FITS WCS (Calabretta & Greisen 2002, "paper II") between pixels and sky.
//!
//! Conventions used throughout this module:
//! - **Pixels are 0-based**: the centre of FITS pixel (1, 1) is `(0.0, 0.0)`. `x` runs along NAXIS1 (columns),
//!   `y` along NAXIS2 (rows). This is astropy's `origin=0`.
//! - **Angles are degrees** unless a function name ends in `_rad`. Longitudes returned are in `[0, 360)`.
//! - **Frames**: a WCS is in the frame of its header axes: RA/DEC -> [`Frame::Equatorial`] (ICRS; `RADESYS = 'FK5'`
//!   with equinox J2000 is treated as ICRS, a ~20 mas approximation, see [`frame`]), GLON/GLAT ->
//!   [`Frame::Galactic`]. FK4, other equinoxes, ecliptic/helioecliptic/supergalactic axes are rejected.
//!   `pix_to_world`/`world_to_pix` work in the WCS's own frame; use [`convert`] to change frame.
//! - Only the primary WCS is read (alternates such as `CTYPE1A` are ignored), and only the first two axes
//!   (further axes of an NAXIS > 2 header are ignored). Axes may be swapped (`CTYPE1 = 'DEC--TAN'`); world
//!   coordinates are still (lon, lat).
//!
//! The pipeline is the standard one: pixel -> SIP (if `A_ORDER`/`B_ORDER`) -> linear (PCi_j x CDELTi, else CDi_j,
//! else CDELTi + CROTA of the latitude axis, the precedence of wcslib) -> TPV (`RA---TPV`, CD form only) ->
//! projection plane (degrees) -> native spherical (projection) -> celestial (spherical rotation, LONPOLE/LATPOLE
//! and PVi_0..4 of the longitude axis per paper II, with wcslib's choices).
//! The rotation is precomputed as a 3x3 matrix, so `world_to_pix` for zenithal projections needs no trigonometry
//! beyond the input's `sin_cos`. Projections: TAN, SIN (with slant PV2_1/PV2_2), ARC, ZEA, STG, ZPN, CAR, MER, CEA,
//! SFL (GLS), AIT, MOL, HPX (PV2_1 = H, PV2_2 = K).
//!
//! Everything is checked against astropy (wcslib) in `hips-core/tests/wcs_*.rs` (oracle:
//! `tests/oracles/wcs_points.py`): pixel -> world to < 1e-9 deg, world -> pixel to < 1e-6 px.
//!
//! DSS plate solutions (`PLTRAH`..., `AMDXn`/`AMDYn`, see [`dss`]) are used for `pix_to_world`/`world_to_pix`
//! whenever present, in preference to the header's CTYPE/CD, as astropy (wcslib) does silently (for the DSS
//! HorseHead image the two differ by ~0.2"). The header's standard WCS (still required) then only supplies
//! [`Wcs::crval`], [`Wcs::crpix0`], [`Wcs::projection`] and [`Wcs::pixel_scale_deg`], an approximation of the plate.
//!
//! Not implemented: DSS headers without CTYPE1/CTYPE2, the paper IV distortions (`CPDIS`/`DP`/`D2IMARR`), and
//! projections other than the ones listed above.

mod dss;
pub mod frame;
mod header;
mod projection;
mod rotation;
mod sip;
mod tpv;

pub use frame::{convert, convert_rad, Frame};
pub use projection::Projection;

use frame::{mat_vec, vec_to_lonlat};
use sip::Sip;

/// Errors building a [`Wcs`] from a header. Messages name the offending key and value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WcsError {
    /// CTYPE1/CTYPE2 absent or not a celestial longitude/latitude pair.
    #[error("no celestial WCS (CTYPE1/CTYPE2 missing)")]
    NoCelestial,
    /// The projection code is not one this module implements.
    #[error("{key} = '{value}': unsupported projection {code}")]
    UnsupportedProjection {
        /// Header key (e.g. `CTYPE1`).
        key: String,
        /// Its value.
        value: String,
        /// The three-letter projection code.
        code: String,
    },
    /// A CTYPE value that cannot be understood (mismatched axes, unknown coordinate type, ...).
    #[error("{key} = '{value}': {reason}")]
    BadCtype {
        /// Header key.
        key: String,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A reference frame other than ICRS / FK5 J2000 (e.g. FK4, ecliptic).
    #[error("{key} = '{value}': unsupported celestial frame (only ICRS, FK5 J2000 and galactic are supported)")]
    UnsupportedFrame {
        /// Header key (RADESYS, EQUINOX or CTYPE1).
        key: String,
        /// Its value.
        value: String,
    },
    /// A numeric keyword with an unusable value.
    #[error("{key} = {value}: {reason}")]
    BadValue {
        /// Header key.
        key: String,
        /// Its value as written.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A required keyword is missing.
    #[error("missing keyword {0}")]
    Missing(String),
    /// The linear transformation matrix cannot be inverted.
    #[error("singular CD matrix (det = {0:e})")]
    SingularMatrix(f64),
    /// CRVAL/LONPOLE/LATPOLE/PV values admit no valid spherical rotation.
    #[error("invalid coordinate transformation parameters: {0}")]
    BadRotation(String),
}

/// A 2-D celestial WCS, ready for fast repeated use. Build with [`Wcs::from_header`].
///
/// Cheap to clone; `Send + Sync`, so one instance can be shared by all rendering threads.
#[derive(Debug, Clone)]
pub struct Wcs {
    frame: Frame,
    /// CRPIX converted to 0-based pixels.
    crpix: [f64; 2],
    /// Pixel offset (after SIP) -> projection plane (x, y) degrees, axis swap folded in.
    lin: [[f64; 2]; 2],
    /// Inverse of `lin`.
    lin_inv: [[f64; 2]; 2],
    sip: Option<Sip>,
    /// TPV distortion of the intermediate world coordinates (`RA---TPV`).
    tpv: Option<Box<tpv::Tpv>>,
    proj: Projection,
    /// Plane coordinates of the fiducial point when wcslib's projection offset applies (PVi_0 set), else zero.
    offset: [f64; 2],
    /// Native unit vector -> celestial unit vector.
    r_nc: [[f64; 3]; 3],
    /// Celestial unit vector -> native unit vector.
    r_cn: [[f64; 3]; 3],
    /// DSS plate solution: when present it replaces the whole pipeline above (astropy's choice).
    dss: Option<Box<dss::Dss>>,
    /// Reference point (lon, lat) in degrees.
    crval: [f64; 2],
    /// LONPOLE and LATPOLE actually used (degrees).
    poles: [f64; 2],
}

impl Wcs {
    /// Build the primary celestial WCS of a FITS header.
    ///
    /// # Errors
    /// [`WcsError`] when CTYPE1/2 are missing or not celestial, the projection or frame is unsupported, the linear
    /// matrix is singular, or the rotation parameters are inconsistent.
    pub fn from_header(h: &crate::fits::Header) -> Result<Wcs, WcsError> {
        header::build(h)
    }

    /// The frame of this WCS's world coordinates.
    #[must_use]
    pub fn frame(&self) -> Frame {
        self.frame
    }

    /// The projection in use.
    #[must_use]
    pub fn projection(&self) -> &Projection {
        &self.proj
    }

    /// Whether a DSS plate solution (`PLTRAH`, `AMDXn`, ...) is used instead of the header's CTYPE/CD WCS.
    #[must_use]
    pub fn has_dss(&self) -> bool {
        self.dss.is_some()
    }

    /// Whether SIP distortion is applied.
    #[must_use]
    pub fn has_sip(&self) -> bool {
        self.sip.is_some()
    }

    /// Reference point (CRVAL) as (lon, lat) degrees.
    #[must_use]
    pub fn crval(&self) -> (f64, f64) {
        (self.crval[0], self.crval[1])
    }

    /// Reference pixel, 0-based (FITS CRPIX - 1).
    #[must_use]
    pub fn crpix0(&self) -> (f64, f64) {
        (self.crpix[0], self.crpix[1])
    }

    /// LONPOLE and LATPOLE as used (defaults resolved per paper II), degrees.
    #[must_use]
    pub fn lonpole_latpole(&self) -> (f64, f64) {
        (self.poles[0], self.poles[1])
    }

    /// Pixel scale in degrees: `sqrt(|det(CD)|)` of the full linear matrix (CD, PC x CDELT, or CDELT + CROTA2).
    /// SIP distortion is not included.
    #[must_use]
    pub fn pixel_scale_deg(&self) -> f64 {
        let m = &self.lin;
        (m[0][0] * m[1][1] - m[0][1] * m[1][0]).abs().sqrt()
    }

    /// 0-based pixel -> (lon, lat) degrees, lon in `[0, 360)`. `None` when the pixel is outside the projection's
    /// valid region (e.g. beyond the edge of an all-sky projection).
    #[must_use]
    pub fn pix_to_world(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (lon, lat) = self.pix_to_world_rad(x, y)?;
        Some((frame::norm_deg(lon.to_degrees()), lat.to_degrees()))
    }

    /// 0-based pixel -> (lon, lat) radians, lon in `[0, 2π)`.
    #[must_use]
    pub fn pix_to_world_rad(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        if let Some(d) = &self.dss {
            return Some(d.pix_to_world_rad(x, y));
        }
        let (px, py) = self.pix_to_plane(x, y);
        let n = self.proj.plane_to_native_vec(px + self.offset[0], py + self.offset[1])?;
        let c = mat_vec(&self.r_nc, &n);
        Some(vec_to_lonlat(&c))
    }

    /// (lon, lat) degrees -> 0-based pixel. `None` when the direction is outside the projection's valid domain
    /// (e.g. the far hemisphere of TAN or SIN) or the SIP inverse does not converge.
    #[must_use]
    pub fn world_to_pix(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        self.world_to_pix_rad(lon.to_radians(), lat.to_radians())
    }

    /// Same as [`Wcs::world_to_pix`] with (lon, lat) in radians: the hot-loop entry point (no allocation).
    #[inline]
    #[must_use]
    pub fn world_to_pix_rad(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let (sl, cl) = lon.sin_cos();
        let (sb, cb) = lat.sin_cos();
        self.world_vec_to_pix(&[cb * cl, cb * sl, sb])
    }

    /// Celestial unit vector (x towards lon 0, z towards lat +90 in this WCS's frame) -> 0-based pixel.
    #[inline]
    #[must_use]
    pub fn world_vec_to_pix(&self, v: &[f64; 3]) -> Option<(f64, f64)> {
        if let Some(d) = &self.dss {
            return d.world_vec_to_pix(v);
        }
        let n = mat_vec(&self.r_cn, v);
        let (px, py) = self.proj.native_vec_to_plane(&n)?;
        self.plane_to_pix(px - self.offset[0], py - self.offset[1])
    }

    /// 0-based pixel -> projection plane (degrees), SIP included.
    #[inline]
    fn pix_to_plane(&self, x: f64, y: f64) -> (f64, f64) {
        let mut u = x - self.crpix[0];
        let mut v = y - self.crpix[1];
        if let Some(sip) = &self.sip {
            (u, v) = sip.forward(u, v);
        }
        let m = &self.lin;
        let (px, py) = (m[0][0] * u + m[0][1] * v, m[1][0] * u + m[1][1] * v);
        match &self.tpv {
            Some(t) => t.forward(px, py),
            None => (px, py),
        }
    }

    /// Projection plane (degrees) -> 0-based pixel, SIP inverted.
    #[inline]
    fn plane_to_pix(&self, mut px: f64, mut py: f64) -> Option<(f64, f64)> {
        if let Some(t) = &self.tpv {
            (px, py) = t.inverse(px, py)?;
        }
        let m = &self.lin_inv;
        let mut u = m[0][0] * px + m[0][1] * py;
        let mut v = m[1][0] * px + m[1][1] * py;
        if let Some(sip) = &self.sip {
            (u, v) = sip.inverse(u, v)?;
        }
        Some((u + self.crpix[0], v + self.crpix[1]))
    }
}

pub(super) fn f64_or(h: &crate::fits::Header, key: &str, default: f64) -> Result<f64, WcsError> {
    if h.card(key).is_none() {
        Ok(default)
    } else {
        let v = h.get_f64(key).ok_or_else(|| WcsError::BadValue {
            key: key.into(),
            value: h.get_str(key).unwrap_or_default(),
            reason: "not a number".into(),
        })?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(WcsError::BadValue { key: key.into(), value: v.to_string(), reason: "not finite".into() })
        }
    }
}
