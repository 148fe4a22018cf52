//! WCS of every real image in the shared data directory checked against astropy: pix_to_native (all_pix2world) to < 1e-9 deg,
//! our own round trip and world_to_pix of astropy's world coordinates to < 1e-6 px.

mod wcs_support;

use hips_core::wcs::{Frame, Wcs};
use serde_json::json;
use wcs_support::{card, check_cases, pixel_grid, read_fits_header, sep_deg, shared_data, Case};

/// (path under the shared data directory, HDU, expected frame, expected projection code, SIP expected).
const IMAGES: &[(&str, usize, Frame, &str, bool)] = &[
    ("lsst_exposure/lsst_afw_HSC-0908120-056-small.fits", 1, Frame::Equatorial, "TAN", true),
    ("multiband_2mass_gc/gc_2mass_h.fits", 0, Frame::Equatorial, "TAN", false),
    ("multiband_2mass_gc/gc_2mass_j.fits", 0, Frame::Equatorial, "TAN", false),
    ("multiband_2mass_gc/gc_2mass_k.fits", 0, Frame::Equatorial, "TAN", false),
    ("single_band/gc_bolocam_gps.fits", 0, Frame::Galactic, "CAR", false),
    ("multiband_sdss/reprojected_sdss_g.fits", 0, Frame::Equatorial, "TAN", false),
    ("multiband_sdss/reprojected_sdss_i.fits", 0, Frame::Equatorial, "TAN", false),
    ("multiband_sdss/reprojected_sdss_r.fits", 0, Frame::Equatorial, "TAN", false),
    ("single_band/HorseHead.fits", 0, Frame::Equatorial, "TAN", false),
    ("single_band/spitzer_example_image.fits", 0, Frame::Galactic, "CAR", false),
];

#[test]
fn real_images_match_astropy() {
    let data = shared_data();
    let mut cases = Vec::new();
    for &(rel, hdu, frame, code, sip) in IMAGES {
        let path = data.join(rel);
        let header = read_fits_header(&path, hdu);
        let wcs = Wcs::from_header(&header).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(wcs.frame(), frame, "{rel}");
        assert_eq!(wcs.projection().code(), code, "{rel}");
        assert_eq!(wcs.has_sip(), sip, "{rel}");
        assert_eq!(wcs.has_dss(), rel.contains("HorseHead"), "{rel}: DSS plate solution used");
        let nx = header.get_i64("NAXIS1").expect("NAXIS1") as usize;
        let ny = header.get_i64("NAXIS2").expect("NAXIS2") as usize;
        let (lon0, lat0) = wcs.crval();
        // The antipode of the reference point is outside TAN; CAR maps it (or not) as astropy says.
        let world = if sip { vec![] } else { vec![((lon0 + 180.0) % 360.0, -lat0), (lon0, lat0)] };
        cases.push(Case {
            name: format!("{rel}[{hdu}]"),
            header,
            // The real header: HorseHead (DSS) carries a plate solution (AMDXn/AMDYn, PLT*, PPOn) that astropy and
            // we both use instead of its CTYPE/CD WCS (they differ by ~0.2").
            job: json!({ "fits": path.to_string_lossy(), "hdu": hdu }),
            pix: pixel_grid(nx, ny, 13),
            world,
        });
    }
    let reports = check_cases(&cases);
    assert!(reports.iter().all(|r| r.n_valid > 100), "every image has a valid grid");
}

#[test]
fn pixel_scale_and_frames_of_real_images() {
    let data = shared_data();
    let h = read_fits_header(&data.join("single_band/HorseHead.fits"), 0);
    let w = Wcs::from_header(&h).expect("HorseHead WCS");
    // |det CD| = 0.0002802651 * 0.0002798187 + 0.0000003159 * 0.0000002767 (README: 1.0093"/px).
    let det = 0.0002802651f64 * 0.0002798187 + 0.0000003159 * 0.0000002767;
    assert!((w.pixel_scale_deg() - det.sqrt()).abs() < 1e-15);
    let h = read_fits_header(&data.join("multiband_2mass_gc/gc_2mass_h.fits"), 0);
    let w = Wcs::from_header(&h).expect("2MASS WCS");
    assert!((w.pixel_scale_deg() - 0.001388889).abs() < 1e-12, "CDELT + CROTA2 scale");
}

