//! The celestial reference system a header's world coordinates are in (ICRS, FK5, FK4, FK4-NO-E, ecliptic,
//! galactic), read from CTYPE/RADESYS/EQUINOX as astropy does, and its exact map to each HiPS [`Frame`].
//!
//! The map from a system to a HiPS frame is the path astropy's transform graph takes (`SkyCoord.transform_to`), so
//! positions agree with astropy to well under a microarcsecond:
//! - FK5(E) -> ICRS: bias^T · P06(E -> J2000); FK5(E) -> Galactic: G_J2000 · P06(E -> J2000).
//! - FK4(E) -> E-terms of E removed -> FK4-NO-E(E, obstime E); -> ICRS: bias^T · B(E) · Newcomb(E -> B1950)
//!   (the FK5 precessions astropy inserts on the way cancel); -> Galactic: G_B1950 · Newcomb(E -> B1950).
//!   astropy's `wcs_to_celestial_frame` builds `FK4(equinox=EQUINOX)`, whose obstime defaults to the equinox,
//!   whatever DATE-OBS says; so does this module. FK4(B1975) -> Galactic then differs from FK4 -> ICRS ->
//!   Galactic by up to ~0.12": each HiPS frame gets its own map.
//! - Ecliptic(E) -> ICRS: ecm06(E)^T; -> Galactic: through ICRS.
//!
//! Everything but the E-terms is a rotation, precomputed once per image ([`FrameMap`]). The E-terms (a ~0.34"
//! shift depending on position) are applied exactly, to each vector.
//!
//! **Ecliptic axes.** astropy 8's `wcs_to_celestial_frame` has no ecliptic frame (astropy issue #6483): for
//! ELON/ELAT it returns the frame named by RADESYS (ICRS, FK5 or FK4), i.e. it reads ecliptic longitude and
//! latitude as right ascension and declination, ~23° off. We do not copy that: ELON/ELAT are astropy's
//! `BarycentricMeanEcliptic(equinox=EQUINOX)` (Julian epoch, default J2000; the IAU 2006 ecliptic, a rotation
//! from ICRS) when RADESYS is ICRS or FK5 (or implied so), and refused under FK4.

use super::frame::Frame;
use super::precession as p;
use super::precession::Mat;
use super::WcsError;
use crate::fits::{Header, Value};

/// A celestial reference system of world coordinates, as read from a FITS header.
/// Equinoxes are epochs in years: Julian for FK5 and ecliptic, Besselian for FK4 (as astropy's `Time`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum CelestialFrame {
    /// ICRS right ascension / declination.
    Icrs,
    /// FK5, mean equator and equinox of a Julian epoch (`RADESYS = 'FK5'`).
    Fk5 {
        /// Julian epoch of the equinox (EQUINOX, default 2000.0).
        equinox: f64,
    },
    /// FK4 with the E-terms of aberration (`RADESYS = 'FK4'`); the observation epoch is the equinox, as astropy's
    /// `wcs_to_celestial_frame` sets it.
    Fk4 {
        /// Besselian epoch of the equinox (EQUINOX, default 1950.0).
        equinox: f64,
    },
    /// FK4 without the E-terms (`RADESYS = 'FK4-NO-E'`); observation epoch = equinox.
    Fk4NoE {
        /// Besselian epoch of the equinox (EQUINOX, default 1950.0).
        equinox: f64,
    },
    /// Ecliptic longitude / latitude (ELON/ELAT): astropy's `BarycentricMeanEcliptic`.
    Ecliptic {
        /// Julian epoch of the equinox (EQUINOX, default 2000.0).
        equinox: f64,
    },
    /// Galactic longitude / latitude (GLON/GLAT): astropy's `Galactic`.
    Galactic,
}

/// The exact map between one [`CelestialFrame`] and one HiPS [`Frame`]: an optional E-terms step, then a rotation.
/// Build with [`CelestialFrame::map_to`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameMap {
    /// Frame (E-terms removed) -> HiPS frame.
    pub(crate) rot: Mat,
    /// HiPS frame -> frame (E-terms removed): `rot`'s transpose, except from ICRS to FK4 where astropy precesses
    /// with Newcomb's B1950 -> E (not exactly the transpose of E -> B1950: astropy's own round trip FK4(B1975) ->
    /// ICRS -> FK4 is off by 0.006 mas, 0.025 mas for B1900) and we follow each direction as astropy does.
    pub(crate) inv: Mat,
    /// E-terms vector of FK4 frames, applied on the frame's side of `rot`.
    pub(crate) e_terms: Option<[f64; 3]>,
}

