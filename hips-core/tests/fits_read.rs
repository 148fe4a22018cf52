//! FITS reading against astropy: every real file's HDU layout (header/data offsets) and every 2-D image's pixels
//! (BSCALE/BZERO, BLANK, the LSST exposure's MASK as uint16) equal what astropy reads; region reads equal whole reads.

mod fits_support;

use fits_support::{real_fits_files, run_python};
use hips_core::fits::{
    find_hdu, open_source, read_image_f32, read_image_i64, read_region_f32, read_region_i64, scan_hdus, CountingSource,
    FitsError, MemSource,
};

/// Dumps, for each file: HDU offsets from astropy's fileinfo, and each 2-D image's pixels as little-endian binary
/// files: int64 for integer data with BSCALE 1 and an integral BZERO (the LSST MASK: uint16), else float64. Scaling is
/// done here in float64 from astropy's raw integers, because astropy's own scaled float32 result is computed in
/// float32 and is off by up to a few ulp (2MASS J pixel 1: 158.16223 instead of 158.162175 -> f32 158.16217).
const ORACLE: &str = r#"
import sys, json, warnings
import numpy as np
from astropy.io import fits
warnings.simplefilter("ignore")
out = sys.argv[1]
res = []
for i, path in enumerate(sys.argv[2:]):
    with fits.open(path, memmap=False, do_not_scale_image_data=True) as hl:
        hdus = []
        for j, h in enumerate(hl):
            fi = h.fileinfo()
            d = {"hdr": fi["hdrLoc"], "dat": fi["datLoc"], "span": fi["datSpan"], "image": False}
            if isinstance(h, (fits.PrimaryHDU, fits.ImageHDU)) and h.data is not None:
                a = np.asarray(h.data)
                a = a.reshape(a.shape[-2:]) if a.ndim > 2 and all(s == 1 for s in a.shape[:-2]) else a
                if a.ndim == 2:
                    hd = h.header
                    bscale, bzero = hd.get("BSCALE", 1.0), hd.get("BZERO", 0)
                    ints = a.dtype.kind in "iu"
                    kind = "i" if ints and bscale == 1 and float(bzero).is_integer() else "f"
                    if kind == "i":
                        a = a.astype(np.int64) + int(bzero)
                    else:
                        f = a.astype(np.float64) * bscale + bzero
                        if ints and "BLANK" in hd:
                            f[a == hd["BLANK"]] = np.nan
                        a = f
                    fn = f"{out}/{i}_{j}.bin"
                    (a.astype("<i8") if kind == "i" else a.astype("<f8")).tofile(fn)
                    d.update(image=True, kind=kind, shape=list(a.shape), bin=fn)
            hdus.append(d)
        res.append({"path": path, "hdus": hdus})
print(json.dumps(res))
"#;

