//! The synthetic coadd generator: deterministic bytes, LSST layout readable by our FITS reader, a WCS that astropy
//! agrees puts every truth star on its rendered peak, bit-identical overlaps between neighbouring patches, NO_DATA
//! wedges flagged in the mask, and checksums astropy accepts.

use std::path::{Path, PathBuf};

use hips_core::fits::{find_hdu, open_source, read_image_f32, read_image_i64, scan_hdus};
use hipsgen::synth::{generate, SynthConfig, Tract, BIT_NO_DATA};

fn small() -> SynthConfig {
    SynthConfig {
        bands: vec!["g".into(), "r".into()],
        patches: 4,
        patch_size: 300,
        seed: 7,
        pixel_scale_arcsec: 0.2,
        overlap: 40,
        ra: 150.0,
        dec: 2.0,
    }
}

fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = std::env::var_os("HIPS_PYTHON").map_or_else(|| root.join(".venv/bin/python"), PathBuf::from);
    assert!(p.exists(), "Python for the astropy oracle not found at {} (set HIPS_PYTHON)", p.display());
    p
}

fn planes(path: &Path) -> (Vec<f32>, Vec<i64>, Vec<f32>, usize) {
    let src = open_source(path.to_str().expect("utf8")).expect("open");
    let hdus = scan_hdus(src.as_ref()).expect("scan");
    let img = read_image_f32(src.as_ref(), find_hdu(&hdus, "IMAGE").expect("IMAGE")).expect("image");
    let (_, _, mask) = read_image_i64(src.as_ref(), find_hdu(&hdus, "MASK").expect("MASK")).expect("mask");
    let var = read_image_f32(src.as_ref(), find_hdu(&hdus, "VARIANCE").expect("VARIANCE")).expect("variance");
    (img.data, mask, var.data, img.width)
}

#[test]
fn same_config_gives_identical_bytes() {
    let (a, b) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let sa = generate(&small(), a.path()).expect("generate a");
    let sb = generate(&small(), b.path()).expect("generate b");
    assert_eq!(sa.files.len(), 8);
    assert_eq!(sa.stars, sb.stars);
    for (fa, fb) in sa.files.iter().zip(&sb.files) {
        assert_eq!(fa.strip_prefix(a.path()).ok(), fb.strip_prefix(b.path()).ok());
        assert!(std::fs::read(fa).expect("a") == std::fs::read(fb).expect("b"), "{} differs", fa.display());
    }
    assert_eq!(std::fs::read(&sa.truth_csv).expect("truth"), std::fs::read(&sb.truth_csv).expect("truth"));
    // A different seed changes the pixels.
    let c = tempfile::tempdir().expect("tmp");
    let sc = generate(&SynthConfig { seed: 8, ..small() }, c.path()).expect("generate c");
    assert!(std::fs::read(&sa.files[0]).expect("a") != std::fs::read(&sc.files[0]).expect("c"));
}

#[test]
fn layout_is_lsst_like() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = generate(&small(), dir.path()).expect("generate");
    assert_eq!(s.files[0], dir.path().join("g/patch_g_0000.fits"));
    assert_eq!(s.files[7], dir.path().join("r/patch_r_0003.fits"));
    let truth = std::fs::read_to_string(&s.truth_csv).expect("truth");
    assert!(truth.starts_with("id,ra,dec,flux_g,flux_r\n"));
    assert_eq!(truth.lines().count() - 1, s.stars);
    assert!(s.stars > 50, "{} stars", s.stars);
    for f in &s.files {
        let src = open_source(f.to_str().expect("utf8")).expect("open");
        let hdus = scan_hdus(src.as_ref()).expect("scan");
        assert_eq!(hdus.len(), 4);
        assert!(hdus[0].naxes.is_empty(), "empty primary");
        let band = f.parent().and_then(Path::file_name).expect("band dir").to_string_lossy().to_string();
        assert_eq!(hdus[0].header.get_str("FILTER"), Some(band));
        let names: Vec<_> = hdus[1..].iter().map(|h| h.extname.clone().unwrap_or_default()).collect();
        assert_eq!(names, ["IMAGE", "MASK", "VARIANCE"]);
        assert_eq!((hdus[1].bitpix, hdus[2].bitpix, hdus[3].bitpix), (-32, 32, -32));
        assert_eq!(hdus[2].header.get_i64("MP_NO_DATA"), Some(8));
        assert_eq!(hdus[2].header.get_i64("MP_SAT"), Some(1));
        assert!(hdus[1].header.get_f64("CD1_1").expect("CD1_1") < 0.0, "RA increases to the left");
    }
    // Patch 3 carries a NO_DATA wedge at its origin corner; there the image holds garbage (0 or 1e4).
    let (img, mask, var, w) = planes(&dir.path().join("g/patch_g_0003.fits"));
    assert_eq!(mask[0] & i64::from(BIT_NO_DATA), i64::from(BIT_NO_DATA));
    let nodata: Vec<usize> = (0..mask.len()).filter(|&i| mask[i] & i64::from(BIT_NO_DATA) != 0).collect();
    assert!(nodata.len() > w * w / 40, "wedge of {} pixels", nodata.len());
    assert!(nodata.iter().all(|&i| img[i] == 0.0 || img[i] == 1.0e4));
    assert!(nodata.iter().all(|&i| var[i].is_nan()));
    // Elsewhere the variance is positive and the noise has roughly the sky sigma (10).
    let good: Vec<usize> = (0..mask.len()).filter(|&i| mask[i] == 0).collect();
    assert!(good.iter().all(|&i| var[i] >= 100.0));
    let mean = good.iter().map(|&i| f64::from(img[i])).sum::<f64>() / good.len() as f64;
    let sd = (good.iter().map(|&i| (f64::from(img[i]) - mean).powi(2)).sum::<f64>() / good.len() as f64).sqrt();
    assert!((9.0..14.0).contains(&sd), "sky noise sd {sd}");
}

