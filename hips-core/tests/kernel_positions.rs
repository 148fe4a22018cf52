//! The rendering kernel's lattice-interpolated input positions (`kernel::tile_positions`) against the exact
//! per-pixel transform (`kernel::exact_position`) for EVERY pixel of several tiles per image: every real image in
//! the shared data directory (HSC HDU 1 has TAN-SIP), at the deepest order hipsgen would choose and one deeper,
//! tiles on the image edges included, plus synthetic TAN WCS near the north and south poles and across RA = 0.
//! Pixels that map inside the image (plus a 10-pixel margin, what the interpolation kernels can touch) must be
//! within 0.01 input pixel of the exact position.

use std::collections::BTreeSet;
use std::path::PathBuf;

use hips_core::coadd::Coadd;
use hips_core::fits::Header;
use hips_core::kernel::{exact_position, tile_positions, TileSpec};
use hips_core::wcs::{convert, Frame, Wcs};

const TOLERANCE_PX: f64 = 0.01;
const WIDTH: usize = 512;
const MARGIN_PX: f64 = 10.0;

fn shared_data() -> PathBuf {
    let p = std::env::var_os("HIPS_SHARED_DATA")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"), PathBuf::from);
    assert!(p.is_dir(), "shared test data not found at {} (set HIPS_SHARED_DATA)", p.display());
    p
}

/// Pixel size (degrees) of HEALPix order `n`.
fn pixel_size_deg(n: u8) -> f64 {
    (4.0 * std::f64::consts::PI / (12.0 * 4f64.powi(i32::from(n)))).sqrt().to_degrees()
}

/// hipsgen's order rule (hipsgen/src/plan.rs `order_for_scale`), restated: the smallest tile order whose pixels
/// are not coarser than the input pixels by more than 5%, at least 3.
fn deepest_order(scale_deg: f64) -> u8 {
    let w = WIDTH.trailing_zeros() as u8;
    let mut k = 3u8;
    while k + w < 29 && pixel_size_deg(k + w) > scale_deg * 1.05 {
        k += 1;
    }
    k
}

/// Tiles at `order` under a 7 x 7 grid of points spanning the image, corners and edges included.
fn tiles_over_image(wcs: &Wcs, nx: usize, ny: usize, order: u8, frame: Frame) -> BTreeSet<u64> {
    let layer = cdshealpix::nested::get(order);
    let mut out = BTreeSet::new();
    for i in 0..7 {
        for j in 0..7 {
            let x = -0.5 + (nx as f64) * f64::from(i) / 6.0;
            let y = -0.5 + (ny as f64) * f64::from(j) / 6.0;
            let Some((lon, lat)) = wcs.pix_to_world(x, y) else { continue };
            let (lon, lat) = convert(lon, lat, wcs.frame(), frame);
            out.insert(layer.hash(lon.to_radians(), lat.to_radians()));
        }
    }
    out
}

/// Stats of one comparison.
#[derive(Default, Debug)]
struct Stats {
    max_err: f64,
    compared: usize,
    tiles: usize,
    /// Pixels inside the image whose exact position exists but whose lattice position is NaN.
    missing: usize,
}

fn compare_tile(spec: &TileSpec, wcs: &Wcs, nx: usize, ny: usize, stats: &mut Stats) {
    let approx = tile_positions(spec, wcs);
    assert_eq!(approx.len(), spec.width * spec.width);
    let mut inside_any = false;
    for ix in 0..spec.width {
        for iy in 0..spec.width {
            let Some((ex, ey)) = exact_position(spec, wcs, ix, iy) else { continue };
            let inside = ex >= -0.5 - MARGIN_PX
                && ey >= -0.5 - MARGIN_PX
                && ex <= nx as f64 - 0.5 + MARGIN_PX
                && ey <= ny as f64 - 0.5 + MARGIN_PX;
            if !inside {
                continue;
            }
            inside_any = true;
            let (ax, ay) = approx[ix * spec.width + iy];
            if !(ax.is_finite() && ay.is_finite()) {
                stats.missing += 1;
                continue;
            }
            let err = (ax - ex).hypot(ay - ey);
            stats.compared += 1;
            if err > stats.max_err {
                stats.max_err = err;
            }
        }
    }
    if inside_any {
        stats.tiles += 1;
    }
}

/// Compare every pixel of the tiles covering the image at the deepest order and one deeper.
fn check_image(label: &str, wcs: &Wcs, nx: usize, ny: usize, frame: Frame) -> Stats {
    let k = deepest_order(wcs.pixel_scale_deg());
    let mut stats = Stats::default();
    for order in [k, k + 1] {
        let tiles = tiles_over_image(wcs, nx, ny, order, frame);
        assert!(!tiles.is_empty(), "{label}: no tile at order {order}");
        // At most 10 tiles per order (corners first: BTreeSet order is arbitrary enough; keep the ends).
        let list: Vec<u64> = tiles.iter().copied().collect();
        let pick: Vec<u64> = if list.len() <= 10 {
            list
        } else {
            let step = list.len() as f64 / 10.0;
            (0..10).map(|i| list[(f64::from(i) * step) as usize]).chain([*list.last().expect("tiles")]).collect()
        };
        for npix in pick {
            let spec = TileSpec { order, npix, width: WIDTH, frame };
            compare_tile(&spec, wcs, nx, ny, &mut stats);
        }
    }
    eprintln!(
        "{label}: orders {k},{}: {} tiles, {} pixels compared, max |lattice - exact| = {:.2e} px, {} missing",
        k + 1,
        stats.tiles,
        stats.compared,
        stats.max_err,
        stats.missing
    );
    assert!(stats.tiles >= 2, "{label}: too few tiles overlap the image");
    assert!(stats.compared > 10_000, "{label}: only {} pixels compared", stats.compared);
    assert_eq!(stats.missing, 0, "{label}: lattice gave NaN where the exact transform maps inside the image");
    assert!(
        stats.max_err < TOLERANCE_PX,
        "{label}: max |lattice - exact| = {} input px (tolerance {TOLERANCE_PX})",
        stats.max_err
    );
    stats
}

