//! Coverage of a HiPS from its tiles (`moc-tools from-hips`): every non-blank pixel of every tile at the
//! deepest order K gives one cell at order K + log2(tile width), optionally degraded to a coarser order.
//!
//! FITS tiles are preferred (blank = NaN or BLANK); a PNG-only HiPS uses the alpha channel (alpha 0 = blank);
//! a JPEG-only HiPS has no transparency, so each tile counts whole. Tiles are found by listing `NorderK/`;
//! when the store cannot list (plain HTTP), the tiles named by the HiPS's own `Moc.fits` at order K are fetched.

use crate::{from_cells_vec, CoordSys, MocError, SMoc};
use hips_core::healpix::{fits_pixel_hash, interleave};
use hips_core::layout::{self, decode_fits_tile, parse_tile_key, tile_key, Properties};
use hips_core::storage::{is_url, Store};
use rayon::prelude::*;

/// The `properties` of a HiPS that matter here.
#[derive(Debug, Clone)]
pub struct HipsProps {
    /// hips_order.
    pub order: u8,
    /// hips_tile_width (512 when absent).
    pub tile_width: usize,
    /// hips_frame.
    pub frame: CoordSys,
    /// hips_tile_format, lower case words.
    pub formats: Vec<String>,
    /// All key/value pairs, in file order.
    pub all: Properties,
}

fn herr(location: &str, msg: impl std::fmt::Display) -> MocError {
    MocError::Hips { location: location.to_string(), msg: msg.to_string() }
}

/// Parse a `properties` file ([`hips_core::layout::Properties`]) and check the values this crate needs.
///
/// # Errors
/// When `hips_order`, `hips_tile_width` or `hips_frame` is missing or not allowed, naming the key.
pub fn parse_properties(location: &str, text: &str) -> Result<HipsProps, MocError> {
    let all = Properties::parse(text);
    let order = all.order().map_err(|e| herr(location, e))?;
    let tile_width = all.tile_width().map_err(|e| herr(location, e))?;
    let frame_s = all.frame_name();
    let frame = CoordSys::parse(frame_s).ok_or_else(|| {
        herr(location, format!("properties: hips_frame = {frame_s}: only equatorial and galactic are supported"))
    })?;
    let formats = all.formats();
    let w = tile_width.trailing_zeros() as u8;
    if order + w > crate::MAX_ORDER {
        return Err(herr(location, format!("hips_order {order} + log2(width) {w} is beyond order 29")));
    }
    Ok(HipsProps { order, tile_width, frame, formats, all })
}

/// Read the properties of the HiPS at `location` (directory or URL).
///
/// # Errors
/// When there is no `properties` object, it cannot be read, or [`parse_properties`] refuses it.
pub fn read_properties(store: &Store, location: &str) -> Result<HipsProps, MocError> {
    let bytes = store
        .get(layout::PROPERTIES)
        .map_err(|e| herr(location, e))?
        .ok_or_else(|| herr(location, "no 'properties' file: not a HiPS"))?;
    parse_properties(location, &String::from_utf8_lossy(&bytes))
}

