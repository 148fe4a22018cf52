//! A tile-compressed LSST-style coadd (IMAGE RICE_1 dithered, MASK GZIP_2, VARIANCE RICE_1, written by astropy) opens
//! as a coadd with its three planes, its image header's WCS and MP_* keys, and reads, region by region and as a SODA
//! cutout, exactly what astropy's decompression of it (written as plain image HDUs) gives. A region reads only the
//! compressed row tiles it needs, and a second overlapping read is served from decoded tiles.

mod fits_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use fits_support::{data_dir, run_python};
use hips_core::coadd::Coadd;
use hips_core::cutout::{cutout, Shape};
use hips_core::fits::{self, read::read_region_raw_into, CountingSource, MemSource};

const WRITER: &str = include_str!("fits_support/write_compressed_coadd.py");

fn write(dir: &std::path::Path) {
    run_python(WRITER, &[data_dir().to_str().expect("utf8"), dir.to_str().expect("utf8")]);
}

fn same_f32(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

#[test]
fn compressed_lsst_coadd_reads_and_cuts_out_as_astropy_decompresses_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path());
    let comp = Coadd::open(tmp.path().join("coadd_rice.fits").to_str().expect("utf8"), None).expect("open compressed");
    let plain = Coadd::open(tmp.path().join("coadd_plain.fits").to_str().expect("utf8"), None).expect("open plain");
    assert!(comp.image.compressed.is_some() && comp.mask.is_some() && comp.variance.is_some());
    assert_eq!((comp.width, comp.height), (200, 200));
    assert_eq!(comp.blank_bits, plain.blank_bits);
    assert_ne!(comp.blank_bits, 0, "MP_NO_DATA read from the compressed mask's image header");
    for (x, y) in [(0.0, 0.0), (199.0, 0.0), (57.3, 140.9)] {
        assert_eq!(comp.wcs.pix_to_world(x, y), plain.wcs.pix_to_world(x, y), "WCS at {x},{y}");
    }
    for (x0, y0, x1, y1) in [(0, 0, 199, 199), (37, 61, 120, 170), (-5, 150, 20, 260)] {
        let a = comp.read_region(x0, y0, x1, y1).expect("read").expect("region");
        let b = plain.read_region(x0, y0, x1, y1).expect("read").expect("region");
        assert!(same_f32(&a.image, &b.image), "image {x0},{y0}..{x1},{y1}");
        assert!(same_f32(a.variance.as_ref().expect("var"), b.variance.as_ref().expect("var")), "variance");
    }
    let (ra, dec) = comp.wcs.pix_to_world(100.0, 90.0).expect("centre");
    let shape = Shape::Circle { ra, dec, radius: 5.0 / 3600.0 };
    let (a, b) = (
        cutout(&comp, &shape, 1 << 24, "test").expect("cutout"),
        cutout(&plain, &shape, 1 << 24, "test").expect("cutout"),
    );
    assert_eq!(a.pixels, b.pixels);
    let (sa, sb) = (MemSource::new("a", a.fits), MemSource::new("b", b.fits));
    let (ha, hb) = (fits::scan_hdus(&sa).expect("scan a"), fits::scan_hdus(&sb).expect("scan b"));
    assert_eq!(ha.len(), 4, "primary, IMAGE, MASK, VARIANCE");
    assert_eq!(ha.len(), hb.len());
    let (mut ra_, mut rb) = (Vec::new(), Vec::new());
    for (x, y) in ha.iter().zip(&hb).skip(1) {
        assert!(x.compressed.is_none(), "a cutout is a plain image");
        assert_eq!((x.bitpix, &x.naxes, &x.extname), (y.bitpix, &y.naxes, &y.extname));
        for key in ["CRPIX1", "CRPIX2", "CD1_1", "A_ORDER", "RADESYS", "MP_NO_DATA", "EXTTYPE"] {
            assert_eq!(x.header.card(key).map(|c| &c.value), y.header.card(key).map(|c| &c.value), "{key}");
        }
        assert!(!x.header.contains("ZCMPTYPE") && !x.header.contains("TFORM1"), "no table keywords in a cutout");
        let (w, h) = x.dims().expect("dims");
        read_region_raw_into(&sa, x, (0, 0, w, h), &mut ra_).expect("a pixels");
        read_region_raw_into(&sb, y, (0, 0, w, h), &mut rb).expect("b pixels");
        assert_eq!(ra_, rb, "{:?} pixels", x.extname);
    }
}

#[test]
fn a_region_reads_only_the_row_tiles_it_needs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path());
    let bytes = std::fs::read(tmp.path().join("spitzer_rice.fits")).expect("read");
    let total = bytes.len();
    let src = Arc::new(CountingSource::new(MemSource::new("mem://spitzer_rice.fits", bytes), 0));
    let c = Coadd::from_source("mem://spitzer_rice.fits", src.clone(), None).expect("open");
    let tc = c.image.compressed.clone().expect("compressed");
    assert_eq!((c.width, c.height, tc.tile_w, tc.tile_h), (1025, 513, 1025, 1));
    let heap = tc.heap_len as usize;
    let opened = src.bytes.load(Ordering::Relaxed);
    // 40 rows of 513: the table rows and heap bytes of those 40 row tiles, nothing else.
    let px = c.read_region(400, 200, 499, 239).expect("read").expect("region");
    assert_eq!(px.image.len(), 100 * 40);
    let read = src.bytes.load(Ordering::Relaxed) - opened;
    let share = heap * 40 / 513;
    assert!(
        read < share * 3 / 2 + 40 * tc.row_bytes,
        "read {read} bytes for 40 of 513 row tiles (heap {heap}, file {total})"
    );
    assert!(read > share / 2, "read {read} bytes: the tiles' bytes were read");
    // The neighbouring region on the same rows decodes nothing new: the row tiles are cached.
    let before = src.bytes.load(Ordering::Relaxed);
    let px2 = c.read_region(500, 205, 650, 235).expect("read").expect("region");
    assert_eq!(src.bytes.load(Ordering::Relaxed), before, "overlapping rows served from decoded tiles");
    // Same values as a fresh whole-image read.
    let whole = fits::read_image_f32(c.source.as_ref(), &c.image).expect("whole");
    for (i, v) in px2.image.iter().enumerate() {
        let (x, y) = (500 + i % 151, 205 + i / 151);
        let w = whole.data[y * 1025 + x];
        assert!(v.to_bits() == w.to_bits() || (v.is_nan() && w.is_nan()));
    }
}
