//! DSS (Digitized Sky Survey) plate solution: `PLTRAH`..`PLTDECS`, `PPO3`/`PPO6`, `XPIXELSZ`/`YPIXELSZ`,
//! `CNPIX1`/`CNPIX2` and the `AMDXn`/`AMDYn` polynomials, as in wcstools' `platepos.c`.
//!
//! astropy (wcslib) silently prefers this solution to the header's CTYPE/CD WCS whenever the keys are present
//! (wcslib translates it to TAN + TPD, a re-expression of the same polynomial), so we do too.
//!
//! pixel (0-based) -> plate pixel `p = x + CNPIX + 0.5` -> plate millimetres `x = (PPO3 - p XPIXELSZ) / 1000`,
//! `y = (p YPIXELSZ - PPO6) / 1000` -> standard coordinates (ξ, η) in arcsec by the AMDX/AMDY polynomials (terms
//! 1..13; the magnitude/colour terms 14..20 are ignored, as wcstools and wcslib do) -> gnomonic deprojection about
//! the plate centre. The inverse projects gnomonically (no trigonometry, unit vector in) and solves the polynomial
//! pair by Newton iteration in millimetres, starting from the inverse of its linear part.

use super::f64_or;
use super::frame::vec_to_lonlat;
use super::WcsError;
use crate::fits::Header;

/// Number of AMDXn/AMDYn coefficients used (1..=13).
const N_COEFF: usize = 13;

/// A DSS plate solution, ready for repeated use.
#[derive(Debug, Clone)]
pub(crate) struct Dss {
    /// CNPIX1/2 + 0.5: 0-based image pixel -> plate pixel offset.
    cnpix: [f64; 2],
    /// PPO3, PPO6 (microns).
    ppo: [f64; 2],
    /// XPIXELSZ, YPIXELSZ (microns).
    pixsz: [f64; 2],
    /// AMDX1..13 (index 0 = AMDX1), arcsec.
    a: [f64; N_COEFF],
    /// AMDY1..13, arcsec.
    b: [f64; N_COEFF],
    /// Unit vectors towards the plate centre, increasing ξ (east) and increasing η (north) there.
    e_c: [f64; 3],
    e_xi: [f64; 3],
    e_eta: [f64; 3],
    /// Inverse of the linear part [[a1, a2], [b2, b1]] of the polynomials (mm per arcsec).
    lin_inv: [[f64; 2]; 2],
}

/// Whether `h` carries a DSS plate solution (astropy then uses it instead of CTYPE/CD).
pub(crate) fn present(h: &Header) -> bool {
    h.contains("PLTRAH") && h.contains("AMDX1") && h.contains("AMDY1")
}

/// A required numeric key: missing is an error naming the key; present keys are checked by the shared header reader.
fn num(h: &Header, key: &str) -> Result<f64, WcsError> {
    if !h.contains(key) {
        return Err(WcsError::Missing(format!("{key} (DSS plate solution: PLTRAH and AMDX1 are present)")));
    }
    f64_or(h, key, 0.0)
}

/// An optional numeric key (absent polynomial terms are zero).
fn num_or_zero(h: &Header, key: &str) -> Result<f64, WcsError> {
    f64_or(h, key, 0.0)
}

