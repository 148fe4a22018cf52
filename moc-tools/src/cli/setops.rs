//! `moc-tools union|intersection|difference|complement|degrade`.

use super::{read_moc, usage, write_moc, OutArgs};
use anyhow::{bail, Result};
use moc_tools::{ops, CoordSys, SMoc};

/// Arguments of the n-ary operations.
#[derive(Debug, clap::Args)]
pub(super) struct ManyArgs {
    /// Input MOCs (FITS, ASCII or JSON; paths or URLs).
    #[arg(required = true, num_args = 1..)]
    inputs: Vec<String>,
    #[command(flatten)]
    out: OutArgs,
}

/// Arguments of `complement`.
#[derive(Debug, clap::Args)]
pub(super) struct OneArgs {
    /// Input MOC.
    input: String,
    #[command(flatten)]
    out: OutArgs,
}

/// Arguments of `degrade`.
#[derive(Debug, clap::Args)]
pub(super) struct DegradeArgs {
    /// Input MOC.
    input: String,
    /// Target order.
    #[arg(long)]
    order: u8,
    #[command(flatten)]
    out: OutArgs,
}

/// The n-ary operation.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    /// A or B or ...
    Union,
    /// A and B and ...
    Intersection,
    /// A minus (B or C ...)
    Difference,
}

/// Read several MOCs, refusing to mix frames.
pub(super) fn read_all(inputs: &[String]) -> Result<(Vec<SMoc>, CoordSys)> {
    let mut mocs = Vec::with_capacity(inputs.len());
    let mut sys0: Option<(CoordSys, &str)> = None;
    for i in inputs {
        let (m, s) = read_moc(i)?;
        match sys0 {
            None => sys0 = Some((s, i)),
            Some((s0, f0)) if s0 != s => bail!(
                "coordinate system mismatch: {f0} is {} but {i} is {}; convert one of them first",
                s0.name(),
                s.name()
            ),
            _ => {}
        }
        mocs.push(m);
    }
    Ok((mocs, sys0.map_or(CoordSys::Icrs, |s| s.0)))
}

/// Run union / intersection / difference.
pub(super) fn exec_many(a: ManyArgs, op: Op) -> Result<()> {
    let (mocs, sys) = read_all(&a.inputs)?;
    let r = match op {
        Op::Union => ops::union_many(&mocs),
        Op::Intersection => ops::intersection_many(&mocs),
        Op::Difference => {
            let (first, rest) = mocs.split_first().ok_or_else(|| anyhow::anyhow!("no input"))?;
            ops::difference(first, &ops::union_many(rest))
        }
    };
    write_moc(&r, sys, &a.out)
}

/// Run complement.
pub(super) fn exec_complement(a: OneArgs) -> Result<()> {
    let (m, sys) = read_moc(&a.input)?;
    write_moc(&ops::complement(&m), sys, &a.out)
}

/// Run degrade.
pub(super) fn exec_degrade(a: DegradeArgs) -> Result<()> {
    moc_tools::check_order(a.order)?;
    let (m, sys) = read_moc(&a.input)?;
    if a.order > m.depth_max() {
        usage!("cannot degrade {} (order {}) to the deeper order {}", a.input, m.depth_max(), a.order);
    }
    write_moc(&moc_tools::degrade(&m, a.order), sys, &a.out)
}
