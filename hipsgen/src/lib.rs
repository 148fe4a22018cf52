//! hipsgen: turns coadd FITS images into IVOA HiPS (HEALPix tile pyramids) on object storage.
//!
//! The library is a set of jobs, each a validated value with one entry point that returns a report or a typed
//! [`Error`]: [`run::TilesJob`] ([`run::run_tiles`]), [`preview::PreviewsJob`] ([`preview::run_previews`]),
//! [`color::ColorJob`] ([`color::run_color`]), [`lint::LintJob`] ([`lint::run_lint`]), [`synth::SynthJob`]
//! ([`synth::run_synth`]) and [`demo::DemoJob`] ([`demo::run_demo`]), and [`release`] drives a whole data release (shards, finalize, atomic publish). The command line ([`cli`]) parses arguments
//! and turns them into jobs; the library never prints and never picks exit codes (the binary maps reports to them).
//! The FITS, WCS, storage and rendering kernel are in `hips-core`, shared with hipsserve's on-demand tiles.

pub mod build;
pub mod cli;
pub mod color;
pub mod cut;
pub mod demo;
pub mod error;
pub mod finalize;
pub mod html;
pub mod lint;
pub mod plan;
pub mod preview;
pub mod progenitor;
pub mod properties;
pub mod release;
pub mod run;
pub mod shard;
pub mod stats;
pub mod synth;
pub mod tile;

pub use error::Error;
pub use hips_core::error_chain;

/// Where a long job reports its progress (the binary draws a progress bar; the library only counts).
pub trait Progress: Sync {
    /// The total amount of work (e.g. deepest tiles to build), once known.
    fn set_total(&self, total: u64);
    /// `n` more units done.
    fn advance(&self, n: u64);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_total(&self, _total: u64) {}
    fn advance(&self, _n: u64) {}
}
