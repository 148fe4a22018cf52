//! Synthetic inputs with known truth: an LSST-like exposure (empty primary, IMAGE/MASK/VARIANCE named by EXTTYPE,
//! NO_DATA mask bit from the HIERARCH MP_NO_DATA card, NaN blanks) against mocpy, and a FITS-tile HiPS whose
//! valid pixels are placed by the documented in-tile pixel order.

mod common;

use common::{assert_all_ok, bin, oracle};
use hips_core::fits::{empty_primary, image_hdu, Card, PixelData};
use moc_tools::{from_cells, from_fits_bytes, ranges, CoordSys};
use serde_json::json;

fn wcs_cards(w: usize, h: usize) -> Vec<Card> {
    hips_core::wcs::tan_cards((150.1, 2.2), (w as f64 / 2.0, h as f64 / 2.0), 0.2 / 3600.0)
}

#[test]
fn lsst_exposure_no_data_and_blanks_match_mocpy() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let (w, h) = (900usize, 700usize);
    let mut img = vec![1.0f32; w * h];
    let mut mask = vec![0i32; w * h];
    for y in 0..h {
        for x in 0..w {
            if x < 300 {
                mask[y * w + x] = (1 << 8) | 2; // NO_DATA (bit 8) plus another bit
            } else if x < 350 {
                mask[y * w + x] = 1 << 5; // DETECTED: not NO_DATA, stays valid
            }
            if y >= 600 {
                img[y * w + x] = f32::NAN;
            }
        }
    }
    let var = vec![1.0f32; w * h];
    let mut bytes = empty_primary(&[]);
    let mut ic = wcs_cards(w, h);
    ic.push(Card::str("EXTTYPE", "IMAGE", ""));
    bytes.extend(image_hdu(false, w, h, PixelData::F32(&img), &ic));
    let mut mc = wcs_cards(w, h);
    mc.push(Card::str("EXTTYPE", "MASK", ""));
    mc.push(Card::int("MP_NO_DATA", 8, ""));
    mc.push(Card::int("MP_DETECTED", 5, ""));
    bytes.extend(image_hdu(false, w, h, PixelData::I32(&mask), &mc));
    let mut vc = wcs_cards(w, h);
    vc.push(Card::str("EXTTYPE", "VARIANCE", ""));
    bytes.extend(image_hdu(false, w, h, PixelData::F32(&var), &vc));
    let f = d.join("exposure.fits");
    std::fs::write(&f, &bytes).expect("write");

    let exact = d.join("exact.fits");
    let poly = d.join("poly.fits");
    for (out, mode) in [(&exact, "exact"), (&poly, "polygon")] {
        let o = bin()
            .args(["from-images", f.to_str().expect("p"), "--order", "15", "--mode", mode, "-o"])
            .arg(out)
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (me, _) = from_fits_bytes(&std::fs::read(&exact).expect("r")).expect("read");
    let (mp, _) = from_fits_bytes(&std::fs::read(&poly).expect("r")).expect("read");
    // NO_DATA (a third of the image) and the NaN band are left out: well below the full outline
    assert!(moc_tools::area_deg2(&me) < 0.75 * moc_tools::area_deg2(&mp));
    assert!(ranges(&moc_tools::ops::difference(&me, &mp)).is_empty());
    let v = oracle(
        d,
        vec![json!({"kind": "image", "name": "LSST-like exposure", "image": f.to_str(), "order": 15,
            "frame": "equatorial", "ours": exact.to_str()})],
    );
    eprintln!("{v:?}");
    assert_all_ok(&v);
}

/// The in-tile NESTED index of FITS array element data[r][c] (hips-notes: iy = c, ix = W-1-r, ix on even bits).
fn nested_of(npix: u64, width: usize, r: usize, c: usize) -> u64 {
    let (ix, iy) = ((width - 1 - r) as u64, c as u64);
    let mut z = 0u64;
    for b in 0..16 {
        z |= ((ix >> b) & 1) << (2 * b);
        z |= ((iy >> b) & 1) << (2 * b + 1);
    }
    npix * (width * width) as u64 + z
}

#[test]
fn from_hips_fits_tiles_cell_per_valid_pixel() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let width = 16usize;
    std::fs::write(
        d.join("properties"),
        "creator_did = ivo://test/moc\nhips_order = 3\nhips_tile_width = 16\nhips_frame = galactic\n\
         hips_tile_format = fits png\n",
    )
    .expect("props");
    let mut want = Vec::new();
    for (npix, seed) in [(100u64, 3usize), (101, 7), (700, 11)] {
        let mut data = vec![f32::NAN; width * width];
        for (i, v) in data.iter_mut().enumerate() {
            let (r, c) = (i / width, i % width);
            if (r * 31 + c * 17 + seed) % 5 == 0 || (r < 3 && c > 10) {
                *v = (r + c) as f32;
                want.push(nested_of(npix, width, r, c));
            }
        }
        let tile = image_hdu(true, width, width, PixelData::F32(&data), &[Card::int("ORDER", 3, "")]);
        let dirp = d.join("Norder3/Dir0");
        std::fs::create_dir_all(&dirp).expect("mkdir");
        std::fs::write(dirp.join(format!("Npix{npix}.fits")), tile).expect("tile");
    }
    let out = d.join("moc.fits");
    let o = bin().arg("from-hips").arg(d).arg("-o").arg(&out).output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (m, sys) = from_fits_bytes(&std::fs::read(&out).expect("r")).expect("read");
    assert_eq!(sys, CoordSys::Galactic, "HiPS frame kept");
    assert_eq!(m.depth_max(), 7);
    assert_eq!(ranges(&m), ranges(&from_cells(7, want.clone())));
    // degraded on request
    let out5 = d.join("moc5.fits");
    let o = bin().arg("from-hips").arg(d).args(["--order", "5", "-o"]).arg(&out5).output().expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (m5, _) = from_fits_bytes(&std::fs::read(&out5).expect("r")).expect("read");
    assert_eq!(ranges(&m5), ranges(&from_cells(5, want.iter().map(|c| c >> 4))));
}