impl CelestialFrame {
    /// The HiPS frame these coordinates are closest to, and in which [`super::Wcs::pix_to_world`] reports them:
    /// galactic for [`CelestialFrame::Galactic`], equatorial (ICRS) for every other.
    #[must_use]
    pub fn base(&self) -> Frame {
        match self {
            CelestialFrame::Galactic => Frame::Galactic,
            _ => Frame::Equatorial,
        }
    }

    /// The map from this frame to HiPS frame `to`, along astropy's transform path.
    #[must_use]
    pub fn map_to(&self, to: Frame) -> FrameMap {
        let icrs_to_fk5 = p::icrs_to_fk5_j2000();
        let fk5_to_gal = p::fk5_j2000_to_galactic();
        let (rot, inv, e_terms) = match (*self, to) {
            (CelestialFrame::Icrs, Frame::Equatorial) | (CelestialFrame::Galactic, Frame::Galactic) => {
                rotation(identity())
            }
            (CelestialFrame::Icrs, Frame::Galactic) => rotation(p::mul(&fk5_to_gal, &icrs_to_fk5)),
            (CelestialFrame::Galactic, Frame::Equatorial) => rotation(p::transpose(&p::mul(&fk5_to_gal, &icrs_to_fk5))),
            (CelestialFrame::Fk5 { equinox }, Frame::Equatorial) => {
                rotation(p::mul(&p::transpose(&icrs_to_fk5), &p::fk5_precession(equinox, 2000.0)))
            }
            (CelestialFrame::Fk5 { equinox }, Frame::Galactic) => {
                rotation(p::mul(&fk5_to_gal, &p::fk5_precession(equinox, 2000.0)))
            }
            (CelestialFrame::Ecliptic { equinox }, to) => {
                let ecl_to_icrs = p::transpose(&p::icrs_to_ecliptic(equinox));
                rotation(p::mul(&CelestialFrame::Icrs.map_to(to).rot, &ecl_to_icrs))
            }
            (CelestialFrame::Fk4 { equinox } | CelestialFrame::Fk4NoE { equinox }, to) => {
                let to_b1950 = p::fk4_precession(equinox, 1950.0);
                let (rot, inv) = match to {
                    Frame::Equatorial => {
                        // obstime = equinox: astropy's FK4 default, the Time of the Besselian equinox.
                        let b = p::fk4_to_fk5_b(p::jd_to_jyear(p::byear_to_jd(equinox)));
                        let rot = p::mul(&p::mul(&p::transpose(&icrs_to_fk5), &b), &to_b1950);
                        let from_b1950 = p::fk4_precession(1950.0, equinox);
                        (rot, p::mul(&p::mul(&from_b1950, &p::transpose(&b)), &icrs_to_fk5))
                    }
                    Frame::Galactic => {
                        let rot = p::mul(&p::fk4_b1950_to_galactic(), &to_b1950);
                        (rot, p::transpose(&rot))
                    }
                };
                let e = matches!(self, CelestialFrame::Fk4 { .. }).then(|| p::fk4_e_terms(equinox));
                (rot, inv, e)
            }
        };
        FrameMap { rot, inv, e_terms }
    }
}

/// (rotation, its inverse, no E-terms).
fn rotation(rot: Mat) -> (Mat, Mat, Option<[f64; 3]>) {
    (rot, p::transpose(&rot), None)
}

fn identity() -> Mat {
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
}

impl FrameMap {
    /// Whether the map is a pure rotation (no E-terms).
    #[must_use]
    pub fn is_rotation(&self) -> bool {
        self.e_terms.is_none()
    }

    /// Unit vector in the celestial frame -> unit vector in the HiPS frame.
    #[inline]
    #[must_use]
    pub fn to_hips_vec(&self, v: &[f64; 3]) -> [f64; 3] {
        match &self.e_terms {
            None => super::frame::mat_vec(&self.rot, v),
            Some(a) => super::frame::mat_vec(&self.rot, &p::remove_e_terms(v, a)),
        }
    }

    /// Unit vector in the HiPS frame -> unit vector in the celestial frame.
    #[inline]
    #[must_use]
    pub fn from_hips_vec(&self, v: &[f64; 3]) -> [f64; 3] {
        let w = super::frame::mat_vec(&self.inv, v);
        match &self.e_terms {
            None => w,
            Some(a) => p::add_e_terms(&w, a),
        }
    }

    /// (lon, lat) radians in the celestial frame -> (lon in `[0, 2π)`, lat) radians in the HiPS frame.
    #[must_use]
    pub fn to_hips_rad(&self, lon: f64, lat: f64) -> (f64, f64) {
        super::frame::vec_to_lonlat(&self.to_hips_vec(&lonlat_to_vec(lon, lat)))
    }

