//! The server's error for getting an object to serve: the storage seam's own [`StoreError`] (from `hips_core`, which
//! names the location, the operation and the key), or one of the server's own conditions around it (a read that
//! outlived the storage timeout, an on-demand render that failed or found every renderer busy, a body larger than the
//! memory budget).

use std::time::Duration;

pub use hips_core::storage::StoreError;

/// Errors getting an object to serve; each names the object.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The storage failed (opening the root, or an operation on the object).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The read did not finish within the storage timeout.
    #[error("storage read of {key:?} timed out after {timeout:?}")]
    Timeout {
        /// Object key.
        key: String,
        /// Configured timeout.
        timeout: Duration,
    },
    /// A tile could not be rendered on demand from its coadds.
    #[error("rendering {key:?} on demand failed: {reason}")]
    Render {
        /// Tile key.
        key: String,
        /// Why (names the coadd).
        reason: String,
    },
    /// Every on-demand renderer stayed busy for the whole render timeout.
    #[error("rendering {key:?} on demand: all renderers busy for {timeout:?}")]
    Busy {
        /// Tile key.
        key: String,
        /// Configured timeout.
        timeout: Duration,
    },
    /// The object is larger than `limits.max_uncached_bytes`, the memory allowed for bodies outside the cache.
    #[error("object {key:?} has {size} bytes, more than limits.max_uncached_bytes ({limit})")]
    TooLarge {
        /// Object key.
        key: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}
