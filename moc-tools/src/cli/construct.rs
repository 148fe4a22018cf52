//! `moc-tools from-cells`, `from-cone`, `from-polygon`: the usual constructors.

use super::{usage, write_moc, FrameArg, OutArgs};
use anyhow::{Context, Result};
use moc::moc::range::CellSelection;
use moc_tools::{check_order, from_cells, with_depth_max, SMoc};

/// What every constructor takes: the MOC order, its frame and where it goes.
#[derive(Debug, clap::Args)]
pub(super) struct MocArgs {
    /// MOC order (for `from-cells`: the order of the cells).
    #[arg(long)]
    order: u8,
    /// Frame of the coordinates and of the MOC (written in COORDSYS).
    #[arg(long, value_enum, default_value = "equatorial")]
    frame: FrameArg,
    #[command(flatten)]
    out: OutArgs,
}

impl MocArgs {
    /// Check the order, build the MOC with it, write it.
    fn write(&self, build: impl FnOnce(u8) -> Result<SMoc>) -> Result<()> {
        check_order(self.order)?;
        let moc = build(self.order)?;
        write_moc(&moc, self.frame.sys(), &self.out)
    }
}

/// Arguments of `from-cells`.
#[derive(Debug, clap::Args)]
pub(super) struct CellsArgs {
    /// NESTED cell indices (when none, read from stdin, separated by spaces, commas or newlines).
    cells: Vec<u64>,
    #[command(flatten)]
    moc: MocArgs,
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
    #[command(flatten)]
    moc: MocArgs,
}

/// Arguments of `from-polygon`.
#[derive(Debug, clap::Args)]
pub(super) struct PolygonArgs {
    /// Vertices: RA1 DEC1 RA2 DEC2 ... in degrees (at least 3 vertices).
    #[arg(required = true, allow_hyphen_values = true, num_args = 6..)]
    coords: Vec<f64>,
    #[command(flatten)]
    moc: MocArgs,
}

/// Run `from-cells`.
pub(super) fn exec_cells(a: CellsArgs) -> Result<()> {
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
    a.moc.write(|order| {
        let n = 12u64 << (2 * u32::from(order));
        if let Some(bad) = cells.iter().find(|&&c| c >= n) {
            usage!("cell {bad} does not exist at order {order} ({n} cells)");
        }
        Ok(from_cells(order, cells))
    })
}

fn check_lonlat(lon: f64, lat: f64) -> Result<()> {
    if !lon.is_finite() || !(-90.0..=90.0).contains(&lat) {
        usage!("position ({lon}, {lat}) is not a valid longitude/latitude in degrees");
    }
    Ok(())
}

/// Run `from-cone`.
pub(super) fn exec_cone(a: ConeArgs) -> Result<()> {
    check_lonlat(a.ra, a.dec)?;
    if !(a.radius > 0.0 && a.radius < 180.0) {
        usage!("radius {} must be in (0, 180) degrees", a.radius);
    }
    let (lon, lat, r) = (a.ra.rem_euclid(360.0).to_radians(), a.dec.to_radians(), a.radius.to_radians());
    a.moc.write(|order| Ok(with_depth_max(&SMoc::from_cone(lon, lat, r, order, 2, CellSelection::All), order)))
}

/// Run `from-polygon`.
pub(super) fn exec_polygon(a: PolygonArgs) -> Result<()> {
    if !a.coords.len().is_multiple_of(2) || a.coords.len() < 6 {
        usage!("a polygon needs at least 3 vertices given as RA DEC pairs ({} numbers given)", a.coords.len());
    }
    let mut v = Vec::new();
    for p in a.coords.chunks_exact(2) {
        check_lonlat(p[0], p[1])?;
        v.push((p[0].rem_euclid(360.0).to_radians(), p[1].to_radians()));
    }
    a.moc.write(|order| Ok(with_depth_max(&SMoc::from_polygon(&v, false, order, CellSelection::All), order)))
}
