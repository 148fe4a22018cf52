//! moc-tools against mocpy on random MOCs: mocpy reads every file we write (same ranges, order, sky fraction,
//! MOC 2.0 keywords), and union, intersection, difference, complement and degrade equal mocpy's results.

mod common;

use common::{assert_all_ok, oracle, random_moc, ranges_json, Rng};
use moc_tools::{degrade, ops, sky_fraction, to_fits_bytes, to_fits_bytes_with, CoordSys, FitsOrdering, SMoc};
use serde_json::json;

fn write(dir: &std::path::Path, name: &str, m: &SMoc) -> String {
    let p = dir.join(name);
    std::fs::write(&p, to_fits_bytes(m, CoordSys::Icrs).expect("fits")).expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
fn random_mocs_match_mocpy() {
    let dir = tempfile::tempdir().expect("tmp");
    let keep = std::env::var_os("MOC_TEST_KEEP").map(std::path::PathBuf::from);
    let d = keep.as_deref().unwrap_or(dir.path());
    let mut rng = Rng(20261123);
    let orders = [0u8, 1, 3, 5, 7, 8, 10, 12, 13, 14, 18, 22, 29, 9, 11, 6];
    let mocs: Vec<SMoc> = orders.iter().map(|&o| random_moc(&mut rng, o)).collect();
    let mut checks = Vec::new();
    let mut files = Vec::new();
    for (i, m) in mocs.iter().enumerate() {
        let f = write(d, &format!("m{i}.fits"), m);
        checks.push(json!({"kind": "read", "name": format!("read m{i} (order {})", m.depth_max()), "file": f,
            "ranges": ranges_json(m), "order": m.depth_max(), "coordsys": "C", "sky_fraction": sky_fraction(m)}));
        files.push(f);
    }
    // galactic and RANGE-ordered files are read too
    let g = d.join("gal_range.fits");
    std::fs::write(&g, to_fits_bytes_with(&mocs[6], CoordSys::Galactic, FitsOrdering::Range).expect("fits"))
        .expect("write");
    checks.push(json!({"kind": "read", "name": "read RANGE galactic", "file": g.to_string_lossy(),
        "ranges": ranges_json(&mocs[6]), "order": mocs[6].depth_max(), "coordsys": "G"}));
    for i in 0..mocs.len() {
        let j = (i * 7 + 3) % mocs.len();
        if i == j {
            continue;
        }
        let (a, b) = (&mocs[i], &mocs[j]);
        for (op, r) in [
            ("union", ops::union(a, b)),
            ("intersection", ops::intersection(a, b)),
            ("difference", ops::difference(a, b)),
        ] {
            let ours = write(d, &format!("{op}-{i}-{j}.fits"), &r);
            checks.push(json!({"kind": "op", "name": format!("{op} m{i} m{j}"), "op": op,
                "args": [files[i], files[j]], "ours": ours}));
        }
        let c = write(d, &format!("complement-{i}.fits"), &ops::complement(a));
        checks.push(json!({"kind": "op", "name": format!("complement m{i}"), "op": "complement",
            "args": [files[i]], "ours": c}));
        if a.depth_max() > 0 {
            let k = (rng.below(u64::from(a.depth_max()))) as u8;
            let dg = write(d, &format!("degrade-{i}-{k}.fits"), &degrade(a, k));
            checks.push(json!({"kind": "op", "name": format!("degrade m{i} to {k}"), "op": "degrade",
                "args": [files[i]], "order": k, "ours": dg}));
        }
    }
    let all = write(d, "union-all.fits", &ops::union_many(&mocs));
    checks.push(json!({"kind": "op", "name": "union of all", "op": "union", "args": files, "ours": all}));
    let par = write(d, "union-all-par.fits", &ops::union_many_par(&mocs));
    checks.push(json!({"kind": "op", "name": "parallel union of all", "op": "union", "args": files, "ours": par}));
    let verdicts = oracle(d, checks);
    assert!(verdicts.len() > 60, "only {} checks ran", verdicts.len());
    assert_all_ok(&verdicts);
}

/// Files written by mocpy (MOC 2.0, 64-bit) and by CDS's Java library (Hipsgen's Moc.fits, 32-bit) read back
/// with the cells mocpy sees.
#[test]
fn we_read_mocpy_and_hipsgen_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let py = format!(
        r#"
from mocpy import MOC
import astropy.units as u
m = MOC.from_cone(lon=10*u.deg, lat=20*u.deg, radius=2*u.deg, max_depth=11)
m.save("{d}/mocpy_v2.fits", format="fits", overwrite=True)
m.save("{d}/mocpy_v1.fits", format="fits", overwrite=True, v1_compatible=True)
"#,
        d = d.display()
    );
    let out = std::process::Command::new(common::python()).arg("-c").arg(py).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<String> =
        ["mocpy_v2.fits", "mocpy_v1.fits"].iter().map(|f| d.join(f).to_string_lossy().into_owned()).collect();
    for h in ["CFHT", "JWST_MIRI"] {
        files.push(common::data_dir().join(format!("reference_hips/{h}/Moc.fits")).to_string_lossy().into_owned());
    }
    let checks = files.iter().map(|f| json!({"kind": "dump", "name": f, "file": f})).collect();
    let verdicts = oracle(d, checks);
    for (f, v) in files.iter().zip(&verdicts) {
        assert!(v.ok, "{f}: {}", v.detail);
        let want: serde_json::Value = serde_json::from_str(&v.detail).expect("dump json");
        let bytes = std::fs::read(f).expect("read");
        let (m, sys) = moc_tools::from_fits_bytes(&bytes).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(sys, CoordSys::Icrs);
        assert_eq!(ranges_json(&m), want["ranges"], "{f}: ranges");
        assert_eq!(u64::from(m.depth_max()), want["order"].as_u64().expect("order"), "{f}: order");
        let sf = want["sky_fraction"].as_f64().expect("sf");
        assert!((sky_fraction(&m) - sf).abs() <= 1e-12 * sf, "{f}: sky fraction {} vs {sf}", sky_fraction(&m));
    }
}
