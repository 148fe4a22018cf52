//! The rendering kernel's lattice-interpolated input positions (`kernel::tile_positions`, what every tile pixel is
//! sampled at) against astropy for every supported projection, SIP, TPV and a DSS plate solution, at the tile widths
//! the pipeline uses (64, 512 and 1024): the pixel centres come from astropy-healpix, the frame transform from
//! astropy.coordinates and the input pixel from astropy.wcs (`tests/oracles/tile_positions.py`), nothing from this
//! repository. Every compared pixel (astropy puts it inside the image plus the 10-pixel margin the interpolation
//! kernels can touch) must be within 0.01 input pixel, and none may be missing (NaN in the lattice).

mod wcs_support;

use std::collections::BTreeSet;

use hips_core::fits::Header;
use hips_core::kernel::{tile_positions, TileSpec};
use hips_core::wcs::{convert, Frame, Wcs};
use serde_json::{json, Value};
use wcs_support::{card, header_from_cards, oracle_script, read_fits_header, shared_data, sip_cards};

const TOLERANCE_PX: f64 = 0.01;
const MARGIN_PX: f64 = 10.0;
/// Tile widths: the smallest hipsgen accepts, the default, and the widest in common use.
const WIDTHS: &[usize] = &[64, 512, 1024];
/// About this many pixels of each tile are compared (a regular sub-grid, tile edges included).
const SAMPLES_PER_AXIS: usize = 72;

/// One input: how Rust reads it, how astropy finds it, its size.
struct Input {
    name: String,
    header: Header,
    job: Value,
    nx: usize,
    ny: usize,
}

/// A synthetic 1000 x 1000 header with a CD matrix (rotated by `rot` degrees) at `scale` degrees per pixel.
fn synthetic(
    name: &str,
    ctype: (&str, &str),
    crval: (f64, f64),
    scale: f64,
    rot: f64,
    extra: &[(&str, &str)],
) -> Input {
    let (s, c) = rot.to_radians().sin_cos();
    let q = |v: &str| format!("'{v}'");
    let mut cards = vec![
        card("NAXIS", "2"),
        card("NAXIS1", "1000"),
        card("NAXIS2", "1000"),
        card("CTYPE1", &q(ctype.0)),
        card("CTYPE2", &q(ctype.1)),
        card("CRPIX1", "500.5"),
        card("CRPIX2", "480.25"),
        card("CRVAL1", &format!("{:.12}", crval.0)),
        card("CRVAL2", &format!("{:.12}", crval.1)),
        card("CD1_1", &format!("{:.15E}", -scale * c)),
        card("CD1_2", &format!("{:.15E}", scale * s)),
        card("CD2_1", &format!("{:.15E}", scale * s)),
        card("CD2_2", &format!("{:.15E}", scale * c)),
    ];
    if ctype.0.starts_with("RA") {
        cards.push(card("RADESYS", "'ICRS'"));
    }
    cards.extend(extra.iter().map(|(k, v)| card(k, v)));
    Input {
        name: name.to_string(),
        header: header_from_cards(&cards),
        job: json!({ "header": cards.join("\n") }),
        nx: 1000,
        ny: 1000,
    }
}

fn real(rel: &str, hdu: usize) -> Input {
    let path = shared_data().join(rel);
    let header = read_fits_header(&path, hdu);
    let nx = header.get_i64("NAXIS1").expect("NAXIS1") as usize;
    let ny = header.get_i64("NAXIS2").expect("NAXIS2") as usize;
    Input { name: rel.to_string(), header, job: json!({ "fits": path.to_string_lossy(), "hdu": hdu }), nx, ny }
}

