//! The error of hipsgen's jobs: one typed enum, each variant naming the file, object, HDU or key concerned. The
//! binary renders the chain once ([`crate::error_chain`]) and maps [`Error::is_usage`] to exit code 2.

use hips_core::storage::StoreError;

use crate::color::ColorError;
use crate::preview::PreviewError;
use crate::synth::SynthError;

/// Why a job could not be done (per-input and per-tile failures are not errors: they are in the job's report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A job value that does not hold (a usage error: the command line asked for something impossible).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// The option or field concerned (e.g. `--formats`).
        what: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An input pattern that is malformed or matches no file.
    #[error("input {pattern:?}: {message}")]
    Inputs {
        /// The pattern as given.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// Every input was skipped.
    #[error("no usable input ({skipped} skipped)")]
    NoUsableInput {
        /// How many inputs were skipped (their reasons are logged).
        skipped: usize,
    },
    /// A resumed or sharded run whose parameters differ from those the output was started with.
    #[error("{location}: the output was started with {started}; this run asks for {asked}")]
    ResumeMismatch {
        /// The output location.
        location: String,
        /// Parameters recorded in the output.
        started: String,
        /// Parameters of this run.
        asked: String,
    },
    /// Storage failure (the error names the location and key).
    #[error(transparent)]
    Store(#[from] Box<StoreError>),
    /// A FITS object that cannot be read (the error names it).
    #[error(transparent)]
    Fits(#[from] hips_core::fits::FitsError),
    /// A run-state object (run record, checkpoint) that cannot be written.
    #[error("{key}: {source}")]
    State {
        /// The object key.
        key: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// A MOC that cannot be serialized.
    #[error("{key}: {source}")]
    Moc {
        /// The object key (`Moc.fits`, `HpxFinder/Moc.fits`).
        key: String,
        /// The MOC library's error.
        #[source]
        source: moc_tools::MocError,
    },
    /// No display cut can be drawn from the data for the previews.
    #[error("{location}: no display cut for the previews: {message}")]
    NoCut {
        /// The output location.
        location: String,
        /// Why.
        message: String,
    },
    /// A worker thread pool that cannot be started.
    #[error("cannot start {threads} worker threads: {source}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// rayon's error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// Preview drawing or the `previews` job failed.
    #[error(transparent)]
    Preview(#[from] PreviewError),
    /// The `color` job failed.
    #[error(transparent)]
    Color(#[from] ColorError),
    /// The `synth` job failed.
    #[error(transparent)]
    Synth(#[from] SynthError),
    /// A step of the `demo` job finished with failures.
    #[error("demo: {0}")]
    Demo(String),
}

impl Error {
    /// Whether this is a usage error (exit code 2): an invalid job value.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Invalid { .. }) || matches!(self, Error::Color(ColorError::Usage(_)))
    }

    /// An [`Error::Invalid`].
    pub(crate) fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { what, message: message.into() }
    }
}

impl From<hips_core::preview::EncodeError> for Error {
    fn from(e: hips_core::preview::EncodeError) -> Self {
        Error::Preview(PreviewError::Image(e))
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(Box::new(e))
    }
}
