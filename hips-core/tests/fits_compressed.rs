//! Tile-compressed images against astropy: astropy's `CompImageHDU` writes RICE_1, GZIP_1, GZIP_2, PLIO_1,
//! HCOMPRESS_1 (lossless, lossy, smoothed) and NOCOMPRESS copies of the shared real images, lossless and quantized
//! with NO_DITHER, SUBTRACTIVE_DITHER_1 and _2, row tiles and 2-D tiles; our decoded pixels must equal astropy's decompressed data
//! exactly (bit for bit, NaN for NaN), whole and in sub-regions that cut tiles.

mod fits_support;

use fits_support::{data_dir, run_python};
use hips_core::fits::{self, read::read_region_raw_into, FileSource};

const WRITER: &str = include_str!("fits_support/write_compressed.py");

struct Case {
    name: String,
    dtype: String,
    width: usize,
    height: usize,
}

fn cases(dir: &std::path::Path) -> Vec<Case> {
    let out = run_python(WRITER, &[data_dir().to_str().expect("utf8"), dir.to_str().expect("utf8")]);
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Case {
                name: f[0].into(),
                dtype: f[1].into(),
                width: f[2].parse().expect("w"),
                height: f[3].parse().expect("h"),
            }
        })
        .collect()
}

/// Equal as values of `dtype` (floats: bit for bit, every NaN equal to every NaN).
fn same(dtype: &str, a: &[u8], b: &[u8]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} bytes against {}", a.len(), b.len()));
    }
    let n = dtype[2..].parse::<usize>().expect("size");
    for (i, (x, y)) in a.chunks_exact(n).zip(b.chunks_exact(n)).enumerate() {
        let eq = match (dtype.as_bytes()[1], n) {
            (b'f', 4) => {
                let (x, y) =
                    (f32::from_be_bytes(x.try_into().expect("4")), f32::from_be_bytes(y.try_into().expect("4")));
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            (b'f', _) => {
                let (x, y) =
                    (f64::from_be_bytes(x.try_into().expect("8")), f64::from_be_bytes(y.try_into().expect("8")));
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            _ => x == y,
        };
        if !eq {
            return Err(format!("value {i} differs: {x:?} against {y:?}"));
        }
    }
    Ok(())
}

#[test]
fn compressed_images_decode_to_astropys_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = cases(tmp.path());
    assert!(cases.len() >= 23, "the writer made {} cases", cases.len());
    let mut checked = 0;
    for c in &cases {
        let path = tmp.path().join(format!("{}.fits", c.name));
        let src = FileSource::open(path.to_str().expect("utf8")).expect("open");
        let hdus = fits::scan_hdus(&src).expect("scan");
        let hdu = &hdus[1];
        assert!(hdu.compressed.is_some() && hdu.is_image(), "{}: HDU 1 is a compressed image", c.name);
        assert_eq!(hdu.dims(), Some((c.width, c.height)), "{}", c.name);
        let want = std::fs::read(tmp.path().join(format!("{}.ref", c.name))).expect("ref");
        let mut got = Vec::new();
        read_region_raw_into(&src, hdu, (0, 0, c.width, c.height), &mut got)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        same(&c.dtype, &got, &want).unwrap_or_else(|e| panic!("{}: whole image: {e}", c.name));
        // Sub-regions cutting tiles: compare with the same rows and columns of astropy's array.
        let bpp = c.dtype[2..].parse::<usize>().expect("size");
        for (x0, y0, w, h) in [(0, 0, 1, 1), (37, 45, 101, 77), (c.width - 60, c.height - 33, 60, 33), (5, 200, 300, 1)]
        {
            read_region_raw_into(&src, hdu, (x0, y0, w, h), &mut got).expect("region");
            let mut sub = Vec::new();
            for y in y0..y0 + h {
                sub.extend_from_slice(&want[(y * c.width + x0) * bpp..(y * c.width + x0 + w) * bpp]);
            }
            same(&c.dtype, &got, &sub).unwrap_or_else(|e| panic!("{}: region {x0},{y0} {w}x{h}: {e}", c.name));
        }
        // The f32 read every tool uses agrees too (BSCALE/BZERO applied as for a plain image).
        let img = fits::read_region_f32(&src, hdu, 10, 10, 50, 50).expect("f32 region");
        assert_eq!(img.data.len(), 2500);
        checked += 1;
    }
    assert!(checked == cases.len(), "{checked} cases checked");
}
