//! Shared helpers for the WCS tests: the astropy oracle (tests/oracles/wcs_points.py), FITS header reading,
//! synthetic headers and the comparisons every test makes.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "../fits_support/mod.rs"]
mod fits_support;
pub(crate) use fits_support::{data_dir, python, root};

use hips_core::fits::Header;
use hips_core::wcs::Wcs;
use serde_json::{json, Value};

/// The shared real-data directory (the one convention of every test of the workspace).
pub(crate) fn shared_data() -> PathBuf {
    data_dir()
}

/// Run the oracle with `args`, sending `request` as JSON; returns its JSON reply.
pub(crate) fn oracle(args: &[&str], request: &Value) -> Value {
    oracle_script("wcs_points.py", args, request)
}

/// Run the oracle script `tests/oracles/<name>` with `args`, sending `request` as JSON; returns its JSON reply.
pub(crate) fn oracle_script(name: &str, args: &[&str], request: &Value) -> Value {
    let script = root().join("tests/oracles").join(name);
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the astropy oracle");
    let body = serde_json::to_vec(request).expect("serialise request");
    child.stdin.take().expect("stdin").write_all(&body).expect("write request");
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read reply");
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    let status = child.wait().expect("oracle exit");
    assert!(status.success(), "oracle failed: {err}");
    serde_json::from_str(&out).expect("oracle reply is JSON")
}

/// Read the header of HDU `hdu` (0 = primary) of a FITS file.
pub(crate) fn read_fits_header(path: &Path, hdu: usize) -> Header {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut pos = 0usize;
    for i in 0..=hdu {
        let (h, used) = Header::parse(&bytes[pos..]).unwrap_or_else(|| panic!("{}: HDU {i} header", path.display()));
        pos += used.div_ceil(2880) * 2880;
        if i == hdu {
            return h;
        }
        let naxis = h.get_i64("NAXIS").unwrap_or(0);
        let mut n: i64 = i64::from(naxis > 0);
        for k in 1..=naxis {
            n *= h.get_i64(&format!("NAXIS{k}")).unwrap_or(0);
        }
        let bits = h.get_i64("BITPIX").unwrap_or(8).abs();
        let gcount = h.get_i64("GCOUNT").unwrap_or(1);
        let pcount = h.get_i64("PCOUNT").unwrap_or(0);
        let data = (bits / 8) * gcount * (pcount + n);
        pos += (data as usize).div_ceil(2880) * 2880;
    }
    unreachable!()
}

/// A header from card strings like `"CTYPE1  = 'RA---TAN'"` (padded to 80 characters, END appended).
pub(crate) fn header_from_cards(cards: &[String]) -> Header {
    let mut b = Vec::new();
    for c in cards {
        b.extend(format!("{c:<80}").bytes());
    }
    b.extend(format!("{:<80}", "END").bytes());
    Header::parse(&b).expect("END present").0
}

/// Format a card `KEY = value` (strings quoted).
pub(crate) fn card(key: &str, value: &str) -> String {
    format!("{key:<8}= {value:>20}")
}

/// Angular separation in degrees.
pub(crate) fn sep_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (l1, b1) = (a.0.to_radians(), a.1.to_radians());
    let (l2, b2) = (b.0.to_radians(), b.1.to_radians());
    let v1 = [b1.cos() * l1.cos(), b1.cos() * l1.sin(), b1.sin()];
    let v2 = [b2.cos() * l2.cos(), b2.cos() * l2.sin(), b2.sin()];
    let cross = [v1[1] * v2[2] - v1[2] * v2[1], v1[2] * v2[0] - v1[0] * v2[2], v1[0] * v2[1] - v1[1] * v2[0]];
    let dot = v1[0] * v2[0] + v1[1] * v2[1] + v1[2] * v2[2];
    (cross[0].hypot(cross[1]).hypot(cross[2])).atan2(dot).to_degrees()
}

