//! The catalogue of served HiPS: discovery under the storage roots, their properties and coverage, and `/hipslist`.
//!
//! Discovery walks each root with delimiter listings (never a full recursive listing, which would enumerate millions of
//! tiles): a folder holding `properties` is a HiPS and is not descended into. The MOC is loaded once at start-up so
//! tile requests outside the coverage are answered without touching storage.
//!
//! Beside it: the HiPS layout ([`layout`]: the files of a HiPS folder and their keys), access control ([`auth`]) and
//! the `/hipslist` document ([`hipslist`]).

pub mod auth;
pub mod coadds;
pub mod hipslist;
pub mod layout;
pub mod public;
pub mod release;

use std::ops::Range;

use std::time::Duration;

use hips_core::coadd::PlaneOptions;
use hips_core::layout::moc::read_moc_fits;
use hips_core::layout::properties::set_in_text;
use hips_core::layout::{Properties, MOC, PROPERTIES};
use hips_core::preview::color::ColorParams;
use hips_core::preview::{PreviewSpec, DEFAULT_JPEG_QUALITY, JPEG_QUALITY_KEY, STORED_ORDER_KEY};

use self::layout::valid_hips_name;
use crate::config::{Config, ResolvedSettings};
use crate::store::{Root, ServeError};

/// One served HiPS.
#[derive(Debug, Clone)]
pub struct Hips {
    /// Name (URL path prefix).
    pub name: String,
    /// Index of its storage root.
    pub root_idx: usize,
    /// Its folder relative to the root ("" when the root itself is the HiPS).
    pub dir: String,
    /// Its IVOID: `creator_did` from its properties, else `<node IVOID>/<name>` as in `/hipslist`.
    pub did: String,
    /// Parsed properties (key order kept).
    pub properties: Properties,
    /// hips_order (deepest tile order), if the properties give it.
    pub max_order: Option<u8>,
    /// Tile formats from hips_tile_format (fits, png, jpg, webp).
    pub formats: Vec<String>,
    /// Coverage as sorted, disjoint NESTED ranges at order 29, when Moc.fits was readable.
    pub coverage: Option<Vec<Range<u64>>>,
    /// Resolved settings.
    pub settings: ResolvedSettings,
    /// The deepest order in storage: `hipsgen_stored_order` when below `hips_order` (`hipsgen tiles
    /// --stored-order`), else `hips_order`.
    pub stored_order: Option<u8>,
    /// Whether the HiPS has a progenitor index (`HpxFinder/properties`): `/hipslist` then gives its
    /// `hips_progenitor_url`.
    pub progenitor_index: bool,
    /// Whether tiles can be rendered from the coadds: coadd roots are configured and the HiPS has a progenitor
    /// index.
    pub renders: bool,
    /// The cut, stretch and JPEG quality its previews were drawn with (from properties), when they can be redrawn.
    pub preview: Option<PreviewSpec>,
    /// How its coadds' quality planes were used (`hipsgen_bad_bits`, `hipsgen_mask_planes`, ... in properties), so
    /// pixels rendered here blank and weight as the stored tiles do.
    pub planes: PlaneOptions,
    /// A color HiPS whose tiles can be drawn from its band HiPS (served here, all rendering).
    pub color: Option<ColorSource>,
    /// The manifest of the data release it belongs to (a release root, [`release`]): which objects exist and their
    /// ETags, known without reading them.
    pub release: Option<std::sync::Arc<release::Manifest>>,
}

/// How a color HiPS is drawn from three served band HiPS (`hips_rgb_red/green/blue` name them by creator_did).
#[derive(Debug, Clone)]
pub struct ColorSource {
    /// The mapping parameters recorded by hipsgen (`hipsgen_color_*`).
    pub params: ColorParams,
    /// The names (here) of the red, green and blue band HiPS (their creator_did until resolved).
    pub bands: [String; 3],
    /// JPEG quality of its JPEG tiles.
    pub jpeg_quality: u8,
    /// The deepest order all three bands serve.
    pub deepest: u8,
}

