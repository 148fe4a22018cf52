//! Reading a [`Wcs`] from FITS header keywords (CTYPE, CRPIX, CRVAL, PC/CD/CDELT/CROTA, PV, SIP, LONPOLE/LATPOLE,
//! RADESYS/EQUINOX, see [`super::celestial`]).
//!
//! Precedence follows wcslib (astropy): PCi_j (with CDELTi) wins over CDi_j, which wins over CDELTi + CROTAi.
//! Only the primary WCS is read: keys with an alternate-WCS letter (`CTYPE1A`, `LONPOLEA`) are never looked up.
//! SIP polynomials are used when A_ORDER/B_ORDER are present (astropy does so even without the `-SIP` suffix).
//! A DSS plate solution (`PLTRAH` + `AMDX1` + `AMDY1` present) overrides the pixel <-> world mapping and makes the
//! axes equatorial, as in astropy.

use super::celestial::{self, Axes};
use super::frame::Frame;
use super::projection::{Projection, Zpn};
use super::rotation::{native_pole, native_to_celestial};
use super::sip::{Poly, Sip, MAX_ORDER};
use super::tpv::{Tpv, N_TERMS};
use super::{f64_or, frame::transpose, Wcs, WcsError};
use crate::fits::Header;

/// Coordinate kind of one CTYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Lon(Axes),
    Lat(Axes),
}

fn bad_ctype(key: &str, value: &str, reason: impl Into<String>) -> WcsError {
    WcsError::BadCtype { key: key.into(), value: value.into(), reason: reason.into() }
}

/// Split a CTYPE into (coordinate kind, projection code, distortion suffix).
fn parse_ctype(key: &str, value: &str) -> Result<(Axis, String, String), WcsError> {
    let v = value.trim();
    if v.len() < 8 || v.as_bytes()[4] != b'-' {
        return Err(bad_ctype(key, value, "not a celestial axis with a projection (expected e.g. 'RA---TAN')"));
    }
    let kind = v[..4].trim_end_matches('-');
    let axis = match kind {
        "RA" => Axis::Lon(Axes::Equatorial),
        "DEC" => Axis::Lat(Axes::Equatorial),
        "GLON" => Axis::Lon(Axes::Galactic),
        "GLAT" => Axis::Lat(Axes::Galactic),
        "ELON" => Axis::Lon(Axes::Ecliptic),
        "ELAT" => Axis::Lat(Axes::Ecliptic),
        // Supergalactic, helioecliptic and the other xyLN/xyLT pairs of paper II.
        _ if kind.len() == 4
            && (kind.ends_with("LON") || kind.ends_with("LAT") || kind.ends_with("LN") || kind.ends_with("LT")) =>
        {
            return Err(WcsError::UnsupportedFrame { key: key.into(), value: value.into() })
        }
        _ => return Err(bad_ctype(key, value, format!("unknown celestial coordinate type {kind}"))),
    };
    let code = v[5..8].to_string();
    let suffix = v[8..].trim_start_matches('-').to_string();
    Ok((axis, code, suffix))
}

fn opt_f64(h: &Header, key: &str) -> Result<Option<f64>, WcsError> {
    if h.contains(key) {
        f64_or(h, key, 0.0).map(Some)
    } else {
        Ok(None)
    }
}

