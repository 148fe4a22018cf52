//! hipsserve: an HTTP server publishing HiPS from object storage to Aladin Lite and registries.
//!
//! Modules, from the wire inwards: [`server`] (accept loop, timeouts, shutdown), `conn` (the HTTP/1.1 connection
//! loop: hot GETs from pre-encoded heads, other bodiless requests through the handler, the rest handed to hyper),
//! `fastpath` (request classification, response heads), `front` (per-thread cache of hot paths), [`handler`] (one
//! request -> one response), `cors` (cross-origin headers and preflight), [`routing`] (URL layout and path safety),
//! [`httputil`] (conditional requests, ranges, compression), [`auth`] (restricted HiPS), [`catalog`] (HiPS discovery,
//! coverage, `/hipslist`), [`store`] (object storage and the coalescing cache), [`budget`] (memory for bodies outside
//! the cache), [`zerocopy`] (sendfile of cached bodies), [`progenitors`] (which coadds are behind a position or tile),
//! [`ondemand`] (tiles deeper than the stored orders, rendered from the coadds), [`soda`] (SODA cutouts of the
//! coadds), [`metrics`] and [`config`].

pub mod auth;
pub mod budget;
pub mod catalog;
pub mod config;
mod conn;
mod cors;
mod fastpath;
mod front;
pub mod handler;
pub mod httputil;
pub mod metrics;
pub mod ondemand;
pub mod progenitors;
pub mod routing;
pub mod server;
pub mod soda;
pub mod store;
pub mod zerocopy;

pub use config::{Config, Overrides};
pub use server::{bind, build_state, serve, ServerError};
