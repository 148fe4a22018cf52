//! Color tiles drawn on demand from the FITS tiles (stored or rendered) of a color HiPS's three band HiPS, with the
//! mapping parameters hipsgen recorded (`hipsgen_color_*`) and the code hipsgen's `color` job draws with
//! (`hips_core::preview::color`): the same band pixels give the same image bytes.

use std::sync::Arc;

use hips_core::error_chain;
use hips_core::preview::color::{rgba_pixels, ColorMapper};
use hips_core::preview::encode::{image_bytes, Channels};
use hips_core::preview::PreviewFormat;

use super::{bounded, finish, geometry, pyramid, rendered_key};
use crate::catalog::Hips;
use crate::state::State;
use crate::store::{Object, ServeError};

/// The color tile (order, npix) in `fmt` through the object cache; `None` when every band is blank there.
///
/// # Errors
/// As [`super::tile`] for any band, a band HiPS no longer served, an encoder failure.
pub(super) async fn tile(
    state: &State,
    h: &Hips,
    order: u8,
    npix: u64,
    fmt: PreviewFormat,
) -> Result<Option<Arc<Object>>, Arc<ServeError>> {
    let Some(source) = h.color.clone() else { return Ok(None) };
    let key = rendered_key(h, order, npix, fmt.extension());
    state
        .cache
        .get_with(h.root_idx, key, |key| async move {
            let mut bands: [Option<Vec<f32>>; 3] = Default::default();
            for (slot, name) in bands.iter_mut().zip(&source.bands) {
                let band = state.hips.get(name).ok_or_else(|| ServeError::Render {
                    key: key.clone(),
                    reason: format!("band HiPS {name:?} is not served"),
                })?;
                *slot = pyramid::fits_data(state, band, order, npix, 0)
                    .await
                    .map_err(|e| ServeError::Render { key: key.clone(), reason: error_chain(&*e) })?;
            }
            if bands.iter().all(Option::is_none) {
                return Ok(None);
            }
            let (width, ..) = geometry(h);
            let rendered = bounded(state, move || {
                let mapper = ColorMapper::new(source.params);
                let slices = [0, 1, 2].map(|i| bands[i].as_deref());
                let rgba = rgba_pixels(slices, width, width, &mapper);
                image_bytes(fmt, &rgba, width, width, Channels::Rgba, source.jpeg_quality)
                    .map(Some)
                    .map_err(|e| error_chain(&e))
            })
            .await;
            finish(state, key, rendered)
        })
        .await
}
