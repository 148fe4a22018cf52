//! The HiPS layout as the server reads it: which files a HiPS folder holds ([`HipsFile`]) and their storage keys
//! (`NorderK/DirD/NpixN.ext`, `HpxFinder/...`, written by `hips_core::layout::keys`), and which names a HiPS may have.

use hips_core::layout::{allsky_key, hpxfinder_key, push_tile_key, tile_key, HPXFINDER, INDEX_HTML, MOC, PROPERTIES};

/// The files of the HiPS layout that the server will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HipsFile {
    /// `properties`.
    Properties,
    /// `Moc.fits`.
    Moc,
    /// `index.html` (also for `/<name>/`).
    IndexHtml,
    /// `preview.jpg` / `preview.png`.
    Preview(String),
    /// `NorderK/Allsky.ext`.
    Allsky {
        /// Order K.
        order: u8,
        /// Extension.
        ext: String,
    },
    /// `NorderK/DirD/NpixN.ext`.
    Tile {
        /// Order K.
        order: u8,
        /// NESTED index N.
        npix: u64,
        /// Extension (fits, png, jpg, webp).
        ext: String,
    },
    /// `HpxFinder/...` progenitor index files (tiles without extension, plus its properties/metadata).
    HpxFinder(String),
    /// Other top-level metadata files Hipsgen writes (`Metadata.xml`, `Moc.json`...).
    Meta(String),
}

impl HipsFile {
    /// The storage key of this file relative to the HiPS folder.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            HipsFile::Properties => PROPERTIES.into(),
            HipsFile::Moc => MOC.into(),
            HipsFile::IndexHtml => INDEX_HTML.into(),
            HipsFile::Preview(f) | HipsFile::Meta(f) => f.clone(),
            HipsFile::Allsky { order, ext } => allsky_key(*order, ext),
            HipsFile::Tile { order, npix, ext } => tile_key(*order, *npix, ext),
            HipsFile::HpxFinder(rest) => format!("{HPXFINDER}/{rest}"),
        }
    }

    /// The progenitor index file of tile `npix` at `order` (`HpxFinder/NorderK/DirD/NpixN`, no extension).
    #[must_use]
    pub fn hpxfinder_tile(order: u8, npix: u64) -> HipsFile {
        let key = hpxfinder_key(order, npix);
        HipsFile::HpxFinder(key[HPXFINDER.len() + 1..].to_string())
    }

    /// The storage key of this file inside the HiPS folder `dir` (relative to the storage root; empty: the root).
    #[must_use]
    pub fn key_in(&self, dir: &str) -> String {
        let mut k = String::with_capacity(dir.len() + 48);
        if !dir.is_empty() {
            k.push_str(dir);
            k.push('/');
        }
        match self {
            HipsFile::Tile { order, npix, ext } => push_tile_key(&mut k, *order, *npix, ext),
            other => k.push_str(&other.key()),
        }
        k
    }

    /// A short name for metrics labels.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            HipsFile::Properties => "properties",
            HipsFile::Moc => "moc",
            HipsFile::IndexHtml | HipsFile::Preview(_) | HipsFile::Meta(_) => "meta",
            HipsFile::Allsky { .. } => "allsky",
            HipsFile::Tile { .. } => "tile",
            HipsFile::HpxFinder(_) => "hpxfinder",
        }
    }
}

const RESERVED: &[&str] = &["health", "ready", "metrics", "hipslist"];

/// Whether a name may be used for a HiPS (not a reserved endpoint, safe segments).
#[must_use]
pub fn valid_hips_name(name: &str) -> bool {
    !name.is_empty()
        && !RESERVED.contains(&name.split('/').next().unwrap_or(""))
        && name.split('/').all(safe_segment)
        && !name.split('/').any(is_content_segment)
}

/// A path segment that belongs to a HiPS's content (`NorderK`, `HpxFinder`), never to a HiPS name.
pub(crate) fn is_content_segment(s: &str) -> bool {
    s.starts_with("Norder") || s == "HpxFinder"
}

/// A path segment that is safe to use as a storage key segment: `[A-Za-z0-9_.+-]`, not starting with a dot.
pub(crate) fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 255
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'+'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        assert!(!valid_hips_name("metrics"));
        assert!(!valid_hips_name("../x"));
        assert!(valid_hips_name("dr1/g"));
    }
}
