//! Argument definitions shared by the subcommands, and MOC input/output helpers (format sniffing on read,
//! format from `--format` or the file extension on write).

mod check;
mod construct;
mod convert;
mod diff;
mod from_hips;
mod from_images;
mod info;
mod setops;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use moc_tools::{CoordSys, FitsOrdering, SMoc};
use std::process::ExitCode;

/// An argument value that does not hold (exit code 2, like clap's own usage errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub String);

/// Return early with a [`Usage`] error.
macro_rules! usage {
    ($($t:tt)*) => { return Err($crate::cli::Usage(format!($($t)*)).into()) };
}
pub(crate) use usage;

/// Build, combine, convert and check IVOA MOC coverage maps.
#[derive(Debug, Parser)]
#[command(name = "moc-tools", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Coverage of the valid pixels of FITS images (files, globs or URLs).
    FromImages(from_images::Args),
    /// Coverage of a HiPS from its deepest tiles.
    FromHips(from_hips::Args),
    /// MOC from HEALPix NESTED cells at one order (arguments, or stdin when none).
    FromCells(construct::CellsArgs),
    /// MOC of a cone: RA DEC RADIUS in degrees.
    FromCone(construct::ConeArgs),
    /// MOC of a polygon: RA1 DEC1 RA2 DEC2 ... in degrees.
    FromPolygon(construct::PolygonArgs),
    /// Union of MOCs.
    Union(setops::ManyArgs),
    /// Intersection of MOCs.
    Intersection(setops::ManyArgs),
    /// First MOC minus all the others.
    Difference(setops::ManyArgs),
    /// Complement of a MOC over the whole sky.
    Complement(setops::OneArgs),
    /// Degrade a MOC to a coarser order.
    Degrade(setops::DegradeArgs),
    /// Order, number of cells, sky fraction, area and bounding region of a MOC.
    Info(info::Args),
    /// Convert between MOC serializations (FITS MOC 1.0/2.0 in, MOC 2.0 FITS/ASCII/JSON out).
    Convert(convert::Args),
    /// What NEW adds to and removes from OLD, as areas and optionally MOCs.
    Diff(diff::Args),
    /// Validate a MOC FITS file's keywords and content.
    Check(check::Args),
}

/// Output serialization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// IVOA MOC 2.0 FITS.
    Fits,
    /// IVOA MOC 2.0 ASCII.
    Ascii,
    /// JSON (Aladin / mocpy).
    Json,
}

/// Output options shared by every command that writes a MOC.
#[derive(Debug, clap::Args)]
pub(crate) struct OutArgs {
    /// Output file (`-` for stdout with ASCII/JSON).
    #[arg(short = 'o', long = "out")]
    out: String,
    /// Output format (default: from the extension: .json, .txt/.ascii, else FITS).
    #[arg(long)]
    format: Option<Format>,
    /// FITS table ordering.
    #[arg(long, value_enum, default_value = "nuniq")]
    ordering: OrderingArg,
}

/// FITS ordering on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OrderingArg {
    /// One NUNIQ value per cell.
    Nuniq,
    /// Order-29 ranges.
    Range,
}

/// Frame on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FrameArg {
    /// ICRS (COORDSYS = C).
    Equatorial,
    /// Galactic (COORDSYS = G).
    Galactic,
}

impl FrameArg {
    fn sys(self) -> CoordSys {
        match self {
            FrameArg::Equatorial => CoordSys::Icrs,
            FrameArg::Galactic => CoordSys::Galactic,
        }
    }
}

/// Run the parsed command line.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::FromImages(a) => from_images::exec(a),
        Cmd::FromHips(a) => from_hips::exec(a),
        Cmd::FromCells(a) => construct::exec_cells(a),
        Cmd::FromCone(a) => construct::exec_cone(a),
        Cmd::FromPolygon(a) => construct::exec_polygon(a),
        Cmd::Union(a) => setops::exec_many(a, setops::Op::Union),
        Cmd::Intersection(a) => setops::exec_many(a, setops::Op::Intersection),
        Cmd::Difference(a) => setops::exec_many(a, setops::Op::Difference),
        Cmd::Complement(a) => setops::exec_complement(a),
        Cmd::Degrade(a) => setops::exec_degrade(a),
        Cmd::Info(a) => info::exec(a),
        Cmd::Convert(a) => convert::exec(a),
        Cmd::Diff(a) => diff::exec(a),
        Cmd::Check(a) => check::exec(a),
    }
    .map(|()| ExitCode::SUCCESS)
    .or_else(|e| {
        if e.downcast_ref::<check::Defects>().is_some() {
            eprintln!("moc-tools: {e}");
            return Ok(ExitCode::from(3));
        }
        Err(e)
    })
}

