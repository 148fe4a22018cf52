//! Object storage seam: one synchronous facade over `object_store` for local directories, S3, GCS, Azure and memory.
//!
//! hipsgen is a CPU-bound rayon program, so the facade owns a small tokio runtime and blocks on it; every write is a
//! single `put`, which `object_store` makes atomic on every backend (local files are written to a temporary name and
//! renamed), so a killed run never leaves half an object behind.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Errors from the storage layer, each naming the object or location.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The location string could not be turned into a store.
    #[error("cannot open storage location {location:?}: {source}")]
    Open {
        /// What the user gave.
        location: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read, write or listing failed.
    #[error("storage operation {op} on {key:?} in {location}: {source}")]
    Io {
        /// get, put, head, list or delete.
        op: &'static str,
        /// The object key (relative to the store root).
        key: String,
        /// The store location.
        location: String,
        /// The backend error.
        #[source]
        source: object_store::Error,
    },
}

/// The tokio runtime the synchronous facade blocks on (shared by all stores in the process).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hipsgen-io")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the I/O runtime: {e}"))
    })
}

/// A place objects are read from and written to: a local directory or an object-store URL, with a key prefix.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    location: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("location", &self.location).finish()
    }
}

/// Whether a string names an object-store URL rather than a local path.
#[must_use]
pub fn is_url(s: &str) -> bool {
    s.contains("://") && !s.starts_with("file://")
}

impl Store {
    /// Open a location: a plain path (created if missing) or `file://`, `s3://`, `gs://`, `az://`, `memory://`,
    /// `http(s)://` URLs, configured from the usual environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    ///
    /// # Errors
    /// When the URL scheme is unknown, the directory cannot be created, or the backend rejects its configuration.
    pub fn open(location: &str) -> Result<Store, StoreError> {
        let open_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            location: location.to_string(),
            source: e,
        };
        if !is_url(location) {
            let path = location.strip_prefix("file://").unwrap_or(location);
            std::fs::create_dir_all(path).map_err(|e| open_err(Box::new(e)))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(path)
                .map_err(|e| open_err(Box::new(e)))?
                .with_automatic_cleanup(true);
            return Ok(Store { inner: Arc::new(fs), prefix: ObjPath::default(), location: path.to_string() });
        }
        let url = url::Url::parse(location).map_err(|e| open_err(Box::new(e)))?;
        let (store, prefix) = if url.scheme() == "s3" {
            // Honour AWS_ENDPOINT_URL / AWS_ALLOW_HTTP etc. so S3-compatible servers work.
            let bucket = url.host_str().unwrap_or_default();
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| open_err(Box::new(e)))?;
            let prefix = ObjPath::from_url_path(url.path()).map_err(|e| open_err(Box::new(e)))?;
            (Arc::new(s3) as Arc<dyn ObjectStore>, prefix)
        } else {
            let opts: Vec<(String, String)> = std::env::vars().collect();
            let (s, p) = object_store::parse_url_opts(&url, opts).map_err(|e| open_err(Box::new(e)))?;
            (Arc::from(s), p)
        };
        Ok(Store { inner: store, prefix, location: location.to_string() })
    }

    /// The location this store was opened with.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    fn path(&self, key: &str) -> ObjPath {
        let mut parts: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(key.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        ObjPath::from_iter(parts)
    }

    fn io_err(&self, op: &'static str, key: &str, source: object_store::Error) -> StoreError {
        StoreError::Io { op, key: key.to_string(), location: self.location.clone(), source }
    }

    /// Write an object whole (atomic: readers see the old object, or none, or the whole new one).
    ///
    /// # Errors
    /// When the backend write fails.
    pub fn put(&self, key: &str, data: impl Into<Bytes>) -> Result<(), StoreError> {
        let path = self.path(key);
        let payload = PutPayload::from_bytes(data.into());
        runtime().block_on(self.inner.put(&path, payload)).map(|_| ()).map_err(|e| self.io_err("put", key, e))
    }

    /// Read a whole object; `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend read fails for any reason other than absence.
    pub fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(key);
        let res = runtime().block_on(async {
            match self.inner.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        res.map_err(|e| self.io_err("get", key, e))
    }

    /// Read a byte range of an object.
    ///
    /// # Errors
    /// When the object is missing or the range is outside it.
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let path = self.path(key);
        runtime().block_on(self.inner.get_range(&path, range)).map_err(|e| self.io_err("get_range", key, e))
    }

    /// The size of an object, `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend fails for any reason other than absence.
    pub fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let path = self.path(key);
        match runtime().block_on(self.inner.head(&path)) {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.io_err("head", key, e)),
        }
    }

    /// Whether an object exists.
    ///
    /// # Errors
    /// When the backend fails for any reason other than absence.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.size(key)?.is_some())
    }

    /// Every key under a prefix (recursively), relative to the store root, sorted.
    ///
    /// # Errors
    /// When listing fails.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let root_parts = self.prefix.parts().count();
        let path = self.path(prefix);
        let mut keys: Vec<String> = runtime()
            .block_on(self.inner.list(Some(&path)).map_ok(|m| m.location).try_collect::<Vec<_>>())
            .map_err(|e| self.io_err("list", prefix, e))?
            .into_iter()
            .map(|p| p.parts().skip(root_parts).map(|s| s.as_ref().to_string()).collect::<Vec<_>>().join("/"))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Delete an object (absent objects are not an error).
    ///
    /// # Errors
    /// When the backend fails.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key);
        match runtime().block_on(self.inner.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.io_err("delete", key, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_roundtrip_and_listing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().to_str().expect("utf8")).expect("open");
        store.put("Norder3/Dir0/Npix1.fits", Bytes::from_static(b"abc")).expect("put");
        assert_eq!(store.get("Norder3/Dir0/Npix1.fits").expect("get").as_deref(), Some(&b"abc"[..]));
        assert_eq!(store.get("missing").expect("get"), None);
        assert_eq!(store.get_range("Norder3/Dir0/Npix1.fits", 1..3).expect("range").as_ref(), b"bc");
        assert_eq!(store.list("Norder3").expect("list"), vec!["Norder3/Dir0/Npix1.fits".to_string()]);
        assert!(dir.path().join("Norder3/Dir0/Npix1.fits").exists());
    }

    #[test]
    fn memory_url() {
        let store = Store::open("memory://").expect("open");
        store.put("a/b", Bytes::from_static(b"x")).expect("put");
        assert!(store.exists("a/b").expect("exists"));
    }
}
