//! TPV distortion (the SCAMP/IRAF TAN polynomial, registered with the FITS WCS convention list): polynomials of up
//! to degree 7 in the intermediate world coordinates (x, y) in degrees, including odd powers of r = sqrt(x² + y²).
//!
//! `ξ = Σ PV1_k T_k(x, y)` and `η = Σ PV2_k T_k(y, x)` (the second axis swaps its arguments), with the standard
//! term order 1, x, y, r, x², xy, y², x³, x²y, xy², y³, r³, ... The inverse is Newton iteration on the forward
//! polynomials, starting from the distorted point.

/// (power of the first argument, power of the second, power of r) for each PVi_k, k = 0..39.
const TERMS: [(i32, i32, i32); 40] = [
    (0, 0, 0),
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (2, 0, 0),
    (1, 1, 0),
    (0, 2, 0),
    (3, 0, 0),
    (2, 1, 0),
    (1, 2, 0),
    (0, 3, 0),
    (0, 0, 3),
    (4, 0, 0),
    (3, 1, 0),
    (2, 2, 0),
    (1, 3, 0),
    (0, 4, 0),
    (5, 0, 0),
    (4, 1, 0),
    (3, 2, 0),
    (2, 3, 0),
    (1, 4, 0),
    (0, 5, 0),
    (0, 0, 5),
    (6, 0, 0),
    (5, 1, 0),
    (4, 2, 0),
    (3, 3, 0),
    (2, 4, 0),
    (1, 5, 0),
    (0, 6, 0),
    (7, 0, 0),
    (6, 1, 0),
    (5, 2, 0),
    (4, 3, 0),
    (3, 4, 0),
    (2, 5, 0),
    (1, 6, 0),
    (0, 7, 0),
    (0, 0, 7),
];

/// Number of PVi_k coefficients TPV defines.
pub(crate) const N_TERMS: usize = TERMS.len();

/// One axis polynomial: the non-zero (term, coefficient) pairs.
#[derive(Debug, Clone)]
struct AxisPoly {
    terms: Vec<((i32, i32, i32), f64)>,
}

impl AxisPoly {
    fn new(coeffs: &[f64; N_TERMS]) -> AxisPoly {
        AxisPoly { terms: TERMS.iter().zip(coeffs).filter(|(_, &c)| c != 0.0).map(|(&t, &c)| (t, c)).collect() }
    }

    /// (f, ∂f/∂u, ∂f/∂v) of Σ c u^a v^b r^p, r = hypot(u, v).
    fn eval_grad(&self, u: f64, v: f64) -> (f64, f64, f64) {
        let r = u.hypot(v);
        let (mut f, mut fu, mut fv) = (0.0, 0.0, 0.0);
        for &((a, b, p), c) in &self.terms {
            if p > 0 {
                let rp = r.powi(p);
                f += c * rp;
                if r > 0.0 {
                    let d = c * f64::from(p) * r.powi(p - 2);
                    fu += d * u;
                    fv += d * v;
                }
            } else {
                let ua = u.powi(a);
                let vb = v.powi(b);
                f += c * ua * vb;
                if a > 0 {
                    fu += c * f64::from(a) * u.powi(a - 1) * vb;
                }
                if b > 0 {
                    fv += c * f64::from(b) * ua * v.powi(b - 1);
                }
            }
        }
        (f, fu, fv)
    }

    fn eval(&self, u: f64, v: f64) -> f64 {
        let r = u.hypot(v);
        self.terms.iter().map(|&((a, b, p), c)| if p > 0 { c * r.powi(p) } else { c * u.powi(a) * v.powi(b) }).sum()
    }
}

/// TPV polynomials for the two intermediate world axes.
#[derive(Debug, Clone)]
pub(crate) struct Tpv {
    x: AxisPoly,
    y: AxisPoly,
}

impl Tpv {
    /// From PV1_0..39 and PV2_0..39 (missing coefficients zero).
    pub(crate) fn new(pv1: &[f64; N_TERMS], pv2: &[f64; N_TERMS]) -> Tpv {
        Tpv { x: AxisPoly::new(pv1), y: AxisPoly::new(pv2) }
    }

    /// Intermediate world (x, y) degrees -> distorted (ξ, η) degrees.
    #[inline]
    pub(crate) fn forward(&self, x: f64, y: f64) -> (f64, f64) {
        (self.x.eval(x, y), self.y.eval(y, x))
    }

    /// Invert [`Tpv::forward`] by Newton iteration; `None` if it does not converge.
    pub(crate) fn inverse(&self, xi: f64, eta: f64) -> Option<(f64, f64)> {
        let (mut x, mut y) = (xi, eta);
        for _ in 0..50 {
            let (f, fx, fy) = self.x.eval_grad(x, y);
            let (g, gy, gx) = self.y.eval_grad(y, x);
            let (r1, r2) = (f - xi, g - eta);
            let det = fx * gy - fy * gx;
            if det == 0.0 || !det.is_finite() {
                return None;
            }
            let dx = (gy * r1 - fy * r2) / det;
            let dy = (fx * r2 - gx * r1) / det;
            x -= dx;
            y -= dy;
            if dx.abs() + dy.abs() < 1e-13 * (1.0 + x.abs() + y.abs()) {
                return Some((x, y));
            }
        }
        // Stagnated at rounding level: accept if the residual is negligible.
        let (f, g) = self.forward(x, y);
        ((f - xi).abs() + (g - eta).abs() < 1e-11).then_some((x, y))
    }
}
