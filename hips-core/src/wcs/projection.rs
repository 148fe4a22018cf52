//! Spherical projections of paper II: projection plane (x, y) degrees <-> native spherical coordinates.
//!
//! Native directions are carried as (not necessarily unit) vectors `(cos θ cos φ, cos θ sin φ, sin θ)`, so the
//! zenithal projections need no trigonometry in either direction (TAN world -> plane is two divisions).
//! Validity rules follow wcslib (what astropy uses): TAN/SIN reject the far hemisphere, all-sky projections
//! reject plane points outside their boundary, native coordinates are bounds-checked to |φ| <= 180, |θ| <= 90.

use std::f64::consts::{FRAC_PI_2, PI, SQRT_2};

/// Degrees per radian: the projection-plane scale `r0` of paper II.
const R0: f64 = 180.0 / PI;
/// Tolerance of the native-coordinate bounds check (wcslib's prjbchk).
const BOUNDS_TOL: f64 = 1e-13;

/// A supported projection and its parameters (PVi_m of the latitude axis).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Projection {
    /// Gnomonic (zenithal).
    Tan,
    /// Orthographic / synthesis (zenithal) with slant parameters ξ = PV2_1, η = PV2_2.
    Sin {
        /// ξ (PV2_1).
        xi: f64,
        /// η (PV2_2).
        eta: f64,
    },
    /// Zenithal equidistant.
    Arc,
    /// Zenithal equal-area.
    Zea,
    /// Stereographic.
    Stg,
    /// Zenithal polynomial: R(ζ) = r0 Σ PV2_m ζ^m, ζ the native colatitude in radians.
    Zpn(Box<Zpn>),
    /// Plate carrée.
    Car,
    /// Mercator.
    Mer,
    /// Cylindrical equal area with λ = PV2_1 (default 1).
    Cea {
        /// λ (PV2_1).
        lambda: f64,
    },
    /// Sanson-Flamsteed.
    Sfl,
    /// Hammer-Aitoff.
    Ait,
    /// Mollweide.
    Mol,
    /// HEALPix with H = PV2_1 (default 4) facets in longitude and K = PV2_2 (default 3) in latitude.
    Hpx {
        /// H (PV2_1).
        h: f64,
        /// K (PV2_2).
        k: f64,
    },
}

/// ZPN coefficients and the limit of the monotonic part of R(ζ).
#[derive(Debug, Clone, PartialEq)]
pub struct Zpn {
    /// Coefficients PV2_0 .. PV2_n (highest non-zero last).
    coeffs: Vec<f64>,
    /// Colatitude (radians) of the first turning point of R, or π.
    zeta_max: f64,
    /// R(zeta_max) / r0.
    r_max: f64,
}

impl Zpn {
    /// Build from PV2_0..PV2_29; `None` when all are zero or the polynomial starts decreasing.
    pub(crate) fn new(pv: &[f64]) -> Option<Zpn> {
        let n = pv.iter().rposition(|&c| c != 0.0)?;
        let coeffs = pv[..=n].to_vec();
        let mut z = Zpn { coeffs, zeta_max: PI, r_max: 0.0 };
        if n >= 2 {
            if z.coeffs[1] <= 0.0 {
                return None;
            }
            // First zero of dR/dζ in (0, π], bracketed on a 1-degree grid then bisected.
            let mut lo = 0.0;
            let mut found = None;
            for j in 1..=180 {
                let zd = f64::from(j).to_radians();
                if z.deriv(zd) <= 0.0 {
                    found = Some((lo, zd));
                    break;
                }
                lo = zd;
            }
            if let Some((mut a, mut b)) = found {
                for _ in 0..200 {
                    let m = 0.5 * (a + b);
                    if z.deriv(m) > 0.0 {
                        a = m;
                    } else {
                        b = m;
                    }
                }
                z.zeta_max = 0.5 * (a + b);
            }
        }
        z.r_max = z.eval(z.zeta_max);
        Some(z)
    }

    fn eval(&self, zeta: f64) -> f64 {
        self.coeffs.iter().rev().fold(0.0, |acc, &c| acc * zeta + c)
    }

    fn deriv(&self, zeta: f64) -> f64 {
        let mut d = 0.0;
        for (m, &c) in self.coeffs.iter().enumerate().skip(1).rev() {
            d = d * zeta + m as f64 * c;
        }
        d
    }

