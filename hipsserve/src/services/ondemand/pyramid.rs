//! FITS tiles that are not stored, as hipsgen made them: at `hips_order` and deeper from the coadds
//! ([`super::render_from_coadds`]), above it as the 2x2 mean of the four children (`parent_from_children`, hipsgen's
//! own pyramid step), each child read from storage when stored and rendered otherwise.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use hips_core::error_chain;
use hips_core::kernel::{encode_fits_tile, parent_from_children};
use hips_core::layout::decode_fits_tile;

use super::{bounded, finish, geometry, rendered_key, ORIGIN};
use crate::catalog::layout::HipsFile;
use crate::catalog::Hips;
use crate::state::State;
use crate::store::{Object, ServeError};

/// How many orders above the tiles that can be read or rendered from the coadds a tile may be rebuilt from its
/// descendants (up to 4^3 = 64 coadd renders for one tile; `hipsgen tiles --stored-order` is limited to this gap).
pub(super) const MAX_LEVELS: u8 = 3;

type Loaded<'a, T> = Pin<Box<dyn Future<Output = Result<T, Arc<ServeError>>> + Send + 'a>>;

/// The rendered FITS tile (order, npix) through the object cache; `levels` is how many orders above the requested
/// tile this one is being rebuilt for.
pub(super) fn fits_tile<'a>(
    state: &'a State,
    h: &'a Hips,
    order: u8,
    npix: u64,
    levels: u8,
) -> Loaded<'a, Option<Arc<Object>>> {
    Box::pin(async move {
        let key = rendered_key(h, order, npix, "fits");
        state
            .cache
            .get_with(h.root_idx, key, |key| async move {
                match h.max_order {
                    Some(k) if order >= k => super::render_from_coadds(state, h, order, npix, key).await,
                    Some(_) => from_children(state, h, order, npix, levels, key).await,
                    None => Ok(None),
                }
            })
            .await
    })
}

/// The pixels of tile (order, npix): the stored tile at the stored orders, rendered when it is not stored (or above
/// the stored orders); `None` outside the coverage or when blank.
///
/// # Errors
/// As [`super::tile`].
pub(super) fn fits_data<'a>(
    state: &'a State,
    h: &'a Hips,
    order: u8,
    npix: u64,
    levels: u8,
) -> Loaded<'a, Option<Vec<f32>>> {
    Box::pin(async move {
        if !h.covers(order, npix) {
            return Ok(None);
        }
        let stored = if h.stored_order.is_some_and(|m| order <= m) {
            let key = HipsFile::Tile { order, npix, ext: "fits".into() }.key_in(&h.dir);
            state.cache.get(h.root_idx, &state.roots[h.root_idx], key).await?
        } else {
            None
        };
        let obj = match stored {
            Some(o) => Some(o),
            None => fits_tile(state, h, order, npix, levels).await?,
        };
        let Some(obj) = obj else { return Ok(None) };
        let (width, ..) = geometry(h);
        let key = HipsFile::Tile { order, npix, ext: "fits".into() }.key_in(&h.dir);
        let body = obj.body.clone();
        let decoded = crate::store::blocking::spawn(move || decode_fits_tile(&key, body, width).map_err(|e| (key, e)))
            .await
            .map_err(|e| Arc::new(ServeError::Render { key: "tile".into(), reason: e.to_string() }))?;
        match decoded {
            Ok(data) => Ok(Some(data)),
            Err((key, e)) => Err(Arc::new(ServeError::Render { key, reason: error_chain(&e) })),
        }
    })
}

/// Rebuild tile (order, npix), above `hips_order`, from its four children.
async fn from_children(
    state: &State,
    h: &Hips,
    order: u8,
    npix: u64,
    levels: u8,
    key: String,
) -> Result<Option<(Bytes, Option<SystemTime>)>, ServeError> {
    if levels >= MAX_LEVELS {
        return Err(ServeError::Render {
            key,
            reason: format!("more than {MAX_LEVELS} orders above the tiles that can be read or rendered"),
        });
    }
    let kids =
        futures::future::join_all((0..4u64).map(|q| fits_data(state, h, order + 1, 4 * npix + q, levels + 1))).await;
    let mut children: [Option<Vec<f32>>; 4] = Default::default();
    for (slot, kid) in children.iter_mut().zip(kids) {
        *slot = kid.map_err(|e| ServeError::Render { key: key.clone(), reason: error_chain(&*e) })?;
    }
    if children.iter().all(Option::is_none) {
        return Ok(None);
    }
    let (width, frame, _) = geometry(h);
    let rendered = bounded(state, move || {
        let data = parent_from_children(&children, width);
        Ok((!data.iter().all(|v| v.is_nan())).then(|| encode_fits_tile(order, npix, width, frame, &data, ORIGIN)))
    })
    .await;
    finish(state, key, rendered)
}
