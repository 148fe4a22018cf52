//! Criterion benches of the per-tile rendering kernel: input positions (lattice + checks) and sampling, per output
//! pixel, for a 512 x 512 tile of an LSST-like 0.2"/px TAN coadd held in memory.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hips_core::coadd::Coadd;
use hips_core::kernel::{self, Accumulator, Interp, Lattice, TileSpec};
use hips_core::wcs::Frame;

const N: usize = 2048;

fn coadd() -> Coadd {
    hips_benches::tan_coadd("bench.fits", N, |x, y| (((y * N + x) % 977) as f32).sin() * 100.0 + 1000.0)
}

fn bench(c: &mut Criterion) {
    let coadd = coadd();
    let layer = cdshealpix::nested::get(11);
    let npix = layer.hash(150.0f64.to_radians(), 2.0f64.to_radians());
    let spec = TileSpec { order: 11, npix, width: 512, frame: Frame::Equatorial };
    let mut g = c.benchmark_group("kernel");
    g.throughput(Throughput::Elements(512 * 512));
    g.bench_function("positions_lattice_512", |b| {
        let mut lattice = Lattice::default();
        b.iter(|| lattice.build(&spec, &coadd.wcs));
    });
    g.bench_function("positions_exact_512", |b| {
        b.iter(|| {
            let mut s = 0.0;
            for ix in 0..512 {
                for iy in 0..512 {
                    s += kernel::exact_position(&spec, &coadd.wcs, ix, iy).map_or(0.0, |p| p.0);
                }
            }
            s
        });
    });
    let mut lattice = Lattice::default();
    lattice.build(&spec, &coadd.wcs);
    let px = coadd.read_region(0, 0, N as i64, N as i64).expect("read").expect("region");
    for interp in [Interp::Nearest, Interp::Bilinear, Interp::Lanczos3] {
        g.bench_function(format!("sample_{}_512", interp.name()), |b| {
            let mut out = vec![f32::NAN; 512 * 512];
            b.iter(|| {
                kernel::sample_lattice(&lattice, &px, interp, false, |ix, iy0, vals, _| {
                    for (o, &v) in out[(511 - ix) * 512 + iy0..].iter_mut().zip(vals) {
                        *o = v as f32;
                    }
                })
            });
        });
    }
    g.bench_function("sample_bilinear_accumulate_512", |b| {
        let mut acc = Accumulator::new(512, false);
        b.iter(|| {
            acc.reset(512, false);
            kernel::sample_lattice(&lattice, &px, Interp::Bilinear, true, |ix, iy0, vals, vars| {
                acc.add_row(ix * 512 + iy0, vals, vars);
            });
            acc.finish()
        });
    });
    g.bench_function("render_tile_bilinear_512_with_io", |b| {
        b.iter(|| kernel::render_tile(&spec, &[&coadd], Interp::Bilinear).expect("render"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
