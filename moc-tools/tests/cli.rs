//! The `moc-tools` binary: `check` on hand-broken files, clear errors and non-zero exits on bad input,
//! conversions, diff, info, constructors (against mocpy) and from-hips on the reference HiPS built by CDS Hipsgen.

mod common;

use common::{assert_all_ok, bin, data_dir, oracle, ranges_json};
use moc_tools::{from_cells, from_fits_bytes, ranges, to_fits_bytes, CoordSys};
use serde_json::json;
use std::path::Path;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = bin().args(args).output().expect("run moc-tools");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Replace the 80-byte card starting with `key` by `new` (padded), or by blanks.
fn edit_card(bytes: &mut [u8], key: &str, new: Option<&str>) {
    let pos =
        (0..bytes.len() / 80).map(|i| i * 80).find(|&o| bytes[o..o + 8].starts_with(key.as_bytes())).expect("card");
    let text = format!("{:<80}", new.unwrap_or(""));
    bytes[pos..pos + 80].copy_from_slice(text.as_bytes());
}

/// Offset of the binary table data (third 2880-byte block for our single-block headers).
const DATA: usize = 2 * 2880;

#[test]
fn check_reports_each_defect_of_hand_broken_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let m = from_cells(10, [5u64, 6, 100, 4000, 4001, 9999]);
    let good = to_fits_bytes(&m, CoordSys::Icrs).expect("fits");
    let write = |name: &str, b: &[u8]| {
        let f = d.join(name);
        std::fs::write(&f, b).expect("write");
        f
    };
    let ok = write("good.fits", &good);
    let (code, out, _) = run(&["check", p(&ok)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK"));

    let mut b = good.clone();
    edit_card(&mut b, "MOCORD_S", None);
    let f = write("no_mocord.fits", &b);
    let (code, out, _) = run(&["check", p(&f)]);
    assert_eq!(code, 3, "defects found");
    assert!(out.contains("keyword MOCORD_S is missing"), "{out}");
    // still readable (MOCORDER is there for 1.0 readers)
    assert_eq!(from_fits_bytes(&b).expect("read").0.depth_max(), 10);

    let mut b = good.clone();
    edit_card(&mut b, "TTYPE1", Some("TTYPE1  = 'NPIX    '"));
    let f = write("ttype.fits", &b);
    let (code, out, _) = run(&["check", p(&f)]);
    assert_eq!(code, 3, "defects found");
    assert!(out.contains("TTYPE1 = 'NPIX': expected 'UNIQ'"), "{out}");

    let mut b = good.clone();
    b[DATA..DATA + 8].copy_from_slice(&3u64.to_be_bytes());
    let f = write("range.fits", &b);
    let (code, out, _) = run(&["check", p(&f)]);
    assert_eq!(code, 3, "defects found");
    assert!(out.contains("out of the NUNIQ range") && out.contains("row 1: 3"), "{out}");
    let (code, _, err) = run(&["info", p(&f)]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("row 1: 3 is not a valid NUNIQ value"), "{err}");

    let mut b = good.clone();
    let (r0, r1) = (DATA, DATA + 8);
    let first: [u8; 8] = b[r0..r0 + 8].try_into().expect("8");
    let second: [u8; 8] = b[r1..r1 + 8].try_into().expect("8");
    b[r0..r0 + 8].copy_from_slice(&second);
    b[r1..r1 + 8].copy_from_slice(&first);
    let f = write("unsorted.fits", &b);
    let (code, out, _) = run(&["check", p(&f)]);
    assert_eq!(code, 3, "defects found");
    assert!(out.contains("not sorted"), "{out}");
    // readers still get the same cells
    assert_eq!(ranges(&from_fits_bytes(&b).expect("read").0), ranges(&m));

    let mut b = good.clone();
    edit_card(&mut b, "COORDSYS", Some("COORDSYS= 'E       '"));
    let f = write("coordsys.fits", &b);
    let (code, out, _) = run(&["check", p(&f)]);
    assert_eq!(code, 3, "defects found");
    assert!(out.contains("COORDSYS = 'E'"), "{out}");
    let (code, _, err) = run(&["info", p(&f)]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("COORDSYS"), "{err}");

    let f = write("truncated.fits", &good[..DATA + 8]);
    let (code, out, _) = run(&["check", p(&f)]);
    assert_eq!(code, 3, "defects found");
    assert!(out.contains("truncated"), "{out}");

    // all defects reported for several files in one run
    let (code, out, _) = run(&["check", p(&ok), p(&d.join("ttype.fits")), p(&d.join("unsorted.fits"))]);
    assert_eq!(code, 3, "defects found");
    assert_eq!(out.lines().count(), 3, "{out}");
}

#[test]
fn bad_input_gives_clear_errors_and_the_right_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let junk = d.join("junk.fits");
    std::fs::write(&junk, b"this is not a MOC at all\n").expect("write");
    let (code, _, err) = run(&["info", p(&junk)]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("not a MOC"), "{err}");

    let (code, _, err) = run(&["info", p(&d.join("missing.fits"))]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("cannot read") && err.contains("missing.fits"), "{err}");

    let a = d.join("a.fits");
    let g = d.join("g.fits");
    std::fs::write(&a, to_fits_bytes(&from_cells(5, [1u64]), CoordSys::Icrs).expect("fits")).expect("w");
    std::fs::write(&g, to_fits_bytes(&from_cells(5, [1u64]), CoordSys::Galactic).expect("fits")).expect("w");
    let (code, _, err) = run(&["union", p(&a), p(&g), "-o", p(&d.join("u.fits"))]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("coordinate system mismatch") && err.contains("g.fits"), "{err}");
    let (code, _, err) = run(&["diff", p(&a), p(&g)]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("coordinate system mismatch"), "{err}");

    let (code, _, err) = run(&["from-images", p(&junk), "--order", "10", "-o", p(&d.join("x.fits"))]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("junk.fits"), "{err}");
    let (code, _, err) = run(&["from-images", &format!("{}/nothing*.fits", d.display()), "--order", "10", "-o", "x"]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("matches no file"), "{err}");
    let (code, _, err) = run(&["from-cells", "--order", "1", "48", "-o", p(&d.join("c.fits"))]);
    assert_eq!(code, 2, "an argument out of its domain is a usage error");
    assert!(err.contains("cell 48 does not exist at order 1"), "{err}");
    let (code, _, err) = run(&["from-cells", "--order", "30", "1", "-o", p(&d.join("c.fits"))]);
    assert_eq!(code, 2, "an argument out of its domain is a usage error");
    assert!(err.contains("order 30"), "{err}");
    let (code, _, err) = run(&["from-hips", p(d), "-o", p(&d.join("h.fits"))]);
    assert_eq!(code, 1, "a run-time error");
    assert!(err.contains("properties"), "{err}");
    let (code, _, err) = run(&["degrade", p(&a), "--order", "8", "-o", p(&d.join("dg.fits"))]);
    assert_eq!(code, 2, "an argument out of its domain is a usage error");
    assert!(err.contains("deeper order 8"), "{err}");
}

