//! FITS writing against independent readers: cfitsio (the `fitsio` crate) reads our pixels and keyword values back,
//! astropy verifies DATASUM/CHECKSUM (`checksum=True`, warnings are errors) and re-reads every card value.

mod fits_support;

use hips_core::fits::write::{encode_checksum, format_real, ones_complement_sum};
use hips_core::fits::{
    empty_primary, image_hdu, read_image_f32, read_image_i64, scan_hdus, Card, MemSource, PixelData, Value,
};

const W: usize = 37;
const H: usize = 23;

fn awkward_floats() -> Vec<f64> {
    vec![0.1 + 0.2, 1e-300, -123_456.789e10, 266.4, -5.555_555_555_555_556e-5, 1.0 / 3.0, 6.02214076e23, -0.0, 2.5e-10]
}

fn extra_cards() -> Vec<Card> {
    let mut v = vec![
        Card::str("EXTNAME", "IMAGE", "plane"),
        Card::str("OBJECT", "it's a 'test'", "quotes escaped"),
        Card::int("BIGINT", -9_007_199_254_740_993, ""),
        Card::logical("FLAG", false, "a logical"),
        Card::int("MP_NO_DATA", 8, "HIERARCH mask plane"),
        Card::comment("a comment card"),
        Card::str("BITPIX", "ignored", "reserved keys are dropped from extra"),
    ];
    for (i, f) in awkward_floats().into_iter().enumerate() {
        v.push(Card::float(&format!("REAL{i}"), f, "round trip"));
    }
    v
}

/// The written file and the pixels of its f32, i16, f64, u8 and i64 planes.
type Written = (std::path::PathBuf, Vec<f32>, Vec<i16>, Vec<f64>, Vec<u8>, Vec<i64>);

fn test_file(dir: &std::path::Path) -> Written {
    let f32s: Vec<f32> =
        (0..W * H).map(|i| (i as f32 * 0.37).sin() * 1000.0).map(|v| if v > 990.0 { f32::NAN } else { v }).collect();
    let i16s: Vec<i16> = (0..W * H).map(|i| (i as i64 * 7919 % 65536 - 32768) as i16).collect();
    let f64s: Vec<f64> = (0..W * H).map(|i| (i as f64).sqrt() * 1e10).collect();
    let u8s: Vec<u8> = (0..W * H).map(|i| (i % 256) as u8).collect();
    let i64s: Vec<i64> = (0..W * H).map(|i| (i as i64 - 400) * 1_000_000_007_123).collect();
    let i32s: Vec<i32> = (0..W * H).map(|i| i as i32 * -77).collect();
    let mut bytes = empty_primary(&[Card::str("FILTER", "r", "band")]);
    bytes.extend(image_hdu(false, W, H, PixelData::F32(&f32s), &extra_cards()));
    bytes.extend(image_hdu(false, W, H, PixelData::I16(&i16s), &[Card::str("EXTNAME", "I16", "")]));
    bytes.extend(image_hdu(false, W, H, PixelData::F64(&f64s), &[Card::str("EXTNAME", "F64", "")]));
    bytes.extend(image_hdu(false, W, H, PixelData::U8(&u8s), &[Card::str("EXTNAME", "U8", "")]));
    bytes.extend(image_hdu(false, W, H, PixelData::I64(&i64s), &[Card::str("EXTNAME", "I64", "")]));
    bytes.extend(image_hdu(false, W, H, PixelData::I32(&i32s), &[Card::str("EXTNAME", "I32", "")]));
    let path = dir.join("written.fits");
    std::fs::write(&path, &bytes).expect("write");
    (path, f32s, i16s, f64s, u8s, i64s)
}

