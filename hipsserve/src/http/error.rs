//! The errors that stop the server from starting: storage roots, tokens, the listen address, no HiPS.

use std::io;
use std::net::SocketAddr;

use crate::catalog::auth::AuthError;
use crate::store::{ServeError, StoreError};

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A storage root could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A storage root could not be listed, or a HiPS's properties or MOC read.
    #[error(transparent)]
    Read(#[from] ServeError),
    /// Tokens could not be loaded.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another process listens on the port (a second server would share it with `SO_REUSEPORT` and answer part of
    /// its requests).
    #[error("cannot listen on {addr}: port {port} is already in use by another process (another hipsserve?); stop it or choose another --listen", port = addr.port())]
    PortInUse {
        /// Address.
        addr: SocketAddr,
    },
    /// No HiPS was found.
    #[error("no HiPS (folder holding a `properties` file) found under {0}")]
    NoHips(String),
}
