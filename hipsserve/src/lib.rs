//! hipsserve: an HTTP server publishing HiPS from object storage to Aladin Lite and registries.
//!
//! Folders, from the wire inwards: [`http`] (listener, connection loop, request parsing, routing, CORS, the request
//! handler), [`services`] (what is answered: stored HiPS files, on-demand tiles, progenitor queries, SODA cutouts),
//! [`catalog`] (HiPS discovery, layout, access control, `/hipslist`) and [`store`] (storage roots, the coalescing
//! object cache, the memory budget, zero-copy copies). At the top: [`config`], [`metrics`], the idle keep-alive connections ([`idle`]), the shared [`state`], release roots ([`releases`]: the catalogue
//! snapshot swapped on publish) and the response value every request gets ([`reply`]).
//!
//! Dependencies go one way: `http` -> `services` -> (`state`, `reply`) -> `catalog` -> `store` -> (`config`,
//! `metrics`); `state` also uses `idle` and [`jobs`] (the asynchronous jobs' store); `releases` uses `state` and
//! `catalog`, and `http` uses it.

pub mod catalog;
pub mod config;
pub mod http;
pub mod idle;
pub mod jobs;
pub mod metrics;
pub mod releases;
pub mod reply;
pub mod services;
pub mod state;
pub mod store;

pub use config::{Config, Overrides};
pub use http::server::{bind, build_state, serve, ServerError};

/// What the unit tests of several modules share.
#[cfg(test)]
pub(crate) mod testing {
    /// Every `(query, word)` of `cases` is refused by `parse` with an error whose text contains `word` (the parameter
    /// at fault is named).
    pub(crate) fn assert_refused<T: std::fmt::Debug, E: std::fmt::Display>(
        parse: impl Fn(&str) -> Result<T, E>,
        cases: &[(&str, &str)],
    ) {
        for (q, word) in cases {
            match parse(q) {
                Ok(v) => panic!("{q}: accepted as {v:?}"),
                Err(e) => assert!(e.to_string().contains(word), "{q}: {e}"),
            }
        }
    }
}
