//! The `tiles` job: plan, build the pyramid, then write the describing files. Inputs that fail are skipped and
//! listed in the report (the binary turns a report with skipped inputs into exit code 3).

use std::time::{Duration, Instant};

use hips_core::coadd::{Coadd, HduSelector, PlaneOptions};
use hips_core::kernel::Interp;
use hips_core::storage::Store;
use hips_core::wcs::Frame;
use serde::{Deserialize, Serialize};

use crate::build::{BuildOptions, Builder, STATE_DIR};
use crate::finalize::{self, Describe};
use crate::plan::{self, Plan, Skipped};
use crate::preview::PreviewFormat;
use crate::{Error, Progress};

/// How far below the tile order `--stored-order` may be: hipsserve rebuilds a tile above the tile order from its
/// descendants over at most this many orders (4^3 = 64 coadd renders for the shallowest).
pub const STORED_GAP_MAX: u8 = 3;

/// A validated `tiles` job: coadds of one band to a complete HiPS.
#[derive(Debug, Clone)]
pub struct TilesJob {
    /// Input coadds: FITS paths, globs, directories or object-store URLs.
    pub inputs: Vec<String>,
    /// Output HiPS location (directory or object-store URL).
    pub out: String,
    /// Band name (title, em_min/em_max, obs_regime).
    pub band: Option<String>,
    /// creator_did (default derived from the band or output name).
    pub id: Option<String>,
    /// obs_title (default from the band).
    pub title: Option<String>,
    /// Deepest order (3..=20); `None` chooses it from the finest input pixels.
    pub order: Option<u8>,
    /// Tile width: a power of two from 64 to 4096.
    pub tile_width: usize,
    /// Frame of the HiPS.
    pub frame: Frame,
    /// Image HDU to use (default: IMAGE with MASK and VARIANCE, else the first 2-D image).
    pub hdu: Option<HduSelector>,
    /// Quality planes: `--bad-bits`, `--mask-planes`, sibling weight maps.
    pub planes: PlaneOptions,
    /// Worker threads (`None`: all cores).
    pub threads: Option<usize>,
    /// Keep tiles and checkpoints already in the output.
    pub resume: bool,
    /// Interpolation kernel.
    pub interp: Interp,
    /// `(index, count)`, `index < count`: build only this shard of the order-3 subtrees.
    pub shard: Option<(usize, usize)>,
    /// Preview formats drawn next to the FITS tiles (no duplicates; FITS tiles are always written).
    pub previews: Vec<PreviewFormat>,
    /// Write the HpxFinder progenitor index.
    pub progenitors: bool,
    /// Coverage (Moc.fits) order above the tile order (0..=9).
    pub moc_extra: u8,
    /// Write tiles of orders 0..=M only (M below the tile order K); properties still say `hips_order = K` and
    /// hipsserve renders the orders above M from the coadds the progenitor index names. `None`: every order.
    pub stored_order: Option<u8>,
    /// Aladin Lite script URL for index.html (`None`: `$HIPS_ALADIN_URL`, else the CDS CDN).
    pub aladin_url: Option<String>,
}

impl TilesJob {
    /// A job with the command line's defaults: order from the inputs, 512-px tiles, equatorial, bilinear, FITS only,
    /// progenitors, MOC 3 orders deeper than the tiles.
    #[must_use]
    pub fn new(inputs: Vec<String>, out: impl Into<String>) -> Self {
        TilesJob {
            inputs,
            out: out.into(),
            band: None,
            id: None,
            title: None,
            order: None,
            tile_width: 512,
            frame: Frame::Equatorial,
            hdu: None,
            planes: PlaneOptions::default(),
            threads: None,
            resume: false,
            interp: Interp::Bilinear,
            shard: None,
            previews: Vec::new(),
            progenitors: true,
            moc_extra: 3,
            stored_order: None,
            aladin_url: None,
        }
    }

