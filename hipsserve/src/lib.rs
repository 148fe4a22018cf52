//! hipsserve: an HTTP server publishing HiPS from object storage to Aladin Lite and registries.
//!
//! Folders, from the wire inwards: [`http`] (listener, connection loop, request parsing, routing, CORS, the request
//! handler), [`services`] (what is answered: stored HiPS files, on-demand tiles, progenitor queries, SODA cutouts),
//! [`catalog`] (HiPS discovery, layout, access control, `/hipslist`) and [`store`] (storage roots, the coalescing
//! object cache, the memory budget, zero-copy copies). At the top: [`config`], [`metrics`], the idle keep-alive connections ([`idle`]), the shared [`state`], release roots ([`releases`]: the catalogue
//! snapshot swapped on publish) and the response value every request gets ([`reply`]).
//!
//! Dependencies go one way: `http` -> `services` -> (`state`, `reply`) -> `catalog` -> `store` -> (`config`,
//! `metrics`); `state` also uses `idle`; `releases` uses `state` and `catalog`, and `http` uses it.

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
