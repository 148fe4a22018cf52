//! Building the color HiPS: band compatibility, the tile loop (rayon), Allsky, Moc.fits, properties, index.html.

use hips_core::storage::Store;
use rayon::prelude::*;

use super::mapping::{rgba_pixels, ColorMapper, ColorMethod};
use super::ColorError;
use crate::preview::encode::{image_bytes, Channels};
use crate::preview::step::{decode_fits, list_fits_tiles, preview_targets, Tally};
use crate::preview::{cut_from_properties, tile_format_value, PreviewFormat};
use crate::properties::Properties;

/// One input band HiPS with what the color step needs from its properties.
#[derive(Debug, Clone)]
pub struct BandHips {
    /// red, green or blue.
    pub band: &'static str,
    /// Where it is.
    pub store: Store,
    /// Its properties.
    pub props: Properties,
    /// hips_order.
    pub order: u8,
    /// hips_order_min (0 when absent).
    pub order_min: u8,
    /// hips_tile_width.
    pub width: usize,
    /// hips_frame (lowercase).
    pub frame: String,
    /// hips_pixel_cut (or hips_data_range).
    pub cut: Option<(f32, f32)>,
}

impl BandHips {
    /// Open a band HiPS and read its properties.
    ///
    /// # Errors
    /// When the location cannot be opened or properties is missing or lacks hips_order / hips_tile_width.
    pub fn open(band: &'static str, location: &str) -> Result<BandHips, ColorError> {
        let store = Store::open(location)?;
        let err = |message: String| ColorError::Band { band, location: location.to_string(), message };
        let bytes = store.get("properties")?.ok_or_else(|| err("no properties file".into()))?;
        let props = Properties::parse(&String::from_utf8_lossy(&bytes));
        let num = |k: &str| props.get(k).and_then(|v| v.trim().parse::<usize>().ok());
        let order =
            num("hips_order").filter(|&o| o <= 29).ok_or_else(|| err("hips_order missing or invalid".into()))?;
        let width = num("hips_tile_width")
            .filter(|w| w.is_power_of_two())
            .ok_or_else(|| err("hips_tile_width missing or not a power of two".into()))?;
        let formats = props.get("hips_tile_format").unwrap_or("fits").to_ascii_lowercase();
        if !formats.split_whitespace().any(|f| f == "fits") {
            return Err(err(format!("hips_tile_format is {formats:?}: the color step needs FITS tiles")));
        }
        Ok(BandHips {
            band,
            order: order as u8,
            order_min: num("hips_order_min").unwrap_or(0).min(order) as u8,
            width,
            frame: props.get("hips_frame").unwrap_or("equatorial").trim().to_ascii_lowercase(),
            cut: cut_from_properties(&props),
            props,
            store,
        })
    }

    /// The location string.
    #[must_use]
    pub fn location(&self) -> &str {
        self.store.location()
    }
}

/// Check that three bands share order, frame and tile width.
///
/// # Errors
/// [`ColorError::Incompatible`] listing each band's value of the first property that differs.
pub fn check_compatible(bands: &[BandHips; 3]) -> Result<(), ColorError> {
    let list = |f: &dyn Fn(&BandHips) -> String| {
        bands.iter().map(|b| format!("{} {} = {}", b.band, b.location(), f(b))).collect::<Vec<_>>().join(", ")
    };
    if bands.iter().any(|b| b.order != bands[0].order) {
        return Err(ColorError::Incompatible(format!("hips_order differs: {}", list(&|b| b.order.to_string()))));
    }
    if bands.iter().any(|b| b.frame != bands[0].frame) {
        return Err(ColorError::Incompatible(format!("hips_frame differs: {}", list(&|b| b.frame.clone()))));
    }
    if bands.iter().any(|b| b.width != bands[0].width) {
        return Err(ColorError::Incompatible(format!("hips_tile_width differs: {}", list(&|b| b.width.to_string()))));
    }
    Ok(())
}

