//! The asynchronous core of the storage seam: a location (local directory or object-store URL with a key prefix) and
//! the operations the tools need, each error naming the key. Absent objects are `Ok(None)`, never errors. Writes to
//! object stores are bounded ([`StoreSettings::write_concurrency`] PUTs in flight per client) and objects above
//! [`StoreSettings::multipart_threshold`] go up by multipart upload.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{GetResult, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::sync::Semaphore;

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
    /// For an object store: the write limits, shared by every store on its client.
    writes: Option<Arc<Writes>>,
}

/// The write limits of one object-store client: permits for PUTs in flight, and when to upload in parts.
#[derive(Debug)]
pub(crate) struct Writes {
    permits: Semaphore,
    concurrency: usize,
    threshold: usize,
    part_size: usize,
}

impl Writes {
    pub(super) fn new(s: &StoreSettings) -> Writes {
        let s = s.clone().checked();
        Writes {
            permits: Semaphore::new(s.write_concurrency),
            concurrency: s.write_concurrency,
            threshold: s.multipart_threshold,
            part_size: s.multipart_part_size,
        }
    }
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

/// A semaphore error as an object_store error (it cannot happen: the semaphores are never closed).
fn generic(e: tokio::sync::AcquireError) -> object_store::Error {
    object_store::Error::Generic { store: "write permits", source: Box::new(e) }
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
            let ((inner, writes), prefix) = client_for(location, settings)?;
            return Ok(AsyncStore { inner, prefix, location: location.to_string(), local: None, writes: Some(writes) });
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
            writes: None,
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

    /// Write an object whole (atomic: readers see the old object, or none, or the whole new one). On an object
    /// store, at most `write_concurrency` PUTs of the client are in flight (this one waits for a permit), and an
    /// object above `multipart_threshold` goes up by multipart upload (see [`AsyncStore::put_multipart`]).
    ///
    /// # Errors
    /// When the backend write fails.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let Some(w) = &self.writes else {
            let payload = PutPayload::from_bytes(data);
            return self.inner.put(&self.path(key), payload).await.map(|_| ()).map_err(|e| self.error("put", key, e));
        };
        if data.len() > w.threshold {
            return self.put_multipart(key, data).await;
        }
        let _permit = w.permits.acquire().await.map_err(|e| self.error("put", key, generic(e)))?;
        let payload = PutPayload::from_bytes(data);
        self.inner.put(&self.path(key), payload).await.map(|_| ()).map_err(|e| self.error("put", key, e))
    }

    /// Write an object by multipart upload in parts of `multipart_part_size`, as many parts in flight as permits
    /// taken at once (up to `write_concurrency`); the object appears whole when the upload completes. Each part is
    /// retried by the client; a failed upload is aborted. When the answer to the completion is lost after the store
    /// applied it, the object found holding exactly our bytes is taken as written.
    ///
    /// # Errors
    /// When the upload fails, or the store has no multipart upload.
    pub async fn put_multipart(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let err = |e| self.error("put (multipart)", key, e);
        let (part_size, concurrency) =
            self.writes.as_ref().map_or((data.len().max(1), 1), |w| (w.part_size, w.concurrency));
        let parts = data.len().div_ceil(part_size).max(1);
        let in_flight = parts.min(concurrency);
        let _permits = match &self.writes {
            Some(w) => Some(
                w.permits
                    .acquire_many(u32::try_from(in_flight).unwrap_or(u32::MAX))
                    .await
                    .map_err(|e| err(generic(e)))?,
            ),
            None => None,
        };
        let upload = self.inner.put_multipart(&self.path(key)).await.map_err(err)?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, part_size);
        for start in (0..data.len()).step_by(part_size) {
            if let Err(e) = w.wait_for_capacity(in_flight).await {
                let _ = w.abort().await;
                return Err(err(e));
            }
            w.put(data.slice(start..(start + part_size).min(data.len())));
        }
        match w.finish().await {
            Ok(_) => Ok(()),
            Err(e) => {
                if self.get(key).await.ok().flatten().is_some_and(|b| b == data) {
                    tracing::warn!("put (multipart) {key}: {e}; the object holds our bytes: written");
                    return Ok(());
                }
                Err(err(e))
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MIN_PART_SIZE;

    #[test]
    fn large_objects_go_up_in_parts_and_read_back_equal() {
        let settings = StoreSettings { multipart_threshold: 1000, write_concurrency: 2, ..StoreSettings::default() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let s = AsyncStore::open_with("memory://", &settings, true).expect("open");
            // Three parts of 5 MiB (the smallest S3 takes) and a last short one; and one small object, whole.
            let big: Bytes = (0..3 * MIN_PART_SIZE + 12_345).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
            s.put("big", big.clone()).await.expect("put");
            s.put("small", Bytes::from_static(b"abc")).await.expect("put");
            assert_eq!(s.get("big").await.expect("get").expect("present"), big);
            assert_eq!(&s.get("small").await.expect("get").expect("present")[..], b"abc");
            assert_eq!(s.writes.as_ref().expect("limits").permits.available_permits(), 2, "permits given back");
        });
    }
}
