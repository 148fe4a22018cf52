//! hipsgen: turns coadd FITS images into IVOA HiPS (HEALPix tile pyramids) on object storage.
//!
//! The batch orchestration lives here; the FITS, WCS, storage and rendering kernel are in `hips-core`, shared with
//! hipsserve's on-demand tiles.

pub mod build;
pub mod color;
pub mod demo;
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

pub use hips_core::error_chain;

/// Add PNG/JPEG previews to the FITS HiPS in `store` (cut from its properties, linear stretch); returns the
/// formats added. Writes `index.html` too.
///
/// # Errors
/// When tiles cannot be read or written, or a format is unknown.
pub fn previews_for_tiles(store: &hips_core::storage::Store, formats: &[&str]) -> anyhow::Result<Vec<String>> {
    let fmts: Vec<preview::PreviewFormat> = formats
        .iter()
        .map(|f| preview::PreviewFormat::parse(f).ok_or_else(|| anyhow::anyhow!("unknown preview format {f:?}")))
        .collect::<anyhow::Result<_>>()?;
    let props = preview::step::read_properties(store)?;
    let cut = preview::step::resolve_cut(store, &props, None)?;
    let spec = preview::PreviewSpec::new(fmts.clone(), cut, preview::Stretch::default());
    let report = preview::add_previews(store, &spec, false, false, &html::aladin_url(None))?;
    if let Some(f) = report.failures.first() {
        anyhow::bail!("{} preview tile(s) failed, first: {f}", report.failures.len());
    }
    Ok(fmts.iter().map(|f| f.format_name().to_string()).collect())
}

/// Write `index.html` (an Aladin Lite view, script from `$HIPS_ALADIN_URL` or the CDS CDN) for the HiPS in `store`.
///
/// # Errors
/// When the store fails.
pub fn write_index_html(store: &hips_core::storage::Store, props: &properties::Properties) -> anyhow::Result<()> {
    html::write_index_html(store, props, &html::aladin_url(None)).map_err(|e| anyhow::anyhow!("{e}"))
}
