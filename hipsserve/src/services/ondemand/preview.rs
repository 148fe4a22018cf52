//! PNG and JPEG tiles drawn on demand from the FITS tile's pixels (stored or rendered) with the cut, stretch and JPEG
//! quality recorded in the HiPS's properties, through `hips_core::preview`, the code hipsgen draws its previews with:
//! the same pixels give the same image bytes.

use std::sync::Arc;

use hips_core::error_chain;
use hips_core::preview::{try_encode_preview, PreviewFormat};

use super::{bounded, finish, geometry, pyramid, rendered_key};
use crate::catalog::Hips;
use crate::state::State;
use crate::store::{Object, ServeError};

/// The preview tile (order, npix) in `fmt` through the object cache; `None` when the FITS tile is blank or the HiPS
/// has no recorded preview parameters.
///
/// # Errors
/// As [`super::tile`], and an encoder failure.
pub(super) async fn tile(
    state: &State,
    h: &Hips,
    order: u8,
    npix: u64,
    fmt: PreviewFormat,
) -> Result<Option<Arc<Object>>, Arc<ServeError>> {
    let key = rendered_key(h, order, npix, fmt.extension());
    state
        .cache
        .get_with(h.root_idx, key, |key| async move {
            let Some(spec) = h.preview.clone() else { return Ok(None) };
            let data = pyramid::fits_data(state, h, order, npix, 0)
                .await
                .map_err(|e| ServeError::Render { key: key.clone(), reason: error_chain(&*e) })?;
            let Some(data) = data else { return Ok(None) };
            let (width, ..) = geometry(h);
            let rendered = bounded(state, move || {
                try_encode_preview(fmt, &data, width, width, &spec).map(Some).map_err(|e| error_chain(&e))
            })
            .await;
            finish(state, key, rendered)
        })
        .await
}
