//! `moc-tools` command line: coverage maps from images, HiPS, cells, cones and polygons.
fn main() {}
