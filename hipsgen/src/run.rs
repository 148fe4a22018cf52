//! The `tiles` command: plan, build the pyramid, then write the describing files. Inputs that fail are reported and
//! skipped; the outcome says so, and the exit code follows.

use std::io::IsTerminal;
use std::time::Instant;

use hips_core::coadd::{Coadd, HduSelector};
use hips_core::kernel::Interp;
use hips_core::storage::Store;
use hips_core::wcs::Frame;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::build::{BuildOptions, Builder, STATE_DIR};
use crate::finalize::{self, Describe};
use crate::plan::{self, Plan, Skipped};

/// Frame of the output HiPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FrameArg {
    /// ICRS equatorial.
    Equatorial,
    /// Galactic.
    Galactic,
}

/// Arguments of `hipsgen tiles`.
#[derive(Debug, Clone, clap::Args)]
pub struct TilesArgs {
    /// Input coadds: FITS paths, globs (quote them), directories (searched for *.fits) or URLs (s3://, gs://,
    /// az://, http(s)://, memory://). Read by byte range.
    #[arg(long, short = 'i', num_args = 1.., required = true)]
    pub input: Vec<String>,
    /// Output HiPS: a local directory or an object-store URL (s3://bucket/prefix, gs://, az://, memory://).
    #[arg(long, short = 'o')]
    pub out: String,
    /// Band name (g, r, i, ...): used in the title, em_min/em_max and obs_regime.
    #[arg(long)]
    pub band: Option<String>,
    /// creator_did of the HiPS (an IVOID, ivo://AUTHORITY/P/...). Default derived from the band or output name.
    #[arg(long)]
    pub id: Option<String>,
    /// obs_title of the HiPS.
    #[arg(long)]
    pub title: Option<String>,
    /// Deepest order. Default: the smallest order whose pixels are not coarser than the finest input pixels by
    /// more than 5% (0.2"/px -> 11 with 512-px tiles), at least 3.
    #[arg(long, value_parser = clap::value_parser!(u8).range(3..=20))]
    pub order: Option<u8>,
    /// Tile width in pixels: a power of two from 64 to 4096.
    #[arg(long, default_value_t = 512, value_parser = parse_width)]
    pub tile_width: usize,
    /// Frame of the HiPS.
    #[arg(long, value_enum, default_value_t = FrameArg::Equatorial)]
    pub frame: FrameArg,
    /// Image HDU to use (index, 0 = primary, or EXTNAME/EXTTYPE). Default: the HDU named IMAGE (with MASK and
    /// VARIANCE planes when present), else the first 2-D image.
    #[arg(long)]
    pub hdu: Option<HduSelector>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Keep tiles and checkpoints already in the output and do only the rest; the result is identical to a clean run.
    #[arg(long)]
    pub resume: bool,
    /// Interpolation: bilinear, nearest or lanczos3.
    #[arg(long, default_value = "bilinear")]
    pub interp: Interp,
    /// Build only shard I of N (`I/N`, 0-based) of the order-3 subtrees; then run once more without --shard and with
    /// --resume to finish (lower orders, Allsky, MOC, properties).
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Tile formats: fits plus optional png and jpeg previews (drawn from the FITS values).
    #[arg(long, value_delimiter = ',', default_value = "fits")]
    pub formats: Vec<String>,
    /// Do not write the HpxFinder progenitor index.
    #[arg(long)]
    pub no_progenitors: bool,
    /// Coverage (Moc.fits) order above the tile order.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub moc_extra: u8,
}

fn parse_width(s: &str) -> Result<usize, String> {
    let w: usize = s.parse().map_err(|e| format!("{e}"))?;
    if w.is_power_of_two() && (64..=4096).contains(&w) {
        Ok(w)
    } else {
        Err(format!("tile width {w} is not a power of two between 64 and 4096"))
    }
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) = (i.parse().map_err(|e| format!("{e}"))?, n.parse().map_err(|e| format!("{e}"))?);
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// What a run did.
#[derive(Debug)]
pub struct Outcome {
    /// Inputs skipped (unreadable, bad WCS, all blank...).
    pub skipped: Vec<Skipped>,
    /// Deepest order.
    pub order: u8,
    /// Tiles written in total (all orders).
    pub tiles: u64,
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
}