    /// Check the fields a caller could have set out of range (the command line checks them too).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.inputs.is_empty() {
            return Err(Error::invalid("--input", "no input given"));
        }
        if !(self.tile_width.is_power_of_two() && (64..=4096).contains(&self.tile_width)) {
            return Err(Error::invalid(
                "--tile-width",
                format!("tile width {} is not a power of two between 64 and 4096", self.tile_width),
            ));
        }
        if let Some(o) = self.order.filter(|o| !(3..=20).contains(o)) {
            return Err(Error::invalid("--order", format!("{o} is not in 3..=20")));
        }
        if let Some((i, n)) = self.shard.filter(|(i, n)| *n == 0 || i >= n) {
            return Err(Error::invalid("--shard", format!("shard {i}/{n}: need 0 <= I < N")));
        }
        if self.moc_extra > 9 {
            return Err(Error::invalid("--moc-extra", format!("{} is not in 0..=9", self.moc_extra)));
        }
        if self.stored_order.is_some() && !self.progenitors {
            return Err(Error::invalid(
                "--stored-order",
                "needs the progenitor index (drop --no-progenitors): the server finds the coadds through it",
            ));
        }
        if let (Some(m), Some(k)) = (self.stored_order, self.order) {
            if m >= k {
                return Err(Error::invalid("--stored-order", format!("{m} is not below the tile order {k}")));
            }
        }
        if self.threads == Some(0) {
            return Err(Error::invalid("--threads", "need at least one thread"));
        }
        Ok(())
    }
}

/// What a `tiles` job did.
#[derive(Debug, Clone)]
pub struct TilesReport {
    /// Inputs skipped (unreadable, bad WCS, all blank...), with the reasons.
    pub skipped: Vec<Skipped>,
    /// Inputs used.
    pub used: usize,
    /// Deepest order.
    pub order: u8,
    /// FITS tiles in the HiPS (all orders; this shard's only when sharded).
    pub tiles: u64,
    /// Deepest tiles rendered in this run (not read back by `--resume`), blank ones included.
    pub rendered: u64,
    /// Deepest tiles written in this run: the rendered ones that hold data.
    pub written: u64,
    /// Preview formats written next to the FITS tiles.
    pub previews: Vec<PreviewFormat>,
    /// Wall time of the job.
    pub elapsed: Duration,
    /// The order-3 subtrees (roots) this run built: all of them, or its shard's share.
    pub roots: Vec<u64>,
}

/// Record of the run kept in the output so resumed runs check they continue the same job.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct RunRecord {
    order: u8,
    width: usize,
    frame: String,
    interp: String,
    inputs: usize,
    creation_date: String,
    /// Preview formats drawn with the tiles (`None` in records written before previews were drawn in the same
    /// pass: their checkpoints are then not trusted when this run draws previews).
    #[serde(default)]
    previews: Option<Vec<String>>,
}

/// Run a `tiles` job, reporting progress in deepest tiles to `progress`.
///
/// # Errors
/// Fatal problems only: an invalid job, no usable input, output store failures, a resumed run whose parameters
/// differ. Inputs that fail are skipped and listed in the report.
pub fn run_tiles(job: &TilesJob, progress: &dyn Progress) -> Result<TilesReport, Error> {
    job.validate()?;
    match job.threads {
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|source| Error::Threads { threads, source })?
            .install(|| tiles_in_pool(job, progress)),
        None => tiles_in_pool(job, progress),
    }
}

