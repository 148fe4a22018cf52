//! No-panic harness for the tile-compressed reader: astropy-written RICE_1 (2-D tiles), GZIP_1/GZIP_2 (dithered
//! floats), PLIO_1 and HCOMPRESS_1 (smoothed, integer and dithered floats) files mutated deterministically
//! (compression keywords set to absurd values, table descriptors and heap bytes overwritten, the heap cut short). Every read must return Ok or an error naming the file (and the HDU, keyword or
//! table row for a compressed-image error), never panic; a region read allocates no more than its tiles.

mod fits_support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use fits_support::{data_dir, run_python, Rng};
use hips_core::fits::{read::read_region_raw_into, read_region_f32, scan_hdus, FitsError, MemSource};

const WRITER: &str = include_str!("fits_support/write_compressed.py");

/// Scan and read regions of `bytes`; every error must name the file, and a compressed-image error its HDU and key/row.
fn exercise(bytes: Vec<u8>) -> Result<bool, String> {
    let rejected = std::cell::Cell::new(false);
    let src = MemSource::new("fuzz.fits", bytes);
    let check = |e: FitsError| -> Result<(), String> {
        rejected.set(true);
        let m = e.to_string();
        let clear = m.starts_with("fuzz.fits: ")
            && (!matches!(e, FitsError::Compressed { .. }) || (m.contains("HDU 1") && m.contains("tile-compressed")));
        if clear {
            Ok(())
        } else {
            Err(format!("unclear error: {m}"))
        }
    };
    let hdus = match scan_hdus(&src) {
        Ok(h) => h,
        Err(e) => return check(e).map(|()| true),
    };
    let mut raw = Vec::new();
    for h in &hdus {
        let Some((w, hh)) = h.dims() else { continue };
        for (x0, y0, rw, rh) in [(0, 0, w.min(2048), hh.min(64)), (w / 2, hh / 2, 3, 2), (w - 1, hh - 1, 1, 1)] {
            if let Err(e) = read_region_raw_into(&src, h, (x0, y0, rw, rh), &mut raw) {
                check(e)?;
            } else if raw.len() != rw * rh * (h.bitpix.unsigned_abs() as usize / 8) {
                return Err(format!("region {x0},{y0} {rw}x{rh} gave {} bytes", raw.len()));
            }
            if let Err(e) = read_region_f32(&src, h, x0, y0, rw, rh) {
                check(e)?;
            }
        }
    }
    Ok(rejected.get())
}

/// Overwrite the value field of the first card `key` (header blocks of HDU 1, which starts at byte 2880).
fn set_value(bytes: &mut [u8], key: &str, value: &str) {
    let mut k = [b' '; 8];
    k[..key.len()].copy_from_slice(key.as_bytes());
    if let Some(pos) = (2880 / 80..bytes.len().min(5 * 2880) / 80).map(|i| i * 80).find(|&p| bytes[p..p + 8] == k) {
        let v = format!("{value:>20}");
        bytes[pos + 10..pos + 30].copy_from_slice(&v.as_bytes()[..20]);
    }
}

/// Where HDU 1's data (the table rows, then the heap) starts: after its END card's block.
fn data_start(bytes: &[u8]) -> usize {
    let end = (2880 / 80..bytes.len() / 80).map(|i| i * 80).find(|&p| bytes[p..p + 8] == *b"END     ").expect("END");
    (end / 2880 + 1) * 2880
}

#[test]
fn mutated_compressed_files_never_panic_and_name_the_fault() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let names = [
        "horse_rice_tiles",
        "sdss_gzip1_d1",
        "bolo_gzip2_d1",
        "horse_plio",
        "horse_hcomp_smooth",
        "bolo_hcomp_d2_smooth",
    ];
    let mut args = vec![data_dir().to_string_lossy().to_string(), tmp.path().to_string_lossy().to_string()];
    args.extend(names.iter().map(|s| (*s).to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    run_python(WRITER, &argv);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut cases, mut rejected, mut failures) = (0usize, 0usize, Vec::new());
    let mut run = |label: String, bytes: Vec<u8>| {
        cases += 1;
        match catch_unwind(AssertUnwindSafe(|| exercise(bytes))) {
            Ok(Ok(r)) => rejected += usize::from(r),
            Ok(Err(m)) => failures.push(format!("{label}: {m}")),
            Err(_) => failures.push(format!("{label}: panicked")),
        }
    };
    let keys: &[(&str, &[&str])] = &[
        ("ZTILE1", &["0", "-1", "1", "7", "2147483647"]),
        ("ZTILE2", &["0", "2", "1000000"]),
        ("ZNAXIS1", &["0", "1", "100000", "4294967296"]),
        ("ZNAXIS2", &["0", "3", "2147483647"]),
        ("ZNAXIS", &["0", "1", "3", "1000"]),
        ("ZBITPIX", &["7", "0", "64", "-64", "8", "16"]),
        ("NAXIS1", &["0", "4", "7", "9"]),
        ("NAXIS2", &["0", "1", "10"]),
        ("THEAP", &["0", "-1", "99999999999"]),
        ("ZCMPTYPE", &["'BOGUS   '", "'HCOMPRESS_1'", "'RICE_1  '", "'PLIO_1  '", "'GZIP_1  '", "'NOCOMPRESS'"]),
        ("TFORM1", &["'1QB     '", "'1PJ     '", "'Z       '", "'0PB     '", "'1D      '"]),
        ("TFIELDS", &["0", "-3", "5000"]),
        ("ZVAL1", &["0", "-5", "100000"]),
        ("ZVAL2", &["3", "8", "0"]),
        ("ZQUANTIZ", &["'FOO     '", "'NONE    '", "'NO_DITHER'"]),
        ("ZDITHER0", &["-5", "0", "99999999"]),
        ("ZSCALE", &["1"]),
        ("ZBLANK", &["5"]),
    ];
    for name in names {
        let orig = std::fs::read(tmp.path().join(format!("{name}.fits"))).expect("read");
        assert_eq!(exercise(orig.clone()), Ok(false), "{name}: the unmodified file must read");
        for (key, values) in keys {
            for v in *values {
                let mut b = orig.clone();
                set_value(&mut b, key, v);
                run(format!("{name} {key}={v}"), b);
            }
        }
        let start = data_start(&orig);
        // Table rows (descriptors, ZSCALE/ZZERO) and heap bytes overwritten with random bytes.
        for i in 0..400 {
            let mut b = orig.clone();
            let span = if i % 2 == 0 { 64 * 16 } else { orig.len() - start };
            for _ in 0..=rng.below(8) {
                let at = start + rng.below(span.min(orig.len() - start));
                b[at] = rng.next() as u8;
            }
            run(format!("{name} bytes #{i}"), b);
        }
        // The file cut in its table or heap.
        for i in 0..40 {
            let cut = start + rng.below(orig.len() - start);
            run(format!("{name} cut at {cut} (#{i})"), orig[..cut].to_vec());
        }
    }
    assert!(failures.is_empty(), "{} of {cases} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(cases > 1500 && rejected > cases / 4, "{cases} cases, {rejected} rejected");
}
