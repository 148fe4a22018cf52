//! Three full-precision band values -> one 8-bit RGB pixel: Lupton et al. (2004) asinh color, or linear per-band cuts.
//!
//! Lupton follows astropy's `make_lupton_rgb` step by step (so astropy is the oracle): subtract each band's minimum,
//! scale each band, intensity `I = (r + g + b) / 3`, `f(I) = asinh(Q I / stretch) * 0.1 / asinh(0.1 Q)`, each band
//! times `f(I) / I` (0 where `I <= 0`), clipped at 0, all three divided by the largest when it exceeds 1, then
//! `floor(255 x)`. The hue of a pixel is kept however bright it is (stars do not saturate to white).
//! Linear follows astropy's `make_rgb` with a `ManualInterval` per band: `floor(255 clip((v - lo) / (hi - lo)))`.
//!
//! Blank handling: a pixel blank (NaN) in every band is transparent; a pixel blank in some bands takes, for each
//! missing band, the mean of the present bands' normalised values. That shows partial coverage (survey edges where
//! one band stops earlier) as neutral grey rather than as a saturated fringe of the remaining bands' colours.

/// How the three bands are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ColorMethod {
    /// Lupton et al. (2004) asinh color (intensity-preserving), as astropy's make_lupton_rgb.
    #[default]
    Lupton,
    /// Independent linear cut per band, as astropy's make_rgb.
    Linear,
}

/// Parameters of the color mapping (bands in R, G, B order).
#[derive(Debug, Clone, PartialEq)]
pub struct ColorParams {
    /// Method.
    pub method: ColorMethod,
    /// Per-band value shown as black (subtracted first).
    pub minimum: [f64; 3],
    /// Per-band value shown at full intensity (linear method).
    pub maximum: [f64; 3],
    /// Per-band multiplier applied after subtracting the minimum (Lupton method).
    pub scale: [f64; 3],
    /// Lupton linear stretch (> 0).
    pub stretch: f64,
    /// Lupton asinh softening Q (>= 0).
    pub q: f64,
}

/// The properties recording [`ColorParams`] in a color HiPS (hipsgen's own keys): method (`lupton`, `linear`),
/// per-band minimum, maximum and scale (three numbers, R G B), Lupton stretch and Q. Numbers are written with
/// Rust's shortest round-trip formatting, so they read back exactly.
pub const COLOR_KEYS: [&str; 6] = [
    "hipsgen_color_method",
    "hipsgen_color_minimum",
    "hipsgen_color_maximum",
    "hipsgen_color_scale",
    "hipsgen_color_stretch",
    "hipsgen_color_q",
];

impl ColorMethod {
    /// The lowercase name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ColorMethod::Lupton => "lupton",
            ColorMethod::Linear => "linear",
        }
    }
}

impl ColorParams {
    /// The `(key, value)` properties recording these parameters ([`COLOR_KEYS`]).
    #[must_use]
    pub fn to_properties(&self) -> Vec<(&'static str, String)> {
        let three = |v: [f64; 3]| format!("{} {} {}", v[0], v[1], v[2]);
        vec![
            (COLOR_KEYS[0], self.method.name().to_string()),
            (COLOR_KEYS[1], three(self.minimum)),
            (COLOR_KEYS[2], three(self.maximum)),
            (COLOR_KEYS[3], three(self.scale)),
            (COLOR_KEYS[4], self.stretch.to_string()),
            (COLOR_KEYS[5], self.q.to_string()),
        ]
    }

    /// Parameters read back from properties (`get(key)`); `None` when any key is missing or does not parse.
    #[must_use]
    pub fn from_properties<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        let three = |k: &str| -> Option<[f64; 3]> {
            let v: Vec<f64> = get(k)?.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
            <[f64; 3]>::try_from(v).ok()
        };
        let method = match get(COLOR_KEYS[0])?.trim() {
            "lupton" => ColorMethod::Lupton,
            "linear" => ColorMethod::Linear,
            _ => return None,
        };
        Some(ColorParams {
            method,
            minimum: three(COLOR_KEYS[1])?,
            maximum: three(COLOR_KEYS[2])?,
            scale: three(COLOR_KEYS[3])?,
            stretch: get(COLOR_KEYS[4])?.trim().parse().ok()?,
            q: get(COLOR_KEYS[5])?.trim().parse().ok()?,
        })
    }
}

/// A ready-to-use mapping with the Lupton constants precomputed.
#[derive(Debug, Clone)]
pub struct ColorMapper {
    params: ColorParams,
    soften: f64,
    slope: f64,
    inv_range: [f64; 3],
}

