//! `hipsgen` command line: `tiles` (coadds to a HiPS), `previews`, `color`, `synth` (LSST-like sample coadds),
//! `demo` (the embedded default job) and `lint` (conformance).
//!
//! `main` maps outcomes to exit codes: 0 success, 1 fatal error (the error chain is printed), 2 usage error (clap),
//! 3 finished but some inputs were skipped or the lint found problems.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc keeps freed tile-sized blocks for reuse; with glibc's allocator every 1 MiB tile buffer was returned to
/// the kernel and page-faulted (and zeroed) again: 13% of the CPU of `previews` (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Coadd FITS images to IVOA HiPS on object storage.
#[derive(Debug, Parser)]
#[command(name = "hipsgen", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Turn coadd images of one band into a complete HiPS (FITS tiles, every order to 0, Allsky, MOC, properties).
    Tiles(hipsgen::run::TilesArgs),
    /// Write LSST-like synthetic coadds (IMAGE/MASK/VARIANCE, TAN tract WCS, stars, NO_DATA) and a truth catalog.
    Synth(SynthArgs),
    /// Check a HiPS for conformance (properties, tiles, orders, Allsky, MOC); exit 0 when it holds.
    Lint(hipsgen::lint::LintArgs),
    /// Add PNG/JPEG previews (cut and stretch from the full-precision FITS tiles) to an existing FITS HiPS.
    Previews(hipsgen::preview::PreviewsArgs),
    /// Build a color HiPS (Lupton asinh or linear) from three band HiPS.
    Color(hipsgen::color::ColorArgs),
    /// The embedded default job: sample LSST-like coadds in g, r, i -> three band HiPS and a color HiPS.
    Demo(hipsgen::demo::DemoArgs),
}

/// Arguments of `hipsgen synth`.
#[derive(Debug, clap::Args)]
struct SynthArgs {
    /// Output directory (created).
    #[arg(long, short = 'o')]
    out: std::path::PathBuf,
    /// Bands, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "g,r,i")]
    bands: Vec<String>,
    /// Number of patches per band.
    #[arg(long, default_value_t = 4)]
    patches: usize,
    /// Patch width and height in pixels.
    #[arg(long, default_value_t = 1024)]
    patch_size: usize,
    /// Random seed (same seed, same files).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Pixel scale in arcseconds.
    #[arg(long, default_value_t = 0.2)]
    pixel_scale: f64,
    /// Overlap between neighbouring patches, pixels.
    #[arg(long, default_value_t = 100)]
    overlap: usize,
    /// Tract centre right ascension, degrees.
    #[arg(long, default_value_t = 150.0)]
    ra: f64,
    /// Tract centre declination, degrees.
    #[arg(long, default_value_t = 2.0)]
    dec: f64,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Tiles(args) => {
            let out = hipsgen::run::run_tiles(&args)?;
            Ok(if out.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
        Command::Synth(a) => {
            let cfg = hipsgen::synth::SynthConfig {
                bands: a.bands,
                patches: a.patches,
                patch_size: a.patch_size,
                seed: a.seed,
                pixel_scale_arcsec: a.pixel_scale,
                overlap: a.overlap,
                ra: a.ra,
                dec: a.dec,
            };
            let t0 = std::time::Instant::now();
            let s = hipsgen::synth::generate(&cfg, &a.out)?;
            eprintln!(
                "hipsgen synth: {} files, {} stars, truth catalog {} ({:.1} s)",
                s.files.len(),
                s.stars,
                s.truth_csv.display(),
                t0.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Previews(args) => hipsgen::preview::run_previews(&args),
        Command::Color(args) => hipsgen::color::run_color(&args),
        Command::Demo(args) => Ok(if hipsgen::demo::run_demo(&args)? { ExitCode::SUCCESS } else { ExitCode::from(3) }),
        Command::Lint(args) => {
            let report = hipsgen::lint::run_lint(&args)?;
            Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
    }
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("hipsgen: error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
