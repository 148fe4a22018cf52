//! Every supported projection on synthetic 1000x1000 headers (various CRVALs incl. the poles and the RA wrap,
//! PC+CDELT with rotation, CD, CDELT+CROTA2, LONPOLE/LATPOLE, PV parameters, swapped axes, galactic axes)
//! checked against astropy: pix_to_native (all_pix2world) to < 1e-9 deg, round trips and world_to_pix to < 1e-6 px, and the same
//! valid/invalid verdict for pixels off all-sky projections and for random sky points.

mod wcs_support;

use wcs_support::{card, check_cases, pixel_grid, sip_cards, Case};

/// Deterministic pseudo-random points uniform on the sphere.
fn sky_points(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let lon = 360.0 * next();
            let lat = (2.0 * next() - 1.0).asin().to_degrees();
            (lon, lat)
        })
        .collect()
}

/// Linear part of a header.
#[derive(Clone, Copy)]
enum Lin {
    /// CDELT1 = -s, CDELT2 = s, PC rotated by the angle (degrees).
    Pc(f64, f64),
    /// CD matrix of a rotated, slightly skewed pixel grid.
    Cd(f64, f64),
    /// CDELT + CROTA2.
    Crota(f64, f64),
}

struct Spec<'a> {
    name: String,
    ctype: (&'a str, &'a str),
    crval: (f64, f64),
    lin: Lin,
    extra: Vec<String>,
}

fn cards(s: &Spec) -> Vec<String> {
    let mut c = vec![
        card("NAXIS", "2"),
        card("NAXIS1", "1000"),
        card("NAXIS2", "1000"),
        card("CTYPE1", &format!("'{}'", s.ctype.0)),
        card("CTYPE2", &format!("'{}'", s.ctype.1)),
        card("CRPIX1", "500.5"),
        card("CRPIX2", "480.25"),
        card("CRVAL1", &format!("{:.15e}", s.crval.0)),
        card("CRVAL2", &format!("{:.15e}", s.crval.1)),
    ];
    match s.lin {
        Lin::Pc(scale, rot) => {
            let (sn, cs) = rot.to_radians().sin_cos();
            c.push(card("CDELT1", &format!("{:.15e}", -scale)));
            c.push(card("CDELT2", &format!("{scale:.15e}")));
            c.push(card("PC1_1", &format!("{cs:.15e}")));
            c.push(card("PC1_2", &format!("{:.15e}", -sn)));
            c.push(card("PC2_1", &format!("{sn:.15e}")));
            c.push(card("PC2_2", &format!("{cs:.15e}")));
        }
        Lin::Cd(scale, rot) => {
            let (sn, cs) = rot.to_radians().sin_cos();
            c.push(card("CD1_1", &format!("{:.15e}", -scale * cs)));
            c.push(card("CD1_2", &format!("{:.15e}", scale * 1.01 * sn)));
            c.push(card("CD2_1", &format!("{:.15e}", scale * sn)));
            c.push(card("CD2_2", &format!("{:.15e}", scale * 0.99 * cs)));
        }
        Lin::Crota(scale, rot) => {
            c.push(card("CDELT1", &format!("{:.15e}", -scale)));
            c.push(card("CDELT2", &format!("{scale:.15e}")));
            c.push(card("CROTA2", &format!("{rot:.15e}")));
        }
    }
    c.extend(s.extra.iter().cloned());
    c
}

fn spec<'a>(name: &str, ctype: (&'a str, &'a str), crval: (f64, f64), lin: Lin, extra: &[(&str, &str)]) -> Spec<'a> {
    let mut name = name.to_string();
    if !extra.is_empty() {
        let kv: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        name = format!("{name} [{}]", kv.join(" "));
    }
    Spec { name, ctype, crval, lin, extra: extra.iter().map(|(k, v)| card(k, v)).collect() }
}