/// The 2x2 linear matrix M_ij (world axis i, pixel axis j), degrees per pixel.
/// Returns the matrix and whether it came from CDi_j.
fn linear_matrix(h: &Header, lat_axis: usize) -> Result<([[f64; 2]; 2], bool), WcsError> {
    let has = |prefix: &str| (1..=2).any(|i| (1..=2).any(|j| h.contains(&format!("{prefix}{i}_{j}"))));
    let cdelt = [f64_or(h, "CDELT1", 1.0)?, f64_or(h, "CDELT2", 1.0)?];
    let mut m = [[0.0; 2]; 2];
    let mut is_cd = false;
    if has("PC") {
        for (i, row) in m.iter_mut().enumerate() {
            for (j, out) in row.iter_mut().enumerate() {
                let pc = f64_or(h, &format!("PC{}_{}", i + 1, j + 1), if i == j { 1.0 } else { 0.0 })?;
                *out = cdelt[i] * pc;
            }
        }
    } else if has("CD") {
        is_cd = true;
        for (i, row) in m.iter_mut().enumerate() {
            for (j, out) in row.iter_mut().enumerate() {
                *out = f64_or(h, &format!("CD{}_{}", i + 1, j + 1), 0.0)?;
            }
        }
    } else {
        // wcslib (astropy) uses the CROTA of the latitude axis only; CROTA of the longitude axis is ignored.
        let crota = f64_or(h, &format!("CROTA{lat_axis}"), 0.0)?;
        let (s, c) = crota.to_radians().sin_cos();
        // PC from CROTA (paper II eq. 189), scaled by CDELT; the rotation is about the latitude axis.
        let sign = if lat_axis == 2 { 1.0 } else { -1.0 };
        m = [[cdelt[0] * c, -sign * cdelt[1] * s], [sign * cdelt[0] * s, cdelt[1] * c]];
    }
    Ok((m, is_cd))
}

