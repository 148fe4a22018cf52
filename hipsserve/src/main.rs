//! `hipsserve` binary entry point.
fn main() {}
