//! The one error type of the storage seam: each variant names the location and, where it applies, the object key.

/// Errors from opening a location or from an operation on one of its objects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The location string could not be turned into a store.
    #[error("cannot open storage location {location:?}: {source}")]
    Open {
        /// What the user gave.
        location: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read, write, listing or delete failed.
    #[error("storage operation {op} on {key:?} in {location}: {source}")]
    Io {
        /// get, get_range, put, head, list or delete.
        op: &'static str,
        /// The object key (relative to the store root).
        key: String,
        /// The store location.
        location: String,
        /// The backend error.
        #[source]
        source: object_store::Error,
    },
}