/// `domain`: half-width in pixels around CRPIX where the inverse's fast convergence test is certified.
fn sip_from_header(h: &Header, domain: f64) -> Result<Option<Sip>, WcsError> {
    let order = |key: &str| -> Result<Option<usize>, WcsError> {
        match h.card(key) {
            None => Ok(None),
            Some(_) => match h.get_i64(key) {
                Some(o) if (0..=MAX_ORDER as i64).contains(&o) => Ok(Some(o as usize)),
                _ => Err(WcsError::BadValue {
                    key: key.into(),
                    value: h.get_str(key).unwrap_or_default(),
                    reason: format!("SIP order must be an integer in 0..={MAX_ORDER}"),
                }),
            },
        }
    };
    let poly = |name: &str, o: usize| -> Result<Poly, WcsError> {
        let mut err = None;
        let p = Poly::new(o, |p, q| {
            let key = format!("{name}_{p}_{q}");
            match opt_f64(h, &key) {
                Ok(v) => v,
                Err(e) => {
                    err.get_or_insert(e);
                    None
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(p),
        }
    };
    let (a, b) = match (order("A_ORDER")?, order("B_ORDER")?) {
        (None, None) => return Ok(None),
        (Some(ao), Some(bo)) => (poly("A", ao)?, poly("B", bo)?),
        (None, Some(_)) => return Err(WcsError::Missing("A_ORDER (B_ORDER is present)".into())),
        (Some(_), None) => return Err(WcsError::Missing("B_ORDER (A_ORDER is present)".into())),
    };
    let ap_bp = match (order("AP_ORDER")?, order("BP_ORDER")?) {
        (Some(ao), Some(bo)) => Some((poly("AP", ao)?, poly("BP", bo)?)),
        _ => None,
    };
    Ok(Some(Sip::new(&a, &b, ap_bp.as_ref().map(|(ap, bp)| (ap, bp)), domain)))
}

/// Build the primary WCS of `h`.
pub(crate) fn build(h: &Header) -> Result<Wcs, WcsError> {
    let (Some(c1), Some(c2)) = (h.get_str("CTYPE1"), h.get_str("CTYPE2")) else {
        return Err(WcsError::NoCelestial);
    };
    let (a1, code1, suf1) = parse_ctype("CTYPE1", &c1)?;
    let (a2, code2, suf2) = parse_ctype("CTYPE2", &c2)?;
    let (lon_axis, lat_axis, axes) = match (a1, a2) {
        (Axis::Lon(f1), Axis::Lat(f2)) if f1 == f2 => (1usize, 2usize, f1),
        (Axis::Lat(f1), Axis::Lon(f2)) if f1 == f2 => (2, 1, f1),
        _ => return Err(bad_ctype("CTYPE2", &c2, format!("does not pair with CTYPE1 = '{c1}'"))),
    };
    if code1 != code2 {
        return Err(bad_ctype("CTYPE2", &c2, format!("projection {code2} differs from CTYPE1 = '{c1}'")));
    }
    for (key, val, suf) in [("CTYPE1", &c1, &suf1), ("CTYPE2", &c2, &suf2)] {
        if !(suf.is_empty() || suf == "SIP") {
            return Err(bad_ctype(key, val, format!("unsupported distortion {suf}")));
        }
    }

    let pv = |axis: usize, m: usize| opt_f64(h, &format!("PV{axis}_{m}"));
    let is_tpv = code1 == "TPV";
    let proj = match code1.as_str() {
        "TAN" | "TPV" => Projection::Tan,
        "SIN" => Projection::Sin { xi: pv(lat_axis, 1)?.unwrap_or(0.0), eta: pv(lat_axis, 2)?.unwrap_or(0.0) },
        "ARC" => Projection::Arc,
        "ZEA" => Projection::Zea,
        "STG" => Projection::Stg,
        "ZPN" => {
            let mut coeffs = [0.0; 30];
            for (m, c) in coeffs.iter_mut().enumerate() {
                *c = pv(lat_axis, m)?.unwrap_or(0.0);
            }
            let z = Zpn::new(&coeffs).ok_or_else(|| WcsError::BadValue {
                key: format!("PV{lat_axis}_m"),
                value: format!("{coeffs:?}"),
                reason: "invalid ZPN polynomial (all zero, or PV_1 <= 0 with higher terms)".into(),
            })?;
            Projection::Zpn(Box::new(z))
        }
        "CAR" => Projection::Car,
        "MER" => Projection::Mer,
        "CEA" => {
            let lambda = pv(lat_axis, 1)?.unwrap_or(1.0);
            if lambda <= 0.0 || lambda > 1.0 {
                return Err(WcsError::BadValue {
                    key: format!("PV{lat_axis}_1"),
                    value: lambda.to_string(),
                    reason: "CEA λ must be in (0, 1]".into(),
                });
            }
            Projection::Cea { lambda }
        }
        "SFL" | "GLS" => Projection::Sfl,
        "AIT" => Projection::Ait,
        "MOL" => Projection::Mol,
        "HPX" => {
            let hh = pv(lat_axis, 1)?.unwrap_or(4.0);
            let k = pv(lat_axis, 2)?.unwrap_or(3.0);
            if hh <= 0.0 || k <= 0.0 {
                return Err(WcsError::BadValue {
                    key: format!("PV{lat_axis}_1/PV{lat_axis}_2"),
                    value: format!("{hh}/{k}"),
                    reason: "HPX H and K must be positive".into(),
                });
            }
            Projection::Hpx { h: hh, k }
        }
        other => {
            return Err(WcsError::UnsupportedProjection { key: "CTYPE1".into(), value: c1.clone(), code: other.into() })
        }
    };

    let crpix = [f64_or(h, "CRPIX1", 0.0)? - 1.0, f64_or(h, "CRPIX2", 0.0)? - 1.0];
    let crval_ax = [f64_or(h, "CRVAL1", 0.0)?, f64_or(h, "CRVAL2", 0.0)?];
    let crval = [crval_ax[lon_axis - 1], crval_ax[lat_axis - 1]];

    let (m, is_cd) = linear_matrix(h, lat_axis)?;
    if is_tpv && !is_cd {
        // wcslib applies TPV between PC and CDELT, SCAMP (the convention's author) to CD x pixel: only the CD form
        // is unambiguous.
        return Err(bad_ctype("CTYPE1", &c1, "TPV is only supported with a CD matrix (no PCi_j/CDELTi/CROTAi)"));
    }
    let lin = [m[lon_axis - 1], m[lat_axis - 1]];
    let det = lin[0][0] * lin[1][1] - lin[0][1] * lin[1][0];
    if det == 0.0 || !det.is_finite() {
        return Err(WcsError::SingularMatrix(det));
    }
    let lin_inv = [[lin[1][1] / det, -lin[0][1] / det], [-lin[1][0] / det, lin[0][0] / det]];

    // TPV: PV1_k / PV2_k are distortion coefficients of intermediate world axes 1 and 2.
    let tpv = if is_tpv {
        if lon_axis != 1 {
            return Err(bad_ctype("CTYPE1", &c1, "TPV with the latitude on axis 1 is not supported"));
        }
        let mut pv1 = [0.0; N_TERMS];
        let mut pv2 = [0.0; N_TERMS];
        for k in 0..N_TERMS {
            pv1[k] = pv(1, k)?.unwrap_or(0.0);
            pv2[k] = pv(2, k)?.unwrap_or(0.0);
        }
        Some(Box::new(Tpv::new(&pv1, &pv2)))
    } else {
        None
    };
    let lon_pv = |m: usize| if is_tpv { Ok(None) } else { pv(lon_axis, m) };

    // Fiducial point and pole parameters; PVi_1..4 of the longitude axis override the defaults / keywords.
    let (dphi0, dtheta0) = proj.default_fiducial();
    let phi0_kw = lon_pv(1)?;
    let theta0_kw = lon_pv(2)?;
    let phi0 = phi0_kw.unwrap_or(dphi0);
    let theta0 = theta0_kw.unwrap_or(dtheta0);
    if theta0.abs() > 90.0 {
        return Err(WcsError::BadValue {
            key: format!("PV{lon_axis}_2"),
            value: theta0.to_string(),
            reason: "θ0 must be in [-90, 90]".into(),
        });
    }
    let lonpole = match lon_pv(3)? {
        Some(v) => Some(v),
        None => opt_f64(h, "LONPOLE")?,
    };
    let latpole = match lon_pv(4)? {
        Some(v) => Some(v),
        None => opt_f64(h, "LATPOLE")?,
    };
    let pole = native_pole(crval, phi0, theta0, lonpole, latpole).map_err(WcsError::BadRotation)?;
    let r_nc = native_to_celestial(&pole);
    let r_cn = transpose(&r_nc);

    // wcslib shifts the projection so (φ0, θ0) is at the plane origin only when PVi_0 is set and both given.
    let mut offset = [0.0, 0.0];
    if lon_pv(0)?.is_some_and(|v| v != 0.0) && phi0_kw.is_some() && theta0_kw.is_some() {
        let (sp, cp) = phi0.to_radians().sin_cos();
        let (st, ct) = theta0.to_radians().sin_cos();
        let (x0, y0) = proj.native_vec_to_plane(&[ct * cp, ct * sp, st]).ok_or_else(|| WcsError::BadValue {
            key: format!("PV{lon_axis}_1/PV{lon_axis}_2"),
            value: format!("{phi0}/{theta0}"),
            reason: "fiducial point outside the projection".into(),
        })?;
        offset = [x0, y0];
    }

    // Twice the image extent seen from CRPIX (HiPS tiles overhang the image); 1e4 px without NAXISn.
    let extent = |k: usize| {
        let n = h.get_f64(&format!("NAXIS{k}")).unwrap_or(1e4);
        crpix[k - 1].abs().max((n - 1.0 - crpix[k - 1]).abs())
    };
    let sip = sip_from_header(h, 2.0 * extent(1).max(extent(2)) + 100.0)?;
    let (axes, dss) = if super::dss::present(h) {
        (Axes::Equatorial, Some(Box::new(super::dss::Dss::from_header(h)?)))
    } else {
        (axes, None)
    };
    let celestial = celestial::from_header(h, axes)?;
    let maps = [Frame::Equatorial, Frame::Galactic].map(|to| super::HipsMap::new(celestial, to, &r_nc, dss.is_some()));
    Ok(Wcs {
        celestial,
        maps,
        crpix,
        lin,
        lin_inv,
        sip,
        tpv,
        proj,
        offset,
        r_nc,
        r_cn,
        dss,
        crval,
        poles: [pole.phi_p, pole.lat],
    })
}
