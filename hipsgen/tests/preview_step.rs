//! The `previews` step on a synthetic FITS HiPS: every tile and the Allsky get PNG/JPEG previews equal to the FITS
//! pixels flipped and passed through the cut (checked here with the `image` crate decoder, and by an independent
//! Python oracle: Pillow decoding, astropy.io.fits reading and astropy.visualization stretches).

mod preview_util;

use hips_core::healpix::tile_key;
use hipsgen::preview::{add_previews, PreviewFormat, PreviewSpec, Stretch};
use hipsgen::properties::Properties;
use preview_util::*;

fn tiles(order: u8) -> Vec<u64> {
    match order {
        0 => vec![0, 5],
        1 => vec![0, 1, 3, 21, 47],
        _ => vec![],
    }
}

/// Expected level computed directly (f64 stretch, round half up) from a FITS value.
fn expected_level(v: f32, cut: (f32, f32), s: Stretch) -> u8 {
    let t = ((f64::from(v) - f64::from(cut.0)) / (f64::from(cut.1) - f64::from(cut.0))).clamp(0.0, 1.0);
    (s.apply(t) * 255.0 + 0.5).floor() as u8
}

#[test]
fn png_is_fits_flipped_through_cut_with_alpha_on_blank() {
    for stretch in [Stretch::Linear, Stretch::Log, Stretch::Sqrt, Stretch::Asinh, Stretch::Pow2] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = write_fits_hips(dir.path(), 32, 1, &tiles, "hips_pixel_cut = 5 95\n", 1);
        let spec = PreviewSpec::new(vec![PreviewFormat::Png, PreviewFormat::Jpeg], (5.0, 95.0), stretch);
        let report = add_previews(&store, &spec, false, false, "/aladin.js").expect("previews");
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.tiles, 7);
        assert_eq!(report.written, 16);
        let mut keys: Vec<String> =
            (0..=1u8).flat_map(|o| tiles(o).into_iter().map(move |n| tile_key(o, n, "fits"))).collect();
        keys.push("Norder3/Allsky.fits".into());
        for key in keys {
            let (w, h, data) = read_fits(&store, &key);
            let stem = key.strip_suffix(".fits").expect("fits key");
            let png = store.get(&format!("{stem}.png")).expect("get").expect("png exists");
            let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).expect("decode png");
            assert_eq!(img.color(), image::ColorType::La8, "{key}");
            let la = img.to_luma_alpha8();
            assert_eq!((la.width() as usize, la.height() as usize), (w, h));
            let jpg = store.get(&format!("{stem}.jpg")).expect("get").expect("jpg exists");
            let jimg =
                image::load_from_memory_with_format(&jpg, image::ImageFormat::Jpeg).expect("decode jpeg").to_luma8();
            let mut jpeg_err = 0.0f64;
            for p in 0..h {
                for c in 0..w {
                    let v = data[(h - 1 - p) * w + c];
                    let px = la.get_pixel(c as u32, p as u32).0;
                    let jv = f64::from(jimg.get_pixel(c as u32, p as u32).0[0]);
                    if v.is_nan() {
                        assert_eq!(px[1], 0, "{key} ({c},{p}) blank must be transparent");
                        jpeg_err += jv;
                    } else {
                        assert_eq!(px[1], 255, "{key} ({c},{p}) opaque");
                        let want = expected_level(v, (5.0, 95.0), stretch);
                        assert!(
                            (i32::from(px[0]) - i32::from(want)).abs() <= 1,
                            "{key} {stretch} ({c},{p}) {v}: {} vs {want}",
                            px[0]
                        );
                        jpeg_err += (jv - f64::from(want)).abs();
                    }
                }
            }
            let mean = jpeg_err / (w * h) as f64;
            assert!(mean < 4.0, "{key} {stretch}: JPEG mean error {mean} levels");
        }
        let props = Properties::parse(&String::from_utf8_lossy(&store.get("properties").expect("get").expect("props")));
        assert_eq!(props.get("hips_tile_format"), Some("png jpeg fits"));
        assert_eq!(props.get("hips_pixel_cut"), Some("5 95"));
        let html =
            String::from_utf8(store.get("index.html").expect("get").expect("index.html").to_vec()).expect("utf8");
        assert!(html.contains("\"/aladin.js\"") && html.contains("imgFormat: \"png\""));
    }
}

#[test]
fn resume_skips_done_tiles_and_rerun_is_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = write_fits_hips(dir.path(), 16, 1, &tiles, "hips_pixel_cut = 0 80\n", 2);
    let spec = PreviewSpec::new(vec![PreviewFormat::Png], (0.0, 80.0), Stretch::Sqrt);
    add_previews(&store, &spec, false, false, "a.js").expect("first run");
    let k = tile_key(1, 21, "png");
    let first = store.get(&k).expect("get").expect("png");
    store.delete(&tile_key(1, 3, "png")).expect("delete");
    let r = add_previews(&store, &spec, true, false, "a.js").expect("resume");
    assert_eq!((r.skipped, r.written), (7, 1), "only the deleted tile is redrawn");
    assert!(store.exists(&tile_key(1, 3, "png")).expect("exists"));
    let r = add_previews(&store, &spec, false, false, "a.js").expect("rerun");
    assert_eq!(r.written, 8);
    assert_eq!(store.get(&k).expect("get").expect("png"), first, "same inputs give the same bytes");
    let props = Properties::parse(&String::from_utf8_lossy(&store.get("properties").expect("get").expect("p")));
    assert_eq!(props.get("hips_tile_format"), Some("png fits"));
}

#[test]
fn broken_tile_is_reported_and_others_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = write_fits_hips(dir.path(), 16, 1, &tiles, "hips_pixel_cut = 0 80\n", 3);
    store.put(&tile_key(1, 47, "fits"), b"SIMPLE  = garbage".to_vec()).expect("put");
    let spec = PreviewSpec::new(vec![PreviewFormat::Png], (0.0, 80.0), Stretch::Linear);
    let r = add_previews(&store, &spec, false, false, "a.js").expect("run");
    assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
    assert!(r.failures[0].contains("Npix47.fits"), "{}", r.failures[0]);
    assert!(store.exists(&tile_key(1, 21, "png")).expect("exists"));
}

#[test]
fn python_oracle_pillow_and_astropy_agree() {
    let script = workspace().join("tests/test_preview_png.py");
    for (stretch, name) in [(Stretch::Linear, "linear"), (Stretch::Log, "log"), (Stretch::Asinh, "asinh")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = write_fits_hips(dir.path(), 64, 1, &tiles, "", 4);
        let spec = PreviewSpec::new(vec![PreviewFormat::Png, PreviewFormat::Jpeg], (-3.0, 88.5), stretch);
        let r = add_previews(&store, &spec, false, true, "a.js").expect("previews");
        assert!(r.failures.is_empty());
        let out = run_python(&script, &["--check", dir.path().to_str().expect("utf8"), "-3", "88.5", name]);
        assert!(out.contains("checked 16 images"), "{out}");
    }
}