fn tiles_in_pool(job: &TilesJob, progress: &dyn Progress) -> Result<TilesReport, Error> {
    let t0 = Instant::now();
    let frame = job.frame;
    let store = Store::open(&job.out)?;
    let inputs = plan::expand_inputs(&job.inputs)?;
    tracing::info!(inputs = inputs.len(), "opening inputs");
    let (coadds, mut skipped) = plan::open_all(&inputs, job.hdu.as_ref(), &job.planes);
    for s in &skipped {
        tracing::error!("skipping input: {}", s.reason);
    }
    let plan = Plan::new(coadds, std::mem::take(&mut skipped), job.order, job.tile_width, frame)?;
    skipped.clone_from(&plan.skipped);
    if let Some(m) = job.stored_order.filter(|&m| m >= plan.order || m + STORED_GAP_MAX < plan.order) {
        return Err(Error::invalid(
            "--stored-order",
            format!("{m} must be below the tile order {} by 1 to {STORED_GAP_MAX}", plan.order),
        ));
    }
    tracing::info!(order = plan.order, deepest_tiles = plan.tiles.len(), coadds = plan.coadds.len(), "planned");
    let (creation_date, trust_checkpoints) = record_run(&store, job, &plan)?;

    let opts = BuildOptions {
        interp: job.interp,
        resume: job.resume,
        shard: job.shard,
        progenitors: job.progenitors,
        moc_extra: job.moc_extra,
        previews: job.previews.clone(),
        trust_checkpoints,
        stored_order: job.stored_order,
    };
    let builder = Builder::new(&plan, &store, opts, progress);
    let roots = builder.roots();
    progress.set_total(builder.deep_count(&roots));
    let result = builder.run()?;
    skipped.extend(result.failed.iter().cloned());

    // Inputs skipped while rendering (unreadable, or no valid pixel) do not describe the HiPS.
    let failed: std::collections::HashSet<&str> = result.failed.iter().map(|f| f.input.as_str()).collect();
    let used: Vec<&Coadd> = plan.coadds.iter().filter(|c| !failed.contains(c.name.as_str())).collect();
    if job.shard.is_none() {
        let coverage = finalize::coverage_moc(&result.stats);
        let sky_fraction = finalize::write_moc(&store, &coverage, frame)?;
        finalize::write_allsky(&store, &result.allsky, plan.width)?;
        if let Some((spec, _)) = &result.previews {
            let (aw, ah, data) = finalize::allsky_array(&result.allsky, plan.width);
            for &f in &spec.formats {
                let bytes = crate::preview::try_encode_preview(f, &data, aw, ah, spec)?;
                store.put(&format!("Norder3/Allsky.{}", f.extension()), bytes)?;
            }
        }
        let d = Describe {
            id: job.id.clone().unwrap_or_else(|| default_id(job, &used)),
            title: job.title.clone().unwrap_or_else(|| default_title(job, &used)),
            band: job.band.clone().or_else(|| common_band(&used)),
            order: plan.order,
            width: plan.width,
            frame,
            data_bitpix: common_bitpix(&used),
            input_scale_deg: used.iter().map(|c| c.wcs.pixel_scale_deg()).fold(f64::INFINITY, f64::min),
            n_inputs: used.len(),
            initial: initial_view(&used),
            sampling: job.interp.name(),
            creation_date,
            formats: crate::preview::tile_format_value(&job.previews, true)
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            progenitors: job.progenitors,
            pixel_cut: result.previews.as_ref().map(|(_, text)| text.clone()),
            planes: job.planes.clone(),
            preview: result.previews.as_ref().map(|(spec, _)| (spec.stretch, spec.jpeg_quality)),
            stored_order: job.stored_order,
        };
        let props = finalize::write_properties(&store, &d, &result.stats, sky_fraction)?;
        if d.progenitors {
            finalize::write_hpxfinder_meta(&store, &d, &coverage)?;
        }
        crate::html::write_index_html(&store, &props, &crate::html::aladin_url(job.aladin_url.as_deref()))?;
    }
    Ok(TilesReport {
        skipped,
        used: used.len(),
        order: plan.order,
        tiles: result.stats.tiles,
        rendered: result.rendered,
        written: result.written,
        previews: job.previews.clone(),
        elapsed: t0.elapsed(),
        roots,
    })
}

/// Write (or, resuming, check) the run record; returns the HiPS creation date (kept across resumed runs) and whether
/// the checkpoints in the output hold the previews this run draws.
fn record_run(store: &Store, job: &TilesJob, plan: &Plan) -> Result<(String, bool), Error> {
    let previews: Vec<String> = job.previews.iter().map(|f| f.format_name().to_string()).collect();
    let mut trust_checkpoints = true;
    let record_key = format!("{STATE_DIR}/run.json");
    let mut record = RunRecord {
        order: plan.order,
        width: plan.width,
        frame: format!("{:?}", job.frame),
        interp: job.interp.name().to_string(),
        inputs: plan.coadds.len(),
        creation_date: finalize::now_hips_date(),
        previews: Some(previews.clone()),
    };
    if let Some(old) = store.get(&record_key)?.and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok()) {
        if job.resume || job.shard.is_some() {
            let same = old.order == record.order
                && old.width == record.width
                && old.frame == record.frame
                && old.interp == record.interp;
            if !same {
                let describe = |r: &RunRecord| {
                    format!("order {}, width {}, frame {}, {} sampling", r.order, r.width, r.frame, r.interp)
                };
                return Err(Error::ResumeMismatch {
                    location: store.location().to_string(),
                    started: describe(&old),
                    asked: describe(&record),
                });
            }
            record.creation_date = old.creation_date;
            trust_checkpoints = old.previews.unwrap_or_default() == previews;
        }
    }
    let bytes =
        serde_json::to_vec_pretty(&record).map_err(|source| Error::State { key: record_key.clone(), source })?;
    store.put(&record_key, bytes)?;
    Ok((record.creation_date, trust_checkpoints))
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// The value of `key` in every input's image header, when they all say the same (placeholders such as `_unknown_`
/// or `UNKNOWN` count as unsaid).
fn common_key(coadds: &[&Coadd], key: &str) -> Option<String> {
    let said = |c: &&Coadd| {
        c.image.header.get_str(key).map(|v| v.trim().to_string()).filter(|v| {
            !v.is_empty()
                && !v.starts_with('_')
                && !v.eq_ignore_ascii_case("unknown")
                && !v.eq_ignore_ascii_case("none")
        })
    };
    let first = said(coadds.first()?)?;
    coadds.iter().all(|c| said(c).as_deref() == Some(first.as_str())).then_some(first)
}

