//! How services answer a storage failure: 502 or 503 (with Retry-After when retrying can help), logged with the
//! request id.

use hips_core::error_chain;
use http::header;
use http::StatusCode;

use crate::catalog::Hips;
use crate::reply::{hv, Reply};
use crate::state::State;
use crate::store::ServeError;

/// The 502/503 (with Retry-After) answer to a storage error reading `key` of `h`, logged with the request id.
pub(crate) fn storage_failure(state: &State, id: &str, h: &Hips, key: &str, e: &ServeError) -> Reply {
    tracing::warn!(request_id = %id, hips = %h.name, key = %key, error = %error_chain(e), "storage error");
    let (status, msg) = match e {
        ServeError::Timeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, "storage timed out, retry later"),
        ServeError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "tile renderers busy, retry later"),
        ServeError::Render { .. } => (StatusCode::BAD_GATEWAY, "cannot render this tile from its coadds"),
        // Retrying will not help: no Retry-After.
        ServeError::TooLarge { .. } => return Reply::text(StatusCode::BAD_GATEWAY, "object too large to serve"),
        ServeError::Store(_) => (StatusCode::BAD_GATEWAY, "storage error, retry later"),
    };
    let mut r = Reply::text(status, msg);
    r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
    r
}