    /// Colatitude (radians) with R(ζ)/r0 = r, on the monotonic branch.
    fn solve(&self, r: f64) -> Option<f64> {
        let tol = 1e-13;
        let n = self.coeffs.len() - 1;
        if n == 1 {
            return Some((r - self.coeffs[0]) / self.coeffs[1]);
        }
        let r0 = self.coeffs[0];
        if r < r0 {
            return if r < r0 - tol { None } else { Some(0.0) };
        }
        if r > self.r_max {
            return if r > self.r_max + tol { None } else { Some(self.zeta_max) };
        }
        // Safeguarded Newton on the monotonic interval [0, zeta_max].
        let (mut a, mut b) = (0.0, self.zeta_max);
        let mut z = (r - r0) / self.coeffs[1];
        if !(a..=b).contains(&z) {
            z = 0.5 * (a + b);
        }
        for _ in 0..100 {
            let f = self.eval(z) - r;
            if f < 0.0 {
                a = z;
            } else {
                b = z;
            }
            let d = self.deriv(z);
            let mut next = if d > 0.0 { z - f / d } else { f64::NAN };
            if !(next > a && next < b) {
                next = 0.5 * (a + b);
            }
            if (next - z).abs() < 1e-15 || b - a < 1e-15 {
                return Some(next);
            }
            z = next;
        }
        Some(z)
    }
}

