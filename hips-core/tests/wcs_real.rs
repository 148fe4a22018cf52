//! WCS of every real image in the shared data directory checked against astropy: pix_to_world to < 1e-9 deg,
//! our own round trip and world_to_pix of astropy's world coordinates to < 1e-6 px.

mod wcs_support;

use hips_core::wcs::{Frame, Wcs};
use serde_json::json;
use wcs_support::{check_cases, pixel_grid, read_fits_header, sep_deg, shared_data, Case};

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