/// A pixel grid of `n x n` points spanning `[-0.5, size - 0.5]` on each axis (corners included), plus pixel centres
/// at the four corners and the centre.
pub(crate) fn pixel_grid(nx: usize, ny: usize, n: usize) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let x = -0.5 + nx as f64 * i as f64 / (n - 1) as f64;
            let y = -0.5 + ny as f64 * j as f64 / (n - 1) as f64;
            pts.push((x, y));
        }
    }
    let (mx, my) = ((nx - 1) as f64, (ny - 1) as f64);
    pts.extend([(0.0, 0.0), (mx, 0.0), (0.0, my), (mx, my), (mx / 2.0, my / 2.0), (0.3, 0.7)]);
    pts
}

fn pair(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
}

/// One WCS case: a name, the header as Rust sees it, the oracle job (how Python finds the header), pixels to test
/// and extra world points (degrees) to send through world_to_pix.
pub(crate) struct Case {
    pub name: String,
    pub header: Header,
    pub job: Value,
    pub pix: Vec<(f64, f64)>,
    pub world: Vec<(f64, f64)>,
}

impl Case {
    /// A case from card strings: the oracle gets the same cards as text.
    pub(crate) fn from_cards(name: &str, cards: &[String], pix: Vec<(f64, f64)>, world: Vec<(f64, f64)>) -> Case {
        Case {
            name: name.into(),
            header: header_from_cards(cards),
            job: json!({ "header": cards.join("\n") }),
            pix,
            world,
        }
    }
}

/// Worst errors seen for one case.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Report {
    pub max_sep_deg: f64,
    pub max_roundtrip_px: f64,
    pub max_w2p_px: f64,
    pub n_valid: usize,
    pub n_invalid: usize,
}

/// Tolerances from the brief.
pub(crate) const SEP_TOL_DEG: f64 = 1e-9;
pub(crate) const PIX_TOL: f64 = 1e-6;

