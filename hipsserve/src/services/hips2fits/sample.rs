//! The pixels of a hips2fits image: every output pixel's sky position (through the requested WCS) is sampled
//! bilinearly in each source coadd that the HiPS's progenitor index names around the field (the mean where several
//! overlap, NaN where none has data), then encoded as FITS (with the WCS) or as a grey PNG/JPEG through a cut and a
//! stretch.

use std::collections::BTreeSet;

use hips_core::coadd::Coadd;
use hips_core::error_chain;
use hips_core::fits::{image_hdu, Card, Header, PixelData};
use hips_core::layout::ProgenitorRecord;
use hips_core::preview::encode::{image_bytes, Channels};
use hips_core::preview::{grey_pixels, try_encode_preview, LevelMap, PreviewFormat, PreviewSpec};

use super::cmap::Cmap;
use hips_core::wcs::{Frame, Wcs};

use super::params::{Cut, Format, Params};
use super::{busy, Failure};
use crate::catalog::layout::HipsFile;
use crate::catalog::Hips;
use crate::services::ondemand::{bounded, open_coadd, under_roots, Unfinished};
use crate::state::State;

/// The most source coadds one image is sampled from.
pub(super) const MAX_COADDS: usize = 64;
/// The most progenitor index files (tiles at `hips_order`) one image looks up.
const MAX_CELLS: usize = 4096;

pub(super) fn render_failure(description: String) -> Failure {
    Failure { status: 502, title: "Rendering failed".into(), description }
}

/// The output WCS: the request's cards with the image axes, parsed as a header.
fn output_wcs(p: &Params) -> Result<Wcs, Failure> {
    let mut cards = vec![
        Card::logical("SIMPLE", true, ""),
        Card::int("BITPIX", -32, ""),
        Card::int("NAXIS", 2, ""),
        Card::int("NAXIS1", p.width as i64, ""),
        Card::int("NAXIS2", p.height as i64, ""),
    ];
    cards.extend(p.cards.iter().cloned());
    let mut bytes: Vec<u8> = cards.iter().flat_map(Card::to_bytes).collect();
    bytes.extend_from_slice(format!("{:<80}", "END").as_bytes());
    let (header, _) = Header::parse(&bytes).ok_or_else(|| Failure::bad("wcs", "header cards do not parse"))?;
    Wcs::from_header(&header).map_err(|e| Failure::bad("wcs", error_chain(&e)))
}

/// Each output pixel's position (radians, HiPS frame; FITS order, row 0 first), and the tiles at `order` they fall in.
fn positions(
    wcs: &Wcs,
    width: usize,
    height: usize,
    frame: Frame,
    order: u8,
) -> (Vec<Option<(f64, f64)>>, BTreeSet<u64>) {
    let mut cells = BTreeSet::new();
    let mut sky = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let s = wcs.pix_to_sky_rad(x as f64, y as f64, frame);
            if let Some((lon, lat)) = s {
                if cells.len() <= MAX_CELLS {
                    cells.insert(cdshealpix::nested::hash(order, lon, lat));
                }
            }
            sky.push(s);
        }
    }
    (sky, cells)
}

