//! World Coordinate System: celestial FITS WCS (Calabretta & Greisen 2002, "paper II") between pixels and sky.
//!
//! Conventions used throughout this module:
//! - **Pixels are 0-based**: the centre of FITS pixel (1, 1) is `(0.0, 0.0)`. `x` runs along NAXIS1 (columns),
//!   `y` along NAXIS2 (rows). This is astropy's `origin=0`.
//! - **Angles are degrees** unless a function name ends in `_rad`. Longitudes returned are in `[0, 360)`.
//! - **Frames**: the header's celestial reference system is a [`CelestialFrame`], read as astropy's
//!   `wcs_to_celestial_frame` reads it (RADESYS or RADECSYS, EQUINOX or EPOCH, the FITS defaults): ICRS, FK5
//!   (any equinox), FK4 with E-terms and FK4-NO-E (any equinox, observation epoch = equinox), galactic, and ecliptic
//!   ELON/ELAT (astropy's `BarycentricMeanEcliptic`; astropy itself reads them as equatorial, see [`celestial`]).
//!   GAPPT, helioecliptic, supergalactic and other axes are refused ([`WcsError::UnsupportedFrame`]).
//!   `pix_to_world`/`world_to_pix` work in [`Wcs::frame`], the HiPS frame ([`Frame::Equatorial`] = ICRS or
//!   [`Frame::Galactic`]) nearest the header's; `pix_to_sky_rad`/`sky_to_pix_rad` in either HiPS frame, exactly
//!   along astropy's transform path (< 1e-6 mas, `hips-core/tests/wcs_celestial.rs`); `pix_to_native`/`native_to_pix`
//!   in the header's own frame (astropy's `all_pix2world`). Rotations are folded into the projection's rotation
//!   matrix, so only FK4's E-terms cost anything per position.
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
//! Everything is checked against astropy (wcslib) in `hips-core/tests/wcs_*.rs` (oracles:
//! `tests/oracles/wcs_points.py`, `celestial_frames.py`): pixel -> world to < 1e-9 deg, world -> pixel to < 1e-6 px.
//!
//! DSS plate solutions (`PLTRAH`..., `AMDXn`/`AMDYn`, see [`dss`]) are used for `pix_to_world`/`world_to_pix`
//! whenever present, in preference to the header's CTYPE/CD, as astropy (wcslib) does silently (for the DSS
//! HorseHead image the two differ by ~0.2"). The header's standard WCS (still required) then only supplies
//! [`Wcs::crval`], [`Wcs::crpix0`], [`Wcs::projection`] and [`Wcs::pixel_scale_deg`], an approximation of the plate.
//!
//! Not implemented: DSS headers without CTYPE1/CTYPE2, the paper IV distortions (`CPDIS`/`DP`/`D2IMARR`), and
//! projections other than the ones listed above.

pub mod celestial;
mod dss;
pub mod frame;
mod header;
mod precession;
mod projection;
mod rotation;
mod sip;
mod tpv;

pub use celestial::{CelestialFrame, FrameMap};
pub use frame::{convert, convert_rad, Frame};
pub use projection::Projection;

use celestial::lonlat_to_vec;
use frame::{mat_vec, vec_to_lonlat};
use sip::Sip;