impl ColorMapper {
    /// Precompute a mapping. Q is clamped as astropy does (`Q < 2^-23` -> 0.1, `Q > 1e10` -> 1e10); a non-positive
    /// stretch is replaced by the smallest positive value.
    #[must_use]
    pub fn new(params: ColorParams) -> Self {
        let eps = 1.0 / f64::from(1u32 << 23);
        let q = if params.q.abs() < eps { 0.1 } else { params.q.min(1e10) };
        let stretch = if params.stretch > 0.0 { params.stretch } else { f64::MIN_POSITIVE };
        let frac = 0.1;
        let mut inv_range = [0.0; 3];
        for (i, r) in inv_range.iter_mut().enumerate() {
            let d = params.maximum[i] - params.minimum[i];
            *r = if d > 0.0 { 1.0 / d } else { f64::INFINITY };
        }
        ColorMapper { soften: q / stretch, slope: frac / (frac * q).asinh(), params, inv_range }
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> &ColorParams {
        &self.params
    }

    /// The 8-bit color of one pixel (`v` = R, G, B band values, NaN = blank); `None` when blank in every band.
    #[inline]
    #[must_use]
    pub fn pixel(&self, v: [f32; 3]) -> Option<[u8; 3]> {
        let p = &self.params;
        let mut x = [0.0f64; 3];
        let mut present = [false; 3];
        let (mut sum, mut n) = (0.0, 0u32);
        for i in 0..3 {
            if !v[i].is_nan() {
                let d = f64::from(v[i]) - p.minimum[i];
                x[i] = match p.method {
                    ColorMethod::Lupton => d * p.scale[i],
                    ColorMethod::Linear => {
                        if self.inv_range[i].is_finite() {
                            (d * self.inv_range[i]).clamp(0.0, 1.0)
                        } else if d >= 0.0 {
                            1.0
                        } else {
                            0.0
                        }
                    }
                };
                present[i] = true;
                sum += x[i];
                n += 1;
            }
        }
        if n == 0 {
            return None;
        }
        if n < 3 {
            let mean = sum / f64::from(n);
            for i in 0..3 {
                if !present[i] {
                    x[i] = mean;
                }
            }
        }
        if p.method == ColorMethod::Lupton {
            let intensity = (x[0] + x[1] + x[2]) / 3.0;
            let norm = if intensity <= 0.0 { 0.0 } else { (intensity * self.soften).asinh() * self.slope / intensity };
            let mut m = 0.0f64;
            for xi in &mut x {
                *xi = (*xi * norm).max(0.0);
                m = m.max(*xi);
            }
            if m > 1.0 {
                for xi in &mut x {
                    *xi /= m;
                }
            }
        }
        Some(x.map(|c| (c * 255.0).clamp(0.0, 255.0) as u8))
    }
}

/// The RGBA display buffer (rows top to bottom, i.e. the FITS rows flipped) of three FITS-order band arrays of
/// `width` x `height`; a band given as `None` is blank everywhere. Transparent black where every band is blank.
/// Short arrays count as blank beyond their end.
#[must_use]
pub fn rgba_pixels(bands: [Option<&[f32]>; 3], width: usize, height: usize, mapper: &ColorMapper) -> Vec<u8> {
    let mut out = vec![0u8; width * height * 4];
    if width == 0 {
        return out;
    }
    let at = |b: Option<&[f32]>, i: usize| b.and_then(|d| d.get(i).copied()).unwrap_or(f32::NAN);
    for (p, row) in out.chunks_exact_mut(width * 4).enumerate() {
        let start = (height - 1 - p) * width;
        for (c, px) in row.chunks_exact_mut(4).enumerate() {
            let i = start + c;
            if let Some(rgb) = mapper.pixel([at(bands[0], i), at(bands[1], i), at(bands[2], i)]) {
                px.copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lupton() -> ColorMapper {
        ColorMapper::new(ColorParams {
            method: ColorMethod::Lupton,
            minimum: [0.0; 3],
            maximum: [1.0; 3],
            scale: [1.0; 3],
            stretch: 5.0,
            q: 8.0,
        })
    }

    #[test]
    fn lupton_keeps_hue_and_handles_blank() {
        let m = lupton();
        // Very bright red star: hue kept (red at full, others in proportion), not white.
        let px = m.pixel([1e6, 5e5, 2.5e5]).expect("pixel");
        assert_eq!(px[0], 255);
        assert!((i32::from(px[1]) - 127).abs() <= 1 && (i32::from(px[2]) - 63).abs() <= 1, "{px:?}");
        assert_eq!(m.pixel([f32::NAN; 3]), None);
        // Blank in two bands: the remaining band's value everywhere -> grey.
        let g = m.pixel([f32::NAN, 10.0, f32::NAN]).expect("pixel");
        assert!(g[0] == g[1] && g[1] == g[2] && g[0] > 0, "{g:?}");
        assert_eq!(m.pixel([-5.0, -1.0, -2.0]), Some([0, 0, 0]));
    }

    #[test]
    fn buffer_is_flipped_with_alpha() {
        let m = lupton();
        let r = [1.0f32, f32::NAN, 2.0, 3.0];
        let buf = rgba_pixels([Some(&r), None, None], 2, 2, &m);
        // Top row = FITS row 1.
        assert_eq!(buf[3], 255);
        assert_eq!(buf[7], 255);
        assert_eq!(buf[11], 255);
        assert_eq!(buf[12..16], [0, 0, 0, 0]);
    }
}
