//! The files that describe a finished pyramid: `properties`, `Moc.fits`, `Norder3/Allsky.fits`, written after every
//! tile exists (so a reader never sees metadata for tiles that are not there yet).

use std::collections::BTreeMap;

use hips_core::fits::{self, Card, PixelData};
use hips_core::healpix::{pixel_size_deg, width_log2, ALLSKY_COLUMNS, ALLSKY_ROWS};
use hips_core::storage::Store;
use hips_core::wcs::Frame;

use crate::properties::Properties;
use crate::stats::Stats;
use crate::Error;

/// Facts about the run that go into `properties`.
#[derive(Debug, Clone)]
pub struct Describe {
    /// creator_did (ivo://...).
    pub id: String,
    /// obs_title.
    pub title: String,
    /// Band name, if known.
    pub band: Option<String>,
    /// Deepest order.
    pub order: u8,
    /// Tile width.
    pub width: usize,
    /// HiPS frame.
    pub frame: Frame,
    /// Most common input BITPIX.
    pub data_bitpix: i32,
    /// Finest input pixel scale (degrees).
    pub input_scale_deg: f64,
    /// Number of input coadds used.
    pub n_inputs: usize,
    /// Initial view: (ra, dec, fov) degrees, ICRS.
    pub initial: (f64, f64, f64),
    /// Interpolation name for hips_sampling.
    pub sampling: &'static str,
    /// First creation date (kept across resumed runs).
    pub creation_date: String,
    /// Tile formats present.
    pub formats: Vec<String>,
    /// Whether HpxFinder was written.
    pub progenitors: bool,
    /// `hips_pixel_cut` as the previews were drawn (`None`: from the statistics).
    pub pixel_cut: Option<String>,
    /// Quality-plane options (recorded for on-demand tiles when not the defaults).
    pub planes: hips_core::coadd::PlaneOptions,
    /// The stretch and JPEG quality the previews were drawn with (`None`: no previews).
    pub preview: Option<(crate::preview::Stretch, u8)>,
    /// `--stored-order`: the deepest order written (below `order`).
    pub stored_order: Option<u8>,
}

/// Wavelength range (metres) and regime of well-known bands.
#[must_use]
pub fn band_em(band: &str) -> Option<(f64, f64, &'static str)> {
    let b = band.trim().to_ascii_lowercase();
    let b = b.trim_start_matches("hsc-").trim_start_matches("lsst-").trim_start_matches("sdss-");
    Some(match b {
        "u" => (3.2e-7, 4.0e-7, "Optical"),
        "g" => (4.0e-7, 5.52e-7, "Optical"),
        "r" => (5.52e-7, 6.91e-7, "Optical"),
        "i" => (6.91e-7, 8.18e-7, "Optical"),
        "z" => (8.18e-7, 9.22e-7, "Optical"),
        "y" => (9.3e-7, 1.07e-6, "Optical"),
        "j" => (1.11e-6, 1.36e-6, "Infrared"),
        "h" => (1.5e-6, 1.8e-6, "Infrared"),
        "k" | "ks" => (2.0e-6, 2.3e-6, "Infrared"),
        _ => return None,
    })
}

/// The current UTC time in HiPS date format (YYYY-mm-ddTHH:MMZ).
#[must_use]
pub fn now_hips_date() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%MZ").to_string()
}

fn fmt_g(v: f64) -> String {
    if v == 0.0 || (1e-3..1e7).contains(&v.abs()) {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.6E}")
    }
}

/// The display cut written as hips_pixel_cut, from the histogram of all the data: black two robust sigmas below the
/// median (sigma from the median minus the 15.87th percentile), but never below the 0.5th percentile, and white at the
/// 99.8th percentile, so a few bright stars do not flatten the picture. The sky of a survey coadd then shows dark
/// with its noise visible, and images that are not sky-dominated (nebulae) keep nearly their whole range.
#[must_use]
pub fn display_cut(stats: &Stats) -> Option<(f64, f64)> {
    let median = stats.quantile(0.5)?;
    let sigma = median - stats.quantile(0.1587)?;
    let lo = (median - 2.0 * sigma).max(stats.quantile(0.005)?);
    let hi = stats.quantile(0.998)?;
    Some(if hi > lo { (lo, hi) } else { (stats.min, stats.max.max(stats.min)) })
}

