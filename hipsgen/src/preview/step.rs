//! The `previews` step: add PNG/JPEG tiles, `Norder3/Allsky.{png,jpg}` and `index.html` to an existing FITS HiPS.
//!
//! Every FITS tile of every order (`hips_order_min..=hips_order`) is read at full precision, drawn through one cut
//! and stretch, and the previews are written next to it (in parallel with rayon). `properties` gets the new formats in
//! `hips_tile_format` and is written last, after all tiles, so a reader never sees a format announced before its
//! tiles exist. Re-running is idempotent (same inputs, same bytes); `--resume` skips tiles whose previews all exist,
//! for finishing a killed run with the same parameters. A tile that cannot be read is reported and the run goes on;
//! the exit code says something failed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use hips_core::fits::{read_image_f32, scan_hdus, MemSource};
use hips_core::healpix::parse_tile_key;
use hips_core::storage::Store;
use rayon::prelude::*;

use super::{
    cut_from_properties, merge_tile_format, parse_cut, try_encode_preview, PreviewError, PreviewFormat, PreviewSpec,
};
use super::{Stretch, DEFAULT_JPEG_QUALITY};
use crate::html;
use crate::properties::Properties;
use crate::Error;

/// A validated `previews` job.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewsJob {
    /// The FITS HiPS: a directory or an object-store URL.
    pub hips: String,
    /// Data values shown black and white (finite, `lo < hi`); `None`: from properties, else from Allsky. When given,
    /// `hips_pixel_cut` is updated to it.
    pub cut: Option<(f32, f32)>,
    /// Transfer function between the cut values.
    pub stretch: Stretch,
    /// Preview formats to write (no duplicates).
    pub formats: Vec<PreviewFormat>,
    /// JPEG quality (1-100).
    pub jpeg_quality: u8,
    /// Skip tiles whose previews already exist.
    pub resume: bool,
    /// Aladin Lite script URL for index.html (`None`: `$HIPS_ALADIN_URL`, else the CDS CDN).
    pub aladin_url: Option<String>,
}

impl PreviewsJob {
    /// A job with the command line's defaults: cut from the HiPS, linear, PNG and JPEG at the default quality.
    #[must_use]
    pub fn new(hips: impl Into<String>) -> Self {
        PreviewsJob {
            hips: hips.into(),
            cut: None,
            stretch: Stretch::Linear,
            formats: vec![PreviewFormat::Png, PreviewFormat::Jpeg],
            jpeg_quality: DEFAULT_JPEG_QUALITY,
            resume: false,
            aladin_url: None,
        }
    }

    /// Check the values a caller could have set out of range.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some((lo, hi)) = self.cut {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(Error::invalid("--cut", format!("needs two finite values MIN < MAX, got {lo} {hi}")));
            }
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(Error::invalid("--jpeg-quality", format!("{} is not in 1..=100", self.jpeg_quality)));
        }
        if self.formats.is_empty() {
            return Err(Error::invalid("--formats", "no preview format"));
        }
        Ok(())
    }
}

/// What a `previews` run did.
#[derive(Debug, Default, Clone)]
pub struct PreviewsReport {
    /// FITS tiles found (all orders, without Allsky).
    pub tiles: usize,
    /// Preview images written (tiles and Allsky).
    pub written: usize,
    /// Tiles skipped by `--resume`.
    pub skipped: usize,
    /// Tiles or files that failed, with the reason.
    pub failures: Vec<String>,
    /// The cut used.
    pub cut: (f32, f32),
    /// Wall time.
    pub elapsed: std::time::Duration,
}

/// Read the properties of a HiPS.
///
/// # Errors
/// When `properties` is missing or cannot be read.
pub fn read_properties(store: &Store) -> Result<Properties, PreviewError> {
    let bytes = store.get("properties")?.ok_or_else(|| PreviewError::Properties {
        location: store.location().to_string(),
        message: "missing".into(),
    })?;
    Ok(Properties::parse(&String::from_utf8_lossy(&bytes)))
}

