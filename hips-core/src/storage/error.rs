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
    #[error("storage operation {op} on {key:?} in {location}: {source}{}", hint(source))]
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

/// What a user can do about a backend error whose cause is a missing setting rather than the data: no credentials
/// (the AWS client fell back to the cloud metadata address), or plain HTTP refused.
fn hint(e: &object_store::Error) -> &'static str {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(&c.to_string());
        cause = c.source();
    }
    if text.contains("169.254.169.254") || text.contains("/latest/api/token") {
        " (no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_ENDPOINT_URL and AWS_REGION \
         for an S3 server other than AWS)"
    } else if text.contains("URL scheme is not allowed") {
        " (plain http:// is refused: use https://, or set OBJECT_STORE_ALLOW_HTTP=true to allow it)"
    } else {
        ""
    }
}
