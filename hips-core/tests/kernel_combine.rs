//! How the kernel combines overlapping coadds, checked against the closed-form answer: the inverse-variance weighted
//! mean where every contributor of a pixel has a variance, the plain mean where one has none, and a lone coadd's own
//! value. Constant images make the expected tile value exact whatever the interpolation.

use std::sync::Arc;

use hips_core::coadd::Coadd;
use hips_core::fits::{self, Card, MemSource, PixelData};
use hips_core::kernel::{render_tile, Interp, TileSpec};
use hips_core::wcs::Frame;

const N: usize = 512;

fn wcs_cards() -> Vec<Card> {
    hips_core::wcs::tan_cards((150.0, 2.0), (N as f64 / 2.0, N as f64 / 2.0), 0.2 / 3600.0)
}

/// A coadd of constant `value`, with a VARIANCE extension of constant `variance` when given.
fn coadd(name: &str, value: f32, variance: Option<f32>) -> Coadd {
    let mut cards = wcs_cards();
    let image = vec![value; N * N];
    let bytes = match variance {
        None => fits::image_hdu(true, N, N, PixelData::F32(&image), &cards),
        Some(var) => {
            let mut b = fits::empty_primary(&[]);
            cards.push(Card::str("EXTNAME", "IMAGE", ""));
            b.extend(fits::image_hdu(false, N, N, PixelData::F32(&image), &cards));
            let mut vcards = wcs_cards();
            vcards.push(Card::str("EXTNAME", "VARIANCE", ""));
            b.extend(fits::image_hdu(false, N, N, PixelData::F32(&vec![var; N * N]), &vcards));
            b
        }
    };
    Coadd::from_source(name, Arc::new(MemSource::new(name, bytes)), None).expect("fixture coadd")
}

/// A tile at order 13 (0.05"/px at width 64 is finer than the input: every tile pixel lands inside the image) near
/// the image centre, and the values of its non-blank pixels.
fn render(coadds: &[&Coadd]) -> (Vec<f32>, Vec<usize>) {
    let npix = cdshealpix::nested::get(13).hash(150.0f64.to_radians(), 2.0f64.to_radians());
    let spec = TileSpec { order: 13, npix, width: 64, frame: Frame::Equatorial };
    let (data, used) = render_tile(&spec, coadds, Interp::Bilinear).expect("render");
    (data.into_iter().filter(|v| !v.is_nan()).collect(), used)
}

fn assert_all(values: &[f32], expected: f32) {
    assert_eq!(values.len(), 64 * 64, "every tile pixel is inside the images");
    for v in values {
        assert!((v - expected).abs() < 1e-5, "{v} != {expected}");
    }
}

#[test]
fn lone_coadd_gives_its_value() {
    let a = coadd("a.fits", 10.0, Some(1.0));
    let (v, used) = render(&[&a]);
    assert_eq!(used, vec![0]);
    assert_all(&v, 10.0);
}

#[test]
fn variances_everywhere_give_the_inverse_variance_mean() {
    let (a, b) = (coadd("a.fits", 10.0, Some(1.0)), coadd("b.fits", 20.0, Some(4.0)));
    let (v, used) = render(&[&a, &b]);
    assert_eq!(used, vec![0, 1]);
    // (10/1 + 20/4) / (1/1 + 1/4) = 12
    assert_all(&v, 12.0);
}

#[test]
fn a_contributor_without_variance_gives_the_plain_mean() {
    let (a, b) = (coadd("a.fits", 10.0, Some(1.0)), coadd("b.fits", 20.0, None));
    assert_all(&render(&[&a, &b]).0, 15.0);
    let (c, d) = (coadd("c.fits", 10.0, None), coadd("d.fits", 20.0, None));
    assert_all(&render(&[&c, &d]).0, 15.0);
}

#[test]
fn three_way_inverse_variance_mean() {
    let (a, b, c) = (coadd("a.fits", 1.0, Some(1.0)), coadd("b.fits", 2.0, Some(2.0)), coadd("c.fits", 4.0, Some(4.0)));
    // (1 + 1 + 1) / (1 + 0.5 + 0.25)
    assert_all(&render(&[&a, &b, &c]).0, 3.0 / 1.75);
}
