//! SIP distortion (Shupe et al. 2005): polynomials in pixel offsets from CRPIX, applied before the linear matrix.
//!
//! Forward: `(u, v) -> (u + A(u, v), v + B(u, v))`. The inverse starts from the AP/BP polynomials when the header
//! has them (otherwise from the undistorted point) and is refined by Newton iteration on the forward polynomials,
//! so it inverts the forward transformation to ~1e-10 px whatever the quality of AP/BP.

/// A 2-D polynomial Σ c_pq u^p v^q with p + q <= order.
#[derive(Debug, Clone)]
pub(crate) struct Poly {
    order: usize,
    /// Row-major `(order + 1) x (order + 1)`: `c[p * (order + 1) + q]`.
    c: Vec<f64>,
}

impl Poly {
    /// Build from a coefficient lookup `get(p, q)` (missing coefficients are zero).
    pub(crate) fn new(order: usize, mut get: impl FnMut(usize, usize) -> Option<f64>) -> Poly {
        let n = order + 1;
        let mut c = vec![0.0; n * n];
        for p in 0..=order {
            for q in 0..=order - p {
                c[p * n + q] = get(p, q).unwrap_or(0.0);
            }
        }
        Poly { order, c }
    }

    /// Value at (u, v).
    #[inline]
    pub(crate) fn eval(&self, u: f64, v: f64) -> f64 {
        let n = self.order + 1;
        let mut f = 0.0;
        for p in (0..n).rev() {
            let row = &self.c[p * n..p * n + (n - p)];
            let r = row.iter().rev().fold(0.0, |acc, &c| acc * v + c);
            f = f * u + r;
        }
        f
    }

    /// Value and partial derivatives (f, ∂f/∂u, ∂f/∂v) at (u, v).
    #[inline]
    pub(crate) fn eval_grad(&self, u: f64, v: f64) -> (f64, f64, f64) {
        let n = self.order + 1;
        let (mut f, mut fu, mut fv) = (0.0, 0.0, 0.0);
        for p in (0..n).rev() {
            let row = &self.c[p * n..p * n + (n - p)];
            let (mut r, mut dr) = (0.0, 0.0);
            for &c in row.iter().rev() {
                dr = dr * v + r;
                r = r * v + c;
            }
            fu = fu * u + f;
            f = f * u + r;
            fv = fv * u + dr;
        }
        (f, fu, fv)
    }
}

/// SIP polynomials in pixel offsets from CRPIX.
#[derive(Debug, Clone)]
pub(crate) struct Sip {
    pub(crate) a: Poly,
    pub(crate) b: Poly,
    /// AP/BP inverse polynomials, when the header has them.
    pub(crate) ap_bp: Option<(Poly, Poly)>,
}

/// Newton stops when the step is below this (pixels); the error left is then far below it.
const STEP_TOL: f64 = 1e-10;
const MAX_ITER: usize = 30;

impl Sip {
    /// Distorted offsets `(u + A(u, v), v + B(u, v))`.
    #[inline]
    pub(crate) fn forward(&self, u: f64, v: f64) -> (f64, f64) {
        (u + self.a.eval(u, v), v + self.b.eval(u, v))
    }

    /// Invert [`Sip::forward`]: AP/BP first guess when present, refined by Newton iteration.
    /// `None` if the iteration diverges (far outside the region where the polynomials are meaningful).
    #[inline]
    pub(crate) fn inverse(&self, uu: f64, vv: f64) -> Option<(f64, f64)> {
        let (mut u, mut v) = match &self.ap_bp {
            Some((ap, bp)) => (uu + ap.eval(uu, vv), vv + bp.eval(uu, vv)),
            None => (uu, vv),
        };
        for _ in 0..MAX_ITER {
            let (f, fu, fv) = self.a.eval_grad(u, v);
            let (g, gu, gv) = self.b.eval_grad(u, v);
            let ru = u + f - uu;
            let rv = v + g - vv;
            let (j00, j01, j10, j11) = (1.0 + fu, fv, gu, 1.0 + gv);
            let det = j00 * j11 - j01 * j10;
            if det == 0.0 || !det.is_finite() {
                return None;
            }
            let du = (j11 * ru - j01 * rv) / det;
            let dv = (j00 * rv - j10 * ru) / det;
            u -= du;
            v -= dv;
            if du.abs() < STEP_TOL && dv.abs() < STEP_TOL {
                return Some((u, v));
            }
            if !(u.is_finite() && v.is_finite()) {
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grad_matches_finite_difference_and_inverse_round_trips() {
        let a = Poly::new(3, |p, q| Some(1e-6 * (p as f64 + 1.0) - 2e-7 * q as f64));
        let b = Poly::new(3, |p, q| Some(-3e-7 * (p as f64) + 5e-7 * (q as f64 + 0.5)));
        let (u, v) = (123.4, -456.7);
        let (f, fu, fv) = a.eval_grad(u, v);
        assert!((f - a.eval(u, v)).abs() < 1e-12);
        let h = 1e-3;
        assert!((fu - (a.eval(u + h, v) - a.eval(u - h, v)) / (2.0 * h)).abs() < 1e-8);
        assert!((fv - (a.eval(u, v + h) - a.eval(u, v - h)) / (2.0 * h)).abs() < 1e-8);
        let sip = Sip { a, b, ap_bp: None };
        let (du, dv) = sip.forward(u, v);
        let (iu, iv) = sip.inverse(du, dv).expect("converges");
        assert!((iu - u).abs() < 1e-9 && (iv - v).abs() < 1e-9);
    }
}