impl Dss {
    /// Read the plate solution. Errors name the missing or unusable key.
    pub(crate) fn from_header(h: &Header) -> Result<Dss, WcsError> {
        let ra_h = num(h, "PLTRAH")? + num(h, "PLTRAM")? / 60.0 + num(h, "PLTRAS")? / 3600.0;
        let dec_abs = num(h, "PLTDECD")? + num(h, "PLTDECM")? / 60.0 + num(h, "PLTDECS")? / 3600.0;
        let sign = match h.get_str("PLTDECSN").as_deref().map(str::trim) {
            Some(s) if s.starts_with('-') => -1.0,
            _ => 1.0,
        };
        let ra0 = (15.0 * ra_h).to_radians();
        let dec0 = (sign * dec_abs).to_radians();
        let mut a = [0.0; N_COEFF];
        let mut b = [0.0; N_COEFF];
        for k in 0..N_COEFF {
            a[k] = num_or_zero(h, &format!("AMDX{}", k + 1))?;
            b[k] = num_or_zero(h, &format!("AMDY{}", k + 1))?;
        }
        let det = a[0] * b[0] - a[1] * b[1];
        if det == 0.0 || !det.is_finite() {
            return Err(WcsError::BadValue {
                key: "AMDX1/AMDX2/AMDY1/AMDY2".into(),
                value: format!("{}/{}/{}/{}", a[0], a[1], b[0], b[1]),
                reason: "singular linear part of the DSS plate solution".into(),
            });
        }
        let pixsz = [num(h, "XPIXELSZ")?, num(h, "YPIXELSZ")?];
        for (key, v) in [("XPIXELSZ", pixsz[0]), ("YPIXELSZ", pixsz[1])] {
            if v == 0.0 {
                return Err(WcsError::BadValue { key: key.into(), value: v.to_string(), reason: "zero".into() });
            }
        }
        let (sr, cr) = ra0.sin_cos();
        let (sd, cd) = dec0.sin_cos();
        Ok(Dss {
            cnpix: [num(h, "CNPIX1")? + 0.5, num(h, "CNPIX2")? + 0.5],
            ppo: [num(h, "PPO3")?, num(h, "PPO6")?],
            pixsz,
            a,
            b,
            e_c: [cd * cr, cd * sr, sd],
            e_xi: [-sr, cr, 0.0],
            e_eta: [-sd * cr, -sd * sr, cd],
            lin_inv: [[b[0] / det, -a[1] / det], [-b[1] / det, a[0] / det]],
        })
    }

    /// 0-based image pixel -> plate millimetres.
    #[inline]
    fn pix_to_mm(&self, x: f64, y: f64) -> (f64, f64) {
        let px = x + self.cnpix[0];
        let py = y + self.cnpix[1];
        ((self.ppo[0] - px * self.pixsz[0]) / 1000.0, (py * self.pixsz[1] - self.ppo[1]) / 1000.0)
    }

    /// Plate millimetres -> 0-based image pixel.
    #[inline]
    fn mm_to_pix(&self, xm: f64, ym: f64) -> (f64, f64) {
        (
            (self.ppo[0] - 1000.0 * xm) / self.pixsz[0] - self.cnpix[0],
            (1000.0 * ym + self.ppo[1]) / self.pixsz[1] - self.cnpix[1],
        )
    }

    /// Plate millimetres -> standard coordinates (ξ, η) in arcsec: η is ξ with the coefficients `b` and the roles
    /// of x and y exchanged (the AMD polynomials are symmetric).
    #[inline]
    fn poly(&self, x: f64, y: f64) -> (f64, f64) {
        (amd(&self.a, x, y), amd(&self.b, y, x))
    }

    /// Jacobian [[∂ξ/∂x, ∂ξ/∂y], [∂η/∂x, ∂η/∂y]] of [`Dss::poly`].
    #[inline]
    fn jacobian(&self, x: f64, y: f64) -> [[f64; 2]; 2] {
        // eta is xi with the coefficients b and the roles of x and y exchanged (the AMD polynomials are symmetric).
        let (a, b) = (&self.a, &self.b);
        let (xi_x, xi_y) = (amd_d_own(a, x, y), amd_d_other(a, x, y));
        let (eta_y, eta_x) = (amd_d_own(b, y, x), amd_d_other(b, y, x));
        [[xi_x, xi_y], [eta_x, eta_y]]
    }

    /// 0-based pixel -> (RA, Dec) radians, RA in `[0, 2π)`.
    #[inline]
    pub(crate) fn pix_to_world_rad(&self, x: f64, y: f64) -> (f64, f64) {
        let (xm, ym) = self.pix_to_mm(x, y);
        let (xi, eta) = self.poly(xm, ym);
        let (xi, eta) = ((xi / 3600.0).to_radians(), (eta / 3600.0).to_radians());
        // Gnomonic deprojection: the direction e_c + ξ e_ξ + η e_η (normalisation is irrelevant).
        let v: [f64; 3] = std::array::from_fn(|k| self.e_c[k] + xi * self.e_xi[k] + eta * self.e_eta[k]);
        vec_to_lonlat(&v)
    }

