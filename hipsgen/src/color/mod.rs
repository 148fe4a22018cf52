//! Color HiPS from three band HiPS (R, G, B): the `color` job.
//!
//! Every tile present in any band, at every order, is computed from the three full-precision FITS tiles of that order
//! (never from 8-bit previews) with [`mapping`] (Lupton asinh by default, linear per-band cuts as the alternative)
//! and written as JPEG and/or PNG (RGBA, transparent where every band is blank); likewise `Norder3/Allsky`.
//! `Moc.fits` is the union of the band coverages; `properties` is built fresh with the mandatory HiPS keys,
//! `dataproduct_subtype = color` and `prov_progenitor` naming the bands; then `index.html`.

pub mod build;
pub use hips_core::preview::color as mapping;
pub mod sky;

pub use build::{build_color, BandHips, ColorOptions, ColorReport};
pub use mapping::{rgba_pixels, ColorMapper, ColorMethod, ColorParams};

use crate::preview::{PreviewFormat, DEFAULT_JPEG_QUALITY};

/// Errors of the color step, each naming the HiPS, tile or key concerned.
#[derive(Debug, thiserror::Error)]
pub enum ColorError {
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] Box<hips_core::storage::StoreError>),
    /// A band HiPS without usable properties.
    #[error("{band} band HiPS {location}: {message}")]
    Band {
        /// red, green or blue.
        band: &'static str,
        /// The HiPS location.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The three bands cannot be combined.
    #[error("band HiPS are not compatible: {0}")]
    Incompatible(String),
    /// A tile that cannot be read or encoded.
    #[error("{key}: {message}")]
    Tile {
        /// The object key (band location included when relevant).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A bad option value.
    #[error("{0}")]
    Usage(String),
    /// Coverage (MOC) failure.
    #[error("Moc.fits of {location}: {message}")]
    Moc {
        /// The HiPS location.
        location: String,
        /// What is wrong.
        message: String,
    },
}

impl From<hips_core::storage::StoreError> for ColorError {
    fn from(e: hips_core::storage::StoreError) -> Self {
        ColorError::Store(Box::new(e))
    }
}

/// Lupton's default brightness, in scaled units per noise sigma (see `default_scale`): after each band's sky level is
/// subtracted (sky and noise measured on the band's tiles, see [`sky`]), the mean noise of the bands is this many
/// units. With the default Q 8 and stretch 5, +1 sigma of noise in all bands then shows at about level 25 of 255 (the
/// sky median at 0: a dark sky), a 10 sigma source at about 97, 100 sigma at about 177 and 1000 sigma at full
/// intensity, with its hue kept. (0.3 left the faint stars of the demo barely visible once the view is zoomed out
/// and tiles average them; 1.0 shows the noise as speckle.)
pub const DEFAULT_NOISE_UNITS: f64 = 0.5;

/// Fallback Lupton scale numerator when a band's sky cannot be measured: its cut range `hi - lo` becomes this many
/// units.
pub const DEFAULT_LUPTON_RANGE: f64 = 100.0;

/// Default Lupton softening parameter Q.
pub const DEFAULT_Q: f64 = 8.0;
/// Default Lupton linear stretch.
pub const DEFAULT_STRETCH: f64 = 5.0;

/// A validated `color` job.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorJob {
    /// Band HiPS shown in red (directory or object-store URL).
    pub red: String,
    /// Band HiPS shown in green.
    pub green: String,
    /// Band HiPS shown in blue.
    pub blue: String,
    /// Output color HiPS.
    pub out: String,
    /// Color method.
    pub method: ColorMethod,
    /// Lupton asinh softening parameter (>= 0).
    pub q: f64,
    /// Lupton linear stretch (> 0).
    pub stretch: f64,
    /// Value shown black per band (`None`: each band's sky level measured on its tiles, else its hips_pixel_cut low
    /// value).
    pub minimum: Option<[f64; 3]>,
    /// Linear method: value shown at full intensity per band (`None`: each band's hips_pixel_cut high value).
    pub maximum: Option<[f64; 3]>,
    /// Lupton per-band multipliers (`None`: [`DEFAULT_NOISE_UNITS`] / the band's sky noise, else
    /// 100 / (cut high - cut low)).
    pub scale: Option<[f64; 3]>,
    /// Output tile formats (no duplicates, at least one).
    pub formats: Vec<PreviewFormat>,
    /// JPEG quality (1-100).
    pub jpeg_quality: u8,
    /// creator_did (default derived from the bands').
    pub id: Option<String>,
    /// obs_title (default from the bands').
    pub title: Option<String>,
    /// Skip tiles whose outputs already exist.
    pub resume: bool,
    /// Aladin Lite script URL for index.html (`None`: `$HIPS_ALADIN_URL`, else the CDS CDN).
    pub aladin_url: Option<String>,
}

impl ColorJob {
    /// A job with the command line's defaults (Lupton, Q 8, stretch 5, cuts from the bands, JPEG and PNG).
    #[must_use]
    pub fn new(
        red: impl Into<String>,
        green: impl Into<String>,
        blue: impl Into<String>,
        out: impl Into<String>,
    ) -> Self {
        ColorJob {
            red: red.into(),
            green: green.into(),
            blue: blue.into(),
            out: out.into(),
            method: ColorMethod::Lupton,
            q: DEFAULT_Q,
            stretch: DEFAULT_STRETCH,
            minimum: None,
            maximum: None,
            scale: None,
            formats: vec![PreviewFormat::Jpeg, PreviewFormat::Png],
            jpeg_quality: DEFAULT_JPEG_QUALITY,
            id: None,
            title: None,
            resume: false,
            aladin_url: None,
        }
    }