/// Bilinear sample of every position in one coadd, added to `sum`/`count` where all four neighbours are valid.
fn sample_coadd(
    c: &Coadd,
    sky: &[Option<(f64, f64)>],
    frame: Frame,
    sum: &mut [f64],
    count: &mut [u32],
) -> Result<(), Failure> {
    let (w, h) = (c.width as f64, c.height as f64);
    let pix: Vec<Option<(f64, f64)>> = sky
        .iter()
        .map(|s| {
            let (lon, lat) = (*s)?;
            let (x, y) = c.wcs.sky_to_pix_rad(lon, lat, frame)?;
            (x >= 0.0 && y >= 0.0 && x <= w - 1.0 && y <= h - 1.0).then_some((x, y))
        })
        .collect();
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for (x, y) in pix.iter().flatten() {
        x0 = x0.min(x.floor() as i64);
        y0 = y0.min(y.floor() as i64);
        x1 = x1.max(x.floor() as i64 + 1);
        y1 = y1.max(y.floor() as i64 + 1);
    }
    if x0 > x1 {
        return Ok(());
    }
    let region = c.read_region_image(x0, y0, x1 + 1, y1 + 1).map_err(|e| render_failure(error_chain(&e)))?;
    let Some(r) = region else { return Ok(()) };
    let at = |x: usize, y: usize| -> f32 {
        if x < r.x0 || y < r.y0 || x - r.x0 >= r.width || y - r.y0 >= r.height {
            return f32::NAN;
        }
        r.image[(y - r.y0) * r.width + (x - r.x0)]
    };
    for (i, p) in pix.iter().enumerate() {
        let Some((x, y)) = *p else { continue };
        let (fx0, fy0) = (x.floor().min(w - 2.0).max(0.0), y.floor().min(h - 2.0).max(0.0));
        let (dx, dy) = (x - fx0, y - fy0);
        let (ix, iy) = (fx0 as usize, fy0 as usize);
        let v = [at(ix, iy), at(ix + 1, iy), at(ix, iy + 1), at(ix + 1, iy + 1)];
        if v.iter().any(|v| v.is_nan()) {
            continue;
        }
        let top = f64::from(v[0]) * (1.0 - dx) + f64::from(v[1]) * dx;
        let bottom = f64::from(v[2]) * (1.0 - dx) + f64::from(v[3]) * dx;
        sum[i] += top * (1.0 - dy) + bottom * dy;
        count[i] += 1;
    }
    Ok(())
}

fn percentile(data: &[f32], q: f64) -> Option<f64> {
    let mut v: Vec<f32> = data.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let i = ((v.len() - 1) as f64 * q / 100.0).round() as usize;
    Some(f64::from(*v.select_nth_unstable_by(i, f32::total_cmp).1))
}

fn unfinished(state: &State, e: Unfinished) -> Failure {
    match e {
        Unfinished::Busy => busy(state),
        Unfinished::Failed(m) => render_failure(m),
    }
}

/// Make the image a request asks for: `(bytes, content type)`. Pixels finer than the deepest order of a HiPS that
/// renders come from its coadds; otherwise from its tiles at the order whose pixels are just finer than the output's
/// ([`super::tiles`]).
///
/// # Errors
/// A [`Failure`]: bad WCS (400), a color HiPS (400), a field needing too many coadds or tiles (400), a coadd or
/// tile that cannot be read (502), busy (503).
pub(super) async fn image(state: &State, h: &Hips, p: &Params) -> Result<(Vec<u8>, &'static str), Failure> {
    let wcs = output_wcs(p)?;
    let (Some(k), true) = (h.max_order, h.color.is_none()) else {
        return Err(Failure {
            status: 400,
            title: "HiPS cannot be sampled".into(),
            description: format!("{} is not a FITS HiPS (color HiPS have no pixel values)", h.name),
        });
    };
    let scale = wcs.pixel_scale_deg();
    let data = if h.renders && scale < super::tiles::pixel_deg(k, h) {
        from_coadds(state, h, k, wcs, p.width, p.height).await?
    } else {
        super::tiles::sample(state, h, wcs, p.width, p.height).await?
    };
    let (format, width, height) = (p.format, p.width, p.height);
    let (cut, stretch, cards, cmap) = (p.cut, p.stretch, p.cards.clone(), p.cmap.clone());
    bounded(state, move || encode(&data, width, height, format, (cut, stretch, &cmap), cards))
        .await
        .map_err(|e| unfinished(state, e))?
}