    /// (lon, lat) radians in the HiPS frame -> (lon in `[0, 2π)`, lat) radians in the celestial frame.
    #[must_use]
    pub fn from_hips_rad(&self, lon: f64, lat: f64) -> (f64, f64) {
        super::frame::vec_to_lonlat(&self.from_hips_vec(&lonlat_to_vec(lon, lat)))
    }
}

#[inline]
pub(crate) fn lonlat_to_vec(lon: f64, lat: f64) -> [f64; 3] {
    let (sl, cl) = lon.sin_cos();
    let (sb, cb) = lat.sin_cos();
    [cb * cl, cb * sl, sb]
}

/// Kind of celestial axes named by CTYPE (the first four characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axes {
    /// RA/DEC.
    Equatorial,
    /// ELON/ELAT.
    Ecliptic,
    /// GLON/GLAT.
    Galactic,
}

fn unsupported(key: &str, value: impl Into<String>) -> WcsError {
    WcsError::UnsupportedFrame { key: key.into(), value: value.into() }
}

/// A numeric keyword as wcslib reads it: numbers only (a quoted `'2000'` is ignored, as by astropy).
fn number(h: &Header, key: &str) -> Result<Option<f64>, WcsError> {
    match h.card(key).and_then(|c| c.value.as_ref()) {
        Some(Value::Float(v)) if v.is_finite() => Ok(Some(*v)),
        Some(Value::Int(i)) => Ok(Some(*i as f64)),
        Some(Value::Float(v)) => {
            Err(WcsError::BadValue { key: key.into(), value: v.to_string(), reason: "not finite".into() })
        }
        _ => Ok(None),
    }
}

/// The celestial frame of a header with celestial axes `axes`, following wcslib (`wcsset`) and astropy
/// (`wcs_to_celestial_frame`):
/// - RADESYS, or the deprecated RADECSYS (when both are present the later card wins, as in wcslib);
///   EQUINOX, else the deprecated EPOCH.
/// - No RADESYS: ICRS without an equinox, FK4 when EQUINOX < 1984, else FK5.
/// - RADESYS ICRS ignores EQUINOX; FK5 defaults to J2000, FK4 and FK4-NO-E to B1950.
/// - GLON/GLAT ignore RADESYS/EQUINOX. GAPPT and unknown systems are refused naming the keyword.
pub(crate) fn from_header(h: &Header, axes: Axes) -> Result<CelestialFrame, WcsError> {
    if axes == Axes::Galactic {
        return Ok(CelestialFrame::Galactic);
    }
    let pos = |key: &str| h.cards.iter().rposition(|c| c.key == key);
    let key = match (pos("RADESYS"), pos("RADECSYS")) {
        (Some(a), Some(b)) if b > a => "RADECSYS",
        (None, Some(_)) => "RADECSYS",
        _ => "RADESYS",
    };
    let radesys = h.get_str(key).map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty());
    let (eq_key, equinox) = match number(h, "EQUINOX")? {
        Some(e) => ("EQUINOX", Some(e)),
        None => ("EPOCH", number(h, "EPOCH")?),
    };
    let system = match radesys.as_deref() {
        Some(s) => s.to_string(),
        None => match equinox {
            None => "ICRS".into(),
            Some(e) if e < 1984.0 => "FK4".into(),
            Some(_) => "FK5".into(),
        },
    };
    let frame = match system.as_str() {
        "ICRS" => CelestialFrame::Icrs,
        "FK5" => CelestialFrame::Fk5 { equinox: equinox.unwrap_or(2000.0) },
        "FK4" => CelestialFrame::Fk4 { equinox: equinox.unwrap_or(1950.0) },
        "FK4-NO-E" => CelestialFrame::Fk4NoE { equinox: equinox.unwrap_or(1950.0) },
        _ => return Err(unsupported(key, system)),
    };
    if axes == Axes::Ecliptic {
        return match frame {
            CelestialFrame::Icrs => Ok(CelestialFrame::Ecliptic { equinox: 2000.0 }),
            CelestialFrame::Fk5 { equinox } => Ok(CelestialFrame::Ecliptic { equinox }),
            _ => match radesys {
                Some(s) => Err(unsupported(key, format!("{s} (with ecliptic axes)"))),
                None => Err(unsupported(eq_key, format!("{} (FK4 ecliptic axes)", equinox.unwrap_or(0.0)))),
            },
        };
    }
    Ok(frame)
}