fn inputs() -> Vec<Input> {
    let radec = |p: &str| (format!("RA---{p}"), format!("DEC--{p}"));
    let mut v = Vec::new();
    // Zenithal projections at a survey's pixel scale, mid-latitude and 0.5 deg from the pole.
    let zenithal: &[(&str, &[(&str, &str)])] = &[
        ("TAN", &[]),
        ("SIN", &[("PV2_1", "0.3"), ("PV2_2", "-0.2")]),
        ("ARC", &[]),
        ("ZEA", &[]),
        ("STG", &[]),
        ("ZPN", &[("PV2_1", "1.0"), ("PV2_3", "0.2")]),
    ];
    for (code, extra) in zenithal {
        let (c1, c2) = radec(code);
        v.push(synthetic(&format!("{code} 0.2\"/px"), (&c1, &c2), (150.1, 2.2), 0.2 / 3600.0, 12.0, extra));
        v.push(synthetic(&format!("{code} 1\"/px near pole"), (&c1, &c2), (200.0, 89.5), 1.0 / 3600.0, -35.0, extra));
    }
    // Cylindrical and all-sky projections: a local field and a whole-sky map.
    let wide: &[(&str, &[(&str, &str)])] = &[
        ("CAR", &[]),
        ("MER", &[]),
        ("CEA", &[("PV2_1", "0.6")]),
        ("SFL", &[]),
        ("AIT", &[]),
        ("MOL", &[]),
        ("HPX", &[]),
    ];
    for (code, extra) in wide {
        let (c1, c2) = radec(code);
        v.push(synthetic(&format!("{code} 2\"/px"), (&c1, &c2), (359.99, 30.0), 2.0 / 3600.0, 20.0, extra));
        v.push(synthetic(&format!("{code} all-sky"), (&c1, &c2), (0.0, 0.0), 0.36, 0.0, extra));
    }
    v.push(synthetic("galactic TAN", ("GLON-TAN", "GLAT-TAN"), (359.99, 0.5), 0.5 / 3600.0, 3.0, &[]));
    // Distortions: SIP (synthetic, with a rough inverse) and TPV; the real HSC exposure (SIP) and HorseHead (DSS).
    let sip = sip_cards(true);
    v.push(synthetic("TAN-SIP", ("RA---TAN-SIP", "DEC--TAN-SIP"), (150.0, 2.0), 0.2 / 3600.0, 90.3, &sip));
    let tpv: &[(&str, &str)] = &[
        ("PV1_0", "1.0e-5"),
        ("PV1_1", "1.0002"),
        ("PV1_2", "-2.0e-4"),
        ("PV1_4", "3.0e-3"),
        ("PV1_7", "4.0e-3"),
        ("PV1_11", "-5.0e-3"),
        ("PV2_0", "-2.0e-5"),
        ("PV2_1", "0.9998"),
        ("PV2_2", "3.0e-4"),
        ("PV2_5", "2.5e-3"),
        ("PV2_10", "3.0e-3"),
    ];
    v.push(synthetic("TPV", ("RA---TPV", "DEC--TPV"), (33.0, -60.0), 0.27 / 3600.0, 15.0, tpv));
    v.push(real("lsst_exposure/lsst_afw_HSC-0908120-056-small.fits", 1));
    v.push(real("single_band/HorseHead.fits", 0));
    v
}

/// Pixel size (degrees) of HEALPix order `n`.
fn pixel_size_deg(n: u8) -> f64 {
    (4.0 * std::f64::consts::PI / (12.0 * 4f64.powi(i32::from(n)))).sqrt().to_degrees()
}

/// hipsgen's order rule (hipsgen/src/plan.rs), restated: the smallest tile order whose pixels are not coarser than
/// the input pixels by more than 5%, at least 3.
fn deepest_order(scale_deg: f64, width: usize) -> u8 {
    let w = width.trailing_zeros() as u8;
    let mut k = 3u8;
    while k + w < 29 && pixel_size_deg(k + w) > scale_deg * 1.05 {
        k += 1;
    }
    k
}

/// Up to two tiles at `order`: the one under the image centre and one under a point 45% of the way to a corner
/// (for small images that is an edge tile, partly outside the image).
fn tiles(wcs: &Wcs, input: &Input, order: u8, frame: Frame) -> BTreeSet<u64> {
    let layer = cdshealpix::nested::get(order);
    let (cx, cy) = (input.nx as f64 / 2.0, input.ny as f64 / 2.0);
    [(cx, cy), (cx * 0.1, cy * 0.1)]
        .iter()
        .filter_map(|&(x, y)| wcs.pix_to_world(x, y))
        .map(|(lon, lat)| {
            let (lon, lat) = convert(lon, lat, wcs.frame(), frame);
            layer.hash(lon.to_radians(), lat.to_radians())
        })
        .collect()
}