/// The cards of a plain ICRS gnomonic (TAN) WCS, North up and East left: reference point `crval` (degrees) at the
/// 1-based pixel `crpix`, `scale_deg` degrees per pixel. For synthetic images (tests, benchmarks, demos).
#[must_use]
pub fn tan_cards(crval: (f64, f64), crpix: (f64, f64), scale_deg: f64) -> Vec<crate::fits::Card> {
    use crate::fits::Card;
    vec![
        Card::str("CTYPE1", "RA---TAN", ""),
        Card::str("CTYPE2", "DEC--TAN", ""),
        Card::float("CRVAL1", crval.0, ""),
        Card::float("CRVAL2", crval.1, ""),
        Card::float("CRPIX1", crpix.0, ""),
        Card::float("CRPIX2", crpix.1, ""),
        Card::float("CD1_1", -scale_deg, ""),
        Card::float("CD1_2", 0.0, ""),
        Card::float("CD2_1", 0.0, ""),
        Card::float("CD2_2", scale_deg, ""),
        Card::str("RADESYS", "ICRS", ""),
    ]
}

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
    /// A celestial reference system this module does not implement (GAPPT, helioecliptic, supergalactic, ...).
    #[error(
        "{key} = '{value}': unsupported celestial frame (supported: ICRS, FK5, FK4, FK4-NO-E, ecliptic, galactic)"
    )]
    UnsupportedFrame {
        /// Header key (RADESYS, RADECSYS, EQUINOX, EPOCH, CTYPE1 or CTYPE2).
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
    /// The header's celestial reference system.
    celestial: CelestialFrame,
    /// Maps from the header's system to each HiPS frame, indexed by [`map_index`].
    maps: [HipsMap; 2],
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

    /// The frame of [`Wcs::pix_to_world`] / [`Wcs::world_to_pix`]: galactic for GLON/GLAT axes, equatorial (ICRS)
    /// for every other system (FK5, FK4, ecliptic positions are converted to ICRS).
    #[must_use]
    pub fn frame(&self) -> Frame {
        self.celestial.base()
    }

    /// The header's own celestial reference system (RADESYS/EQUINOX/CTYPE), that of [`Wcs::pix_to_native`].
    #[must_use]
    pub fn celestial_frame(&self) -> CelestialFrame {
        self.celestial
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

    /// 0-based pixel -> (lon, lat) degrees in [`Wcs::frame`], lon in `[0, 360)`. `None` when the pixel is outside the
    /// projection's valid region (e.g. beyond the edge of an all-sky projection).
    #[must_use]
    pub fn pix_to_world(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (lon, lat) = self.pix_to_world_rad(x, y)?;
        Some((frame::norm_deg(lon.to_degrees()), lat.to_degrees()))
    }

    /// 0-based pixel -> (lon, lat) radians in [`Wcs::frame`], lon in `[0, 2π)`.
    #[must_use]
    pub fn pix_to_world_rad(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        self.pix_to_sky_rad(x, y, self.frame())
    }

    /// 0-based pixel -> (lon, lat) radians in HiPS frame `frame` (astropy's `pixel_to_world(x, y)` transformed to
    /// `frame`), lon in `[0, 2π)`.
    #[must_use]
    pub fn pix_to_sky_rad(&self, x: f64, y: f64, frame: Frame) -> Option<(f64, f64)> {
        let m = &self.maps[map_index(frame)];
        if let Some(f) = &m.folded {
            let (px, py) = self.pix_to_plane(x, y);
            let n = self.proj.plane_to_native_vec(px + self.offset[0], py + self.offset[1])?;
            return Some(vec_to_lonlat(&mat_vec(&f.native_to_hips, &n)));
        }
        Some(vec_to_lonlat(&m.map.to_hips_vec(&self.pix_to_native_vec(x, y)?)))
    }

    /// 0-based pixel -> (lon, lat) degrees in the header's own frame ([`Wcs::celestial_frame`]; astropy's
    /// `all_pix2world`), lon in `[0, 360)`.
    #[must_use]
    pub fn pix_to_native(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (lon, lat) = vec_to_lonlat(&self.pix_to_native_vec(x, y)?);
        Some((frame::norm_deg(lon.to_degrees()), lat.to_degrees()))
    }

    /// (lon, lat) degrees in the header's own frame -> 0-based pixel (astropy's `all_world2pix`).
    #[must_use]
    pub fn native_to_pix(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        self.native_vec_to_pix(&lonlat_to_vec(lon.to_radians(), lat.to_radians()))
    }

    /// (lon, lat) degrees in [`Wcs::frame`] -> 0-based pixel. `None` when the direction is outside the
    /// projection's valid domain (e.g. the far hemisphere of TAN or SIN) or the SIP inverse does not converge.
    #[must_use]
    pub fn world_to_pix(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        self.world_to_pix_rad(lon.to_radians(), lat.to_radians())
    }

    /// Same as [`Wcs::world_to_pix`] with (lon, lat) in radians (no allocation).
    #[inline]
    #[must_use]
    pub fn world_to_pix_rad(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        self.sky_vec_to_pix(&lonlat_to_vec(lon, lat), self.frame())
    }

    /// Unit vector in [`Wcs::frame`] (x towards lon 0, z towards lat +90) -> 0-based pixel.
    #[inline]
    #[must_use]
    pub fn world_vec_to_pix(&self, v: &[f64; 3]) -> Option<(f64, f64)> {
        self.sky_vec_to_pix(v, self.frame())
    }

    /// (lon, lat) radians in HiPS frame `frame` -> 0-based pixel (astropy's `world_to_pixel` of a `SkyCoord` in
    /// `frame`): the rendering hot loop. One precomputed 3x3 rotation whatever the frames, plus the E-terms for
    /// FK4 headers.
    #[inline]
    #[must_use]
    pub fn sky_to_pix_rad(&self, lon: f64, lat: f64, frame: Frame) -> Option<(f64, f64)> {
        self.sky_vec_to_pix(&lonlat_to_vec(lon, lat), frame)
    }

    /// Unit vector in HiPS frame `frame` -> 0-based pixel.
    #[inline]
    #[must_use]
    pub fn sky_vec_to_pix(&self, v: &[f64; 3], frame: Frame) -> Option<(f64, f64)> {
        let m = &self.maps[map_index(frame)];
        match &m.folded {
            Some(f) => self.native_sph_to_pix(&mat_vec(&f.hips_to_native, v)),
            None => self.native_vec_to_pix(&m.map.from_hips_vec(v)),
        }
    }

    /// 0-based pixel -> unit vector in the header's frame.
    fn pix_to_native_vec(&self, x: f64, y: f64) -> Option<[f64; 3]> {
        if let Some(d) = &self.dss {
            let (lon, lat) = d.pix_to_world_rad(x, y);
            return Some(lonlat_to_vec(lon, lat));
        }
        let (px, py) = self.pix_to_plane(x, y);
        let n = self.proj.plane_to_native_vec(px + self.offset[0], py + self.offset[1])?;
        Some(mat_vec(&self.r_nc, &n))
    }

    /// Unit vector in the header's frame -> 0-based pixel.
    #[inline]
    fn native_vec_to_pix(&self, v: &[f64; 3]) -> Option<(f64, f64)> {
        if let Some(d) = &self.dss {
            return d.world_vec_to_pix(v);
        }
        self.native_sph_to_pix(&mat_vec(&self.r_cn, v))
    }

    /// Native spherical unit vector of the projection -> 0-based pixel.
    #[inline]
    fn native_sph_to_pix(&self, n: &[f64; 3]) -> Option<(f64, f64)> {
        let (px, py) = self.proj.native_vec_to_plane(n)?;
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

/// A header frame's map to one HiPS frame, with the projection's rotation folded in when both are rotations.
#[derive(Debug, Clone)]
struct HipsMap {
    map: FrameMap,
    folded: Option<Folded>,
}

/// Native spherical <-> HiPS frame in one matrix each (no DSS, no E-terms).
#[derive(Debug, Clone)]
struct Folded {
    hips_to_native: [[f64; 3]; 3],
    native_to_hips: [[f64; 3]; 3],
}

impl HipsMap {
    fn new(celestial: CelestialFrame, to: Frame, r_nc: &[[f64; 3]; 3], dss: bool) -> HipsMap {
        let map = celestial.map_to(to);
        let folded = (!dss && map.is_rotation()).then(|| {
            let r_cn = precession::transpose(r_nc);
            Folded { native_to_hips: precession::mul(&map.rot, r_nc), hips_to_native: precession::mul(&r_cn, &map.inv) }
        });
        HipsMap { map, folded }
    }
}

/// Index of a HiPS frame in [`Wcs`]'s maps.
#[inline]
fn map_index(frame: Frame) -> usize {
    match frame {
        Frame::Equatorial => 0,
        Frame::Galactic => 1,
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