/// Decode the primary (or first image) HDU of a FITS object as f32: `(width, height, data)`.
///
/// # Errors
/// When the object is not a FITS image.
pub fn decode_fits(key: &str, bytes: bytes::Bytes) -> Result<(usize, usize, Vec<f32>), PreviewError> {
    let fits_err = |message: String| PreviewError::Fits { key: key.to_string(), message };
    let src = MemSource::new(key, bytes);
    let hdus = scan_hdus(&src).map_err(|e| fits_err(e.to_string()))?;
    let hdu = hips_core::fits::first_image(&hdus).ok_or_else(|| fits_err("no image HDU".into()))?;
    let img = read_image_f32(&src, hdu).map_err(|e| fits_err(e.to_string()))?;
    Ok((img.width, img.height, img.data))
}

/// The 0.5 and 99.5 percentiles of the finite values (`None` when fewer than 2 distinct finite values).
#[must_use]
pub fn percentile_cut(data: &[f32]) -> Option<(f32, f32)> {
    let mut v: Vec<f32> = data.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return None;
    }
    let idx = |q: f64| ((v.len() - 1) as f64 * q).round() as usize;
    let (lo_i, hi_i) = (idx(0.005), idx(0.995));
    let lo = *v.select_nth_unstable_by(lo_i, f32::total_cmp).1;
    let hi = *v.select_nth_unstable_by(hi_i, f32::total_cmp).1;
    if lo < hi {
        Some((lo, hi))
    } else {
        let (mn, mx) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        (mn < mx).then_some((mn, mx))
    }
}

fn order_of(p: &Properties, key: &str, location: &str) -> Result<u8, PreviewError> {
    p.get(key).and_then(|v| v.trim().parse::<u8>().ok()).filter(|&o| o <= 29).ok_or_else(|| PreviewError::Properties {
        location: location.to_string(),
        message: format!("{key} missing or not an order"),
    })
}

