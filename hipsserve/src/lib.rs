//! hipsserve: an HTTP server publishing HiPS from object storage.