fn run(specs: &[Spec], seed: u64) {
    let cases: Vec<Case> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Case::from_cards(&s.name, &cards(s), pixel_grid(1000, 1000, 17), sky_points(300, seed + i as u64))
        })
        .collect();
    let reports = check_cases(&cases);
    for (s, r) in specs.iter().zip(&reports) {
        assert!(r.n_valid >= 20, "{}: too few valid pixels ({})", s.name, r.n_valid);
    }
}

/// Reference points used for every projection: equator, RA wrap, mid-latitudes, near both poles.
const CRVALS: &[(f64, f64)] =
    &[(0.0, 0.0), (359.95, 45.0), (123.4, -30.0), (200.0, 89.5), (15.0, -89.9), (270.0, 90.0)];

fn zenithal(code: &str, scale: f64, extra: &[(&str, &str)]) -> Vec<Spec<'static>> {
    let c1: &'static str = Box::leak(format!("RA---{code}").into_boxed_str());
    let c2: &'static str = Box::leak(format!("DEC--{code}").into_boxed_str());
    let mut v = Vec::new();
    for (k, &crval) in CRVALS.iter().enumerate() {
        let lin = match k % 3 {
            0 => Lin::Pc(scale, 30.0),
            1 => Lin::Cd(scale, -12.0),
            _ => Lin::Crota(scale, 7.5),
        };
        v.push(spec(&format!("{code} {crval:?} local"), (c1, c2), crval, lin, extra));
        v.push(spec(&format!("{code} {crval:?} wide"), (c1, c2), crval, Lin::Pc(scale * 60.0, -40.0), extra));
    }
    v
}

#[test]
fn tan_matches_astropy() {
    run(&zenithal("TAN", 0.001, &[]), 10);
}

#[test]
fn sin_matches_astropy() {
    let mut v = zenithal("SIN", 0.001, &[]);
    v.extend(zenithal("SIN", 0.002, &[("PV2_1", "0.3"), ("PV2_2", "-0.2")]));
    v.extend(zenithal("SIN", 0.0015, &[("PV2_1", "0.0"), ("PV2_2", "0.5")]));
    run(&v, 20);
}

#[test]
fn arc_zea_stg_match_astropy() {
    let mut v = zenithal("ARC", 0.003, &[]);
    v.extend(zenithal("ZEA", 0.003, &[]));
    v.extend(zenithal("STG", 0.003, &[]));
    run(&v, 30);
}

#[test]
fn zpn_matches_astropy() {
    let mut v = zenithal("ZPN", 0.002, &[("PV2_0", "0.0"), ("PV2_1", "1.0"), ("PV2_3", "0.2")]);
    v.extend(zenithal("ZPN", 0.002, &[("PV2_1", "1.0"), ("PV2_2", "-0.05"), ("PV2_3", "-0.1")]));
    v.extend(zenithal("ZPN", 0.002, &[("PV2_1", "0.95"), ("PV2_2", "0.02")]));
    run(&v, 40);
}

fn all_sky(code: &str, scale: f64, extra: &[(&str, &str)]) -> Vec<Spec<'static>> {
    let c1: &'static str = Box::leak(format!("RA---{code}").into_boxed_str());
    let c2: &'static str = Box::leak(format!("DEC--{code}").into_boxed_str());
    let mut v = Vec::new();
    for (k, &crval) in [(0.0, 0.0), (180.0, 0.0), (359.95, 30.0), (45.0, -60.0), (100.0, 89.0)].iter().enumerate() {
        let lin = match k % 3 {
            0 => Lin::Pc(scale, 0.0),
            1 => Lin::Cd(scale, 20.0),
            _ => Lin::Crota(scale, -15.0),
        };
        v.push(spec(&format!("{code} {crval:?} all-sky"), (c1, c2), crval, lin, extra));
        v.push(spec(&format!("{code} {crval:?} local"), (c1, c2), crval, Lin::Pc(0.001, 25.0), extra));
    }
    v
}