/// Output options of the color step.
#[derive(Debug, Clone)]
pub struct ColorOptions {
    /// Tile formats to write (png, jpeg).
    pub formats: Vec<PreviewFormat>,
    /// JPEG quality.
    pub jpeg_quality: u8,
    /// creator_did (default derived from the bands').
    pub id: Option<String>,
    /// obs_title (default from the bands').
    pub title: Option<String>,
    /// Skip tiles whose outputs exist.
    pub resume: bool,
    /// Aladin Lite script URL for index.html.
    pub aladin_url: String,
}

/// What a color run did.
#[derive(Debug, Clone, Default)]
pub struct ColorReport {
    /// Tile positions (all orders).
    pub tiles: usize,
    /// Images written (tiles and Allsky).
    pub written: usize,
    /// Tiles skipped by resume.
    pub skipped: usize,
    /// Failures, with reasons.
    pub failures: Vec<String>,
    /// Wall time.
    pub elapsed: std::time::Duration,
}

/// Read one band's FITS object as f32, `None` when absent; checks the size.
fn band_image(
    b: &BandHips,
    key: &str,
    size: Option<(usize, usize)>,
) -> Result<Option<(usize, usize, Vec<f32>)>, ColorError> {
    let Some(bytes) = b.store.get(key)? else {
        return Ok(None);
    };
    let name = format!("{}/{key}", b.location());
    let (w, h, data) =
        decode_fits(&name, bytes).map_err(|e| ColorError::Tile { key: name.clone(), message: e.to_string() })?;
    if let Some((ew, eh)) = size {
        if (w, h) != (ew, eh) {
            return Err(ColorError::Tile { key: name, message: format!("{w} x {h} pixels, expected {ew} x {eh}") });
        }
    }
    Ok(Some((w, h, data)))
}

/// Compute and write one color image from the three bands' FITS objects at `key` (`.fits`); returns images written.
fn color_one(
    bands: &[BandHips; 3],
    out: &Store,
    key: &str,
    size: Option<(usize, usize)>,
    mapper: &ColorMapper,
    opts: &ColorOptions,
) -> Result<(usize, bool), ColorError> {
    let Some(targets) = preview_targets(out, key, &opts.formats, opts.resume)? else {
        return Ok((0, true));
    };
    let mut imgs = [None, None, None];
    let mut dims = size;
    for (i, b) in bands.iter().enumerate() {
        imgs[i] = band_image(b, key, dims)?;
        if let Some((w, h, _)) = &imgs[i] {
            dims = Some((*w, *h));
        }
    }
    let Some((w, h)) = dims else {
        return Ok((0, false));
    };
    let slices = [0, 1, 2].map(|i| imgs[i].as_ref().map(|(_, _, d)| d.as_slice()));
    let rgba = rgba_pixels(slices, w, h, mapper);
    for (f, k) in &targets {
        let bytes = image_bytes(*f, &rgba, w, h, Channels::Rgba, opts.jpeg_quality)
            .map_err(|e| ColorError::Tile { key: k.clone(), message: e.to_string() })?;
        out.put(k, bytes)?;
    }
    Ok((targets.len(), false))
}

/// Union of the bands' coverage: each band's Moc.fits, or (when absent) its tiles at its deepest order.
fn union_moc(bands: &[BandHips; 3], deepest: &[u64]) -> Result<moc_tools::SMoc, ColorError> {
    let mut mocs = Vec::with_capacity(3);
    for b in bands {
        let moc_err = |message: String| ColorError::Moc { location: b.location().to_string(), message };
        if let Some(bytes) = b.store.get("Moc.fits")? {
            mocs.push(moc_tools::from_fits_bytes(&bytes).map_err(|e| moc_err(e.to_string()))?.0);
        } else {
            tracing::warn!("{}: no Moc.fits, using its order-{} tiles as coverage", b.location(), b.order);
            mocs.push(moc_tools::from_cells(b.order, deepest.iter().copied()));
        }
    }
    Ok(moc_tools::ops::union_many(&mocs))
}

