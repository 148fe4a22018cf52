//! `moc-tools from-images`: coverage of the valid pixels of FITS images (paths, globs or URLs).

use super::{write_moc, FrameArg, OutArgs};
use anyhow::{bail, Context, Result};
use hips_core::coadd::HduSelector;
use moc_tools::images::{from_images, ImageMode, ImageOptions};

/// Arguments of `from-images`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// FITS files, glob patterns or URLs.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// HEALPix order of the MOC.
    #[arg(long)]
    order: u8,
    /// Frame of the MOC (image positions are converted). Default: equatorial, whatever the images' frame.
    #[arg(long, value_enum, default_value = "equatorial")]
    frame: FrameArg,
    /// exact: one cell per valid pixel; polygon: coverage of the image outline (fast, blanks ignored).
    #[arg(long, value_enum, default_value = "exact")]
    mode: ModeArg,
    /// Image HDU (index or EXTNAME/EXTTYPE); default IMAGE, else the first image.
    #[arg(long)]
    hdu: Option<HduSelector>,
    #[command(flatten)]
    out: OutArgs,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ModeArg {
    /// Every valid pixel.
    Exact,
    /// Image outline polygon.
    Polygon,
}

/// Expand globs (patterns with * ? [) into sorted file lists; URLs and plain names pass through.
pub(super) fn expand(inputs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for i in inputs {
        if hips_core::storage::is_url(i) || !i.contains(['*', '?', '[']) {
            out.push(i.clone());
            continue;
        }
        let mut found: Vec<String> = glob::glob(i)
            .with_context(|| format!("bad glob pattern {i}"))?
            .filter_map(std::result::Result::ok)
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if found.is_empty() {
            bail!("glob pattern {i} matches no file");
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Run `from-images`.
pub(super) fn exec(a: Args) -> Result<()> {
    let files = expand(&a.inputs)?;
    let opts = ImageOptions {
        order: a.order,
        frame: a.frame.sys(),
        mode: if a.mode == ModeArg::Exact { ImageMode::Exact } else { ImageMode::Polygon },
        hdu: a.hdu,
        rows_per_strip: 64,
    };
    let moc = from_images(&files, &opts)?;
    write_moc(&moc, opts.frame, &a.out)
}
