//! `hipsgen` command line.
fn main() {}
