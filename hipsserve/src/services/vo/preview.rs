//! DataLink `#preview`: `GET /vo/preview?ID=<coadd identifier>` answers a greyscale PNG of the coadd's image plane,
//! at most [`MAX_SIDE`] pixels on a side: every `stride`-th pixel of every `stride`-th row (`stride` = ceil(longest
//! side / MAX_SIDE), row 0 at the bottom as FITS stores it, so the PNG's first row is the image's last), scaled
//! linearly from the 0.5th to the 99.5th percentile of those samples to 0..255; blank and NO_DATA pixels are 0. Only
//! the sampled rows are read. Access and lookup as `/vo/soda/sync`.

use bytes::Bytes;
use hips_core::coadd::{Coadd, CoaddError};
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use super::{coadds_of, denied, hips_of_id, params};
use crate::reply::{hv, Reply};
use crate::services::ondemand::{bounded, open_coadd, under_roots};
use crate::state::State;

/// The longest side of a preview, pixels.
pub const MAX_SIDE: usize = 512;

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// Reading the coadd failed.
    #[error("cannot read coadd {path:?}")]
    Read {
        /// The coadd.
        path: String,
        /// Why.
        #[source]
        source: CoaddError,
    },
    /// PNG encoding failed.
    #[error("cannot encode the preview of {path:?} as PNG")]
    Encode {
        /// The coadd.
        path: String,
        /// Why.
        #[source]
        source: image::ImageError,
    },
}

/// The sampling step for an image of `width` x `height`.
#[must_use]
pub fn stride(width: usize, height: usize) -> usize {
    width.max(height).div_ceil(MAX_SIDE).max(1)
}

/// The PNG of `coadd`'s image plane (see the module documentation).
///
/// # Errors
/// [`PreviewError`] naming the coadd.
pub fn render(coadd: &Coadd, path: &str) -> Result<Vec<u8>, PreviewError> {
    let s = stride(coadd.width, coadd.height);
    let (w, h) = (coadd.width.div_ceil(s), coadd.height.div_ceil(s));
    let mut samples = vec![f32::NAN; w * h];
    for j in 0..h {
        let y = (j * s) as i64;
        let row = coadd
            .read_region_image(0, y, coadd.width as i64 - 1, y)
            .map_err(|source| PreviewError::Read { path: path.to_string(), source })?;
        if let Some(px) = row {
            for i in 0..w {
                samples[j * w + i] = px.image[i * s];
            }
        }
    }
    let mut sorted: Vec<f32> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let pick = |q: f64| sorted.get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize).copied();
    let (lo, hi) = (pick(0.005).unwrap_or(0.0), pick(0.995).unwrap_or(1.0));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut grey = vec![0u8; w * h];
    for j in 0..h {
        // PNG rows go top down; FITS rows bottom up.
        let out = &mut grey[(h - 1 - j) * w..(h - j) * w];
        for (o, v) in out.iter_mut().zip(&samples[j * w..(j + 1) * w]) {
            if v.is_finite() {
                *o = (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&grey, w as u32, h as u32, ExtendedColorType::L8)
        .map_err(|source| PreviewError::Encode { path: path.to_string(), source })?;
    Ok(png)
}

/// Answer `/vo/preview`.
pub async fn answer(
    state: &State,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Option<&[u8]>,
    request_id: &str,
) -> Reply {
    let text = |status, msg: &str| Reply::text(status, msg);
    let ids: Vec<String> =
        params(query, body).into_iter().filter(|(k, _)| k.eq_ignore_ascii_case("ID")).map(|(_, v)| v).collect();
    let [id] = &ids[..] else { return text(StatusCode::BAD_REQUEST, "UsageError: give one ID (a coadd identifier)") };
    let not_found = || text(StatusCode::NOT_FOUND, &format!("NotFoundError: no coadd {id:?} here"));
    let Some((h, _)) = hips_of_id(state, id) else { return not_found() };
    if let Some(r) = denied(state, headers, h) {
        return r;
    }
    let coadds = match coadds_of(state, h, request_id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(e) = coadds.iter().find(|e| e.id.eq_ignore_ascii_case(id)) else { return not_found() };
    let roots = state.cfg.on_demand.coadd_roots.clone();
    if !under_roots(&e.path, &roots) {
        return text(StatusCode::BAD_GATEWAY, "Error: this coadd is not served (outside on_demand.coadd_roots)");
    }
    let (path, hdu, planes) = (e.path.clone(), e.hdu, h.planes.clone());
    let done = bounded(state, move || {
        let coadd = open_coadd(&path, hdu, &roots, &planes)
            .map_err(|source| PreviewError::Read { path: path.clone(), source })?;
        render(&coadd, &path)
    })
    .await;
    let retry = |mut r: Reply| {
        r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
        r
    };
    match done {
        Ok(Ok(png)) => {
            let mut r = Reply::new(StatusCode::OK, Bytes::from(png));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            r.headers_mut().insert(header::CACHE_CONTROL, hv(&h.settings.cache_control));
            r
        }
        Ok(Err(err)) => {
            tracing::warn!(request_id, hips = %h.name, coadd = %e.id, error = %hips_core::error_chain(&err), "preview");
            retry(text(StatusCode::BAD_GATEWAY, "Error: cannot read this coadd"))
        }
        Err(_) => retry(text(StatusCode::SERVICE_UNAVAILABLE, "Error: workers busy, retry later")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_keep_previews_within_the_limit() {
        assert_eq!(stride(512, 100), 1);
        assert_eq!(stride(513, 100), 2);
        assert_eq!(stride(4096, 4096), 8);
        assert!(4100usize.div_ceil(stride(4100, 10)) <= MAX_SIDE);
    }
}
