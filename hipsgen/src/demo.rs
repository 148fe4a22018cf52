//! The `demo` job: the embedded default job. Makes LSST-like sample coadds in three bands, builds one HiPS per band
//! (FITS tiles plus PNG/JPEG previews) and a color HiPS, all into a local directory used as the object store.

use std::path::{Path, PathBuf};

use crate::color::{ColorJob, ColorReport};
use crate::preview::PreviewFormat;
use crate::run::{TilesJob, TilesReport};
use crate::synth::{SynthConfig, SynthSummary};
use crate::{Error, Progress};

/// The bands of the demo, built in this order; the color HiPS shows i, r, g as red, green, blue.
pub const DEMO_BANDS: [&str; 3] = ["g", "r", "i"];

/// A validated `demo` job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoJob {
    /// Output directory (object store root): coadds/ and one HiPS per band plus color/.
    pub out: PathBuf,
    /// Patches per band (at least 1).
    pub patches: usize,
    /// Patch size in pixels (at least 1).
    pub patch_size: usize,
    /// Aladin Lite script URL for the index.html pages (`None`: `$HIPS_ALADIN_URL`, else the CDS CDN).
    pub aladin_url: Option<String>,
}

/// What the demo made.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// The sample coadds.
    pub synth: SynthSummary,
    /// One report per band HiPS, in [`DEMO_BANDS`] order.
    pub bands: Vec<TilesReport>,
    /// The color HiPS (its location is `out/color`).
    pub color: ColorReport,
}

impl DemoReport {
    /// Whether every input of every band was used.
    #[must_use]
    pub fn all_used(&self) -> bool {
        self.bands.iter().all(|b| b.skipped.is_empty())
    }
}

/// Run the demo; `progress` follows each band's deepest tiles in turn.
///
/// # Errors
/// When any step fails, or the color HiPS finished with failed tiles.
pub fn run_demo(job: &DemoJob, progress: &dyn Progress) -> Result<DemoReport, Error> {
    if job.patches == 0 || job.patch_size == 0 {
        return Err(Error::invalid("--patches/--patch-size", "need at least one patch of at least one pixel"));
    }
    let coadds = job.out.join("coadds");
    let cfg = SynthConfig {
        bands: DEMO_BANDS.iter().map(|b| (*b).to_string()).collect(),
        patches: job.patches,
        patch_size: job.patch_size,
        seed: 1,
        pixel_scale_arcsec: 0.2,
        overlap: 100,
        ra: 150.0,
        dec: 2.0,
    };
    tracing::info!(
        "demo: writing {} patches x {} bands of {}^2 px to {}",
        job.patches,
        DEMO_BANDS.len(),
        job.patch_size,
        coadds.display()
    );
    let synth = crate::synth::generate(&cfg, &coadds)?;
    let mut bands = Vec::with_capacity(DEMO_BANDS.len());
    for b in DEMO_BANDS {
        let mut t = TilesJob::new(vec![path_str(&coadds.join(b))?], path_str(&job.out.join(b))?);
        t.band = Some(b.to_string());
        t.id = Some(format!("ivo://hipsgen.local/P/demo/{b}"));
        t.title = Some(format!("hipsgen demo: synthetic LSST-like coadds, band {b}"));
        t.previews = vec![PreviewFormat::Png, PreviewFormat::Jpeg];
        t.aladin_url.clone_from(&job.aladin_url);
        bands.push(crate::run::run_tiles(&t, progress)?);
    }
    let color_out = path_str(&job.out.join("color"))?;
    let mut c = ColorJob::new(
        path_str(&job.out.join("i"))?,
        path_str(&job.out.join("r"))?,
        path_str(&job.out.join("g"))?,
        color_out.clone(),
    );
    c.title = Some("hipsgen demo: synthetic LSST-like coadds, i/r/g color".into());
    c.aladin_url.clone_from(&job.aladin_url);
    let color = crate::color::run_color(&c)?;
    if let Some(first) = color.failures.first() {
        return Err(Error::Demo(format!(
            "color HiPS {color_out} finished with {} failure(s), first: {first}",
            color.failures.len()
        )));
    }
    Ok(DemoReport { synth, bands, color })
}

fn path_str(p: &Path) -> Result<String, Error> {
    p.to_str().map(str::to_string).ok_or_else(|| Error::invalid("--out", format!("{} is not valid UTF-8", p.display())))
}
