//! Transfer functions (linear, log, sqrt, asinh, pow2) from a pixel cut to 8-bit grey levels.
//!
//! The curves are astropy.visualization's (`LinearStretch`, `LogStretch(a=1000)`, `SqrtStretch`,
//! `AsinhStretch(a=0.1)`, `SquaredStretch`) applied to `t = clamp((v - lo) / (hi - lo), 0, 1)`, so astropy is an
//! independent oracle for the tests. A level is `round(255 * f(t))`. Instead of evaluating `f` per pixel, [`LevelMap`]
//! precomputes the 255 data values where the level steps up (through the closed-form inverse of `f`, in f64) and
//! finds a pixel's level by an 8-step branchless binary search: the same exact rounding for every curve and a cost
//! that does not depend on the curve.

use std::fmt;
use std::str::FromStr;

/// astropy's `LogStretch` default `a`.
pub const LOG_A: f64 = 1000.0;
/// astropy's `AsinhStretch` default `a`.
pub const ASINH_A: f64 = 0.1;

/// The transfer function from the cut interval to display levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Stretch {
    /// `t`.
    #[default]
    Linear,
    /// `log(1000 t + 1) / log(1001)`.
    Log,
    /// `sqrt(t)`.
    Sqrt,
    /// `asinh(t / 0.1) / asinh(10)`.
    Asinh,
    /// `t^2`.
    Pow2,
}

/// A stretch name that is not one of linear, log, sqrt, asinh, pow2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stretch {0:?} (expected linear, log, sqrt, asinh or pow2)")]
pub struct UnknownStretch(pub String);

impl FromStr for Stretch {
    type Err = UnknownStretch;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "linear" => Ok(Stretch::Linear),
            "log" => Ok(Stretch::Log),
            "sqrt" => Ok(Stretch::Sqrt),
            "asinh" => Ok(Stretch::Asinh),
            "pow2" | "square" | "squared" => Ok(Stretch::Pow2),
            _ => Err(UnknownStretch(s.to_string())),
        }
    }
}

impl fmt::Display for Stretch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Stretch {
    /// The lowercase name (as in `hips_pixel_func` / the CLI).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stretch::Linear => "linear",
            Stretch::Log => "log",
            Stretch::Sqrt => "sqrt",
            Stretch::Asinh => "asinh",
            Stretch::Pow2 => "pow2",
        }
    }

    /// The curve `f(t)` for `t` in [0, 1].
    #[must_use]
    pub fn apply(self, t: f64) -> f64 {
        match self {
            Stretch::Linear => t,
            Stretch::Log => (LOG_A * t + 1.0).ln() / (LOG_A + 1.0).ln(),
            Stretch::Sqrt => t.max(0.0).sqrt(),
            Stretch::Asinh => (t / ASINH_A).asinh() / (1.0 / ASINH_A).asinh(),
            Stretch::Pow2 => t * t,
        }
    }

    /// The inverse curve: the `t` with `f(t) = y`, for `y` in [0, 1].
    #[must_use]
    pub fn invert(self, y: f64) -> f64 {
        match self {
            Stretch::Linear => y,
            Stretch::Log => ((LOG_A + 1.0).powf(y) - 1.0) / LOG_A,
            Stretch::Sqrt => y * y,
            Stretch::Asinh => ASINH_A * (y * (1.0 / ASINH_A).asinh()).sinh(),
            Stretch::Pow2 => y.max(0.0).sqrt(),
        }
    }
}

/// Number of bins of the level guess table (fine enough that a bin spans about one level even for the log curve).
const GUESS_BINS: usize = 1 << 16;

