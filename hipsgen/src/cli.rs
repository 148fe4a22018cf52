//! The command-line layer: clap argument structs of every subcommand and their validation into jobs
//! (`TryFrom<...Args> for ...Job`). Nothing else in the library sees these structs.

use std::path::PathBuf;

use hips_core::coadd::HduSelector;
use hips_core::kernel::Interp;
use hips_core::wcs::Frame;

use crate::color::{per_band, ColorJob, ColorMethod, DEFAULT_Q, DEFAULT_STRETCH};
use crate::demo::DemoJob;
use crate::lint::LintJob;
use crate::preview::{PreviewFormat, PreviewsJob, Stretch, DEFAULT_JPEG_QUALITY};
use crate::run::TilesJob;
use crate::synth::{SynthConfig, SynthJob};
use crate::Error;

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
    /// Quality bits that blank a pixel: of an HST-style DQ plane (default: any bit), added to NO_DATA for an LSST
    /// MASK. Decimal or 0x hexadecimal.
    #[arg(long, value_parser = parse_bits)]
    pub bad_bits: Option<i64>,
    /// LSST mask planes (by name, from the MASK header's MP_* keys) that blank a pixel besides NO_DATA, e.g.
    /// BAD,SAT,CR.
    #[arg(long, value_delimiter = ',')]
    pub mask_planes: Vec<String>,
    /// Do not use a sibling weight map (`x.weight.fits` beside `x.fits`) as the noise plane of an image without one.
    #[arg(long)]
    pub no_sibling_weight: bool,
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
    /// Write tiles of orders 0..=M only (M below the tile order): hips_order stays the tile order, and hipsserve
    /// (with --coadd-root) renders the deeper tiles on demand from the coadds named by the progenitor index.
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u8).range(0..=19))]
    pub stored_order: Option<u8>,
    /// Aladin Lite script URL for index.html (default: $HIPS_ALADIN_URL, else the CDS CDN; set it for sites without
    /// outside access, e.g. to a copy of the npm package aladin-lite's dist/aladin.js).
    #[arg(long)]
    pub aladin_url: Option<String>,
}

fn parse_width(s: &str) -> Result<usize, String> {
    let w: usize = s.parse().map_err(|e| format!("{e}"))?;
    if w.is_power_of_two() && (64..=4096).contains(&w) {
        Ok(w)
    } else {
        Err(format!("tile width {w} is not a power of two between 64 and 4096"))
    }
}

fn parse_bits(s: &str) -> Result<i64, String> {
    hips_core::coadd::parse_bits(s).map_err(|e| format!("'{s}' is not a bit mask (decimal or 0x hexadecimal): {e}"))
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) = (i.parse().map_err(|e| format!("{e}"))?, n.parse().map_err(|e| format!("{e}"))?);
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N"));
    }
    Ok((i, n))
}

impl TryFrom<TilesArgs> for TilesJob {
    type Error = Error;

    fn try_from(a: TilesArgs) -> Result<Self, Error> {
        let mut previews = Vec::new();
        for f in &a.formats {
            if f == "fits" {
                continue;
            }
            let p = PreviewFormat::parse(f)
                .filter(|_| ["png", "jpeg", "jpg"].contains(&f.as_str()))
                .ok_or_else(|| Error::invalid("--formats", format!("unknown tile format {f:?} (fits, png, jpeg)")))?;
            if !previews.contains(&p) {
                previews.push(p);
            }
        }
        let job = TilesJob {
            inputs: a.input,
            out: a.out,
            band: a.band,
            id: a.id,
            title: a.title,
            order: a.order,
            tile_width: a.tile_width,
            frame: match a.frame {
                FrameArg::Equatorial => Frame::Equatorial,
                FrameArg::Galactic => Frame::Galactic,
            },
            hdu: a.hdu,
            planes: hips_core::coadd::PlaneOptions {
                bad_bits: a.bad_bits,
                mask_planes: a.mask_planes,
                no_sibling_weight: a.no_sibling_weight,
            },
            threads: a.threads,
            resume: a.resume,
            interp: a.interp,
            shard: a.shard,
            previews,
            progenitors: !a.no_progenitors,
            moc_extra: a.moc_extra,
            stored_order: a.stored_order,
            aladin_url: a.aladin_url,
        };
        job.validate()?;
        Ok(job)
    }
}