#[test]
fn cylindrical_match_astropy() {
    let mut v = all_sky("CAR", 0.41, &[]);
    v.extend(all_sky("MER", 0.23, &[]));
    v.extend(all_sky("CEA", 0.41, &[]));
    v.extend(all_sky("CEA", 0.41, &[("PV2_1", "0.6")]));
    v.extend(all_sky("SFL", 0.41, &[]));
    run(&v, 50);
}

#[test]
fn ait_mol_match_astropy() {
    let mut v = all_sky("AIT", 0.41, &[]);
    v.extend(all_sky("MOL", 0.41, &[]));
    run(&v, 60);
}

#[test]
fn hpx_matches_astropy() {
    let mut v = all_sky("HPX", 0.41, &[]);
    v.extend(all_sky("HPX", 0.41, &[("PV2_1", "4"), ("PV2_2", "3")]));
    v.extend(all_sky("HPX", 0.41, &[("PV2_1", "6"), ("PV2_2", "4")]));
    v.extend(all_sky("HPX", 0.41, &[("PV2_1", "3"), ("PV2_2", "2")]));
    run(&v, 70);
}

#[test]
fn lonpole_latpole_and_fiducial_overrides_match_astropy() {
    let car = ("RA---CAR", "DEC--CAR");
    let v = vec![
        spec("CAR crval2=30", car, (30.0, 30.0), Lin::Pc(0.05, 0.0), &[]),
        spec("CAR crval2=-60", car, (300.0, -60.0), Lin::Pc(0.05, 10.0), &[]),
        spec("CAR crval2=-60 latpole=-90", car, (300.0, -60.0), Lin::Pc(0.05, 10.0), &[("LATPOLE", "-90.0")]),
        spec("CAR lonpole=30", car, (10.0, 20.0), Lin::Pc(0.05, 0.0), &[("LONPOLE", "30.0")]),
        spec(
            "CAR lonpole=30 latpole=-30",
            car,
            (10.0, 20.0),
            Lin::Pc(0.05, 0.0),
            &[("LONPOLE", "30.0"), ("LATPOLE", "-30.0")],
        ),
        spec("CAR theta0=10", car, (30.0, 20.0), Lin::Pc(0.05, 0.0), &[("PV1_2", "10.0")]),
        spec("CAR phi0=5", car, (30.0, 20.0), Lin::Pc(0.05, 0.0), &[("PV1_1", "5.0")]),
        spec(
            "CAR offset",
            car,
            (30.0, 20.0),
            Lin::Pc(0.05, 0.0),
            &[("PV1_0", "1.0"), ("PV1_1", "5.0"), ("PV1_2", "10.0")],
        ),
        spec("TAN lonpole=150", ("RA---TAN", "DEC--TAN"), (80.0, 40.0), Lin::Pc(0.01, 0.0), &[("LONPOLE", "150.0")]),
        spec("TAN crval2=90", ("RA---TAN", "DEC--TAN"), (80.0, 90.0), Lin::Pc(0.01, 0.0), &[]),
        spec("AIT crval2=45", ("RA---AIT", "DEC--AIT"), (120.0, 45.0), Lin::Pc(0.3, 0.0), &[]),
        spec(
            "MOL crval2=-20 lonpole=170",
            ("RA---MOL", "DEC--MOL"),
            (0.0, -20.0),
            Lin::Pc(0.3, 0.0),
            &[("LONPOLE", "170.0")],
        ),
    ];
    run(&v, 80);
}