impl Hips {
    /// The deepest order served: `hips_order` plus `on_demand_orders` when tiles can be rendered, else the stored
    /// order.
    #[must_use]
    pub fn deepest(&self) -> Option<u8> {
        if let Some(c) = &self.color {
            return Some(c.deepest);
        }
        if self.renders {
            self.max_order.map(|k| k.saturating_add(self.settings.on_demand_orders).min(29))
        } else {
            self.stored_order
        }
    }

    /// The storage key of a file of this HiPS.
    #[must_use]
    pub fn key(&self, file_key: &str) -> String {
        if self.dir.is_empty() {
            file_key.to_string()
        } else {
            format!("{}/{file_key}", self.dir)
        }
    }

    /// Whether the tile (order, npix) intersects the coverage (true when there is no MOC).
    #[must_use]
    pub fn covers(&self, order: u8, npix: u64) -> bool {
        let Some(cov) = &self.coverage else { return true };
        let shift = 2 * (29 - u32::from(order.min(29)));
        let (lo, hi) = (npix << shift, (npix + 1) << shift);
        // First range whose end is above lo; it intersects when it starts below hi.
        let i = cov.partition_point(|r| r.end <= lo);
        cov.get(i).is_some_and(|r| r.start < hi)
    }

    /// The HiPS's frame (from `hips_frame`; equatorial unless it says galactic).
    #[must_use]
    pub fn frame(&self) -> hips_core::wcs::Frame {
        match self.prop("hips_frame") {
            Some(f) if f.trim().eq_ignore_ascii_case("galactic") => hips_core::wcs::Frame::Galactic,
            _ => hips_core::wcs::Frame::Equatorial,
        }
    }

    /// A property value.
    #[must_use]
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.properties.get(key)
    }
}

/// A properties text with its `hips_order` value replaced by `deepest` (lines kept as they are otherwise; unchanged
/// when `deepest` is `None`). Used to advertise orders rendered on demand.
#[must_use]
pub fn with_hips_order(text: &[u8], deepest: Option<u8>) -> Vec<u8> {
    let Some(d) = deepest else { return text.to_vec() };
    set_in_text(&String::from_utf8_lossy(text), "hips_order", &d.to_string()).into_bytes()
}

/// The color source a color HiPS's properties describe (band creator_dids unresolved), if complete.
fn color_source(p: &Properties) -> Option<ColorSource> {
    if p.get("dataproduct_subtype").map(str::trim) != Some("color") {
        return None;
    }
    let params = ColorParams::from_properties(|k| p.get(k))?;
    let did = |b: &str| p.get(&format!("hips_rgb_{b}"))?.split_whitespace().next().map(str::to_string);
    let jpeg_quality = p.get(JPEG_QUALITY_KEY).and_then(|q| q.trim().parse().ok()).unwrap_or(DEFAULT_JPEG_QUALITY);
    Some(ColorSource { params, bands: [did("red")?, did("green")?, did("blue")?], jpeg_quality, deepest: 0 })
}

/// Resolve each color HiPS's bands to served HiPS; a color HiPS renders (and is advertised down to the deepest
/// order all its bands serve) only when all three are served here and render.
pub(crate) fn resolve_colors(all: &mut [Hips]) {
    for i in 0..all.len() {
        let Some(c) = all[i].color.clone() else { continue };
        let band = |did: &str| all.iter().find(|b| b.did == did && b.color.is_none() && b.renders);
        let found: Vec<&Hips> = c.bands.iter().filter_map(|d| band(d)).collect();
        let h = &all[i];
        let usable = found.len() == 3
            && found.iter().all(|b| {
                b.max_order == h.max_order && b.properties.get("hips_tile_width") == h.properties.get("hips_tile_width")
            });
        if !usable {
            all[i].color = None;
            continue;
        }
        let names = [found[0].name.clone(), found[1].name.clone(), found[2].name.clone()];
        let deepest = found.iter().filter_map(|b| b.deepest()).min().unwrap_or(0);
        let h = &mut all[i];
        h.color = Some(ColorSource { bands: names, deepest, ..c });
        h.renders = true;
        if h.max_order != Some(deepest) {
            h.properties.set("hips_order", deepest.to_string());
        }
    }
}