/// The facility of the inputs: TELESCOP and INSTRUME where every input says the same.
fn facility(coadds: &[&Coadd]) -> Option<String> {
    let parts: Vec<String> = ["TELESCOP", "INSTRUME"].iter().filter_map(|k| common_key(coadds, k)).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `ivo://hipsgen.local/P/<facility or output name>/<band>` (the output name again when neither band nor facility is
/// known from the inputs).
fn default_id(job: &TilesJob, coadds: &[&Coadd]) -> String {
    let base = slug(job.out.trim_end_matches('/').rsplit('/').next().unwrap_or("hips"));
    let band = job.band.clone().or_else(|| common_band(coadds));
    match (facility(coadds), band) {
        (Some(f), Some(b)) => format!("ivo://hipsgen.local/P/{}/{}", slug(&f), slug(&b)),
        (Some(f), None) => format!("ivo://hipsgen.local/P/{}/{base}", slug(&f)),
        (None, Some(b)) if !slug(&b).eq_ignore_ascii_case(&base) => {
            format!("ivo://hipsgen.local/P/{base}/{}", slug(&b))
        }
        (None, _) => format!("ivo://hipsgen.local/P/{base}"),
    }
}

/// A title from what the inputs say: facility (TELESCOP, INSTRUME), OBJECT and band, e.g. "SPITZER IRAC coadds of
/// M31, band I1"; "Coadd images" when they say nothing.
fn default_title(job: &TilesJob, coadds: &[&Coadd]) -> String {
    let mut t = facility(coadds).map_or_else(|| "Coadds".to_string(), |f| format!("{f} coadds"));
    if let Some(o) = common_key(coadds, "OBJECT") {
        t.push_str(" of ");
        t.push_str(&o);
    }
    match job.band.clone().or_else(|| common_band(coadds)) {
        Some(b) => {
            t.push_str(", band ");
            t.push_str(&b);
        }
        None if t == "Coadds" => return "Coadd images".to_string(),
        None => {}
    }
    t
}

fn common_band(coadds: &[&Coadd]) -> Option<String> {
    let first = coadds.first()?.band.clone()?;
    coadds.iter().all(|c| c.band.as_deref() == Some(first.as_str())).then_some(first)
}

fn common_bitpix(coadds: &[&Coadd]) -> i32 {
    let mut counts = std::collections::BTreeMap::new();
    for c in coadds {
        *counts.entry(c.bitpix()).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map_or(-32, |(b, _)| b)
}

/// Centre (ICRS) and field of view covering every input.
fn initial_view(coadds: &[&Coadd]) -> (f64, f64, f64) {
    let mut v = [0.0f64; 3];
    let mut pts = Vec::new();
    for c in coadds {
        for (lon, lat) in c.corners(Frame::Equatorial) {
            let (l, b) = (lon.to_radians(), lat.to_radians());
            let p = [b.cos() * l.cos(), b.cos() * l.sin(), b.sin()];
            v = [v[0] + p[0], v[1] + p[1], v[2] + p[2]];
            pts.push(p);
        }
    }
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if n < 1e-9 || pts.is_empty() {
        return (0.0, 0.0, 180.0);
    }
    let c = [v[0] / n, v[1] / n, v[2] / n];
    let ra = c[1].atan2(c[0]).to_degrees().rem_euclid(360.0);
    let dec = c[2].asin().to_degrees();
    let radius =
        pts.iter().map(|p| (p[0] * c[0] + p[1] * c[1] + p[2] * c[2]).clamp(-1.0, 1.0).acos()).fold(0.0, f64::max);
    (ra, dec, (2.2 * radius.to_degrees()).clamp(0.01, 180.0))
}
