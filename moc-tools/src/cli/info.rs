//! `moc-tools info`: order, cells, sky fraction, area and bounding region of a MOC.

use super::read_moc;
use anyhow::Result;

/// Arguments of `info`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The MOC (FITS, ASCII or JSON; path or URL).
    input: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Run `info`.
pub(super) fn exec(a: Args) -> Result<()> {
    let (m, sys) = read_moc(&a.input)?;
    let i = moc_tools::ops::info(&m);
    if a.json {
        let v = serde_json::json!({
            "file": a.input,
            "coordsys": sys.letter(),
            "order": i.order,
            "n_cells": i.n_cells,
            "n_ranges": i.n_ranges,
            "sky_fraction": i.sky_fraction,
            "area_deg2": i.area_deg2,
            "bounding_cone": i.bounding_cone.map(|(l, b, r)| serde_json::json!({"lon": l, "lat": b, "radius": r})),
            "lat_range": i.lat_range.map(|(a, b)| [a, b]),
        });
        println!("{v}");
        return Ok(());
    }
    println!("file:          {}", a.input);
    println!("frame:         {} (COORDSYS {})", sys.name(), sys.letter());
    println!("order:         {}", i.order);
    println!("cells:         {} (NUNIQ), {} ranges", i.n_cells, i.n_ranges);
    println!("sky fraction:  {:.9}", i.sky_fraction);
    println!("area:          {:.6} deg^2", i.area_deg2);
    match (i.bounding_cone, i.lat_range) {
        (Some((l, b, r)), Some((b0, b1))) => {
            println!("bounding cone: centre ({l:.6}, {b:.6}) radius {r:.6} deg");
            println!("lat range:     {b0:.6} .. {b1:.6} deg");
        }
        _ => println!("bounding cone: none (empty MOC)"),
    }
    Ok(())
}
