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

    /// Value at (u, v) (Horner; the hot path uses [`PolyPair`]).
    #[cfg(test)]
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

    /// Value and partial derivatives (f, ∂f/∂u, ∂f/∂v) at (u, v) (Horner, the reference for [`PolyPair`]).
    #[cfg(test)]
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

/// One non-zero monomial shared by a pair of polynomials: `ca u^p v^q` and `cb u^p v^q`.
#[derive(Debug, Clone, Copy)]
struct Term {
    p: usize,
    q: usize,
    ca: f64,
    cb: f64,
}

/// A pair of polynomials (A and B, or AP and BP) as a list of non-zero monomials, evaluated together from one
/// table of powers of u and v (the hot path of the inverse).
#[derive(Debug, Clone)]
pub(crate) struct PolyPair {
    order: usize,
    terms: Vec<Term>,
}

/// Highest SIP order accepted (the header parser rejects more; real headers stay well below).
pub(crate) const MAX_ORDER: usize = 9;

impl PolyPair {
    pub(crate) fn new(a: &Poly, b: &Poly) -> PolyPair {
        let order = a.order.max(b.order).min(MAX_ORDER);
        let get = |poly: &Poly, p: usize, q: usize| {
            if p + q <= poly.order {
                poly.c[p * (poly.order + 1) + q]
            } else {
                0.0
            }
        };
        let mut terms = Vec::new();
        for p in 0..=order {
            for q in 0..=order - p {
                let (ca, cb) = (get(a, p, q), get(b, p, q));
                if ca != 0.0 || cb != 0.0 {
                    terms.push(Term { p, q, ca, cb });
                }
            }
        }
        PolyPair { order, terms }
    }

    #[inline(always)]
    fn powers(&self, u: f64, v: f64) -> ([f64; MAX_ORDER + 1], [f64; MAX_ORDER + 1]) {
        let mut up = [0.0; MAX_ORDER + 1];
        let mut vp = [0.0; MAX_ORDER + 1];
        up[0] = 1.0;
        vp[0] = 1.0;
        for i in 1..=self.order.min(MAX_ORDER) {
            up[i] = up[i - 1] * u;
            vp[i] = vp[i - 1] * v;
        }
        (up, vp)
    }

    /// Upper bound of Σ |second partial derivatives| of A and B over the square |u|, |v| <= r.
    fn second_derivative_bound(&self, r: f64) -> f64 {
        let mut h = 0.0;
        for t in &self.terms {
            let (p, q) = (t.p as f64, t.q as f64);
            let k = p * (p - 1.0) + 2.0 * p * q + q * (q - 1.0);
            if k > 0.0 {
                h += (t.ca.abs() + t.cb.abs()) * k * r.powi((t.p + t.q) as i32 - 2);
            }
        }
        h
    }

    /// (A(u, v), B(u, v)).
    #[inline]
    pub(crate) fn eval(&self, u: f64, v: f64) -> (f64, f64) {
        let (up, vp) = self.powers(u, v);
        let (mut f, mut g) = (0.0, 0.0);
        for t in &self.terms {
            let m = up[t.p] * vp[t.q];
            f += t.ca * m;
            g += t.cb * m;
        }
        (f, g)
    }

    /// (A, ∂A/∂u, ∂A/∂v, B, ∂B/∂u, ∂B/∂v) at (u, v).
    #[inline]
    pub(crate) fn eval_grad(&self, u: f64, v: f64) -> [f64; 6] {
        let (up, vp) = self.powers(u, v);
        let mut r = [0.0; 6];
        for t in &self.terms {
            let m = up[t.p] * vp[t.q];
            r[0] += t.ca * m;
            r[3] += t.cb * m;
            if t.p > 0 {
                let mu = t.p as f64 * up[t.p - 1] * vp[t.q];
                r[1] += t.ca * mu;
                r[4] += t.cb * mu;
            }
            if t.q > 0 {
                let mv = t.q as f64 * up[t.p] * vp[t.q - 1];
                r[2] += t.ca * mv;
                r[5] += t.cb * mv;
            }
        }
        r
    }
}

/// SIP polynomials in pixel offsets from CRPIX.
#[derive(Debug, Clone)]
pub(crate) struct Sip {
    ab: PolyPair,
    /// AP/BP inverse polynomials, when the header has them.
    ap_bp: Option<PolyPair>,
    /// Half-width (pixels) of the square around CRPIX where `fast_tol` is proven sufficient.
    domain: f64,
    /// Newton step below which the remaining error is < `TARGET_ERR` inside `domain`.
    fast_tol: f64,
}

/// Error left by the inverse (pixels). Newton converges quadratically: after a step `d` the error is at most about
/// `H d² / 2`, `H` bounding the second derivatives of A and B; `fast_tol = sqrt(2 TARGET_ERR / H)` therefore
/// guarantees `TARGET_ERR` and usually saves an iteration (one Newton step after good AP/BP).
const TARGET_ERR: f64 = 1e-10;
/// Step tolerance outside `domain`, where no curvature bound is known.
const STRICT_TOL: f64 = 1e-10;
const MAX_ITER: usize = 30;

impl Sip {
    /// From A/B and optional AP/BP polynomials. `domain` is the half-width (pixels, around CRPIX) of the region
    /// where fast convergence is certified: typically twice the image extent.
    pub(crate) fn new(a: &Poly, b: &Poly, ap_bp: Option<(&Poly, &Poly)>, domain: f64) -> Sip {
        let ab = PolyPair::new(a, b);
        let h = ab.second_derivative_bound(domain);
        let fast_tol = if h > 0.0 { (2.0 * TARGET_ERR / h).sqrt().clamp(STRICT_TOL, 1e-2) } else { 1e-2 };
        Sip { ab, ap_bp: ap_bp.map(|(ap, bp)| PolyPair::new(ap, bp)), domain, fast_tol }
    }

    /// Distorted offsets `(u + A(u, v), v + B(u, v))`.
    #[inline]
    pub(crate) fn forward(&self, u: f64, v: f64) -> (f64, f64) {
        let (f, g) = self.ab.eval(u, v);
        (u + f, v + g)
    }

    /// Invert [`Sip::forward`]: AP/BP first guess when present, refined by Newton iteration on A/B.
    /// `None` if the iteration diverges (far outside the region where the polynomials are meaningful).
    #[inline]
    pub(crate) fn inverse(&self, uu: f64, vv: f64) -> Option<(f64, f64)> {
        let (mut u, mut v) = match &self.ap_bp {
            Some(apbp) => {
                let (f, g) = apbp.eval(uu, vv);
                (uu + f, vv + g)
            }
            None => (uu, vv),
        };
        let tol = if uu.abs() < self.domain && vv.abs() < self.domain && u.abs() < self.domain && v.abs() < self.domain
        {
            self.fast_tol
        } else {
            STRICT_TOL
        };
        for _ in 0..MAX_ITER {
            let [f, fu, fv, g, gu, gv] = self.ab.eval_grad(u, v);
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
            if du.abs() < tol && dv.abs() < tol {
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
        let pair = PolyPair::new(&a, &b);
        let [pf, pfu, pfv, ..] = pair.eval_grad(u, v);
        assert!((pf - f).abs() < 1e-12 && (pfu - fu).abs() < 1e-15 && (pfv - fv).abs() < 1e-15);
        let sip = Sip::new(&a, &b, None, 1000.0);
        let (du, dv) = sip.forward(u, v);
        let (iu, iv) = sip.inverse(du, dv).expect("converges");
        assert!((iu - u).abs() < 1e-9 && (iv - v).abs() < 1e-9);
    }
}