/// A creator_did for the color HiPS from the bands': the common `ivo://.../` prefix, then `color-` and the three
/// differing tails joined by `-` (e.g. `ivo://org/P/survey/color-k-h-j`).
#[must_use]
pub fn derive_id(dids: [&str; 3]) -> String {
    let (a, b, c) = (dids[0].as_bytes(), dids[1].as_bytes(), dids[2].as_bytes());
    let mut common = 0;
    while common < a.len() && common < b.len() && common < c.len() && a[common] == b[common] && a[common] == c[common] {
        common += 1;
    }
    while !dids[0].is_char_boundary(common) {
        common -= 1;
    }
    let prefix = dids[0].get(..common).unwrap_or("");
    let prefix = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
    let tails: Vec<String> = dids
        .iter()
        .map(|d| {
            d.get(prefix.len()..)
                .unwrap_or("")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect()
        })
        .collect();
    if prefix.starts_with("ivo://") && prefix.len() > "ivo://".len() {
        format!("{prefix}color-{}", tails.join("-"))
    } else {
        format!("ivo://hipsgen/P/color-{}", tails.join("-"))
    }
}

/// Build the color HiPS in `out` from three compatible bands.
///
/// # Errors
/// When the bands are incompatible, listing or the final writes (Moc.fits, properties, index.html) fail; per-tile
/// failures are in the report.
pub fn build_color(
    bands: &[BandHips; 3],
    out: &Store,
    mapper: &ColorMapper,
    opts: &ColorOptions,
) -> Result<ColorReport, ColorError> {
    let t0 = std::time::Instant::now();
    check_compatible(bands)?;
    if opts.formats.is_empty() {
        return Err(ColorError::Usage("no output format".into()));
    }
    let (order, width) = (bands[0].order, bands[0].width);
    let order_min = bands.iter().map(|b| b.order_min).min().unwrap_or(0);
    let mut keys: Vec<String> = Vec::new();
    let mut deepest: Vec<u64> = Vec::new();
    for b in bands {
        for k in list_fits_tiles(&b.store, order_min, order)
            .map_err(|e| ColorError::Tile { key: format!("{}/Norder*", b.location()), message: e.to_string() })?
        {
            keys.push(k);
        }
    }
    keys.sort();
    keys.dedup();
    for k in &keys {
        if let Some((o, n, _)) = hips_core::healpix::parse_tile_key(k) {
            if o == order {
                deepest.push(n);
            }
        }
    }
    let tally = Tally::default();
    keys.par_iter().for_each(|k| tally.record(color_one(bands, out, k, Some((width, width)), mapper, opts)));
    tally.record(color_one(bands, out, "Norder3/Allsky.fits", None, mapper, opts));
    let (written, skipped, failures) = tally.finish();

    let frame = moc_tools::CoordSys::parse(&bands[0].frame).unwrap_or(moc_tools::CoordSys::Icrs);
    let moc = union_moc(bands, &deepest)?;
    let moc_bytes = moc_tools::to_fits_bytes(&moc, frame)
        .map_err(|e| ColorError::Moc { location: out.location().to_string(), message: e.to_string() })?;
    out.put("Moc.fits", moc_bytes)?;

    let props = color_properties(bands, mapper, opts, keys.len(), moc_tools::sky_fraction(&moc), order_min);
    out.put("properties", props.to_text())?;
    crate::html::write_index_html(out, &props, &opts.aladin_url).map_err(ColorError::Store)?;
    Ok(ColorReport { tiles: keys.len(), written, skipped, failures, elapsed: t0.elapsed() })
}

