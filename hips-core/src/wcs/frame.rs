//! The two HiPS frames (ICRS and galactic) and the rotation between them.
//!
//! `Frame::Equatorial` means ICRS; `Frame::Galactic` is astropy's `Galactic` frame, i.e. IAU 1958 galactic
//! coordinates reached from ICRS through FK5 J2000 (frame bias included). The rotation matrix below was computed
//! from astropy 8.0.2 by transforming the ICRS unit vectors, so `convert` agrees with
//! `SkyCoord(..., frame="icrs").galactic` to ~1e-12 deg. A header's own reference system (FK5, FK4, ecliptic, ...)
//! is a [`super::CelestialFrame`]; [`super::Wcs`] maps it exactly to either HiPS frame.

/// A HiPS coordinate frame. All angles in this module are longitude/latitude pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame {
    /// ICRS right ascension / declination.
    Equatorial,
    /// Galactic longitude / latitude (astropy's `Galactic` frame).
    Galactic,
}

/// ICRS unit vector -> Galactic unit vector (`g = M c`), from astropy 8.0.2.
pub(crate) const ICRS_TO_GAL: [[f64; 3]; 3] = [
    [-0.05487565771259163, -0.8734370519556159, -0.48383507361671546],
    [0.4941094371927268, -0.44482972122329517, 0.7469821839866676],
    [-0.8676661375596576, -0.19807633727300059, 0.45598381368730156],
];

/// Rotation taking a unit vector in `from` to the same direction in `to` (identity when equal).
#[must_use]
pub fn rotation_matrix(from: Frame, to: Frame) -> [[f64; 3]; 3] {
    match (from, to) {
        (Frame::Equatorial, Frame::Galactic) => ICRS_TO_GAL,
        (Frame::Galactic, Frame::Equatorial) => transpose(&ICRS_TO_GAL),
        _ => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    }
}

pub(crate) fn transpose(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    [[m[0][0], m[1][0], m[2][0]], [m[0][1], m[1][1], m[2][1]], [m[0][2], m[1][2], m[2][2]]]
}

/// Convert a direction between frames, angles in radians. Longitude out is in `[0, 2π)`, latitude in `[-π/2, π/2]`.
/// Identity (inputs returned unchanged) when `from == to`.
#[must_use]
pub fn convert_rad(lon: f64, lat: f64, from: Frame, to: Frame) -> (f64, f64) {
    if from == to {
        return (lon, lat);
    }
    let m = rotation_matrix(from, to);
    let (sl, cl) = lon.sin_cos();
    let (sb, cb) = lat.sin_cos();
    let v = [cb * cl, cb * sl, sb];
    let w = mat_vec(&m, &v);
    vec_to_lonlat(&w)
}

/// Convert a direction between frames, angles in degrees. Longitude out is in `[0, 360)`.
/// Identity (inputs returned unchanged) when `from == to`.
#[must_use]
pub fn convert(lon_deg: f64, lat_deg: f64, from: Frame, to: Frame) -> (f64, f64) {
    if from == to {
        return (lon_deg, lat_deg);
    }
    let (l, b) = convert_rad(lon_deg.to_radians(), lat_deg.to_radians(), from, to);
    (norm_deg(l.to_degrees()), b.to_degrees())
}

#[inline]
pub(crate) fn mat_vec(m: &[[f64; 3]; 3], v: &[f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

/// Unit (or any non-zero) vector -> (lon in [0, 2π), lat) radians; latitude via atan2 so it stays exact near the poles.
#[inline]
pub(crate) fn vec_to_lonlat(v: &[f64; 3]) -> (f64, f64) {
    let mut lon = v[1].atan2(v[0]);
    if lon < 0.0 {
        lon += std::f64::consts::TAU;
    }
    if lon >= std::f64::consts::TAU {
        lon -= std::f64::consts::TAU;
    }
    let lat = v[2].atan2(v[0].hypot(v[1]));
    (lon, lat)
}

/// Normalise degrees into `[0, 360)`.
#[inline]
pub(crate) fn norm_deg(mut d: f64) -> f64 {
    d %= 360.0;
    if d < 0.0 {
        d += 360.0;
    }
    if d >= 360.0 {
        d -= 360.0;
    }
    d
}