/// Find every HiPS under the configured roots and load its properties and MOC.
///
/// # Errors
/// When a root cannot be listed; a HiPS whose properties cannot be read is skipped with a warning.
pub async fn discover(cfg: &Config, roots: &[Root], timeout: Duration) -> Result<Vec<Hips>, ServeError> {
    let mut found = Vec::new();
    for (ri, root) in roots.iter().enumerate() {
        let mut queue = vec![(String::new(), 0usize)];
        while let Some((dir, depth)) = queue.pop() {
            let (subdirs, has_props) = root.list_dir(&dir).await?;
            if has_props {
                let name = if dir.is_empty() { root_basename(root.location()) } else { dir.clone() };
                found.push((ri, dir, name));
                continue;
            }
            if depth < cfg.discovery_depth {
                for s in subdirs {
                    if !s.starts_with('.') && !s.starts_with("Norder") {
                        queue.push((if dir.is_empty() { s } else { format!("{dir}/{s}") }, depth + 1));
                    }
                }
            }
        }
    }
    let mut out: Vec<Hips> = Vec::new();
    for (ri, dir, name) in found {
        if !valid_hips_name(&name) {
            tracing::warn!(hips = %name, root = roots[ri].location(), "skipping HiPS: name unusable in URLs");
            continue;
        }
        if out.iter().any(|h| h.name == name) {
            tracing::warn!(hips = %name, root = roots[ri].location(), "skipping HiPS: name already served");
            continue;
        }
        let settings = cfg.settings_for(&name);
        if !settings.enabled {
            continue;
        }
        if let Some(h) = load_hips(cfg, &roots[ri], ri, dir, name, settings, timeout).await? {
            out.push(h);
        }
    }
    resolve_colors(&mut out);
    for name in cfg.hips.keys() {
        if !out.iter().any(|h| &h.name == name) {
            tracing::warn!(hips = %name, "configured HiPS not found under any root");
        }
    }
    Ok(out)
}

/// Load one HiPS (its properties and MOC) from folder `dir` of `root` (root index `ri`), served as `name`;
/// `Ok(None)` when it has no properties. Its colour bands are left unresolved ([`resolve_colors`]).
///
/// # Errors
/// When the storage fails.
pub(crate) async fn load_hips(
    cfg: &Config,
    root: &Root,
    ri: usize,
    dir: String,
    name: String,
    settings: ResolvedSettings,
    timeout: Duration,
) -> Result<Option<Hips>, ServeError> {
    let key = |f: &str| if dir.is_empty() { f.to_string() } else { format!("{dir}/{f}") };
    let Some((props, _)) = root.read(&key(PROPERTIES), timeout).await? else { return Ok(None) };
    let properties = Properties::parse(&String::from_utf8_lossy(&props));
    let max_order = properties.order().ok();
    let coverage = match root.read(&key(MOC), timeout).await? {
        Some((b, _)) => read_moc_fits(&b)
            .inspect_err(|e| {
                tracing::warn!(hips = %name, error = %e, "Moc.fits unreadable: serving without coverage filter");
            })
            .ok(),
        None => None,
    };
    let formats = properties
        .get("hips_tile_format")
        .map(|v| v.split_whitespace().map(|f| if f == "jpeg" { "jpg".into() } else { f.to_lowercase() }).collect())
        .unwrap_or_default();
    let stored_order = match properties.get(STORED_ORDER_KEY).map(|v| v.trim().parse::<u8>()) {
        Some(Ok(m)) => max_order.map(|k| m.min(k)),
        _ => max_order,
    };
    let planes = PlaneOptions::from_properties(&properties);
    if let Err(e) = &planes {
        tracing::warn!(hips = %name, error = %e, "quality-plane options in properties unreadable: no tile of it is rendered");
    }
    let progenitor_index = root.read(&key("HpxFinder/properties"), timeout).await?.is_some();
    let renders = planes.is_ok() && !cfg.on_demand.coadd_roots.is_empty() && progenitor_index;
    let planes = planes.unwrap_or_default();
    let preview = PreviewSpec::from_properties(Vec::new(), |k| properties.get(k));
    let color = color_source(&properties);
    let mut h = Hips {
        name,
        root_idx: ri,
        dir,
        did: String::new(),
        properties,
        max_order,
        formats,
        coverage,
        settings,
        stored_order,
        progenitor_index,
        renders,
        preview,
        planes,
        color: None,
        release: None,
    };
    if let Some(d) = h.deepest().filter(|&d| Some(d) != max_order) {
        // Registries see the orders served, stored or rendered on demand.
        h.properties.set("hips_order", d.to_string());
    }
    // Plain values in the log: `max_order=11`, `max_order=none`, `access=public`.
    let order = max_order.map_or_else(|| "none".to_string(), |k| k.to_string());
    tracing::info!(hips = %h.name, root = root.location(), max_order = %order, moc = h.coverage.is_some(),
        access = %h.settings.access, "serving HiPS");
    h.did = h.properties.get("creator_did").map_or_else(
        || format!("{}/{}", hipslist::node_did(cfg.public_url.as_deref()), h.name),
        |d| d.trim().to_string(),
    );
    // A colour HiPS's bands are resolved (and its deepest order set) once every HiPS is known.
    h.color = color;
    Ok(Some(h))
}