#[test]
fn swapped_and_galactic_axes_match_astropy() {
    let mut swapped = Vec::new();
    for (code, scale) in [("TAN", 0.001), ("SIN", 0.002), ("CAR", 0.3), ("AIT", 0.3)] {
        let c1: &'static str = Box::leak(format!("DEC--{code}").into_boxed_str());
        let c2: &'static str = Box::leak(format!("RA---{code}").into_boxed_str());
        // CRVAL1 is the latitude on a swapped header.
        swapped.push(spec(&format!("swapped {code}"), (c1, c2), (-35.0, 210.0), Lin::Pc(scale, 20.0), &[]));
        // On a swapped header the rotation is CROTA1 (latitude axis); the CROTA2 written by Lin::Crota is ignored.
        swapped.push(spec(
            &format!("swapped {code} crota"),
            (c1, c2),
            (10.0, 20.0),
            Lin::Crota(scale, 30.0),
            &[("CROTA1", "-25.0")],
        ));
    }
    swapped.push(spec("galactic TAN", ("GLON-TAN", "GLAT-TAN"), (359.99, 0.5), Lin::Cd(0.0005, 3.0), &[]));
    swapped.push(spec("galactic CAR", ("GLON-CAR", "GLAT-CAR"), (0.0, 0.0), Lin::Cd(0.3, 0.0), &[]));
    swapped.push(spec(
        "icrs radesys",
        ("RA---TAN", "DEC--TAN"),
        (10.0, 10.0),
        Lin::Pc(0.001, 0.0),
        &[("RADESYS", "'ICRS'")],
    ));
    swapped.push(spec(
        "fk5 j2000",
        ("RA---TAN", "DEC--TAN"),
        (10.0, 10.0),
        Lin::Pc(0.001, 0.0),
        &[("RADESYS", "'FK5'"), ("EQUINOX", "2000.0")],
    ));
    run(&swapped, 90);
}

#[test]
fn tan_sip_matches_astropy() {
    let sip = ("RA---TAN-SIP", "DEC--TAN-SIP");
    let no_inv = sip_cards(false);
    let inv = sip_cards(true);
    let v = [
        spec("TAN-SIP no AP/BP", sip, (150.0, 2.0), Lin::Cd(5e-5, 90.3), &no_inv),
        spec("TAN-SIP rough AP/BP", sip, (150.0, 2.0), Lin::Cd(5e-5, 90.3), &inv),
        spec("TAN-SIP near pole", sip, (10.0, 89.99), Lin::Pc(5e-5, -30.0), &no_inv),
        spec("TAN-SIP RA wrap", sip, (359.999, -45.0), Lin::Crota(5e-5, 12.0), &inv),
    ];
    let cases: Vec<Case> =
        v.iter().map(|s| Case::from_cards(&s.name, &cards(s), pixel_grid(1000, 1000, 17), vec![])).collect();
    check_cases(&cases);
}

#[test]
fn tpv_matches_astropy() {
    let tpv = ("RA---TPV", "DEC--TPV");
    let coeffs: &[(&str, &str)] = &[
        ("PV1_0", "1.0e-5"),
        ("PV1_1", "1.0002"),
        ("PV1_2", "-2.0e-4"),
        ("PV1_3", "1.0e-4"),
        ("PV1_4", "3.0e-3"),
        ("PV1_5", "-2.0e-3"),
        ("PV1_7", "4.0e-3"),
        ("PV1_11", "-5.0e-3"),
        ("PV1_17", "1.0e-3"),
        ("PV1_39", "2.0e-3"),
        ("PV2_0", "-2.0e-5"),
        ("PV2_1", "0.9998"),
        ("PV2_2", "3.0e-4"),
        ("PV2_5", "2.5e-3"),
        ("PV2_6", "-1.0e-3"),
        ("PV2_10", "3.0e-3"),
        ("PV2_23", "-1.0e-3"),
        ("PV2_30", "5.0e-4"),
    ];
    let identity: &[(&str, &str)] = &[("PV1_1", "1.0"), ("PV2_1", "1.0")];
    let v = [
        spec("TPV", tpv, (150.0, 2.0), Lin::Cd(0.001, 15.0), coeffs),
        spec("TPV near pole", tpv, (33.0, -89.8), Lin::Cd(0.0005, -60.0), coeffs),
        spec("TPV identity", tpv, (359.99, 40.0), Lin::Cd(0.001, 5.0), identity),
    ];
    let cases: Vec<Case> =
        v.iter().map(|s| Case::from_cards(&s.name, &cards(s), pixel_grid(1000, 1000, 17), vec![])).collect();
    check_cases(&cases);
}