/// The `hips_pixel_cut` and `hips_data_range` values of statistics (`None` when there is no data).
#[must_use]
pub fn cut_texts(stats: &Stats) -> Option<(String, String)> {
    let (lo, hi) = display_cut(stats)?;
    Some((format!("{} {}", fmt_g(lo), fmt_g(hi)), format!("{} {}", fmt_g(stats.min), fmt_g(stats.max))))
}

/// Write `properties` from the run description and the statistics of every deepest tile.
///
/// # Errors
/// When the store fails.
pub fn write_properties(store: &Store, d: &Describe, stats: &Stats, sky_fraction: f64) -> Result<Properties, Error> {
    let mut p = Properties::new();
    p.set("creator_did", &d.id);
    p.set("obs_title", &d.title);
    p.set(
        "obs_description",
        format!(
            "HiPS of {} coadd image(s){} reprojected at their own resolution by hipsgen ({} sampling)",
            d.n_inputs,
            d.band.as_ref().map(|b| format!(" in band {b}")).unwrap_or_default(),
            d.sampling
        ),
    );
    p.set("dataproduct_type", "image");
    p.set("hips_version", "1.4");
    p.set("hips_builder", concat!("hipsgen ", env!("CARGO_PKG_VERSION")));
    p.set("hips_creation_date", &d.creation_date);
    p.set("hips_release_date", now_hips_date());
    p.set("hips_status", "public master clonableOnce");
    p.set("hips_frame", frame_name(d.frame));
    p.set("hips_order", d.order.to_string());
    p.set("hips_order_min", "0");
    p.set("hips_tile_width", d.width.to_string());
    p.set("hips_tile_format", d.formats.join(" "));
    p.set("hips_pixel_bitpix", "-32");
    p.set("data_pixel_bitpix", d.data_bitpix.to_string());
    if let Some((pixel_cut, data_range)) = cut_texts(stats) {
        p.set("hips_pixel_cut", d.pixel_cut.clone().unwrap_or(pixel_cut));
        p.set("hips_data_range", data_range);
    }
    if let Some((stretch, quality)) = d.preview {
        crate::preview::record_preview(&mut p, stretch, quality);
    }
    if let Some(m) = d.stored_order {
        p.set(hips_core::preview::STORED_ORDER_KEY, m.to_string());
    }
    p.set("hips_sampling", d.sampling);
    p.set("hips_overlay", "mean");
    p.set("hips_hierarchy", "mean");
    p.set("hips_initial_ra", fmt_g(d.initial.0));
    p.set("hips_initial_dec", fmt_g(d.initial.1));
    p.set("hips_initial_fov", fmt_g(d.initial.2));
    p.set("hips_pixel_scale", fmt_g(pixel_size_deg(d.order + width_log2(d.width))));
    p.set("s_pixel_scale", fmt_g(d.input_scale_deg));
    p.set("moc_sky_fraction", fmt_g(sky_fraction));
    p.set("hips_nb_tiles", stats.tiles.to_string());
    p.set("hips_estsize", stats.bytes.div_ceil(1024).to_string());
    p.set(
        "prov_progenitor",
        format!("{} coadd image(s){}", d.n_inputs, d.band.as_ref().map(|b| format!(", band {b}")).unwrap_or_default()),
    );
    if let Some((lo, hi, regime)) = d.band.as_deref().and_then(band_em) {
        p.set("em_min", format!("{lo:E}"));
        p.set("em_max", format!("{hi:E}"));
        p.set("obs_regime", regime);
    }
    d.planes.record(&mut p);
    store.put("properties", p.to_text())?;
    Ok(p)
}

/// The coverage of the deepest tiles' pixels as a MOC at the statistics' coverage order.
#[must_use]
pub fn coverage_moc(stats: &Stats) -> moc_tools::SMoc {
    let shift = 2 * u32::from(29 - stats.moc_order);
    let ranges: Vec<std::ops::Range<u64>> = stats.moc_ranges.iter().map(|&(a, b)| (a << shift)..(b << shift)).collect();
    moc_tools::from_ranges29(stats.moc_order, ranges)
}

/// The `hips_frame` value of a frame.
fn frame_name(frame: Frame) -> &'static str {
    match frame {
        Frame::Equatorial => "equatorial",
        Frame::Galactic => "galactic",
    }
}

fn coord_sys(frame: Frame) -> moc_tools::CoordSys {
    match frame {
        Frame::Equatorial => moc_tools::CoordSys::Icrs,
        Frame::Galactic => moc_tools::CoordSys::Galactic,
    }
}

