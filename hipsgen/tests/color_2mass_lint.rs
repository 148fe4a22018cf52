//! Real data end to end: the 2MASS J/H/Ks images of the Galactic Centre (`shared/data/multiband_2mass_gc`) through
//! `hipsgen tiles` (the binary), then `previews` on one band and `color` (Lupton) on the three, and CDS Hipsgen's LINT
//! (Debian `aladin`) must accept both HiPS as IVOA HiPS 1.0 compatible.

mod preview_util;

use std::path::Path;
use std::process::Command;

use clap::Parser;
use hipsgen::cli::{ColorArgs, PreviewsArgs};
use hipsgen::color::{run_color, ColorJob};
use hipsgen::preview::{run_previews, PreviewsJob};
use hipsgen::properties::Properties;

#[derive(Parser)]
struct PreviewsCli {
    #[command(flatten)]
    a: PreviewsArgs,
}

#[derive(Parser)]
struct ColorCli {
    #[command(flatten)]
    a: ColorArgs,
}

fn data(band: &str) -> String {
    let p = preview_util::workspace().join(format!("../shared/data/multiband_2mass_gc/gc_2mass_{band}.fits"));
    assert!(p.exists(), "missing test image {}", p.display());
    p.display().to_string()
}

fn tiles(band: &str, out: &Path) {
    let st = Command::new(env!("CARGO_BIN_EXE_hipsgen"))
        .args(["tiles", "--input", &data(band), "--out", out.to_str().expect("utf8"), "--band", band])
        .args(["--id", &format!("ivo://test/P/2mass/{band}"), "--title", &format!("2MASS {band}")])
        .status()
        .expect("run hipsgen tiles");
    assert!(st.success(), "hipsgen tiles {band} failed");
}

/// Run CDS Hipsgen LINT on a HiPS; returns its output after asserting it found the HiPS compatible without errors.
fn lint(dir: &Path) -> String {
    let out = Command::new("java")
        .args(["-cp", "/usr/share/java/aladin.jar", "cds.allsky.HipsGen"])
        .arg(format!("out={}", dir.display()))
        .arg("LINT")
        .output()
        .expect("run java (Debian package aladin)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "LINT failed to run:\n{text}");
    assert!(
        text.contains("IVOA HiPS 1.0 compatible") && !text.contains("not IVOA"),
        "LINT refused {}:\n{text}",
        dir.display()
    );
    assert!(!text.contains("ERROR"), "LINT errors for {}:\n{text}", dir.display());
    text
}

#[test]
fn two_mass_color_hips_passes_cds_lint() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let band_dir = |b: &str| tmp.path().join(b);
    for b in ["j", "h", "k"] {
        tiles(b, &band_dir(b));
    }
    // Band previews on J (PNG + JPEG) and LINT on it.
    let j = band_dir("j").display().to_string();
    let job = PreviewsJob::try_from(PreviewsCli::parse_from(["x", &j, "--stretch", "asinh"]).a).expect("job");
    let report = run_previews(&job).expect("previews");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let jp = Properties::parse(&std::fs::read_to_string(band_dir("j").join("properties")).expect("properties"));
    assert_eq!(jp.get("hips_tile_format"), Some("png jpeg fits"));
    assert!(band_dir("j").join("Norder3/Allsky.png").exists() && band_dir("j").join("index.html").exists());
    lint(&band_dir("j"));

    // Color: K red, H green, J blue.
    let out = tmp.path().join("color");
    let (k, h) = (band_dir("k").display().to_string(), band_dir("h").display().to_string());
    let o = out.display().to_string();
    let args = ColorCli::parse_from(["x", "--red", &k, "--green", &h, "--blue", &j, "--out", &o]).a;
    let report = run_color(&ColorJob::try_from(args).expect("job")).expect("color");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let text = lint(&out);
    assert!(text.contains("Allsky found"), "{text}");
    let p = Properties::parse(&std::fs::read_to_string(out.join("properties")).expect("properties"));
    assert_eq!(p.get("dataproduct_subtype"), Some("color"));
    assert_eq!(p.get("hips_tile_format"), Some("png jpeg"));
    assert!(out.join("Moc.fits").exists() && out.join("index.html").exists());
    // The deepest tiles hold real color: a good share of opaque pixels, and not grey (bands differ).
    let order: u8 = p.get("hips_order").and_then(|v| v.parse().ok()).expect("order");
    let mut opaque = 0usize;
    let mut colorful = 0usize;
    let dirs = std::fs::read_dir(out.join(format!("Norder{order}"))).expect("order dir");
    let files = dirs.flat_map(|d| std::fs::read_dir(d.expect("dir").path()).expect("tiles dir"));
    for e in files {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "png") {
            let img = image::open(&path).expect("decode").to_rgba8();
            for px in img.pixels() {
                if px.0[3] == 255 {
                    opaque += 1;
                    let (mx, mn) = (px.0[..3].iter().max().copied(), px.0[..3].iter().min().copied());
                    if mx.zip(mn).is_some_and(|(a, b)| a - b > 8) {
                        colorful += 1;
                    }
                }
            }
        }
    }
    assert!(opaque > 100_000, "only {opaque} opaque pixels at order {order}");
    assert!(colorful * 5 > opaque, "{colorful} of {opaque} pixels show color");
}