/// Run `hipsgen tiles`.
///
/// # Errors
/// Fatal problems only: no usable input, output store failures, a resumed run whose parameters differ.
pub fn run_tiles(args: &TilesArgs) -> anyhow::Result<Outcome> {
    let t0 = Instant::now();
    if let Some(n) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    let frame = match args.frame {
        FrameArg::Equatorial => Frame::Equatorial,
        FrameArg::Galactic => Frame::Galactic,
    };
    for f in &args.formats {
        if !["fits", "png", "jpeg", "jpg"].contains(&f.as_str()) {
            anyhow::bail!("unknown tile format {f:?} (fits, png, jpeg)");
        }
    }
    let store = Store::open(&args.out)?;
    let inputs = plan::expand_inputs(&args.input)?;
    tracing::info!(inputs = inputs.len(), "opening inputs");
    let (coadds, mut skipped) = plan::open_all(&inputs, args.hdu.as_ref());
    for s in &skipped {
        tracing::error!("skipping input: {}", s.reason);
    }
    let plan = Plan::new(coadds, std::mem::take(&mut skipped), args.order, args.tile_width, frame)?;
    skipped = plan.skipped.clone();
    tracing::info!(order = plan.order, deepest_tiles = plan.tiles.len(), coadds = plan.coadds.len(), "planned");

    let record_key = format!("{STATE_DIR}/run.json");
    let mut record = RunRecord {
        order: plan.order,
        width: plan.width,
        frame: format!("{frame:?}"),
        interp: args.interp.name().to_string(),
        inputs: plan.coadds.len(),
        creation_date: finalize::now_hips_date(),
    };
    if let Some(old) = store.get(&record_key)?.and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok()) {
        if args.resume || args.shard.is_some() {
            let same = old.order == record.order
                && old.width == record.width
                && old.frame == record.frame
                && old.interp == record.interp;
            if !same {
                anyhow::bail!(
                    "{}: the output was started with order {}, width {}, frame {}, {} sampling; this run asks for order {}, width {}, frame {}, {} sampling",
                    store.location(), old.order, old.width, old.frame, old.interp, record.order, record.width, record.frame, record.interp
                );
            }
            record.creation_date = old.creation_date;
        }
    }
    store.put(&record_key, serde_json::to_vec_pretty(&record)?)?;

    let opts = BuildOptions {
        interp: args.interp,
        resume: args.resume,
        shard: args.shard,
        progenitors: !args.no_progenitors,
        moc_extra: args.moc_extra,
    };
    let progress = ProgressBar::with_draw_target(
        Some(0),
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
    );
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} deepest tiles ({per_sec}, ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let builder = Builder::new(&plan, &store, opts, progress.clone());
    progress.set_length(builder.deep_count(&builder.roots()));
    let result = builder.run()?;
    skipped.extend(result.failed.iter().cloned());

    // Inputs skipped while rendering (unreadable, or no valid pixel) do not describe the HiPS.
    let failed: std::collections::HashSet<&str> = result.failed.iter().map(|f| f.input.as_str()).collect();
    let used: Vec<&Coadd> = plan.coadds.iter().filter(|c| !failed.contains(c.name.as_str())).collect();
    if args.shard.is_none() {
        let coverage = finalize::coverage_moc(&result.stats);
        let sky_fraction = finalize::write_moc(&store, &coverage, frame)?;
        finalize::write_allsky(&store, &result.allsky, plan.width)?;
        let formats: Vec<String> = vec!["fits".into()];
        let d = Describe {
            id: args.id.clone().unwrap_or_else(|| default_id(args)),
            title: args.title.clone().unwrap_or_else(|| default_title(args)),
            band: args.band.clone().or_else(|| common_band(&used)),
            order: plan.order,
            width: plan.width,
            frame,
            data_bitpix: common_bitpix(&used),
            input_scale_deg: used.iter().map(|c| c.wcs.pixel_scale_deg()).fold(f64::INFINITY, f64::min),
            n_inputs: used.len(),
            initial: initial_view(&used),
            sampling: args.interp.name(),
            creation_date: record.creation_date.clone(),
            formats: formats.clone(),
            progenitors: !args.no_progenitors,
        };
        let props = finalize::write_properties(&store, &d, &result.stats, sky_fraction)?;
        if d.progenitors {
            finalize::write_hpxfinder_meta(&store, &d, &coverage)?;
        }
        let previews: Vec<&str> = args.formats.iter().map(String::as_str).filter(|f| *f != "fits").collect();
        crate::write_index_html(&store, &props)?;
        if !previews.is_empty() {
            crate::previews_for_tiles(&store, &previews)?;
        }
    }
    let tiles = result.stats.tiles;
    eprintln!(
        "hipsgen tiles: {} input(s) used, {} skipped; order {}; {} tiles ({} deepest rendered this run); {:.1} s",
        used.len(),
        skipped.len(),
        plan.order,
        tiles,
        result.rendered,
        t0.elapsed().as_secs_f64()
    );
    for s in &skipped {
        eprintln!("  skipped: {}", s.reason);
    }
    Ok(Outcome { skipped, order: plan.order, tiles })
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn default_id(args: &TilesArgs) -> String {
    let base = args.out.trim_end_matches('/').rsplit('/').next().unwrap_or("hips").to_string();
    match &args.band {
        Some(b) => format!("ivo://hipsgen.local/P/{}/{}", slug(&base), slug(b)),
        None => format!("ivo://hipsgen.local/P/{}", slug(&base)),
    }
}

fn default_title(args: &TilesArgs) -> String {
    match &args.band {
        Some(b) => format!("Coadds, band {b}"),
        None => "Coadd images".to_string(),
    }
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
