//! The object-storage seam every tool shares: one opener for local directories and object-store URLs (one client per
//! bucket or host, shared by every store opened on it), one error type, and the retry and timeout settings in one
//! [`StoreSettings`] value that tests can build instead of the process environment.
//!
//! [`AsyncStore`] is the core (hipsserve uses it on its tokio runtime); [`Store`] is a thin blocking adapter for the
//! rayon code of hipsgen and moc-tools and for coadds read by byte range. Every write is a single `put`, which
//! `object_store` makes atomic on every backend (local files are written to a temporary name and renamed; a large
//! object on an object store is a multipart upload, visible only once completed), so a killed run never leaves half
//! an object behind. Conditional writes (create-only, compare-and-swap) are in `conditional`.

mod asynch;
mod blocking;
mod conditional;
mod error;
mod open;
mod settings;

pub use asynch::{AsyncStore, DirListing};
pub use blocking::Store;
pub use conditional::{Swap, Version};
pub use error::StoreError;
pub use open::is_url;
pub use settings::{StoreSettings, MIN_PART_SIZE};
