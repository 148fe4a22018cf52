//! How many byte-range reads a tile's input region costs. Over object storage every `ByteSource::read_at` is one
//! HTTP range request, so reading a sub-width region of a coadd must not cost one request per row per plane
//! (a 1024 x 1024 IMAGE/MASK/VARIANCE coadd over S3 took more than 500 s this way, against < 1 s locally).
//! A counting source wraps the bytes of a `hipsgen synth` coadd; the region's pixels must equal a full read. A SODA
//! cutout reads only the rows of its pixel box in each plane (counted in bytes).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hips_core::coadd::Coadd;
use hips_core::fits::{CountingSource, MemSource};

fn synth_patch(dir: &Path) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_hipsgen"))
        .args(["synth", "--bands", "g", "--patches", "1", "--patch-size", "512", "--out"])
        .arg(dir)
        .output()
        .expect("run hipsgen synth");
    assert!(out.status.success(), "hipsgen synth failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(dir.join("g").join("patch_g_0000.fits")).expect("read synthetic patch")
}

#[test]
fn sub_width_region_costs_few_range_reads() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bytes = synth_patch(tmp.path());
    // An object store's coalescing gap (1 MiB): rows of a sub-width region may be merged into one range request.
    let counting = Arc::new(CountingSource::new(MemSource::new("mem://patch.fits", bytes.clone()), 1 << 20));
    let c = Coadd::from_source("mem://patch.fits", counting.clone(), None).expect("open coadd");
    assert!(c.mask.is_some() && c.variance.is_some(), "synthetic coadd has MASK and VARIANCE");
    let after_open = counting.reads.load(Ordering::Relaxed);
    // A 256 x 256 region in the middle of the 512 x 512 patch (a deepest tile's footprint), 3 planes.
    let region = c.read_region(100, 120, 355, 375).expect("read region").expect("non-empty region");
    let reads = counting.reads.load(Ordering::Relaxed) - after_open;

    // The same pixels from a full-image read.
    let plain = Coadd::from_source("mem://patch.fits", Arc::new(MemSource::new("mem://patch.fits", bytes)), None)
        .expect("open coadd");
    let full = plain.read_region(0, 0, 511, 511).expect("read full").expect("non-empty");
    assert_eq!((region.width, region.height), (256, 256));
    for y in 0..256 {
        for x in 0..256 {
            let a = region.image[y * 256 + x];
            let b = full.image[(y + 120) * 512 + x + 100];
            assert!(a == b || (a.is_nan() && b.is_nan()), "pixel ({x},{y}) differs: {a} vs {b}");
        }
    }
    eprintln!("256 x 256 region of a 512 x 512 IMAGE/MASK/VARIANCE coadd: {reads} read_at calls");
    assert!(
        reads <= 12,
        "reading a 256 x 256 sub-region of 3 planes took {reads} read_at calls (one per row per plane?); over object \
         storage each is an HTTP range request: coalesce rows into a few ranges"
    );
}

#[test]
fn soda_cutout_reads_only_the_rows_of_its_box() {
    use hips_core::cutout::{cutout, Shape};

    let tmp = tempfile::tempdir().expect("tempdir");
    let bytes = synth_patch(tmp.path());
    let total = bytes.len();
    let counting = Arc::new(CountingSource::new(MemSource::new("mem://patch.fits", bytes), 1 << 20));
    let c = Coadd::from_source("mem://patch.fits", counting.clone(), None).expect("open coadd");
    let after_open = counting.bytes.load(Ordering::Relaxed);
    // a circle of 20 pixels (0.2"/px) around the image's centre
    let (ra, dec) = c.wcs.pix_to_world(255.5, 255.5).expect("centre on the sky");
    let shape = Shape::parse_pos(&format!("CIRCLE {ra} {dec} {}", 20.0 * 0.2 / 3600.0)).expect("shape");
    let cut = cutout(&c, &shape, 1 << 24, "test").expect("cutout");
    let read = counting.bytes.load(Ordering::Relaxed) - after_open;
    let b = cut.pixels;
    assert!(b.height < 60 && b.width < 60, "{b:?}");
    // each plane: at most the box's rows, whole (4-byte pixels at most); plus the headers the cutout copies (primary
    // and one per plane, two 2880-byte blocks each at most)
    let planes = 3;
    let bound = planes * b.height * c.width * 4 + (planes + 1) * 2 * 2880;
    eprintln!("cutout {b:?} of a 512 x 512 x 3-plane coadd ({total} bytes): {read} bytes read, bound {bound}");
    assert!(read <= bound, "the cutout read {read} bytes, more than the box's rows ({bound})");
    assert!(read * 10 < total, "the cutout read {read} of {total} bytes");
}
