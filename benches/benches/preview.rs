//! Criterion benchmarks of the display products: one 512 x 512 FITS tile to PNG / JPEG (per stretch), one color tile
//! (Lupton) to JPEG / PNG, and the level mapping alone.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hipsgen::color::{rgba_pixels, ColorMapper, ColorMethod, ColorParams};
use hipsgen::preview::encode::{jpeg_bytes, png_bytes, Channels};
use hipsgen::preview::{encode_jpeg, encode_png, grey_pixels, LevelMap, PreviewFormat, PreviewSpec, Stretch};

const W: usize = 512;

/// A realistic tile: sky noise around 100, a gradient, a few hundred Gaussian stars, a blank corner (survey edge).
fn tile(seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut rnd = move || {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) as f32
    };
    let mut d: Vec<f32> = (0..W * W).map(|i| 100.0 + (i / W) as f32 * 0.02 + (rnd() - 0.5) * 20.0).collect();
    for _ in 0..300 {
        let (x, y, a) = (rnd() * W as f32, rnd() * W as f32, rnd() * rnd() * 5e4);
        let (x0, y0) = (x as usize, y as usize);
        for yy in y0.saturating_sub(6)..(y0 + 7).min(W) {
            for xx in x0.saturating_sub(6)..(x0 + 7).min(W) {
                let r2 = (xx as f32 - x).powi(2) + (yy as f32 - y).powi(2);
                d[yy * W + xx] += a * (-r2 / 4.5).exp();
            }
        }
    }
    for r in 0..W / 4 {
        for c in 0..W / 4 - r {
            d[r * W + c] = f32::NAN;
        }
    }
    d
}

fn bench_preview(c: &mut Criterion) {
    let data = tile(1);
    let mut g = c.benchmark_group("preview_tile_512");
    g.throughput(Throughput::Elements((W * W) as u64));
    for stretch in [Stretch::Linear, Stretch::Asinh] {
        let spec = PreviewSpec::new(vec![PreviewFormat::Png], (90.0, 400.0), stretch);
        g.bench_function(format!("png_{stretch}"), |b| b.iter(|| encode_png(black_box(&data), W, &spec)));
        g.bench_function(format!("jpeg_{stretch}"), |b| b.iter(|| encode_jpeg(black_box(&data), W, &spec)));
    }
    let map = LevelMap::new((90.0, 400.0), Stretch::Asinh);
    g.bench_function("levels_only_la8", |b| b.iter(|| grey_pixels(black_box(&data), W, W, &map, true)));
    let la = grey_pixels(&data, W, W, &map, true);
    g.bench_function("png_encode_only_la8", |b| b.iter(|| png_bytes(black_box(&la), W, W, Channels::GrayAlpha)));
    let l = grey_pixels(&data, W, W, &map, false);
    g.bench_function("jpeg_encode_only_l8", |b| b.iter(|| jpeg_bytes(black_box(&l), W, W, Channels::Gray, 90)));
    g.finish();

    let (r, gr, bl) = (tile(2), tile(3), tile(4));
    let mapper = ColorMapper::new(ColorParams {
        method: ColorMethod::Lupton,
        minimum: [90.0; 3],
        maximum: [400.0; 3],
        scale: [100.0 / 310.0; 3],
        stretch: 5.0,
        q: 8.0,
    });
    let mut g = c.benchmark_group("color_tile_512");
    g.throughput(Throughput::Elements((W * W) as u64));
    g.bench_function("lupton_rgba", |b| b.iter(|| rgba_pixels([Some(&r), Some(&gr), Some(&bl)], W, W, &mapper)));
    let rgba = rgba_pixels([Some(&r), Some(&gr), Some(&bl)], W, W, &mapper);
    g.bench_function("jpeg_encode_rgb", |b| b.iter(|| jpeg_bytes(black_box(&rgba), W, W, Channels::Rgba, 90)));
    g.bench_function("png_encode_rgba", |b| b.iter(|| png_bytes(black_box(&rgba), W, W, Channels::Rgba)));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_preview
}
criterion_main!(benches);