/// The compared in-tile pixels: a regular sub-grid with both edges.
fn samples(width: usize) -> Vec<(usize, usize)> {
    let n = SAMPLES_PER_AXIS.min(width);
    let axis: BTreeSet<usize> = (0..n).map(|i| i * (width - 1) / (n - 1)).collect();
    axis.iter().flat_map(|&ix| axis.iter().map(move |&iy| (ix, iy))).collect()
}

#[test]
fn interpolated_positions_match_astropy_for_every_projection_and_distortion() {
    let mut jobs = Vec::new();
    let mut checks = Vec::new();
    for input in inputs() {
        let wcs = Wcs::from_header(&input.header).unwrap_or_else(|e| panic!("{}: {e}", input.name));
        let frame = wcs.frame();
        let frame_name = if frame == Frame::Galactic { "galactic" } else { "icrs" };
        for &width in WIDTHS {
            let order = deepest_order(wcs.pixel_scale_deg(), width);
            for npix in tiles(&wcs, &input, order, frame) {
                let spec = TileSpec { order, npix, width, frame };
                let ixy = samples(width);
                let mut job = input.job.clone();
                job["order"] = json!(order);
                job["npix"] = json!(npix);
                job["width"] = json!(width);
                job["frame"] = json!(frame_name);
                job["ixy"] = json!(ixy.iter().map(|&(x, y)| [x, y]).collect::<Vec<_>>());
                jobs.push(job);
                let positions = tile_positions(&spec, &wcs);
                let ours: Vec<(f64, f64)> = ixy.iter().map(|&(ix, iy)| positions[ix * width + iy]).collect();
                checks.push((
                    format!("{} w={width} order {order} tile {npix}", input.name),
                    input.nx,
                    input.ny,
                    ixy,
                    ours,
                ));
            }
        }
    }
    let replies = oracle_script("tile_positions.py", &[], &Value::Array(jobs));
    let replies = replies.as_array().expect("a list of replies");
    assert_eq!(replies.len(), checks.len());
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    let mut total = 0usize;
    for ((name, nx, ny, ixy, ours), reply) in checks.iter().zip(replies) {
        let astro = reply.as_array().expect("positions");
        let mut compared = 0usize;
        for (k, &(ix, iy)) in ixy.iter().enumerate() {
            let Some(a) = astro[k].as_array() else { continue };
            let (ax, ay) = (a[0].as_f64().expect("x"), a[1].as_f64().expect("y"));
            let inside = ax >= -0.5 - MARGIN_PX
                && ay >= -0.5 - MARGIN_PX
                && ax <= *nx as f64 - 0.5 + MARGIN_PX
                && ay <= *ny as f64 - 0.5 + MARGIN_PX;
            if !inside {
                continue;
            }
            compared += 1;
            let (ox, oy) = ours[k];
            if !(ox.is_finite() && oy.is_finite()) {
                failures.push(format!("{name}: pixel ({ix}, {iy}) missing (astropy: {ax:.4}, {ay:.4})"));
                continue;
            }
            let err = (ox - ax).hypot(oy - ay);
            worst = worst.max(err);
            if err > TOLERANCE_PX {
                failures.push(format!("{name}: pixel ({ix}, {iy}) off by {err:.4} px (ours {ox:.4},{oy:.4})"));
            }
        }
        total += compared;
        assert!(compared > 0 || name.contains("w=64"), "{name}: no pixel of the tile falls on the image");
    }
    eprintln!("{} tiles, {total} pixels compared, worst {worst:.2e} px", checks.len());
    assert!(failures.is_empty(), "{} failures, first: {:#?}", failures.len(), &failures[..failures.len().min(20)]);
}