fn read_f64(path: &str) -> Vec<f64> {
    let b = std::fs::read(path).expect("oracle bin");
    b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

fn read_i64(path: &str) -> Vec<i64> {
    let b = std::fs::read(path).expect("oracle bin");
    b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

#[test]
fn every_real_file_matches_astropy() {
    let files = real_fits_files();
    let tmp = tempfile::tempdir().expect("tmp");
    let mut args: Vec<String> = vec![tmp.path().display().to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let json = run_python(ORACLE, &argv);
    let oracle: serde_json::Value = serde_json::from_str(&json).expect("oracle json");
    let mut images = 0;
    for entry in oracle.as_array().expect("array") {
        let path = entry["path"].as_str().expect("path");
        let src = open_source(path).expect("open");
        let hdus = scan_hdus(src.as_ref()).unwrap_or_else(|e| panic!("scan {path}: {e}"));
        let want = entry["hdus"].as_array().expect("hdus");
        assert_eq!(hdus.len(), want.len(), "{path}: HDU count");
        for (h, w) in hdus.iter().zip(want) {
            assert_eq!(h.header_start, w["hdr"].as_u64().expect("hdr"), "{path} {}: header offset", h.label());
            assert_eq!(h.data_start, w["dat"].as_u64().expect("dat"), "{path} {}: data offset", h.label());
            let span = w["span"].as_u64().expect("span");
            assert_eq!(h.data_len.div_ceil(2880) * 2880, span, "{path} {}: padded data length", h.label());
            assert_eq!(h.is_image(), w["image"].as_bool().expect("image"), "{path} {}: is_image", h.label());
            if !h.is_image() {
                assert!(matches!(read_image_f32(src.as_ref(), h), Err(FitsError::NotAnImage { .. })));
                continue;
            }
            images += 1;
            let shape: Vec<usize> =
                w["shape"].as_array().expect("shape").iter().map(|v| v.as_u64().expect("n") as usize).collect();
            let img = read_image_f32(src.as_ref(), h).unwrap_or_else(|e| panic!("read {path}: {e}"));
            assert_eq!((img.height, img.width), (shape[0], shape[1]), "{path} {}", h.label());
            let bin = w["bin"].as_str().expect("bin");
            if w["kind"] == "i" {
                let want = read_i64(bin);
                let (_, _, got) = read_image_i64(src.as_ref(), h).expect("int read");
                assert_eq!(got, want, "{path} {}: integer pixels", h.label());
                for (g, w) in img.data.iter().zip(&want) {
                    assert_eq!(*g, *w as f32, "{path} {}: integer pixels as f32", h.label());
                }
            } else {
                let want = read_f64(bin);
                assert_eq!(img.data.len(), want.len());
                for (k, (g, w)) in img.data.iter().zip(&want).enumerate() {
                    let (g, w) = (f64::from(*g), *w);
                    let ok = (g.is_nan() && w.is_nan()) || g == f64::from(w as f32);
                    assert!(ok, "{path} {}: pixel {k} is {g}, astropy (rounded to f32) says {}", w as f32, h.label());
                }
            }
        }
    }
    assert!(images >= 12, "only {images} images compared");
}

#[test]
fn lsst_exposure_planes_by_exttype() {
    let path = fits_support::data_dir().join("lsst_exposure/lsst_afw_HSC-0908120-056-small.fits");
    let src = open_source(path.to_str().expect("utf8")).expect("open");
    let hdus = scan_hdus(src.as_ref()).expect("scan");
    assert_eq!(hdus[0].naxes.len(), 0, "empty primary");
    let image = find_hdu(&hdus, "IMAGE").expect("IMAGE plane");
    let mask = find_hdu(&hdus, "MASK").expect("MASK plane");
    let var = find_hdu(&hdus, "VARIANCE").expect("VARIANCE plane");
    assert_eq!((image.index, mask.index, var.index), (1, 2, 3));
    assert_eq!(mask.bitpix, 16);
    assert_eq!(mask.header.get_i64("BZERO"), Some(32768));
    let (w, h, m) = read_image_i64(src.as_ref(), mask).expect("mask");
    assert_eq!((w, h), (200, 200));
    assert!(m.iter().all(|&v| (0..=65535).contains(&v)), "uint16 range after BZERO");
    assert!(m.iter().any(|&v| v > 0), "some mask bits set");
    assert!(read_image_i64(src.as_ref(), image).is_err(), "float plane refused as integers");
}

/// Deterministic xorshift for choosing rectangles.
fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

#[test]
fn region_reads_equal_whole_reads() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    for path in real_fits_files() {
        let src = open_source(path.to_str().expect("utf8")).expect("open");
        let hdus = scan_hdus(src.as_ref()).expect("scan");
        for h in hdus.iter().filter(|h| h.is_image()) {
            let whole = read_image_f32(src.as_ref(), h).expect("whole");
            let ints = read_image_i64(src.as_ref(), h).ok().map(|r| r.2);
            assert_eq!(ints.is_some(), h.bitpix > 0 && h.header.get_f64("BSCALE").unwrap_or(1.0) == 1.0);
            let (wd, ht) = (whole.width, whole.height);
            let mut rects = vec![(0, 0, wd, ht), (0, ht / 3, wd, ht / 2), (wd - 1, ht - 1, 1, 1), (3, 5, 0, 0)];
            for _ in 0..20 {
                let x0 = (xorshift(&mut seed) % wd as u64) as usize;
                let y0 = (xorshift(&mut seed) % ht as u64) as usize;
                let w = 1 + (xorshift(&mut seed) % (wd - x0) as u64) as usize;
                let hh = 1 + (xorshift(&mut seed) % (ht - y0) as u64) as usize;
                rects.push((x0, y0, w, hh));
            }
            for (x0, y0, w, hh) in rects {
                let r = read_region_f32(src.as_ref(), h, x0, y0, w, hh).expect("region");
                assert_eq!((r.width, r.height, r.data.len()), (w, hh, w * hh));
                for y in 0..hh {
                    for x in 0..w {
                        let a = r.data[y * w + x];
                        let b = whole.data[(y0 + y) * wd + x0 + x];
                        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{}", path.display());
                    }
                }
                if let Some(all) = &ints {
                    let (_, _, ri) = read_region_i64(src.as_ref(), h, x0, y0, w, hh).expect("int region");
                    for y in 0..hh {
                        assert_eq!(&ri[y * w..(y + 1) * w], &all[(y0 + y) * wd + x0..(y0 + y) * wd + x0 + w]);
                    }
                }
            }
            let err = read_region_f32(src.as_ref(), h, wd - 1, 0, 2, 1).expect_err("outside");
            assert!(matches!(err, FitsError::OutOfBounds { .. }), "{err}");
        }
    }
}

#[test]
fn region_reads_fetch_only_the_rectangle() {
    use std::sync::atomic::Ordering::Relaxed;
    let path = fits_support::data_dir().join("single_band/HorseHead.fits");
    let bytes = std::fs::read(&path).expect("read");
    // A source where every skipped byte costs more than a request: one read per row, only the rectangle.
    let src = CountingSource::new(MemSource::new("HorseHead", bytes.clone()), 0);
    let hdus = scan_hdus(&src).expect("scan");
    let h = &hdus[0];
    src.reads.store(0, Relaxed);
    src.bytes.store(0, Relaxed);
    read_region_f32(&src, h, 100, 200, 50, 40).expect("region");
    assert_eq!(src.reads.load(Relaxed), 40, "one read per row");
    assert_eq!(src.bytes.load(Relaxed), 50 * 40 * 2, "only the rectangle's bytes");
    src.reads.store(0, Relaxed);
    src.bytes.store(0, Relaxed);
    read_region_f32(&src, h, 0, 200, h.naxes[0], 40).expect("full rows");
    assert_eq!(src.reads.load(Relaxed), 1, "whole rows merged into one read");
    assert_eq!(src.bytes.load(Relaxed), h.naxes[0] * 40 * 2);
    // A remote-like source (requests are expensive): the 40 rows come in one range, skipped columns included.
    let remote = CountingSource::new(MemSource::new("HorseHead", bytes), 1 << 20);
    let a = read_region_f32(&remote, h, 100, 200, 50, 40).expect("region");
    let b = read_region_f32(&src, h, 100, 200, 50, 40).expect("region");
    assert_eq!(remote.reads.load(Relaxed), 1, "rows coalesced into one range request");
    assert_eq!(remote.bytes.load(Relaxed), 39 * h.naxes[0] * 2 + 50 * 2);
    assert!(a.data.iter().zip(&b.data).all(|(x, y)| x == y || (x.is_nan() && y.is_nan())), "same pixels");
}

#[test]
fn errors_name_file_hdu_and_key() {
    let path = fits_support::data_dir().join("single_band/HorseHead.fits");
    let mut bytes = std::fs::read(&path).expect("read");
    // Cut in the middle of the data.
    let data_start = scan_hdus(&MemSource::new("full", bytes.clone())).expect("scan")[0].data_start as usize;
    bytes.truncate(data_start + 100);
    let err = scan_hdus(&MemSource::new("cut.fits", bytes.clone())).expect_err("truncated");
    let msg = err.to_string();
    assert!(matches!(err, FitsError::Truncated { .. }) && msg.contains("cut.fits") && msg.contains("HDU 0"), "{msg}");
    // A source that shrank after the scan: the read error names the HDU whose data it was reading.
    let full_hdus = scan_hdus(&MemSource::new("full", std::fs::read(&path).expect("read"))).expect("scan");
    let err = read_image_f32(&MemSource::new("shrunk.fits", bytes.clone()), &full_hdus[0]).expect_err("shrunk");
    assert!(matches!(err, FitsError::Truncated { .. }) && err.to_string().contains("data of HDU 0"), "{err}");
    // Break BITPIX.
    let full = std::fs::read(&path).expect("read");
    let mut b2 = full.clone();
    let pos = full.windows(8).position(|w| w == b"BITPIX  ").expect("BITPIX card");
    b2[pos + 10..pos + 30].copy_from_slice(format!("{:>20}", 12).as_bytes());
    let err = scan_hdus(&MemSource::new("bad.fits", b2)).expect_err("bitpix");
    assert!(matches!(err, FitsError::UnsupportedBitpix { bitpix: 12, .. }), "{err}");
    assert!(err.to_string().contains("bad.fits"));
    // Not FITS at all.
    let err = scan_hdus(&MemSource::new("x.txt", vec![b'a'; 5760])).expect_err("not fits");
    assert!(matches!(err, FitsError::NotFits { .. }), "{err}");
    // Remove NAXIS2.
    let mut b3 = full;
    let pos = b3.windows(8).position(|w| w == b"NAXIS2  ").expect("NAXIS2");
    b3[pos..pos + 8].copy_from_slice(b"NAXIZ2  ");
    let err = scan_hdus(&MemSource::new("nokey.fits", b3)).expect_err("missing");
    assert!(err.to_string().contains("NAXIS2") && err.to_string().contains("nokey.fits"), "{err}");
}