/// The output pixels sampled bilinearly from the coadds the progenitor index names around the field.
async fn from_coadds(
    state: &State,
    h: &Hips,
    k: u8,
    wcs: Wcs,
    width: usize,
    height: usize,
) -> Result<Vec<f32>, Failure> {
    let frame = h.frame();
    let (sky, cells) =
        bounded(state, move || positions(&wcs, width, height, frame, k)).await.map_err(|e| unfinished(state, e))?;
    if cells.len() > MAX_CELLS {
        return Err(Failure::bad(
            "fov",
            format!("the field covers more than {MAX_CELLS} order-{k} tiles; ask a smaller one"),
        ));
    }
    let mut coadds: Vec<(String, usize)> = Vec::new();
    for n in cells {
        let key = HipsFile::hpxfinder_tile(k, n).key_in(&h.dir);
        let index = state
            .cache
            .get(h.root_idx, &state.roots[h.root_idx], key)
            .await
            .map_err(|e| render_failure(error_chain(&*e)))?;
        let Some(index) = index else { continue };
        for rec in ProgenitorRecord::parse_lines(&index.body) {
            let c = (rec.path.clone(), rec.hdu_or_primary());
            if !coadds.contains(&c) {
                coadds.push(c);
            }
        }
        if coadds.len() > MAX_COADDS {
            return Err(Failure::bad(
                "fov",
                format!("the field needs more than {MAX_COADDS} source coadds; ask a smaller one"),
            ));
        }
    }
    let roots = state.cfg.on_demand.coadd_roots.clone();
    if let Some((bad, _)) = coadds.iter().find(|(c, _)| !under_roots(c, &roots)) {
        return Err(render_failure(format!("coadd {bad:?} is not under on_demand.coadd_roots")));
    }
    let planes = h.planes.clone();
    bounded(state, move || -> Result<Vec<f32>, Failure> {
        let mut sum = vec![0.0f64; sky.len()];
        let mut count = vec![0u32; sky.len()];
        for (path, hdu) in &coadds {
            let c = open_coadd(path, *hdu, &roots, &planes)
                .map_err(|e| render_failure(format!("cannot open coadd {path:?}: {}", error_chain(&e))))?;
            sample_coadd(&c, &sky, frame, &mut sum, &mut count)?;
        }
        Ok(sum.iter().zip(&count).map(|(s, &n)| if n > 0 { (s / f64::from(n)) as f32 } else { f32::NAN }).collect())
    })
    .await
    .map_err(|e| unfinished(state, e))?
}

/// Encode the output pixels (FITS order) in the format asked.
fn encode(
    data: &[f32],
    width: usize,
    height: usize,
    format: Format,
    (cut, stretch, cmap): ((Cut, Cut), hips_core::preview::Stretch, &Cmap),
    cards: Vec<Card>,
) -> Result<(Vec<u8>, &'static str), Failure> {
    let fmt = match format {
        Format::Fits => {
            let mut extra = cards;
            extra.push(Card::str("ORIGIN", concat!("hipsserve ", env!("CARGO_PKG_VERSION"), " hips2fits"), ""));
            return Ok((image_hdu(true, width, height, PixelData::F32(data), &extra), "application/fits"));
        }
        Format::Png => PreviewFormat::Png,
        Format::Jpeg => PreviewFormat::Jpeg,
    };
    let value = |c: Cut| match c {
        Cut::Value(v) => Some(v),
        Cut::Percentile(q) => percentile(data, q),
    };
    let (lo, hi) = (value(cut.0).unwrap_or(0.0), value(cut.1).unwrap_or(1.0));
    let spec = PreviewSpec::new(vec![fmt], (lo as f32, hi as f32), stretch);
    let bytes = match cmap {
        Cmap::Grey => try_encode_preview(fmt, data, width, height, &spec),
        Cmap::Table(table) => {
            // The grey levels of the cut and stretch, then coloured (PNG keeps the blank pixels transparent).
            let alpha = fmt == PreviewFormat::Png;
            let map = LevelMap::cached(spec.cut, spec.stretch);
            let grey = grey_pixels(data, width, height, map.as_ref(), alpha);
            let channels = if alpha { Channels::Rgba } else { Channels::Rgb };
            image_bytes(fmt, &Cmap::colour(table, &grey, alpha), width, height, channels, spec.jpeg_quality)
        }
    }
    .map_err(|e| render_failure(error_chain(&e)))?;
    Ok((bytes, if fmt == PreviewFormat::Png { "image/png" } else { "image/jpeg" }))
}