/// Every FITS tile key of orders `min..=max`, sorted by order then name.
///
/// # Errors
/// When listing fails.
pub fn list_fits_tiles(store: &Store, min: u8, max: u8) -> Result<Vec<String>, PreviewError> {
    let mut keys = Vec::new();
    for order in min..=max {
        for k in store.list(&format!("Norder{order}"))? {
            if matches!(parse_tile_key(&k), Some((o, _, "fits")) if o == order) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

/// The preview objects `(format, key)` drawn from the FITS object `key` (`.fits` replaced by each format's
/// extension); `None` when `resume` is set and all of them already exist in `store`.
///
/// # Errors
/// When the store cannot say whether an object exists.
pub fn preview_targets(
    store: &Store,
    key: &str,
    formats: &[PreviewFormat],
    resume: bool,
) -> Result<Option<Vec<(PreviewFormat, String)>>, hips_core::storage::StoreError> {
    let stem = key.strip_suffix(".fits").unwrap_or(key);
    let targets: Vec<(PreviewFormat, String)> =
        formats.iter().map(|&f| (f, format!("{stem}.{}", f.extension()))).collect();
    if resume {
        for (_, k) in &targets {
            if !store.exists(k)? {
                return Ok(Some(targets));
            }
        }
        return Ok(None);
    }
    Ok(Some(targets))
}

/// Draw and write the previews of one FITS object (`key` ends in `.fits`); returns how many images were written.
fn preview_one(store: &Store, key: &str, spec: &PreviewSpec, resume: bool) -> Result<(usize, bool), PreviewError> {
    let Some(targets) = preview_targets(store, key, &spec.formats, resume)? else {
        return Ok((0, true));
    };
    let bytes =
        store.get(key)?.ok_or_else(|| PreviewError::Fits { key: key.to_string(), message: "vanished".into() })?;
    let (w, h, data) = decode_fits(key, bytes)?;
    for (f, k) in &targets {
        store.put(k, try_encode_preview(*f, &data, w, h, spec)?)?;
    }
    Ok((targets.len(), false))
}

/// Add previews to the FITS HiPS in `store` with `spec` (its `cut` is used as given); updates `hips_tile_format`
/// (and `hips_pixel_cut` when `set_cut`), writes `index.html`.
///
/// # Errors
/// When properties cannot be read or written or tiles cannot be listed; per-tile failures are in the report.
pub fn add_previews(
    store: &Store,
    spec: &PreviewSpec,
    resume: bool,
    set_cut: bool,
    aladin_url: &str,
) -> Result<PreviewsReport, PreviewError> {
    let t0 = std::time::Instant::now();
    let mut props = read_properties(store)?;
    let loc = store.location().to_string();
    let max = order_of(&props, "hips_order", &loc)?;
    let min = props.get("hips_order_min").and_then(|v| v.trim().parse::<u8>().ok()).unwrap_or(0).min(max);
    let keys = list_fits_tiles(store, min, max)?;
    let tally = Tally::default();
    let mut all_keys = keys.clone();
    if store.exists("Norder3/Allsky.fits")? {
        all_keys.push("Norder3/Allsky.fits".to_string());
    }
    all_keys.par_iter().for_each(|key| tally.record(preview_one(store, key, spec, resume)));
    let (written, skipped, failures) = tally.finish();
    let formats = merge_tile_format(props.get("hips_tile_format").or(Some("fits")), &spec.formats);
    props.set("hips_tile_format", formats);
    // The cut, stretch and quality the previews were drawn with, so that hipsserve draws its on-demand previews the
    // same way (the cut is rewritten only when given or missing: one read back from properties is the same f32).
    if set_cut || props.get("hips_pixel_cut").and_then(parse_cut) != Some(spec.cut) {
        props.set("hips_pixel_cut", format!("{} {}", spec.cut.0, spec.cut.1));
    }
    super::record_preview(&mut props, spec.stretch, spec.jpeg_quality);
    store.put("properties", props.to_text())?;
    html::write_index_html(store, &props, aladin_url)?;
    Ok(PreviewsReport { tiles: keys.len(), written, skipped, failures, cut: spec.cut, elapsed: t0.elapsed() })
}

/// The outcome of drawing many images in parallel: images written, tiles skipped (already done), and each failure
/// (logged as it happens).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    written: AtomicUsize,
    skipped: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    /// Count one tile's outcome: `(images written, skipped)` or its error.
    pub(crate) fn record<E: std::fmt::Display>(&self, r: Result<(usize, bool), E>) {
        match r {
            Ok((n, skip)) => {
                self.written.fetch_add(n, Ordering::Relaxed);
                if skip {
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                tracing::warn!("{e}");
                self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(e.to_string());
            }
        }
    }

    /// (written, skipped, failures).
    pub(crate) fn finish(self) -> (usize, usize, Vec<String>) {
        let failures = self.failures.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        (self.written.into_inner(), self.skipped.into_inner(), failures)
    }
}

/// The cut for a HiPS: explicit, else from properties, else percentiles of `Norder3/Allsky.fits`.
///
/// # Errors
/// When none of these gives a usable cut.
pub fn resolve_cut(
    store: &Store,
    props: &Properties,
    explicit: Option<(f32, f32)>,
) -> Result<(f32, f32), PreviewError> {
    if let Some(c) = explicit.or_else(|| cut_from_properties(props)) {
        return Ok(c);
    }
    let missing = || PreviewError::Properties {
        location: store.location().to_string(),
        message: "no hips_pixel_cut or hips_data_range and no usable Norder3/Allsky.fits: give --cut MIN MAX".into(),
    };
    let bytes = store.get("Norder3/Allsky.fits")?.ok_or_else(missing)?;
    let (_, _, data) = decode_fits("Norder3/Allsky.fits", bytes)?;
    percentile_cut(&data).ok_or_else(missing)
}

/// Run a `previews` job. Per-tile failures are in the report (`failures`), not errors.
///
/// # Errors
/// When the job is invalid, the HiPS cannot be opened, has no usable properties or cut, or properties cannot be
/// written.
pub fn run_previews(job: &PreviewsJob) -> Result<PreviewsReport, Error> {
    job.validate()?;
    let store = Store::open(&job.hips)?;
    let props = read_properties(&store)?;
    let cut = resolve_cut(&store, &props, job.cut)?;
    let spec = PreviewSpec { formats: job.formats.clone(), cut, stretch: job.stretch, jpeg_quality: job.jpeg_quality };
    let t0 = std::time::Instant::now();
    let report =
        add_previews(&store, &spec, job.resume, job.cut.is_some(), &html::aladin_url(job.aladin_url.as_deref()))?;
    tracing::info!(
        "previews of {}: {} tiles, {} images written, {} skipped, {} failed, cut {} {} ({}), {:.1} s",
        job.hips,
        report.tiles,
        report.written,
        report.skipped,
        report.failures.len(),
        cut.0,
        cut.1,
        job.stretch,
        t0.elapsed().as_secs_f64()
    );
    Ok(report)
}