    /// Celestial unit vector -> 0-based pixel; `None` on the far hemisphere of the plate centre or if the Newton
    /// iteration does not converge.
    pub(crate) fn world_vec_to_pix(&self, v: &[f64; 3]) -> Option<(f64, f64)> {
        let dot = |e: &[f64; 3]| e[0] * v[0] + e[1] * v[1] + e[2] * v[2];
        let c = dot(&self.e_c);
        if c <= 0.0 {
            return None;
        }
        let to_arcsec = 3600.0f64.to_degrees();
        let xi = dot(&self.e_xi) / c * to_arcsec;
        let eta = dot(&self.e_eta) / c * to_arcsec;
        // Start from the inverse of the linear part, then Newton on the full polynomials (millimetres).
        let (r1, r2) = (xi - self.a[2], eta - self.b[2]);
        let m = &self.lin_inv;
        let (mut x, mut y) = (m[0][0] * r1 + m[0][1] * r2, m[1][0] * r1 + m[1][1] * r2);
        for _ in 0..30 {
            let (f, g) = self.poly(x, y);
            let j = self.jacobian(x, y);
            let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
            if det == 0.0 || !det.is_finite() {
                return None;
            }
            let (df, dg) = (f - xi, g - eta);
            let dx = (j[1][1] * df - j[0][1] * dg) / det;
            let dy = (j[0][0] * dg - j[1][0] * df) / det;
            x -= dx;
            y -= dy;
            // 1e-12 mm is ~1e-10 px; convergence is quadratic, so the remaining error is far smaller.
            if dx.abs() + dy.abs() < 1e-12 * (1.0 + x.abs() + y.abs()) {
                return Some(self.mm_to_pix(x, y));
            }
        }
        // Stagnated at rounding level: accept if the residual is negligible (1e-9 arcsec ~ 1e-11 mm).
        let (f, g) = self.poly(x, y);
        ((f - xi).abs() + (g - eta).abs() < 1e-9).then(|| self.mm_to_pix(x, y))
    }
}

/// One AMD plate polynomial (arcsec) at plate millimetres (`u`, `v`): `u` is the coordinate the polynomial is "own"
/// to (x for ξ, y for η).
#[inline]
fn amd(c: &[f64; N_COEFF], u: f64, v: f64) -> f64 {
    let (u2, v2, uv) = (u * u, v * v, u * v);
    let r2 = u2 + v2;
    c[0] * u
        + c[1] * v
        + c[2]
        + c[3] * u2
        + c[4] * uv
        + c[5] * v2
        + c[6] * r2
        + c[7] * u2 * u
        + c[8] * u2 * v
        + c[9] * u * v2
        + c[10] * v2 * v
        + c[11] * u * r2
        + c[12] * u * r2 * r2
}

/// d/du of the 13-term plate polynomial in (u, v) (u = x for xi, y for eta), as the DSS plate solution defines it.
fn amd_d_own(c: &[f64; N_COEFF], u: f64, v: f64) -> f64 {
    let (u2, v2, uv) = (u * u, v * v, u * v);
    let r2 = u2 + v2;
    c[0] + 2.0 * c[3] * u
        + c[4] * v
        + 2.0 * c[6] * u
        + 3.0 * c[7] * u2
        + 2.0 * c[8] * uv
        + c[9] * v2
        + c[11] * (r2 + 2.0 * u2)
        + c[12] * (r2 * r2 + 4.0 * u2 * r2)
}

/// d/dv of the same polynomial.
fn amd_d_other(c: &[f64; N_COEFF], u: f64, v: f64) -> f64 {
    let (u2, v2, uv) = (u * u, v * v, u * v);
    let r2 = u2 + v2;
    c[1] + c[4] * u
        + 2.0 * c[5] * v
        + 2.0 * c[6] * v
        + c[8] * u2
        + 2.0 * c[9] * uv
        + 3.0 * c[10] * v2
        + c[11] * 2.0 * uv
        + c[12] * 4.0 * uv * r2
}
