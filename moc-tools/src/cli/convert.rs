//! `moc-tools convert`: between MOC serializations (reads MOC 1.0 and 2.0 FITS, ASCII and JSON).

use super::{read_moc, write_moc_to, Format, OrderingArg};
use anyhow::Result;
use moc_tools::FitsOrdering;

/// Arguments of `convert`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Input MOC.
    input: String,
    /// Output file.
    output: String,
    /// Output format (default: from the output extension).
    #[arg(long)]
    format: Option<Format>,
    /// FITS table ordering.
    #[arg(long, value_enum, default_value = "nuniq")]
    ordering: OrderingArg,
}

/// Run `convert`.
pub(super) fn exec(a: Args) -> Result<()> {
    let (m, sys) = read_moc(&a.input)?;
    let fmt = a.format.unwrap_or_else(|| super::format_of(&a.output));
    let ord = if a.ordering == OrderingArg::Range { FitsOrdering::Range } else { FitsOrdering::Nuniq };
    write_moc_to(&m, sys, &a.output, fmt, ord)
}