    /// Check the values a caller could have set out of range.
    ///
    /// # Errors
    /// [`ColorError::Usage`] saying what is wrong.
    pub fn validate(&self) -> Result<(), ColorError> {
        if self.stretch <= 0.0 || self.q < 0.0 {
            return Err(ColorError::Usage("--stretch must be > 0 and --q >= 0".into()));
        }
        if self.formats.is_empty() {
            return Err(ColorError::Usage("no output format".into()));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(ColorError::Usage(format!("--jpeg-quality {} is not in 1..=100", self.jpeg_quality)));
        }
        Ok(())
    }
}

/// Lupton's default per-band scale. With every band's sky measured and a cut above it, the bands keep the balance of
/// their cuts (each multiplied by `k / (cut high - sky)`, as the bands' bright ends set the colours) and `k` is chosen
/// so that the bands' mean noise is [`DEFAULT_NOISE_UNITS`]: a dark sky whatever the data's units. Otherwise each band
/// is scaled by its own noise, else by its cut range.
fn default_scale(skies: &[Option<sky::Sky>; 3], maximum: &[f64; 3], minimum: &[f64; 3]) -> [f64; 3] {
    let range: [f64; 3] = std::array::from_fn(|i| maximum[i] - minimum[i]);
    if skies.iter().all(Option::is_some) && range.iter().all(|r| *r > 0.0 && r.is_finite()) {
        let ratio: f64 = (0..3).map(|i| skies[i].map_or(0.0, |s| s.noise) / range[i]).sum::<f64>() / 3.0;
        let k = DEFAULT_NOISE_UNITS / ratio;
        return std::array::from_fn(|i| k / range[i]);
    }
    std::array::from_fn(|i| match skies[i] {
        Some(sky) => DEFAULT_NOISE_UNITS / sky.noise,
        None if range[i] > 0.0 => DEFAULT_LUPTON_RANGE / range[i],
        None => 1.0,
    })
}

/// Expand 1 or 3 values to R, G, B.
///
/// # Errors
/// When the list has another length.
pub fn per_band(name: &str, v: &[f64]) -> Result<[f64; 3], ColorError> {
    match v {
        [a] => Ok([*a; 3]),
        [r, g, b] => Ok([*r, *g, *b]),
        _ => Err(ColorError::Usage(format!("--{name} takes 1 or 3 values, got {}", v.len()))),
    }
}

/// Run a `color` job. Per-tile failures are in the report (`failures`), not errors.
///
/// # Errors
/// When the job is invalid, a band cannot be opened or read, the bands are incompatible, or the output cannot be
/// written.
pub fn run_color(job: &ColorJob) -> Result<ColorReport, ColorError> {
    job.validate()?;
    let bands =
        [BandHips::open("red", &job.red)?, BandHips::open("green", &job.green)?, BandHips::open("blue", &job.blue)?];
    let cuts = bands.each_ref().map(|b| b.cut);
    // The sky of each band, measured only when a default needs it.
    let needs_sky = job.minimum.is_none() || (job.method == ColorMethod::Lupton && job.scale.is_none());
    let skies = if needs_sky {
        let mut s = [None; 3];
        for (i, b) in bands.iter().enumerate() {
            s[i] = sky::measure(b)?;
            if let Some(k) = s[i] {
                tracing::info!("{} band sky: level {:.4e}, noise {:.4e}", b.band, k.level, k.noise);
            } else {
                tracing::warn!("{} band: no sky measured on its tiles; defaults from hips_pixel_cut", b.band);
            }
        }
        s
    } else {
        [None; 3]
    };
    let mut minimum = [0.0; 3];
    for i in 0..3 {
        minimum[i] = match (job.minimum, skies[i], cuts[i]) {
            (Some(m), _, _) => m[i],
            (None, Some(sky), _) => sky.level,
            (None, None, Some(c)) => f64::from(c.0),
            (None, None, None) => 0.0,
        };
    }
    let maximum = if let Some(m) = job.maximum {
        m
    } else {
        let mut m = [0.0; 3];
        for i in 0..3 {
            m[i] = cuts[i].map(|c| f64::from(c.1)).ok_or_else(|| {
                ColorError::Usage(format!("{} band has no hips_pixel_cut: give --maximum", bands[i].band))
            })?;
        }
        m
    };
    let scale = job.scale.unwrap_or_else(|| default_scale(&skies, &maximum, &minimum));
    let params = ColorParams { method: job.method, minimum, maximum, scale, stretch: job.stretch, q: job.q };
    let opts = ColorOptions {
        formats: job.formats.clone(),
        jpeg_quality: job.jpeg_quality,
        id: job.id.clone(),
        title: job.title.clone(),
        resume: job.resume,
        aladin_url: crate::html::aladin_url(job.aladin_url.as_deref()),
    };
    let out = hips_core::storage::Store::open(&job.out)?;
    let t0 = std::time::Instant::now();
    let report = build_color(&bands, &out, &ColorMapper::new(params), &opts)?;
    tracing::info!(
        "color HiPS {}: {} tiles, {} images written, {} skipped, {} failed, {:.1} s",
        job.out,
        report.tiles,
        report.written,
        report.skipped,
        report.failures.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(report)
}
