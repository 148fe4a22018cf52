//! Whole-image decoding throughput of one HDU (`HIPS_BENCH_FITS` = path, `HIPS_BENCH_HDU` = index, default 1):
//! scan the file, read every pixel as f32 through `fits::read_image_f32`, 5 times; prints the median seconds and
//! MB/s of decoded 32-bit pixels per core (one thread). Run by `benches/compressed_vs_astropy.sh` with
//! `HIPS_TILE_CACHE_MB=0`, so each run decodes every tile.

use std::time::Instant;

use hips_core::fits::{self, FileSource};

#[allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() {
    let Some(path) = std::env::var_os("HIPS_BENCH_FITS") else {
        println!("decompress: set HIPS_BENCH_FITS to a FITS file (see benches/compressed_vs_astropy.sh)");
        return;
    };
    let hdu: usize = std::env::var("HIPS_BENCH_HDU").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut times = Vec::new();
    let mut pixels = 0usize;
    for _ in 0..5 {
        let t = Instant::now();
        let src = FileSource::open(&path).expect("open");
        let hdus = fits::scan_hdus(&src).expect("scan");
        let img = fits::read_image_f32(&src, &hdus[hdu]).expect("decode");
        pixels = img.data.len();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[2];
    println!("ours {median:.4} s {:.1} MB/s", pixels as f64 * 4.0 / median / 1e6);
}
