//! Criterion benches of moc-tools: exact from-images coverage of an in-memory 4k x 4k LSST-like TAN patch at
//! order 13 (with a NaN wedge), union of 1,000 cone MOCs, `intersects_cell` lookups, and FITS write/read.
//! The side-by-side comparison with mocpy on files is `benches/moc_vs_mocpy.sh`.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hips_core::coadd::Coadd;
use moc_tools::images::{from_coadd, ImageOptions};
use moc_tools::moc::moc::range::CellSelection;
use moc_tools::{from_fits_bytes, intersects_cell, ops, to_fits_bytes, CoordSys, SMoc};

const N: usize = 4096;

fn patch() -> Coadd {
    // a NaN wedge in one corner, as NO_DATA regions look after masking
    hips_benches::tan_coadd(
        "patch.fits",
        N,
        |x, y| if x + y < N / 3 { f32::NAN } else { (((y * N + x) % 977) as f32).sin() },
    )
}

/// 1,000 cones (radius 0.05-1 deg, orders 8-14) in a 20 x 20 deg field, deterministic.
fn cones() -> Vec<SMoc> {
    let mut x = 42u64;
    let mut rnd = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..1000)
        .map(|_| {
            let (lon, lat, r) = (140.0 + 20.0 * rnd(), -10.0 + 20.0 * rnd(), 0.05 + 0.95 * rnd());
            let order = 8 + (7.0 * rnd()) as u8;
            SMoc::from_cone(lon.to_radians(), lat.to_radians(), r.to_radians(), order, 2, CellSelection::All)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let p = patch();
    let mut g = c.benchmark_group("moc");
    g.sample_size(10);
    g.throughput(Throughput::Elements((N * N) as u64));
    g.bench_function("from_image_exact_4k_order13", |b| b.iter(|| from_coadd(&p, &ImageOptions::new(13))));
    g.bench_function("from_image_exact_4k_order17", |b| b.iter(|| from_coadd(&p, &ImageOptions::new(17))));
    let mocs = cones();
    g.throughput(Throughput::Elements(mocs.len() as u64));
    g.bench_function("union_1000_cones", |b| b.iter(|| ops::union_many(&mocs)));
    g.bench_function("union_1000_cones_moc_crate_fold", |b| {
        b.iter(|| mocs.iter().skip(1).fold(mocs[0].clone(), |acc, m| acc.or(m)));
    });
    let u = ops::union_many(&mocs);
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("intersects_cell_1M_order11", |b| {
        let layer = cdshealpix::nested::get(11);
        let base = layer.hash(150f64.to_radians(), 0f64.to_radians());
        b.iter(|| (0..1_000_000u64).filter(|i| intersects_cell(&u, 11, base - 500_000 + i)).count());
    });
    let bytes = to_fits_bytes(&u, CoordSys::Icrs).expect("fits");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("to_fits_bytes_union", |b| b.iter(|| to_fits_bytes(&u, CoordSys::Icrs)));
    g.bench_function("from_fits_bytes_union", |b| b.iter(|| from_fits_bytes(&bytes)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