impl Projection {
    /// The three-letter FITS code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Projection::Tan => "TAN",
            Projection::Sin { .. } => "SIN",
            Projection::Arc => "ARC",
            Projection::Zea => "ZEA",
            Projection::Stg => "STG",
            Projection::Zpn(_) => "ZPN",
            Projection::Car => "CAR",
            Projection::Mer => "MER",
            Projection::Cea { .. } => "CEA",
            Projection::Sfl => "SFL",
            Projection::Ait => "AIT",
            Projection::Mol => "MOL",
            Projection::Hpx { .. } => "HPX",
        }
    }

    /// Default native coordinates (φ0, θ0) of the fiducial point, degrees: (0, 90) zenithal, (0, 0) otherwise.
    #[must_use]
    pub fn default_fiducial(&self) -> (f64, f64) {
        if self.is_zenithal() {
            (0.0, 90.0)
        } else {
            (0.0, 0.0)
        }
    }

    /// Whether the projection is zenithal (θ0 = 90 by default).
    #[must_use]
    pub fn is_zenithal(&self) -> bool {
        matches!(
            self,
            Projection::Tan
                | Projection::Sin { .. }
                | Projection::Arc
                | Projection::Zea
                | Projection::Stg
                | Projection::Zpn(_)
        )
    }

    /// Projection plane (degrees) -> native direction vector (any positive length), `None` outside the valid region.
    pub(crate) fn plane_to_native_vec(&self, x: f64, y: f64) -> Option<[f64; 3]> {
        match self {
            Projection::Tan => Some([-y, x, R0]),
            Projection::Sin { xi, eta } => sin_x2s(x, y, *xi, *eta),
            Projection::Arc | Projection::Zea | Projection::Stg | Projection::Zpn(_) => {
                let r = x.hypot(y);
                if r == 0.0 {
                    return match self {
                        Projection::Zpn(z) if z.coeffs[0] > 0.0 => None,
                        _ => Some([0.0, 0.0, 1.0]),
                    };
                }
                // Native colatitude ζ (radians) from R.
                let zeta = match self {
                    Projection::Arc => r / R0,
                    Projection::Zea => {
                        let s = r / (2.0 * R0);
                        if s > 1.0 + BOUNDS_TOL {
                            return None;
                        }
                        2.0 * s.min(1.0).asin()
                    }
                    Projection::Stg => 2.0 * (r / (2.0 * R0)).atan(),
                    Projection::Zpn(z) => z.solve(r / R0)?,
                    _ => return None,
                };
                if zeta > PI + BOUNDS_TOL.to_radians() {
                    return None;
                }
                let (sz, cz) = zeta.sin_cos();
                Some([sz * (-y / r), sz * (x / r), cz])
            }
            _ => {
                let (phi, theta) = self.cyl_x2s(x, y)?;
                if phi.abs() > 180.0 + BOUNDS_TOL || theta.abs() > 90.0 + BOUNDS_TOL {
                    return None;
                }
                let (sp, cp) = phi.to_radians().sin_cos();
                let (st, ct) = theta.clamp(-90.0, 90.0).to_radians().sin_cos();
                Some([ct * cp, ct * sp, st])
            }
        }
    }

    /// Native unit vector -> projection plane (degrees), `None` outside the valid domain.
    #[inline]
    pub(crate) fn native_vec_to_plane(&self, n: &[f64; 3]) -> Option<(f64, f64)> {
        match self {
            Projection::Tan => {
                if n[2] <= 0.0 {
                    return None;
                }
                let s = R0 / n[2];
                Some((s * n[1], -s * n[0]))
            }
            Projection::Sin { xi, eta } => {
                if *xi == 0.0 && *eta == 0.0 {
                    if n[2] < 0.0 {
                        return None;
                    }
                    return Some((R0 * n[1], -R0 * n[0]));
                }
                // Bounds: θ >= -atan(ξ sin φ - η cos φ).
                if n[2] + xi * n[1] - eta * n[0] < 0.0 {
                    return None;
                }
                let rho2 = n[0] * n[0] + n[1] * n[1];
                let z = if n[2] > 0.0 { rho2 / (1.0 + n[2]) } else { 1.0 - n[2] };
                Some((R0 * (n[1] + xi * z), -R0 * (n[0] - eta * z)))
            }
            Projection::Stg => {
                let d = 1.0 + n[2];
                if d <= 0.0 {
                    return None;
                }
                let s = 2.0 * R0 / d;
                Some((s * n[1], -s * n[0]))
            }
            Projection::Zea => {
                let d = 1.0 + n[2];
                if d <= 0.0 {
                    return None;
                }
                let s = R0 * (2.0 / d).sqrt();
                Some((s * n[1], -s * n[0]))
            }
            Projection::Arc | Projection::Zpn(_) => {
                let rho = n[0].hypot(n[1]);
                let zeta = rho.atan2(n[2]);
                let r = match self {
                    Projection::Zpn(z) => {
                        if zeta > z.zeta_max {
                            return None;
                        }
                        R0 * z.eval(zeta)
                    }
                    _ => R0 * zeta,
                };
                if rho == 0.0 {
                    // At the native pole φ is undefined; wcslib uses φ = 0.
                    return Some((0.0, -r));
                }
                let s = r / rho;
                Some((s * n[1], -s * n[0]))
            }
            _ => {
                let phi = n[1].atan2(n[0]).to_degrees();
                let theta = n[2].atan2(n[0].hypot(n[1])).to_degrees();
                self.cyl_s2x(phi, theta, n)
            }
        }
    }

    /// Non-zenithal plane -> (φ, θ) degrees.
    fn cyl_x2s(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        match self {
            Projection::Car => Some((x, y)),
            Projection::Mer => Some((x, 2.0 * (y / R0).exp().atan().to_degrees() - 90.0)),
            Projection::Cea { lambda } => {
                let s = lambda * y / R0;
                if s.abs() > 1.0 + BOUNDS_TOL {
                    return None;
                }
                Some((x, s.clamp(-1.0, 1.0).asin().to_degrees()))
            }
            Projection::Sfl => {
                let c = y.to_radians().cos();
                if c == 0.0 {
                    return if x == 0.0 { Some((0.0, y)) } else { None };
                }
                Some((x / c, y))
            }
            Projection::Ait => {
                let u = 1.0 - (x / (4.0 * R0)).powi(2) - (y / (2.0 * R0)).powi(2);
                if u < -BOUNDS_TOL {
                    return None;
                }
                let z = u.max(0.0).sqrt();
                let s = z * y / R0;
                if s.abs() > 1.0 + BOUNDS_TOL {
                    return None;
                }
                let theta = s.clamp(-1.0, 1.0).asin().to_degrees();
                let a = z * x / (2.0 * R0);
                let b = 2.0 * z * z - 1.0;
                let phi = if a == 0.0 && b == 0.0 { 0.0 } else { 2.0 * a.atan2(b).to_degrees() };
                Some((phi, theta))
            }
            Projection::Mol => {
                let s = y / (SQRT_2 * R0);
                if s.abs() > 1.0 + BOUNDS_TOL {
                    return None;
                }
                let s = s.clamp(-1.0, 1.0);
                let c = (1.0 - s * s).sqrt();
                let phi = if c == 0.0 {
                    if x.abs() > BOUNDS_TOL {
                        return None;
                    }
                    0.0
                } else {
                    90.0 * x / (SQRT_2 * R0 * c)
                };
                let z = (2.0 * s.asin() + 2.0 * s * c) / PI;
                if z.abs() > 1.0 + BOUNDS_TOL {
                    return None;
                }
                Some((phi, z.clamp(-1.0, 1.0).asin().to_degrees()))
            }
            Projection::Hpx { h, k } => hpx_x2s(x, y, *h, *k),
            _ => None,
        }
    }

    /// Non-zenithal (φ, θ) degrees (and the native vector they came from) -> plane.
    #[inline]
    fn cyl_s2x(&self, phi: f64, theta: f64, n: &[f64; 3]) -> Option<(f64, f64)> {
        match self {
            Projection::Car => Some((phi, theta)),
            Projection::Mer => {
                if theta <= -90.0 || theta >= 90.0 {
                    return None;
                }
                Some((phi, R0 * ((90.0 + theta) * 0.5).to_radians().tan().ln()))
            }
            Projection::Cea { lambda } => Some((phi, R0 * n[2] / lambda)),
            Projection::Sfl => Some((phi * n[0].hypot(n[1]), theta)),
            Projection::Ait => {
                let ct = n[0].hypot(n[1]);
                let (sh, ch) = (0.5 * phi).to_radians().sin_cos();
                let g = R0 * (2.0 / (1.0 + ct * ch)).sqrt();
                Some((2.0 * g * ct * sh, g * n[2]))
            }
            Projection::Mol => {
                let rho2 = n[0] * n[0] + n[1] * n[1];
                // Solve ε - sin ε = π (1 - |sin θ|) for ε = π - 2|γ|, accurate near the poles.
                let c = PI * rho2 / (1.0 + n[2].abs());
                let eps = mol_eps(c);
                let (se, ce) = (0.5 * eps).sin_cos();
                let x = SQRT_2 * R0 * phi / 90.0 * se;
                let y = SQRT_2 * R0 * ce;
                Some((x, if theta < 0.0 { -y } else { y }))
            }
            Projection::Hpx { h, k } => Some(hpx_s2x(phi, theta, n, *h, *k)),
            _ => None,
        }
    }
}

