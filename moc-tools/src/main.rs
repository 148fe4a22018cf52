//! `moc-tools` command line: coverage maps from images, HiPS, cells, cones and polygons; set operations,
//! conversions, release differences and checks of IVOA MOC files. One module per subcommand under `cli/`.
//!
//! Exit codes: 0 success, 1 run-time error (the cause chain printed once), 2 usage error (clap, or an argument value
//! out of its domain), 3 `check` found defects.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("moc-tools: error: {e:#}");
            cli::exit_code(&e)
        }
    }
}
