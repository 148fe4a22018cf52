//! No-panic harness for FITS reading: thousands of deterministic mutations of the real files (truncation at and
//! around every block boundary, byte flips, garbage cards, absurd NAXIS/BITPIX/PCOUNT values) go through
//! `scan_hdus` and every reader; each must return Ok or Err, never panic, and never allocate more than the source
//! could justify (`fits_support::memory_bound`, measured by a counting global allocator for every input).

mod fits_support;

use fits_support::{memory_bound, peak_during, Rng};

#[global_allocator]
static ALLOC: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

use std::panic::{catch_unwind, AssertUnwindSafe};

use hips_core::fits::{read_image_f32, read_image_i64, read_region_f32, read_region_i64, scan_hdus, MemSource};

/// Run every reader on `bytes`; returns whether the scan succeeded. Panics propagate to the caller's catch_unwind.
fn exercise(bytes: Vec<u8>) -> bool {
    let len = bytes.len();
    let src = MemSource::new("fuzz.fits", bytes);
    let Ok(hdus) = scan_hdus(&src) else { return false };
    for h in &hdus {
        assert!(h.data_start <= len as u64 && h.data_start + h.data_len <= len as u64, "HDU extent within source");
        if let Ok(img) = read_image_f32(&src, h) {
            assert_eq!(img.data.len(), img.width * img.height);
            assert!(img.data.len() * (h.bitpix.unsigned_abs() as usize / 8) <= len, "allocation bounded by source");
        }
        let _ = read_image_i64(&src, h);
        let _ = read_region_f32(&src, h, 1, 1, 3, 2);
        let _ = read_region_i64(&src, h, 0, 0, 2, 2);
        let _ = read_region_f32(&src, h, usize::MAX - 1, 0, 5, 5);
    }
    true
}

/// Overwrite the value field (columns 11-30) of the first card with `key` in the header region.
fn set_value(bytes: &mut [u8], key: &[u8], value: &str, nth_block_limit: usize) {
    let limit = bytes.len().min(nth_block_limit * 2880);
    let mut k = [b' '; 8];
    k[..key.len()].copy_from_slice(key);
    if let Some(pos) = (0..limit / 80).map(|i| i * 80).find(|&p| bytes[p..p + 8] == k) {
        let v = format!("{value:>20}");
        bytes[pos + 10..pos + 30].copy_from_slice(&v.as_bytes()[..20]);
    }
}

#[test]
fn mutated_real_files_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cases = 0usize;
    let mut failures = Vec::new();
    let mut worst = (0usize, String::new());
    let mut run = |label: String, bytes: Vec<u8>, cases: &mut usize| {
        *cases += 1;
        let len = bytes.len();
        let (r, peak) = peak_during(ALLOC, || catch_unwind(AssertUnwindSafe(|| exercise(bytes))));
        if r.is_err() {
            failures.push(format!("{label}: panicked"));
        } else if peak > memory_bound(len) {
            failures.push(format!("{label}: allocated {peak} bytes for a {len}-byte source"));
        }
        if peak > worst.0 {
            worst = (peak, label);
        }
    };
    for path in fits_support::real_fits_files() {
        let orig = std::fs::read(&path).expect("read");
        let name = path.file_name().expect("name").to_string_lossy().to_string();
        assert!(exercise(orig.clone()), "{name}: the unmodified file must scan");
        // Truncation at, just before and just after every block boundary (first 60 blocks, then sampled).
        let blocks = orig.len() / 2880;
        for b in 0..=blocks {
            if b > 60 && b % 17 != 0 {
                continue;
            }
            for d in [-1i64, 0, 1, 80] {
                let cut = (b as i64 * 2880 + d).clamp(0, orig.len() as i64) as usize;
                run(format!("{name}: truncated at {cut}"), orig[..cut].to_vec(), &mut cases);
            }
        }
        // Random byte flips, mostly in headers (first blocks of each HDU are where structure lives).
        for i in 0..250 {
            let mut b = orig.clone();
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let pos = if i % 2 == 0 { rng.below(b.len().min(2880 * 3)) } else { rng.below(b.len()) };
                b[pos] = rng.next() as u8;
            }
            run(format!("{name}: {n} byte flips #{i}"), b, &mut cases);
        }
        // Garbage cards: random printable text, or a random key with a random value.
        for i in 0..150 {
            let mut b = orig.clone();
            let card = rng.below(36 * 3.min(b.len() / 2880));
            let text: Vec<u8> = if i % 2 == 0 {
                (0..80).map(|_| 32 + rng.below(95) as u8).collect()
            } else {
                let keys =
                    ["NAXIS", "NAXIS1", "NAXIS2", "BITPIX", "END", "PCOUNT", "GCOUNT", "XTENSION", "SIMPLE", "BZERO"];
                let vals = ["-1", "0", "T", "'IMAGE'", "1e400", "99999999999999999999", "''", "-32", "3.5", "="];
                format!("{:<8}= {:>20}", keys[rng.below(keys.len())], vals[rng.below(vals.len())])
                    .into_bytes()
                    .into_iter()
                    .chain(std::iter::repeat(b' '))
                    .take(80)
                    .collect()
            };
            b[card * 80..card * 80 + 80].copy_from_slice(&text);
            run(format!("{name}: garbage card {card} #{i}"), b, &mut cases);
        }
        // Absurd structural values.
        let absurd: &[(&[u8], &str)] = &[
            (b"NAXIS1", "999999999999"),
            (b"NAXIS2", "4611686018427387904"),
            (b"NAXIS1", "-5"),
            (b"NAXIS", "999"),
            (b"NAXIS", "3"),
            (b"NAXIS", "1"),
            (b"NAXIS", "-1"),
            (b"NAXIS", "0"),
            (b"BITPIX", "7"),
            (b"BITPIX", "-64"),
            (b"BITPIX", "64"),
            (b"BITPIX", "8"),
            (b"PCOUNT", "9223372036854775807"),
            (b"GCOUNT", "0"),
            (b"BZERO", "1e308"),
            (b"BZERO", "9223372036854775807"),
            (b"BSCALE", "0"),
            (b"BLANK", "-32768"),
        ];
        for (key, val) in absurd {
            for limit in [1, 200] {
                let mut b = orig.clone();
                set_value(&mut b, key, val, limit);
                run(format!("{name}: {} = {val} (blocks {limit})", String::from_utf8_lossy(key)), b, &mut cases);
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases} mutations failed:\n{}", failures.len(), failures.join("\n"));
    assert!(cases > 4000, "only {cases} cases");
    eprintln!("{cases} cases; the most memory: {} bytes ({})", worst.0, worst.1);
}

#[test]
fn tiny_and_empty_sources_are_errors() {
    for n in [0usize, 1, 79, 80, 2879, 2880, 5760] {
        let src = MemSource::new("tiny", vec![b' '; n]);
        assert!(scan_hdus(&src).is_err(), "{n} blanks");
    }
    // A valid primary card and nothing else: no END.
    let mut b = format!("{:<80}", "SIMPLE  =                    T").into_bytes();
    b.resize(2880 * 2, b' ');
    assert!(scan_hdus(&MemSource::new("noend", b)).is_err());
}