/// Arguments of `hipsgen previews`.
#[derive(Debug, Clone, clap::Args)]
pub struct PreviewsArgs {
    /// The FITS HiPS: a directory or an object-store URL (s3://, gs://, az://, file://).
    pub hips: String,
    /// Data values shown black and white (default: hips_pixel_cut, else hips_data_range, else the 0.5 and 99.5
    /// percentiles of Norder3/Allsky.fits). When given, hips_pixel_cut is updated to it.
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"], allow_negative_numbers = true)]
    pub cut: Option<Vec<f32>>,
    /// Transfer function between the cut values.
    #[arg(long, value_enum, default_value_t = Stretch::Linear)]
    pub stretch: Stretch,
    /// Preview formats to write.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [PreviewFormat::Png, PreviewFormat::Jpeg])]
    pub formats: Vec<PreviewFormat>,
    /// JPEG quality (1-100).
    #[arg(long, default_value_t = DEFAULT_JPEG_QUALITY, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: u8,
    /// Skip tiles whose previews already exist (to finish a killed run made with the same parameters).
    #[arg(long)]
    pub resume: bool,
    /// Aladin Lite script URL for index.html (default: $HIPS_ALADIN_URL, else the CDS CDN).
    #[arg(long)]
    pub aladin_url: Option<String>,
}

impl TryFrom<PreviewsArgs> for PreviewsJob {
    type Error = Error;

    fn try_from(a: PreviewsArgs) -> Result<Self, Error> {
        let cut = match a.cut.as_deref() {
            Some([lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => Some((*lo, *hi)),
            Some(c) => return Err(Error::invalid("--cut", format!("needs two finite values MIN < MAX, got {c:?}"))),
            None => None,
        };
        let mut formats = a.formats;
        formats.dedup();
        let job = PreviewsJob {
            hips: a.hips,
            cut,
            stretch: a.stretch,
            formats,
            jpeg_quality: a.jpeg_quality,
            resume: a.resume,
            aladin_url: a.aladin_url,
        };
        job.validate()?;
        Ok(job)
    }
}

/// Arguments of `hipsgen color`.
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
    #[arg(long, default_value_t = DEFAULT_Q)]
    pub q: f64,
    /// Lupton linear stretch (in scaled units, see --scale).
    #[arg(long, default_value_t = DEFAULT_STRETCH)]
    pub stretch: f64,
    /// Value shown black, one for all bands or R G B (default: each band's sky level, the median of a sample of its
    /// deepest tiles; hips_pixel_cut's low value when that cannot be measured).
    #[arg(long, num_args = 1..=3, allow_negative_numbers = true)]
    pub minimum: Option<Vec<f64>>,
    /// Linear method: value shown at full intensity, one or R G B (default: each band's hips_pixel_cut high value).
    #[arg(long, num_args = 1..=3, allow_negative_numbers = true)]
    pub maximum: Option<Vec<f64>>,
    /// Lupton: per-band multipliers applied after subtracting the minimum, one or R G B (default: the bands keep the
    /// balance of their hips_pixel_cut, k / (cut high - sky), with k set so that the bands' mean sky noise, 1.4826 x
    /// MAD on the sampled tiles, is 0.5 units: a dark sky with faint neutral noise).
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

impl TryFrom<ColorArgs> for ColorJob {
    type Error = Error;

    fn try_from(a: ColorArgs) -> Result<Self, Error> {
        let three = |name: &'static str, v: Option<Vec<f64>>| -> Result<Option<[f64; 3]>, Error> {
            v.map(|v| per_band(name, &v).map_err(|e| Error::invalid("--minimum/--maximum/--scale", e.to_string())))
                .transpose()
        };
        let mut formats = a.format;
        formats.dedup();
        let job = ColorJob {
            red: a.red,
            green: a.green,
            blue: a.blue,
            out: a.out,
            method: a.method,
            q: a.q,
            stretch: a.stretch,
            minimum: three("minimum", a.minimum)?,
            maximum: three("maximum", a.maximum)?,
            scale: three("scale", a.scale)?,
            formats,
            jpeg_quality: a.jpeg_quality,
            id: a.id,
            title: a.title,
            resume: a.resume,
            aladin_url: a.aladin_url,
        };
        job.validate()?;
        Ok(job)
    }
}

/// Arguments of `hipsgen lint`.
#[derive(Debug, Clone, clap::Args)]
pub struct LintArgs {
    /// The HiPS: a local directory or an object-store URL.
    pub location: String,
    /// Decode and check at most this many tiles (all tiles are always listed and placed).
    #[arg(long, default_value_t = 5000)]
    pub max_decoded: usize,
}

impl From<LintArgs> for LintJob {
    fn from(a: LintArgs) -> Self {
        LintJob { location: a.location, max_decoded: a.max_decoded }
    }
}

/// Arguments of `hipsgen synth`.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// Output directory (created).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Bands, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "g,r,i")]
    pub bands: Vec<String>,
    /// Number of patches per band.
    #[arg(long, default_value_t = 4)]
    pub patches: usize,
    /// Patch width and height in pixels.
    #[arg(long, default_value_t = 1024)]
    pub patch_size: usize,
    /// Random seed (same seed, same files).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Pixel scale in arcseconds.
    #[arg(long, default_value_t = 0.2)]
    pub pixel_scale: f64,
    /// Overlap between neighbouring patches, pixels.
    #[arg(long, default_value_t = 100)]
    pub overlap: usize,
    /// Tract centre right ascension, degrees.
    #[arg(long, default_value_t = 150.0)]
    pub ra: f64,
    /// Tract centre declination, degrees.
    #[arg(long, default_value_t = 2.0)]
    pub dec: f64,
}

