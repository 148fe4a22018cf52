//! `moc-tools from-cells`, `from-cone`, `from-polygon`: the usual constructors.

use super::{usage, write_moc, FrameArg, OutArgs};
use anyhow::{Context, Result};
use moc::moc::range::CellSelection;
use moc_tools::{check_order, from_cells, with_depth_max, SMoc};

/// Arguments of `from-cells`.
#[derive(Debug, clap::Args)]
pub(super) struct CellsArgs {
    /// NESTED cell indices (when none, read from stdin, separated by spaces, commas or newlines).
    cells: Vec<u64>,
    /// Order of the cells.
    #[arg(long)]
    order: u8,
    /// Frame written in COORDSYS.
    #[arg(long, value_enum, default_value = "equatorial")]
    frame: FrameArg,
    #[command(flatten)]
    out: OutArgs,
}

/// Arguments of `from-cone`.
#[derive(Debug, clap::Args)]
pub(super) struct ConeArgs {
    /// Centre longitude (RA), degrees.
    #[arg(allow_hyphen_values = true)]
    ra: f64,
    /// Centre latitude (Dec), degrees.
    #[arg(allow_hyphen_values = true)]
    dec: f64,
    /// Radius, degrees.
    radius: f64,
    /// MOC order.
    #[arg(long)]
    order: u8,
    /// Frame of the coordinates and the MOC.
    #[arg(long, value_enum, default_value = "equatorial")]
    frame: FrameArg,
    #[command(flatten)]
    out: OutArgs,
}

/// Arguments of `from-polygon`.
#[derive(Debug, clap::Args)]
pub(super) struct PolygonArgs {
    /// Vertices: RA1 DEC1 RA2 DEC2 ... in degrees (at least 3 vertices).
    #[arg(required = true, allow_hyphen_values = true, num_args = 6..)]
    coords: Vec<f64>,
    /// MOC order.
    #[arg(long)]
    order: u8,
    /// Frame of the coordinates and the MOC.
    #[arg(long, value_enum, default_value = "equatorial")]
    frame: FrameArg,
    #[command(flatten)]
    out: OutArgs,
}

/// Run `from-cells`.
pub(super) fn exec_cells(a: CellsArgs) -> Result<()> {
    check_order(a.order)?;
    let cells = if a.cells.is_empty() {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("cannot read cells from stdin")?;
        s.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<u64>().with_context(|| format!("'{t}' is not a cell index")))
            .collect::<Result<Vec<_>>>()?
    } else {
        a.cells
    };
    let n = 12u64 << (2 * u32::from(a.order));
    if let Some(bad) = cells.iter().find(|&&c| c >= n) {
        usage!("cell {bad} does not exist at order {} ({n} cells)", a.order);
    }
    write_moc(&from_cells(a.order, cells), a.frame.sys(), &a.out)
}

fn check_lonlat(lon: f64, lat: f64) -> Result<()> {
    if !lon.is_finite() || !(-90.0..=90.0).contains(&lat) {
        usage!("position ({lon}, {lat}) is not a valid longitude/latitude in degrees");
    }
    Ok(())
}

/// Run `from-cone`.
pub(super) fn exec_cone(a: ConeArgs) -> Result<()> {
    check_order(a.order)?;
    check_lonlat(a.ra, a.dec)?;
    if !(a.radius > 0.0 && a.radius < 180.0) {
        usage!("radius {} must be in (0, 180) degrees", a.radius);
    }
    let moc = SMoc::from_cone(
        a.ra.rem_euclid(360.0).to_radians(),
        a.dec.to_radians(),
        a.radius.to_radians(),
        a.order,
        2,
        CellSelection::All,
    );
    write_moc(&with_depth_max(&moc, a.order), a.frame.sys(), &a.out)
}

/// Run `from-polygon`.
pub(super) fn exec_polygon(a: PolygonArgs) -> Result<()> {
    check_order(a.order)?;
    if !a.coords.len().is_multiple_of(2) || a.coords.len() < 6 {
        usage!("a polygon needs at least 3 vertices given as RA DEC pairs ({} numbers given)", a.coords.len());
    }
    let mut v = Vec::new();
    for p in a.coords.chunks_exact(2) {
        check_lonlat(p[0], p[1])?;
        v.push((p[0].rem_euclid(360.0).to_radians(), p[1].to_radians()));
    }
    let moc = SMoc::from_polygon(&v, false, a.order, CellSelection::All);
    write_moc(&with_depth_max(&moc, a.order), a.frame.sys(), &a.out)
}
