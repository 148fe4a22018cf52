//! `hipsgen release`: a whole data release (every band HiPS, the colour HiPS, the MOCs, the HiPS lists) from one
//! configuration, sharded, finalized only when every shard says it is done, and published atomically.
//!
//! Layout under `out`: `<id>/<hips>/` the HiPS; `<id>/_shards/<hips>/<i>-of-<N>` the create-only completion markers
//! of the shards and `<id>/_shards/<hips>/finalized`; `<id>/hipslist` and `<id>/manifest.json` written by the release
//! finalize; `current` (the published release id) and `hipslist` (the published release's list) swapped by
//! publish. Every step is a function of the configuration and what is in storage, so the engines (one process,
//! Slurm, Kubernetes) only decide where and when each step runs.

pub mod command;
pub mod config;
pub mod finalize;
pub mod kubernetes;
pub mod lease;
pub mod plan;
pub mod publish;
pub mod shards;
pub mod slurm;

pub use config::ReleaseConfig;

use hips_core::storage::StoreError;

/// Errors of the release steps, each naming the key, HiPS, shard or object concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// A configuration key or value that does not hold.
    #[error("release configuration: {key}: {message}")]
    Config {
        /// The key (`release.shards`, `hips.g.order`, `HIPSGEN_RELEASE_OUT`).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration file cannot be read or parsed.
    #[error("release configuration {path}: {message}")]
    ConfigFile {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Finalize asked before every shard finished.
    #[error("{hips}: cannot finalize: shards {missing:?} of {of} have no completion marker under {prefix}")]
    ShardsMissing {
        /// The HiPS.
        hips: String,
        /// Shards without a marker.
        missing: Vec<usize>,
        /// Shard count.
        of: usize,
        /// Where the markers are.
        prefix: String,
    },
    /// A step that needs an earlier one (a colour HiPS before its bands, publish before finalize).
    #[error("{what}: {message}")]
    NotReady {
        /// The HiPS or release.
        what: String,
        /// What is missing.
        message: String,
    },
    /// A finished HiPS whose tiles do not agree with its MOC or its shard markers.
    #[error("{hips}: {message}")]
    Check {
        /// The HiPS.
        hips: String,
        /// The disagreement.
        message: String,
    },
    /// Another publisher changed `current` or `hipslist` between our read and our write.
    #[error("{key}: another publisher holds or changed it while publishing {id}; try again once it is done")]
    PublishConflict {
        /// The object.
        key: String,
        /// The release we tried to publish.
        id: String,
    },
    /// The publish lease of another publisher, not expired.
    #[error(
        "publish.lock: another publisher holds the lease ({lease}) while publishing {id}: {why}; wait for it to \
         finish or expire, or, once no publisher runs, `hipsgen release publish --break-lock`"
    )]
    PublishLeaseHeld {
        /// The release we tried to publish.
        id: String,
        /// The lease's text.
        lease: String,
        /// Why it cannot be taken over.
        why: String,
    },
    /// A marker or manifest that cannot be read.
    #[error("{key}: {message}")]
    Corrupt {
        /// The object.
        key: String,
        /// Why.
        message: String,
    },
    /// A scheduler command that failed.
    #[error("{command}: {message}")]
    Scheduler {
        /// The command.
        command: String,
        /// Its error output or status.
        message: String,
    },
    /// A library job of a step failed.
    #[error("{hips}: {source}")]
    Job {
        /// The HiPS.
        hips: String,
        /// The job's error.
        #[source]
        source: Box<crate::Error>,
    },
    /// Storage failure (the error names the location and key).
    #[error(transparent)]
    Store(#[from] Box<StoreError>),
}

impl From<StoreError> for ReleaseError {
    fn from(e: StoreError) -> Self {
        ReleaseError::Store(Box::new(e))
    }
}

impl ReleaseError {
    pub(crate) fn job(hips: &str, e: crate::Error) -> Self {
        ReleaseError::Job { hips: hips.to_string(), source: Box::new(e) }
    }
}

/// Key of a release object relative to `out`.
#[must_use]
pub fn key(cfg: &ReleaseConfig, rest: &str) -> String {
    format!("{}/{rest}", cfg.release.id)
}

/// Open the release's root store (`out`).
///
/// # Errors
/// When the location cannot be opened.
pub fn root_store(cfg: &ReleaseConfig) -> Result<hips_core::storage::Store, ReleaseError> {
    Ok(hips_core::storage::Store::open(&cfg.release.out)?)
}

/// XXH3-64 of bytes as 16 hex digits.
#[must_use]
pub fn xxh3_hex(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}
