//! The color step on synthetic band HiPS: Lupton and linear color against astropy (make_lupton_rgb / make_rgb via
//! tests/test_color_lupton.py), blank handling, the union of tiles and coverage, properties, and band checks.

mod preview_util;

use hips_core::healpix::tile_key;
use hipsgen::color::{build_color, BandHips, ColorMapper, ColorMethod, ColorOptions, ColorParams};
use hipsgen::preview::PreviewFormat;
use hipsgen::properties::Properties;
use preview_util::*;

fn band_tiles(i: u64) -> impl Fn(u8) -> Vec<u64> {
    move |o| match (o, i) {
        (0, _) => vec![0],
        (1, 0) => vec![0, 1, 2],
        (1, 1) => vec![1, 2, 3],
        (1, _) => vec![2, 40],
        _ => vec![],
    }
}

fn opts(formats: Vec<PreviewFormat>) -> ColorOptions {
    ColorOptions { formats, jpeg_quality: 90, id: None, title: None, resume: false, aladin_url: "/a.js".into() }
}

fn bands(root: &std::path::Path, width: usize) -> [BandHips; 3] {
    let names = ["red", "green", "blue"];
    let mut out = Vec::new();
    for i in 0..3u64 {
        let dir = root.join(format!("band{i}"));
        let extra = format!("hips_pixel_cut = 0 {}\nem_min = {}e-7\nem_max = {}e-7\n", 90 + i * 10, 10 + i, 12 + i);
        let store = write_fits_hips(&dir, width, 1, &band_tiles(i), &extra, 10 + i);
        let moc = moc_tools::from_cells(1, band_tiles(i)(1));
        store.put("Moc.fits", moc_tools::to_fits_bytes(&moc, moc_tools::CoordSys::Icrs).expect("moc")).expect("put");
        out.push(BandHips::open(names[i as usize], dir.to_str().expect("utf8")).expect("open band"));
    }
    out.try_into().expect("three bands")
}

fn check_with_astropy(root: &std::path::Path, params: &ColorParams, param: [f64; 3]) -> String {
    let b: Vec<String> = (0..3).map(|i| root.join(format!("band{i}")).display().to_string()).collect();
    let method = if params.method == ColorMethod::Lupton { "lupton" } else { "linear" };
    let nums: Vec<String> = [params.q, params.stretch]
        .iter()
        .chain(params.minimum.iter())
        .chain(param.iter())
        .map(|v| format!("{v}"))
        .collect();
    let color = root.join("color").display().to_string();
    let mut args: Vec<&str> = vec!["--check", &color, &b[0], &b[1], &b[2], method];
    args.extend(nums.iter().map(String::as_str));
    run_python(&workspace().join("tests/test_color_lupton.py"), &args)
}

#[test]
fn lupton_matches_astropy_and_hips_is_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bands = bands(dir.path(), 32);
    let out = hips_core::storage::Store::open(dir.path().join("color").to_str().expect("utf8")).expect("out");
    let params = ColorParams {
        method: ColorMethod::Lupton,
        minimum: [1.0, -2.0, 3.0],
        maximum: [90.0, 100.0, 110.0],
        scale: [1.0, 0.7, 1.3],
        stretch: 20.0,
        q: 8.0,
    };
    let report = build_color(
        &bands,
        &out,
        &ColorMapper::new(params.clone()),
        &opts(vec![PreviewFormat::Png, PreviewFormat::Jpeg]),
    )
    .expect("color");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Orders 0 (tile 0) and 1 (union 0,1,2,3,40): 6 positions, 2 formats, plus Allsky in 2 formats.
    assert_eq!((report.tiles, report.written), (6, 14));
    for n in [0u64, 1, 2, 3, 40] {
        assert!(
            out.exists(&tile_key(1, n, "png")).expect("exists") && out.exists(&tile_key(1, n, "jpg")).expect("exists")
        );
    }
    let text = check_with_astropy(dir.path(), &params, params.scale);
    assert!(text.contains("checked 7 images"), "{text}");

    let p = Properties::parse(&String::from_utf8_lossy(&out.get("properties").expect("get").expect("properties")));
    let ours = [
        "prov_progenitor",
        "hips_builder",
        "hips_creation_date",
        "moc_sky_fraction",
        "hips_nb_tiles",
        "hips_initial_ra",
        "hips_initial_dec",
        "hips_initial_fov",
    ];
    for k in hipsgen::lint::MANDATORY.iter().chain(&ours) {
        assert!(p.get(k).is_some(), "missing {k}");
    }
    assert_eq!(p.get("dataproduct_subtype"), Some("color"));
    assert_eq!(p.get("hips_tile_format"), Some("png jpeg"));
    assert_eq!(p.get("hips_nb_tiles"), Some("6"));
    assert_eq!(p.get("creator_did"), Some("ivo://test/P/color-synthetic10-synthetic11-synthetic12"));
    assert_eq!(p.get("em_min"), Some("0.000001"));
    let prov = p.get("prov_progenitor").expect("prov");
    assert!(prov.contains("ivo://test/P/synthetic10") && prov.contains("synthetic11") && prov.contains("synthetic12"));
    // Moc.fits = union of the band coverages (order-1 cells 0,1,2,3,40).
    let (moc, _) = moc_tools::from_fits_bytes(&out.get("Moc.fits").expect("get").expect("moc")).expect("parse moc");
    assert_eq!(moc, moc_tools::from_cells(1, [0u64, 1, 2, 3, 40]));
    let html = String::from_utf8(out.get("index.html").expect("get").expect("html").to_vec()).expect("utf8");
    assert!(html.contains("imgFormat: \"png\""));
}

#[test]
fn linear_matches_astropy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bands = bands(dir.path(), 16);
    let out = hips_core::storage::Store::open(dir.path().join("color").to_str().expect("utf8")).expect("out");
    let params = ColorParams {
        method: ColorMethod::Linear,
        minimum: [0.0, 5.0, -5.0],
        maximum: [80.0, 95.0, 60.0],
        scale: [1.0; 3],
        stretch: 5.0,
        q: 8.0,
    };
    let r =
        build_color(&bands, &out, &ColorMapper::new(params.clone()), &opts(vec![PreviewFormat::Png])).expect("color");
    assert!(r.failures.is_empty());
    let text = check_with_astropy(dir.path(), &params, params.maximum);
    assert!(text.contains("checked 7 images"), "{text}");
}

#[test]
fn incompatible_bands_are_refused_with_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = bands(dir.path(), 16);
    let other = dir.path().join("other");
    write_fits_hips(&other, 16, 2, &band_tiles(0), "hips_pixel_cut = 0 1\n", 5);
    b[2] = BandHips::open("blue", other.to_str().expect("utf8")).expect("open");
    let out = hips_core::storage::Store::open(dir.path().join("color").to_str().expect("utf8")).expect("out");
    let p = ColorParams {
        method: ColorMethod::Lupton,
        minimum: [0.0; 3],
        maximum: [1.0; 3],
        scale: [1.0; 3],
        stretch: 5.0,
        q: 8.0,
    };
    let e = build_color(&b, &out, &ColorMapper::new(p), &opts(vec![PreviewFormat::Png])).expect_err("must refuse");
    let msg = e.to_string();
    assert!(msg.contains("hips_order differs") && msg.contains("blue") && msg.contains("= 2"), "{msg}");
    let missing = BandHips::open("red", dir.path().join("nothing").to_str().expect("utf8")).expect_err("no properties");
    assert!(missing.to_string().contains("red band HiPS") && missing.to_string().contains("no properties"));
}
