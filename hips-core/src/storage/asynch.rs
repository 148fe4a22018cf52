//! The asynchronous core of the storage seam: a location (local directory or object-store URL with a key prefix) and
//! the operations the tools need, each error naming the key. Absent objects are `Ok(None)`, never errors.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{GetResult, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

use super::open::{client_for, is_url};
use super::{StoreError, StoreSettings};

/// A place objects are read from and written to: a local directory or an object-store URL, with a key prefix.
#[derive(Clone)]
pub struct AsyncStore {
    pub(super) inner: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    location: String,
    /// For a local directory: its path (readers that can do better than `object_store`'s file store use it).
    pub(super) local: Option<Arc<PathBuf>>,
}

impl std::fmt::Debug for AsyncStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStore").field("location", &self.location).finish_non_exhaustive()
    }
}

/// The immediate content of a folder: its sub-folders and the names of its objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirListing {
    /// Names of the sub-folders (one segment each).
    pub dirs: Vec<String>,
    /// Names of the objects directly in the folder.
    pub files: Vec<String>,
}

impl AsyncStore {
    /// Open a location: a plain path or `file://` URL (an existing directory, or created when `create` is set), or
    /// an `s3://`, `gs://`, `az://`, `memory://` or `http(s)://` URL configured by `settings`.
    ///
    /// # Errors
    /// When the directory is missing (and not created) or not a directory, the URL scheme is unknown, or the backend
    /// rejects its configuration.
    pub fn open_with(location: &str, settings: &StoreSettings, create: bool) -> Result<AsyncStore, StoreError> {
        let open_err = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            location: location.to_string(),
            source: e,
        };
        if is_url(location) {
            let (inner, prefix) = client_for(location, settings)?;
            return Ok(AsyncStore { inner, prefix, location: location.to_string(), local: None });
        }
        let path = location.strip_prefix("file://").unwrap_or(location);
        if std::fs::metadata(path).is_ok_and(|m| !m.is_dir()) {
            return Err(open_err(
                "this is a file, not a directory: give a directory (created when missing) or an object-store URL"
                    .into(),
            ));
        }
        if create {
            std::fs::create_dir_all(path).map_err(|e| open_err(Box::new(e)))?;
        }
        let md = std::fs::metadata(path).map_err(|e| open_err(Box::new(e)))?;
        if !md.is_dir() {
            return Err(open_err("not a directory".into()));
        }
        let fs = object_store::local::LocalFileSystem::new_with_prefix(path)
            .map_err(|e| open_err(Box::new(e)))?
            .with_automatic_cleanup(true);
        Ok(AsyncStore {
            inner: Arc::new(fs),
            prefix: ObjPath::default(),
            location: path.to_string(),
            local: Some(Arc::new(PathBuf::from(path))),
        })
    }

    /// [`AsyncStore::open_with`] the process's [`StoreSettings`].
    ///
    /// # Errors
    /// As [`AsyncStore::open_with`].
    pub fn open(location: &str, create: bool) -> Result<AsyncStore, StoreError> {
        AsyncStore::open_with(location, StoreSettings::process(), create)
    }

    /// The location this store was opened with (a local path without `file://`).
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The directory of a local store.
    #[must_use]
    pub fn local_dir(&self) -> Option<&Arc<PathBuf>> {
        self.local.as_ref()
    }

    /// The local file of `key` in a local store (its segments joined under the directory).
    #[must_use]
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let dir: &Path = self.local.as_deref()?;
        Some(dir.join(key.split('/').filter(|s| !s.is_empty()).collect::<PathBuf>()))
    }

    /// The full object path of a key relative to this store's prefix.
    #[must_use]
    pub fn path(&self, key: &str) -> ObjPath {
        let mut parts: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(key.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        ObjPath::from_iter(parts)
    }

    /// The error of operation `op` on `key`.
    #[must_use]
    pub fn error(&self, op: &'static str, key: &str, source: object_store::Error) -> StoreError {
        StoreError::Io { op, key: key.to_string(), location: self.location.clone(), source }
    }

    /// The error of operation `op` on `key` when a reader went around `object_store` to the local directory (as
    /// hipsserve's page-cache reads do): the same [`StoreError::Io`], its source the I/O error.
    #[must_use]
    pub fn local_error(&self, op: &'static str, key: &str, e: std::io::Error) -> StoreError {
        self.error(op, key, object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) })
    }

    /// Start reading an object (its metadata is known, its bytes not yet read); `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend fails for any reason other than absence.
    pub async fn get_object(&self, key: &str) -> Result<Option<GetResult>, StoreError> {
        match self.inner.get(&self.path(key)).await {
            Ok(r) => Ok(Some(r)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("get", key, e)),
        }
    }

    /// Read a whole object; `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend read fails for any reason other than absence.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let Some(r) = self.get_object(key).await? else { return Ok(None) };
        r.bytes().await.map(Some).map_err(|e| self.error("get", key, e))
    }

    /// Read a byte range of an object.
    ///
    /// # Errors
    /// When the object is missing or the range is outside it.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        self.inner.get_range(&self.path(key), range).await.map_err(|e| self.error("get_range", key, e))
    }

    /// An object's metadata, `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend fails for any reason other than absence.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        match self.inner.head(&self.path(key)).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("head", key, e)),
        }
    }

    /// Write an object whole (atomic: readers see the old object, or none, or the whole new one).
    ///
    /// # Errors
    /// When the backend write fails.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let payload = PutPayload::from_bytes(data);
        self.inner.put(&self.path(key), payload).await.map(|_| ()).map_err(|e| self.error("put", key, e))
    }

    /// Every key under a prefix (recursively), relative to the store's prefix, sorted.
    ///
    /// # Errors
    /// When listing fails.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let root_parts = self.prefix.parts().count();
        let path = self.path(prefix);
        let mut keys: Vec<String> = self
            .inner
            .list(Some(&path))
            .map_ok(|m| m.location)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| self.error("list", prefix, e))?
            .into_iter()
            .map(|p| p.parts().skip(root_parts).map(|s| s.as_ref().to_string()).collect::<Vec<_>>().join("/"))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// The sub-folders and objects directly in folder `dir` (a key relative to the store's prefix; "" for its top).
    ///
    /// # Errors
    /// When listing fails.
    pub async fn list_dir(&self, dir: &str) -> Result<DirListing, StoreError> {
        let p = self.path(dir);
        let prefix = if p.as_ref().is_empty() { None } else { Some(&p) };
        let res = self.inner.list_with_delimiter(prefix).await.map_err(|e| self.error("list", dir, e))?;
        Ok(DirListing {
            dirs: res.common_prefixes.iter().filter_map(|c| c.filename().map(str::to_string)).collect(),
            files: res.objects.iter().filter_map(|o| o.location.filename().map(str::to_string)).collect(),
        })
    }

    /// Delete an object (absent objects are not an error).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, e)),
        }
    }
}
