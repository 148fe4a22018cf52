//! `moc-tools check`: validate a MOC FITS file; prints each defect and exits 3 when there is any.

use super::read_bytes;
use anyhow::Result;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// MOC FITS files.
    #[arg(required = true)]
    inputs: Vec<String>,
}

/// The error returned when defects were found (exit code 3: the run finished and found problems).
#[derive(Debug, thiserror::Error)]
#[error("{0} file(s) with defects")]
pub(super) struct Defects(pub usize);

/// Run `check`.
pub(super) fn exec(a: Args) -> Result<()> {
    let mut bad = 0;
    for f in &a.inputs {
        let bytes = read_bytes(f)?;
        let defects = moc_tools::check_fits_bytes(&bytes);
        if defects.is_empty() {
            println!("{f}: OK");
        } else {
            bad += 1;
            for d in defects {
                println!("{f}: {d}");
            }
        }
    }
    if bad > 0 {
        return Err(Defects(bad).into());
    }
    Ok(())
}
