//! Conditional writes: create-only (a shard's completion marker, the first publish) and compare-and-swap on the
//! object's version (`If-Match` on S3, object_store's `PutMode::Update`), so that two writers of one small object
//! (the `current` release pointer) cannot interleave.
//!
//! `object_store`'s `LocalFileSystem` does create-only writes (no-replace link) but not `PutMode::Update`: for a local
//! directory the swap takes a create-only lock object `<key>.lock` next to the object, compares the version, renames
//! the new object into place and drops the lock. A writer killed while holding the lock leaves it behind; the next
//! swap then fails naming it (delete it by hand once no publisher runs).

use bytes::Bytes;
use object_store::{PutMode, PutOptions, PutPayload, UpdateVersion};

use super::{AsyncStore, Store, StoreError};

/// Attempts of a conditional write that failed in transit, after the first.
pub(super) const TRANSIT_RETRIES: u32 = 4;

/// The version of an object as read, to be compared by a later [`AsyncStore::swap`]: its ETag and, where the
/// backend has them, its version id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The ETag the backend gave.
    pub e_tag: Option<String>,
    /// The object version id, when the backend versions objects.
    pub version: Option<String>,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// The object was written.
    Written,
    /// The precondition did not hold (the object exists for a create-only write, or changed since it was read).
    Conflict,
}

impl AsyncStore {
    /// Read an object with its version; `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend fails for any reason other than absence.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        let Some(r) = self.get_object(key).await? else { return Ok(None) };
        let v = Version { e_tag: r.meta.e_tag.clone(), version: r.meta.version.clone() };
        let bytes = r.bytes().await.map_err(|e| self.error("get", key, e))?;
        Ok(Some((bytes, v)))
    }

    /// Write an object only if none exists under `key`. A request that failed in transit (the client does not retry
    /// a conditional write once it went out: it may have been applied) is tried again; an object then found with
    /// exactly our bytes is ours.
    ///
    /// # Errors
    /// When the backend fails for another reason than an existing object, 4 more times.
    pub async fn put_create(&self, key: &str, data: Bytes) -> Result<Swap, StoreError> {
        let mut failed = 0;
        loop {
            let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
            match self.inner.put_opts(&self.path(key), PutPayload::from_bytes(data.clone()), opts).await {
                Ok(_) => return Ok(Swap::Written),
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                    if failed > 0 && self.get(key).await?.is_some_and(|b| b == data) {
                        return Ok(Swap::Written);
                    }
                    return Ok(Swap::Conflict);
                }
                Err(e) if failed < TRANSIT_RETRIES => {
                    tracing::warn!("put (create-only) {key}: {e}; trying again");
                    failed += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 << failed)).await;
                }
                Err(e) => return Err(self.error("put (create-only)", key, e)),
            }
        }
    }

    /// Compare-and-swap: write `data` under `key` if the object is still at version `expected` (`None`: if there is
    /// no object, a create-only write).
    ///
    /// # Errors
    /// When the backend fails, or (local directory) the lock object of a killed writer is in the way.
    pub async fn swap(&self, key: &str, data: Bytes, expected: Option<&Version>) -> Result<Swap, StoreError> {
        let Some(expected) = expected else { return self.put_create(key, data).await };
        if self.local.is_some() {
            return self.swap_local(key, data, expected).await;
        }
        let mut failed = 0;
        loop {
            let v = UpdateVersion { e_tag: expected.e_tag.clone(), version: expected.version.clone() };
            let opts = PutOptions { mode: PutMode::Update(v), ..PutOptions::default() };
            match self.inner.put_opts(&self.path(key), PutPayload::from_bytes(data.clone()), opts).await {
                Ok(_) => return Ok(Swap::Written),
                Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
                    // After a request lost in transit, the object holding our bytes means it was applied.
                    if failed > 0 && self.get(key).await?.is_some_and(|b| b == data) {
                        return Ok(Swap::Written);
                    }
                    return Ok(Swap::Conflict);
                }
                Err(e) if failed < TRANSIT_RETRIES => {
                    tracing::warn!("put (if-match) {key}: {e}; trying again");
                    failed += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 << failed)).await;
                }
                Err(e) => return Err(self.error("put (if-match)", key, e)),
            }
        }
    }

    async fn swap_local(&self, key: &str, data: Bytes, expected: &Version) -> Result<Swap, StoreError> {
        let lock = format!("{key}.lock");
        if self.put_create(&lock, Bytes::from(std::process::id().to_string())).await? == Swap::Conflict {
            return Err(self.local_error(
                "put (compare-and-swap)",
                key,
                std::io::Error::other(format!(
                    "the lock {lock} exists: another writer is swapping this object, or one was killed while \
                     doing so (then delete {lock})"
                )),
            ));
        }
        let result = async {
            let now = self.head(key).await?;
            let same = now.is_some_and(|m| m.e_tag == expected.e_tag && m.version == expected.version);
            if !same {
                return Ok(Swap::Conflict);
            }
            self.put(key, data).await.map(|()| Swap::Written)
        }
        .await;
        self.delete(&lock).await?;
        result
    }
}

impl Store {
    /// [`AsyncStore::get_versioned`], blocking.
    ///
    /// # Errors
    /// As [`AsyncStore::get_versioned`].
    pub fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        Store::block(self.as_async().get_versioned(key))
    }

    /// [`AsyncStore::put_create`], blocking.
    ///
    /// # Errors
    /// As [`AsyncStore::put_create`].
    pub fn put_create(&self, key: &str, data: impl Into<Bytes>) -> Result<Swap, StoreError> {
        Store::block(self.as_async().put_create(key, data.into()))
    }

    /// [`AsyncStore::swap`], blocking.
    ///
    /// # Errors
    /// As [`AsyncStore::swap`].
    pub fn swap(&self, key: &str, data: impl Into<Bytes>, expected: Option<&Version>) -> Result<Swap, StoreError> {
        Store::block(self.as_async().swap(key, data.into(), expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_only_and_swap_on_memory_and_local() {
        let dir = tempfile::tempdir().expect("tempdir");
        for loc in ["memory://", dir.path().to_str().expect("utf8")] {
            let s = Store::open(loc).expect("open");
            assert_eq!(s.put_create("m", "a").expect("create"), Swap::Written, "{loc}");
            assert_eq!(s.put_create("m", "b").expect("create"), Swap::Conflict, "{loc}");
            let (b, v) = s.get_versioned("m").expect("get").expect("present");
            assert_eq!(&b[..], b"a");
            assert_eq!(s.swap("m", "c", Some(&v)).expect("swap"), Swap::Written, "{loc}");
            assert_eq!(s.swap("m", "d", Some(&v)).expect("stale swap"), Swap::Conflict, "{loc}: stale version");
            assert_eq!(&s.get("m").expect("get").expect("present")[..], b"c");
            assert_eq!(s.swap("n", "e", None).expect("first"), Swap::Written);
            assert!(!s.exists("m.lock").expect("head"), "{loc}: lock dropped");
        }
    }
}