/// The exit code of an error: 2 when an argument value does not hold, 1 for anything that failed at run time.
pub(crate) fn exit_code(e: &anyhow::Error) -> ExitCode {
    let usage = e.chain().any(|c| {
        c.downcast_ref::<Usage>().is_some() || matches!(c.downcast_ref(), Some(moc_tools::MocError::BadArgument(_)))
    });
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// Read all bytes of a path or URL.
pub(crate) fn read_bytes(location: &str) -> Result<Vec<u8>> {
    if !hips_core::storage::is_url(location) {
        let p = location.strip_prefix("file://").unwrap_or(location);
        return std::fs::read(p).with_context(|| format!("cannot read {p}"));
    }
    let src = hips_core::fits::open_source(location).with_context(|| format!("cannot open {location}"))?;
    let n = src.len().with_context(|| format!("cannot read {location}"))?;
    let n = usize::try_from(n).with_context(|| format!("{location} is too large"))?;
    src.read_at(0, n).with_context(|| format!("cannot read {location}"))
}

/// Read a MOC in any supported serialization (FITS sniffed by its SIMPLE card, JSON by '{', else ASCII).
pub(crate) fn read_moc(location: &str) -> Result<(SMoc, CoordSys)> {
    let bytes = read_bytes(location)?;
    parse_moc(location, &bytes)
}

/// Parse MOC bytes in any supported serialization.
pub(crate) fn parse_moc(name: &str, bytes: &[u8]) -> Result<(SMoc, CoordSys)> {
    if bytes.starts_with(b"SIMPLE") {
        return moc_tools::from_fits_bytes(bytes).with_context(|| format!("{name}: cannot read the MOC"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{name}: not a MOC (neither FITS nor UTF-8 ASCII/JSON text)"))?;
    let t = text.trim_start();
    let moc = if t.starts_with('{') {
        moc_tools::text::from_json(t)
    } else if t.starts_with('s') || t.starts_with(|c: char| c.is_ascii_digit()) {
        moc_tools::text::from_ascii(t)
    } else {
        bail!("{name}: not a MOC (neither FITS, JSON nor IVOA ASCII)")
    };
    Ok((moc.with_context(|| format!("{name}: cannot read the MOC"))?, CoordSys::Icrs))
}

/// Write a MOC according to the output options.
pub(crate) fn write_moc(moc: &SMoc, sys: CoordSys, out: &OutArgs) -> Result<()> {
    let fmt = out.format.unwrap_or_else(|| format_of(&out.out));
    let ordering = match out.ordering {
        OrderingArg::Nuniq => FitsOrdering::Nuniq,
        OrderingArg::Range => FitsOrdering::Range,
    };
    write_moc_to(moc, sys, &out.out, fmt, ordering)
}

/// The format implied by a file name.
#[allow(clippy::case_sensitive_file_extension_comparisons, reason = "the name is lower-cased first")]
pub(crate) fn format_of(path: &str) -> Format {
    let l = path.to_ascii_lowercase();
    if l.ends_with(".json") {
        Format::Json
    } else if l.ends_with(".txt") || l.ends_with(".ascii") || l == "-" {
        Format::Ascii
    } else {
        Format::Fits
    }
}

/// Write a MOC to `path` in `fmt`.
pub(crate) fn write_moc_to(moc: &SMoc, sys: CoordSys, path: &str, fmt: Format, ordering: FitsOrdering) -> Result<()> {
    let bytes = match fmt {
        Format::Fits => moc_tools::to_fits_bytes_with(moc, sys, ordering)?,
        Format::Ascii => moc_tools::text::to_ascii(moc).into_bytes(),
        Format::Json => moc_tools::text::to_json(moc).into_bytes(),
    };
    if fmt != Format::Fits && sys != CoordSys::Icrs {
        eprintln!("moc-tools: note: ASCII/JSON MOCs carry no frame; this one is {}", sys.name());
    }
    if path == "-" {
        if fmt == Format::Fits {
            usage!("refusing to write FITS to stdout; give a file name");
        }
        std::io::Write::write_all(&mut std::io::stdout(), &bytes).context("cannot write to stdout")?;
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {path}"))
}
