//! `moc-tools diff`: what a new release adds and removes, as areas and (with `-o PREFIX`) as MOC files.

use super::{read_moc, write_moc_to, Format};
use anyhow::{bail, Result};
use moc_tools::{area_deg2, ops, FitsOrdering};

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The old release's MOC.
    old: String,
    /// The new release's MOC.
    new: String,
    /// Write PREFIX-added.fits and PREFIX-removed.fits.
    #[arg(short = 'o', long = "out")]
    out: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Run `diff`.
pub(super) fn exec(a: Args) -> Result<()> {
    let (old, s0) = read_moc(&a.old)?;
    let (new, s1) = read_moc(&a.new)?;
    if s0 != s1 {
        bail!("coordinate system mismatch: {} is {} but {} is {}", a.old, s0.name(), a.new, s1.name());
    }
    let d = ops::release_diff(&old, &new);
    let (ad, rm, kept) = (area_deg2(&d.added), area_deg2(&d.removed), area_deg2(&d.kept));
    if a.json {
        let v = serde_json::json!({
            "old": a.old, "new": a.new,
            "old_area_deg2": area_deg2(&old), "new_area_deg2": area_deg2(&new),
            "added_area_deg2": ad, "removed_area_deg2": rm, "kept_area_deg2": kept,
            "added_cells": moc_tools::cells(&d.added).len(), "removed_cells": moc_tools::cells(&d.removed).len(),
        });
        println!("{v}");
    } else {
        println!("old:     {:.6} deg^2 ({})", area_deg2(&old), a.old);
        println!("new:     {:.6} deg^2 ({})", area_deg2(&new), a.new);
        println!("added:   {ad:.6} deg^2 in {} cells", moc_tools::cells(&d.added).len());
        println!("removed: {rm:.6} deg^2 in {} cells", moc_tools::cells(&d.removed).len());
        println!("kept:    {kept:.6} deg^2");
    }
    if let Some(p) = a.out {
        write_moc_to(&d.added, s0, &format!("{p}-added.fits"), Format::Fits, FitsOrdering::Nuniq)?;
        write_moc_to(&d.removed, s0, &format!("{p}-removed.fits"), Format::Fits, FitsOrdering::Nuniq)?;
    }
    Ok(())
}