#[test]
fn own_reader_round_trip_and_checksums() {
    let dir = tempfile::tempdir().expect("tmp");
    let (path, f32s, i16s, _f64s, u8s, i64s) = test_file(dir.path());
    let bytes = std::fs::read(&path).expect("read");
    let src = MemSource::new("written.fits", bytes.clone());
    let hdus = scan_hdus(&src).expect("scan");
    assert_eq!(hdus.len(), 7);
    for h in &hdus {
        // The whole HDU sums to negative zero (all ones) and DATASUM is the data's sum.
        let end = (h.data_start + h.data_len.div_ceil(2880) * 2880) as usize;
        let hdu_bytes = &bytes[h.header_start as usize..end];
        assert_eq!(ones_complement_sum(hdu_bytes, 0), 0xffff_ffff, "{}", h.label());
        let datasum = ones_complement_sum(&bytes[h.data_start as usize..end], 0);
        assert_eq!(h.header.get_str("DATASUM"), Some(datasum.to_string()));
    }
    let img = read_image_f32(&src, &hdus[1]).expect("f32");
    for (a, b) in img.data.iter().zip(&f32s) {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
    }
    let (_, _, v) = read_image_i64(&src, &hdus[2]).expect("i16");
    assert_eq!(v, i16s.iter().map(|&x| i64::from(x)).collect::<Vec<_>>());
    let (_, _, v) = read_image_i64(&src, &hdus[4]).expect("u8");
    assert_eq!(v, u8s.iter().map(|&x| i64::from(x)).collect::<Vec<_>>());
    let (_, _, v) = read_image_i64(&src, &hdus[5]).expect("i64");
    assert_eq!(v, i64s);
    // Card values read back by our parser.
    let h = &hdus[1].header;
    assert_eq!(h.get_str("OBJECT").as_deref(), Some("it's a 'test'"));
    assert_eq!(h.get_i64("BIGINT"), Some(-9_007_199_254_740_993));
    assert_eq!(h.get_bool("FLAG"), Some(false));
    assert_eq!(h.get_i64("MP_NO_DATA"), Some(8));
    assert_eq!(h.get_i64("BITPIX"), Some(-32));
    assert_eq!(h.cards.iter().filter(|c| c.key == "BITPIX").count(), 1, "reserved extra card dropped");
    for (i, f) in awkward_floats().into_iter().enumerate() {
        let got = h.get_f64(&format!("REAL{i}")).expect("real");
        assert_eq!(got.to_bits(), f.to_bits(), "REAL{i}: {got} != {f}");
    }
    assert_eq!(hdus[0].header.get_str("FILTER").as_deref(), Some("r"));
}

#[test]
fn card_layout_is_standard() {
    let c = String::from_utf8(Card::int("NAXIS1", 4096, "").to_bytes().to_vec()).expect("ascii");
    assert_eq!(&c[..30], "NAXIS1  =                 4096");
    let c = String::from_utf8(Card::logical("SIMPLE", true, "x").to_bytes().to_vec()).expect("ascii");
    assert_eq!(&c[..33], "SIMPLE  =                    T / ");
    assert_eq!(c.len(), 80);
    let c = String::from_utf8(Card::str("CTYPE1", "RA---TAN", "").to_bytes().to_vec()).expect("ascii");
    assert_eq!(&c[..20], "CTYPE1  = 'RA---TAN'");
    let c = String::from_utf8(Card::str("XTENSION", "IMAGE", "").to_bytes().to_vec()).expect("ascii");
    assert_eq!(&c[..20], "XTENSION= 'IMAGE   '", "strings padded to 8 characters");
    let c = String::from_utf8(Card::int("MP_NO_DATA", 8, "").to_bytes().to_vec()).expect("ascii");
    assert!(c.starts_with("HIERARCH MP_NO_DATA = 8"), "{c}");
    let c = String::from_utf8(Card::float("CD1_1", -5.555_555_555_555_556e-5, "").to_bytes().to_vec()).expect("a");
    assert!(c.starts_with("CD1_1   = -5.555555555555556E-5 "), "21 characters: free format from column 11: {c}");
    let c = String::from_utf8(Card::str("EXTNAME", "MASK", "plane").to_bytes().to_vec()).expect("ascii");
    assert_eq!(c.trim_end(), "EXTNAME = 'MASK    '           / plane", "comment at column 32 like cfitsio");
    assert_eq!(format_real(3.0), "3.0");
    assert_eq!(format_real(1e300), "1.0E300");
    assert!(matches!(Card::float("X", f64::NAN, "").value, Some(Value::Float(_))));
    let c = String::from_utf8(Card::float("X", f64::NAN, "").to_bytes().to_vec()).expect("ascii");
    assert_eq!(c.trim_end(), "X       =", "NaN written as an undefined value");
    let long = "x".repeat(200);
    assert_eq!(Card::str("LONG", &long, &long).to_bytes().len(), 80);
    // Checksum of all-zero data encodes the complement of 0.
    assert_eq!(encode_checksum(0).len(), 16);
}