fn root_basename(location: &str) -> String {
    location.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or("hips").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hips_order_is_rewritten_in_place() {
        let text = b"# hips_order = 1\r\nhips_order_min = 0\r\nhips_order           = 12\r\nhips_tile_width = 256";
        let out = String::from_utf8(with_hips_order(text, Some(13))).expect("utf8");
        assert_eq!(out, "# hips_order = 1\r\nhips_order_min = 0\r\nhips_order           = 13\r\nhips_tile_width = 256");
        assert_eq!(with_hips_order(text, None), text.to_vec());
    }

    #[test]
    fn properties_parse() {
        let p = Properties::parse("# c\nhips_order = 5\n\nobs_title=A = B\n#x = 1\n");
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![("hips_order", "5"), ("obs_title", "A = B")]);
    }

    fn dummy() -> Hips {
        Hips {
            name: "x".into(),
            root_idx: 0,
            dir: "x".into(),
            did: "ivo://test/x".into(),
            properties: Properties::new(),
            max_order: Some(5),
            formats: vec!["png".into()],
            coverage: None,
            settings: Config::default().settings_for("x"),
            stored_order: Some(5),
            progenitor_index: false,
            renders: false,
            preview: None,
            planes: PlaneOptions::default(),
            color: None,
            release: None,
        }
    }

    #[test]
    fn coverage_check_uses_nested_ranges() {
        // exactly order-3 cell 211
        let mut h = Hips { coverage: Some(std::iter::once((211u64 << 52)..(212u64 << 52)).collect()), ..dummy() };
        assert!(h.covers(3, 211));
        assert!(!h.covers(3, 210));
        assert!(h.covers(0, 211 >> 6));
        assert!(!h.covers(0, 0));
        assert!(h.covers(5, 211 * 16 + 3));
        assert!(!h.covers(5, 212 * 16));
        h.coverage = None;
        assert!(h.covers(5, 0));
    }

    #[test]
    fn reference_moc_loads() {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reference_hips/CFHT/Moc.fits");
        let b = std::fs::read(p).expect("reference HiPS present");
        let r = read_moc_fits(&b).expect("CFHT MOC decodes");
        // hipsgen_params_1 says region=5/3380 3382 3379 3377: those tiles are covered, a far one is not.
        let h = Hips { coverage: Some(r), ..dummy() };
        assert!(h.covers(5, 3380) && h.covers(3, 211) && !h.covers(5, 0));
    }
}