/// MOC of the HiPS's valid pixels, at `order` (default: the pixel order K + log2(width)), in the HiPS's frame.
///
/// # Errors
/// When the location is not a HiPS, has no usable tile format or tiles, or a tile cannot be read.
pub fn from_hips(location: &str, order: Option<u8>) -> Result<(SMoc, CoordSys), MocError> {
    if !is_url(location) && !std::path::Path::new(location.trim_start_matches("file://")).is_dir() {
        return Err(herr(location, "no such directory"));
    }
    let store = Store::open(location).map_err(|e| herr(location, e))?;
    let p = read_properties(&store, location)?;
    let w = p.tile_width.trailing_zeros() as u8;
    let pix_order = p.order + w;
    let out_order = order.unwrap_or(pix_order);
    crate::check_order(out_order)?;
    let ext = ["fits", "png", "jpeg", "jpg", "webp"]
        .into_iter()
        .find(|f| p.formats.iter().any(|x| x == f))
        .ok_or_else(|| herr(location, format!("hips_tile_format {:?} has no supported format", p.formats)))?;
    let ext = if ext == "jpeg" { "jpg" } else { ext };
    if ext == "webp" {
        return Err(herr(location, "WebP-only HiPS are not supported; add FITS or PNG tiles"));
    }
    let tiles = list_tiles(&store, location, p.order, ext)?;
    if tiles.is_empty() {
        return Err(herr(location, format!("no Norder{}/ tiles with extension .{ext} found", p.order)));
    }
    // cells at min(out_order, pix_order); finer output orders only refine the same coverage
    let cell_order = out_order.min(pix_order);
    let sh = 2 * u32::from(pix_order - cell_order);
    let per_tile: Vec<Vec<u64>> = tiles
        .par_iter()
        .map(|&npix| -> Result<Vec<u64>, MocError> {
            let key = tile_key(p.order, npix, ext);
            let Some(bytes) = store.get(&key).map_err(|e| herr(location, e))? else {
                return Ok(Vec::new());
            };
            let mut v = tile_cells(location, &key, &bytes, npix, p.tile_width, ext)?;
            if sh > 0 {
                for c in &mut v {
                    *c >>= sh;
                }
            }
            v.sort_unstable();
            v.dedup();
            Ok(v)
        })
        .collect::<Result<_, _>>()?;
    let mut all: Vec<u64> = per_tile.into_iter().flatten().collect();
    let moc = from_cells_vec(cell_order, &mut all);
    Ok((crate::with_depth_max(&moc, out_order), p.frame))
}

fn list_tiles(store: &Store, location: &str, order: u8, ext: &str) -> Result<Vec<u64>, MocError> {
    let suffix = format!(".{ext}");
    if let Ok(keys) = store.list(&format!("Norder{order}/")) {
        let v: Vec<u64> = keys
            .iter()
            .filter(|k| k.ends_with(&suffix))
            .filter_map(|k| parse_tile_key(k))
            .filter(|(o, _, _)| *o == order)
            .map(|(_, n, _)| n)
            .collect();
        if !v.is_empty() {
            return Ok(v);
        }
    }
    // no listing: use the HiPS's own MOC to name candidate tiles
    match store.get(layout::MOC).map_err(|e| herr(location, e))? {
        Some(b) => {
            let (m, _) = crate::from_fits_bytes(&b).map_err(|e| herr(location, format!("Moc.fits: {e}")))?;
            Ok(crate::cells_at_order(&m, order))
        }
        None => Err(herr(location, format!("cannot list Norder{order}/ and there is no Moc.fits to name the tiles"))),
    }
}

/// Cells at order K + log2(width) of the valid pixels of one tile.
///
/// # Errors
/// When a FITS or PNG tile cannot be decoded or is not `width` x `width`.
pub fn tile_cells(
    location: &str,
    key: &str,
    bytes: &[u8],
    npix: u64,
    width: usize,
    ext: &str,
) -> Result<Vec<u64>, MocError> {
    let w2 = (width * width) as u64;
    let mut out = Vec::new();
    match ext {
        "fits" => {
            let data = decode_fits_tile(key, bytes.to_vec(), width).map_err(|e| herr(location, e))?;
            for (i, v) in data.iter().enumerate() {
                if !v.is_nan() {
                    out.push(fits_pixel_hash(npix, width, i / width, i % width));
                }
            }
        }
        "png" => {
            let im = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
                .map_err(|e| herr(location, format!("{key}: {e}")))?
                .to_rgba8();
            if im.width() as usize != width || im.height() as usize != width {
                return Err(herr(location, format!("{key}: tile is not {width}x{width}")));
            }
            for (c, p, px) in im.enumerate_pixels() {
                if px.0[3] > 0 {
                    out.push(npix * w2 + interleave(p, c));
                }
            }
        }
        _ => out.extend((npix * w2)..((npix + 1) * w2)),
    }
    Ok(out)
}
