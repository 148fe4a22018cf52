//! Color HiPS from three band HiPS (R, G, B): `hipsgen color`.
//!
//! Every tile present in any band, at every order, is computed from the three full-precision FITS tiles of that order
//! (never from 8-bit previews) with [`mapping`] (Lupton asinh by default, linear per-band cuts as the alternative)
//! and written as JPEG and/or PNG (RGBA, transparent where every band is blank); likewise `Norder3/Allsky`.
//! `Moc.fits` is the union of the band coverages; `properties` is built fresh with the mandatory HiPS keys,
//! `dataproduct_subtype = color` and `prov_progenitor` naming the bands; then `index.html`.

pub mod build;
pub mod mapping;

use std::process::ExitCode;

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

/// Default per-band scale numerator for Lupton: each band's cut range `hi - lo` becomes this many units, so that with
/// the default stretch 5 and Q 8 a pixel at the top of the cut in all bands shows at about 80% intensity (level ~200)
/// and brighter pixels keep their hue.
pub const DEFAULT_LUPTON_RANGE: f64 = 100.0;

/// Command-line arguments of `hipsgen color`.
#[derive(Debug, Clone, clap::Args)]
pub struct ColorArgs {
    /// Band HiPS shown in red (directory or object-store URL).
    #[arg(long)]
    pub red: String,
    /// Band HiPS shown in green.
    #[arg(long)]
    pub green: String,
    /// Band HiPS shown in blue.
    #[arg(long)]
    pub blue: String,
    /// Output color HiPS (directory or object-store URL).
    #[arg(long)]
    pub out: String,
    /// Color method.
    #[arg(long, value_enum, default_value_t = ColorMethod::Lupton)]
    pub method: ColorMethod,
    /// Lupton asinh softening parameter.
    #[arg(long, default_value_t = 8.0)]
    pub q: f64,
    /// Lupton linear stretch (in scaled units, see --scale).
    #[arg(long, default_value_t = 5.0)]
    pub stretch: f64,
    /// Value shown black, one for all bands or R G B (default: each band's hips_pixel_cut low value).
    #[arg(long, num_args = 1..=3, allow_negative_numbers = true)]
    pub minimum: Option<Vec<f64>>,
    /// Linear method: value shown at full intensity, one or R G B (default: each band's hips_pixel_cut high value).
    #[arg(long, num_args = 1..=3, allow_negative_numbers = true)]
    pub maximum: Option<Vec<f64>>,
    /// Lupton: per-band multipliers applied after subtracting the minimum, one or R G B
    /// (default: 100 / (cut high - cut low) of each band).
    #[arg(long, num_args = 1..=3)]
    pub scale: Option<Vec<f64>>,
    /// Output tile formats.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [PreviewFormat::Jpeg, PreviewFormat::Png])]
    pub format: Vec<PreviewFormat>,
    /// JPEG quality (1-100).
    #[arg(long, default_value_t = DEFAULT_JPEG_QUALITY, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: u8,
    /// creator_did of the color HiPS (default: derived from the bands' creator_did).
    #[arg(long)]
    pub id: Option<String>,
    /// obs_title of the color HiPS (default: built from the band titles).
    #[arg(long)]
    pub title: Option<String>,
    /// Skip tiles whose outputs already exist (to finish a killed run with the same parameters).
    #[arg(long)]
    pub resume: bool,
    /// Aladin Lite script URL for index.html (default: $HIPS_ALADIN_URL, else the CDS CDN).
    #[arg(long)]
    pub aladin_url: Option<String>,
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

/// Run `hipsgen color`.
///
/// # Errors
/// When a band cannot be opened or read, the bands are incompatible, or the output cannot be written.
pub fn run_color(args: &ColorArgs) -> anyhow::Result<ExitCode> {
    let bands =
        [BandHips::open("red", &args.red)?, BandHips::open("green", &args.green)?, BandHips::open("blue", &args.blue)?];
    let cuts = bands.each_ref().map(|b| b.cut);
    let minimum = match &args.minimum {
        Some(v) => per_band("minimum", v)?,
        None => cuts.map(|c| c.map_or(0.0, |c| f64::from(c.0))),
    };
    let maximum = match &args.maximum {
        Some(v) => per_band("maximum", v)?,
        None => {
            let mut m = [0.0; 3];
            for i in 0..3 {
                m[i] = cuts[i].map(|c| f64::from(c.1)).ok_or_else(|| {
                    ColorError::Usage(format!("{} band has no hips_pixel_cut: give --maximum", bands[i].band))
                })?;
            }
            m
        }
    };
    let scale = match &args.scale {
        Some(v) => per_band("scale", v)?,
        None => {
            let mut s = [1.0; 3];
            for i in 0..3 {
                let range = maximum[i] - minimum[i];
                if range > 0.0 {
                    s[i] = DEFAULT_LUPTON_RANGE / range;
                }
            }
            s
        }
    };
    if args.stretch <= 0.0 || args.q < 0.0 {
        anyhow::bail!("--stretch must be > 0 and --q >= 0");
    }
    let params = ColorParams { method: args.method, minimum, maximum, scale, stretch: args.stretch, q: args.q };
    let mut formats = args.format.clone();
    formats.dedup();
    let opts = ColorOptions {
        formats,
        jpeg_quality: args.jpeg_quality,
        id: args.id.clone(),
        title: args.title.clone(),
        resume: args.resume,
        aladin_url: crate::html::aladin_url(args.aladin_url.as_deref()),
    };
    let out = hips_core::storage::Store::open(&args.out)?;
    let t0 = std::time::Instant::now();
    let report = build_color(&bands, &out, &ColorMapper::new(params), &opts)?;
    tracing::info!(
        "color HiPS {}: {} tiles, {} images written, {} skipped, {} failed, {:.1} s",
        args.out,
        report.tiles,
        report.written,
        report.skipped,
        report.failures.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(crate::preview::step::exit_code_for(&report.failures))
}
