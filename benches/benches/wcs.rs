//! WCS throughput: ns per `world_to_pix_rad` (the rendering hot loop) and `pix_to_world` for the common projections,
//! TAN-SIP with good AP/BP (the real HSC header) and without AP/BP (Newton from the undistorted point).
//!
//! Run: `cargo bench -p hips-benches --bench wcs`. Each measurement converts 1024 points inside the image;
//! criterion reports time per element.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hips_core::fits::Header;
use hips_core::wcs::Wcs;

fn header(cards: &[(&str, &str)]) -> Header {
    let mut b = Vec::new();
    for (k, v) in cards {
        b.extend(format!("{:<80}", format!("{k:<8}= {v:>20}")).bytes());
    }
    b.extend(format!("{:<80}", "END").bytes());
    Header::parse(&b).map(|(h, _)| h).unwrap_or_default()
}

fn synthetic(code: &str, scale: f64, extra: &[(&str, &str)]) -> Wcs {
    let c1 = format!("'RA---{code}'");
    let c2 = format!("'DEC--{code}'");
    let (s1, s2) = (format!("{}", -scale), format!("{scale}"));
    let mut cards = vec![
        ("NAXIS", "2"),
        ("CTYPE1", c1.as_str()),
        ("CTYPE2", c2.as_str()),
        ("CRPIX1", "2000.5"),
        ("CRPIX2", "2000.5"),
        ("CRVAL1", "150.0"),
        ("CRVAL2", "2.2"),
        ("CDELT1", s1.as_str()),
        ("CDELT2", s2.as_str()),
        ("PC1_1", "0.9659258262890683"),
        ("PC1_2", "-0.25881904510252074"),
        ("PC2_1", "0.25881904510252074"),
        ("PC2_2", "0.9659258262890683"),
    ];
    cards.extend_from_slice(extra);
    match Wcs::from_header(&header(&cards)) {
        Ok(w) => w,
        Err(e) => panic!("{code}: {e}"),
    }
}

/// The HSC exposure's TAN-SIP header (HDU 1) from the shared data, if present.
fn hsc() -> Option<Wcs> {
    let data = std::env::var_os("HIPS_SHARED_DATA")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"), PathBuf::from);
    let bytes = std::fs::read(data.join("lsst_exposure/lsst_afw_HSC-0908120-056-small.fits")).ok()?;
    let (h0, n0) = Header::parse(&bytes)?;
    let _ = h0; // empty primary, no data
    let (h1, _) = Header::parse(&bytes[n0.div_ceil(2880) * 2880..])?;
    Wcs::from_header(&h1).ok()
}

/// 1024 world points (radians) covering a `n x n` pixel area of `wcs`.
fn points(wcs: &Wcs, n: f64) -> Vec<(f64, f64)> {
    let mut v = Vec::with_capacity(1024);
    for i in 0..32 {
        for j in 0..32 {
            let (x, y) = (n * (f64::from(i) + 0.37) / 32.0, n * (f64::from(j) + 0.61) / 32.0);
            if let Some((l, b)) = wcs.pix_to_world(x, y) {
                v.push((l.to_radians(), b.to_radians()));
            }
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let mut cases: Vec<(String, Wcs, f64)> = vec![
        ("TAN".into(), synthetic("TAN", 0.0001, &[]), 4000.0),
        ("SIN".into(), synthetic("SIN", 0.0001, &[]), 4000.0),
        ("ZEA".into(), synthetic("ZEA", 0.0001, &[]), 4000.0),
        ("CAR".into(), synthetic("CAR", 0.0001, &[]), 4000.0),
        ("AIT".into(), synthetic("AIT", 0.0001, &[]), 4000.0),
        ("MOL".into(), synthetic("MOL", 0.0001, &[]), 4000.0),
        ("HPX".into(), synthetic("HPX", 0.0001, &[]), 4000.0),
        (
            "TAN-SIP no AP/BP".into(),
            synthetic(
                "TAN-SIP",
                0.00005,
                &[
                    ("A_ORDER", "3"),
                    ("A_0_2", "2.1e-7"),
                    ("A_1_1", "-1.6e-7"),
                    ("A_2_0", "5.2e-8"),
                    ("A_3_0", "-5.3e-11"),
                    ("B_ORDER", "3"),
                    ("B_0_2", "2.1e-7"),
                    ("B_1_1", "3.3e-8"),
                    ("B_2_0", "-1.1e-7"),
                    ("B_0_3", "-1.0e-11"),
                ],
            ),
            4000.0,
        ),
    ];
    if let Some(w) = hsc() {
        cases.push(("TAN-SIP HSC (AP/BP)".into(), w, 200.0));
    } else {
        eprintln!("HSC exposure not found (set HIPS_SHARED_DATA): skipping the real TAN-SIP case");
    }
    let mut g = c.benchmark_group("wcs");
    for (name, wcs, n) in &cases {
        let pts = points(wcs, *n);
        g.throughput(Throughput::Elements(pts.len() as u64));
        g.bench_function(format!("world_to_pix_rad {name}"), |b| {
            b.iter(|| {
                let mut acc = 0.0;
                for &(l, t) in &pts {
                    if let Some((x, y)) = wcs.world_to_pix_rad(black_box(l), black_box(t)) {
                        acc += x + y;
                    }
                }
                acc
            });
        });
        let pix: Vec<(f64, f64)> = pts.iter().filter_map(|&(l, t)| wcs.world_to_pix_rad(l, t)).collect();
        g.throughput(Throughput::Elements(pix.len() as u64));
        g.bench_function(format!("pix_to_world {name}"), |b| {
            b.iter(|| {
                let mut acc = 0.0;
                for &(x, y) in &pix {
                    if let Some((l, t)) = wcs.pix_to_world(black_box(x), black_box(y)) {
                        acc += l + t;
                    }
                }
                acc
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