#[test]
fn overlaps_are_bit_identical() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = small();
    generate(&cfg, dir.path()).expect("generate");
    let (n, ov) = (cfg.patch_size, cfg.overlap);
    let step = n - ov;
    for band in ["g", "r"] {
        let p = |i: usize| planes(&dir.path().join(format!("{band}/patch_{band}_{i:04}.fits")));
        let (p0, p1, p2) = (p(0), p(1), p(2));
        for y in 0..n {
            for x in 0..ov {
                // Horizontal neighbours 0 | 1.
                let (a, b) = (y * n + step + x, y * n + x);
                assert_eq!(p0.0[a].to_bits(), p1.0[b].to_bits(), "{band} image x={x} y={y}");
                assert_eq!(p0.1[a], p1.1[b]);
                assert_eq!(p0.2[a].to_bits(), p1.2[b].to_bits());
                // Vertical neighbours 0 / 2 (transpose the loop).
                let (a, b) = ((step + x) * n + y, x * n + y);
                assert_eq!(p0.0[a].to_bits(), p2.0[b].to_bits(), "{band} image row overlap");
                assert_eq!(p0.1[a], p2.1[b]);
            }
        }
    }
}

const ASTROPY_WCS: &str = r#"
import sys, csv, json, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
warnings.simplefilter("error")
path, truth = sys.argv[1], sys.argv[2]
with fits.open(path, checksum=True) as hl:
    for h in hl:
        assert h._checksum_valid and h._datasum_valid, h.name
    hdr = hl["IMAGE"].header
    w = WCS(hdr)
    ny, nx = hl["IMAGE"].data.shape
rows = list(csv.DictReader(open(truth)))
ra = np.array([float(r["ra"]) for r in rows]); dec = np.array([float(r["dec"]) for r in rows])
x, y = w.all_world2pix(ra, dec, 0)
out = []
for r, xi, yi in zip(rows, x, y):
    if 8 <= xi < nx - 8 and 8 <= yi < ny - 8:
        out.append({"id": r["id"], "x": float(xi), "y": float(yi), "flux": float(r["flux_g"])})
out.sort(key=lambda d: -d["flux"])
print(json.dumps(out[:15]))
"#;

#[test]
fn astropy_wcs_puts_truth_stars_on_their_peaks() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = SynthConfig { patch_size: 800, overlap: 100, ..small() };
    let s = generate(&cfg, dir.path()).expect("generate");
    for patch in [0usize, 3] {
        let path = dir.path().join(format!("g/patch_g_{patch:04}.fits"));
        let out = std::process::Command::new(python())
            .arg("-c")
            .arg(ASTROPY_WCS)
            .arg(&path)
            .arg(&s.truth_csv)
            .output()
            .expect("python");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stars: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let (img, mask, _, n) = planes(&path);
        let mut checked = 0;
        for st in stars.as_array().expect("array") {
            let (x, y, flux) =
                (st["x"].as_f64().expect("x"), st["y"].as_f64().expect("y"), st["flux"].as_f64().expect("f"));
            let (ix, iy) = (x.round() as usize, y.round() as usize);
            if flux < 3000.0 || mask[iy * n + ix] & i64::from(BIT_NO_DATA) != 0 {
                continue;
            }
            // Centroid of the 7x7 box around astropy's pixel, above the median of the box border.
            let mut border: Vec<f32> = (0..7)
                .flat_map(|k| [(0, k), (6, k), (k, 0), (k, 6)])
                .map(|(dx, dy)| img[(iy - 3 + dy) * n + ix - 3 + dx])
                .collect();
            border.sort_by(f32::total_cmp);
            let bg = f64::from(border[border.len() / 2]);
            let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
            for yy in iy - 3..=iy + 3 {
                for xx in ix - 3..=ix + 3 {
                    let v = (f64::from(img[yy * n + xx]) - bg).max(0.0);
                    sx += v * xx as f64;
                    sy += v * yy as f64;
                    sw += v;
                }
            }
            let (cx, cy) = (sx / sw, sy / sw);
            assert!(
                (cx - x).abs() < 0.25 && (cy - y).abs() < 0.25,
                "patch {patch} star {}: astropy pixel ({x:.3}, {y:.3}), rendered centroid ({cx:.3}, {cy:.3})",
                st["id"]
            );
            checked += 1;
        }
        assert!(checked >= 2, "patch {patch}: only {checked} bright stars checked");
    }
    // The tract projection round-trips.
    let t = Tract::new(&cfg).expect("tract");
    let (ra, dec) = t.pix_to_sky(12.25, 400.5);
    let (p1, p2) = t.sky_to_pix(ra, dec).expect("pix");
    assert!((p1 - 12.25).abs() < 1e-8 && (p2 - 400.5).abs() < 1e-8);
}

#[test]
fn invalid_configs_are_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    for bad in [
        SynthConfig { bands: vec![], ..small() },
        SynthConfig { bands: vec!["../x".into()], ..small() },
        SynthConfig { patches: 0, ..small() },
        SynthConfig { overlap: 200, ..small() },
        SynthConfig { dec: 95.0, ..small() },
        SynthConfig { pixel_scale_arcsec: 0.0, ..small() },
    ] {
        assert!(generate(&bad, dir.path()).is_err(), "{bad:?}");
    }
}