/// The properties of the color HiPS.
fn color_properties(
    bands: &[BandHips; 3],
    mapper: &ColorMapper,
    opts: &ColorOptions,
    n_tiles: usize,
    sky_fraction: f64,
    order_min: u8,
) -> Properties {
    let red = &bands[0].props;
    let did = |b: &BandHips| b.props.get("creator_did").unwrap_or(b.location()).to_string();
    let dids = [did(&bands[0]), did(&bands[1]), did(&bands[2])];
    let title = |b: &BandHips| b.props.get("obs_title").unwrap_or(b.band).to_string();
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%MZ").to_string();
    let mut p = Properties::new();
    p.set("creator_did", opts.id.clone().unwrap_or_else(|| derive_id([&dids[0], &dids[1], &dids[2]])));
    p.set(
        "obs_title",
        opts.title.clone().unwrap_or_else(|| {
            format!("Color composite R={} G={} B={}", title(&bands[0]), title(&bands[1]), title(&bands[2]))
        }),
    );
    let pr = mapper.params();
    let method = match pr.method {
        ColorMethod::Lupton => format!(
            "Lupton et al. (2004) asinh color, Q={} stretch={} minimum={:?} scale={:?}",
            pr.q, pr.stretch, pr.minimum, pr.scale
        ),
        ColorMethod::Linear => format!("linear per-band cuts, minimum={:?} maximum={:?}", pr.minimum, pr.maximum),
    };
    p.set("obs_description", format!("Color composite of three band HiPS ({method})"));
    p.set("dataproduct_type", "image");
    p.set("dataproduct_subtype", "color");
    p.set("hips_version", "1.4");
    p.set("hips_release_date", now.clone());
    p.set("hips_creation_date", now);
    p.set("hips_status", "public master clonableOnce");
    p.set("hips_tile_format", tile_format_value(&opts.formats, false));
    p.set("hips_order", bands[0].order.to_string());
    p.set("hips_order_min", order_min.to_string());
    p.set("hips_tile_width", bands[0].width.to_string());
    p.set("hips_frame", red.get("hips_frame").unwrap_or("equatorial"));
    for k in
        ["hips_initial_ra", "hips_initial_dec", "hips_initial_fov", "hips_pixel_scale", "s_pixel_scale", "obs_regime"]
    {
        if let Some(v) = red.get(k) {
            p.set(k, v);
        }
    }
    let ems: Vec<f64> = bands
        .iter()
        .flat_map(|b| ["em_min", "em_max"].map(|k| b.props.get(k).and_then(|v| v.trim().parse::<f64>().ok())))
        .flatten()
        .collect();
    if !ems.is_empty() {
        p.set("em_min", format!("{}", ems.iter().copied().fold(f64::INFINITY, f64::min)));
        p.set("em_max", format!("{}", ems.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
    }
    p.set(
        "prov_progenitor",
        format!(
            "red: {} ({}); green: {} ({}); blue: {} ({})",
            dids[0],
            bands[0].location(),
            dids[1],
            bands[1].location(),
            dids[2],
            bands[2].location()
        ),
    );
    for b in bands {
        p.set(&format!("hips_rgb_{}", b.band), format!("{} {}", dids[b_index(b.band)], b.location()));
    }
    // How the tiles were drawn, so that hipsserve draws the same tiles on demand from the bands' FITS tiles.
    for (k, v) in mapper.params().to_properties() {
        p.set(k, v);
    }
    p.set(hips_core::preview::JPEG_QUALITY_KEY, opts.jpeg_quality.to_string());
    if let Some(m) =
        bands.iter().filter_map(|b| b.props.get(hips_core::preview::STORED_ORDER_KEY)?.trim().parse::<u8>().ok()).min()
    {
        p.set(hips_core::preview::STORED_ORDER_KEY, m.to_string());
    }
    p.set("hips_builder", format!("hipsgen {}", env!("CARGO_PKG_VERSION")));
    p.set("moc_sky_fraction", format!("{sky_fraction:.6e}"));
    p.set("hips_nb_tiles", n_tiles.to_string());
    p
}

fn b_index(band: &str) -> usize {
    match band {
        "red" => 0,
        "green" => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(
            derive_id(["ivo://org/P/2mass/k", "ivo://org/P/2mass/h", "ivo://org/P/2mass/j"]),
            "ivo://org/P/2mass/color-k-h-j"
        );
        assert_eq!(derive_id(["a", "b", "c"]), "ivo://hipsgen/P/color-a-b-c");
    }
}
