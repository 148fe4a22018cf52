//! `moc-tools from-hips`: coverage of a HiPS (directory or URL) from its deepest tiles, in the HiPS's frame.

use super::{write_moc, OutArgs};
use anyhow::Result;

/// Arguments of `from-hips`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// HiPS directory or URL.
    hips: String,
    /// MOC order (default: the tile pixel order hips_order + log2(hips_tile_width)).
    #[arg(long)]
    order: Option<u8>,
    #[command(flatten)]
    out: OutArgs,
}

/// Run `from-hips`.
pub(super) fn exec(a: Args) -> Result<()> {
    let (moc, sys) = moc_tools::hips::from_hips(&a.hips, a.order)?;
    write_moc(&moc, sys, &a.out)
}