/// Check every case against astropy (one oracle process for all of them); returns a report per case and panics
/// with every failure listed when anything disagrees.
pub(crate) fn check_cases(cases: &[Case]) -> Vec<Report> {
    let jobs: Vec<Value> = cases
        .iter()
        .map(|c| {
            let mut j = c.job.clone();
            j["pix"] = json!(c.pix.iter().map(|p| [p.0, p.1]).collect::<Vec<_>>());
            j["world"] = json!(c.world.iter().map(|p| [p.0, p.1]).collect::<Vec<_>>());
            j["roundtrip"] = json!(true);
            j
        })
        .collect();
    let replies = oracle(&["--batch"], &Value::Array(jobs));
    let replies = replies.as_array().expect("batch reply is a list");
    let mut failures = Vec::new();
    let mut reports = Vec::new();
    for (case, reply) in cases.iter().zip(replies) {
        let wcs = match Wcs::from_header(&case.header) {
            Ok(w) => w,
            Err(e) => {
                failures.push(format!("{}: from_header failed: {e}", case.name));
                reports.push(Report::default());
                continue;
            }
        };
        let mut r = Report::default();
        let p2w = reply["pix2world"].as_array().cloned().unwrap_or_default();
        let back = reply["world2pix_of_pix2world"].as_array().cloned().unwrap_or_default();
        for (k, &(x, y)) in case.pix.iter().enumerate() {
            let astro = p2w.get(k).and_then(pair);
            let ours = wcs.pix_to_native(x, y);
            match (astro, ours) {
                (None, None) => r.n_invalid += 1,
                (Some(a), None) => failures.push(format!("{}: pix ({x}, {y}): astropy {a:?}, ours None", case.name)),
                (None, Some(o)) => failures.push(format!("{}: pix ({x}, {y}): astropy invalid, ours {o:?}", case.name)),
                (Some(a), Some(o)) => {
                    r.n_valid += 1;
                    if !(0.0..360.0).contains(&o.0) {
                        failures.push(format!("{}: pix ({x}, {y}): lon {} outside [0, 360)", case.name, o.0));
                    }
                    let s = sep_deg(a, o);
                    r.max_sep_deg = r.max_sep_deg.max(s);
                    if s.is_nan() || s >= SEP_TOL_DEG {
                        failures.push(format!("{}: pix ({x}, {y}): astropy {a:?} ours {o:?} sep {s:e} deg", case.name));
                    }
                    // Our own round trip.
                    match wcs.native_to_pix(o.0, o.1) {
                        Some((bx, by)) => {
                            let d = (bx - x).hypot(by - y);
                            r.max_roundtrip_px = r.max_roundtrip_px.max(d);
                            if d.is_nan() || d >= PIX_TOL {
                                failures.push(format!(
                                    "{}: round trip ({x}, {y}) -> {o:?} -> ({bx}, {by}): {d:e} px",
                                    case.name
                                ));
                            }
                        }
                        None => failures.push(format!("{}: round trip ({x}, {y}) -> {o:?} -> None", case.name)),
                    }
                    // world_to_pix of astropy's world point against astropy's all_world2pix.
                    if let Some(ap) = back.get(k).and_then(pair) {
                        match wcs.native_to_pix(a.0, a.1) {
                            Some(op) => {
                                let d = (op.0 - ap.0).hypot(op.1 - ap.1);
                                r.max_w2p_px = r.max_w2p_px.max(d);
                                if d.is_nan() || d >= PIX_TOL {
                                    failures.push(format!(
                                        "{}: world {a:?}: astropy pix {ap:?} ours {op:?}: {d:e} px",
                                        case.name
                                    ));
                                }
                            }
                            None => failures.push(format!("{}: world {a:?}: astropy {ap:?}, ours None", case.name)),
                        }
                    }
                }
            }
        }
        let w2p = reply["world2pix"].as_array().cloned().unwrap_or_default();
        for (k, &(lon, lat)) in case.world.iter().enumerate() {
            let astro = w2p.get(k).and_then(pair);
            let ours = wcs.native_to_pix(lon, lat);
            match (astro, ours) {
                (None, None) => {}
                (Some(a), Some(o)) => {
                    let d = (o.0 - a.0).hypot(o.1 - a.1);
                    // Relative tolerance for points far outside the image (pixel coordinates in the 1e5+ range).
                    let tol = PIX_TOL * (1.0 + a.0.abs().max(a.1.abs()) / 1e4);
                    r.max_w2p_px = r.max_w2p_px.max(d);
                    if d.is_nan() || d >= tol {
                        failures.push(format!("{}: world ({lon}, {lat}): astropy {a:?} ours {o:?}", case.name));
                    }
                }
                (a, o) => failures.push(format!("{}: world ({lon}, {lat}): astropy {a:?} ours {o:?}", case.name)),
            }
        }
        println!(
            "{:<40} valid {:>4} invalid {:>4}  max sep {:.2e} deg  round trip {:.2e} px  world2pix {:.2e} px",
            case.name, r.n_valid, r.n_invalid, r.max_sep_deg, r.max_roundtrip_px, r.max_w2p_px
        );
        reports.push(r);
    }
    if !failures.is_empty() {
        let n = failures.len();
        failures.truncate(60);
        panic!("{n} disagreements with astropy:\n{}", failures.join("\n"));
    }
    reports
}

/// SIP polynomial cards of order 3 with realistic (~1 px at the corners) distortion.
pub(crate) fn sip_cards(with_inverse: bool) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("A_ORDER", "3"),
        ("A_0_2", "2.1e-6"),
        ("A_1_1", "-1.6e-6"),
        ("A_2_0", "5.2e-7"),
        ("A_0_3", "5.5e-10"),
        ("A_1_2", "-3.3e-10"),
        ("A_2_1", "1.6e-10"),
        ("A_3_0", "-5.3e-10"),
        ("B_ORDER", "3"),
        ("B_0_2", "2.1e-6"),
        ("B_1_1", "3.3e-7"),
        ("B_2_0", "-1.1e-6"),
        ("B_0_3", "-1.0e-10"),
        ("B_1_2", "1.7e-10"),
        ("B_2_1", "-1.8e-10"),
        ("B_3_0", "-8.4e-10"),
    ];
    if with_inverse {
        // A deliberately rough inverse (first-order only): the Newton refinement must still make it exact.
        v.extend([
            ("AP_ORDER", "2"),
            ("AP_0_2", "-2.1e-6"),
            ("AP_1_1", "1.6e-6"),
            ("AP_2_0", "-5.2e-7"),
            ("BP_ORDER", "2"),
            ("BP_0_2", "-2.1e-6"),
            ("BP_1_1", "-3.3e-7"),
            ("BP_2_0", "1.1e-6"),
        ]);
    }
    v
}