#[test]
fn sip_inverse_is_exact_to_1e8_px_with_and_without_ap_bp() {
    let path = shared_data().join("lsst_exposure/lsst_afw_HSC-0908120-056-small.fits");
    let header = read_fits_header(&path, 1);
    let with = Wcs::from_header(&header).expect("HSC WCS");
    // The same header without AP/BP: the inverse starts from the undistorted point.
    let mut stripped = header.clone();
    stripped.cards.retain(|c| !(c.key.starts_with("AP_") || c.key.starts_with("BP_")));
    let without = Wcs::from_header(&stripped).expect("HSC WCS without AP/BP");
    let mut worst: f64 = 0.0;
    // The image and a wide margin around it (HiPS tiles overhang the image), where the distortion is ~1 px.
    for i in 0..=40 {
        for j in 0..=40 {
            let (x, y) = (-300.0 + 20.0 * f64::from(i), -300.0 + 20.0 * f64::from(j));
            let (lon, lat) = with.pix_to_world(x, y).expect("inside TAN");
            assert!(sep_deg((lon, lat), without.pix_to_world(x, y).expect("inside TAN")) < 1e-14);
            for w in [&with, &without] {
                let (bx, by) = w.world_to_pix(lon, lat).expect("SIP inverse converges");
                let d = (bx - x).hypot(by - y);
                worst = worst.max(d);
                assert!(d < 1e-8, "({x}, {y}) -> ({bx}, {by}): {d:e} px");
            }
        }
    }
    println!("worst SIP inverse error: {worst:e} px");
}

/// The 80-character cards of the primary header of a FITS file, END excluded.
fn raw_cards(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("read FITS");
    let mut cards = Vec::new();
    for c in bytes.chunks(80) {
        let s = String::from_utf8_lossy(c).into_owned();
        if s.starts_with("END ") {
            break;
        }
        cards.push(s);
    }
    cards
}

#[test]
fn dss_radial_terms_and_wide_margin_match_astropy() {
    // HorseHead's real header with the radial terms (7, 12, 13), which are zero on that plate, made non-zero
    // (a few tenths of an arcsec at the plate edge), so their conventions are checked against wcslib too.
    let path = shared_data().join("single_band/HorseHead.fits");
    let terms = [
        ("AMDX7", "2.0E-5"),
        ("AMDX12", "3.0E-8"),
        ("AMDX13", "-2.0E-12"),
        ("AMDY7", "-1.5E-5"),
        ("AMDY12", "-2.0E-8"),
        ("AMDY13", "1.0E-12"),
    ];
    let cards: Vec<String> = raw_cards(&path)
        .into_iter()
        .map(|c| match terms.iter().find(|(k, _)| c[..8].trim_end() == *k) {
            Some((k, v)) => card(k, v),
            None => c,
        })
        .collect();
    // A wide margin around the 891 x 893 image (HiPS tiles overhang it) and far out on the plate.
    let mut pix = pixel_grid(891, 893, 9);
    for i in 0..=8 {
        for j in 0..=8 {
            pix.push((-2000.0 + 600.0 * f64::from(i), -2000.0 + 600.0 * f64::from(j)));
        }
    }
    pix.push((-11000.0, 10000.0));
    let case = Case::from_cards("HorseHead with DSS radial terms", &cards, pix, vec![(85.6, -4.9), (265.6, 4.9)]);
    let wcs = Wcs::from_header(&case.header).expect("DSS WCS");
    assert!(wcs.has_dss());
    let plain = Wcs::from_header(&read_fits_header(&path, 0)).expect("HorseHead WCS");
    let (x, y) = (10000.0, -10000.0);
    let moved = sep_deg(wcs.pix_to_world(x, y).expect("ok"), plain.pix_to_world(x, y).expect("ok")) * 3600.0;
    assert!(moved > 0.1, "the radial terms move a far pixel by {moved}\"");
    let reports = check_cases(&[case]);
    assert_eq!(reports[0].n_valid, 81 + 81 + 6 + 1);
}

#[test]
fn dss_errors_name_the_key() {
    let path = shared_data().join("single_band/HorseHead.fits");
    let mut h = read_fits_header(&path, 0);
    h.cards.retain(|c| c.key != "PPO3");
    let e = Wcs::from_header(&h).expect_err("PPO3 missing").to_string();
    assert!(e.contains("PPO3"), "{e}");
    // Without the plate solution the header's own TAN/CD WCS is used.
    let mut h = read_fits_header(&path, 0);
    h.cards.retain(|c| !c.key.starts_with("PLTRA"));
    assert!(!Wcs::from_header(&h).expect("TAN/CD").has_dss());
}