/// ε in [0, π] with ε - sin ε = c (0 <= c <= π), by Newton from below (the function is convex).
fn mol_eps(c: f64) -> f64 {
    if c <= 0.0 {
        return 0.0;
    }
    if c >= PI {
        return PI;
    }
    let f = |e: f64| {
        if e < 0.1 {
            let e2 = e * e;
            e * e2 / 6.0 * (1.0 - e2 / 20.0 * (1.0 - e2 / 42.0 * (1.0 - e2 / 72.0 * (1.0 - e2 / 110.0))))
        } else {
            e - e.sin()
        }
    };
    let mut e = (6.0 * c).cbrt().min(PI);
    for _ in 0..50 {
        let d = 2.0 * (0.5 * e).sin().powi(2);
        if d == 0.0 {
            break;
        }
        let next = (e - (f(e) - c) / d).clamp(0.0, PI);
        if (next - e).abs() <= 4.0 * f64::EPSILON * e.max(1e-300) {
            e = next;
            break;
        }
        e = next;
    }
    e
}

/// SIN plane -> native vector (orthographic and slant forms, as wcslib).
fn sin_x2s(x: f64, y: f64, xi: f64, eta: f64) -> Option<[f64; 3]> {
    let x0 = x / R0;
    let y0 = y / R0;
    let r2 = x0 * x0 + y0 * y0;
    if xi == 0.0 && eta == 0.0 {
        if r2 > 1.0 {
            return None;
        }
        return Some([-y0, x0, (1.0 - r2).sqrt()]);
    }
    let w1 = xi * xi + eta * eta;
    let xy = x0 * xi + y0 * eta;
    let (sinthe, z) = if r2 < 1e-10 {
        let theta = FRAC_PI_2 - (r2 / (1.0 + xy)).sqrt();
        (theta.sin(), r2 / 2.0)
    } else {
        let a = w1 + 1.0;
        let b = xy - w1;
        let c = r2 - xy - xy + w1 - 1.0;
        let d = b * b - a * c;
        if d < 0.0 {
            return None;
        }
        let d = d.sqrt();
        let s1 = (-b + d) / a;
        let s2 = (-b - d) / a;
        let mut s = s1.max(s2);
        if s > 1.0 {
            s = if s - 1.0 < 1e-13 { 1.0 } else { s1.min(s2) };
        }
        if s < -1.0 && s + 1.0 > -1e-13 {
            s = -1.0;
        }
        if !(-1.0..=1.0).contains(&s) {
            return None;
        }
        (s, 1.0 - s)
    };
    let x1 = -y0 + eta * z;
    let y1 = x0 - xi * z;
    let cost = (1.0 - sinthe * sinthe).max(0.0).sqrt();
    let h = x1.hypot(y1);
    if h == 0.0 {
        return Some([cost, 0.0, sinthe]);
    }
    Some([cost * x1 / h, cost * y1 / h, sinthe])
}

