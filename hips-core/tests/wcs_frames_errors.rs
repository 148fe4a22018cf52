//! ICRS <-> Galactic conversion against astropy's SkyCoord, and the header errors `Wcs::from_header` reports.

mod wcs_support;

use hips_core::wcs::{convert, convert_rad, Frame, Wcs, WcsError};
use serde_json::json;
use wcs_support::{card, header_from_cards, oracle, sep_deg};

fn random_points(n: usize) -> Vec<(f64, f64)> {
    let mut s: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut v: Vec<(f64, f64)> = (0..n).map(|_| (360.0 * next(), (2.0 * next() - 1.0).asin().to_degrees())).collect();
    // Poles of both frames and the galactic centre.
    v.extend([(0.0, 90.0), (0.0, -90.0), (192.85948, 27.12825), (266.40499, -28.93617), (359.9999999, 0.0)]);
    v
}

#[test]
fn icrs_galactic_matches_astropy_skycoord() {
    let pts = random_points(500);
    let arr: Vec<[f64; 2]> = pts.iter().map(|p| [p.0, p.1]).collect();
    let reply = oracle(&["--frames"], &json!({ "icrs": arr, "galactic": arr }));
    let to_gal = reply["icrs_to_galactic"].as_array().expect("icrs_to_galactic");
    let to_icrs = reply["galactic_to_icrs"].as_array().expect("galactic_to_icrs");
    let mut worst: f64 = 0.0;
    for (k, &(lon, lat)) in pts.iter().enumerate() {
        for (reply, from, to) in
            [(to_gal, Frame::Equatorial, Frame::Galactic), (to_icrs, Frame::Galactic, Frame::Equatorial)]
        {
            let a = (reply[k][0].as_f64().expect("lon"), reply[k][1].as_f64().expect("lat"));
            let o = convert(lon, lat, from, to);
            assert!((0.0..360.0).contains(&o.0), "lon {} out of range", o.0);
            let s = sep_deg(a, o);
            worst = worst.max(s);
            assert!(s < 1e-8, "({lon}, {lat}) {from:?}->{to:?}: astropy {a:?} ours {o:?} sep {s:e} deg");
            let r = convert_rad(lon.to_radians(), lat.to_radians(), from, to);
            assert!(sep_deg((r.0.to_degrees(), r.1.to_degrees()), o) < 1e-12);
        }
    }
    println!("worst ICRS<->Galactic separation from astropy: {worst:e} deg");
    // Identity when the frames are equal, and round trips.
    assert_eq!(convert(12.5, -3.25, Frame::Galactic, Frame::Galactic), (12.5, -3.25));
    let (l, b) = convert(83.6, 22.0, Frame::Equatorial, Frame::Galactic);
    let back = convert(l, b, Frame::Galactic, Frame::Equatorial);
    assert!(sep_deg(back, (83.6, 22.0)) < 1e-12);
}

fn base(ctype1: &str, ctype2: &str) -> Vec<String> {
    vec![
        card("NAXIS", "2"),
        card("CTYPE1", &format!("'{ctype1}'")),
        card("CTYPE2", &format!("'{ctype2}'")),
        card("CRPIX1", "10.0"),
        card("CRPIX2", "10.0"),
        card("CRVAL1", "10.0"),
        card("CRVAL2", "20.0"),
        card("CDELT1", "-0.001"),
        card("CDELT2", "0.001"),
    ]
}

fn err_of(cards: &[String]) -> String {
    match Wcs::from_header(&header_from_cards(cards)) {
        Ok(w) => panic!("expected an error, got {w:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn header_errors_name_key_and_value() {
    assert_eq!(err_of(&base("RA---XYZ", "DEC--XYZ")), "CTYPE1 = 'RA---XYZ': unsupported projection XYZ");
    let mut c = base("RA---TAN", "DEC--TAN");
    c.retain(|k| !k.starts_with("CTYPE2"));
    assert_eq!(err_of(&c), "no celestial WCS (CTYPE1/CTYPE2 missing)");
    let mut c = base("RA---TAN", "DEC--TAN");
    c.push(card("CD1_1", "1.0"));
    c.push(card("CD1_2", "2.0"));
    c.push(card("CD2_1", "2.0"));
    c.push(card("CD2_2", "4.0"));
    assert!(err_of(&c).starts_with("singular CD matrix"), "{}", err_of(&c));
    // Reference systems we do not implement are refused naming the keyword (the supported ones: wcs_celestial.rs).
    let mut c = base("RA---TAN", "DEC--TAN");
    c.push(card("RADESYS", "'GAPPT'"));
    assert!(err_of(&c).starts_with("RADESYS = 'GAPPT': unsupported celestial frame"), "{}", err_of(&c));
    let mut c = base("RA---TAN", "DEC--TAN");
    c.push(card("RADECSYS", "'GALACTIC'"));
    assert!(err_of(&c).starts_with("RADECSYS = 'GALACTIC'"), "{}", err_of(&c));
    assert!(err_of(&base("HLON-TAN", "HLAT-TAN")).starts_with("CTYPE1 = 'HLON-TAN': unsupported celestial frame"));
    assert!(err_of(&base("SLON-TAN", "SLAT-TAN")).starts_with("CTYPE1 = 'SLON-TAN'"));
    let mut c = base("ELON-TAN", "ELAT-TAN");
    c.push(card("EQUINOX", "1950.0"));
    assert!(err_of(&c).starts_with("EQUINOX = '1950 (FK4 ecliptic axes)'"), "{}", err_of(&c));
    let mut c = base("ELON-TAN", "ELAT-TAN");
    c.push(card("RADESYS", "'FK4'"));
    assert!(err_of(&c).starts_with("RADESYS = 'FK4 (with ecliptic axes)'"), "{}", err_of(&c));
    assert!(err_of(&base("RA---TAN", "GLAT-TAN")).contains("CTYPE2"));
    assert!(err_of(&base("RA---TAN", "DEC--SIN")).contains("differs"));
    // TPV only with a CD matrix (astropy/wcslib would apply it between PC and CDELT).
    assert!(err_of(&base("RA---TPV", "DEC--TPV")).contains("CD matrix"));
    let mut c = base("RA---CAR", "DEC--CAR");
    c.push(card("LONPOLE", "120.0"));
    let e = Wcs::from_header(&header_from_cards(&c)).expect_err("astropy rejects this too");
    assert!(matches!(e, WcsError::BadRotation(_)), "{e}");
    let mut c = base("RA---TAN", "DEC--TAN");
    c.push(card("CRVAL1", "'abc'"));
    // First card wins (cfitsio rule): CRVAL1 = 10.0 is used, so this one is fine.
    assert!(Wcs::from_header(&header_from_cards(&c)).is_ok());
}

#[test]
fn primary_wcs_only_and_extra_axes_ignored() {
    let mut c = base("RA---TAN", "DEC--TAN");
    c[0] = card("NAXIS", "3");
    c.extend([
        card("CTYPE3", "'FREQ'"),
        card("CTYPE1A", "'LINEAR'"),
        card("CRVAL1A", "100.0"),
        card("LONPOLEA", "3.0"),
    ]);
    let w = Wcs::from_header(&header_from_cards(&c)).expect("3-axis header with an alternate WCS");
    assert_eq!(w.frame(), Frame::Equatorial);
    let (lon, lat) = w.pix_to_world(9.0, 9.0).expect("reference pixel");
    assert!((lon - 10.0).abs() < 1e-12 && (lat - 20.0).abs() < 1e-12);
    assert_eq!(w.lonpole_latpole().0, 180.0);
}
