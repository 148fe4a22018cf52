//! The progenitor index (HpxFinder): for every deepest tile, one JSON object per line for each source coadd that
//! contributed pixels, in the format CDS Hipsgen's INDEX writes and Aladin reads ("name", "path", "ra", "dec",
//! "stc" plus selected keys), so a tile can be traced back to its coadds (DMS-REQ-0381, "HiPS Progenitor").

use hips_core::coadd::Coadd;
use hips_core::wcs::Frame;
use serde_json::json;

/// The HpxFinder file content for a tile made from `coadds`.
#[must_use]
pub fn hpxfinder_lines(coadds: &[&Coadd]) -> String {
    let mut out = String::new();
    for c in coadds {
        out.push_str(&progenitor_json(c).to_string());
        out.push('\n');
    }
    out
}

/// One progenitor record: position and outline in ICRS (as Aladin expects), file, HDU and size.
#[must_use]
pub fn progenitor_json(c: &Coadd) -> serde_json::Value {
    let (ra, dec) = c.centre(Frame::Equatorial).unwrap_or((f64::NAN, f64::NAN));
    let corners = c.corners(Frame::Equatorial);
    let mut stc = String::from("POLYGON J2000");
    for (lon, lat) in &corners {
        stc.push_str(&format!(" {lon:.7} {lat:.7}"));
    }
    let name = c.name.rsplit('/').next().unwrap_or(&c.name).to_string();
    let mut v = json!({
        "name": name,
        "path": c.name,
        "ra": format!("{ra:.7}"),
        "dec": format!("{dec:.7}"),
        "stc": stc,
        "hdu": c.image.index,
        "width": c.width,
        "height": c.height,
        "pixel_scale_arcsec": format!("{:.6}", c.wcs.pixel_scale_deg() * 3600.0),
    });
    if let Some(b) = &c.band {
        v["band"] = json!(b);
    }
    for key in ["DATE-OBS", "MJD-OBS", "EXPTIME", "TRACT", "PATCH"] {
        if let Some(val) = c.image.header.get_str(key) {
            v[key] = json!(val);
        }
    }
    v
}