const REAL: &[(&str, Option<usize>, &[Frame])] = &[
    ("lsst_exposure/lsst_afw_HSC-0908120-056-small.fits", Some(1), &[Frame::Equatorial]),
    ("multiband_2mass_gc/gc_2mass_j.fits", None, &[Frame::Equatorial, Frame::Galactic]),
    ("multiband_2mass_gc/gc_2mass_h.fits", None, &[Frame::Equatorial]),
    ("multiband_2mass_gc/gc_2mass_k.fits", None, &[Frame::Equatorial]),
    ("multiband_sdss/reprojected_sdss_g.fits", None, &[Frame::Equatorial]),
    ("multiband_sdss/reprojected_sdss_r.fits", None, &[Frame::Equatorial]),
    ("multiband_sdss/reprojected_sdss_i.fits", None, &[Frame::Equatorial]),
    ("single_band/HorseHead.fits", None, &[Frame::Equatorial]),
    ("single_band/gc_bolocam_gps.fits", None, &[Frame::Galactic, Frame::Equatorial]),
    ("single_band/spitzer_example_image.fits", None, &[Frame::Galactic, Frame::Equatorial]),
];

#[test]
fn lattice_positions_match_exact_on_real_images() {
    let data = shared_data();
    let mut worst = 0.0f64;
    for &(rel, hdu, frames) in REAL {
        let path = data.join(rel);
        let select = hdu.map(hips_core::coadd::HduSelector::Index);
        let c =
            Coadd::open(path.to_str().expect("utf-8 path"), select.as_ref()).unwrap_or_else(|e| panic!("{rel}: {e}"));
        if rel.contains("HSC") {
            assert!(c.wcs.has_sip(), "{rel}: expected TAN-SIP");
        }
        for &frame in frames {
            let s = check_image(&format!("{rel} ({frame:?})"), &c.wcs, c.width, c.height, frame);
            worst = worst.max(s.max_err);
        }
    }
    eprintln!("real images: max |lattice - exact| = {worst:.3e} input px");
}

/// A TAN header (0.2"/px, `n` x `n`) centred on (ra, dec), optionally rotated by `rot_deg`.
fn tan_wcs(ra: f64, dec: f64, n: usize, rot_deg: f64) -> Wcs {
    let s = 0.2 / 3600.0;
    let (sn, cs) = rot_deg.to_radians().sin_cos();
    let cards = [
        "SIMPLE  =                    T".to_string(),
        "BITPIX  =                  -32".to_string(),
        "NAXIS   =                    2".to_string(),
        format!("NAXIS1  = {n:>20}"),
        format!("NAXIS2  = {n:>20}"),
        "CTYPE1  = 'RA---TAN'".to_string(),
        "CTYPE2  = 'DEC--TAN'".to_string(),
        format!("CRVAL1  = {ra:>20.12}"),
        format!("CRVAL2  = {dec:>20.12}"),
        format!("CRPIX1  = {:>20.3}", n as f64 / 2.0 + 0.5),
        format!("CRPIX2  = {:>20.3}", n as f64 / 2.0 + 0.5),
        format!("CD1_1   = {:>20.12E}", -s * cs),
        format!("CD1_2   = {:>20.12E}", s * sn),
        format!("CD2_1   = {:>20.12E}", s * sn),
        format!("CD2_2   = {:>20.12E}", s * cs),
        "RADESYS = 'ICRS'".to_string(),
        "END".to_string(),
    ];
    let mut bytes = Vec::new();
    for c in &cards {
        let mut line = c.clone().into_bytes();
        line.resize(80, b' ');
        bytes.extend_from_slice(&line);
    }
    let (header, _) = Header::parse(&bytes).expect("END card");
    Wcs::from_header(&header).expect("synthetic TAN WCS")
}

#[test]
fn lattice_positions_match_exact_near_poles_and_ra0() {
    let n = 4000; // 800" = 0.22 deg
    let cases = [
        ("north pole (dec 89.97, on the pole)", 45.0, 89.97, 0.0),
        ("near north pole (dec 89.5)", 200.0, 89.5, 30.0),
        ("south pole (dec -89.98)", 10.0, -89.98, 0.0),
        ("across RA=0 (ra 0.02, dec 2)", 0.02, 2.0, 0.0),
        ("across RA=0 (ra 359.98, dec -30)", 359.98, -30.0, 15.0),
        ("across RA=0 at dec 60", 0.0, 60.0, 0.0),
    ];
    let mut worst = 0.0f64;
    for (label, ra, dec, rot) in cases {
        let wcs = tan_wcs(ra, dec, n, rot);
        for frame in [Frame::Equatorial, Frame::Galactic] {
            let s = check_image(&format!("{label} ({frame:?})"), &wcs, n, n, frame);
            worst = worst.max(s.max_err);
        }
    }
    eprintln!("synthetic WCS: max |lattice - exact| = {worst:.3e} input px");
}
