//! The progenitor index (HpxFinder) record: for every deepest tile, one JSON object per line for each source coadd that
//! contributed pixels, in the format CDS Hipsgen's INDEX writes and Aladin reads (`name`, `path`, `ra`, `dec`, `stc`),
//! plus the image HDU, size, pixel scale, band and the observation keys of the coadd's header. One type for the
//! writer (hipsgen) and every reader (progenitor queries, on-demand tiles, SODA), so a tile can be traced back to its
//! coadds (DMS-REQ-0381, "HiPS Progenitor").

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::coadd::Coadd;
use crate::wcs::Frame;

/// One coadd behind a tile. Fields are declared in the byte order of their names, so the JSON text has its keys
/// sorted, as it always had; keys this type does not know (other writers' extras) are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgenitorRecord {
    /// DATE-OBS of the coadd's header.
    #[serde(rename = "DATE-OBS", default, skip_serializing_if = "Option::is_none")]
    pub date_obs: Option<String>,
    /// EXPTIME.
    #[serde(rename = "EXPTIME", default, skip_serializing_if = "Option::is_none")]
    pub exptime: Option<String>,
    /// MJD-OBS.
    #[serde(rename = "MJD-OBS", default, skip_serializing_if = "Option::is_none")]
    pub mjd_obs: Option<String>,
    /// PATCH (LSST skymap patch).
    #[serde(rename = "PATCH", default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// TRACT (LSST skymap tract).
    #[serde(rename = "TRACT", default, skip_serializing_if = "Option::is_none")]
    pub tract: Option<String>,
    /// The coadd's size in bytes as hipsgen read it (gzip inputs: decompressed), for DataLink's `content_length`
    /// and SIA's `access_estsize` without a HEAD request per coadd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The band the coadd was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<String>,
    /// Declination of the image centre, ICRS degrees, as text with 7 decimals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dec: Option<String>,
    /// The image HDU (0-based); absent in CDS Hipsgen's records, meaning the primary HDU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdu: Option<usize>,
    /// Image height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<usize>,
    /// The file name (not written when empty, so a record without one reads back as it was).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The coadd as it was read: a path or URL.
    pub path: String,
    /// Pixel scale, arcsec, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_scale_arcsec: Option<String>,
    /// Right ascension of the image centre, ICRS degrees, as text with 7 decimals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ra: Option<String>,
    /// The image outline, `POLYGON J2000 lon lat ...` (ICRS degrees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stc: Option<String>,
    /// Image width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    /// Keys of other writers, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ProgenitorRecord {
    /// The record of a coadd: position and outline in ICRS (as Aladin expects), file, HDU, size and header keys.
    #[must_use]
    pub fn of(c: &Coadd) -> ProgenitorRecord {
        let (ra, dec) = c.centre(Frame::Equatorial).unwrap_or((f64::NAN, f64::NAN));
        let mut stc = String::from("POLYGON J2000");
        for (lon, lat) in &c.corners(Frame::Equatorial) {
            let _ = write!(stc, " {lon:.7} {lat:.7}");
        }
        let key = |k: &str| c.image.header.get_str(k);
        ProgenitorRecord {
            date_obs: key("DATE-OBS"),
            exptime: key("EXPTIME"),
            mjd_obs: key("MJD-OBS"),
            patch: key("PATCH"),
            tract: key("TRACT"),
            bytes: c.source.len().ok(),
            band: c.band.clone(),
            dec: Some(format!("{dec:.7}")),
            hdu: Some(c.image.index),
            height: Some(c.height),
            name: c.name.rsplit('/').next().unwrap_or(&c.name).to_string(),
            path: c.name.clone(),
            pixel_scale_arcsec: Some(format!("{:.6}", c.wcs.pixel_scale_deg() * 3600.0)),
            ra: Some(format!("{ra:.7}")),
            stc: Some(stc),
            width: Some(c.width),
            extra: BTreeMap::new(),
        }
    }

    /// The image HDU, the primary one when the record does not say.
    #[must_use]
    pub fn hdu_or_primary(&self) -> usize {
        self.hdu.unwrap_or(0)
    }

    /// The JSON text of the record (one line, no newline).
    #[must_use]
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and JSON values always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The content of an index file: one record per line.
    #[must_use]
    pub fn lines<'a>(records: impl IntoIterator<Item = &'a ProgenitorRecord>) -> String {
        let mut out = String::new();
        for r in records {
            out.push_str(&r.to_json());
            out.push('\n');
        }
        out
    }

    /// The records of an index file, in order; lines that are blank or not a record (no `path`) are skipped.
    pub fn parse_lines(text: &[u8]) -> impl Iterator<Item = ProgenitorRecord> + '_ {
        text.split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .filter_map(|l| serde_json::from_slice(l).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_sorted_keys_and_foreign_fields() {
        let line = br#"{"Ntile":3,"dec":"-1.0000000","hdu":1,"name":"a.fits","path":"/c/a.fits","ra":"10.0000000","stc":"POLYGON J2000 10 -1 12 -1 12 1"}"#;
        let recs: Vec<ProgenitorRecord> =
            ProgenitorRecord::parse_lines(&[&line[..], b"\nnot json\n{\"hdu\":2}\n"].concat()).collect();
        assert_eq!(recs.len(), 1, "lines that are not records are skipped");
        assert_eq!(recs[0].hdu_or_primary(), 1);
        assert_eq!(recs[0].extra.get("Ntile"), Some(&serde_json::json!(3)));
        let back = recs[0].to_json();
        let v: serde_json::Value = serde_json::from_str(&back).expect("json");
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(v, serde_json::from_slice::<serde_json::Value>(line).expect("json"), "nothing lost or added");
    }
}
