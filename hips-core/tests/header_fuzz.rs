//! No-panic harness one level above the FITS scanner: thousands of deterministic mutations of the WCS and plane
//! keywords of the real files (CTYPE, CRPIX, CRVAL, CD/PC/CDELT, PV, SIP orders and coefficients, LONPOLE, RADESYS,
//! EQUINOX, EXTNAME/EXTTYPE, MP_NO_DATA) go through the coadd opener (`Coadd::from_source`: the IMAGE/MASK/VARIANCE
//! choice and `Wcs::from_header`), then a region read and the pixel <-> sky transforms. Each must return Ok or an
//! error naming the file, never panic, never allocate more than `fits_support::memory_bound` (a counting global
//! allocator measures every input); and the SODA / progenitor query parsers (`Shape::parse_*`) get random text.

mod fits_support;

use fits_support::{memory_bound, peak_during, Rng};

#[global_allocator]
static ALLOC: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use hips_core::coadd::Coadd;
use hips_core::cutout::Shape;
use hips_core::fits::MemSource;

/// Header positions (byte offsets of cards) of every card with one of `keys`, in the first `blocks` blocks.
fn cards_with(bytes: &[u8], keys: &[&str], blocks: usize) -> Vec<usize> {
    let limit = bytes.len().min(blocks * 2880);
    (0..limit / 80)
        .map(|i| i * 80)
        .filter(|&p| {
            let k = String::from_utf8_lossy(&bytes[p..p + 8]);
            keys.iter().any(|key| k.trim_end() == *key || (key.ends_with('_') && k.starts_with(key)))
        })
        .collect()
}

/// Open, read a corner and transform a few positions; an error must name the file.
fn exercise(name: &str, bytes: Vec<u8>) -> Result<bool, String> {
    match Coadd::from_source(name, Arc::new(MemSource::new(name, bytes)), None) {
        Err(e) => {
            let msg = e.to_string();
            if msg.contains(name) {
                Ok(false)
            } else {
                Err(format!("error without the file name: {msg}"))
            }
        }
        Ok(c) => {
            let _ = c.read_region(-3, -3, 5, 5);
            for (x, y) in [(0.0, 0.0), (c.width as f64 / 2.0, c.height as f64 / 3.0), (1e9, -1e9), (f64::NAN, 0.0)] {
                if let Some((lon, lat)) = c.wcs.pix_to_world(x, y) {
                    let _ = c.wcs.world_to_pix(lon, lat);
                }
            }
            let _ = c.corners(hips_core::wcs::Frame::Equatorial);
            Ok(true)
        }
    }
}

const WCS_KEYS: &[&str] = &[
    "CTYPE1",
    "CTYPE2",
    "CRPIX1",
    "CRPIX2",
    "CRVAL1",
    "CRVAL2",
    "CD1_1",
    "CD1_2",
    "CD2_1",
    "CD2_2",
    "PC1_1",
    "PC2_2",
    "CDELT1",
    "CDELT2",
    "PV1_",
    "PV2_",
    "A_ORDER",
    "B_ORDER",
    "AP_ORDER",
    "BP_ORDER",
    "A_",
    "B_",
    "LONPOLE",
    "LATPOLE",
    "RADESYS",
    "RADECSYS",
    "EQUINOX",
    "EXTNAME",
    "EXTTYPE",
    "MP_NO_DATA",
    "NAXIS1",
    "NAXIS2",
];
const VALUES: &[&str] = &[
    "0",
    "-0",
    "1e300",
    "-1e300",
    "NaN",
    "'NaN'",
    "1e-300",
    "9",
    "99",
    "-1",
    "2147483648",
    "''",
    "'RA---TAN-SIP'",
    "'DEC--TAN-SIP'",
    "'RA---ZPN'",
    "'GLON-AIT'",
    "'DEC--XYZ'",
    "'RA---TPV'",
    "'FK4'",
    "'GAPPT'",
    "'IMAGE'",
    "'MASK'",
    "'VARIANCE'",
    "T",
    "90",
    "180.0",
    "3.0E38",
];

#[test]
fn mutated_wcs_and_plane_keywords_never_panic_and_errors_name_the_file() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut cases, mut opened) = (0usize, 0usize);
    let mut failures = Vec::new();
    for path in fits_support::real_fits_files() {
        let orig = std::fs::read(&path).expect("read");
        let name = format!("fuzz/{}", path.file_name().expect("name").to_string_lossy());
        let cards = cards_with(&orig, WCS_KEYS, 40);
        if cards.is_empty() {
            continue;
        }
        for i in 0..400 {
            let mut b = orig.clone();
            for _ in 0..=rng.below(3) {
                let pos = cards[rng.below(cards.len())];
                let v = format!("{:>20}", VALUES[rng.below(VALUES.len())]);
                b[pos + 10..pos + 10 + 20.min(v.len())].copy_from_slice(&v.as_bytes()[..20.min(v.len())]);
                b[pos + 30..pos + 80].fill(b' ');
            }
            cases += 1;
            let len = b.len();
            let (r, peak) = peak_during(ALLOC, || catch_unwind(AssertUnwindSafe(|| exercise(&name, b))));
            if peak > memory_bound(len) {
                failures.push(format!("{name} #{i}: allocated {peak} bytes for a {len}-byte source"));
            }
            match r {
                Err(_) => failures.push(format!("{name} #{i}: panicked")),
                Ok(Err(e)) => failures.push(format!("{name} #{i}: {e}")),
                Ok(Ok(true)) => opened += 1,
                Ok(Ok(false)) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases} mutations failed:\n{}", failures.len(), failures.join("\n"));
    assert!(cases >= 2000, "only {cases} cases");
    assert!(opened > 0 && opened < cases, "{opened} of {cases} opened: the mutations should both pass and fail");
}

#[test]
fn query_parsers_never_panic_and_explain_rejections() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words = ["CIRCLE", "RANGE", "POLYGON", "circle", "-Inf", "+Inf", "inf", "NaN", "1e999", "-90", "360", ","];
    let mut failures = Vec::new();
    for i in 0..20_000 {
        let text: String = if i % 2 == 0 {
            (0..rng.below(60)).map(|_| char::from(32 + rng.below(95) as u8)).collect()
        } else {
            (0..rng.below(12))
                .map(|_| {
                    if rng.below(3) == 0 {
                        words[rng.below(words.len())].to_string()
                    } else {
                        format!("{}", (rng.next() % 100_000) as f64 / 100.0 - 300.0)
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (which, f) in [
            ("POS", Shape::parse_pos as fn(&str) -> _),
            ("CIRCLE", Shape::parse_circle),
            ("POLYGON", Shape::parse_polygon),
        ] {
            match catch_unwind(|| f(&text)) {
                Err(_) => failures.push(format!("{which}={text:?}: panicked")),
                Ok(Err(e)) if e.trim().is_empty() => failures.push(format!("{which}={text:?}: empty error")),
                Ok(Ok(shape)) => {
                    let _ = catch_unwind(AssertUnwindSafe(|| (shape.contains(10.0, 20.0), shape.bounding_cone())))
                        .map_err(|_| failures.push(format!("{which}={text:?}: accepted shape panicked")));
                }
                Ok(Err(_)) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