/// Write `Moc.fits` (IVOA MOC 2.0) of the coverage; returns the sky fraction.
///
/// # Errors
/// When the MOC cannot be serialized or stored.
pub fn write_moc(store: &Store, moc: &moc_tools::SMoc, frame: Frame) -> Result<f64, Error> {
    let bytes = moc_tools::to_fits_bytes(moc, coord_sys(frame))
        .map_err(|source| Error::Moc { key: "Moc.fits".into(), source })?;
    store.put("Moc.fits", bytes)?;
    Ok(moc_tools::sky_fraction(moc))
}

/// Describe the progenitor index as CDS Hipsgen's INDEX does: `HpxFinder/Moc.fits` (the deepest tiles that hold
/// data, at the tile order: exactly the tiles with an index file) and `HpxFinder/properties`
/// (`dataproduct_type = meta`). Hipsgen's PNG/JPEG actions take their list of tiles from `HpxFinder/Moc.fits`;
/// without it they walk every cell of the sky at the HiPS order (hours at order 12).
///
/// # Errors
/// When the MOC cannot be serialized or an object cannot be stored.
pub fn write_hpxfinder_meta(store: &Store, d: &Describe, coverage: &moc_tools::SMoc) -> Result<(), Error> {
    let tiles = moc_tools::degrade(coverage, d.order);
    let bytes = moc_tools::to_fits_bytes(&tiles, coord_sys(d.frame))
        .map_err(|source| Error::Moc { key: "HpxFinder/Moc.fits".into(), source })?;
    store.put("HpxFinder/Moc.fits", bytes)?;
    let mut p = Properties::new();
    p.set("creator_did", format!("{}/meta", d.id));
    p.set("obs_title", format!("{}-meta", d.title));
    p.set("dataproduct_type", "meta");
    p.set("hips_frame", frame_name(d.frame));
    p.set("hips_order", d.order.to_string());
    p.set("hips_tile_width", d.width.to_string());
    p.set("hips_release_date", now_hips_date());
    p.set("hips_version", "1.4");
    p.set("hips_builder", concat!("hipsgen ", env!("CARGO_PKG_VERSION")));
    store.put("HpxFinder/properties", p.to_text())?;
    Ok(())
}

/// Assemble `Norder3/Allsky.fits` from order-3 tiles reduced to W/8 pixels: tile n at column n % 27 and displayed
/// row n / 27 from the top (block row 28 - n / 27 in file order), each block in FITS orientation.
#[must_use]
pub fn allsky_array(tiles: &BTreeMap<u64, Vec<f32>>, width: usize) -> (usize, usize, Vec<f32>) {
    let b = (width / 8).max(1);
    let (aw, ah) = (ALLSKY_COLUMNS * b, ALLSKY_ROWS * b);
    let mut out = vec![f32::NAN; aw * ah];
    for (&n, t) in tiles {
        let n = n as usize;
        let (col, brow) = (n % ALLSKY_COLUMNS, ALLSKY_ROWS - 1 - n / ALLSKY_COLUMNS);
        for r in 0..b {
            let dst = (brow * b + r) * aw + col * b;
            out[dst..dst + b].copy_from_slice(&t[r * b..(r + 1) * b]);
        }
    }
    (aw, ah, out)
}

/// Write `Norder3/Allsky.fits`.
///
/// # Errors
/// When the store fails.
pub fn write_allsky(store: &Store, tiles: &BTreeMap<u64, Vec<f32>>, width: usize) -> Result<(), Error> {
    let (aw, ah, data) = allsky_array(tiles, width);
    let cards = [
        Card::int("ORDER", 3, "HEALPix order of the tiles"),
        Card::str("ORIGIN", concat!("hipsgen ", env!("CARGO_PKG_VERSION")), ""),
    ];
    store.put("Norder3/Allsky.fits", fits::image_hdu(true, aw, ah, PixelData::F32(&data), &cards))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allsky_places_tiles_by_rule() {
        let w = 64; // blocks of 8
        let mut t = BTreeMap::new();
        t.insert(28u64, vec![1.0f32; 64]); // column 1, displayed row 1 -> file block row 27
        let (aw, ah, d) = allsky_array(&t, w);
        assert_eq!((aw, ah), (27 * 8, 29 * 8));
        assert_eq!(d[(27 * 8) * aw + 8], 1.0);
        assert!(d[(28 * 8) * aw + 8].is_nan());
    }

    #[test]
    fn bands() {
        assert_eq!(band_em("HSC-G").map(|b| b.2), Some("Optical"));
        assert_eq!(band_em("Ks").map(|b| b.2), Some("Infrared"));
        assert!(band_em("1.1mm").is_none());
    }
}
