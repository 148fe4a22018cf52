//! Storage as the server sees it: roots opened over object storage ([`root`]), the one error type ([`error`]), the
//! coalescing object cache ([`cache`]), the memory budget for bodies outside it ([`budget`]) and the sealed copies
//! that cached bodies are sent from with `sendfile` ([`zerocopy`]); every blocking-pool task is counted ([`blocking`]).

pub mod blocking;
pub mod budget;
pub mod cache;
pub mod error;
pub mod root;
pub mod zerocopy;

pub use cache::{Object, ObjectCache, OkHeaders};
pub use error::{ServeError, StoreError};
pub use root::Root;