/// Data value -> 8-bit level for one cut and stretch: `round(255 * f(clamp((v - lo) / (hi - lo), 0, 1)))`.
///
/// NaN maps to 0 (callers treat NaN as blank before asking); +inf to 255, -inf to 0. A cut with `hi <= lo` (or not
/// finite) degenerates to a step at `lo`.
///
/// The exact answer is the number of level steps at or below the value. A per-pixel binary search over the steps
/// mispredicts most of its branches, so [`LevelMap::level`] first guesses the level from a 65,536-bin table indexed
/// by the linear position in the cut, then corrects the guess against the exact steps (rarely more than one move).
#[derive(Debug, Clone)]
pub struct LevelMap {
    /// `steps[k]` (k = 1..=255) is the smallest value shown at level k or above; `steps[0]` is unused.
    steps: [f32; 256],
    /// Level guess per bin of `(v - lo) / (hi - lo)`.
    guess: Vec<u8>,
    lo: f32,
    /// `(GUESS_BINS - 1) / (hi - lo)`, 0 for a degenerate cut.
    bin_scale: f32,
    /// `255 / (hi - lo)` when the stretch is linear and the cut usable: levels are then computed directly.
    linear_scale: Option<f32>,
}

impl LevelMap {
    /// Precompute the level steps of a cut `(lo, hi)` and a stretch.
    #[must_use]
    pub fn new(cut: (f32, f32), stretch: Stretch) -> Self {
        let (lo, hi) = (f64::from(cut.0), f64::from(cut.1));
        let mut steps = [f32::NEG_INFINITY; 256];
        let degenerate = hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) || !lo.is_finite() || !hi.is_finite();
        for (k, s) in steps.iter_mut().enumerate().skip(1) {
            *s = if degenerate {
                lo as f32
            } else {
                let y = (k as f64 - 0.5) / 255.0;
                (lo + (hi - lo) * stretch.invert(y)) as f32
            };
        }
        // Monotone by construction; guard against f32 rounding anyway so the binary search stays valid.
        for k in 2..256 {
            if steps[k] < steps[k - 1] {
                steps[k] = steps[k - 1];
            }
        }
        let linear_scale = (stretch == Stretch::Linear && !degenerate).then_some((255.0 / (hi - lo)) as f32);
        let mut map = LevelMap { steps, guess: Vec::new(), lo: cut.0, bin_scale: 0.0, linear_scale };
        if !degenerate {
            map.bin_scale = ((GUESS_BINS - 1) as f64 / (hi - lo)) as f32;
            // One merge pass over bins and steps (both increasing).
            let mut k = 0usize;
            map.guess = (0..GUESS_BINS)
                .map(|b| {
                    let v = (lo + (hi - lo) * b as f64 / (GUESS_BINS - 1) as f64) as f32;
                    while k < 255 && v >= map.steps[k + 1] {
                        k += 1;
                    }
                    k as u8
                })
                .collect();
        }
        map
    }

    /// A shared map for `(cut, stretch)`: the last one built on this thread is reused (the per-tile encoders are
    /// called millions of times with the same cut).
    #[must_use]
    pub fn cached(cut: (f32, f32), stretch: Stretch) -> std::sync::Arc<LevelMap> {
        type Slot = Option<((u32, u32, Stretch), std::sync::Arc<LevelMap>)>;
        thread_local! {
            static LAST: std::cell::RefCell<Slot> = const { std::cell::RefCell::new(None) };
        }
        let key = (cut.0.to_bits(), cut.1.to_bits(), stretch);
        LAST.with(|slot| {
            let mut slot = slot.borrow_mut();
            match slot.as_ref() {
                Some((k, m)) if *k == key => m.clone(),
                _ => {
                    let m = std::sync::Arc::new(LevelMap::new(cut, stretch));
                    *slot = Some((key, m.clone()));
                    m
                }
            }
        })
    }

    /// The level of one value (NaN gives 0); same result as [`LevelMap::level_exact`].
    #[inline]
    #[must_use]
    pub fn level(&self, v: f32) -> u8 {
        if self.guess.is_empty() || v.is_nan() {
            return self.level_exact(v);
        }
        let pos = ((v - self.lo) * self.bin_scale).clamp(0.0, (GUESS_BINS - 1) as f32);
        let mut k = usize::from(self.guess.get(pos as usize).copied().unwrap_or(0));
        while k < 255 && v >= self.steps[k + 1] {
            k += 1;
        }
        while k > 0 && v < self.steps[k] {
            k -= 1;
        }
        k as u8
    }

    /// The levels of a run of values into `out` (same length; NaN gives 0). For the linear stretch this is
    /// `round(255 (v - lo) / (hi - lo))` in f32 arithmetic (a loop the compiler vectorises; it can differ from
    /// [`LevelMap::level`] by one level exactly at a rounding boundary); otherwise [`LevelMap::level`] per value.
    pub fn levels_into(&self, src: &[f32], out: &mut [u8]) {
        match self.linear_scale {
            Some(s) => {
                let lo = self.lo;
                for (o, &v) in out.iter_mut().zip(src) {
                    // NaN clamps to NaN and casts to 0.
                    *o = ((v - lo) * s + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
            None => {
                for (o, &v) in out.iter_mut().zip(src) {
                    *o = self.level(v);
                }
            }
        }
    }

    /// The level of one value by binary search over the steps (the reference for [`LevelMap::level`]).
    #[inline]
    #[must_use]
    pub fn level_exact(&self, v: f32) -> u8 {
        let mut pos = 0usize;
        for step in [128usize, 64, 32, 16, 8, 4, 2, 1] {
            // `pos + step` <= 255 by construction.
            if v >= self.steps[pos + step] {
                pos += step;
            }
        }
        pos as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_is_inverse() {
        for s in [Stretch::Linear, Stretch::Log, Stretch::Sqrt, Stretch::Asinh, Stretch::Pow2] {
            for i in 0..=20 {
                let t = f64::from(i) / 20.0;
                assert!((s.invert(s.apply(t)) - t).abs() < 1e-9, "{s} at {t}");
            }
            assert!(s.apply(0.0).abs() < 1e-12 && (s.apply(1.0) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn levels_match_direct_rounding() {
        for s in [Stretch::Linear, Stretch::Log, Stretch::Sqrt, Stretch::Asinh, Stretch::Pow2] {
            let m = LevelMap::new((-10.0, 90.0), s);
            for i in -200..=1200 {
                let v = i as f32 * 0.1 - 10.0 + 0.0123;
                let t = ((f64::from(v) + 10.0) / 100.0).clamp(0.0, 1.0);
                let want = (s.apply(t) * 255.0).round() as i32;
                assert!((i32::from(m.level(v)) - want).abs() <= 1, "{s} v={v}");
            }
            assert_eq!(m.level(f32::NAN), 0);
            assert_eq!(m.level(f32::INFINITY), 255);
            assert_eq!(m.level(-1e30), 0);
            assert_eq!(m.level(1e30), 255);
        }
        assert_eq!("Pow2".parse::<Stretch>(), Ok(Stretch::Pow2));
        assert!("cubic".parse::<Stretch>().is_err());
    }

    #[test]
    fn guessed_levels_equal_exact_levels() {
        for s in [Stretch::Linear, Stretch::Log, Stretch::Sqrt, Stretch::Asinh, Stretch::Pow2] {
            for cut in [(-10.0f32, 90.0f32), (1e-3, 2e-3), (-1e6, 5e6)] {
                let m = LevelMap::new(cut, s);
                let (lo, hi) = cut;
                for i in -1000..=21000 {
                    let v = lo + (hi - lo) * (i as f32 / 20000.0) + (i % 7) as f32 * 1e-7;
                    assert_eq!(m.level(v), m.level_exact(v), "{s} {cut:?} v={v}");
                }
                for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, f32::MIN, lo, hi] {
                    assert_eq!(m.level(v), m.level_exact(v), "{s} {cut:?} v={v}");
                }
            }
        }
    }

    #[test]
    fn run_levels_within_one_of_exact() {
        for s in [Stretch::Linear, Stretch::Asinh] {
            let m = LevelMap::new((-3.0, 88.5), s);
            let src: Vec<f32> = (-500..10500).map(|i| i as f32 * 0.0093 - 3.0).chain([f32::NAN, 1e30, -1e30]).collect();
            let mut out = vec![0u8; src.len()];
            m.levels_into(&src, &mut out);
            for (v, l) in src.iter().zip(&out) {
                assert!((i32::from(*l) - i32::from(m.level_exact(*v))).abs() <= 1, "{s} {v}");
            }
            assert_eq!(out[src.len() - 3], 0);
        }
    }

    #[test]
    fn degenerate_cut_is_a_step() {
        let m = LevelMap::new((5.0, 5.0), Stretch::Linear);
        assert_eq!(m.level(4.9), 0);
        assert_eq!(m.level(5.0), 255);
    }
}