/// HPX plane -> (φ, θ) degrees, following wcslib's conventions (facet layout, bounds).
fn hpx_x2s(x: f64, y: f64, h: f64, k: f64) -> Option<(f64, f64)> {
    let w3 = 90.0 * k / h;
    let w4 = f64::midpoint(k, 1.0);
    let w5 = 90.0 * (k - 1.0) / h;
    let w6 = 180.0 / h;
    let k_odd = (k + 0.5) as i64 % 2 == 1;
    let h_odd = i64::from((h + 0.5) as i64 % 2 == 1);
    let absy = y.abs();
    let (phi, theta) = if absy <= w5 {
        (x, (y / w3).asin().to_degrees())
    } else if absy <= w6 * w4 {
        let mut t = x - (-180.0 + (2.0 * ((x + 180.0) * h / 360.0).floor() + 1.0) * w6);
        let sigma = w4 - absy / w6;
        let (s, mut theta) = if sigma == 0.0 {
            (1e9, 90.0)
        } else {
            let tt = 1.0 - sigma * sigma / k;
            if tt < -1.0 {
                return None;
            }
            (1.0 / sigma, tt.asin().to_degrees())
        };
        if y < 0.0 {
            theta = -theta;
        }
        if !k_odd && y <= 0.0 {
            let hh = (x / w6).floor() as i64 + h_odd;
            if hh % 2 != 0 {
                t -= w6;
            } else {
                t += w6;
            }
        }
        let r = s * t;
        if (w6 + 1e-12) <= r.abs() {
            return None;
        }
        (if r == 0.0 { x } else { x + r - t }, theta)
    } else {
        return None;
    };
    if phi.abs() > 180.0 + 1e-12 || theta.abs() > 90.0 + 1e-12 {
        return None;
    }
    Some((phi.clamp(-180.0, 180.0), theta.clamp(-90.0, 90.0)))
}

/// HPX (φ, θ) degrees -> plane, following wcslib.
fn hpx_s2x(phi: f64, theta: f64, n: &[f64; 3], h: f64, k: f64) -> (f64, f64) {
    let w6 = 180.0 / h;
    let k_odd = (k + 0.5) as i64 % 2 == 1;
    let h_odd = i64::from((h + 0.5) as i64 % 2 == 1);
    let sinthe = n[2] / (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    let abssin = sinthe.abs();
    if abssin <= (k - 1.0) / k {
        return (phi, 90.0 * k / h * sinthe);
    }
    let mut t = phi - (-180.0 + (2.0 * ((phi + 180.0) * h / 360.0).floor() + 1.0) * w6);
    let rho2 = n[0] * n[0] + n[1] * n[1];
    let one_minus = rho2 / (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]) / (1.0 + abssin);
    let sigma = (k * one_minus).sqrt();
    let mut eta = w6 * (f64::midpoint(k, 1.0) - sigma);
    if theta < 0.0 {
        eta = -eta;
    }
    if !k_odd && theta <= 0.0 {
        let hh = (phi / w6).floor() as i64 + h_odd;
        if hh % 2 != 0 {
            t -= w6;
        } else {
            t += w6;
        }
    }
    let mut x = phi + t * (sigma - 1.0);
    if 180.0 < x {
        x = 360.0 - x;
    }
    (x, eta)
}