#[test]
fn cfitsio_reads_what_we_write() {
    let dir = tempfile::tempdir().expect("tmp");
    let (path, f32s, i16s, f64s, u8s, i64s) = test_file(dir.path());
    let mut f = fitsio::FitsFile::open(&path).expect("cfitsio opens our file");
    let primary = f.hdu(0).expect("primary");
    assert_eq!(primary.read_key::<String>(&mut f, "FILTER").expect("FILTER"), "r");
    let h = f.hdu(1).expect("hdu 1");
    let got: Vec<f32> = h.read_image(&mut f).expect("f32 image");
    for (a, b) in got.iter().zip(&f32s) {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
    }
    assert_eq!(h.read_key::<String>(&mut f, "OBJECT").expect("OBJECT"), "it's a 'test'");
    assert_eq!(h.read_key::<i64>(&mut f, "BIGINT").expect("BIGINT"), -9_007_199_254_740_993);
    assert_eq!(h.read_key::<i64>(&mut f, "MP_NO_DATA").expect("HIERARCH key"), 8);
    for (i, v) in awkward_floats().into_iter().enumerate() {
        let got: f64 = h.read_key(&mut f, &format!("REAL{i}")).expect("real");
        assert_eq!(got.to_bits(), v.to_bits(), "cfitsio reads REAL{i} as {got}, wrote {v}");
    }
    let h = f.hdu("I16").expect("I16");
    assert_eq!(h.read_image::<Vec<i16>>(&mut f).expect("i16"), i16s);
    let h = f.hdu("F64").expect("F64");
    assert_eq!(h.read_image::<Vec<f64>>(&mut f).expect("f64"), f64s);
    let h = f.hdu("U8").expect("U8");
    assert_eq!(h.read_image::<Vec<u8>>(&mut f).expect("u8"), u8s);
    let h = f.hdu("I64").expect("I64");
    assert_eq!(h.read_image::<Vec<i64>>(&mut f).expect("i64"), i64s);
}

const ASTROPY_CHECK: &str = r#"
import sys, json, warnings
import numpy as np
from astropy.io import fits
warnings.simplefilter("error")  # a checksum mismatch is a warning in astropy: make it fail
out = []
with fits.open(sys.argv[1], checksum=True) as hl:
    for h in hl:
        assert h._checksum_valid and h._datasum_valid, h.name
        d = {"name": h.name, "cards": {k: repr(v) for k, v in h.header.items() if k.startswith("REAL")}}
        if h.data is not None:
            d["sum"] = float(np.nansum(np.asarray(h.data, dtype=np.float64)))
        out.append(d)
print(json.dumps(out))
"#;

#[test]
fn astropy_verifies_checksums_and_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let (path, f32s, _i16s, f64s, _u8s, _i64s) = test_file(dir.path());
    let out = fits_support::run_python(ASTROPY_CHECK, &[path.to_str().expect("utf8")]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let hdus = v.as_array().expect("array");
    assert_eq!(hdus.len(), 7);
    for (i, f) in awkward_floats().into_iter().enumerate() {
        let r = hdus[1]["cards"][format!("REAL{i}")].as_str().expect("card");
        assert_eq!(r.parse::<f64>().expect("float").to_bits(), f.to_bits(), "astropy reads REAL{i} as {r}");
    }
    let sum32: f64 = f32s.iter().filter(|v| !v.is_nan()).map(|&v| f64::from(v)).sum();
    assert!((hdus[1]["sum"].as_f64().expect("sum") - sum32).abs() < 1e-6 * sum32.abs().max(1.0));
    let sum64: f64 = f64s.iter().sum();
    assert!((hdus[3]["sum"].as_f64().expect("sum") - sum64).abs() < 1e-9 * sum64);
}
