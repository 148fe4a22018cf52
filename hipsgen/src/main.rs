//! `hipsgen` command line: `tiles` (coadds to a HiPS), `previews`, `color`, `synth` (LSST-like sample coadds),
//! `demo` (the embedded default job), `lint` (conformance) and `release` (a whole data release).
//!
//! The binary parses arguments, validates them into jobs (`hipsgen::cli`), runs the library's job, draws the progress
//! bar, prints the report, and maps it to the exit code: 0 success, 1 fatal error (the error chain is printed once),
//! 2 usage error (clap, or a job value that does not hold), 3 finished but some inputs were skipped or the lint found
//! problems. `previews` and `color` exit 1 when some tiles failed (each failure is printed).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hipsgen::cli::{ColorArgs, DemoArgs, LintArgs, PreviewsArgs, ReleaseArgs, SynthArgs, TilesArgs};
use hipsgen::{Error, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
    Tiles(TilesArgs),
    /// Write LSST-like synthetic coadds (IMAGE/MASK/VARIANCE, TAN tract WCS, stars, NO_DATA) and a truth catalog.
    Synth(SynthArgs),
    /// Check a HiPS for conformance (properties, tiles, orders, Allsky, MOC); exit 0 when it holds.
    Lint(LintArgs),
    /// Add PNG/JPEG previews (cut and stretch from the full-precision FITS tiles) to an existing FITS HiPS.
    Previews(PreviewsArgs),
    /// Build a color HiPS (Lupton asinh or linear) from three band HiPS.
    Color(ColorArgs),
    /// The embedded default job: sample LSST-like coadds in g, r, i -> three band HiPS and a color HiPS.
    Demo(DemoArgs),
    /// A data release from one configuration: plan, run, submit (Slurm, Kubernetes), status, finalize, publish,
    /// rollback.
    Release(ReleaseArgs),
}

/// The progress bar of the deepest tiles, drawn on stderr when it is a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let target =
            if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} deepest tiles ({rate}, ETA {eta})")
                .map_or_else(
                    |_| ProgressStyle::default_bar(),
                    |s| {
                        s.with_key("rate", |st: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.0}/s", st.per_sec());
                        })
                    },
                ),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn set_total(&self, total: u64) {
        self.0.reset();
        self.0.set_length(total);
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(hips_core::term::stderr_colour())
        .try_init();
}

fn print_tiles(r: &hipsgen::run::TilesReport) {
    let blank = r.rendered.saturating_sub(r.written);
    eprintln!(
        "hipsgen tiles: {} input(s) used, {} skipped; order {}; {} tiles in the HiPS (all orders); this run wrote {} \
         order-{} tiles ({} rendered, {} of them blank and not written); {:.1} s",
        r.used,
        r.skipped.len(),
        r.order,
        r.tiles,
        r.written,
        r.order,
        r.rendered,
        blank,
        r.elapsed.as_secs_f64()
    );
    for s in &r.skipped {
        eprintln!("  skipped: {}", s.reason);
    }
}

/// Exit code of a step that went on past per-tile failures: each is printed, and any makes the code 1.
fn failures_code(failures: &[String]) -> ExitCode {
    for f in failures {
        eprintln!("error: {f}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Tiles(args) => {
            let bar = Bar::new();
            let report = hipsgen::run::run_tiles(&args.try_into()?, &bar)?;
            drop(bar);
            print_tiles(&report);
            Ok(if report.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
        Command::Synth(args) => {
            let t0 = std::time::Instant::now();
            let s = hipsgen::synth::run_synth(&args.try_into()?)?;
            eprintln!(
                "hipsgen synth: {} files, {} stars, truth catalog {} ({:.1} s)",
                s.files.len(),
                s.stars,
                s.truth_csv.display(),
                t0.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Previews(args) => Ok(failures_code(&hipsgen::preview::run_previews(&args.try_into()?)?.failures)),
        Command::Color(args) => Ok(failures_code(&hipsgen::color::run_color(&args.try_into()?)?.failures)),
        Command::Demo(args) => {
            let job: hipsgen::demo::DemoJob = args.into();
            eprintln!(
                "hipsgen demo: writing {} patches x {} bands of {}^2 px to {}",
                job.patches,
                hipsgen::demo::DEMO_BANDS.len(),
                job.patch_size,
                job.out.join("coadds").display()
            );
            let bar = Bar::new();
            let report = hipsgen::demo::run_demo(&job, &bar)?;
            drop(bar);
            for b in &report.bands {
                print_tiles(b);
            }
            // The coadds root gives SODA cutouts and coadd identifiers in /progenitors.
            eprintln!(
                "hipsgen demo: done. Serve it with: hipsserve --root {} --coadd-root {}",
                job.out.display(),
                job.out.join("coadds").display()
            );
            Ok(if report.all_used() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
        Command::Release(args) => match hipsgen::release::command::exec(&args) {
            Ok(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("hipsgen: error: {}", hipsgen::error_chain(&e));
                Ok(
                    if matches!(
                        e,
                        hipsgen::release::ReleaseError::Config { .. }
                            | hipsgen::release::ReleaseError::ConfigFile { .. }
                    ) {
                        ExitCode::from(2)
                    } else {
                        ExitCode::FAILURE
                    },
                )
            }
        },
        Command::Lint(args) => {
            let job: hipsgen::lint::LintJob = args.into();
            let r = hipsgen::lint::run_lint(&job)?;
            for e in &r.errors {
                println!("ERROR   {e}");
            }
            for w in &r.warnings {
                println!("WARNING {w}");
            }
            let orders: Vec<String> = r.tiles_per_order.iter().map(|(o, n)| format!("{o}:{n}")).collect();
            println!(
                "{}: {} error(s), {} warning(s); tiles per order {}",
                job.location,
                r.errors.len(),
                r.warnings.len(),
                orders.join(" ")
            );
            Ok(if r.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
    }
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hipsgen: error: {}", hipsgen::error_chain(&e));
            if e.is_usage() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
