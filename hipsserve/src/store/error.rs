//! The one error type of hipsserve's storage: every failure to open a root or to read, render or hold an object
//! names the root or the object.

use std::time::Duration;

/// Errors reading from storage; each names the object.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage location could not be opened.
    #[error("cannot open storage root {location:?}: {reason}")]
    Open {
        /// The root as configured.
        location: String,
        /// Why.
        reason: String,
    },
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
    /// The backend failed.
    #[error("storage read of {key:?} failed: {source}")]
    Backend {
        /// Object key.
        key: String,
        /// Backend error.
        #[source]
        source: object_store::Error,
    },
}