#[test]
fn convert_info_diff_and_setops_roundtrip() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let old = from_cells(9, (1000u64..1400).chain(5000..5003));
    let new = from_cells(9, (1200u64..1800).chain([77777]));
    let (fo, fnew) = (d.join("old.fits"), d.join("new.fits"));
    std::fs::write(&fo, to_fits_bytes(&old, CoordSys::Galactic).expect("fits")).expect("w");
    std::fs::write(&fnew, to_fits_bytes(&new, CoordSys::Galactic).expect("fits")).expect("w");
    // fits -> ascii -> json -> RANGE fits -> NUNIQ fits: same cells (ASCII/JSON carry no frame)
    let chain = [("a.txt", "ascii"), ("a.json", "json"), ("r.fits", "fits")];
    let mut prev = fo.clone();
    for (name, fmt) in chain {
        let next = d.join(name);
        let mut args = vec!["convert", p(&prev), p(&next), "--format", fmt];
        if name == "r.fits" {
            args.extend(["--ordering", "range"]);
        }
        let (code, _, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        prev = next;
    }
    let (back, _) = from_fits_bytes(&std::fs::read(&prev).expect("r")).expect("read");
    assert_eq!(ranges(&back), ranges(&old));
    assert_eq!(back.depth_max(), 9);
    let ascii = std::fs::read_to_string(d.join("a.txt")).expect("ascii");
    assert!(ascii.starts_with("s5/4 6/20 7/63 84-86 8/250-251 348-349 9/5000-5002"), "{ascii}");

    let (code, out, err) = run(&["diff", p(&fo), p(&fnew), "--json", "-o", p(&d.join("rel"))]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let cell = moc_tools::area_deg2(&from_cells(9, [0u64]));
    let close = |k: &str, n: f64| (v[k].as_f64().expect("num") - n * cell).abs() < 1e-9 * n.max(1.0);
    assert!(close("added_area_deg2", 401.0), "{out}");
    assert!(close("removed_area_deg2", 203.0), "{out}");
    assert!(close("kept_area_deg2", 200.0), "{out}");
    let (added, sys) = from_fits_bytes(&std::fs::read(d.join("rel-added.fits")).expect("r")).expect("read");
    assert_eq!(sys, CoordSys::Galactic);
    assert_eq!(ranges(&added), ranges(&from_cells(9, (1400u64..1800).chain([77777]))));

    let (code, out, _) = run(&["info", p(&fo), "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["order"], 9);
    assert_eq!(v["coordsys"], "G");
    assert!((v["area_deg2"].as_f64().expect("area") - 403.0 * cell).abs() < 1e-9);
    let cone = &v["bounding_cone"];
    assert!(cone["radius"].as_f64().expect("r") > 0.0);

    let u = d.join("u.fits");
    let (code, _, err) = run(&["union", p(&fo), p(&fnew), "-o", p(&u)]);
    assert_eq!(code, 0, "{err}");
    let (mu, _) = from_fits_bytes(&std::fs::read(&u).expect("r")).expect("read");
    assert_eq!(ranges(&mu), ranges(&old.or(&new)));
    let c = d.join("c.fits");
    let (code, _, _) = run(&["complement", p(&u), "-o", p(&c)]);
    assert_eq!(code, 0);
    let i = d.join("i.fits");
    let (code, _, _) = run(&["intersection", p(&u), p(&c), "-o", p(&i)]);
    assert_eq!(code, 0);
    assert!(ranges(&from_fits_bytes(&std::fs::read(&i).expect("r")).expect("read").0).is_empty());
    let dg = d.join("dg.fits");
    let (code, _, _) = run(&["degrade", p(&u), "--order", "4", "-o", p(&dg)]);
    assert_eq!(code, 0);
    assert_eq!(from_fits_bytes(&std::fs::read(&dg).expect("r")).expect("read").0.depth_max(), 4);
}

#[test]
fn cone_and_polygon_match_mocpy() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let cone = d.join("cone.fits");
    let (code, _, err) = run(&["from-cone", "83.6", "-5.4", "1.5", "--order", "10", "-o", p(&cone)]);
    assert_eq!(code, 0, "{err}");
    let poly = d.join("poly.fits");
    let (code, _, err) = run(&[
        "from-polygon",
        "--order",
        "11",
        "-o",
        p(&poly),
        "10",
        "-10",
        "14",
        "-10",
        "14",
        "-6",
        "12",
        "-4",
        "10",
        "-6",
    ]);
    assert_eq!(code, 0, "{err}");
    let py = format!(
        r#"
from mocpy import MOC
import astropy.units as u, numpy as np, json
c = MOC.from_cone(lon=83.6*u.deg, lat=-5.4*u.deg, radius=1.5*u.deg, max_depth=10, delta_depth=2)
p = MOC.from_polygon(lon=np.array([10,14,14,12,10])*u.deg, lat=np.array([-10,-10,-6,-4,-6])*u.deg, max_depth=11)
oc, op = MOC.from_fits("{c}"), MOC.from_fits("{p}")
print(json.dumps([c.to_string()==oc.to_string(), p.to_string()==op.to_string(), c.sky_fraction, p.sky_fraction]))
"#,
        c = cone.display(),
        p = poly.display()
    );
    let o = std::process::Command::new(common::python()).arg("-c").arg(py).output().expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v[0], true, "cone differs from mocpy: {v}");
    assert_eq!(v[1], true, "polygon differs from mocpy: {v}");
    assert!(v[2].as_f64().expect("sf") > 0.0 && v[3].as_f64().expect("sf") > 0.0);
}

#[test]
fn from_hips_on_reference_hips_matches_their_tiles_and_moc() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let mut checks = Vec::new();
    for (h, order) in [("CFHT", 5u8), ("JWST_MIRI", 7)] {
        let hips = data_dir().join("reference_hips").join(h);
        // at the tile order: exactly the tiles present
        let t = d.join(format!("{h}-tiles.fits"));
        let (code, _, err) = run(&["from-hips", p(&hips), "--order", &order.to_string(), "-o", p(&t)]);
        assert_eq!(code, 0, "{err}");
        let (mt, sys) = from_fits_bytes(&std::fs::read(&t).expect("r")).expect("read");
        assert_eq!(sys, CoordSys::Icrs);
        let mut tiles: Vec<u64> = Vec::new();
        for e in walk(&hips.join(format!("Norder{order}"))) {
            let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            if let Some(n) = name.strip_prefix("Npix").and_then(|s| s.strip_suffix(".png")) {
                tiles.push(n.parse().expect("npix"));
            }
        }
        assert!(!tiles.is_empty());
        assert_eq!(ranges(&mt), ranges(&from_cells(order, tiles.clone())), "{h}: tiles");
        // at the pixel order: inside Hipsgen's own Moc.fits, and smaller than the tiles when tiles have blanks
        let px = d.join(format!("{h}-pixels.fits"));
        let (code, _, err) = run(&["from-hips", p(&hips), "-o", p(&px)]);
        assert_eq!(code, 0, "{err}");
        let (mp, _) = from_fits_bytes(&std::fs::read(&px).expect("r")).expect("read");
        assert_eq!(mp.depth_max(), order + 9);
        let (hm, _) = from_fits_bytes(&std::fs::read(hips.join("Moc.fits")).expect("r")).expect("Moc.fits");
        assert!(ranges(&moc_tools::ops::difference(&mp, &hm)).is_empty(), "{h}: pixels outside Hipsgen's MOC");
        assert!(moc_tools::sky_fraction(&mp) > 0.0);
        assert!(moc_tools::sky_fraction(&mp) < moc_tools::sky_fraction(&mt), "{h}: no blank pixel at all?");
        checks.push(json!({"kind": "read", "name": format!("{h} pixel MOC read by mocpy"), "file": p(&px),
            "ranges": ranges_json(&mp), "order": mp.depth_max(), "coordsys": "C"}));
    }
    assert_all_ok(&oracle(d, checks));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
