//! `moc-tools` command line: coverage maps from images, HiPS, cells, cones and polygons; set operations,
//! conversions, release differences and checks of IVOA MOC files. One module per subcommand under `cli/`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("moc-tools: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