impl TryFrom<SynthArgs> for SynthJob {
    type Error = Error;

    fn try_from(a: SynthArgs) -> Result<Self, Error> {
        let config = SynthConfig {
            bands: a.bands,
            patches: a.patches,
            patch_size: a.patch_size,
            seed: a.seed,
            pixel_scale_arcsec: a.pixel_scale,
            overlap: a.overlap,
            ra: a.ra,
            dec: a.dec,
        };
        // The tract geometry checks the configuration (sizes, overlap, scale).
        crate::synth::Tract::new(&config).map_err(|e| Error::invalid("synth configuration", e.to_string()))?;
        Ok(SynthJob { config, out: a.out })
    }
}

/// Arguments of `hipsgen demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Output directory (object store root): coadds/ and one HiPS per band plus color/.
    #[arg(long, short = 'o', default_value = "hips-demo")]
    pub out: PathBuf,
    /// Patches per band.
    #[arg(long, default_value_t = 4)]
    pub patches: usize,
    /// Patch size in pixels.
    #[arg(long, default_value_t = 2048)]
    pub patch_size: usize,
    /// Aladin Lite script URL for the index.html pages (default: $HIPS_ALADIN_URL, else the CDS CDN).
    #[arg(long)]
    pub aladin_url: Option<String>,
}

impl From<DemoArgs> for DemoJob {
    fn from(a: DemoArgs) -> Self {
        DemoJob { out: a.out, patches: a.patches, patch_size: a.patch_size, aladin_url: a.aladin_url }
    }
}

/// Arguments of `hipsgen release`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// The release configuration (see config/release.toml; `HIPSGEN_<SECTION>_<KEY>` variables override it).
    #[arg(long, global = true, default_value = "release.toml")]
    pub config: PathBuf,
    /// Print the resolved configuration (file plus environment) and stop.
    #[arg(long, global = true)]
    pub print_config: bool,
    /// The step.
    #[command(subcommand)]
    pub step: ReleaseStep,
}

/// Scheduler of `release submit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Slurm job arrays and dependent jobs (sbatch).
    Slurm,
    /// Kubernetes Indexed Jobs (manifests on stdout).
    Kubernetes,
}

/// The steps of `hipsgen release`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ReleaseStep {
    /// Per HiPS and order: tiles, bytes and estimated CPU time, before any work.
    Plan,
    /// Everything in this process: every shard in turn, finalize, publish.
    Run {
        /// Stop after finalize (publish later with `release publish`).
        #[arg(long)]
        no_publish: bool,
    },
    /// Submit the release to a scheduler (prints the job ids).
    Submit {
        /// The scheduler.
        #[arg(long, value_enum, default_value_t = Engine::Slurm)]
        engine: Engine,
        /// Print the scripts (Slurm) instead of submitting them.
        #[arg(long)]
        dry_run: bool,
        /// Stop after finalize.
        #[arg(long)]
        no_publish: bool,
    },
    /// Which shards of which HiPS are done, from the markers in storage.
    Status,
    /// Build one shard of a band HiPS and write its completion marker (what the scheduler's tasks run).
    Shard {
        /// The band HiPS.
        #[arg(long)]
        hips: String,
        /// The shard (default: $JOB_COMPLETION_INDEX, else $SLURM_ARRAY_TASK_ID).
        #[arg(long)]
        index: Option<usize>,
    },
    /// Finalize one HiPS (`--hips`) or everything that is ready and then the release (hipslist, manifest).
    Finalize {
        /// Only this HiPS.
        #[arg(long)]
        hips: Option<String>,
        /// Wait (polling storage every few seconds) until the shards or HiPS it needs are done.
        #[arg(long)]
        wait: bool,
        /// Publish the release afterwards (with no `--hips`).
        #[arg(long)]
        publish: bool,
    },
    /// Make the finalized release of the configuration current (atomic).
    Publish {
        /// Take over the publish lease `publish.lock` even if it has not expired (only once no publisher runs).
        #[arg(long)]
        break_lock: bool,
    },
    /// Make an earlier finalized release current again.
    Rollback {
        /// The release id.
        #[arg(long)]
        to: String,
        /// As `publish --break-lock`.
        #[arg(long)]
        break_lock: bool,
    },
}
